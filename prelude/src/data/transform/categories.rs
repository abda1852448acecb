//! What the two encoders share: the categories of a column, each row's code, and what to do
//! with a category not seen in training.

use crate::data::columns::{column, is_numeric};
use anyhow::{bail, Result};
use polars::prelude::*;
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use serde::{Deserialize, Serialize};

/// What an encoder does with a category it did not see in training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandleUnknown {
    /// Fail with a message naming the value, row and column (the default).
    Error,
    /// One-hot: all zeros. Ordinal: missing (null).
    Ignore,
    /// A dedicated bucket: one-hot column `<column>_(other)`, ordinal code k.
    Other,
}

/// The categories of a column, sorted as scikit-learn sorts them (numbers by value).
pub(super) fn fit_categories(train: &DataFrame, name: &str, who: &str) -> Result<Vec<String>> {
    let col = column(train, name)?;
    let text = col.cast(&DataType::String)?;
    let values = text.str()?;
    if values.null_count() > 0 {
        let row = values.iter().position(|v| v.is_none()).unwrap_or(0);
        bail!(
            "{who}: column {name:?} has missing values (the first in row {row}); fill them \
             first, e.g. Imputer with MostFrequent or ConstantText(\"missing\")"
        );
    }
    // Distinct values through a hash set: a table has many rows and few categories.
    let distinct: HashSet<&str> = values.iter().flatten().collect();
    let mut categories: Vec<String> = distinct.into_iter().map(str::to_string).collect();
    categories.sort();
    if is_numeric(col.dtype()) {
        categories.sort_by(|a, b| {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(f64::NAN),
                b.parse::<f64>().unwrap_or(f64::NAN),
            );
            x.total_cmp(&y)
        });
    }
    Ok(categories)
}

/// Each row's category index (`None` for an unseen value), or an error for a missing value
/// or, with `HandleUnknown::Error`, an unseen one.
pub(super) fn category_codes(
    frame: &DataFrame,
    name: &str,
    categories: &[String],
    handle_unknown: HandleUnknown,
    who: &str,
) -> Result<Vec<Option<u32>>> {
    let index: HashMap<&str, u32> = categories
        .iter()
        .enumerate()
        .map(|(k, c)| (c.as_str(), k as u32))
        .collect();
    let text = column(frame, name)?.cast(&DataType::String)?;
    let mut codes = Vec::with_capacity(frame.height());
    for (row, value) in text.str()?.iter().enumerate() {
        let Some(value) = value else {
            bail!(
                "{who}: column {name:?} has a missing value in row {row}; fill it first \
                 (Imputer with MostFrequent or ConstantText)"
            );
        };
        match index.get(value) {
            Some(&k) => codes.push(Some(k)),
            None if handle_unknown == HandleUnknown::Error => {
                return Err(unknown_error(who, name, value, row, categories))
            }
            None => codes.push(None),
        }
    }
    Ok(codes)
}

pub(super) fn unknown_error(
    who: &str,
    name: &str,
    value: &str,
    row: usize,
    known: &[String],
) -> anyhow::Error {
    let shown: Vec<&str> = known.iter().take(20).map(String::as_str).collect();
    anyhow::anyhow!(
        "{who}: column {name:?} has the value {value:?} (row {row}) that was not in the training \
         rows; known categories: {shown:?}{}. Use .handle_unknown(HandleUnknown::Ignore) or \
         HandleUnknown::Other to accept unseen values",
        if known.len() > 20 { " …" } else { "" }
    )
}

//! Cleaning: missing values, duplicate rows, outliers and column types.
//!
//! What needs no statistics (dropping rows, forward fill, a constant) works on any frame.
//! What learns from the data (mean or median fills, outlier bounds) is fitted on training rows
//! only: [`Imputer`](super::Imputer) and [`OutlierClipper`](super::OutlierClipper) are transformers, and
//! [`remove_outliers`] takes a [`TrainFrame`] (test rows are never dropped for being unusual).

use super::columns::{column, f64_options, is_numeric, owned, require, set_column, string_options};
use super::split::TrainFrame;
use super::stats::{mean, quantile_sorted, sorted};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows with a missing value (null, or NaN in a float column) in any column removed.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [Some(1.0), None, Some(f64::NAN)], "y" => ["a", "b", "c"]).unwrap();
/// assert_eq!(drop_nulls(&frame).unwrap().height(), 1);
/// ```
pub fn drop_nulls(frame: &DataFrame) -> Result<DataFrame> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    drop_nulls_in(frame, &names)
}

/// Rows with a missing value in one of `columns` removed.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [Some(1.0), None], "y" => [None, Some("b")]).unwrap();
/// assert_eq!(drop_nulls_in(&frame, &["x"]).unwrap().height(), 1);
/// ```
pub fn drop_nulls_in(frame: &DataFrame, columns: &[impl AsRef<str>]) -> Result<DataFrame> {
    drop_nulls_named(frame, &owned(columns))
}

// The generic shims above stay one line so cells do not compile the bodies again.
fn drop_nulls_named(frame: &DataFrame, columns: &[String]) -> Result<DataFrame> {
    let columns = columns.to_vec();
    require(frame, &columns)?;
    let mut out = if columns.len() == frame.width() {
        frame.drop_nulls::<String>(None)?
    } else {
        frame.drop_nulls(Some(&columns))?
    };
    // polars keeps NaN; pandas and scikit-learn count it as missing, and so do we.
    let mut keep: Option<BooleanChunked> = None;
    for name in &columns {
        let col = out.column(name)?;
        if matches!(col.dtype(), DataType::Float32 | DataType::Float64) {
            let values = col.cast(&DataType::Float64)?;
            let values = values.f64()?;
            // A raw scan of the buffers first: most columns have no NaN at all.
            if !values
                .downcast_iter()
                .any(|chunk| chunk.values().iter().any(|x| x.is_nan()))
            {
                continue;
            }
            let not_nan: BooleanChunked = values.is_not_nan();
            keep = Some(match keep {
                Some(k) => &k & &not_nan,
                None => not_nan,
            });
        }
    }
    if let Some(keep) = keep {
        out = out.filter(&keep)?;
    }
    Ok(out)
}

/// How [`fill_nulls`] fills a missing value. Fills that need a statistic of the data (mean,
/// median, most frequent) are the [`Imputer`](super::Imputer), fitted on training rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    /// The previous non-missing value in the column (rows before the first stay missing).
    Forward,
    /// The next non-missing value.
    Backward,
    /// A number (numeric columns).
    Value(f64),
    /// A text value (text columns).
    Text(String),
}

/// Fills missing values of `columns` by `how`; with `indicator`, first adds a
/// `<column>_missing` column (1.0 where the value was missing).
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("t" => [Some(1.0), None, Some(3.0)]).unwrap();
/// let filled = fill_nulls(&frame, &["t"], Fill::Forward, true).unwrap();
/// assert_eq!(filled.column("t").unwrap().f64().unwrap().get(1), Some(1.0));
/// assert_eq!(filled.column("t_missing").unwrap().f64().unwrap().get(1), Some(1.0));
/// ```
pub fn fill_nulls(
    frame: &DataFrame,
    columns: &[impl AsRef<str>],
    how: Fill,
    indicator: bool,
) -> Result<DataFrame> {
    fill_nulls_named(frame, &owned(columns), how, indicator)
}

fn fill_nulls_named(
    frame: &DataFrame,
    columns: &[String],
    how: Fill,
    indicator: bool,
) -> Result<DataFrame> {
    require(frame, columns)?;
    let mut out = frame.clone();
    for name in columns {
        let numeric = is_numeric(column(frame, name)?.dtype());
        let filled = if numeric {
            let mut values = f64_options(frame, name)?;
            if indicator {
                set_column(
                    &mut out,
                    missing_indicator(name, values.iter().map(Option::is_none)),
                )?;
            }
            match &how {
                Fill::Value(v) => values.iter_mut().for_each(|x| *x = x.or(Some(*v))),
                Fill::Text(t) => bail!(
                    "fill_nulls: column {name:?} is numeric ({}); Fill::Text({t:?}) is for text \
                     columns, use Fill::Value",
                    column(frame, name)?.dtype()
                ),
                direction => fill_in_order(&mut values, direction),
            }
            let chunked: Float64Chunked = values.into_iter().collect();
            chunked.with_name(name.as_str().into()).into_column()
        } else {
            let mut values = string_options(frame, name)?;
            if indicator {
                set_column(
                    &mut out,
                    missing_indicator(name, values.iter().map(Option::is_none)),
                )?;
            }
            match &how {
                Fill::Text(t) => values.iter_mut().for_each(|x| {
                    if x.is_none() {
                        *x = Some(t.clone())
                    }
                }),
                Fill::Value(v) => bail!(
                    "fill_nulls: column {name:?} holds text; Fill::Value({v}) is for numeric \
                     columns, use Fill::Text"
                ),
                direction => fill_in_order(&mut values, direction),
            }
            let chunked: StringChunked = values.into_iter().collect();
            chunked.with_name(name.as_str().into()).into_column()
        };
        set_column(&mut out, filled)?;
    }
    Ok(out)
}

/// A `<name>_missing` column: 1.0 where the value was missing, else 0.0.
pub(crate) fn missing_indicator(name: &str, missing: impl Iterator<Item = bool>) -> Column {
    let values: Float64Chunked = missing.map(|m| Some(if m { 1.0 } else { 0.0 })).collect();
    values
        .with_name(format!("{name}_missing").into())
        .into_column()
}

/// Forward or backward fill (other `Fill`s are values, handled by the caller).
fn fill_in_order<T: Clone>(values: &mut [Option<T>], how: &Fill) {
    if *how == Fill::Backward {
        values.reverse();
        fill_along(values);
        values.reverse();
    } else {
        fill_along(values);
    }
}

fn fill_along<T: Clone>(values: &mut [Option<T>]) {
    let mut last: Option<T> = None;
    for v in values.iter_mut() {
        match v {
            Some(x) => last = Some(x.clone()),
            None => *v = last.clone(),
        }
    }
}

/// Exact duplicate rows removed, keeping the first of each (row order kept).
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [1, 1, 2], "y" => ["a", "a", "b"]).unwrap();
/// assert_eq!(drop_duplicates(&frame).unwrap().height(), 2);
/// ```
pub fn drop_duplicates(frame: &DataFrame) -> Result<DataFrame> {
    let keep: BooleanChunked = first_occurrences(frame)?.into_iter().map(Some).collect();
    Ok(frame.filter(&keep)?)
}

/// For each row: is it the first of its exact copies? Rows are hashed column by column with
/// polars' vectorised hashers, and only rows whose 64-bit hashes meet are compared value by
/// value (nulls equal nulls, NaN equals NaN, as in pandas). About 4x faster here than
/// `DataFrame::unique_stable`, which encodes whole rows before hashing.
fn first_occurrences(frame: &DataFrame) -> Result<Vec<bool>> {
    let n = frame.height();
    let columns = frame.columns();
    if columns.is_empty() || n == 0 {
        return Ok(vec![true; n]);
    }
    let hasher = PlSeedableRandomStateQuality::default();
    let mut hashes = Vec::with_capacity(n);
    columns[0].vec_hash(hasher.clone(), &mut hashes)?;
    for column in &columns[1..] {
        column.vec_hash_combine(hasher.clone(), &mut hashes)?;
    }
    let same_row = |a: usize, b: usize| {
        columns.iter().all(|c| match (c.get(a), c.get(b)) {
            (Ok(x), Ok(y)) => x == y || (is_nan(&x) && is_nan(&y)),
            _ => false,
        })
    };
    let mut first_row: PlHashMap<u64, u32> = PlHashMap::with_capacity(n);
    // Distinct rows whose hashes collide with an earlier distinct row (vanishingly rare).
    let mut collided: Vec<(u64, u32)> = Vec::new();
    let mut keep = vec![true; n];
    for (row, &h) in hashes.iter().enumerate() {
        let Some(&first) = first_row.get(&h) else {
            first_row.insert(h, row as u32);
            continue;
        };
        let mut earlier = std::iter::once(first)
            .chain(collided.iter().filter(|(ch, _)| *ch == h).map(|&(_, r)| r));
        if earlier.any(|candidate| same_row(candidate as usize, row)) {
            keep[row] = false;
        } else {
            collided.push((h, row as u32));
        }
    }
    Ok(keep)
}

fn is_nan(value: &AnyValue) -> bool {
    match value {
        AnyValue::Float64(x) => x.is_nan(),
        AnyValue::Float32(x) => x.is_nan(),
        _ => false,
    }
}

/// The number of rows that repeat an earlier row exactly.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [1, 1, 1, 2]).unwrap();
/// assert_eq!(duplicate_count(&frame).unwrap(), 2);
/// ```
pub fn duplicate_count(frame: &DataFrame) -> Result<usize> {
    Ok(first_occurrences(frame)?
        .iter()
        .filter(|keep| !**keep)
        .count())
}

/// What makes a value an outlier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum OutlierRule {
    /// Outside [Q1 - k·IQR, Q3 + k·IQR] (Tukey's fences; k = 1.5 is the usual choice).
    Iqr(#[serde(with = "super::exact")] f64),
    /// More than t standard deviations from the mean (t = 3 is the usual choice).
    ZScore(#[serde(with = "super::exact")] f64),
}

impl OutlierRule {
    /// The (low, high) bounds of normal values in a column.
    fn bounds(&self, values: Vec<f64>) -> Result<(f64, f64)> {
        Ok(match *self {
            OutlierRule::Iqr(k) => {
                if k.is_nan() || k < 0.0 {
                    bail!("OutlierRule::Iqr needs k >= 0 (1.5 is usual), got {k}");
                }
                let values = sorted(values);
                let (q1, q3) = (
                    quantile_sorted(&values, 0.25),
                    quantile_sorted(&values, 0.75),
                );
                (q1 - k * (q3 - q1), q3 + k * (q3 - q1))
            }
            OutlierRule::ZScore(t) => {
                if t.is_nan() || t <= 0.0 {
                    bail!("OutlierRule::ZScore needs a threshold > 0 (3 is usual), got {t}");
                }
                let m = mean(&values);
                let std = (values.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
                    / values.len() as f64)
                    .sqrt();
                (m - t * std, m + t * std)
            }
        })
    }
}

pub(crate) fn bounds_of(
    frame: &DataFrame,
    columns: &[String],
    rule: OutlierRule,
) -> Result<Vec<(f64, f64)>> {
    columns
        .iter()
        .map(|name| {
            let values: Vec<f64> = f64_options(frame, name)?.into_iter().flatten().collect();
            if values.is_empty() {
                bail!("column {name:?} has no values to find outliers in");
            }
            rule.bounds(values)
        })
        .collect()
}

/// Per row: is any of `columns` outside the rule's bounds (computed on this frame)? For
/// looking; to act, use [`remove_outliers`] or [`OutlierClipper`].
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [1.0, 2.0, 3.0, 2.0, 100.0]).unwrap();
/// assert_eq!(outlier_mask(&frame, &["x"], OutlierRule::Iqr(1.5)).unwrap(), [false, false, false, false, true]);
/// ```
pub fn outlier_mask(
    frame: &DataFrame,
    columns: &[impl AsRef<str>],
    rule: OutlierRule,
) -> Result<Vec<bool>> {
    outlier_mask_named(frame, &owned(columns), rule)
}

fn outlier_mask_named(
    frame: &DataFrame,
    columns: &[String],
    rule: OutlierRule,
) -> Result<Vec<bool>> {
    let bounds = bounds_of(frame, columns, rule)?;
    let mut mask = vec![false; frame.height()];
    for (name, (lo, hi)) in columns.iter().zip(bounds) {
        for (row, v) in f64_options(frame, name)?.into_iter().enumerate() {
            if let Some(v) = v {
                mask[row] |= v < lo || v > hi;
            }
        }
    }
    Ok(mask)
}

/// Training rows with an outlier in any of `columns` removed.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 2.0, 100.0]).unwrap());
/// assert_eq!(remove_outliers(&train, &["x"], OutlierRule::Iqr(1.5)).unwrap().height(), 4);
/// ```
pub fn remove_outliers(
    train: &TrainFrame,
    columns: &[impl AsRef<str>],
    rule: OutlierRule,
) -> Result<TrainFrame> {
    remove_outliers_named(train, &owned(columns), rule)
}

fn remove_outliers_named(
    train: &TrainFrame,
    columns: &[String],
    rule: OutlierRule,
) -> Result<TrainFrame> {
    let mask = outlier_mask_named(train, columns, rule)?;
    let keep: BooleanChunked = mask.iter().map(|&m| Some(!m)).collect();
    Ok(TrainFrame::derived(train.filter(&keep)?))
}

/// Columns converted to other types; a value that does not convert is an error naming the
/// column, the row and the value (no silent nulls).
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("age" => ["31", "45"]).unwrap();
/// let typed = cast_columns(&frame, &[("age", DataType::Float64)]).unwrap();
/// assert_eq!(typed.column("age").unwrap().dtype(), &DataType::Float64);
/// let bad = df!("age" => ["31", "forty"]).unwrap();
/// let err = cast_columns(&bad, &[("age", DataType::Float64)]).unwrap_err().to_string();
/// assert!(err.contains("row 1") && err.contains("forty"));
/// ```
pub fn cast_columns(frame: &DataFrame, casts: &[(&str, DataType)]) -> Result<DataFrame> {
    let mut out = frame.clone();
    for (name, dtype) in casts {
        let col = column(frame, name)?;
        let cast = col
            .cast(dtype)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("column {name:?} ({}) cannot become {dtype}", col.dtype()))?;
        // A non-strict cast turns unconvertible values into nulls: find the first such value.
        let before = col.is_null();
        let after = cast.is_null();
        if let Some(row) =
            (0..col.len()).find(|&i| after.get(i) == Some(true) && before.get(i) == Some(false))
        {
            let value = col.get(row).map(|v| v.to_string()).unwrap_or_default();
            bail!(
                "column {name:?}: row {row} holds {value}, which is not a valid {dtype}; fix or \
                 drop that value (fill_nulls, drop_nulls) before casting"
            );
        }
        set_column(&mut out, cast)?;
    }
    Ok(out)
}

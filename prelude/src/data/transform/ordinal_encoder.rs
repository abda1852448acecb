//! Ordinal encoding: each category to its index.

use super::categories::{category_codes, fit_categories, HandleUnknown};
use super::params_table::{fitted_title, params_bundle};
use super::{fitted, Transformer};
use crate::data::columns::{f64_options, owned, require, set_column};
use crate::data::split::TrainFrame;
use crate::display::{MimeBundle, Render};
use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Each category to its index in the sorted categories (0, 1, …), as Int64.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("size" => ["S", "M", "L", "M"]).unwrap());
/// let mut encoder = OrdinalEncoder::new(&["size"]);
/// let codes = encoder.fit_transform(&train).unwrap();
/// assert_eq!(codes.column("size").unwrap().i64().unwrap().get(0), Some(2));
/// assert_eq!(encoder.inverse_transform(&codes).unwrap().column("size").unwrap().str().unwrap().get(0), Some("S"));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrdinalEncoder {
    pub columns: Vec<String>,
    pub handle_unknown: HandleUnknown,
    categories: Vec<Vec<String>>,
}

impl OrdinalEncoder {
    /// An encoder for the named columns.
    ///
    /// ```
    /// assert!(trainbook::prelude::OrdinalEncoder::new(&["size"]).categories().is_err());
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> OrdinalEncoder {
        OrdinalEncoder {
            columns: owned(columns),
            handle_unknown: HandleUnknown::Error,
            categories: vec![],
        }
    }

    /// What to do with categories not seen in training (`Ignore` gives a missing code).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("c" => ["a", "b"]).unwrap());
    /// let mut encoder = OrdinalEncoder::new(&["c"]).handle_unknown(HandleUnknown::Ignore);
    /// encoder.fit(&train).unwrap();
    /// assert_eq!(encoder.transform(&df!("c" => ["z"]).unwrap()).unwrap().column("c").unwrap().null_count(), 1);
    /// ```
    pub fn handle_unknown(mut self, how: HandleUnknown) -> OrdinalEncoder {
        self.handle_unknown = how;
        self
    }

    /// Each column's categories, sorted as scikit-learn sorts them (its `categories_`); an
    /// error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut encoder = OrdinalEncoder::new(&["size"]);
    /// assert!(encoder.categories().is_err());
    /// encoder.fit(&TrainFrame::assume_training(df!("size" => ["m", "s", "l", "m"]).unwrap())).unwrap();
    /// assert_eq!(encoder.categories().unwrap()[0], ["l", "m", "s"]);
    /// ```
    pub fn categories(&self) -> Result<&[Vec<String>]> {
        fitted(&self.categories, &self.columns, false, self.name())
    }
}

impl Transformer for OrdinalEncoder {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        self.categories = self
            .columns
            .iter()
            .map(|name| fit_categories(train, name, "OrdinalEncoder"))
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.categories, &self.columns, false, self.name())?;
        require(frame, &self.columns)?;
        let mut out = frame.clone();
        for (i, name) in self.columns.iter().enumerate() {
            let categories = &self.categories[i];
            let unknown = match self.handle_unknown {
                HandleUnknown::Other => Some(categories.len() as i64),
                _ => None,
            };
            let codes: Vec<Option<i64>> = category_codes(
                frame,
                name,
                categories,
                self.handle_unknown,
                "OrdinalEncoder",
            )?
            .into_iter()
            .map(|c| c.map(i64::from).or(unknown))
            .collect();
            let codes: Int64Chunked = codes.into_iter().collect();
            set_column(
                &mut out,
                codes.with_name(name.as_str().into()).into_column(),
            )?;
        }
        Ok(out)
    }

    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.categories, &self.columns, false, self.name())?;
        let mut out = frame.clone();
        for (i, name) in self.columns.iter().enumerate() {
            let values: StringChunked = f64_options(frame, name)?
                .into_iter()
                .map(|code| {
                    let code = code?;
                    (code >= 0.0 && code.fract() == 0.0)
                        .then(|| self.categories[i].get(code as usize).cloned())
                        .flatten()
                })
                .collect();
            set_column(
                &mut out,
                values.with_name(name.as_str().into()).into_column(),
            )?;
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "OrdinalEncoder"
    }
}

impl Render for OrdinalEncoder {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = self
            .columns
            .iter()
            .zip(&self.categories)
            .map(|(c, cats)| {
                let codes: Vec<String> = cats
                    .iter()
                    .enumerate()
                    .map(|(k, v)| format!("{v} → {k}"))
                    .collect();
                vec![c.clone(), codes.join(", ")]
            })
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.categories.is_empty()),
            &["column", "codes"],
            rows,
        )
    }
}

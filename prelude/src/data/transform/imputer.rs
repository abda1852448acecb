//! Filling missing values with a statistic of the training rows.

use super::params_table::{fitted_title, fmt, params_bundle};
use super::{fitted, resolve_all_numeric, Transformer};
use crate::data::clean::missing_indicator;
use crate::data::columns::{
    column, f64_options, is_numeric, owned, require, set_column, string_options,
};
use crate::data::split::TrainFrame;
use crate::data::stats::{mean, present_values, quantile_sorted, sorted};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use polars::prelude::PlHashMap as HashMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// How an imputer picks the value it fills in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ImputeStrategy {
    Mean,
    Median,
    /// The most frequent value (the smallest of tied ones); numbers or text.
    MostFrequent,
    Constant(#[serde(with = "crate::data::exact")] f64),
    ConstantText(String),
}

/// A fill value learned per column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FillValue {
    Number(#[serde(with = "crate::data::exact")] f64),
    Text(String),
}

/// Fills missing values with a statistic of the training rows, optionally adding a
/// `<column>_missing` indicator (1.0 where the value was missing) for each column that had
/// missing values in training, as scikit-learn's `add_indicator`.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [Some(1.0), None, Some(3.0)]).unwrap());
/// let filled = Imputer::new(&["x"], ImputeStrategy::Mean).add_indicator().fit_transform(&train).unwrap();
/// assert_eq!(filled.column("x").unwrap().f64().unwrap().get(1), Some(2.0));
/// assert_eq!(filled.column("x_missing").unwrap().f64().unwrap().get(1), Some(1.0));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Imputer {
    pub columns: Vec<String>,
    pub strategy: ImputeStrategy,
    pub add_indicator: bool,
    /// Fitted: the value filled into each column.
    fill: Vec<FillValue>,
    /// Fitted: the columns that get an indicator.
    indicator_columns: Vec<String>,
    /// Built by `all()`: `fit` takes every numeric column.
    #[serde(default)]
    all_numeric: bool,
}

impl Imputer {
    /// An imputer for the named columns.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let imputer = Imputer::new(&["age"], ImputeStrategy::Median);
    /// assert!(!imputer.add_indicator);
    /// ```
    pub fn new(columns: &[impl AsRef<str>], strategy: ImputeStrategy) -> Imputer {
        Imputer {
            columns: owned(columns),
            strategy,
            add_indicator: false,
            fill: vec![],
            indicator_columns: vec![],
            all_numeric: false,
        }
    }

    /// An imputer for every numeric column of the rows it is fitted on (missing: null or NaN),
    /// as scikit-learn's `SimpleImputer` on a whole matrix.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [1.0, f64::NAN, 3.0], "b" => [Some(4.0), Some(6.0), None]).unwrap());
    /// let filled = Imputer::all(ImputeStrategy::Mean).fit_transform(&train).unwrap();
    /// assert_eq!(filled.column("a").unwrap().f64().unwrap().get(1), Some(2.0));
    /// assert_eq!(filled.column("b").unwrap().f64().unwrap().get(2), Some(5.0));
    /// ```
    pub fn all(strategy: ImputeStrategy) -> Imputer {
        Imputer {
            all_numeric: true,
            ..Imputer::new(&[] as &[&str], strategy)
        }
    }

    /// Adds a `<column>_missing` column for each column with missing training values
    /// (scikit-learn's `add_indicator=True`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(Imputer::new(&["age"], ImputeStrategy::Mean).add_indicator().add_indicator);
    /// ```
    pub fn add_indicator(mut self) -> Imputer {
        self.add_indicator = true;
        self
    }

    /// The value filled into each column (scikit-learn's `statistics_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut imputer = Imputer::new(&["x"], ImputeStrategy::Median);
    /// assert!(imputer.fill_values().is_err());
    /// imputer.fit(&TrainFrame::assume_training(df!("x" => [Some(1.0), None, Some(5.0), Some(2.0)]).unwrap())).unwrap();
    /// assert_eq!(imputer.fill_values().unwrap(), [FillValue::Number(2.0)]);
    /// ```
    pub fn fill_values(&self) -> Result<&[FillValue]> {
        fitted(&self.fill, &self.columns, self.all_numeric, self.name())
    }

    /// The columns that get a `<column>_missing` indicator: those with missing training values,
    /// when built with `add_indicator()`; an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [Some(1.0), None], "b" => [1.0, 2.0]).unwrap());
    /// let mut imputer = Imputer::new(&["a", "b"], ImputeStrategy::Mean).add_indicator();
    /// imputer.fit(&train).unwrap();
    /// assert_eq!(imputer.indicator_columns().unwrap(), ["a"]);
    /// ```
    pub fn indicator_columns(&self) -> Result<&[String]> {
        fitted(&self.fill, &self.columns, self.all_numeric, self.name())?;
        Ok(&self.indicator_columns)
    }
}

/// The most frequent value; ties go to the smallest, as scikit-learn's.
fn most_frequent<T: Ord + Clone + std::hash::Hash>(values: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: HashMap<T, usize> = HashMap::default();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|(a, ca), (b, cb)| ca.cmp(cb).then_with(|| b.cmp(a)))
        .map(|(v, _)| v)
}

impl Transformer for Imputer {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        resolve_all_numeric(&mut self.columns, self.all_numeric, train, "Imputer")?;
        require(train, &self.columns)?;
        let mut fill = vec![];
        let mut indicators = vec![];
        for name in &self.columns {
            let col = column(train, name)?;
            let numeric = is_numeric(col.dtype());
            let has_missing = if numeric {
                f64_options(train, name)?.iter().any(Option::is_none)
            } else {
                col.null_count() > 0
            };
            if has_missing {
                indicators.push(name.clone());
            }
            let value = match (&self.strategy, numeric) {
                (ImputeStrategy::Mean, true) => {
                    FillValue::Number(mean(&present_values(train, name, "Imputer")?))
                }
                (ImputeStrategy::Median, true) => {
                    let values = sorted(present_values(train, name, "Imputer")?);
                    FillValue::Number(quantile_sorted(&values, 0.5))
                }
                (ImputeStrategy::MostFrequent, true) => {
                    let values = present_values(train, name, "Imputer")?;
                    // Order f64 by bits of a total order: fine for finding equal values.
                    let best = most_frequent(values.iter().map(|v| OrdF64(*v)))
                        .expect("present_values is not empty");
                    FillValue::Number(best.0)
                }
                (ImputeStrategy::MostFrequent, false) => {
                    let values = string_options(train, name)?;
                    match most_frequent(values.into_iter().flatten()) {
                        Some(v) => FillValue::Text(v),
                        None => bail!("Imputer: column {name:?} has no values in the training rows (all missing)"),
                    }
                }
                (ImputeStrategy::Constant(v), true) => FillValue::Number(*v),
                (ImputeStrategy::ConstantText(v), false) => FillValue::Text(v.clone()),
                (strategy, numeric) => bail!(
                    "Imputer: strategy {strategy:?} does not apply to column {name:?} of type {}; \
                     {}",
                    col.dtype(),
                    if numeric {
                        "use Mean, Median, MostFrequent or Constant for numbers"
                    } else {
                        "use MostFrequent or ConstantText for text"
                    }
                ),
            };
            fill.push(value);
        }
        self.fill = fill;
        self.indicator_columns = if self.add_indicator {
            indicators
        } else {
            vec![]
        };
        Ok(())
    }

    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.fill, &self.columns, self.all_numeric, self.name())?;
        require(frame, &self.columns)?;
        let mut out = frame.clone();
        for name in &self.indicator_columns {
            let missing = f64_or_text_missing(frame, name)?;
            set_column(&mut out, missing_indicator(name, missing.into_iter()))?;
        }
        for (name, value) in self.columns.iter().zip(&self.fill) {
            let filled = match value {
                FillValue::Number(v) => {
                    let values: Float64Chunked = f64_options(frame, name)?
                        .into_iter()
                        .map(|x| Some(x.unwrap_or(*v)))
                        .collect();
                    values.with_name(name.as_str().into()).into_column()
                }
                FillValue::Text(v) => {
                    let values: StringChunked = string_options(frame, name)?
                        .into_iter()
                        .map(|x| Some(x.unwrap_or_else(|| v.clone())))
                        .collect();
                    values.with_name(name.as_str().into()).into_column()
                }
            };
            set_column(&mut out, filled)?;
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "Imputer"
    }
}

fn f64_or_text_missing(frame: &DataFrame, name: &str) -> Result<Vec<bool>> {
    if is_numeric(column(frame, name)?.dtype()) {
        Ok(f64_options(frame, name)?
            .iter()
            .map(Option::is_none)
            .collect())
    } else {
        Ok(string_options(frame, name)?
            .iter()
            .map(Option::is_none)
            .collect())
    }
}

/// f64 with a total order, for counting equal values.
#[derive(Clone, Copy, Debug)]
struct OrdF64(f64);
impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::hash::Hash for OrdF64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state)
    }
}

impl Render for Imputer {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = self
            .columns
            .iter()
            .zip(&self.fill)
            .map(|(c, v)| {
                vec![
                    c.clone(),
                    match v {
                        FillValue::Number(x) => fmt(*x),
                        FillValue::Text(t) => format!("{t:?}"),
                    },
                    self.indicator_columns.contains(c).to_string(),
                ]
            })
            .collect();
        params_bundle(
            &format!(
                "{} ({:?})",
                fitted_title(self.name(), !self.fill.is_empty()),
                self.strategy
            ),
            &["column", "fill value", "indicator"],
            rows,
        )
    }
}

//! Robust scaling: median and interquartile range.

use super::params_table::{fitted_title, fmt, params_bundle};
use super::{fitted, resolve_all_numeric, Transformer};
use crate::data::columns::{map_columns, owned};
use crate::data::split::TrainFrame;
use crate::data::stats::{nonzero_scale, present_values, quantile_sorted, sorted};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Scales by median and interquartile range, so outliers do not set the scale.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 4.0, 100.0]).unwrap());
/// let mut scaler = RobustScaler::new(&["x"]);
/// scaler.fit(&train).unwrap();
/// assert_eq!((scaler.center().unwrap(), scaler.scale().unwrap()), (&[3.0][..], &[2.0][..]));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RobustScaler {
    pub columns: Vec<String>,
    /// Quantiles (in 0..1) whose distance is the scale; (0.25, 0.75) by default.
    #[serde(with = "crate::data::exact")]
    pub quantile_range: (f64, f64),
    #[serde(with = "crate::data::exact")]
    center: Vec<f64>,
    #[serde(with = "crate::data::exact")]
    scale: Vec<f64>,
    /// Built by `all()`: `fit` takes every numeric column.
    #[serde(default)]
    all_numeric: bool,
}

impl RobustScaler {
    /// A median/IQR scaler for the named columns.
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::RobustScaler::new(&["a"]).quantile_range, (0.25, 0.75));
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> RobustScaler {
        RobustScaler {
            columns: owned(columns),
            quantile_range: (0.25, 0.75),
            center: vec![],
            scale: vec![],
            all_numeric: false,
        }
    }

    /// A scaler for every numeric column of the rows it is fitted on, as scikit-learn's
    /// `RobustScaler()` scales a whole matrix.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [1.0, 2.0, 3.0, 4.0, 100.0]).unwrap());
    /// let mut scaler = RobustScaler::all();
    /// scaler.fit(&train).unwrap();
    /// assert_eq!((scaler.center().unwrap(), scaler.scale().unwrap()), (&[3.0][..], &[2.0][..]));
    /// ```
    pub fn all() -> RobustScaler {
        RobustScaler {
            all_numeric: true,
            ..RobustScaler::new(&[] as &[&str])
        }
    }

    /// Each column's training median (scikit-learn's `center_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = RobustScaler::new(&["x"]);
    /// assert!(scaler.center().is_err());
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [1.0, 2.0, 9.0]).unwrap())).unwrap();
    /// assert_eq!(scaler.center().unwrap(), [2.0]);
    /// ```
    pub fn center(&self) -> Result<&[f64]> {
        fitted(&self.center, &self.columns, self.all_numeric, self.name())
    }

    /// Each column's quantile range, 1 where it is zero (scikit-learn's `scale_`); an error
    /// before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = RobustScaler::new(&["x"]);
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 4.0, 100.0]).unwrap())).unwrap();
    /// assert_eq!(scaler.scale().unwrap(), [2.0]);
    /// ```
    pub fn scale(&self) -> Result<&[f64]> {
        fitted(&self.scale, &self.columns, self.all_numeric, self.name())
    }
}

impl Transformer for RobustScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        resolve_all_numeric(&mut self.columns, self.all_numeric, train, "RobustScaler")?;
        let (q_lo, q_hi) = self.quantile_range;
        if !(0.0..=1.0).contains(&q_lo) || !(0.0..=1.0).contains(&q_hi) || q_lo >= q_hi {
            bail!(
                "RobustScaler: quantile_range must be 0 <= low < high <= 1, got ({q_lo}, {q_hi})"
            );
        }
        let (mut center, mut scale) = (vec![], vec![]);
        for name in &self.columns {
            let values = sorted(present_values(train, name, "RobustScaler")?);
            center.push(quantile_sorted(&values, 0.5));
            scale.push(nonzero_scale(
                quantile_sorted(&values, q_hi) - quantile_sorted(&values, q_lo),
            ));
        }
        (self.center, self.scale) = (center, scale);
        Ok(())
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.center, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            (x - self.center[i]) / self.scale[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.center, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            x * self.scale[i] + self.center[i]
        })
    }
    fn name(&self) -> &'static str {
        "RobustScaler"
    }
}

impl Render for RobustScaler {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = (0..self.center.len())
            .map(|i| {
                vec![
                    self.columns[i].clone(),
                    fmt(self.center[i]),
                    fmt(self.scale[i]),
                ]
            })
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.center.is_empty()),
            &["column", "median", "IQR"],
            rows,
        )
    }
}

//! Standard scaling: zero mean, unit variance.

use super::params_table::{fitted_title, fmt, params_bundle};
use super::{fitted, resolve_all_numeric, Transformer};
use crate::data::columns::{map_columns, owned};
use crate::data::split::TrainFrame;
use crate::data::stats::{mean_and_variance, nonzero_scale};
use crate::display::{MimeBundle, Render};
use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Scales columns to zero mean and unit variance (population variance, as scikit-learn).
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0]).unwrap());
/// let mut scaler = StandardScaler::new(&["x"]);
/// let scaled = scaler.fit_transform(&train).unwrap();
/// let x: Vec<f64> = scaled.column("x").unwrap().f64().unwrap().into_no_null_iter().collect();
/// assert!((x[0] + 1.224744871391589).abs() < 1e-12);
/// let back = scaler.inverse_transform(&scaled).unwrap();
/// assert!((back.column("x").unwrap().f64().unwrap().get(2).unwrap() - 3.0).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StandardScaler {
    pub columns: Vec<String>,
    /// Fitted per column (one entry each once fitted).
    #[serde(with = "crate::data::exact")]
    mean: Vec<f64>,
    #[serde(with = "crate::data::exact")]
    scale: Vec<f64>,
    /// Built by `all()`: `fit` takes every numeric column.
    #[serde(default)]
    all_numeric: bool,
}

impl StandardScaler {
    /// A scaler for the named columns (fit learns their mean and scale).
    ///
    /// ```
    /// let scaler = trainbook::prelude::StandardScaler::new(&["a", "b"]);
    /// assert!(scaler.mean().is_err());
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> StandardScaler {
        StandardScaler {
            columns: owned(columns),
            mean: vec![],
            scale: vec![],
            all_numeric: false,
        }
    }

    /// A scaler for every numeric column of the rows it is fitted on, as scikit-learn's
    /// `StandardScaler()` scales a whole matrix (what `Standardized` puts before a model).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [1.0, 3.0], "b" => [0.0, 4.0], "name" => ["x", "y"]).unwrap());
    /// let mut scaler = StandardScaler::all();
    /// assert!(scaler.mean().is_err());
    /// scaler.fit(&train).unwrap();
    /// assert_eq!((scaler.columns.clone(), scaler.mean().unwrap()), (vec!["a".to_string(), "b".to_string()], &[2.0, 2.0][..]));
    /// ```
    pub fn all() -> StandardScaler {
        StandardScaler {
            all_numeric: true,
            ..StandardScaler::new(&[] as &[&str])
        }
    }

    /// Each column's mean in the training rows (scikit-learn's `mean_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = StandardScaler::new(&["x"]);
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [1.0, 3.0]).unwrap())).unwrap();
    /// assert_eq!(scaler.mean().unwrap(), [2.0]);
    /// ```
    pub fn mean(&self) -> Result<&[f64]> {
        fitted(&self.mean, &self.columns, self.all_numeric, self.name())
    }

    /// Each column's scale: its population standard deviation, 1 for a constant column
    /// (scikit-learn's `scale_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = StandardScaler::new(&["x", "constant"]);
    /// assert!(scaler.scale().unwrap_err().to_string().contains("not fitted"));
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [1.0, 3.0], "constant" => [5.0, 5.0]).unwrap())).unwrap();
    /// assert_eq!(scaler.scale().unwrap(), [1.0, 1.0]);
    /// ```
    pub fn scale(&self) -> Result<&[f64]> {
        fitted(&self.scale, &self.columns, self.all_numeric, self.name())
    }
}

impl Transformer for StandardScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        resolve_all_numeric(&mut self.columns, self.all_numeric, train, "StandardScaler")?;
        let (mut means, mut scales) = (vec![], vec![]);
        for name in &self.columns {
            let (m, var, n) = mean_and_variance(train, name, "StandardScaler")?;
            // scikit-learn treats a variance within rounding error of zero as zero.
            let n = n as f64;
            let bound = n * f64::EPSILON * var + (n * m * f64::EPSILON).powi(2);
            means.push(m);
            scales.push(if var <= bound {
                1.0
            } else {
                nonzero_scale(var.sqrt())
            });
        }
        (self.mean, self.scale) = (means, scales);
        Ok(())
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.mean, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            (x - self.mean[i]) / self.scale[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.mean, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            x * self.scale[i] + self.mean[i]
        })
    }
    fn name(&self) -> &'static str {
        "StandardScaler"
    }
}

impl Render for StandardScaler {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = (0..self.mean.len())
            .map(|i| {
                vec![
                    self.columns[i].clone(),
                    fmt(self.mean[i]),
                    fmt(self.scale[i]),
                ]
            })
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.mean.is_empty()),
            &["column", "mean", "scale"],
            rows,
        )
    }
}

//! Min-max scaling to a range.

use super::params_table::{fitted_title, fmt, params_bundle};
use super::{fitted, resolve_all_numeric, Transformer};
use crate::data::columns::{map_columns, owned};
use crate::data::split::TrainFrame;
use crate::data::stats::{nonzero_scale, present_values};
use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Scales columns to a range, [0, 1] by default.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [2.0, 4.0, 6.0]).unwrap());
/// let scaled = MinMaxScaler::new(&["x"]).fit_transform(&train).unwrap();
/// assert_eq!(scaled.column("x").unwrap().f64().unwrap().get(1), Some(0.5));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MinMaxScaler {
    pub columns: Vec<String>,
    #[serde(with = "crate::data::exact")]
    pub range: (f64, f64),
    /// Fitted per column: x * scale + offset.
    #[serde(with = "crate::data::exact")]
    scale: Vec<f64>,
    #[serde(with = "crate::data::exact")]
    offset: Vec<f64>,
    #[serde(with = "crate::data::exact")]
    data_min: Vec<f64>,
    #[serde(with = "crate::data::exact")]
    data_max: Vec<f64>,
    /// Built by `all()`: `fit` takes every numeric column.
    #[serde(default)]
    all_numeric: bool,
}

impl MinMaxScaler {
    /// A scaler to [0, 1] for the named columns.
    ///
    /// ```
    /// assert_eq!(trainbook::prelude::MinMaxScaler::new(&["a"]).range, (0.0, 1.0));
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> MinMaxScaler {
        MinMaxScaler {
            columns: owned(columns),
            range: (0.0, 1.0),
            scale: vec![],
            offset: vec![],
            data_min: vec![],
            data_max: vec![],
            all_numeric: false,
        }
    }

    /// A scaler for every numeric column of the rows it is fitted on, as scikit-learn's
    /// `MinMaxScaler()` scales a whole matrix.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [1.0, 3.0], "b" => [0.0, 4.0]).unwrap());
    /// let mut scaler = MinMaxScaler::all();
    /// assert!(scaler.data_min().is_err());
    /// let scaled = scaler.fit_transform(&train).unwrap();
    /// assert_eq!(scaled.column("b").unwrap().f64().unwrap().get(1), Some(1.0));
    /// ```
    pub fn all() -> MinMaxScaler {
        MinMaxScaler {
            all_numeric: true,
            ..MinMaxScaler::new(&[] as &[&str])
        }
    }

    /// Scales to [low, high] instead of [0, 1].
    ///
    /// ```
    /// let scaler = trainbook::prelude::MinMaxScaler::new(&["x"]).feature_range(-1.0, 1.0).unwrap();
    /// assert_eq!(scaler.range, (-1.0, 1.0));
    /// ```
    pub fn feature_range(mut self, low: f64, high: f64) -> Result<MinMaxScaler> {
        if low >= high {
            bail!("MinMaxScaler: the range must have low < high, got ({low}, {high})");
        }
        self.range = (low, high);
        Ok(self)
    }

    /// Each column's smallest training value (scikit-learn's `data_min_`); an error before
    /// `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = MinMaxScaler::new(&["x"]);
    /// assert!(scaler.data_min().is_err());
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [2.0, -1.0, 5.0]).unwrap())).unwrap();
    /// assert_eq!((scaler.data_min().unwrap(), scaler.data_max().unwrap()), (&[-1.0][..], &[5.0][..]));
    /// ```
    pub fn data_min(&self) -> Result<&[f64]> {
        fitted(&self.data_min, &self.columns, self.all_numeric, self.name())
    }

    /// Each column's largest training value (scikit-learn's `data_max_`); an error before
    /// `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut scaler = MinMaxScaler::new(&["x"]);
    /// scaler.fit(&TrainFrame::assume_training(df!("x" => [2.0, 7.0]).unwrap())).unwrap();
    /// assert_eq!(scaler.data_max().unwrap(), [7.0]);
    /// ```
    pub fn data_max(&self) -> Result<&[f64]> {
        fitted(&self.data_max, &self.columns, self.all_numeric, self.name())
    }
}

impl Transformer for MinMaxScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        resolve_all_numeric(&mut self.columns, self.all_numeric, train, "MinMaxScaler")?;
        let (mut scale, mut offset, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
        for name in &self.columns {
            let values = present_values(train, name, "MinMaxScaler")?;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            // The same arithmetic as scikit-learn, so results agree to the last bit or two.
            let s = (self.range.1 - self.range.0) / nonzero_scale(max - min);
            scale.push(s);
            offset.push(self.range.0 - min * s);
            lo.push(min);
            hi.push(max);
        }
        (self.scale, self.offset, self.data_min, self.data_max) = (scale, offset, lo, hi);
        Ok(())
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.scale, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            x * self.scale[i] + self.offset[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.scale, &self.columns, self.all_numeric, self.name())?;
        map_columns(frame, &self.columns, |i, x| {
            (x - self.offset[i]) / self.scale[i]
        })
    }
    fn name(&self) -> &'static str {
        "MinMaxScaler"
    }
}

impl Render for MinMaxScaler {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = (0..self.scale.len())
            .map(|i| {
                vec![
                    self.columns[i].clone(),
                    fmt(self.data_min[i]),
                    fmt(self.data_max[i]),
                ]
            })
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.scale.is_empty()),
            &["column", "min", "max"],
            rows,
        )
    }
}

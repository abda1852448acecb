//! Clipping values to outlier bounds learned from the training rows.

use super::{fitted, resolve_all_numeric, Transformer};
use crate::data::clean::{bounds_of, OutlierRule};
use crate::data::columns::{f64_options, owned, require, set_column};
use crate::data::split::TrainFrame;
use crate::display::{html_escape, MimeBundle, Render};
use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

/// Clips values to bounds learned from the training rows (winsorising).
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 2.0, 100.0]).unwrap());
/// let mut clipper = OutlierClipper::new(&["x"], OutlierRule::Iqr(1.5));
/// let clipped = clipper.fit_transform(&train).unwrap();
/// assert_eq!(clipped.column("x").unwrap().f64().unwrap().get(4), Some(4.5));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutlierClipper {
    pub columns: Vec<String>,
    pub rule: OutlierRule,
    /// Fitted (low, high) per column.
    #[serde(with = "crate::data::exact")]
    bounds: Vec<(f64, f64)>,
    /// Built by `all()`: `fit` takes every numeric column.
    #[serde(default)]
    all_numeric: bool,
}

impl OutlierClipper {
    /// A clipper for the named columns (fit learns the bounds).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(OutlierClipper::new(&["x"], OutlierRule::ZScore(3.0)).bounds().is_err());
    /// ```
    pub fn new(columns: &[impl AsRef<str>], rule: OutlierRule) -> OutlierClipper {
        OutlierClipper {
            columns: owned(columns),
            rule,
            bounds: vec![],
            all_numeric: false,
        }
    }

    /// A clipper for every numeric column of the rows it is fitted on.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("a" => [1.0, 2.0, 3.0, 2.0, 100.0], "b" => [0.0, 1.0, 1.0, 1.0, 2.0]).unwrap());
    /// let mut clipper = OutlierClipper::all(OutlierRule::Iqr(1.5));
    /// assert!(clipper.bounds().is_err());
    /// clipper.fit(&train).unwrap();
    /// assert_eq!(clipper.bounds().unwrap(), [(0.5, 4.5), (1.0, 1.0)]);
    /// ```
    pub fn all(rule: OutlierRule) -> OutlierClipper {
        OutlierClipper {
            all_numeric: true,
            ..OutlierClipper::new(&[] as &[&str], rule)
        }
    }

    /// Each column's (low, high) bounds learned from the training rows; an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut clipper = OutlierClipper::new(&["x"], OutlierRule::Iqr(1.5));
    /// clipper.fit(&TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 2.0, 100.0]).unwrap())).unwrap();
    /// assert_eq!(clipper.bounds().unwrap(), [(0.5, 4.5)]);
    /// ```
    pub fn bounds(&self) -> Result<&[(f64, f64)]> {
        fitted(&self.bounds, &self.columns, self.all_numeric, self.name())
    }
}

impl Transformer for OutlierClipper {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        resolve_all_numeric(&mut self.columns, self.all_numeric, train, "OutlierClipper")?;
        self.bounds = bounds_of(train, &self.columns, self.rule)?;
        Ok(())
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        fitted(&self.bounds, &self.columns, self.all_numeric, self.name())?;
        require(frame, &self.columns)?;
        let mut out = frame.clone();
        for (name, &(lo, hi)) in self.columns.iter().zip(&self.bounds) {
            let values: Float64Chunked = f64_options(frame, name)?
                .into_iter()
                .map(|v| v.map(|x| x.clamp(lo, hi)))
                .collect();
            set_column(
                &mut out,
                values.with_name(name.as_str().into()).into_column(),
            )?;
        }
        Ok(out)
    }
    fn name(&self) -> &'static str {
        "OutlierClipper"
    }
}

impl Render for OutlierClipper {
    fn mime_bundle(&self) -> MimeBundle {
        let mut html = format!("<h4>OutlierClipper ({:?})</h4><table><tr><th>column</th><th>low</th><th>high</th></tr>", self.rule);
        let mut text = format!("OutlierClipper ({:?})\n", self.rule);
        for (c, (lo, hi)) in self.columns.iter().zip(&self.bounds) {
            html += &format!(
                "<tr><td>{}</td><td>{lo:.6}</td><td>{hi:.6}</td></tr>",
                html_escape(c)
            );
            text += &format!("{c}\t{lo:.6}\t{hi:.6}\n");
        }
        html += "</table>";
        MimeBundle::text(text).with("text/html", html)
    }
}

//! Transformers in scikit-learn's shape: `fit` on training rows, `transform` any rows,
//! `inverse_transform` where it means something. Fitted transformers serialize to JSON and
//! show their fitted parameters as a table. One file per transformer.

mod categories;
mod imputer;
mod min_max_scaler;
mod one_hot_encoder;
mod ordinal_encoder;
mod outlier_clipper;
mod params_table;
mod pipeline;
mod robust_scaler;
mod standard_scaler;

pub use categories::HandleUnknown;
pub use imputer::{FillValue, ImputeStrategy, Imputer};
pub use min_max_scaler::MinMaxScaler;
pub use one_hot_encoder::OneHotEncoder;
pub use ordinal_encoder::OrdinalEncoder;
pub use outlier_clipper::OutlierClipper;
pub use pipeline::{Pipeline, PipelineStep, PreparedFold};
pub use robust_scaler::RobustScaler;
pub use standard_scaler::StandardScaler;

use super::split::{TestFrame, TrainFrame};
use anyhow::{bail, Context, Result};
use polars::prelude::DataFrame;
use serde::{de::DeserializeOwned, Serialize};

/// What every transformer can do. Fitting takes a [`TrainFrame`] so that test rows cannot
/// leak into fitted statistics; `transform` takes any frame (a `TrainFrame` or `TestFrame`
/// derefs to one).
pub trait Transformer {
    /// Learns the parameters from training rows (replacing any fitted before).
    fn fit(&mut self, train: &TrainFrame) -> Result<()>;
    /// Applies the fitted parameters; an error if not fitted yet.
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame>;
    /// `fit`, then `transform` of the same rows.
    fn fit_transform(&mut self, train: &TrainFrame) -> Result<TrainFrame> {
        self.fit(train)?;
        Ok(TrainFrame::derived(self.transform(train)?))
    }
    /// `transform` of held-out rows, keeping them typed as test rows.
    fn transform_test(&self, test: &TestFrame) -> Result<TestFrame> {
        Ok(TestFrame::derived(self.transform(test)?))
    }
    /// Undoes `transform` (scalers, encoders); an error where there is no inverse.
    fn inverse_transform(&self, _frame: &DataFrame) -> Result<DataFrame> {
        bail!("{} has no inverse transform", self.name())
    }
    /// The transformer's type name, for messages.
    fn name(&self) -> &'static str;

    /// The transformer, fitted parameters included, as JSON (floats kept exactly).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 4.0]).unwrap());
    /// let mut scaler = StandardScaler::new(&["x"]);
    /// scaler.fit(&train).unwrap();
    /// let saved = scaler.to_json().unwrap();
    /// let loaded = StandardScaler::from_json(&saved).unwrap();
    /// assert_eq!(loaded.transform(&train).unwrap(), scaler.transform(&train).unwrap());
    /// ```
    fn to_json(&self) -> Result<String>
    where
        Self: Serialize + Sized,
    {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// A transformer saved by [`to_json`](Transformer::to_json); an error that names the type
    /// when the text is not one.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let err = MinMaxScaler::from_json("{}").unwrap_err();
    /// assert!(err.to_string().contains("not a saved MinMaxScaler"));
    /// ```
    fn from_json(json: &str) -> Result<Self>
    where
        Self: DeserializeOwned + Sized,
    {
        let full = std::any::type_name::<Self>();
        let short = full.rsplit("::").next().unwrap_or(full);
        serde_json::from_str(json).with_context(|| format!("not a saved {short}"))
    }
}

/// A fitted attribute (one entry per column), or the not-fitted error before `fit`. A
/// transformer built by `all()` has no columns until `fit` finds them.
fn fitted<'a, T>(
    values: &'a [T],
    columns: &[String],
    all_numeric: bool,
    name: &str,
) -> Result<&'a [T]> {
    if values.len() != columns.len() || (all_numeric && columns.is_empty()) {
        return Err(not_fitted(name));
    }
    Ok(values)
}

/// For a transformer built by `all()`: its columns become every numeric column of the training
/// rows (as scikit-learn's transformers take a whole matrix).
fn resolve_all_numeric(
    columns: &mut Vec<String>,
    all_numeric: bool,
    train: &DataFrame,
    who: &str,
) -> Result<()> {
    if all_numeric {
        *columns = crate::data::numeric_columns(train, &[]);
        if columns.is_empty() {
            bail!("{who}::all() found no numeric column in the training rows");
        }
    }
    Ok(())
}

fn not_fitted(name: &str) -> anyhow::Error {
    anyhow::anyhow!("{name} is not fitted yet; call fit(&split.train) (or fit_transform) first")
}

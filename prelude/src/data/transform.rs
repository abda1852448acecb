//! Transformers in scikit-learn's shape: `fit` on training rows, `transform` any rows,
//! `inverse_transform` where it means something. Fitted transformers serialize to JSON and
//! show their fitted parameters as a table.

use super::clean::{missing_indicator, OutlierClipper};
use super::columns::{column, f64_options, is_numeric, owned, require, set_column, string_options};
use super::split::{Fold, TestFrame, TrainFrame};
use crate::display::{html_escape, MimeBundle, Render};
use anyhow::{bail, Context, Result};
use polars::prelude::*;
use polars::prelude::{PlHashMap as HashMap, PlHashSet as HashSet};
use serde::{Deserialize, Serialize};

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
}

fn not_fitted(name: &str) -> anyhow::Error {
    anyhow::anyhow!("{name} is not fitted yet; call fit(&split.train) (or fit_transform) first")
}

/// Serialization to and from JSON, for every transformer.
macro_rules! json_io {
    ($($t:ty),*) => {$(
        impl $t {
            /// The transformer, fitted parameters included, as JSON.
            pub fn to_json(&self) -> Result<String> {
                Ok(serde_json::to_string_pretty(self)?)
            }
            /// A transformer saved by `to_json`.
            pub fn from_json(json: &str) -> Result<Self> {
                serde_json::from_str(json)
                    .with_context(|| format!("not a saved {}", stringify!($t)))
            }
        }
    )*};
}
json_io!(
    StandardScaler,
    MinMaxScaler,
    RobustScaler,
    Imputer,
    OneHotEncoder,
    OrdinalEncoder,
    OutlierClipper,
    Pipeline
);

/// A table of per-column parameters, as HTML and text.
fn params_bundle(title: &str, headers: &[&str], rows: Vec<Vec<String>>) -> MimeBundle {
    let mut html = format!("<h4>{}</h4><table><thead><tr>", html_escape(title));
    let mut text = format!("{title}\n{}\n", headers.join("\t"));
    for h in headers {
        html += &format!("<th>{}</th>", html_escape(h));
    }
    html += "</tr></thead><tbody>";
    for row in rows {
        html += "<tr>";
        for cell in &row {
            html += &format!("<td>{}</td>", html_escape(cell));
        }
        html += "</tr>";
        text += &row.join("\t");
        text += "\n";
    }
    html += "</tbody></table>";
    MimeBundle::text(text).with("text/html", html)
}

fn fmt(x: f64) -> String {
    format!("{x:.6}")
}

/// Applies `f` to each value of each of `columns`, writing Float64 columns; missing values
/// stay missing (null stays null, NaN stays NaN). Runs on polars' buffers directly: this is
/// the hot loop of every scaler.
fn map_columns(
    frame: &DataFrame,
    columns: &[String],
    f: impl Fn(usize, f64) -> f64,
) -> Result<DataFrame> {
    require(frame, columns)?;
    let mut out = frame.clone();
    for (i, name) in columns.iter().enumerate() {
        let values = float_column(frame, name)?;
        let mapped = values.f64()?.apply_values(|x| f(i, x));
        set_column(
            &mut out,
            mapped.with_name(name.as_str().into()).into_column(),
        )?;
    }
    Ok(out)
}

/// A numeric column cast to Float64 (a cheap clone when it already is).
fn float_column(frame: &DataFrame, name: &str) -> Result<Column> {
    let col = column(frame, name)?;
    if !is_numeric(col.dtype()) {
        bail!(
            "column {name:?} is {}, not numeric; encode it (OneHotEncoder, OrdinalEncoder) or \
             cast it (cast_columns) first",
            col.dtype()
        );
    }
    Ok(col.cast(&DataType::Float64)?)
}

/// Mean and population variance of the present (non-null, non-NaN) values, two passes.
fn mean_and_variance(train: &DataFrame, name: &str, who: &str) -> Result<(f64, f64, usize)> {
    let col =
        float_column(train, name).with_context(|| format!("{who} cannot fit column {name:?}"))?;
    let values = col.f64()?;
    if !values.is_nan().any() {
        // No NaN: polars' null-skipping kernels, much faster than iterating options.
        let n = values.len() - values.null_count();
        if n == 0 {
            bail!("{who}: column {name:?} has no values in the training rows (all missing)");
        }
        let m = values.mean().unwrap_or(f64::NAN);
        let var = values.var(0).unwrap_or(0.0);
        return Ok((m, var, n));
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for x in values.iter().flatten().filter(|x| !x.is_nan()) {
        sum += x;
        n += 1;
    }
    if n == 0 {
        bail!("{who}: column {name:?} has no values in the training rows (all missing)");
    }
    let m = sum / n as f64;
    let var = values
        .iter()
        .flatten()
        .filter(|x| !x.is_nan())
        .map(|x| (x - m) * (x - m))
        .sum::<f64>()
        / n as f64;
    Ok((m, var, n))
}

/// The non-missing values of a numeric column, or an error naming it.
fn present_values(train: &DataFrame, name: &str, who: &str) -> Result<Vec<f64>> {
    let values: Vec<f64> = f64_options(train, name)
        .with_context(|| format!("{who} cannot fit column {name:?}"))?
        .into_iter()
        .flatten()
        .collect();
    if values.is_empty() {
        bail!("{who}: column {name:?} has no values in the training rows (all missing)");
    }
    Ok(values)
}

/// scikit-learn's `_handle_zeros_in_scale`: a zero scale becomes 1 (constant columns stay 0).
fn nonzero_scale(scale: f64) -> f64 {
    if scale < 10.0 * f64::EPSILON {
        1.0
    } else {
        scale
    }
}

/// The q-th quantile (0..=1) of sorted values, with numpy's linear interpolation.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let index = q * (sorted.len() - 1) as f64;
    let lo = index.floor() as usize;
    let hi = index.ceil() as usize;
    let (a, b, t) = (sorted[lo], sorted[hi], index - lo as f64);
    // numpy's _lerp: interpolate from the nearer end, so t = 1 gives b exactly.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

pub(crate) fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

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
    /// Fitted per column: (mean, scale); empty until `fit`.
    #[serde(with = "super::exact")]
    pub mean: Vec<f64>,
    #[serde(with = "super::exact")]
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// A scaler for the named columns (fit learns their mean and scale).
    ///
    /// ```
    /// let scaler = trainbook::prelude::StandardScaler::new(&["a", "b"]);
    /// assert!(scaler.mean.is_empty());
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> StandardScaler {
        StandardScaler {
            columns: owned(columns),
            mean: vec![],
            scale: vec![],
        }
    }
}

impl Transformer for StandardScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
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
        if self.mean.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
        map_columns(frame, &self.columns, |i, x| {
            (x - self.mean[i]) / self.scale[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        if self.mean.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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

fn fitted_title(name: &str, fitted: bool) -> String {
    if fitted {
        format!("{name} (fitted)")
    } else {
        format!("{name} (not fitted)")
    }
}

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
    #[serde(with = "super::exact")]
    pub range: (f64, f64),
    /// Fitted per column: x * scale + offset.
    #[serde(with = "super::exact")]
    pub scale: Vec<f64>,
    #[serde(with = "super::exact")]
    pub offset: Vec<f64>,
    #[serde(with = "super::exact")]
    pub data_min: Vec<f64>,
    #[serde(with = "super::exact")]
    pub data_max: Vec<f64>,
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
        }
    }

    /// Scales to [low, high] instead of [0, 1].
    ///
    /// ```
    /// let scaler = trainbook::prelude::MinMaxScaler::new(&["x"]).with_range(-1.0, 1.0).unwrap();
    /// assert_eq!(scaler.range, (-1.0, 1.0));
    /// ```
    pub fn with_range(mut self, low: f64, high: f64) -> Result<MinMaxScaler> {
        if low >= high {
            bail!("MinMaxScaler: the range must have low < high, got ({low}, {high})");
        }
        self.range = (low, high);
        Ok(self)
    }
}

impl Transformer for MinMaxScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
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
        if self.scale.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
        map_columns(frame, &self.columns, |i, x| {
            x * self.scale[i] + self.offset[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        if self.scale.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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

/// Scales by median and interquartile range, so outliers do not set the scale.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [1.0, 2.0, 3.0, 4.0, 100.0]).unwrap());
/// let mut scaler = RobustScaler::new(&["x"]);
/// scaler.fit(&train).unwrap();
/// assert_eq!((scaler.center[0], scaler.scale[0]), (3.0, 2.0));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RobustScaler {
    pub columns: Vec<String>,
    /// Quantiles (in 0..1) whose distance is the scale; (0.25, 0.75) by default.
    #[serde(with = "super::exact")]
    pub quantile_range: (f64, f64),
    #[serde(with = "super::exact")]
    pub center: Vec<f64>,
    #[serde(with = "super::exact")]
    pub scale: Vec<f64>,
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
        }
    }
}

impl Transformer for RobustScaler {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
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
        if self.center.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
        map_columns(frame, &self.columns, |i, x| {
            (x - self.center[i]) / self.scale[i]
        })
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        if self.center.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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

/// How an imputer picks the value it fills in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ImputeStrategy {
    Mean,
    Median,
    /// The most frequent value (the smallest of tied ones); numbers or text.
    MostFrequent,
    Constant(#[serde(with = "super::exact")] f64),
    ConstantText(String),
}

/// A fill value learned per column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FillValue {
    Number(#[serde(with = "super::exact")] f64),
    Text(String),
}

/// Fills missing values with a statistic of the training rows, optionally adding a
/// `<column>_missing` indicator (1.0 where the value was missing) for each column that had
/// missing values in training, as scikit-learn's `add_indicator`.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("x" => [Some(1.0), None, Some(3.0)]).unwrap());
/// let filled = Imputer::new(&["x"], ImputeStrategy::Mean).with_indicator().fit_transform(&train).unwrap();
/// assert_eq!(filled.column("x").unwrap().f64().unwrap().get(1), Some(2.0));
/// assert_eq!(filled.column("x_missing").unwrap().f64().unwrap().get(1), Some(1.0));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Imputer {
    pub columns: Vec<String>,
    pub strategy: ImputeStrategy,
    pub add_indicator: bool,
    /// Fitted: the value filled into each column.
    pub fill: Vec<FillValue>,
    /// Fitted: the columns that get an indicator.
    pub indicator_columns: Vec<String>,
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
        }
    }

    /// Adds a `<column>_missing` column for each column with missing training values.
    pub fn with_indicator(mut self) -> Imputer {
        self.add_indicator = true;
        self
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
        if self.fill.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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
fn fit_categories(train: &DataFrame, name: &str, who: &str) -> Result<Vec<String>> {
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
fn category_codes(
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

fn unknown_error(
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

/// One 0/1 column per category, replacing each encoded column in place.
///
/// ```
/// use trainbook::prelude::*;
/// let train = TrainFrame::assume_training(df!("color" => ["red", "blue", "red"]).unwrap());
/// let mut encoder = OneHotEncoder::new(&["color"]);
/// let encoded = encoder.fit_transform(&train).unwrap();
/// assert_eq!(encoded.get_column_names(), ["color_blue", "color_red"]);
/// let test = df!("color" => ["green"]).unwrap();
/// assert!(encoder.transform(&test).unwrap_err().to_string().contains("\"green\""));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneHotEncoder {
    pub columns: Vec<String>,
    pub handle_unknown: HandleUnknown,
    /// Fitted: the sorted categories of each column.
    pub categories: Vec<Vec<String>>,
}

impl OneHotEncoder {
    /// An encoder for the named columns; unseen categories are an error unless
    /// [`handle_unknown`](OneHotEncoder::handle_unknown) says otherwise.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(OneHotEncoder::new(&["color"]).handle_unknown, HandleUnknown::Error);
    /// ```
    pub fn new(columns: &[impl AsRef<str>]) -> OneHotEncoder {
        OneHotEncoder {
            columns: owned(columns),
            handle_unknown: HandleUnknown::Error,
            categories: vec![],
        }
    }

    /// What to do with categories not seen in training.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let train = TrainFrame::assume_training(df!("c" => ["a", "b"]).unwrap());
    /// let mut encoder = OneHotEncoder::new(&["c"]).handle_unknown(HandleUnknown::Other);
    /// encoder.fit(&train).unwrap();
    /// let out = encoder.transform(&df!("c" => ["z"]).unwrap()).unwrap();
    /// assert_eq!(out.column("c_(other)").unwrap().f64().unwrap().get(0), Some(1.0));
    /// ```
    pub fn handle_unknown(mut self, how: HandleUnknown) -> OneHotEncoder {
        self.handle_unknown = how;
        self
    }

    /// The output column names for input column i.
    fn output_names(&self, i: usize) -> Vec<String> {
        let name = &self.columns[i];
        let mut names: Vec<String> = self.categories[i]
            .iter()
            .map(|c| format!("{name}_{c}"))
            .collect();
        if self.handle_unknown == HandleUnknown::Other {
            names.push(format!("{name}_(other)"));
        }
        names
    }
}

impl Transformer for OneHotEncoder {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        self.categories = self
            .columns
            .iter()
            .map(|name| fit_categories(train, name, "OneHotEncoder"))
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        if self.categories.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
        require(frame, &self.columns)?;
        let mut encoded: HashMap<&str, Vec<Column>> = HashMap::default();
        for (i, name) in self.columns.iter().enumerate() {
            let categories = &self.categories[i];
            let codes = category_codes(
                frame,
                name,
                categories,
                self.handle_unknown,
                "OneHotEncoder",
            )?;
            let other =
                (self.handle_unknown == HandleUnknown::Other).then_some(categories.len() as u32);
            // One sequential pass per output column: cheaper than scattered writes.
            let columns = self
                .output_names(i)
                .into_iter()
                .enumerate()
                .map(|(k, out_name)| {
                    let k = k as u32;
                    let values: Vec<f64> = codes
                        .iter()
                        .map(|&c| if c.or(other) == Some(k) { 1.0 } else { 0.0 })
                        .collect();
                    Column::new(out_name.as_str().into(), values)
                })
                .collect();
            encoded.insert(name.as_str(), columns);
        }
        let mut result = Vec::with_capacity(frame.width() + 16);
        for col in frame.columns() {
            match encoded.remove(col.name().as_str()) {
                Some(columns) => result.extend(columns),
                None => result.push(col.clone()),
            }
        }
        Ok(DataFrame::new_infer_height(result)?)
    }

    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        if self.categories.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
        let mut out = frame.clone();
        for (i, name) in self.columns.iter().enumerate() {
            let names = self.output_names(i);
            let indicators = names
                .iter()
                .map(|n| super::columns::f64_values(frame, n))
                .collect::<Result<Vec<_>>>()?;
            let values: StringChunked = (0..frame.height())
                .map(|row| {
                    let k = (0..self.categories[i].len()).find(|&k| indicators[k][row] == 1.0)?;
                    Some(self.categories[i][k].clone())
                })
                .collect();
            let position = frame
                .get_column_index(&names[0])
                .expect("checked by f64_values above");
            out = out.drop_many(names.iter().map(String::as_str));
            out.insert_column(
                position.min(out.width()),
                values.with_name(name.as_str().into()).into_column(),
            )?;
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "OneHotEncoder"
    }
}

impl Render for OneHotEncoder {
    fn mime_bundle(&self) -> MimeBundle {
        let rows = self
            .columns
            .iter()
            .zip(&self.categories)
            .map(|(c, cats)| vec![c.clone(), cats.len().to_string(), cats.join(", ")])
            .collect();
        params_bundle(
            &fitted_title(self.name(), !self.categories.is_empty()),
            &["column", "categories", "values"],
            rows,
        )
    }
}

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
    pub categories: Vec<Vec<String>>,
}

impl OrdinalEncoder {
    /// An encoder for the named columns.
    ///
    /// ```
    /// assert!(trainbook::prelude::OrdinalEncoder::new(&["size"]).categories.is_empty());
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
        if self.categories.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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
        if self.categories.len() != self.columns.len() {
            return Err(not_fitted(self.name()));
        }
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

/// A step of a [`Pipeline`]: one of the prelude's transformers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Step {
    StandardScaler(StandardScaler),
    MinMaxScaler(MinMaxScaler),
    RobustScaler(RobustScaler),
    Imputer(Imputer),
    OneHotEncoder(OneHotEncoder),
    OrdinalEncoder(OrdinalEncoder),
    OutlierClipper(OutlierClipper),
}

macro_rules! steps {
    ($($t:ident),*) => {
        $(impl From<$t> for Step {
            fn from(t: $t) -> Step {
                Step::$t(t)
            }
        })*
        impl Step {
            fn inner(&self) -> &dyn Transformer {
                match self { $(Step::$t(t) => t,)* }
            }
            fn inner_mut(&mut self) -> &mut dyn Transformer {
                match self { $(Step::$t(t) => t,)* }
            }
            fn bundle(&self) -> MimeBundle {
                match self { $(Step::$t(t) => t.mime_bundle(),)* }
            }
        }
    };
}
steps!(
    StandardScaler,
    MinMaxScaler,
    RobustScaler,
    Imputer,
    OneHotEncoder,
    OrdinalEncoder,
    OutlierClipper
);

/// Transformers applied in order; fitting fits each on the output of the ones before.
/// [`Pipeline::fit_folds`] refits a fresh copy inside every cross-validation fold, so no
/// fold's test rows ever reach the statistics it is scaled with.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let features = iris.feature_names.clone();
/// let pipeline = Pipeline::new().then(StandardScaler::new(&features));
/// let folds = StratifiedKFold::new(5).split(&iris.frame, "target").unwrap();
/// let prepared = pipeline.fit_folds(&folds).unwrap();
/// assert_eq!(prepared.len(), 5);
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Pipeline {
    pub steps: Vec<Step>,
}

/// A fold after its own pipeline was fitted on its training rows.
#[derive(Clone, Debug)]
pub struct PreparedFold {
    pub index: usize,
    pub pipeline: Pipeline,
    pub train: TrainFrame,
    pub test: TestFrame,
    pub train_rows: Vec<usize>,
    pub test_rows: Vec<usize>,
}

impl Pipeline {
    /// An empty pipeline (transforms nothing until steps are added).
    ///
    /// ```
    /// assert!(trainbook::prelude::Pipeline::new().steps.is_empty());
    /// ```
    pub fn new() -> Pipeline {
        Pipeline { steps: vec![] }
    }

    /// Adds a step at the end.
    pub fn then(mut self, step: impl Into<Step>) -> Pipeline {
        self.steps.push(step.into());
        self
    }

    /// A copy fitted on one fold's training rows, and both sides transformed by it.
    pub fn fit_fold(&self, fold: &Fold) -> Result<PreparedFold> {
        let mut pipeline = self.clone();
        let train = pipeline
            .fit_transform(&fold.train)
            .with_context(|| format!("fold {}", fold.index))?;
        let test = pipeline.transform_test(&fold.test)?;
        Ok(PreparedFold {
            index: fold.index,
            pipeline,
            train,
            test,
            train_rows: fold.train_rows.clone(),
            test_rows: fold.test_rows.clone(),
        })
    }

    /// [`fit_fold`](Pipeline::fit_fold) for every fold.
    pub fn fit_folds(&self, folds: &[Fold]) -> Result<Vec<PreparedFold>> {
        folds.iter().map(|fold| self.fit_fold(fold)).collect()
    }
}

impl Transformer for Pipeline {
    fn fit(&mut self, train: &TrainFrame) -> Result<()> {
        self.fit_transform(train).map(|_| ())
    }
    fn fit_transform(&mut self, train: &TrainFrame) -> Result<TrainFrame> {
        let mut current = train.clone();
        for (i, step) in self.steps.iter_mut().enumerate() {
            current = step
                .inner_mut()
                .fit_transform(&current)
                .with_context(|| format!("pipeline step {i} ({})", step.inner().name()))?;
        }
        Ok(current)
    }
    fn transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        let mut current = frame.clone();
        for (i, step) in self.steps.iter().enumerate() {
            current = step
                .inner()
                .transform(&current)
                .with_context(|| format!("pipeline step {i} ({})", step.inner().name()))?;
        }
        Ok(current)
    }
    fn inverse_transform(&self, frame: &DataFrame) -> Result<DataFrame> {
        let mut current = frame.clone();
        for step in self.steps.iter().rev() {
            current = step.inner().inverse_transform(&current)?;
        }
        Ok(current)
    }
    fn name(&self) -> &'static str {
        "Pipeline"
    }
}

impl Render for Pipeline {
    fn mime_bundle(&self) -> MimeBundle {
        let parts: Vec<MimeBundle> = self.steps.iter().map(Step::bundle).collect();
        let text = parts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "step {i}: {}",
                    b.data
                        .get("text/plain")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let html = parts
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "<div><b>step {i}</b>{}</div>",
                    b.data
                        .get("text/html")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                )
            })
            .collect::<String>();
        MimeBundle::text(text).with("text/html", html)
    }
}

//! Classical models on a dense [`Matrix`]: linear and logistic regression, SVMs, decision
//! trees and random forests, k-means, hierarchical clustering, DBSCAN.

mod dbscan;
mod hierarchical;
mod kmeans;
mod linear;
mod matrix;
mod pipeline_model;
pub(crate) mod solve;
mod svm;
mod tree;

pub use dbscan::Dbscan;
pub use hierarchical::{AgglomerativeClustering, Linkage, Merge};
pub use kmeans::KMeans;
pub use linear::{LinearRegression, LogisticRegression};
pub use matrix::Matrix;
pub use pipeline_model::{Imputed, PipelineModel, Standardized};
pub use svm::{Gamma, Svc, SvmKernel};
pub use tree::{
    DecisionTreeClassifier, DecisionTreeRegressor, MaxFeatures, RandomForestClassifier,
    RandomForestRegressor,
};

use anyhow::{bail, Result};

/// What every clustering model does: learn from samples, label them (`-1` is noise).
pub trait Clusterer {
    fn fit(&mut self, x: &Matrix) -> Result<()>;
    /// `fit`, then the cluster of each sample.
    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>>;
}

/// What every classifier does, so that cross-validation and tuning work on any of them.
/// Labels are class indices 0..k. The same three lines (split, fit, score) for a forest, an
/// SVM, an MLP and a pipeline:
///
/// ```
/// use trainbook::prelude::*;
/// let digits = load_digits();
/// let (x, y) = (Matrix::features(&digits).unwrap(), digits.y_classes().unwrap());
/// let models: Vec<Box<dyn Classifier>> = vec![
///     Box::new(RandomForestClassifier::new(100)),
///     Box::new(Standardized::new(Svc::rbf())),
///     Box::new(Standardized::new(NeuralClassifier::mlp(&[64]))),
///     Box::new(Pipeline::new().then(MinMaxScaler::all()).then_model(LogisticRegression::new())),
/// ];
/// for mut model in models {
///     let (x_train, x_test, y_train, y_test) = TrainTestSplit::new(0.25).stratified_xy(&x, &y).unwrap();
///     model.fit(&x_train, &y_train).unwrap();
///     assert!(model.score(&x_test, &y_test).unwrap() > 0.9, "{}", model.name());
/// }
/// ```
pub trait Classifier: Send + Sync {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()>;
    fn predict(&self, x: &Matrix) -> Result<Vec<usize>>;
    /// One row per sample, one column per class.
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix>;
    /// Accuracy on (x, y).
    fn score(&self, x: &Matrix, y: &[usize]) -> Result<f64> {
        crate::metrics::accuracy_score(y, &self.predict(x)?)
    }
    /// A copy with the same settings and nothing learned, for cross-validation.
    fn unfitted(&self) -> Box<dyn Classifier>;
    /// The model and its main settings, for reports.
    fn name(&self) -> String;
}

/// What every regressor does: fit real targets, predict them, score by R². The same three
/// lines (split, fit, score) for a linear model, a forest and a pipeline:
///
/// ```
/// use trainbook::prelude::*;
/// let diabetes = load_diabetes();
/// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
/// let models: Vec<Box<dyn Regressor>> = vec![
///     Box::new(LinearRegression::new()),
///     Box::new(RandomForestRegressor::new(100)),
///     Box::new(Standardized::new(LinearRegression::ridge(1.0))),
/// ];
/// for mut model in models {
///     let (x_train, x_test, y_train, y_test) = TrainTestSplit::new(0.25).split_xy(&x, &y).unwrap();
///     model.fit(&x_train, &y_train).unwrap();
///     assert!(model.score(&x_test, &y_test).unwrap() > 0.3, "{}", model.name());
/// }
/// ```
pub trait Regressor: Send + Sync {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()>;
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>>;
    /// R² on (x, y), as scikit-learn's `score`.
    fn score(&self, x: &Matrix, y: &[f64]) -> Result<f64> {
        crate::metrics::r2_score(y, &self.predict(x)?)
    }
    /// A copy with the same settings and nothing learned, for cross-validation.
    fn unfitted(&self) -> Box<dyn Regressor>;
    /// The model and its main settings, for reports.
    fn name(&self) -> String;
}

// A boxed model is a model, so a pipeline ending in a model can hold what `unfitted` returns.
impl Classifier for Box<dyn Classifier> {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        (**self).fit(x, y)
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        (**self).predict(x)
    }
    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        (**self).predict_proba(x)
    }
    fn score(&self, x: &Matrix, y: &[usize]) -> Result<f64> {
        (**self).score(x, y)
    }
    fn unfitted(&self) -> Box<dyn Classifier> {
        (**self).unfitted()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

impl Regressor for Box<dyn Regressor> {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        (**self).fit(x, y)
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        (**self).predict(x)
    }
    fn score(&self, x: &Matrix, y: &[f64]) -> Result<f64> {
        (**self).score(x, y)
    }
    fn unfitted(&self) -> Box<dyn Regressor> {
        (**self).unfitted()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

/// Checks x has rows, finite values and as many rows as `labels`.
fn check_rows(x: &Matrix, labels: usize, who: &str) -> Result<()> {
    if x.rows() != labels {
        bail!(
            "{who}: x has {} rows but y has {labels} labels; pass one label per row",
            x.rows(),
        );
    }
    if labels == 0 {
        bail!("{who}: no training samples");
    }
    if let Some(v) = x.as_slice().iter().find(|v| !v.is_finite()) {
        bail!("{who} got a non-finite value ({v}); fill or drop missing values first");
    }
    Ok(())
}

/// Checks x and class labels pair up, returns the number of classes.
pub(crate) fn check_xy(x: &Matrix, y: &[usize], who: &str) -> Result<usize> {
    check_rows(x, y.len(), who)?;
    Ok(y.iter().max().map_or(0, |m| m + 1))
}

/// Checks x and real targets pair up and the targets are finite.
pub(crate) fn check_xy_values(x: &Matrix, y: &[f64], who: &str) -> Result<()> {
    check_rows(x, y.len(), who)?;
    if let Some(v) = y.iter().find(|v| !v.is_finite()) {
        bail!("{who} got a non-finite target ({v}); drop those rows first");
    }
    Ok(())
}

/// The index of the largest value (the first on ties).
pub(crate) fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

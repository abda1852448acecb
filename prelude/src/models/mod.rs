//! Classical models on a dense [`Matrix`]: decision trees and random forests, k-means, DBSCAN.

mod dbscan;
mod kmeans;
mod matrix;
mod tree;

pub use dbscan::Dbscan;
pub use kmeans::KMeans;
pub use matrix::Matrix;
pub use tree::{DecisionTreeClassifier, MaxFeatures, RandomForestClassifier};

use anyhow::Result;

/// What every clustering model does: learn from samples, label them (`-1` is noise).
pub trait Clusterer {
    fn fit(&mut self, x: &Matrix) -> Result<()>;
    /// `fit`, then the cluster of each sample.
    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>>;
}

/// What every classifier does, so that cross-validation and tuning work on any of them.
/// Labels are class indices 0..k.
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

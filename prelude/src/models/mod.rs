//! Classical models on a dense [`Matrix`]: clustering so far (k-means, DBSCAN).

mod dbscan;
mod kmeans;
mod matrix;

pub use dbscan::Dbscan;
pub use kmeans::KMeans;
pub use matrix::Matrix;

use anyhow::Result;

/// What every clustering model does: learn from samples, label them (`-1` is noise).
pub trait Clusterer {
    fn fit(&mut self, x: &Matrix) -> Result<()>;
    /// `fit`, then the cluster of each sample.
    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>>;
}

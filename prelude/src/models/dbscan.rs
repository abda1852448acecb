//! DBSCAN: density-based clusters of any shape, with noise.

use super::matrix::{squared_distance, Matrix};
use super::Clusterer;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// DBSCAN with Euclidean distance. A sample with at least `min_samples` samples (itself
/// included) within `eps` is a core sample; clusters grow from core samples; samples reached
/// by no cluster are noise, labelled -1. Same labels as scikit-learn's (clusters numbered in
/// order of their first core sample). Neighbourhoods are found by a sweep along the first feature
/// (all cores), which suits notebook-sized data (tens of thousands of samples).
///
/// ```
/// use trainbook::prelude::*;
/// let moons = make_moons(400, 0.05, 0).unwrap();
/// let x = Matrix::features(&moons).unwrap();
/// let labels = Dbscan::new(0.2, 5).fit_predict(&x).unwrap();
/// let truth: Vec<i64> = moons.y_classes().unwrap().iter().map(|&c| c as i64).collect();
/// assert!(adjusted_rand_score(&truth, &labels).unwrap() > 0.99);
/// ```
#[derive(Clone, Debug)]
pub struct Dbscan {
    pub eps: f64,
    pub min_samples: usize,
    /// Fitted: the label of each training sample (-1 for noise).
    labels: Vec<i64>,
    /// Fitted: which samples are core samples.
    core: Vec<bool>,
}

impl Dbscan {
    /// Neighbourhoods of radius `eps`; a core sample has `min_samples` within it (itself
    /// included).
    ///
    /// ```
    /// let dbscan = trainbook::prelude::Dbscan::new(0.3, 5);
    /// assert_eq!((dbscan.eps, dbscan.min_samples), (0.3, 5));
    /// ```
    pub fn new(eps: f64, min_samples: usize) -> Dbscan {
        Dbscan {
            eps,
            min_samples,
            labels: vec![],
            core: vec![],
        }
    }

    /// The number of clusters found (noise excluded).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![5.0], vec![5.1], vec![20.0]]).unwrap();
    /// let mut dbscan = Dbscan::new(0.5, 2);
    /// dbscan.fit(&x).unwrap();
    /// assert_eq!((dbscan.n_clusters(), dbscan.labels().unwrap()[4]), (2, -1));
    /// ```
    pub fn n_clusters(&self) -> usize {
        self.labels
            .iter()
            .copied()
            .max()
            .map_or(0, |m| (m + 1).max(0) as usize)
    }

    /// The cluster of each training sample, -1 for noise (scikit-learn's `labels_`); an error
    /// before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![9.0]]).unwrap();
    /// let mut dbscan = Dbscan::new(0.5, 2);
    /// assert!(dbscan.labels().is_err());
    /// dbscan.fit(&x).unwrap();
    /// assert_eq!(dbscan.labels().unwrap(), [0, 0, -1]);
    /// ```
    pub fn labels(&self) -> Result<&[i64]> {
        if self.labels.is_empty() {
            bail!("Dbscan is not fitted yet; call fit(&x) first");
        }
        Ok(&self.labels)
    }

    /// Whether each training sample is a core sample; an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![0.2], vec![9.0]]).unwrap();
    /// let mut dbscan = Dbscan::new(0.15, 2);
    /// dbscan.fit(&x).unwrap();
    /// assert_eq!(dbscan.core_samples().unwrap(), [true, true, true, false]);
    /// ```
    pub fn core_samples(&self) -> Result<&[bool]> {
        self.labels()?;
        Ok(&self.core)
    }
}

impl Clusterer for Dbscan {
    fn fit(&mut self, x: &Matrix) -> Result<()> {
        if self.eps.is_nan() || self.eps <= 0.0 {
            bail!("DBSCAN needs eps > 0, got {}", self.eps);
        }
        if self.min_samples == 0 {
            bail!("DBSCAN needs min_samples >= 1");
        }
        if let Some(v) = x.as_slice().iter().find(|v| !v.is_finite()) {
            bail!("DBSCAN got a non-finite value ({v}); fill or drop missing values first");
        }
        let n = x.rows();
        let eps2 = self.eps * self.eps;
        // Sweep on the first feature: only samples within eps of it there can be neighbours.
        let mut order: Vec<usize> = (0..n).collect();
        let first = |i: usize| if x.cols() == 0 { 0.0 } else { x.row(i)[0] };
        order.sort_by(|&a, &b| first(a).total_cmp(&first(b)));
        let keys: Vec<f64> = order.iter().map(|&i| first(i)).collect();
        let neighbours: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let row = x.row(i);
                let lo = keys.partition_point(|&v| v < first(i) - self.eps);
                let hi = keys.partition_point(|&v| v <= first(i) + self.eps);
                let mut found: Vec<u32> = order[lo..hi]
                    .iter()
                    .filter(|&&j| squared_distance(row, x.row(j)) <= eps2)
                    .map(|&j| j as u32)
                    .collect();
                found.sort_unstable();
                found
            })
            .collect();
        let core: Vec<bool> = neighbours
            .iter()
            .map(|nb| nb.len() >= self.min_samples)
            .collect();
        let mut labels = vec![-1i64; n];
        let mut next_label = 0;
        let mut stack = Vec::new();
        for start in 0..n {
            if labels[start] != -1 || !core[start] {
                continue;
            }
            labels[start] = next_label;
            stack.push(start);
            while let Some(p) = stack.pop() {
                if !core[p] {
                    continue;
                }
                for &q in &neighbours[p] {
                    let q = q as usize;
                    if labels[q] == -1 {
                        labels[q] = next_label;
                        stack.push(q);
                    }
                }
            }
            next_label += 1;
        }
        self.labels = labels;
        self.core = core;
        Ok(())
    }

    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>> {
        self.fit(x)?;
        Ok(self.labels.clone())
    }
}

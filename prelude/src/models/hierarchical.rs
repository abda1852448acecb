//! Agglomerative (bottom-up) hierarchical clustering: every sample starts alone and the two
//! closest clusters merge until one remains. The nearest-neighbour-chain algorithm does it in
//! O(n²) time for the ward, complete, average and single linkages (scipy's `linkage`).

use super::{Clusterer, Matrix};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// How the distance between two clusters is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    /// The merge that least increases the within-cluster variance (compact, even clusters;
    /// scikit-learn's default).
    Ward,
    /// The largest distance between their members.
    Complete,
    /// The mean distance between their members.
    Average,
    /// The smallest distance between their members (chains through thin bridges).
    Single,
}

/// One merge, in scipy's linkage-matrix form: clusters `left` and `right` (ids below n are
/// samples, n + i is the cluster made by merge i) joined at `distance` into `size` samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Merge {
    pub left: usize,
    pub right: usize,
    pub distance: f64,
    pub size: usize,
}

/// Agglomerative clustering cut into `n_clusters` (scikit-learn's `AgglomerativeClustering`
/// with Euclidean distances); the full merge tree stays available for a dendrogram.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let x = Matrix::features(&iris).unwrap();
/// let truth: Vec<i64> = iris.y_classes().unwrap().iter().map(|&c| c as i64).collect();
/// let mut model = AgglomerativeClustering::new(3);
/// let labels = model.fit_predict(&x).unwrap();
/// assert!(adjusted_rand_score(&truth, &labels).unwrap() > 0.7);
/// assert_eq!(model.merges().len(), 149);
/// ```
#[derive(Clone, Debug)]
pub struct AgglomerativeClustering {
    pub n_clusters: usize,
    pub linkage: Linkage,
    merges: Vec<Merge>,
    labels: Vec<i64>,
}

impl AgglomerativeClustering {
    /// Ward linkage, cut into `n_clusters`.
    pub fn new(n_clusters: usize) -> AgglomerativeClustering {
        AgglomerativeClustering {
            n_clusters,
            linkage: Linkage::Ward,
            merges: vec![],
            labels: vec![],
        }
    }

    /// The cluster distance to merge by.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = AgglomerativeClustering::new(3).linkage(Linkage::Average);
    /// assert_eq!(model.linkage, Linkage::Average);
    /// ```
    pub fn linkage(mut self, linkage: Linkage) -> Self {
        self.linkage = linkage;
        self
    }

    /// The n - 1 merges after `fit`, in increasing distance (scipy's linkage matrix).
    pub fn merges(&self) -> &[Merge] {
        &self.merges
    }

    /// The labels the last `fit` gave (clusters numbered by their first sample).
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The labels for another number of clusters, from the same tree (no refit).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![5.0], vec![5.1], vec![9.0]]).unwrap();
    /// let mut model = AgglomerativeClustering::new(2);
    /// model.fit(&x).unwrap();
    /// assert_eq!(model.cut(3).unwrap(), vec![0, 0, 1, 1, 2]);
    /// ```
    pub fn cut(&self, n_clusters: usize) -> Result<Vec<i64>> {
        let n = self.merges.len() + 1;
        if self.merges.is_empty() && self.labels.is_empty() {
            bail!("the clustering is not fitted yet; call fit(&x) first");
        }
        if n_clusters == 0 || n_clusters > n {
            bail!("can cut {n} samples into 1 to {n} clusters, not {n_clusters}");
        }
        let mut parent: Vec<usize> = (0..2 * n - 1).collect();
        for (i, merge) in self.merges[..n - n_clusters].iter().enumerate() {
            parent[merge.left] = n + i;
            parent[merge.right] = n + i;
        }
        let root = |mut c: usize| {
            while parent[c] != c {
                c = parent[c];
            }
            c
        };
        let mut ids = std::collections::HashMap::new();
        Ok((0..n)
            .map(|s| {
                let next = ids.len() as i64;
                *ids.entry(root(s)).or_insert(next)
            })
            .collect())
    }
}

impl Clusterer for AgglomerativeClustering {
    fn fit(&mut self, x: &Matrix) -> Result<()> {
        let n = x.rows();
        if n == 0 {
            bail!("AgglomerativeClustering: no samples");
        }
        if self.n_clusters == 0 || self.n_clusters > n {
            bail!(
                "AgglomerativeClustering: n_clusters must be 1 to {n} (the sample count), got {}",
                self.n_clusters
            );
        }
        if let Some(v) = x.as_slice().iter().find(|v| !v.is_finite()) {
            bail!("AgglomerativeClustering got a non-finite value ({v}); fill or drop missing values first");
        }
        self.merges = linkage_tree(x, self.linkage);
        self.labels = vec![0; n];
        self.labels = self.cut(self.n_clusters)?;
        Ok(())
    }

    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>> {
        self.fit(x)?;
        Ok(self.labels.clone())
    }
}

/// The merges by the nearest-neighbour chain, then sorted by distance and renumbered as scipy.
fn linkage_tree(x: &Matrix, linkage: Linkage) -> Vec<Merge> {
    let n = x.rows();
    // The full square matrix (not the condensed half): the chain scans whole rows, and
    // contiguous rows make that scan fast. Rows are filled in parallel.
    let mut distances = vec![0.0f64; n * n];
    distances
        .par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            for (j, d) in row.iter_mut().enumerate() {
                *d = super::matrix::squared_distance(x.row(i), x.row(j)).sqrt();
            }
        });
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    // (slot a, slot b, distance); the merged cluster lives on in slot b.
    let mut raw: Vec<(usize, usize, f64)> = Vec::with_capacity(n.saturating_sub(1));
    while raw.len() + 1 < n {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).expect("two clusters remain"));
        }
        let (a, b, distance) = loop {
            let top = *chain.last().expect("chain is not empty");
            // Prefer the previous chain element on ties, so the chain cannot cycle.
            let (mut best, mut best_distance) = match chain.len() {
                len if len >= 2 => (chain[len - 2], distances[top * n + chain[len - 2]]),
                _ => (usize::MAX, f64::INFINITY),
            };
            let row = &distances[top * n..(top + 1) * n];
            for (i, (&is_active, &d)) in active.iter().zip(row).enumerate() {
                if is_active && i != top && d < best_distance {
                    best_distance = d;
                    best = i;
                }
            }
            if chain.len() >= 2 && best == chain[chain.len() - 2] {
                chain.truncate(chain.len() - 2);
                break (top, best, best_distance);
            }
            chain.push(best);
        };
        let (sa, sb) = (size[a] as f64, size[b] as f64);
        for (i, &is_active) in active.iter().enumerate() {
            if !is_active || i == a || i == b {
                continue;
            }
            let (da, db) = (distances[a * n + i], distances[b * n + i]);
            let si = size[i] as f64;
            let merged = match linkage {
                Linkage::Ward => (((sa + si) * da * da + (sb + si) * db * db
                    - si * distance * distance)
                    / (sa + sb + si))
                    .max(0.0)
                    .sqrt(),
                Linkage::Complete => da.max(db),
                Linkage::Average => (sa * da + sb * db) / (sa + sb),
                Linkage::Single => da.min(db),
            };
            distances[b * n + i] = merged;
            distances[i * n + b] = merged;
        }
        active[a] = false;
        size[b] += size[a];
        raw.push((a, b, distance));
    }
    // Renumber: sort by distance (stable), then name clusters as scipy does.
    raw.sort_by(|p, q| p.2.total_cmp(&q.2));
    let mut parent: Vec<usize> = (0..2 * n.max(1) - 1).collect();
    let mut cluster_size = vec![1usize; 2 * n.max(1) - 1];
    let find = |parent: &mut Vec<usize>, mut c: usize| {
        while parent[c] != c {
            parent[c] = parent[parent[c]];
            c = parent[c];
        }
        c
    };
    raw.iter()
        .enumerate()
        .map(|(i, &(a, b, distance))| {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            let id = n + i;
            parent[ra] = id;
            parent[rb] = id;
            cluster_size[id] = cluster_size[ra] + cluster_size[rb];
            Merge {
                left: ra.min(rb),
                right: ra.max(rb),
                distance,
                size: cluster_size[id],
            }
        })
        .collect()
}

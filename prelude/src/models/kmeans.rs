//! k-means clustering: k-means++ seeding, Lloyd iterations, the best of `n_init` runs (run in
//! parallel), scikit-learn's defaults and convergence rule.

use super::matrix::{squared_distance, Matrix};
use super::Clusterer;
use crate::display::{MimeBundle, Render};
use crate::random::Rng;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// k-means.
///
/// ```
/// use trainbook::prelude::*;
/// let blobs = make_blobs(300, 3, 2, 0.5, 0).unwrap();
/// let x = Matrix::features(&blobs).unwrap();
/// let mut kmeans = KMeans::new(3).seed(0);
/// let labels = kmeans.fit_predict(&x).unwrap();
/// let truth: Vec<i64> = blobs.y_classes().unwrap().iter().map(|&c| c as i64).collect();
/// assert!(adjusted_rand_score(&truth, &labels).unwrap() > 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct KMeans {
    pub n_clusters: usize,
    /// Independent runs; the one with the lowest inertia is kept (10 by default).
    pub n_init: usize,
    pub max_iter: usize,
    /// Convergence: stop when the centres move less than `tol` times the data's mean
    /// per-feature variance (scikit-learn's rule).
    pub tol: f64,
    pub seed: u64,
    /// Fitted: one centre per row.
    centers: Option<Matrix>,
    /// Fitted: the sum of squared distances of samples to their centre.
    inertia: f64,
    /// Fitted: Lloyd iterations of the kept run.
    n_iter: usize,
}

impl KMeans {
    /// k clusters, 10 runs, at most 300 iterations each, seed 0.
    pub fn new(n_clusters: usize) -> KMeans {
        KMeans {
            n_clusters,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            centers: None,
            inertia: f64::NAN,
            n_iter: 0,
        }
    }

    /// The seed of the k-means++ starts (0 by default); the same seed gives the same
    /// clusters.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::features(&make_blobs(60, 3, 2, 2.0, 0).unwrap()).unwrap();
    /// let a = KMeans::new(3).seed(7).fit_predict(&x).unwrap();
    /// assert_eq!(a, KMeans::new(3).seed(7).fit_predict(&x).unwrap());
    /// ```
    pub fn seed(mut self, seed: u64) -> KMeans {
        self.seed = seed;
        self
    }

    /// The number of independent runs; the one with the lowest inertia is kept.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(KMeans::new(3).n_init(1).n_init, 1);
    /// ```
    pub fn n_init(mut self, n_init: usize) -> KMeans {
        self.n_init = n_init;
        self
    }

    /// One centre per row, in cluster order (scikit-learn's `cluster_centers_`); an error
    /// before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![2.0], vec![10.0], vec![12.0]]).unwrap();
    /// let mut kmeans = KMeans::new(2);
    /// assert!(kmeans.centers().is_err());
    /// kmeans.fit(&x).unwrap();
    /// let mut centers = kmeans.centers().unwrap().as_slice().to_vec();
    /// centers.sort_by(f64::total_cmp);
    /// assert_eq!(centers, [1.0, 11.0]);
    /// ```
    pub fn centers(&self) -> Result<&Matrix> {
        self.centers
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("KMeans is not fitted yet; call fit(&x) first"))
    }

    /// The sum of squared distances of the training samples to their centre (scikit-learn's
    /// `inertia_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![2.0], vec![10.0], vec![12.0]]).unwrap();
    /// let mut kmeans = KMeans::new(2);
    /// kmeans.fit(&x).unwrap();
    /// assert_eq!(kmeans.inertia().unwrap(), 4.0);
    /// ```
    pub fn inertia(&self) -> Result<f64> {
        self.centers()?;
        Ok(self.inertia)
    }

    /// The Lloyd iterations of the kept run (scikit-learn's `n_iter_`); an error before `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![2.0], vec![10.0], vec![12.0]]).unwrap();
    /// let mut kmeans = KMeans::new(2);
    /// kmeans.fit(&x).unwrap();
    /// assert!(kmeans.n_iter().unwrap() >= 1);
    /// ```
    pub fn n_iter(&self) -> Result<usize> {
        self.centers()?;
        Ok(self.n_iter)
    }

    /// The nearest centre of each row of `x` (after `fit`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Matrix::from_rows(&[vec![0.0], vec![0.1], vec![10.0], vec![10.1]]).unwrap();
    /// let mut kmeans = KMeans::new(2);
    /// kmeans.fit(&x).unwrap();
    /// let new = Matrix::from_rows(&[vec![9.0]]).unwrap();
    /// assert_eq!(kmeans.predict(&new).unwrap()[0], kmeans.predict(&x).unwrap()[3]);
    /// ```
    pub fn predict(&self, x: &Matrix) -> Result<Vec<i64>> {
        let Some(centers) = &self.centers else {
            bail!("KMeans is not fitted yet; call fit(&x) first");
        };
        if x.cols() != centers.cols() {
            bail!(
                "KMeans was fitted on {} features, this data has {}",
                centers.cols(),
                x.cols()
            );
        }
        Ok(assign(x, centers.as_slice(), self.n_clusters)
            .0
            .into_iter()
            .map(|c| c as i64)
            .collect())
    }
}

fn nearest_center(row: &[f64], centers: &[f64], k: usize) -> (usize, f64) {
    let d = row.len();
    let mut best = (0, f64::INFINITY);
    for c in 0..k {
        let dist = squared_distance(row, &centers[c * d..(c + 1) * d]);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best
}

/// Nearest centre of every row and the inertia (rows in parallel).
fn assign(x: &Matrix, centers: &[f64], k: usize) -> (Vec<usize>, f64) {
    let nearest: Vec<(usize, f64)> = (0..x.rows())
        .into_par_iter()
        .with_min_len(256)
        .map(|i| nearest_center(x.row(i), centers, k))
        .collect();
    let inertia = nearest.iter().map(|n| n.1).sum();
    (nearest.into_iter().map(|n| n.0).collect(), inertia)
}

/// The same, sequential: inside a run, since the runs themselves go in parallel.
fn assign_sequential(x: &Matrix, centers: &[f64], k: usize) -> (Vec<usize>, f64) {
    let nearest: Vec<(usize, f64)> = (0..x.rows())
        .map(|i| nearest_center(x.row(i), centers, k))
        .collect();
    let inertia = nearest.iter().map(|n| n.1).sum();
    (nearest.into_iter().map(|n| n.0).collect(), inertia)
}

/// k-means++ seeding with scikit-learn's greedy variant: 2 + ln(k) candidates per step, the
/// one that lowers the total squared distance most wins.
fn kmeans_plus_plus(x: &Matrix, k: usize, rng: &mut Rng) -> Vec<f64> {
    let (n, d) = (x.rows(), x.cols());
    let trials = 2 + (k as f64).ln() as usize;
    let mut centers = Vec::with_capacity(k * d);
    centers.extend_from_slice(x.row(rng.below(n)));
    let mut closest: Vec<f64> = (0..n)
        .map(|i| squared_distance(x.row(i), &centers[..d]))
        .collect();
    for _ in 1..k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            // Sample a row with probability proportional to its squared distance.
            let mut target = rng.uniform() * total;
            let mut pick = n - 1;
            for (i, &w) in closest.iter().enumerate() {
                if target < w {
                    pick = i;
                    break;
                }
                target -= w;
            }
            let candidate = x.row(pick);
            let updated: Vec<f64> = (0..n)
                .map(|i| closest[i].min(squared_distance(x.row(i), candidate)))
                .collect();
            let potential: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|b| potential < b.0) {
                best = Some((potential, pick, updated));
            }
        }
        let (_, pick, updated) = best.expect("at least one trial");
        centers.extend_from_slice(x.row(pick));
        closest = updated;
    }
    centers
}

/// One run of Lloyd's algorithm: (centres, labels, inertia, iterations).
fn lloyd(x: &Matrix, k: usize, max_iter: usize, tol: f64, rng: &mut Rng) -> (Vec<f64>, f64, usize) {
    let (n, d) = (x.rows(), x.cols());
    let mut centers = kmeans_plus_plus(x, k, rng);
    let mut labels = vec![usize::MAX; n];
    let mut iterations = 0;
    for _ in 0..max_iter {
        iterations += 1;
        let (new_labels, _) = assign_sequential(x, &centers, k);
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (i, &c) in new_labels.iter().enumerate() {
            counts[c] += 1;
            for (s, v) in sums[c * d..(c + 1) * d].iter_mut().zip(x.row(i)) {
                *s += v;
            }
        }
        // An empty cluster takes the sample farthest from its centre, as scikit-learn does.
        for c in 0..k {
            if counts[c] == 0 {
                let far = (0..n)
                    .max_by(|&a, &b| {
                        let da = squared_distance(x.row(a), &centers[new_labels[a] * d..][..d]);
                        let db = squared_distance(x.row(b), &centers[new_labels[b] * d..][..d]);
                        da.total_cmp(&db)
                    })
                    .unwrap_or(0);
                sums[c * d..(c + 1) * d].copy_from_slice(x.row(far));
                counts[c] = 1;
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            for j in 0..d {
                let new = sums[c * d + j] / counts[c] as f64;
                shift += (new - centers[c * d + j]).powi(2);
                centers[c * d + j] = new;
            }
        }
        let unchanged = new_labels == labels;
        labels = new_labels;
        if unchanged || shift <= tol {
            break;
        }
    }
    let (_, inertia) = assign_sequential(x, &centers, k);
    (centers, inertia, iterations)
}

impl Clusterer for KMeans {
    fn fit(&mut self, x: &Matrix) -> Result<()> {
        let k = self.n_clusters;
        if k == 0 || x.rows() < k {
            bail!(
                "KMeans needs 1 <= n_clusters <= samples; got n_clusters = {k} for {} samples",
                x.rows()
            );
        }
        if self.n_init == 0 {
            bail!("KMeans needs n_init >= 1");
        }
        if let Some(v) = x.as_slice().iter().find(|v| !v.is_finite()) {
            bail!("KMeans got a non-finite value ({v}); fill or drop missing values first");
        }
        // scikit-learn scales tol by the mean per-feature variance.
        let (n, d) = (x.rows() as f64, x.cols());
        let mean_variance = (0..d)
            .map(|j| {
                let column: Vec<f64> = (0..x.rows()).map(|i| x.row(i)[j]).collect();
                let m = column.iter().sum::<f64>() / n;
                column.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n
            })
            .sum::<f64>()
            / d.max(1) as f64;
        let tol = self.tol * mean_variance;
        let base = Rng::new(self.seed);
        let runs: Vec<(Vec<f64>, f64, usize)> = (0..self.n_init)
            .into_par_iter()
            .map(|run| lloyd(x, k, self.max_iter, tol, &mut base.fork(run as u64)))
            .collect();
        let (centers, inertia, n_iter) = runs
            .into_iter()
            .reduce(|best, run| if run.1 < best.1 { run } else { best })
            .expect("n_init >= 1");
        self.centers = Some(Matrix::new(k, x.cols(), centers)?);
        self.inertia = inertia;
        self.n_iter = n_iter;
        Ok(())
    }

    fn fit_predict(&mut self, x: &Matrix) -> Result<Vec<i64>> {
        self.fit(x)?;
        self.predict(x)
    }
}

impl Render for KMeans {
    fn mime_bundle(&self) -> MimeBundle {
        let text = match &self.centers {
            Some(_) => format!(
                "KMeans(n_clusters={}, n_init={}): inertia {:.4}, {} iterations",
                self.n_clusters, self.n_init, self.inertia, self.n_iter
            ),
            None => format!(
                "KMeans(n_clusters={}, n_init={}): not fitted",
                self.n_clusters, self.n_init
            ),
        };
        MimeBundle::text(text)
    }
}

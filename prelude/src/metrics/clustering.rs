//! Clustering metrics.

use anyhow::{bail, Result};
use std::collections::HashMap;

/// Similarity of two clusterings, corrected for chance: 1 for identical partitions (whatever
/// the label values), about 0 for random ones.
///
/// ```
/// use trainbook::metrics::adjusted_rand_score;
/// assert_eq!(adjusted_rand_score(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(), 1.0);
/// assert_eq!(adjusted_rand_score(&[0, 0, 1, 2], &[0, 0, 1, 1]).unwrap(), 0.5714285714285714);
/// ```
pub fn adjusted_rand_score(labels_true: &[i64], labels_pred: &[i64]) -> Result<f64> {
    super::check_pair("adjusted_rand_score", labels_true.len(), labels_pred.len())?;
    let mut contingency: HashMap<(i64, i64), i128> = HashMap::new();
    let mut true_sizes: HashMap<i64, i128> = HashMap::new();
    let mut pred_sizes: HashMap<i64, i128> = HashMap::new();
    for (&t, &p) in labels_true.iter().zip(labels_pred) {
        *contingency.entry((t, p)).or_default() += 1;
        *true_sizes.entry(t).or_default() += 1;
        *pred_sizes.entry(p).or_default() += 1;
    }
    // scikit-learn's pair confusion matrix, in exact integers.
    let n = labels_true.len() as i128;
    let sum_squares: i128 = contingency.values().map(|c| c * c).sum();
    let pred_pairs: i128 = pred_sizes.values().map(|c| c * c).sum::<i128>() - sum_squares;
    let true_pairs: i128 = true_sizes.values().map(|c| c * c).sum::<i128>() - sum_squares;
    let tp = sum_squares - n;
    let (fp, fn_) = (pred_pairs, true_pairs);
    let tn = n * n - fp - fn_ - sum_squares;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let numerator = 2 * (tp * tn - fn_ * fp);
    let denominator = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    Ok(numerator as f64 / denominator as f64)
}

/// Mean silhouette coefficient with Euclidean distance: how much closer each sample is to its
/// own cluster than to the nearest other one (-1 to 1). Needs 2 to n-1 clusters.
///
/// ```
/// use trainbook::metrics::silhouette_score;
/// let x = vec![vec![0.0, 0.0], vec![0.0, 1.0], vec![10.0, 0.0], vec![10.0, 1.0]];
/// let s = silhouette_score(&x, &[0, 0, 1, 1]).unwrap();
/// assert!(s > 0.9);
/// ```
pub fn silhouette_score(x: &[Vec<f64>], labels: &[i64]) -> Result<f64> {
    super::check_pair("silhouette_score", x.len(), labels.len())?;
    let mut clusters: Vec<i64> = labels.to_vec();
    clusters.sort_unstable();
    clusters.dedup();
    if clusters.len() < 2 || clusters.len() > x.len() - 1 {
        bail!(
            "silhouette_score: needs between 2 and n_samples - 1 = {} clusters, got {}",
            x.len() - 1,
            clusters.len()
        );
    }
    let width = x[0].len();
    if let Some(i) = x.iter().position(|row| row.len() != width) {
        bail!(
            "silhouette_score: row {i} has {} features but row 0 has {width}",
            x[i].len()
        );
    }
    let cluster_of: Vec<usize> = labels
        .iter()
        .map(|l| clusters.binary_search(l).unwrap())
        .collect();
    let mut sizes = vec![0usize; clusters.len()];
    for &c in &cluster_of {
        sizes[c] += 1;
    }
    let mut total = 0.0;
    let mut distance_sums = vec![0.0; clusters.len()];
    for i in 0..x.len() {
        distance_sums.iter_mut().for_each(|d| *d = 0.0);
        for j in 0..x.len() {
            let d: f64 = x[i]
                .iter()
                .zip(&x[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt();
            distance_sums[cluster_of[j]] += d;
        }
        let own = cluster_of[i];
        if sizes[own] == 1 {
            continue; // a singleton's silhouette is 0
        }
        let a = distance_sums[own] / (sizes[own] - 1) as f64;
        let b = (0..clusters.len())
            .filter(|&c| c != own)
            .map(|c| distance_sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let denominator = a.max(b);
        if denominator > 0.0 {
            total += (b - a) / denominator;
        }
    }
    Ok(total / x.len() as f64)
}

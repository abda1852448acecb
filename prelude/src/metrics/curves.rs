//! Threshold curves (ROC, precision-recall) and the areas under them.

use super::{check_pair, Average};
use anyhow::{bail, Result};

/// Points of a ROC curve: false and true positive rates at decreasing thresholds. The first
/// threshold is +infinity, so the curve starts at (0, 0).
#[derive(Clone, Debug, PartialEq)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// Points of a precision-recall curve at increasing thresholds; ends at (recall 0, precision 1).
#[derive(Clone, Debug, PartialEq)]
pub struct PrecisionRecallCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub thresholds: Vec<f64>,
}

fn check_binary(what: &str, y_true: &[usize], scores: &[f64]) -> Result<()> {
    check_pair(what, y_true.len(), scores.len())?;
    if let Some(label) = y_true.iter().find(|&&y| y > 1) {
        bail!(
            "{what}: y_true must hold 0 (negative) and 1 (positive), found {label}; for one \
             class k of many pass `y.iter().map(|&y| (y == k) as usize)` or use roc_auc_ovr"
        );
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        bail!("{what}: score {i} is NaN");
    }
    Ok(())
}

/// False and true positive counts at each distinct score, highest score first (scikit-learn's
/// `_binary_clf_curve`).
fn binary_counts(y_true: &[usize], scores: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut fps, mut tps, mut thresholds) = (Vec::new(), Vec::new(), Vec::new());
    let mut positives = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        positives += y_true[i] as f64;
        let last_of_run = rank + 1 == order.len() || scores[order[rank + 1]] != scores[i];
        if last_of_run {
            tps.push(positives);
            fps.push((rank + 1) as f64 - positives);
            thresholds.push(scores[i]);
        }
    }
    (fps, tps, thresholds)
}

/// The ROC curve of binary labels (0/1) against scores where higher means "more positive".
///
/// Like scikit-learn's `roc_curve(drop_intermediate=True)`: collinear points are dropped.
///
/// ```
/// use trainbook::metrics::roc_curve;
/// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
/// assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
/// assert_eq!(roc.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
/// ```
pub fn roc_curve(y_true: &[usize], scores: &[f64]) -> Result<RocCurve> {
    check_binary("roc_curve", y_true, scores)?;
    let (mut fps, mut tps, mut thresholds) = binary_counts(y_true, scores);
    if fps.len() > 2 {
        let n = fps.len();
        let keep: Vec<usize> = (0..n)
            .filter(|&i| {
                i == 0
                    || i == n - 1
                    || fps[i + 1] - 2.0 * fps[i] + fps[i - 1] != 0.0
                    || tps[i + 1] - 2.0 * tps[i] + tps[i - 1] != 0.0
            })
            .collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
        thresholds = keep.iter().map(|&i| thresholds[i]).collect();
    }
    let (negatives, positives) = (*fps.last().unwrap(), *tps.last().unwrap());
    if negatives == 0.0 || positives == 0.0 {
        bail!(
            "roc_curve: y_true holds only {} samples; a ROC curve needs both classes",
            if positives == 0.0 {
                "negative"
            } else {
                "positive"
            }
        );
    }
    let rate = |counts: &[f64], total: f64| {
        std::iter::once(0.0)
            .chain(counts.iter().map(|c| c / total))
            .collect()
    };
    Ok(RocCurve {
        fpr: rate(&fps, negatives),
        tpr: rate(&tps, positives),
        thresholds: std::iter::once(f64::INFINITY).chain(thresholds).collect(),
    })
}

/// Area under a curve by the trapezoidal rule; `x` must be monotonic (either direction).
///
/// ```
/// use trainbook::metrics::auc;
/// assert_eq!(auc(&[0.0, 0.5, 1.0], &[0.0, 1.0, 1.0]).unwrap(), 0.75);
/// ```
pub fn auc(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair("auc", x.len(), y.len())?;
    if x.len() < 2 {
        bail!(
            "auc: at least 2 points are needed to compute an area (got {})",
            x.len()
        );
    }
    let steps: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let direction = if steps.iter().all(|d| *d >= 0.0) {
        1.0
    } else if steps.iter().all(|d| *d <= 0.0) {
        -1.0
    } else {
        bail!("auc: x is neither increasing nor decreasing, so the area is not defined");
    };
    let area: f64 = steps
        .iter()
        .zip(y.windows(2))
        .map(|(dx, w)| dx * (w[1] + w[0]) / 2.0)
        .sum();
    Ok(direction * area)
}

/// Area under the ROC curve of binary labels (0/1) against scores.
///
/// ```
/// use trainbook::metrics::roc_auc_score;
/// assert_eq!(roc_auc_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap(), 0.75);
/// ```
pub fn roc_auc_score(y_true: &[usize], scores: &[f64]) -> Result<f64> {
    let roc = roc_curve(y_true, scores)?;
    auc(&roc.fpr, &roc.tpr)
}

/// One-vs-rest ROC AUC for several classes: `probabilities[i][k]` is sample i's probability of
/// class k, rows summing to 1 (apply softmax to logits first). Every class must occur in
/// `y_true`. `average` is `Macro` or `Weighted` (by class support), as scikit-learn allows.
///
/// ```
/// use trainbook::metrics::{roc_auc_ovr, Average};
/// let p = vec![vec![0.8, 0.1, 0.1], vec![0.2, 0.7, 0.1], vec![0.1, 0.2, 0.7], vec![0.3, 0.4, 0.3]];
/// let score = roc_auc_ovr(&[0, 1, 2, 1], &p, Average::Macro).unwrap();
/// assert_eq!(score, 1.0);
/// ```
pub fn roc_auc_ovr(y_true: &[usize], probabilities: &[Vec<f64>], average: Average) -> Result<f64> {
    check_pair("roc_auc_ovr", y_true.len(), probabilities.len())?;
    let classes = probabilities[0].len();
    for (i, row) in probabilities.iter().enumerate() {
        if row.len() != classes {
            bail!(
                "roc_auc_ovr: row {i} has {} columns but row 0 has {classes}",
                row.len()
            );
        }
        if row.iter().any(|p| !(0.0..=1.0).contains(p)) {
            bail!("roc_auc_ovr: row {i} holds a value outside [0, 1]: {row:?}; pass probabilities");
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > 1e-8 + f64::EPSILON.sqrt() {
            bail!(
                "roc_auc_ovr: row {i} sums to {sum}, not 1; one-vs-rest AUC needs \
                 probabilities (apply softmax to logits first)"
            );
        }
    }
    let mut support = vec![0u64; classes];
    for (i, &y) in y_true.iter().enumerate() {
        if y >= classes {
            bail!("roc_auc_ovr: sample {i} has class {y} but there are {classes} columns");
        }
        support[y] += 1;
    }
    if let Some(missing) = support.iter().position(|&s| s == 0) {
        bail!(
            "roc_auc_ovr: class {missing} never occurs in y_true; the number of classes in \
             y_true must equal the number of probability columns ({classes})"
        );
    }
    let mut scores = Vec::with_capacity(classes);
    for k in 0..classes {
        let is_k: Vec<usize> = y_true.iter().map(|&y| (y == k) as usize).collect();
        let column: Vec<f64> = probabilities.iter().map(|row| row[k]).collect();
        scores.push(roc_auc_score(&is_k, &column)?);
    }
    match average {
        Average::Macro => Ok(scores.iter().sum::<f64>() / classes as f64),
        Average::Weighted => {
            let total: u64 = support.iter().sum();
            Ok(scores
                .iter()
                .zip(&support)
                .map(|(s, &n)| s * n as f64)
                .sum::<f64>()
                / total as f64)
        }
        other => bail!("roc_auc_ovr: average must be Macro or Weighted, not {other:?}"),
    }
}

/// The precision-recall curve of binary labels (0/1) against scores.
///
/// ```
/// use trainbook::metrics::precision_recall_curve;
/// let pr = precision_recall_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
/// assert_eq!(pr.recall, vec![1.0, 1.0, 0.5, 0.5, 0.0]);
/// assert_eq!(pr.thresholds, vec![0.1, 0.35, 0.4, 0.8]);
/// ```
pub fn precision_recall_curve(y_true: &[usize], scores: &[f64]) -> Result<PrecisionRecallCurve> {
    check_binary("precision_recall_curve", y_true, scores)?;
    let (fps, tps, thresholds) = binary_counts(y_true, scores);
    let positives = *tps.last().unwrap();
    if positives == 0.0 {
        bail!("precision_recall_curve: y_true has no positive (1) samples, so recall is undefined");
    }
    let mut precision: Vec<f64> = tps
        .iter()
        .zip(&fps)
        .map(|(tp, fp)| if tp + fp == 0.0 { 0.0 } else { tp / (tp + fp) })
        .rev()
        .collect();
    let mut recall: Vec<f64> = tps.iter().map(|tp| tp / positives).rev().collect();
    precision.push(1.0);
    recall.push(0.0);
    Ok(PrecisionRecallCurve {
        precision,
        recall,
        thresholds: thresholds.into_iter().rev().collect(),
    })
}

/// Average precision: the precision-recall curve summarised as a step-function integral.
///
/// ```
/// use trainbook::metrics::average_precision_score;
/// let ap = average_precision_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]).unwrap();
/// assert!((ap - 0.8333333333333333).abs() < 1e-12);
/// ```
pub fn average_precision_score(y_true: &[usize], scores: &[f64]) -> Result<f64> {
    let pr = precision_recall_curve(y_true, scores)?;
    let sum: f64 = pr
        .recall
        .windows(2)
        .zip(&pr.precision)
        .map(|(r, p)| (r[1] - r[0]) * p)
        .sum();
    Ok((-sum).max(0.0))
}

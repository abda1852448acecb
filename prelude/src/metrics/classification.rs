//! Classification metrics: accuracy, precision / recall / F, confusion matrix, report, log loss.

use super::{check_pair, unique_labels};
use crate::display::{html_escape, MimeBundle, Render};
use anyhow::{bail, Result};
use std::fmt;

/// How per-class scores are combined into one number (scikit-learn's `average=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Average {
    /// Only the scores of `pos_label`; the labels must be binary.
    Binary { pos_label: usize },
    /// Global counts of true positives, false negatives and false positives.
    Micro,
    /// Unweighted mean of the per-class scores.
    Macro,
    /// Mean of the per-class scores weighted by each class's support in `y_true`.
    Weighted,
}

/// What a score is when its denominator is zero (a class never predicted, or never present).
///
/// scikit-learn warns and uses 0 by default; here the choice is explicit. With `Nan` the class
/// is left out of averages, as scikit-learn does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroDivision {
    Zero,
    One,
    Nan,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
            ZeroDivision::Nan => f64::NAN,
        }
    }
}

/// Fraction of samples whose predicted class equals the true class.
///
/// ```
/// use trainbook::metrics::accuracy_score;
/// assert_eq!(accuracy_score(&[0, 1, 2, 2], &[0, 2, 2, 2]).unwrap(), 0.75);
/// ```
pub fn accuracy_score(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_pair("accuracy_score", y_true.len(), y_pred.len())?;
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(correct as f64 / y_true.len() as f64)
}

/// Mean recall over the classes present in `y_true` (robust to imbalanced classes).
///
/// ```
/// use trainbook::metrics::balanced_accuracy_score;
/// let score = balanced_accuracy_score(&[0, 0, 0, 1], &[0, 0, 0, 0]).unwrap();
/// assert_eq!(score, 0.5);
/// ```
pub fn balanced_accuracy_score(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_pair("balanced_accuracy_score", y_true.len(), y_pred.len())?;
    let matrix = confusion_matrix(y_true, y_pred)?;
    let recalls: Vec<f64> = matrix
        .counts
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let support: u64 = row.iter().sum();
            // Classes that only occur in y_pred have no recall; scikit-learn drops them too.
            (support > 0).then(|| row[i] as f64 / support as f64)
        })
        .collect();
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

/// Counts of (true class, predicted class) pairs over the sorted labels of both slices.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfusionMatrix {
    /// The class of each row (true) and column (predicted).
    pub labels: Vec<usize>,
    /// `counts[i][j]`: samples of class `labels[i]` predicted as `labels[j]`.
    pub counts: Vec<Vec<u64>>,
    /// Optional display names for the labels (e.g. a dataset's `target_names`).
    pub names: Option<Vec<String>>,
}

/// How a confusion matrix is normalised (scikit-learn's `normalize=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfusionNormalize {
    /// Each row sums to 1: the recall view.
    True,
    /// Each column sums to 1: the precision view.
    Pred,
    /// All cells sum to 1.
    All,
}

/// The confusion matrix of a classification.
///
/// ```
/// use trainbook::metrics::{confusion_matrix, ConfusionNormalize};
/// let m = confusion_matrix(&[0, 0, 1, 1], &[0, 1, 1, 1]).unwrap();
/// assert_eq!(m.counts, vec![vec![1, 1], vec![0, 2]]);
/// assert_eq!(m.normalized(ConfusionNormalize::True)[0], vec![0.5, 0.5]);
/// ```
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize]) -> Result<ConfusionMatrix> {
    check_pair("confusion_matrix", y_true.len(), y_pred.len())?;
    let labels = unique_labels(y_true, y_pred);
    let index = |label: usize| labels.binary_search(&label).unwrap();
    let mut counts = vec![vec![0u64; labels.len()]; labels.len()];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        counts[index(t)][index(p)] += 1;
    }
    Ok(ConfusionMatrix {
        labels,
        counts,
        names: None,
    })
}

impl ConfusionMatrix {
    /// Names the classes in displays (`names[label]` for each label).
    ///
    /// ```
    /// use trainbook::metrics::confusion_matrix;
    /// let m = confusion_matrix(&[0, 1], &[0, 1]).unwrap().class_names(&["cat".into(), "dog".into()]);
    /// assert_eq!(m.label_name(1), "dog");
    /// ```
    pub fn class_names(mut self, names: &[String]) -> ConfusionMatrix {
        self.names = Some(names.to_vec());
        self
    }

    /// The matrix divided by row, column or grand totals; an all-zero row or column gives 0s.
    pub fn normalized(&self, how: ConfusionNormalize) -> Vec<Vec<f64>> {
        let n = self.labels.len();
        let row_sums: Vec<u64> = self.counts.iter().map(|r| r.iter().sum()).collect();
        let col_sums: Vec<u64> = (0..n)
            .map(|j| self.counts.iter().map(|r| r[j]).sum())
            .collect();
        let total: u64 = row_sums.iter().sum();
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let denominator = match how {
                            ConfusionNormalize::True => row_sums[i],
                            ConfusionNormalize::Pred => col_sums[j],
                            ConfusionNormalize::All => total,
                        };
                        if denominator == 0 {
                            0.0
                        } else {
                            self.counts[i][j] as f64 / denominator as f64
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The display name of the class at position `i`.
    pub fn label_name(&self, i: usize) -> String {
        let label = self.labels[i];
        match &self.names {
            Some(names) if label < names.len() => names[label].clone(),
            _ => label.to_string(),
        }
    }
}

impl Render for ConfusionMatrix {
    fn mime_bundle(&self) -> MimeBundle {
        let mut html = String::from(
            "<table class=\"trainbook-confusion\"><thead><tr><th>true \\ predicted</th>",
        );
        for i in 0..self.labels.len() {
            html += &format!("<th>{}</th>", html_escape(&self.label_name(i)));
        }
        html += "</tr></thead><tbody>";
        for (i, row) in self.counts.iter().enumerate() {
            html += &format!("<tr><th>{}</th>", html_escape(&self.label_name(i)));
            for count in row {
                html += &format!("<td>{count}</td>");
            }
            html += "</tr>";
        }
        html += "</tbody></table>";
        MimeBundle::text(self.to_string()).with("text/html", html)
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = (0..self.labels.len()).map(|i| self.label_name(i)).collect();
        let width = names
            .iter()
            .map(|n| n.len())
            .chain(self.counts.iter().flatten().map(|c| c.to_string().len()))
            .max()
            .unwrap_or(1);
        write!(f, "{:>width$}", "")?;
        for name in &names {
            write!(f, " {name:>width$}")?;
        }
        for (name, row) in names.iter().zip(&self.counts) {
            write!(f, "\n{name:>width$}")?;
            for count in row {
                write!(f, " {count:>width$}")?;
            }
        }
        Ok(())
    }
}

/// Per-class precision, recall, F-beta and support, as `precision_recall_fscore_support`.
#[derive(Clone, Debug, PartialEq)]
pub struct PerClassScores {
    pub labels: Vec<usize>,
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub fscore: Vec<f64>,
    /// Samples of each class in `y_true`.
    pub support: Vec<u64>,
}

struct Counts {
    labels: Vec<usize>,
    true_positives: Vec<u64>,
    predicted: Vec<u64>,
    actual: Vec<u64>,
}

fn counts(what: &str, y_true: &[usize], y_pred: &[usize]) -> Result<Counts> {
    check_pair(what, y_true.len(), y_pred.len())?;
    let matrix = confusion_matrix(y_true, y_pred)?;
    let n = matrix.labels.len();
    Ok(Counts {
        true_positives: (0..n).map(|i| matrix.counts[i][i]).collect(),
        predicted: (0..n)
            .map(|j| matrix.counts.iter().map(|r| r[j]).sum())
            .collect(),
        actual: matrix.counts.iter().map(|r| r.iter().sum()).collect(),
        labels: matrix.labels,
    })
}

fn divide(numerator: f64, denominator: f64, zero_division: ZeroDivision) -> f64 {
    if denominator == 0.0 {
        zero_division.value()
    } else {
        numerator / denominator
    }
}

fn scores_from_counts(
    tp: &[u64],
    predicted: &[u64],
    actual: &[u64],
    beta: f64,
    zero_division: ZeroDivision,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let beta2 = beta * beta;
    let mut precision = Vec::with_capacity(tp.len());
    let mut recall = Vec::with_capacity(tp.len());
    let mut fscore = Vec::with_capacity(tp.len());
    for i in 0..tp.len() {
        let p = divide(tp[i] as f64, predicted[i] as f64, zero_division);
        let r = divide(tp[i] as f64, actual[i] as f64, zero_division);
        // In counts, as scikit-learn computes it: (1 + b²) tp / (b² actual + predicted).
        let f = if beta.is_infinite() {
            r
        } else if beta == 0.0 {
            p
        } else {
            divide(
                (1.0 + beta2) * tp[i] as f64,
                beta2 * actual[i] as f64 + predicted[i] as f64,
                zero_division,
            )
        };
        precision.push(p);
        recall.push(r);
        fscore.push(f);
    }
    (precision, recall, fscore)
}

fn check_beta(beta: f64) -> Result<()> {
    if beta.is_nan() || beta < 0.0 {
        bail!("beta must be 0 or more (got {beta}); beta = 1 gives the F1 score");
    }
    Ok(())
}

/// Precision, recall, F-beta and support for every class.
///
/// ```
/// use trainbook::metrics::{precision_recall_fscore_support, ZeroDivision};
/// let s = precision_recall_fscore_support(&[0, 1, 1], &[0, 1, 0], 1.0, ZeroDivision::Zero).unwrap();
/// assert_eq!(s.labels, vec![0, 1]);
/// assert_eq!(s.precision, vec![0.5, 1.0]);
/// assert_eq!(s.recall, vec![1.0, 0.5]);
/// assert_eq!(s.support, vec![1, 2]);
/// ```
pub fn precision_recall_fscore_support(
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    zero_division: ZeroDivision,
) -> Result<PerClassScores> {
    check_beta(beta)?;
    let c = counts("precision_recall_fscore_support", y_true, y_pred)?;
    let (precision, recall, fscore) = scores_from_counts(
        &c.true_positives,
        &c.predicted,
        &c.actual,
        beta,
        zero_division,
    );
    Ok(PerClassScores {
        labels: c.labels,
        precision,
        recall,
        fscore,
        support: c.actual,
    })
}

/// Mean ignoring NaN (classes scored NaN by `ZeroDivision::Nan`); all-zero weights count equally.
fn nan_average(values: &[f64], weights: Option<&[u64]>) -> f64 {
    let kept: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &v)| (v, weights.map_or(1.0, |w| w[i] as f64)))
        .collect();
    if kept.is_empty() {
        return f64::NAN;
    }
    let weight_sum: f64 = kept.iter().map(|(_, w)| w).sum();
    if weight_sum == 0.0 {
        return kept.iter().map(|(v, _)| v).sum::<f64>() / kept.len() as f64;
    }
    kept.iter().map(|(v, w)| v * w).sum::<f64>() / weight_sum
}

/// (precision, recall, F-beta) combined as `average` says.
fn averaged_scores(
    what: &str,
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<(f64, f64, f64)> {
    check_beta(beta)?;
    let c = counts(what, y_true, y_pred)?;
    match average {
        Average::Binary { pos_label } => {
            if c.labels.len() > 2 {
                bail!(
                    "{what}: the labels are multiclass ({:?}) but average is Binary; \
                     choose Average::Macro, Micro or Weighted",
                    c.labels
                );
            }
            let scores = match c.labels.iter().position(|&l| l == pos_label) {
                Some(i) => scores_from_counts(
                    &c.true_positives[i..=i],
                    &c.predicted[i..=i],
                    &c.actual[i..=i],
                    beta,
                    zero_division,
                ),
                None if c.labels.len() == 2 => bail!(
                    "{what}: pos_label {pos_label} is not one of the labels {:?}",
                    c.labels
                ),
                // Only the negative class occurs: the positive class has no samples at all.
                None => scores_from_counts(&[0], &[0], &[0], beta, zero_division),
            };
            Ok((scores.0[0], scores.1[0], scores.2[0]))
        }
        Average::Micro => {
            let sum = |v: &[u64]| v.iter().sum::<u64>();
            let (p, r, f) = scores_from_counts(
                &[sum(&c.true_positives)],
                &[sum(&c.predicted)],
                &[sum(&c.actual)],
                beta,
                zero_division,
            );
            Ok((p[0], r[0], f[0]))
        }
        Average::Macro | Average::Weighted => {
            let (p, r, f) = scores_from_counts(
                &c.true_positives,
                &c.predicted,
                &c.actual,
                beta,
                zero_division,
            );
            let weights = (average == Average::Weighted).then_some(c.actual.as_slice());
            Ok((
                nan_average(&p, weights),
                nan_average(&r, weights),
                nan_average(&f, weights),
            ))
        }
    }
}

/// Precision: of the samples predicted as a class, the fraction that are that class.
///
/// ```
/// use trainbook::metrics::{precision_score, Average, ZeroDivision};
/// let p = precision_score(&[0, 1, 1, 0], &[1, 1, 1, 0], Average::Binary { pos_label: 1 }, ZeroDivision::Zero).unwrap();
/// assert!((p - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn precision_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> Result<f64> {
    averaged_scores(
        "precision_score",
        y_true,
        y_pred,
        1.0,
        average,
        zero_division,
    )
    .map(|s| s.0)
}

/// Recall: of the samples of a class, the fraction predicted as that class.
///
/// ```
/// use trainbook::metrics::{recall_score, Average, ZeroDivision};
/// let r = recall_score(&[0, 1, 2, 2], &[0, 2, 2, 1], Average::Macro, ZeroDivision::Zero).unwrap();
/// assert!((r - 0.5).abs() < 1e-12);
/// ```
pub fn recall_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> Result<f64> {
    averaged_scores("recall_score", y_true, y_pred, 1.0, average, zero_division).map(|s| s.1)
}

/// F1: the harmonic mean of precision and recall.
///
/// ```
/// use trainbook::metrics::{f1_score, Average, ZeroDivision};
/// let f = f1_score(&[0, 1, 1], &[0, 1, 0], Average::Micro, ZeroDivision::Zero).unwrap();
/// assert!((f - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn f1_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> Result<f64> {
    averaged_scores("f1_score", y_true, y_pred, 1.0, average, zero_division).map(|s| s.2)
}

/// F-beta: recall weighted `beta` times as much as precision.
///
/// ```
/// use trainbook::metrics::{fbeta_score, Average, ZeroDivision};
/// let f = fbeta_score(&[0, 1, 1], &[1, 1, 0], 2.0, Average::Binary { pos_label: 1 }, ZeroDivision::Zero).unwrap();
/// assert!((f - 0.5).abs() < 1e-12);
/// ```
pub fn fbeta_score(
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    average: Average,
    zero_division: ZeroDivision,
) -> Result<f64> {
    averaged_scores("fbeta_score", y_true, y_pred, beta, average, zero_division).map(|s| s.2)
}

/// A classification report: per-class precision, recall, F1 and support, then accuracy and the
/// macro and weighted averages. Shows as an HTML table in the kernel and as text elsewhere.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassificationReport {
    pub names: Vec<String>,
    pub scores: PerClassScores,
    pub accuracy: f64,
    /// (precision, recall, F1) averaged over classes.
    pub macro_avg: (f64, f64, f64),
    /// (precision, recall, F1) weighted by support.
    pub weighted_avg: (f64, f64, f64),
}

/// Builds a [`ClassificationReport`]; `names[label]` names each class when given.
///
/// ```
/// use trainbook::metrics::{classification_report, ZeroDivision};
/// let report = classification_report(&[0, 1, 1], &[0, 1, 0], Some(&["cat".into(), "dog".into()]), ZeroDivision::Zero).unwrap();
/// assert!(report.to_string().contains("dog"));
/// assert!((report.accuracy - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn classification_report(
    y_true: &[usize],
    y_pred: &[usize],
    names: Option<&[String]>,
    zero_division: ZeroDivision,
) -> Result<ClassificationReport> {
    let scores = precision_recall_fscore_support(y_true, y_pred, 1.0, zero_division)?;
    let names = scores
        .labels
        .iter()
        .map(|&l| match names {
            Some(names) if l < names.len() => names[l].clone(),
            _ => l.to_string(),
        })
        .collect();
    let average = |weights: Option<&[u64]>| {
        (
            nan_average(&scores.precision, weights),
            nan_average(&scores.recall, weights),
            nan_average(&scores.fscore, weights),
        )
    };
    Ok(ClassificationReport {
        names,
        accuracy: accuracy_score(y_true, y_pred)?,
        macro_avg: average(None),
        weighted_avg: average(Some(&scores.support)),
        scores,
    })
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .names
            .iter()
            .map(|n| n.len())
            .chain(["weighted avg".len()])
            .max()
            .unwrap();
        let total: u64 = self.scores.support.iter().sum();
        writeln!(
            f,
            "{:>width$} {:>9} {:>9} {:>9} {:>9}\n",
            "", "precision", "recall", "f1-score", "support"
        )?;
        for (i, name) in self.names.iter().enumerate() {
            writeln!(
                f,
                "{name:>width$} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                self.scores.precision[i],
                self.scores.recall[i],
                self.scores.fscore[i],
                self.scores.support[i]
            )?;
        }
        writeln!(
            f,
            "\n{:>width$} {:>9} {:>9} {:>9.2} {:>9}",
            "accuracy", "", "", self.accuracy, total
        )?;
        for (name, (p, r, f1)) in [
            ("macro avg", self.macro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            writeln!(f, "{name:>width$} {p:>9.2} {r:>9.2} {f1:>9.2} {total:>9}")?;
        }
        Ok(())
    }
}

impl Render for ClassificationReport {
    fn mime_bundle(&self) -> MimeBundle {
        let total: u64 = self.scores.support.iter().sum();
        let cell = |v: f64| format!("<td>{v:.3}</td>");
        let mut html = String::from(
            "<table class=\"trainbook-report\"><thead><tr><th></th><th>precision</th>\
             <th>recall</th><th>f1-score</th><th>support</th></tr></thead><tbody>",
        );
        for (i, name) in self.names.iter().enumerate() {
            html += &format!(
                "<tr><th>{}</th>{}{}{}<td>{}</td></tr>",
                html_escape(name),
                cell(self.scores.precision[i]),
                cell(self.scores.recall[i]),
                cell(self.scores.fscore[i]),
                self.scores.support[i]
            );
        }
        html += &format!(
            "<tr><th>accuracy</th><td></td><td></td>{}<td>{total}</td></tr>",
            cell(self.accuracy)
        );
        for (name, (p, r, f1)) in [
            ("macro avg", self.macro_avg),
            ("weighted avg", self.weighted_avg),
        ] {
            html += &format!(
                "<tr><th>{name}</th>{}{}{}<td>{total}</td></tr>",
                cell(p),
                cell(r),
                cell(f1)
            );
        }
        html += "</tbody></table>";
        MimeBundle::text(self.to_string()).with("text/html", html)
    }
}

/// Mean negative log-likelihood of the true classes under predicted probabilities.
///
/// `probabilities[i][k]` is the probability of class `k` for sample `i`; each row must sum to
/// 1. Probabilities are clipped to `[eps, 1 - eps]` (f64 machine epsilon) as scikit-learn does.
///
/// ```
/// use trainbook::metrics::log_loss;
/// let loss = log_loss(&[0, 1], &[vec![0.9, 0.1], vec![0.2, 0.8]]).unwrap();
/// assert!((loss - 0.164252033486018).abs() < 1e-12);
/// ```
pub fn log_loss(y_true: &[usize], probabilities: &[Vec<f64>]) -> Result<f64> {
    check_pair("log_loss", y_true.len(), probabilities.len())?;
    let classes = probabilities[0].len();
    if classes < 2 {
        bail!("log_loss: each row needs a probability for at least 2 classes (got {classes})");
    }
    let eps = f64::EPSILON;
    let mut total = 0.0;
    for (i, (&label, row)) in y_true.iter().zip(probabilities).enumerate() {
        if row.len() != classes {
            bail!(
                "log_loss: row {i} has {} probabilities but row 0 has {classes}",
                row.len()
            );
        }
        if label >= classes {
            bail!("log_loss: sample {i} has class {label} but there are only {classes} probability columns");
        }
        if row.iter().any(|p| !(0.0..=1.0).contains(p)) {
            bail!("log_loss: row {i} holds a value outside [0, 1]: {row:?}; pass probabilities");
        }
        let sum: f64 = row.iter().sum();
        // scikit-learn's tolerance (numpy.isclose with rtol = sqrt(eps)).
        if (sum - 1.0).abs() > 1e-8 + f64::EPSILON.sqrt() {
            bail!(
                "log_loss: row {i} sums to {sum}, not 1; pass probabilities \
                 (apply softmax to logits first)"
            );
        }
        total -= row[label].clamp(eps, 1.0 - eps).ln();
    }
    Ok(total / y_true.len() as f64)
}

//! Evaluation metrics that give the same numbers as scikit-learn.
//!
//! Class labels are `usize` class indices (what the datasets and models use), cluster labels
//! are `i64` (DBSCAN marks noise with -1, as scikit-learn does). Every function checks its
//! input and returns an error that says what was wrong instead of a NaN or a panic.
//! The fixtures in `prelude/tests/fixtures/metrics.json` (made by
//! `prelude/tests/fixtures/make_metric_fixtures.py`) hold scikit-learn's answers.

mod classification;
mod clustering;
mod curves;
mod ranking;
mod regression;

pub use classification::{
    accuracy_score, balanced_accuracy_score, classification_report, confusion_matrix, f1_score,
    fbeta_score, log_loss, precision_recall_fscore_support, precision_score, recall_score, Average,
    ClassificationReport, ConfusionMatrix, ConfusionNormalize, PerClassScores, ZeroDivision,
};
pub use clustering::{adjusted_rand_score, silhouette_score};
pub use curves::{
    auc, average_precision_score, precision_recall_curve, roc_auc_ovr, roc_auc_score, roc_curve,
    PrecisionRecallCurve, RocCurve,
};
pub use ranking::{ranking_scores, RankingScores};
pub use regression::{
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, r2_score,
    root_mean_squared_error,
};

use anyhow::{bail, Result};

/// Checks that two label or value slices pair up one to one and are not empty.
fn check_pair(what: &str, y_true: usize, y_pred: usize) -> Result<()> {
    if y_true != y_pred {
        bail!(
            "{what}: y_true has {y_true} values but the predictions have {y_pred}; \
             pass one prediction per sample"
        );
    }
    if y_true == 0 {
        bail!("{what}: no samples given (y_true is empty)");
    }
    Ok(())
}

/// The sorted distinct labels of both slices, as scikit-learn's `unique_labels`.
fn unique_labels(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut labels: Vec<usize> = a.iter().chain(b).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

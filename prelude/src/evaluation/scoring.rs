//! Scoring: how cross-validation, learning curves and searches judge a fitted model on rows it
//! did not see. By scikit-learn's name (`"f1_macro"`, `"neg_log_loss"`) or by a function of
//! your own; greater is better for every scorer, as in scikit-learn, so errors and losses are
//! negated (`neg_mean_squared_error` is minus the MSE).

use crate::metrics::{
    accuracy_score, average_precision_score, balanced_accuracy_score, f1_score, log_loss,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, precision_score,
    r2_score, recall_score, roc_auc_ovr, roc_auc_score, root_mean_squared_error, Average,
    ZeroDivision,
};
use crate::models::{Classifier, Matrix, Regressor};
use anyhow::{bail, Context, Result};
use std::fmt;
use std::sync::Arc;

type LabelFn = dyn Fn(&[usize], &[usize]) -> Result<f64> + Send + Sync;
type ProbabilityFn = dyn Fn(&[usize], &Matrix) -> Result<f64> + Send + Sync;
type ValueFn = dyn Fn(&[f64], &[f64]) -> Result<f64> + Send + Sync;

/// What a scorer reads from the model.
#[derive(Clone)]
enum Reads {
    /// Predicted classes (`accuracy`, `f1_macro`, ...).
    Labels(Arc<LabelFn>),
    /// Predicted class probabilities, one column per class (`roc_auc`, `neg_log_loss`).
    Probabilities(Arc<ProbabilityFn>),
    /// Predicted values of a regressor (`r2`, `neg_mean_squared_error`).
    Values(Arc<ValueFn>),
}

/// A way to score a fitted model on held-out rows: greater is better.
///
/// Pass one to [`cross_validate`](crate::evaluation::cross_validate),
/// [`cross_val_score`](crate::evaluation::cross_val_score), their regressor forms,
/// [`learning_curve`](crate::evaluation::learning_curve) and
/// [`Study::optimize_cv`](crate::tune::Study::optimize_cv), either as a name
/// (anything [`Scoring::NAMES`] lists) or built from a function.
///
/// ```
/// use trainbook::prelude::*;
/// let cancer = load_breast_cancer();
/// let (x, y) = (Matrix::features(&cancer).unwrap(), cancer.y_classes().unwrap());
/// let f1 = cross_val_score(&DecisionTreeClassifier::new().seed(0), &x, &y, 5, "f1").unwrap();
/// let auc = cross_val_score(&LogisticRegression::new(), &x, &y, 5, "roc_auc").unwrap();
/// assert!(f1.iter().all(|s| *s > 0.85) && auc.iter().all(|s| *s > 0.95));
/// // A function of your own: the fraction of class 1 found (recall), by hand.
/// let found = Scoring::labels("found", |truth: &[usize], predicted: &[usize]| {
///     let positives = truth.iter().filter(|&&t| t == 1).count();
///     let hits = truth.iter().zip(predicted).filter(|(t, p)| **t == 1 && **p == 1).count();
///     Ok(hits as f64 / positives as f64)
/// });
/// let mine = cross_val_score(&LogisticRegression::new(), &x, &y, 5, &found).unwrap();
/// let named = cross_val_score(&LogisticRegression::new(), &x, &y, 5, "recall").unwrap();
/// assert_eq!(mine, named);
/// ```
#[derive(Clone)]
pub struct Scoring {
    name: String,
    reads: Reads,
}

impl fmt::Debug for Scoring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scoring({:?})", self.name)
    }
}

impl fmt::Display for Scoring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `average` settings of scikit-learn's label scorers, by name suffix.
const AVERAGES: [(&str, Average); 4] = [
    ("", Average::Binary { pos_label: 1 }),
    ("_micro", Average::Micro),
    ("_macro", Average::Macro),
    ("_weighted", Average::Weighted),
];

impl Scoring {
    /// Every name [`Scoring::named`] takes: scikit-learn's scorer names for what the prelude
    /// computes. `f1`, `precision`, `recall`, `roc_auc` and `average_precision` score class 1
    /// of binary labels, as scikit-learn's do.
    pub const NAMES: [&'static str; 24] = [
        "accuracy",
        "balanced_accuracy",
        "f1",
        "f1_micro",
        "f1_macro",
        "f1_weighted",
        "precision",
        "precision_micro",
        "precision_macro",
        "precision_weighted",
        "recall",
        "recall_micro",
        "recall_macro",
        "recall_weighted",
        "roc_auc",
        "roc_auc_ovr",
        "roc_auc_ovr_weighted",
        "average_precision",
        "neg_log_loss",
        "r2",
        "neg_mean_squared_error",
        "neg_root_mean_squared_error",
        "neg_mean_absolute_error",
        "neg_mean_absolute_percentage_error",
    ];

    /// A scorer by scikit-learn's name (see [`Scoring::NAMES`]).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Scoring::named("f1_macro").unwrap().name(), "f1_macro");
    /// let wrong = Scoring::named("f1-macro").unwrap_err().to_string();
    /// assert!(wrong.contains("f1_macro"), "{wrong}");
    /// ```
    pub fn named(name: &str) -> Result<Scoring> {
        let labels = |f: fn(&[usize], &[usize]) -> Result<f64>| Reads::Labels(Arc::new(f));
        let values = |f: fn(&[f64], &[f64]) -> Result<f64>| Reads::Values(Arc::new(f));
        let negated = |f: fn(&[f64], &[f64]) -> Result<f64>| {
            Reads::Values(Arc::new(move |t: &[f64], p: &[f64]| f(t, p).map(|v| -v)))
        };
        let reads = match name {
            "accuracy" => labels(accuracy_score),
            "balanced_accuracy" => labels(balanced_accuracy_score),
            "roc_auc" => Reads::Probabilities(Arc::new(|y: &[usize], p: &Matrix| {
                roc_auc_score(y, &positive_column(p, "roc_auc")?)
            })),
            "average_precision" => Reads::Probabilities(Arc::new(|y: &[usize], p: &Matrix| {
                average_precision_score(y, &positive_column(p, "average_precision")?)
            })),
            "roc_auc_ovr" => Reads::Probabilities(Arc::new(|y: &[usize], p: &Matrix| {
                roc_auc_ovr(y, &p.to_rows(), Average::Macro)
            })),
            "roc_auc_ovr_weighted" => Reads::Probabilities(Arc::new(|y: &[usize], p: &Matrix| {
                roc_auc_ovr(y, &p.to_rows(), Average::Weighted)
            })),
            "neg_log_loss" => Reads::Probabilities(Arc::new(|y: &[usize], p: &Matrix| {
                log_loss(y, &p.to_rows()).map(|v| -v)
            })),
            "r2" => values(r2_score),
            "neg_mean_squared_error" => negated(mean_squared_error),
            "neg_root_mean_squared_error" => negated(root_mean_squared_error),
            "neg_mean_absolute_error" => negated(mean_absolute_error),
            "neg_mean_absolute_percentage_error" => negated(mean_absolute_percentage_error),
            other => match averaged(other) {
                Some(reads) => reads,
                None => bail!(
                    "no scorer is called {other:?}; use one of {}, or build one from a \
                     function with Scoring::labels, Scoring::probabilities or Scoring::values",
                    Scoring::NAMES.join(", ")
                ),
            },
        };
        Ok(Scoring {
            name: name.to_owned(),
            reads,
        })
    }

    /// A classifier scorer from a function of (true classes, predicted classes), greater is
    /// better (negate a loss, or use [`Scoring::lower_is_better`]).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let exact = Scoring::labels("exact", |t: &[usize], p: &[usize]| Ok((t == p) as u8 as f64));
    /// assert_eq!(exact.name(), "exact");
    /// ```
    pub fn labels(
        name: &str,
        score: impl Fn(&[usize], &[usize]) -> Result<f64> + Send + Sync + 'static,
    ) -> Scoring {
        Scoring {
            name: name.to_owned(),
            reads: Reads::Labels(Arc::new(score)),
        }
    }

    /// A classifier scorer from a function of (true classes, predicted probabilities: one row
    /// per sample, one column per class), greater is better.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// // The mean probability given to the true class.
    /// let confidence = Scoring::probabilities("confidence", |t: &[usize], p: &Matrix| {
    ///     Ok(t.iter().enumerate().map(|(i, &c)| p.row(i)[c]).sum::<f64>() / t.len() as f64)
    /// });
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let scores = cross_val_score(&LogisticRegression::new(), &x, &y, 5, &confidence).unwrap();
    /// assert!(scores.iter().all(|s| *s > 0.7 && *s <= 1.0));
    /// ```
    pub fn probabilities(
        name: &str,
        score: impl Fn(&[usize], &Matrix) -> Result<f64> + Send + Sync + 'static,
    ) -> Scoring {
        Scoring {
            name: name.to_owned(),
            reads: Reads::Probabilities(Arc::new(score)),
        }
    }

    /// A regressor scorer from a function of (true values, predicted values), greater is
    /// better.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let max_error = Scoring::values("max_error", |t: &[f64], p: &[f64]| {
    ///     Ok(t.iter().zip(p).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max))
    /// })
    /// .lower_is_better();
    /// assert_eq!(max_error.name(), "neg_max_error");
    /// let data = load_diabetes();
    /// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
    /// let scores = cross_val_score(&LinearRegression::new(), &x, &y, 5, &max_error).unwrap();
    /// assert!(scores.iter().all(|s| *s < -100.0));
    /// ```
    pub fn values(
        name: &str,
        score: impl Fn(&[f64], &[f64]) -> Result<f64> + Send + Sync + 'static,
    ) -> Scoring {
        Scoring {
            name: name.to_owned(),
            reads: Reads::Values(Arc::new(score)),
        }
    }

    /// The same scorer negated, named `neg_<name>`, for a function that measures an error
    /// (scikit-learn's `make_scorer(.., greater_is_better=False)`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mse = Scoring::values("mse", |t: &[f64], p: &[f64]| mean_squared_error(t, p)).lower_is_better();
    /// assert_eq!(mse.score_values(&[1.0, 2.0], &[1.0, 4.0]).unwrap(), -2.0);
    /// ```
    pub fn lower_is_better(self) -> Scoring {
        let reads = match self.reads {
            Reads::Labels(f) => Reads::Labels(Arc::new(move |t: &[usize], p: &[usize]| {
                f(t, p).map(|v| -v)
            })),
            Reads::Probabilities(f) => {
                Reads::Probabilities(Arc::new(move |t: &[usize], p: &Matrix| f(t, p).map(|v| -v)))
            }
            Reads::Values(f) => {
                Reads::Values(Arc::new(move |t: &[f64], p: &[f64]| f(t, p).map(|v| -v)))
            }
        };
        Scoring {
            name: format!("neg_{}", self.name),
            reads,
        }
    }

    /// The scorer's name, as results and charts show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this scorer judges classifiers (labels or probabilities) rather than
    /// regressors.
    pub fn is_for_classifiers(&self) -> bool {
        !matches!(self.reads, Reads::Values(_))
    }

    /// Scores a fitted classifier on `(x, y)`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let mut model = LogisticRegression::new();
    /// model.fit(&x, &y).unwrap();
    /// let accuracy = Scoring::named("accuracy").unwrap().score_classifier(&model, &x, &y).unwrap();
    /// assert_eq!(accuracy, model.score(&x, &y).unwrap());
    /// ```
    pub fn score_classifier(&self, model: &dyn Classifier, x: &Matrix, y: &[usize]) -> Result<f64> {
        let scored = match &self.reads {
            Reads::Labels(score) => score(y, &model.predict(x)?),
            Reads::Probabilities(score) => score(y, &model.predict_proba(x)?),
            Reads::Values(_) => bail!(
                "scoring {:?} scores a regressor's values, but {} is a classifier; use a \
                 classifier scorer such as \"accuracy\", \"f1_macro\" or \"neg_log_loss\"",
                self.name,
                model.name()
            ),
        };
        scored.with_context(|| format!("scoring {}", self.name))
    }

    /// Scores a fitted regressor on `(x, y)`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let data = load_diabetes();
    /// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
    /// let mut model = LinearRegression::new();
    /// model.fit(&x, &y).unwrap();
    /// let mse = Scoring::named("neg_mean_squared_error").unwrap().score_regressor(&model, &x, &y).unwrap();
    /// assert!((mse + mean_squared_error(&y, &model.predict(&x).unwrap()).unwrap()).abs() < 1e-9);
    /// ```
    pub fn score_regressor(&self, model: &dyn Regressor, x: &Matrix, y: &[f64]) -> Result<f64> {
        let Reads::Values(score) = &self.reads else {
            bail!(
                "scoring {:?} scores a classifier's classes or probabilities, but {} is a \
                 regressor; use a regressor scorer such as \"r2\" or \"neg_mean_squared_error\"",
                self.name,
                model.name()
            );
        };
        score(y, &model.predict(x)?).with_context(|| format!("scoring {}", self.name))
    }

    /// Scores predicted values against true ones (a regressor scorer's function).
    pub fn score_values(&self, y_true: &[f64], y_pred: &[f64]) -> Result<f64> {
        match &self.reads {
            Reads::Values(score) => score(y_true, y_pred),
            _ => bail!(
                "scoring {:?} scores a classifier, not predicted values",
                self.name
            ),
        }
    }

    /// Checks that this scorer can judge a classifier (`true`) or a regressor (`false`),
    /// before any model is fitted.
    pub(crate) fn check_for(&self, classifier: bool) -> Result<()> {
        match (classifier, self.is_for_classifiers()) {
            (true, false) => bail!(
                "scoring {:?} scores regressors, but the model is a classifier; use a \
                 classifier scorer such as \"accuracy\", \"f1_macro\" or \"neg_log_loss\"",
                self.name
            ),
            (false, true) => bail!(
                "scoring {:?} scores classifiers, but the model is a regressor; use a \
                 regressor scorer such as \"r2\" or \"neg_mean_squared_error\"",
                self.name
            ),
            _ => Ok(()),
        }
    }
}

/// `f1`, `precision_macro`, ...: a label metric and scikit-learn's averaging suffix.
fn averaged(name: &str) -> Option<Reads> {
    type Metric = fn(&[usize], &[usize], Average, ZeroDivision) -> Result<f64>;
    let metrics: [(&str, Metric); 3] = [
        ("f1", f1_score),
        ("precision", precision_score),
        ("recall", recall_score),
    ];
    for (prefix, metric) in metrics {
        let Some(suffix) = name.strip_prefix(prefix) else {
            continue;
        };
        let (_, average) = AVERAGES.iter().find(|(s, _)| *s == suffix)?;
        let average = *average;
        // scikit-learn's scorers leave zero_division at "warn": a score of 0.
        return Some(Reads::Labels(Arc::new(move |t: &[usize], p: &[usize]| {
            metric(t, p, average, ZeroDivision::Zero)
        })));
    }
    None
}

/// Class 1's probability column, for the binary scorers.
fn positive_column(p: &Matrix, scorer: &str) -> Result<Vec<f64>> {
    if p.cols() != 2 {
        bail!(
            "{scorer} scores binary labels, but the model predicts {} classes; for several \
             classes use \"roc_auc_ovr\" or \"roc_auc_ovr_weighted\"",
            p.cols()
        );
    }
    Ok((0..p.rows()).map(|i| p.row(i)[1]).collect())
}

/// What can name a scorer: a name (`"f1_macro"`), or a [`Scoring`].
pub trait IntoScoring {
    fn into_scoring(self) -> Result<Scoring>;
}

impl IntoScoring for &str {
    fn into_scoring(self) -> Result<Scoring> {
        Scoring::named(self)
    }
}

impl IntoScoring for String {
    fn into_scoring(self) -> Result<Scoring> {
        Scoring::named(&self)
    }
}

impl IntoScoring for &String {
    fn into_scoring(self) -> Result<Scoring> {
        Scoring::named(self)
    }
}

impl IntoScoring for Scoring {
    fn into_scoring(self) -> Result<Scoring> {
        Ok(self)
    }
}

impl IntoScoring for &Scoring {
    fn into_scoring(self) -> Result<Scoring> {
        Ok(self.clone())
    }
}

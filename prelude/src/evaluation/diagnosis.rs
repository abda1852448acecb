//! Learning curves and a plain-words diagnosis of over- and underfitting.

use super::cross_validation::scorer_for;
use super::estimator::{Estimator, TargetValue};
use super::scoring::IntoScoring;
use crate::charts::LineChart;
use crate::display::{html_escape, MimeBundle, Render};
use crate::models::Matrix;
use crate::random::Rng;
use anyhow::{bail, Result};

/// Train and validation scores against the number of training samples.
#[derive(Clone, Debug)]
pub struct LearningCurve {
    /// The scorer's name (`accuracy`, `f1_macro`, ...): greater is better.
    pub metric: String,
    pub train_sizes: Vec<usize>,
    /// Mean over folds.
    pub train_scores: Vec<f64>,
    pub validation_scores: Vec<f64>,
}

/// scikit-learn's `learning_curve`: for each fold (stratified for a classifier, in row order
/// for a regressor) and each fraction of that fold's training rows, fit a fresh model and
/// score it (by `scoring`: a name such as `"accuracy"`, `"f1_macro"` or `"r2"`, or a
/// [`Scoring`](super::Scoring)) on those rows and on the fold's test rows; scores are averaged
/// over folds. The training rows are shuffled first (fixed seed), unlike
/// scikit-learn's default, so that data sorted by class (iris) does not give one-class subsets.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
/// let curve = learning_curve(&DecisionTreeClassifier::new(), &x, &y, &[0.3, 0.6, 1.0], 5, "accuracy").unwrap();
/// assert_eq!(curve.train_sizes, [36, 72, 120]);
/// assert!(curve.validation_scores[2] > 0.9);
/// let balanced = learning_curve(&DecisionTreeClassifier::new(), &x, &y, &[1.0], 5, "balanced_accuracy").unwrap();
/// assert_eq!(balanced.metric, "balanced_accuracy");
///
/// let diabetes = load_diabetes();
/// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
/// let curve = learning_curve(&LinearRegression::new(), &x, &y, &[0.2, 1.0], 5, "r2").unwrap();
/// assert!(curve.validation_scores[1] > curve.validation_scores[0]);
/// ```
pub fn learning_curve<Y: TargetValue, M: Estimator<Y> + ?Sized>(
    model: &M,
    x: &Matrix,
    y: &[Y],
    fractions: &[f64],
    n_splits: usize,
    scoring: impl IntoScoring,
) -> Result<LearningCurve> {
    let scoring = scorer_for::<Y>(scoring)?;
    if let Some(f) = fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
        bail!("learning_curve: training fractions must be in (0, 1], got {f}");
    }
    let folds = Y::default_folds(y, n_splits)?;
    let n_train = folds.iter().map(|f| f.0.len()).min().unwrap_or(0);
    let mut sizes: Vec<usize> = fractions
        .iter()
        .map(|f| ((f * n_train as f64) as usize).max(1))
        .collect();
    sizes.dedup();
    let (mut train_scores, mut validation_scores) =
        (vec![0.0; sizes.len()], vec![0.0; sizes.len()]);
    for (fold, (train, test)) in folds.iter().enumerate() {
        let mut train = train.clone();
        Rng::new(fold as u64).shuffle(&mut train);
        let (x_test, y_test) = (
            x.select_rows(test)?,
            test.iter().map(|&r| y[r]).collect::<Vec<_>>(),
        );
        for (s, &size) in sizes.iter().enumerate() {
            let rows = &train[..size];
            let (x_train, y_train) = (
                x.select_rows(rows)?,
                rows.iter().map(|&r| y[r]).collect::<Vec<_>>(),
            );
            let mut fitted = model.fresh();
            Y::fit(&mut fitted, &x_train, &y_train)?;
            let score = |x: &Matrix, y: &[Y]| Y::score(&scoring, &fitted, x, y);
            train_scores[s] += score(&x_train, &y_train)? / folds.len() as f64;
            validation_scores[s] += score(&x_test, &y_test)? / folds.len() as f64;
        }
    }
    Ok(LearningCurve {
        metric: scoring.name().to_owned(),
        train_sizes: sizes,
        train_scores,
        validation_scores,
    })
}

impl LearningCurve {
    /// Both curves on one chart.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let curve = LearningCurve { metric: "accuracy".into(), train_sizes: vec![10, 20], train_scores: vec![1.0, 1.0], validation_scores: vec![0.7, 0.8] };
    /// assert!(curve.chart().to_svg().unwrap().contains("training samples"));
    /// ```
    pub fn chart(&self) -> LineChart {
        let points = |scores: &[f64]| {
            self.train_sizes
                .iter()
                .map(|&n| n as f64)
                .zip(scores.iter().copied())
                .collect()
        };
        LineChart::new("Learning curve")
            .x_label("training samples")
            .y_label(&self.metric)
            .series_xy("train", points(&self.train_scores))
            .series_xy("validation", points(&self.validation_scores))
    }

    /// The diagnosis at the largest training size (see [`diagnose_scores`]).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let curve = LearningCurve { metric: "accuracy".into(), train_sizes: vec![10, 20], train_scores: vec![1.0, 1.0], validation_scores: vec![0.7, 0.8] };
    /// assert!(matches!(curve.diagnose(0.9), Diagnosis::Overfitting { .. }));
    /// ```
    pub fn diagnose(&self, target: f64) -> Diagnosis {
        let last = self.train_scores.len() - 1;
        diagnose_scores(
            self.train_scores[last],
            self.validation_scores[last],
            target,
        )
    }
}

impl Render for LearningCurve {
    fn mime_bundle(&self) -> MimeBundle {
        self.chart().mime_bundle()
    }
}

/// What the scores or the training history say about a model.
#[derive(Clone, Debug, PartialEq)]
pub enum Diagnosis {
    /// Training fits much better than validation. `from_epoch`: where validation loss
    /// stopped improving (histories only).
    Overfitting {
        from_epoch: Option<usize>,
        gap: f64,
    },
    /// Even the training data is not fitted well.
    Underfitting {
        train: f64,
    },
    Fine,
}

/// Reads train and validation scores (higher is better, e.g. accuracy): underfitting when the
/// training score is below `target`; overfitting when validation trails training by more than
/// 0.05; otherwise fine.
///
/// ```
/// use trainbook::prelude::*;
/// assert!(matches!(diagnose_scores(1.0, 0.80, 0.9), Diagnosis::Overfitting { .. }));
/// assert!(matches!(diagnose_scores(0.62, 0.60, 0.9), Diagnosis::Underfitting { .. }));
/// assert_eq!(diagnose_scores(0.97, 0.95, 0.9), Diagnosis::Fine);
/// ```
pub fn diagnose_scores(train: f64, validation: f64, target: f64) -> Diagnosis {
    if train < target {
        Diagnosis::Underfitting { train }
    } else if train - validation > 0.05 {
        Diagnosis::Overfitting {
            from_epoch: None,
            gap: train - validation,
        }
    } else {
        Diagnosis::Fine
    }
}

/// Reads per-epoch losses (lower is better): overfitting from epoch k when validation loss was
/// lowest at epoch k, ended more than 5% above that, and training loss kept falling after it;
/// underfitting when training loss fell by less than 20% over the run; otherwise fine. Epochs
/// count from 1.
///
/// ```
/// use trainbook::prelude::*;
/// let train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1];
/// let validation = [1.0, 0.7, 0.55, 0.6, 0.7, 0.8];
/// assert_eq!(diagnose_history(&train, &validation).unwrap(), Diagnosis::Overfitting { from_epoch: Some(3), gap: 0.7 });
/// ```
pub fn diagnose_history(train_loss: &[f64], validation_loss: &[f64]) -> Result<Diagnosis> {
    if train_loss.len() != validation_loss.len() || train_loss.len() < 2 {
        bail!(
            "diagnose_history needs the same number (at least 2) of train and validation losses, \
             got {} and {}",
            train_loss.len(),
            validation_loss.len()
        );
    }
    let best = (0..validation_loss.len())
        .min_by(|&a, &b| validation_loss[a].total_cmp(&validation_loss[b]))
        .unwrap_or(0);
    let last = validation_loss.len() - 1;
    let train_kept_falling = train_loss[last] < train_loss[best];
    if best < last && validation_loss[last] > validation_loss[best] * 1.05 && train_kept_falling {
        let gap = validation_loss[last] - train_loss[last];
        return Ok(Diagnosis::Overfitting {
            from_epoch: Some(best + 1),
            gap: (gap * 1e12).round() / 1e12,
        });
    }
    if train_loss[last] > train_loss[0] * 0.8 {
        return Ok(Diagnosis::Underfitting {
            train: train_loss[last],
        });
    }
    Ok(Diagnosis::Fine)
}

impl Diagnosis {
    /// The diagnosis and the guide's remedies, in words.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(diagnose_scores(1.0, 0.7, 0.9).explain().contains("regularisation"));
    /// ```
    pub fn explain(&self) -> String {
        match self {
            Diagnosis::Overfitting { from_epoch, gap } => format!(
                "Overfitting{}: the model fits its training data much better than unseen data \
                 (gap {gap:.3}). Remedies: more training data or augmentation, L1/L2 \
                 regularisation, dropout, early stopping{}, or a simpler model.",
                from_epoch
                    .map(|e| format!(" from epoch {e}"))
                    .unwrap_or_default(),
                from_epoch
                    .map(|e| format!(" (keep the weights of epoch {e})"))
                    .unwrap_or_default()
            ),
            Diagnosis::Underfitting { train } => format!(
                "Underfitting: even the training data is not fitted well (train {train:.3}). \
                 Remedies: a bigger or more flexible model, better features, training longer or \
                 with a higher learning rate, less regularisation."
            ),
            Diagnosis::Fine => {
                "Fine: training and validation agree, and the training fit is good.".to_string()
            }
        }
    }
}

impl Render for Diagnosis {
    fn mime_bundle(&self) -> MimeBundle {
        let text = self.explain();
        MimeBundle::text(text.clone()).with("text/html", format!("<p>{}</p>", html_escape(&text)))
    }
}

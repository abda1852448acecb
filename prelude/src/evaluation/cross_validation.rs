//! Cross-validation: a fresh copy of the model fitted on each fold's training rows, scored on
//! its test rows, with fit and score times.

use super::estimator::{Estimator, TargetValue};
use super::scoring::{IntoScoring, Scoring};
use crate::display::{html_escape, MimeBundle, Render};
use crate::models::Matrix;
use anyhow::{Context, Result};
use std::time::Instant;

/// Per-fold results of [`cross_validate`].
#[derive(Clone, Debug)]
pub struct CvResult {
    pub model: String,
    /// The scorer's name (`accuracy`, `f1_macro`, `r2`, ...): greater is better.
    pub metric: String,
    pub test_scores: Vec<f64>,
    pub train_scores: Vec<f64>,
    /// Seconds to fit each fold's model.
    pub fit_times: Vec<f64>,
    /// Seconds to score each fold's test rows.
    pub score_times: Vec<f64>,
}

impl CvResult {
    /// Mean test score.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
    /// let folds = StratifiedKFold::new(5).split_rows(&y).unwrap();
    /// let result = cross_validate(&DecisionTreeClassifier::new(), &x, &y, &folds, "accuracy").unwrap();
    /// assert!(result.mean() > 0.9 && result.std() < 0.1);
    /// ```
    pub fn mean(&self) -> f64 {
        self.test_scores.iter().sum::<f64>() / self.test_scores.len() as f64
    }

    /// Standard deviation of the test scores (population, as scikit-learn users compute it
    /// with numpy's default).
    pub fn std(&self) -> f64 {
        let m = self.mean();
        (self
            .test_scores
            .iter()
            .map(|s| (s - m) * (s - m))
            .sum::<f64>()
            / self.test_scores.len() as f64)
            .sqrt()
    }
}

impl Render for CvResult {
    fn mime_bundle(&self) -> MimeBundle {
        let mut text = format!(
            "{}: {} {:.4} ± {:.4}\nfold\ttest\ttrain\tfit s\tscore s\n",
            self.model,
            self.metric,
            self.mean(),
            self.std()
        );
        let mut html = format!(
            "<h4>{}</h4><p>{} {:.4} ± {:.4} over {} folds</p><table><thead><tr><th>fold</th><th>test</th><th>train</th><th>fit (s)</th><th>score (s)</th></tr></thead><tbody>",
            html_escape(&self.model),
            html_escape(&self.metric),
            self.mean(),
            self.std(),
            self.test_scores.len()
        );
        for i in 0..self.test_scores.len() {
            let row = [
                i.to_string(),
                format!("{:.4}", self.test_scores[i]),
                format!("{:.4}", self.train_scores[i]),
                format!("{:.3}", self.fit_times[i]),
                format!("{:.3}", self.score_times[i]),
            ];
            text += &row.join("\t");
            text += "\n";
            html += "<tr>";
            for cell in row {
                html += &format!("<td>{cell}</td>");
            }
            html += "</tr>";
        }
        html += "</tbody></table>";
        MimeBundle::text(text).with("text/html", html)
    }
}

/// Fits a fresh model on each fold's training rows, scores it on the test rows (and on the
/// training rows when `with_train`; NaN otherwise), and times both.
fn run_folds<Y: TargetValue>(
    name: String,
    scoring: &Scoring,
    fresh: &dyn Fn() -> Box<Y::Model>,
    x: &Matrix,
    y: &[Y],
    folds: &[(Vec<usize>, Vec<usize>)],
    with_train: bool,
) -> Result<CvResult> {
    let mut result = CvResult {
        model: name,
        metric: scoring.name().to_owned(),
        test_scores: vec![],
        train_scores: vec![],
        fit_times: vec![],
        score_times: vec![],
    };
    for (i, (train, test)) in folds.iter().enumerate() {
        let mut fold = || -> Result<()> {
            let (x_train, x_test) = (x.select_rows(train)?, x.select_rows(test)?);
            let y_train: Vec<Y> = train.iter().map(|&r| y[r]).collect();
            let y_test: Vec<Y> = test.iter().map(|&r| y[r]).collect();
            let mut fold_model = fresh();
            let start = Instant::now();
            Y::fit(&mut fold_model, &x_train, &y_train).context("fitting")?;
            result.fit_times.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            result
                .test_scores
                .push(Y::score(scoring, &fold_model, &x_test, &y_test)?);
            result.score_times.push(start.elapsed().as_secs_f64());
            result.train_scores.push(if with_train {
                Y::score(scoring, &fold_model, &x_train, &y_train)?
            } else {
                f64::NAN
            });
            Ok(())
        };
        fold().with_context(|| format!("fold {i}"))?;
    }
    Ok(result)
}

/// The scorer, checked against the kind of model before anything is fitted.
pub(crate) fn scorer_for<Y: TargetValue>(scoring: impl IntoScoring) -> Result<Scoring> {
    let scoring = scoring.into_scoring()?;
    scoring.check_for(Y::CLASSES)?;
    Ok(scoring)
}

/// Fits a fresh copy of `model` (any classifier or regressor) on each fold's training rows and
/// scores it with `scoring` on the fold's test rows and its training rows. `scoring` is a
/// scikit-learn scorer name ([`Scoring::NAMES`]: `"accuracy"`, `"f1_macro"`, `"roc_auc"`,
/// `"neg_log_loss"` for class labels; `"r2"`, `"neg_mean_squared_error"`, ... for values) or
/// a [`Scoring`]. Folds are (train rows, test rows), e.g. from
/// [`KFold::split_rows`](crate::data::KFold::split_rows) or
/// [`StratifiedKFold::split_rows`](crate::data::StratifiedKFold::split_rows).
///
/// ```
/// use trainbook::prelude::*;
/// let wine = load_wine();
/// let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
/// let folds = StratifiedKFold::new(5).split_rows(&y).unwrap();
/// let model = Standardized::new(LogisticRegression::new());
/// let result = cross_validate(&model, &x, &y, &folds, "f1_macro").unwrap();
/// assert_eq!(result.metric, "f1_macro");
/// assert!(result.mean() > 0.95);
///
/// // The same function for a regressor: real targets, regression scorers.
/// let diabetes = load_diabetes();
/// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
/// let folds = KFold::new(5).split_rows(x.rows()).unwrap();
/// let result = cross_validate(&LinearRegression::new(), &x, &y, &folds, "r2").unwrap();
/// assert!((result.mean() - 0.482).abs() < 1e-3);
/// ```
pub fn cross_validate<Y: TargetValue, M: Estimator<Y> + ?Sized>(
    model: &M,
    x: &Matrix,
    y: &[Y],
    folds: &[(Vec<usize>, Vec<usize>)],
    scoring: impl IntoScoring,
) -> Result<CvResult> {
    let scoring = scorer_for::<Y>(scoring)?;
    run_folds::<Y>(
        model.estimator_name(),
        &scoring,
        &|| model.fresh(),
        x,
        y,
        folds,
        true,
    )
}

/// The test score of each of `n_splits` folds, as scikit-learn's `cross_val_score(model, x, y,
/// cv=n_splits, scoring=..)`: stratified folds (no shuffling) for a classifier, folds in row
/// order for a regressor. `scoring` as [`cross_validate`] takes it.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
/// let scores = cross_val_score(&DecisionTreeClassifier::new(), &x, &y, 5, "accuracy").unwrap();
/// assert_eq!(scores.len(), 5);
/// let losses = cross_val_score(&LogisticRegression::new(), &x, &y, 5, "neg_log_loss").unwrap();
/// assert!(losses.iter().all(|l| *l < 0.0)); // negated: greater is better
///
/// let diabetes = load_diabetes();
/// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
/// let errors = cross_val_score(&LinearRegression::new(), &x, &y, 5, "neg_mean_absolute_error").unwrap();
/// assert!(errors.iter().all(|e| *e < -40.0 && *e > -50.0));
/// // A classifier scorer for a regressor is refused before anything is fitted.
/// assert!(cross_val_score(&LinearRegression::new(), &x, &y, 5, "accuracy").is_err());
/// ```
pub fn cross_val_score<Y: TargetValue, M: Estimator<Y> + ?Sized>(
    model: &M,
    x: &Matrix,
    y: &[Y],
    n_splits: usize,
    scoring: impl IntoScoring,
) -> Result<Vec<f64>> {
    let scoring = scorer_for::<Y>(scoring)?;
    let folds = Y::default_folds(y, n_splits)?;
    // Scoring the training rows costs as much as predicting them: skipped here, since only
    // the test scores are returned (as scikit-learn's).
    let result = run_folds::<Y>(
        model.estimator_name(),
        &scoring,
        &|| model.fresh(),
        x,
        y,
        &folds,
        false,
    )?;
    Ok(result.test_scores)
}

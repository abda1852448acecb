//! Cross-validation: a fresh copy of the model fitted on each fold's training rows, scored on
//! its test rows, with fit and score times.

use super::scoring::{IntoScoring, Scoring};
use crate::data::{KFold, StratifiedKFold};
use crate::display::{html_escape, MimeBundle, Render};
use crate::models::{Classifier, Matrix, Regressor};
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
    /// let folds = StratifiedKFold::new(5).split_rows(&y.iter().map(|c| c.to_string()).collect::<Vec<_>>()).unwrap();
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

/// What cross-validation needs of a model, whatever its targets are.
trait FoldModel<Y> {
    fn fit_fold(&mut self, x: &Matrix, y: &[Y]) -> Result<()>;
    fn score_fold(&self, scoring: &Scoring, x: &Matrix, y: &[Y]) -> Result<f64>;
}

impl FoldModel<usize> for Box<dyn Classifier> {
    fn fit_fold(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        self.fit(x, y)
    }
    fn score_fold(&self, scoring: &Scoring, x: &Matrix, y: &[usize]) -> Result<f64> {
        scoring.score_classifier(self.as_ref(), x, y)
    }
}

impl FoldModel<f64> for Box<dyn Regressor> {
    fn fit_fold(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        self.fit(x, y)
    }
    fn score_fold(&self, scoring: &Scoring, x: &Matrix, y: &[f64]) -> Result<f64> {
        scoring.score_regressor(self.as_ref(), x, y)
    }
}

/// Fits a fresh model on each fold's training rows, scores it on the test rows (and on the
/// training rows when `with_train`; NaN otherwise), and times both.
fn run_folds<M: FoldModel<Y>, Y: Copy>(
    name: String,
    scoring: &Scoring,
    fresh: &dyn Fn() -> M,
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
            fold_model.fit_fold(&x_train, &y_train).context("fitting")?;
            result.fit_times.push(start.elapsed().as_secs_f64());
            let start = Instant::now();
            result
                .test_scores
                .push(fold_model.score_fold(scoring, &x_test, &y_test)?);
            result.score_times.push(start.elapsed().as_secs_f64());
            result.train_scores.push(if with_train {
                fold_model.score_fold(scoring, &x_train, &y_train)?
            } else {
                f64::NAN
            });
            Ok(())
        };
        fold().with_context(|| format!("fold {i}"))?;
    }
    Ok(result)
}

/// Fits a fresh copy of `model` on each fold's training rows and scores it with `scoring` (a
/// name such as `"accuracy"` or `"f1_macro"`, or a [`Scoring`]) on the fold's test rows and
/// its training rows. Folds are (train rows, test rows), e.g. from
/// [`KFold::split_rows`](crate::data::KFold::split_rows) or
/// [`StratifiedKFold::split_rows`](crate::data::StratifiedKFold::split_rows).
///
/// ```
/// use trainbook::prelude::*;
/// let wine = load_wine();
/// let (x, y) = (Matrix::features(&wine).unwrap(), wine.y_classes().unwrap());
/// let folds = StratifiedKFold::new(5).split_rows(&y.iter().map(|c| c.to_string()).collect::<Vec<_>>()).unwrap();
/// let model = Standardized::new(LogisticRegression::new());
/// let result = cross_validate(&model, &x, &y, &folds, "f1_macro").unwrap();
/// assert_eq!(result.metric, "f1_macro");
/// assert!(result.mean() > 0.95);
/// ```
pub fn cross_validate(
    model: &dyn Classifier,
    x: &Matrix,
    y: &[usize],
    folds: &[(Vec<usize>, Vec<usize>)],
    scoring: impl IntoScoring,
) -> Result<CvResult> {
    let scoring = scoring.into_scoring()?;
    scoring.check_for(true)?;
    run_folds(
        model.name(),
        &scoring,
        &|| model.unfitted(),
        x,
        y,
        folds,
        true,
    )
}

/// The test score of each of `n_splits` stratified folds (scikit-learn's `cross_val_score` for
/// a classifier: `StratifiedKFold(n_splits)` without shuffling), by `scoring`: a name such as
/// `"accuracy"`, `"balanced_accuracy"`, `"f1_macro"`, `"roc_auc"` or `"neg_log_loss"`
/// ([`Scoring::NAMES`]), or a [`Scoring`].
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
/// let scores = cross_val_score(&DecisionTreeClassifier::new(), &x, &y, 5, "accuracy").unwrap();
/// assert_eq!(scores.len(), 5);
/// let losses = cross_val_score(&LogisticRegression::new(), &x, &y, 5, "neg_log_loss").unwrap();
/// assert!(losses.iter().all(|l| *l < 0.0)); // negated: greater is better
/// ```
pub fn cross_val_score(
    model: &dyn Classifier,
    x: &Matrix,
    y: &[usize],
    n_splits: usize,
    scoring: impl IntoScoring,
) -> Result<Vec<f64>> {
    let scoring = scoring.into_scoring()?;
    scoring.check_for(true)?;
    let labels: Vec<String> = y.iter().map(|c| c.to_string()).collect();
    let folds = StratifiedKFold::new(n_splits).split_rows(&labels)?;
    // Scoring the training rows costs as much as predicting them: skipped here, since only
    // the test scores are returned (as scikit-learn's).
    let result = run_folds(
        model.name(),
        &scoring,
        &|| model.unfitted(),
        x,
        y,
        &folds,
        false,
    )?;
    Ok(result.test_scores)
}

/// [`cross_validate`] for a regressor, by `scoring`: `"r2"`, `"neg_mean_squared_error"`,
/// `"neg_root_mean_squared_error"`, `"neg_mean_absolute_error"`,
/// `"neg_mean_absolute_percentage_error"`, or a [`Scoring`].
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let folds = KFold::new(5).split_rows(x.rows()).unwrap();
/// let result = cross_validate_regressor(&LinearRegression::new(), &x, &y, &folds, "r2").unwrap();
/// assert!((result.mean() - 0.482).abs() < 1e-3);
/// ```
pub fn cross_validate_regressor(
    model: &dyn Regressor,
    x: &Matrix,
    y: &[f64],
    folds: &[(Vec<usize>, Vec<usize>)],
    scoring: impl IntoScoring,
) -> Result<CvResult> {
    let scoring = scoring.into_scoring()?;
    scoring.check_for(false)?;
    run_folds(
        model.name(),
        &scoring,
        &|| model.unfitted(),
        x,
        y,
        folds,
        true,
    )
}

/// The test score of each of `n_splits` folds in row order (scikit-learn's `cross_val_score`
/// for a regressor: `KFold(n_splits)` without shuffling), by `scoring` as
/// [`cross_validate_regressor`] takes it.
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let scores = cross_val_score_regressor(&LinearRegression::ridge(1.0), &x, &y, 5, "r2").unwrap();
/// assert_eq!(scores.len(), 5);
/// let errors = cross_val_score_regressor(&LinearRegression::new(), &x, &y, 5, "neg_mean_absolute_error").unwrap();
/// assert!(errors.iter().all(|e| *e < -40.0 && *e > -50.0));
/// ```
pub fn cross_val_score_regressor(
    model: &dyn Regressor,
    x: &Matrix,
    y: &[f64],
    n_splits: usize,
    scoring: impl IntoScoring,
) -> Result<Vec<f64>> {
    let scoring = scoring.into_scoring()?;
    scoring.check_for(false)?;
    let folds = KFold::new(n_splits).split_rows(x.rows())?;
    // Scoring the training rows costs as much as predicting them: skipped here, since only
    // the test scores are returned (as scikit-learn's).
    let result = run_folds(
        model.name(),
        &scoring,
        &|| model.unfitted(),
        x,
        y,
        &folds,
        false,
    )?;
    Ok(result.test_scores)
}

//! One entry point for every model: cross-validation, learning curves and searches take any
//! classifier or regressor, and the kind of target decides how it is judged (class labels:
//! stratified folds and classifier scorers; real values: folds in row order and regressor
//! scorers), as scikit-learn decides from the estimator.

use super::scoring::Scoring;
use crate::data::{KFold, StratifiedKFold};
use crate::models::{Classifier, Matrix, Regressor};
use anyhow::Result;

/// (training rows, test rows) of each fold.
pub type Folds = Vec<(Vec<usize>, Vec<usize>)>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for f64 {}
}

/// What one target is: a class label (`usize`, learned by a [`Classifier`]) or a real value
/// (`f64`, learned by a [`Regressor`]). Cross-validation, learning curves and
/// `Study::optimize_cv` read it from the `y` they are given, so one function serves both.
///
/// ```
/// use trainbook::evaluation::TargetValue;
/// assert!(<usize as TargetValue>::CLASSES && !<f64 as TargetValue>::CLASSES);
/// ```
pub trait TargetValue: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The models that learn these targets: `dyn Classifier` or `dyn Regressor`.
    type Model: ?Sized + Send + Sync;
    /// True for class labels.
    const CLASSES: bool;

    /// scikit-learn's folds for `cv=n_splits`: stratified without shuffling for class
    /// labels, in row order for values.
    ///
    /// ```
    /// use trainbook::evaluation::TargetValue;
    /// let by_class = usize::default_folds(&[0, 0, 1, 1], 2).unwrap();
    /// assert_eq!(by_class[0].1, [0, 2]);
    /// let in_order = f64::default_folds(&[0.5, 1.5, 2.5, 3.5], 2).unwrap();
    /// assert_eq!(in_order[0].1, [0, 1]);
    /// ```
    fn default_folds(y: &[Self], n_splits: usize) -> Result<Folds>;

    /// Fits `model` on `(x, y)`.
    fn fit(model: &mut Self::Model, x: &Matrix, y: &[Self]) -> Result<()>;

    /// Scores a fitted `model` on `(x, y)` by `scoring`.
    fn score(scoring: &Scoring, model: &Self::Model, x: &Matrix, y: &[Self]) -> Result<f64>;
}

impl TargetValue for usize {
    type Model = dyn Classifier;
    const CLASSES: bool = true;

    fn default_folds(y: &[usize], n_splits: usize) -> Result<Folds> {
        StratifiedKFold::new(n_splits).split_rows(y)
    }

    fn fit(model: &mut (dyn Classifier + 'static), x: &Matrix, y: &[usize]) -> Result<()> {
        model.fit(x, y)
    }

    fn score(scoring: &Scoring, model: &dyn Classifier, x: &Matrix, y: &[usize]) -> Result<f64> {
        scoring.score_classifier(model, x, y)
    }
}

impl TargetValue for f64 {
    type Model = dyn Regressor;
    const CLASSES: bool = false;

    fn default_folds(y: &[f64], n_splits: usize) -> Result<Folds> {
        KFold::new(n_splits).split_rows(y.len())
    }

    fn fit(model: &mut (dyn Regressor + 'static), x: &Matrix, y: &[f64]) -> Result<()> {
        model.fit(x, y)
    }

    fn score(scoring: &Scoring, model: &dyn Regressor, x: &Matrix, y: &[f64]) -> Result<f64> {
        scoring.score_regressor(model, x, y)
    }
}

/// A model that learns targets of type `Y`: every [`Classifier`] for `usize`, every
/// [`Regressor`] for `f64` (pipelines, `Standardized` wrappers and neural classifiers
/// included). What cross-validation, learning curves and searches take; implemented by the
/// two blanket impls, so nothing implements it by hand.
///
/// ```
/// use trainbook::prelude::*;
/// use trainbook::evaluation::{Estimator, TargetValue};
/// // A helper written once for every kind of model.
/// fn mean_score<Y: TargetValue>(model: &impl Estimator<Y>, x: &Matrix, y: &[Y], scoring: &str) -> f64 {
///     cross_val_score(model, x, y, 5, scoring).unwrap().iter().sum::<f64>() / 5.0
/// }
/// let iris = load_iris();
/// let (x, y) = (Matrix::features(&iris).unwrap(), iris.y_classes().unwrap());
/// assert!(mean_score(&Svc::rbf(), &x, &y, "accuracy") > 0.9);
/// let diabetes = load_diabetes();
/// let (x, y) = (Matrix::features(&diabetes).unwrap(), diabetes.y_values().unwrap());
/// assert!(mean_score(&LinearRegression::new(), &x, &y, "r2") > 0.4);
/// ```
pub trait Estimator<Y: TargetValue>: Send + Sync {
    /// A copy with the same settings and nothing learned.
    fn fresh(&self) -> Box<Y::Model>;
    /// The model and its main settings, for reports.
    fn estimator_name(&self) -> String;
}

impl<M: Classifier + ?Sized> Estimator<usize> for M {
    fn fresh(&self) -> Box<dyn Classifier> {
        self.unfitted()
    }
    fn estimator_name(&self) -> String {
        self.name()
    }
}

impl<M: Regressor + ?Sized> Estimator<f64> for M {
    fn fresh(&self) -> Box<dyn Regressor> {
        self.unfitted()
    }
    fn estimator_name(&self) -> String {
        self.name()
    }
}

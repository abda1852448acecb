//! Evaluating models the same way whatever they are: cross-validation and learning curves
//! over any classifier or regressor ([`Estimator`]) with any [`Scoring`], and a diagnosis of
//! over- and underfitting in words.

mod cross_validation;
mod diagnosis;
mod estimator;
mod scoring;

pub(crate) use cross_validation::scorer_for;
pub use cross_validation::{cross_val_score, cross_validate, CvResult};
pub use diagnosis::{diagnose_history, diagnose_scores, learning_curve, Diagnosis, LearningCurve};
pub use estimator::{Estimator, Folds, TargetValue};
pub use scoring::{IntoScoring, Scoring};

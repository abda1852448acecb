//! Evaluating models the same way whatever they are: cross-validation and learning curves
//! over any [`Classifier`](crate::models::Classifier) with any [`Scoring`], and a diagnosis of over- and
//! underfitting in words.

mod cross_validation;
mod diagnosis;
mod scoring;

pub use cross_validation::{
    cross_val_score, cross_val_score_regressor, cross_validate, cross_validate_regressor, CvResult,
};
pub use diagnosis::{diagnose_history, diagnose_scores, learning_curve, Diagnosis, LearningCurve};
pub use scoring::{IntoScoring, Scoring};

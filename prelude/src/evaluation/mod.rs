//! Evaluating models the same way whatever they are: cross-validation over any
//! [`Classifier`](crate::models::Classifier).

mod cross_validation;

pub use cross_validation::{cross_val_score, cross_validate, CvResult};

//! Hyperparameter tuning: search spaces, and studies that run grid, random or Bayesian search.

mod charts;
mod gp;
mod objective;
mod space;
mod study;

pub use charts::{ParallelCoordinates, ParamChart};
pub use space::{Kind, Param, Params, Space, Value};
pub use study::{Direction, MedianPruner, Pruned, Sampler, Study, Trial, TrialRecord, TrialState};

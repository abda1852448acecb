//! Training candle models: optimizers, schedules, losses, the loop with its history, early
//! stopping and checkpoints.

mod callbacks;
mod history;
mod live;
mod loss;
mod lr_finder;
mod optim;
mod schedule;
mod trainer;

pub use callbacks::{Checkpoints, EarlyStopping, Monitor};
pub use history::{EpochRecord, History};
pub use live::Progress;
pub use loss::Loss;
pub use lr_finder::{lr_finder, LrFinder};
pub use optim::{Method, Optimizer, OptimizerState};
pub use schedule::{PlateauState, Schedule};
pub use trainer::{evaluate, Evaluation, Fit, StopReason, Trainer};

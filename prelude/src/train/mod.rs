//! Training candle models: optimizers, schedules, losses, the loop with its history, early
//! stopping and checkpoints, and networks trained behind the models' `Classifier` interface
//! (`NeuralClassifier`). Training stands above `nn` (the networks) and `models`; neither
//! imports it.

mod callbacks;
mod classifier;
mod history;
mod live;
mod loss;
mod lr_finder;
mod optim;
mod schedule;
mod trainer;

pub use callbacks::{Checkpoints, EarlyStopping, Monitor};
pub use classifier::NeuralClassifier;
pub use history::{EpochRecord, History};
pub use live::Progress;
pub use loss::Loss;
pub use lr_finder::{lr_finder, LrFinder};
pub use optim::{Method, Optimizer, OptimizerState};
pub use schedule::{PlateauState, Schedule};
pub use trainer::{evaluate, Evaluation, FitReport, StopReason, Trainer};

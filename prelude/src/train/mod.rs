//! Training candle models: optimizers, schedules, losses, the loop with its history, early
//! stopping and checkpoints, and networks trained behind the models' `Classifier` and
//! `Regressor` interfaces (`NeuralClassifier`, `NeuralRegressor`). Training stands above `nn`
//! (the networks) and `models`; neither imports it.

mod callbacks;
mod history;
mod live;
mod loss;
mod lr_finder;
mod neural_net;
mod optim;
mod schedule;
mod trainer;

pub use callbacks::{Checkpoints, EarlyStopping, Monitor};
pub use history::{EpochRecord, History};
pub use live::Progress;
pub use loss::Loss;
pub use lr_finder::{lr_finder, LrFinder};
pub use neural_net::{NeuralClassifier, NeuralNet, NeuralRegressor};
pub use optim::{Method, Optimizer, OptimizerState};
pub use schedule::{PlateauState, Schedule};
pub use trainer::{evaluate, Evaluation, FitReport, StopReason, Trainer};

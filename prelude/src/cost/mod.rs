//! Cost and speed: how long a model takes to train and to answer (latency percentiles and
//! throughput, on which device), and what cloud training costs at an editable price table.

mod prices;
mod timing;

pub use prices::{CostEstimate, CostLine, Prices, Usage};
pub use timing::{device_name, Latency, TrainingTime};

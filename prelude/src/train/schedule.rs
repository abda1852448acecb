//! Learning-rate schedules, with PyTorch's formulas: step decay, cosine annealing, one-cycle
//! and reduce-on-plateau.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the learning rate changes during training. Per-batch schedules (cosine, one-cycle)
/// span the whole run; reduce-on-plateau reads the validation loss (or the training loss when
/// there is no validation data) after each epoch.
///
/// ```
/// use trainbook::prelude::*;
/// let schedule = Schedule::one_cycle(0.1);
/// // Starts at max_lr / 25, peaks at 30% of the run, ends near zero.
/// assert!((schedule.learning_rate(0.01, 0, 100, 0) - 0.004).abs() < 1e-12);
/// assert!((schedule.learning_rate(0.01, 29, 100, 0) - 0.1).abs() < 1e-12);
/// assert!(schedule.learning_rate(0.01, 99, 100, 0) < 1e-5);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The optimizer's learning rate throughout.
    Constant,
    /// Multiplied by `gamma` every `every` epochs.
    Step { every: usize, gamma: f64 },
    /// Cosine annealing from the optimizer's rate down to `min_lr` over all batches.
    Cosine { min_lr: f64 },
    /// Warm up from max_lr / div_factor to `max_lr` over the first `pct_start` of batches,
    /// then anneal to max_lr / (div_factor * final_div_factor) (cosine both ways).
    OneCycle {
        max_lr: f64,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    },
    /// Multiplied by `factor` when the monitored loss has not improved by a relative
    /// `threshold` for more than `patience` epochs; never below `min_lr`.
    ReduceOnPlateau {
        factor: f64,
        patience: usize,
        threshold: f64,
        min_lr: f64,
    },
}

impl Schedule {
    /// Step decay by `gamma` every `every` epochs.
    pub fn step(every: usize, gamma: f64) -> Schedule {
        Schedule::Step { every, gamma }
    }

    /// Cosine annealing to zero.
    pub fn cosine() -> Schedule {
        Schedule::Cosine { min_lr: 0.0 }
    }

    /// The one-cycle policy with PyTorch's defaults (pct_start 0.3, div 25, final div 1e4).
    pub fn one_cycle(max_lr: f64) -> Schedule {
        Schedule::OneCycle {
            max_lr,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }

    /// Reduce on plateau with PyTorch's threshold (1e-4, relative) and no minimum.
    pub fn reduce_on_plateau(factor: f64, patience: usize) -> Schedule {
        Schedule::ReduceOnPlateau {
            factor,
            patience,
            threshold: 1e-4,
            min_lr: 0.0,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        match *self {
            Schedule::Step { every: 0, .. } => bail!("Schedule::step: `every` must be >= 1 epoch"),
            Schedule::ReduceOnPlateau { factor, .. } if !(0.0 < factor && factor < 1.0) => {
                bail!("reduce_on_plateau: factor must be in (0, 1), got {factor}")
            }
            Schedule::OneCycle { pct_start, .. } if !(0.0 < pct_start && pct_start < 1.0) => {
                bail!("one_cycle: pct_start must be in (0, 1), got {pct_start}")
            }
            _ => Ok(()),
        }
    }

    /// The learning rate at batch `step` (0-based, counted over the whole run) of
    /// `total_steps`, in `epoch`, for an optimizer whose rate is `base`. Reduce-on-plateau's
    /// reductions are applied by the training loop on top of this.
    pub fn learning_rate(&self, base: f64, step: usize, total_steps: usize, epoch: usize) -> f64 {
        let anneal =
            |start: f64, end: f64, pct: f64| end + (start - end) / 2.0 * (1.0 + (PI * pct).cos());
        match *self {
            Schedule::Constant | Schedule::ReduceOnPlateau { .. } => base,
            Schedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine { min_lr } => {
                let progress = step as f64 / total_steps.max(1) as f64;
                anneal(base, min_lr, progress.min(1.0))
            }
            Schedule::OneCycle {
                max_lr,
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                let initial = max_lr / div_factor;
                let minimum = initial / final_div_factor;
                let warmup_end = pct_start * total_steps as f64 - 1.0;
                let step = step as f64;
                if step <= warmup_end {
                    anneal(initial, max_lr, step / warmup_end.max(1e-12))
                } else {
                    let span = (total_steps as f64 - 1.0 - warmup_end).max(1e-12);
                    anneal(max_lr, minimum, ((step - warmup_end) / span).min(1.0))
                }
            }
        }
    }
}

/// The epoch-to-epoch state of reduce-on-plateau (the training loop keeps one and saves it in
/// checkpoints; a hand-written loop can use it as PyTorch's `scheduler.step(loss)`).
///
/// ```
/// use trainbook::prelude::*;
/// let schedule = Schedule::reduce_on_plateau(0.5, 1);
/// let mut plateau = PlateauState::new();
/// for loss in [1.0, 0.9, 0.95, 0.96] {
///     plateau.end_epoch(&schedule, 0.1, loss);
/// }
/// assert_eq!(plateau.scale, 0.5); // two epochs without improvement, patience 1
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The factor applied to the schedule's rate so far.
    pub scale: f64,
    /// The best monitored loss so far.
    pub best: Option<f64>,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
}

impl PlateauState {
    /// No epochs seen, scale 1.
    pub fn new() -> PlateauState {
        PlateauState {
            scale: 1.0,
            best: None,
            bad_epochs: 0,
        }
    }

    /// Reads the epoch's monitored loss; returns true when the rate was reduced.
    pub fn end_epoch(&mut self, schedule: &Schedule, base: f64, loss: f64) -> bool {
        let Schedule::ReduceOnPlateau {
            factor,
            patience,
            threshold,
            min_lr,
        } = *schedule
        else {
            return false;
        };
        let improved = self.best.is_none_or(|best| loss < best * (1.0 - threshold));
        if improved {
            self.best = Some(loss);
            self.bad_epochs = 0;
            return false;
        }
        self.bad_epochs += 1;
        if self.bad_epochs > patience {
            self.bad_epochs = 0;
            let reduced = (base * self.scale * factor).max(min_lr);
            if base * self.scale - reduced > 1e-12 * base {
                self.scale = reduced / base;
                return true;
            }
        }
        false
    }
}

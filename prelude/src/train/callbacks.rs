//! Early stopping and checkpoints: what the training loop does at the end of each epoch.

use super::history::EpochRecord;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The number an epoch is judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Monitor {
    ValidationLoss,
    ValidationAccuracy,
    TrainLoss,
}

impl Monitor {
    /// The monitored value of an epoch, if it was measured.
    pub fn value(self, record: &EpochRecord) -> Option<f64> {
        match self {
            Monitor::ValidationLoss => record.validation_loss,
            Monitor::ValidationAccuracy => record.validation_accuracy,
            Monitor::TrainLoss => Some(record.train_loss),
        }
    }

    /// True when `value` is better than `best` by more than `min_delta`.
    pub fn improves(self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => value.is_finite(),
            Some(best) if self == Monitor::ValidationAccuracy => value > best + min_delta,
            Some(best) => value < best - min_delta,
        }
    }

    pub(crate) fn check(self, has_validation: bool) -> Result<()> {
        if !has_validation && self != Monitor::TrainLoss {
            bail!("{self:?} is monitored but fit was given no validation data; pass a validation loader or monitor Monitor::TrainLoss");
        }
        Ok(())
    }
}

/// Stops training when the monitored number has not improved for `patience` epochs, and (by
/// default) puts back the weights of the best epoch: when the stop fires, and also when the
/// epochs run out first.
///
/// ```
/// use trainbook::prelude::*;
/// let stopping = EarlyStopping::new(5).min_delta(1e-4).monitor(Monitor::ValidationAccuracy);
/// assert!(stopping.restore_best);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    pub patience: usize,
    pub min_delta: f64,
    pub monitor: Monitor,
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Stop after `patience` epochs without a better validation loss; restore the best weights.
    pub fn new(patience: usize) -> EarlyStopping {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            monitor: Monitor::ValidationLoss,
            restore_best: true,
        }
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, delta: f64) -> EarlyStopping {
        self.min_delta = delta;
        self
    }

    /// What to watch (validation loss by default).
    pub fn monitor(mut self, monitor: Monitor) -> EarlyStopping {
        self.monitor = monitor;
        self
    }

    /// Whether to put back the best epoch's weights at the end (true by default).
    pub fn restore_best(mut self, restore: bool) -> EarlyStopping {
        self.restore_best = restore;
        self
    }
}

/// Checkpoints written during training, each a safetensors file holding the weights, the
/// optimizer state and the history so far (enough to resume), written atomically (temporary
/// file, then rename): `last.safetensors` after every epoch, and `best-epoch-NNNN.safetensors`
/// for the `keep_best` best epochs (older ones are deleted).
///
/// ```
/// use trainbook::prelude::*;
/// let checkpoints = Checkpoints::new("runs/digits").keep_best(3);
/// assert_eq!(checkpoints.last_path(), std::path::Path::new("runs/digits/last.safetensors"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoints {
    pub folder: PathBuf,
    pub keep_best: usize,
    pub keep_last: bool,
    pub monitor: Monitor,
}

impl Checkpoints {
    /// Checkpoints in `folder`, keeping the best one (by validation loss) and the last.
    pub fn new(folder: impl AsRef<Path>) -> Checkpoints {
        Checkpoints {
            folder: folder.as_ref().to_path_buf(),
            keep_best: 1,
            keep_last: true,
            monitor: Monitor::ValidationLoss,
        }
    }

    /// How many best epochs to keep (0 for none).
    pub fn keep_best(mut self, count: usize) -> Checkpoints {
        self.keep_best = count;
        self
    }

    /// Whether to write `last.safetensors` after every epoch.
    pub fn keep_last(mut self, keep: bool) -> Checkpoints {
        self.keep_last = keep;
        self
    }

    /// What "best" means (validation loss by default).
    pub fn monitor(mut self, monitor: Monitor) -> Checkpoints {
        self.monitor = monitor;
        self
    }

    /// Where the last epoch's checkpoint goes.
    pub fn last_path(&self) -> PathBuf {
        self.folder.join("last.safetensors")
    }

    /// Where a best epoch's checkpoint goes.
    pub fn best_path(&self, epoch: usize) -> PathBuf {
        self.folder
            .join(format!("best-epoch-{epoch:04}.safetensors"))
    }
}

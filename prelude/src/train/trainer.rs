//! The training loop: epochs of mini-batches, validation, schedules, penalties, clipping,
//! early stopping, checkpoints and resume, live progress, and a clean stop on interrupt.

use super::callbacks::{Checkpoints, EarlyStopping, Monitor};
use super::history::{EpochRecord, History};
use super::live::{LiveView, Position, Progress};
use super::loss::Loss;
use super::optim::{Optimizer, OptimizerState};
use super::schedule::{PlateauState, Schedule};
use crate::data::DataLoader;
use crate::display::{html_escape, MimeBundle, Render};
use crate::nn::{save_tensors_atomically, Network, OutputHead, Parameter};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a training run is done. Build with [`Trainer::new`] and the chained setters; `fit` can
/// be called any number of times (on fresh models, or to continue training one).
///
/// ```
/// use trainbook::prelude::*;
/// let data = make_moons(400, 0.1, 3).unwrap();
/// let split = train_test_split(&data.frame, 0.25, 0).unwrap();
/// let train = DataLoader::from_frame(&split.train, &data.feature_names, "target", 32, &Device::Cpu).unwrap().shuffle(1);
/// let test = DataLoader::from_frame(&split.test, &data.feature_names, "target", 256, &Device::Cpu).unwrap();
/// let model = Mlp::new(MlpConfig::classifier(2, &[32, 32], 2).device(&Device::Cpu)).unwrap();
/// let fit = Trainer::new()
///     .epochs(40)
///     .optimizer(Optimizer::adam(0.01))
///     .early_stopping(EarlyStopping::new(10))
///     .fit(&model, &train, Some(&test))
///     .unwrap();
/// assert!(fit.history.validation_accuracy().last().unwrap() > &0.95);
/// ```
#[derive(Clone, Debug)]
pub struct Trainer {
    pub epochs: usize,
    pub optimizer: Optimizer,
    pub schedule: Schedule,
    /// `None`: the usual loss for the model's head.
    pub loss: Option<Loss>,
    /// L1 penalty on weight matrices and kernels (not biases or norms), added to the loss.
    pub l1: f64,
    /// L2 penalty on weight matrices and kernels, added to the loss (`lambda * sum(w²)`).
    pub l2: f64,
    /// Gradients are rescaled so that their global norm is at most this.
    pub clip_norm: Option<f64>,
    pub early_stopping: Option<EarlyStopping>,
    pub checkpoints: Option<Checkpoints>,
    /// A checkpoint to continue from (weights, optimizer state, history, epoch).
    pub resume_from: Option<PathBuf>,
    pub progress: Progress,
}

impl Default for Trainer {
    fn default() -> Self {
        Trainer::new()
    }
}

/// Why training ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// Early stopping fired after this epoch.
    EarlyStopped { epoch: usize },
    /// The user pressed stop; the batch that had just finished.
    Interrupted { epoch: usize, batch: usize },
    /// The loss became NaN or infinite in this epoch (try a lower learning rate or clipping).
    Diverged { epoch: usize },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Completed => write!(f, "completed"),
            StopReason::EarlyStopped { epoch } => write!(f, "stopped early after epoch {epoch}"),
            StopReason::Interrupted { epoch, batch } => {
                write!(f, "interrupted in epoch {epoch} after batch {batch}")
            }
            StopReason::Diverged { epoch } => write!(
                f,
                "stopped: the loss became NaN or infinite in epoch {epoch} (lower the learning \
                 rate or set clip_norm)"
            ),
        }
    }
}

/// What `fit` returns: the history, why it ended, and the best epoch.
#[derive(Clone, Debug)]
pub struct FitReport {
    pub history: History,
    pub stopped: StopReason,
    /// The best epoch by the early-stopping (or else validation-loss) monitor.
    pub best_epoch: Option<usize>,
    /// True when the best epoch's weights were put back at the end.
    pub restored_best: bool,
    best_weights: Option<HashMap<String, Tensor>>,
}

impl FitReport {
    /// Puts the best epoch's weights into `model` (kept when early stopping was on, also after
    /// an interrupt, which leaves the model as trained so far).
    pub fn restore_best(&self, model: &dyn Network) -> Result<()> {
        match &self.best_weights {
            Some(weights) => model.parameters().load(weights, false).map(|_| ()),
            None => bail!("no best weights were kept; train with early_stopping to keep them"),
        }
    }

    /// A one-line description of how the run ended.
    pub fn outcome(&self) -> String {
        let mut text = format!("Training {}", self.stopped);
        if let Some(best) = self.best_epoch {
            text += &format!("; best epoch {best}");
        }
        if self.restored_best {
            text += " (its weights restored)";
        }
        text
    }
}

impl Render for FitReport {
    fn mime_bundle(&self) -> MimeBundle {
        let html = format!(
            "{}{}",
            self.history.charts_html(),
            self.history.table_html(usize::MAX)
        );
        MimeBundle::text(format!("{}\n{}", self.outcome(), self.history.text())).with(
            "text/html",
            format!("<p>{}</p>{html}", html_escape(&self.outcome())),
        )
    }
}

/// Loss and accuracy of a model on a loader's batches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    /// For classifiers.
    pub accuracy: Option<f64>,
}

/// The model's mean loss (and accuracy for classifiers) on all batches of `loader`, in
/// evaluation mode.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let loader = DataLoader::from_frame(&iris.frame, &iris.feature_names, "target", 50, &Device::Cpu).unwrap();
/// let model = Mlp::new(MlpConfig::classifier(4, &[8], 3).device(&Device::Cpu)).unwrap();
/// let result = evaluate(&model, &loader, &Loss::cross_entropy()).unwrap();
/// assert!(result.loss > 0.0 && result.accuracy.is_some());
/// ```
pub fn evaluate(model: &dyn Network, loader: &DataLoader, loss: &Loss) -> Result<Evaluation> {
    loss.check(model.head())?;
    let (mut total_loss, mut correct, mut seen) = (0.0, 0usize, 0usize);
    for batch in loader.epoch(0) {
        let (x, y) = batch?;
        let n = x.dim(0)?;
        let outputs = model.forward_t(&x, false)?;
        total_loss += loss
            .compute(&outputs, &y)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?
            * n as f64;
        if model.head().is_classifier() {
            correct += correct_count(&outputs, &y, model.head())?;
        }
        seen += n;
    }
    if seen == 0 {
        bail!("evaluate: the loader has no samples");
    }
    Ok(Evaluation {
        loss: total_loss / seen as f64,
        accuracy: model
            .head()
            .is_classifier()
            .then(|| correct as f64 / seen as f64),
    })
}

fn correct_count(outputs: &Tensor, targets: &Tensor, head: OutputHead) -> Result<usize> {
    let predicted = match head {
        OutputHead::Binary => outputs.flatten_all()?.ge(0.0)?.to_dtype(DType::U32)?,
        _ => outputs.argmax(D::Minus1)?,
    };
    let truth = targets.flatten_all()?.to_dtype(DType::U32)?;
    Ok(predicted
        .eq(&truth)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()? as usize)
}

/// What a checkpoint stores besides tensors (as JSON in a U8 tensor, so one file holds all).
#[derive(Serialize, Deserialize)]
struct CheckpointState {
    epoch: usize,
    optimizer_steps: u64,
    optimizer: String,
    history: History,
    plateau: PlateauState,
    monitor_best: Option<f64>,
    epochs_without_improvement: usize,
    /// Early stopping's best epoch (checkpoints from before it was saved lack it).
    #[serde(default)]
    best_epoch: Option<usize>,
}

const STATE_TENSOR: &str = "trainbook/state";
/// Early stopping's best weights so far, saved in the last checkpoint under this prefix so that
/// a resumed run can still restore them (the best epoch may be from before the resume).
const BEST_PREFIX: &str = "trainbook/best/";

/// Mutable state of one run.
struct Run {
    optimizer: OptimizerState,
    plateau: PlateauState,
    history: History,
    start_epoch: usize,
    monitor_best: Option<f64>,
    epochs_without_improvement: usize,
    best_weights: Option<HashMap<String, Tensor>>,
    best_epoch: Option<usize>,
    /// (monitored value, epoch) of the best-k checkpoint files on disk.
    kept: Vec<(f64, usize)>,
}

impl Trainer {
    /// 10 epochs of Adam at 1e-3, constant rate, the head's usual loss, no penalties.
    pub fn new() -> Trainer {
        Trainer {
            epochs: 10,
            optimizer: Optimizer::adam(1e-3),
            schedule: Schedule::Constant,
            loss: None,
            l1: 0.0,
            l2: 0.0,
            clip_norm: None,
            early_stopping: None,
            checkpoints: None,
            resume_from: None,
            progress: Progress::Auto,
        }
    }

    /// The number of epochs (when resuming: the total, counting the epochs already done).
    pub fn epochs(mut self, epochs: usize) -> Trainer {
        self.epochs = epochs;
        self
    }

    pub fn optimizer(mut self, optimizer: Optimizer) -> Trainer {
        self.optimizer = optimizer;
        self
    }

    pub fn schedule(mut self, schedule: Schedule) -> Trainer {
        self.schedule = schedule;
        self
    }

    pub fn loss(mut self, loss: Loss) -> Trainer {
        self.loss = Some(loss);
        self
    }

    /// L1 penalty strength on weight matrices and kernels.
    pub fn l1(mut self, lambda: f64) -> Trainer {
        self.l1 = lambda;
        self
    }

    /// L2 penalty strength on weight matrices and kernels.
    pub fn l2(mut self, lambda: f64) -> Trainer {
        self.l2 = lambda;
        self
    }

    /// Clip gradients to this global norm.
    pub fn clip_norm(mut self, max_norm: f64) -> Trainer {
        self.clip_norm = Some(max_norm);
        self
    }

    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Trainer {
        self.early_stopping = Some(early_stopping);
        self
    }

    pub fn checkpoints(mut self, checkpoints: Checkpoints) -> Trainer {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Continue from a checkpoint written by [`Checkpoints`].
    pub fn resume_from(mut self, path: impl AsRef<Path>) -> Trainer {
        self.resume_from = Some(path.as_ref().to_path_buf());
        self
    }

    /// How progress is shown (live in a notebook by default).
    pub fn progress(mut self, progress: Progress) -> Trainer {
        self.progress = progress;
        self
    }

    fn loss_for(&self, head: OutputHead) -> Loss {
        self.loss.clone().unwrap_or_else(|| Loss::for_head(head))
    }

    fn validate(
        &self,
        model: &dyn Network,
        train: &DataLoader,
        validation: Option<&DataLoader>,
    ) -> Result<()> {
        self.optimizer.validate()?;
        self.schedule.validate()?;
        self.loss_for(model.head()).check(model.head())?;
        if train.is_empty() {
            bail!("fit: the training loader has no samples");
        }
        if train.batches_per_epoch() == 0 {
            bail!(
                "fit: drop_last leaves no batch ({} samples, batch size {}); lower the batch size",
                train.len(),
                train.batch_size()
            );
        }
        if let Some(stopping) = &self.early_stopping {
            stopping.monitor.check(validation.is_some())?;
        }
        if let Some(checkpoints) = &self.checkpoints {
            if checkpoints.keep_best > 0 {
                checkpoints.monitor.check(validation.is_some())?;
            }
        }
        if model.parameters().trainable_count() == 0 {
            bail!("fit: every parameter is frozen; unfreeze some layers to train");
        }
        let shape = model.input_shape();
        let (sample, _) = train.epoch(0).next().context("no batch")??;
        crate::nn::check_input(&sample, &shape)?;
        Ok(())
    }

    /// Trains `model` on `train`, validating on `validation` after each epoch. Stops at the
    /// end of the epochs, by early stopping, on divergence, or at the end of the current batch
    /// when the user interrupts; in every case it returns the history and the model keeps its
    /// weights (the best epoch's when early stopping restores them).
    pub fn fit(
        &self,
        model: &dyn Network,
        train: &DataLoader,
        validation: Option<&DataLoader>,
    ) -> Result<FitReport> {
        self.fit_with(model, train, validation, &mut |_| Ok(()))
    }

    /// [`Trainer::fit`], calling `on_epoch` after every epoch; an error from it ends training
    /// and is returned (a tuning trial's `report` uses this to prune).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let loader = DataLoader::from_frame(&iris.frame, &iris.feature_names, "target", 32, &Device::Cpu).unwrap();
    /// let model = Mlp::new(MlpConfig::classifier(4, &[8], 3).device(&Device::Cpu)).unwrap();
    /// let mut seen = Vec::new();
    /// let result = Trainer::new().epochs(10).fit_with(&model, &loader, None, &mut |epoch| {
    ///     seen.push(epoch.epoch);
    ///     if epoch.epoch == 3 { anyhow::bail!("enough") } else { Ok(()) }
    /// });
    /// assert!(result.is_err());
    /// assert_eq!(seen, [1, 2, 3]);
    /// ```
    pub fn fit_with(
        &self,
        model: &dyn Network,
        train: &DataLoader,
        validation: Option<&DataLoader>,
        on_epoch: &mut dyn FnMut(&EpochRecord) -> Result<()>,
    ) -> Result<FitReport> {
        self.validate(model, train, validation)?;
        let head = model.head();
        let loss_fn = self.loss_for(head);
        let params = model.parameters();
        let mut run = Run {
            optimizer: OptimizerState::new(self.optimizer.clone()),
            plateau: PlateauState::new(),
            history: History::default(),
            start_epoch: 0,
            monitor_best: None,
            epochs_without_improvement: 0,
            best_weights: None,
            best_epoch: None,
            kept: Vec::new(),
        };
        if let Some(path) = &self.resume_from {
            self.resume(model, path, &mut run)?;
        }
        let batches = train.batches_per_epoch();
        let total_steps = self.epochs * batches;
        let steps_before = run.start_epoch * batches;
        let mut view = LiveView::new(self.progress);
        let mut position = Position {
            epoch: run.start_epoch + 1,
            epochs: self.epochs,
            batch: 0,
            batches,
            done: 0,
            total: total_steps.saturating_sub(steps_before),
            running_loss: f64::NAN,
        };
        let penalised: Vec<Parameter> = params
            .trainable()
            .into_iter()
            .filter(|p| p.var.rank() >= 2)
            .collect();
        let mut stopped = StopReason::Completed;
        'epochs: for epoch in run.start_epoch..self.epochs {
            let started = Instant::now();
            let trainable = params.trainable();
            let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
            let mut lr = self.optimizer.learning_rate;
            position.epoch = epoch + 1;
            model.seed_epoch(epoch);
            for (b, batch) in train.epoch(epoch).enumerate() {
                let (x, y) = batch?;
                let n = x.dim(0)?;
                let step = epoch * batches + b;
                lr = self.schedule.learning_rate(
                    self.optimizer.learning_rate,
                    step,
                    total_steps,
                    epoch,
                ) * run.plateau.scale;
                let outputs = model.forward_t(&x, true)?;
                let data_loss = loss_fn.compute(&outputs, &y)?;
                let mut objective = data_loss.clone();
                if self.l1 > 0.0 || self.l2 > 0.0 {
                    for p in &penalised {
                        let w = p.var.as_tensor();
                        if self.l2 > 0.0 {
                            objective = (objective + (w.sqr()?.sum_all()? * self.l2)?)?;
                        }
                        if self.l1 > 0.0 {
                            objective = (objective + (w.abs()?.sum_all()? * self.l1)?)?;
                        }
                    }
                }
                let mut grads = objective.backward()?;
                if let Some(max_norm) = self.clip_norm {
                    clip_gradients(&trainable, &mut grads, max_norm)?;
                }
                run.optimizer.step(&trainable, &grads, lr)?;
                let batch_loss = data_loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                if !batch_loss.is_finite() {
                    stopped = StopReason::Diverged { epoch: epoch + 1 };
                    break 'epochs;
                }
                loss_sum += batch_loss * n as f64;
                seen += n;
                if head.is_classifier() {
                    correct += correct_count(&outputs.detach(), &y, head)?;
                }
                position.batch = b + 1;
                position.done += 1;
                position.running_loss = loss_sum / seen as f64;
                view.update(&position, &run.history, false);
                if crate::runtime::interrupted() {
                    stopped = StopReason::Interrupted {
                        epoch: epoch + 1,
                        batch: b + 1,
                    };
                    break 'epochs;
                }
            }
            let validation_result = match validation {
                Some(loader) => Some(evaluate(model, loader, &loss_fn)?),
                None => None,
            };
            let record = EpochRecord {
                epoch: epoch + 1,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: head
                    .is_classifier()
                    .then(|| correct as f64 / seen.max(1) as f64),
                validation_loss: validation_result.map(|v| v.loss),
                validation_accuracy: validation_result.and_then(|v| v.accuracy),
                learning_rate: lr,
                seconds: started.elapsed().as_secs_f64(),
            };
            let plateau_loss = record.validation_loss.unwrap_or(record.train_loss);
            run.plateau
                .end_epoch(&self.schedule, self.optimizer.learning_rate, plateau_loss);
            run.history.epochs.push(record.clone());
            if record.validation_loss.is_some_and(|l| !l.is_finite()) {
                stopped = StopReason::Diverged { epoch: epoch + 1 };
                break;
            }
            let stop = self.after_epoch(model, &record, &mut run)?;
            view.epoch_done(&run.history);
            view.update(&position, &run.history, false);
            if let Err(error) = on_epoch(&record) {
                view.finish(
                    &position,
                    &run.history,
                    &format!("Training stopped: {error:#}"),
                );
                return Err(error);
            }
            if stop {
                stopped = StopReason::EarlyStopped { epoch: epoch + 1 };
                break;
            }
        }
        let restore = self.early_stopping.as_ref().is_some_and(|s| s.restore_best)
            && !matches!(stopped, StopReason::Interrupted { .. });
        let mut restored_best = false;
        if restore {
            if let Some(weights) = &run.best_weights {
                params.load(weights, false)?;
                restored_best = true;
            }
        }
        let best_epoch = run.best_epoch.or_else(|| run.history.best_epoch());
        let fit = FitReport {
            history: run.history,
            stopped,
            best_epoch,
            restored_best,
            best_weights: run.best_weights,
        };
        view.finish(&position, &fit.history, &fit.outcome());
        Ok(fit)
    }

    /// Early stopping and checkpoints; returns true when training should stop.
    fn after_epoch(
        &self,
        model: &dyn Network,
        record: &EpochRecord,
        run: &mut Run,
    ) -> Result<bool> {
        let mut stop = false;
        if let Some(stopping) = &self.early_stopping {
            if let Some(value) = stopping.monitor.value(record) {
                if stopping
                    .monitor
                    .improves(value, run.monitor_best, stopping.min_delta)
                {
                    run.monitor_best = Some(value);
                    run.epochs_without_improvement = 0;
                    run.best_epoch = Some(record.epoch);
                    run.best_weights = Some(model.parameters().snapshot()?);
                } else {
                    run.epochs_without_improvement += 1;
                    stop = run.epochs_without_improvement >= stopping.patience;
                }
            }
        }
        if let Some(checkpoints) = &self.checkpoints {
            self.write_checkpoints(model, checkpoints, record, run)?;
        }
        Ok(stop)
    }

    fn write_checkpoints(
        &self,
        model: &dyn Network,
        checkpoints: &Checkpoints,
        record: &EpochRecord,
        run: &mut Run,
    ) -> Result<()> {
        let mut tensors = model.parameters().snapshot()?;
        tensors.extend(run.optimizer.to_tensors()?);
        let state = CheckpointState {
            epoch: record.epoch,
            optimizer_steps: run.optimizer.steps,
            optimizer: self.optimizer.to_string(),
            history: run.history.clone(),
            plateau: run.plateau.clone(),
            monitor_best: run.monitor_best,
            epochs_without_improvement: run.epochs_without_improvement,
            best_epoch: run.best_epoch,
        };
        let json = serde_json::to_vec(&state)?;
        let length = json.len();
        tensors.insert(
            STATE_TENSOR.to_string(),
            Tensor::from_vec(json, length, &Device::Cpu)?,
        );
        if checkpoints.keep_last {
            let mut last = tensors.clone();
            if let Some(best) = &run.best_weights {
                last.extend(
                    best.iter()
                        .map(|(name, value)| (format!("{BEST_PREFIX}{name}"), value.clone())),
                );
            }
            save_tensors_atomically(&last, &checkpoints.last_path())?;
        }
        if checkpoints.keep_best > 0 {
            if let Some(value) = checkpoints.monitor.value(record) {
                let better = |a: f64, b: f64| {
                    if checkpoints.monitor == Monitor::ValidationAccuracy {
                        a > b
                    } else {
                        a < b
                    }
                };
                let worst = run
                    .kept
                    .iter()
                    .copied()
                    .reduce(|w, k| if better(w.0, k.0) { k } else { w });
                let qualifies = run.kept.len() < checkpoints.keep_best
                    || worst.is_some_and(|(w, _)| better(value, w));
                if qualifies && value.is_finite() {
                    save_tensors_atomically(&tensors, &checkpoints.best_path(record.epoch))?;
                    run.kept.push((value, record.epoch));
                    if run.kept.len() > checkpoints.keep_best {
                        if let Some((w, e)) = worst {
                            run.kept.retain(|&(_, k)| k != e);
                            let _ = w;
                            let _ = std::fs::remove_file(checkpoints.best_path(e));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn resume(&self, model: &dyn Network, path: &Path, run: &mut Run) -> Result<()> {
        let device = model.parameters().device().clone();
        let tensors = candle_core::safetensors::load(path, &device)
            .with_context(|| format!("could not read the checkpoint {}", path.display()))?;
        let state = tensors.get(STATE_TENSOR).with_context(|| {
            format!(
                "{} holds weights but no training state; load it with model.load(path) to use \
                 the weights, or resume from a file written by Checkpoints",
                path.display()
            )
        })?;
        let state: CheckpointState =
            serde_json::from_slice(&state.to_device(&Device::Cpu)?.to_vec1::<u8>()?)
                .context("the checkpoint's training state is unreadable")?;
        if state.epoch >= self.epochs {
            bail!(
                "the checkpoint is from epoch {} and this trainer stops at epoch {}; set \
                 .epochs() to the total number of epochs wanted",
                state.epoch,
                self.epochs
            );
        }
        model.parameters().load(&tensors, false)?;
        run.optimizer
            .load_tensors(&tensors, state.optimizer_steps)?;
        run.plateau = state.plateau;
        run.history = state.history;
        run.start_epoch = state.epoch;
        run.monitor_best = state.monitor_best;
        run.epochs_without_improvement = state.epochs_without_improvement;
        if self.early_stopping.is_some() {
            run.best_epoch = state.best_epoch.or_else(|| run.history.best_epoch());
            let best: HashMap<String, Tensor> = tensors
                .iter()
                .filter_map(|(name, value)| {
                    let name = name.strip_prefix(BEST_PREFIX)?;
                    Some((name.to_string(), value.clone()))
                })
                .collect();
            if !best.is_empty() {
                run.best_weights = Some(best);
            }
        }
        Ok(())
    }
}

/// Rescales all gradients so that their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`).
fn clip_gradients(
    params: &[Parameter],
    grads: &mut candle_core::backprop::GradStore,
    max_norm: f64,
) -> Result<()> {
    let mut squared = 0.0;
    for p in params {
        if let Some(g) = grads.get(p.var.as_tensor()) {
            squared += g
                .sqr()?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
        }
    }
    let norm = squared.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for p in params {
            if let Some(g) = grads.remove(p.var.as_tensor()) {
                grads.insert(p.var.as_tensor(), (g.detach() * scale)?);
            }
        }
    }
    Ok(())
}

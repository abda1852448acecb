//! Neural networks behind the [`Classifier`] interface, so that cross-validation, learning
//! curves and tuning treat an MLP like a random forest.

use super::{Mlp, MlpConfig, Network};
use crate::data::DataLoader;
use crate::models::{Classifier, Matrix};
use crate::train::{Progress, Trainer};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};

/// An MLP classifier with scikit-learn's shape: every `fit` builds a fresh network for the
/// data's width and classes and trains it with the trainer (quietly); `predict_proba` is the
/// softmax. Scale the features first (a [`crate::data::Pipeline`] with a scaler).
///
/// ```
/// use trainbook::prelude::*;
/// let data = make_moons(300, 0.1, 0).unwrap();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
/// let model = NeuralClassifier::mlp(&[16, 16])
///     .trainer(Trainer::new().epochs(60).optimizer(Optimizer::adam(0.01)))
///     .device(&Device::Cpu);
/// let scores = cross_val_score(&model, &x, &y, 3, "accuracy").unwrap();
/// assert!(scores.iter().all(|&s| s > 0.9), "{scores:?}");
/// ```
pub struct NeuralClassifier {
    config: MlpConfig,
    trainer: Trainer,
    batch_size: usize,
    model: Option<Mlp>,
}

impl NeuralClassifier {
    /// An MLP with these hidden layers (ReLU), trained for 10 epochs of Adam(1e-3) with
    /// batches of 32.
    pub fn mlp(hidden: &[usize]) -> NeuralClassifier {
        NeuralClassifier {
            config: MlpConfig::classifier(1, hidden, 2),
            trainer: Trainer::new(),
            batch_size: 32,
            model: None,
        }
    }

    /// The network's settings (activation, dropout, batch norm, seed); its input width and
    /// classes are set by `fit`.
    pub fn config(mut self, config: MlpConfig) -> NeuralClassifier {
        self.config = config;
        self
    }

    /// How each fit trains (epochs, optimizer, schedule, penalties, early stopping needs
    /// validation data and is not available here).
    pub fn trainer(mut self, trainer: Trainer) -> NeuralClassifier {
        self.trainer = trainer.progress(Progress::Quiet);
        self
    }

    /// Rows per batch.
    pub fn batch_size(mut self, batch_size: usize) -> NeuralClassifier {
        self.batch_size = batch_size;
        self
    }

    /// The device to train on.
    pub fn device(mut self, device: &Device) -> NeuralClassifier {
        self.config = self.config.device(device);
        self
    }

    /// The trained network, after `fit`.
    pub fn network(&self) -> Option<&Mlp> {
        self.model.as_ref()
    }

    fn tensor(&self, x: &Matrix) -> Result<Tensor> {
        Ok(
            Tensor::from_slice(x.as_slice(), (x.rows(), x.cols()), &self.config.device)?
                .to_dtype(DType::F32)?,
        )
    }

    fn fitted(&self) -> Result<&Mlp> {
        self.model
            .as_ref()
            .context("this NeuralClassifier is not fitted yet; call fit first")
    }
}

impl Classifier for NeuralClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        if x.rows() != y.len() {
            bail!("{} samples but {} labels", x.rows(), y.len());
        }
        let classes = y.iter().max().map_or(0, |&m| m + 1).max(2);
        let mut config = self.config.clone();
        config.inputs = x.cols();
        config.head = super::Head::Classes(classes);
        let model = Mlp::new(config)?;
        let labels: Vec<u32> = y.iter().map(|&c| c as u32).collect();
        let loader = DataLoader::new(
            self.tensor(x)?,
            Tensor::new(labels, &self.config.device)?,
            self.batch_size,
        )?
        .shuffle(self.config.seed);
        self.trainer
            .clone()
            .progress(Progress::Quiet)
            .fit(&model, &loader, None)?;
        self.model = Some(model);
        Ok(())
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        self.fitted()?.predict(&self.tensor(x)?)
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let p = self
            .fitted()?
            .predict_proba(&self.tensor(x)?)?
            .to_dtype(DType::F64)?;
        let (rows, cols) = p.dims2()?;
        Matrix::new(rows, cols, p.flatten_all()?.to_vec1()?)
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(NeuralClassifier {
            config: self.config.clone(),
            trainer: self.trainer.clone(),
            batch_size: self.batch_size,
            model: None,
        })
    }

    fn name(&self) -> String {
        let hidden: Vec<String> = self.config.hidden.iter().map(|h| h.to_string()).collect();
        format!(
            "MLP({}; {} epochs, {})",
            hidden.join("-"),
            self.trainer.epochs,
            self.trainer.optimizer
        )
    }
}

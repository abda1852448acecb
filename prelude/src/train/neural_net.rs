//! Neural networks behind the [`Classifier`] and [`Regressor`] interfaces, so that
//! cross-validation, learning curves, scoring and tuning treat an MLP, a CNN, an LSTM or a text
//! classifier like a random forest, on the same folds. One type, [`NeuralNet`], with a name
//! for each kind of target: [`NeuralClassifier`] (class labels) and [`NeuralRegressor`]
//! (real values), as scikit-learn's `MLPClassifier` and `MLPRegressor`.

use super::{Progress, Trainer};
use crate::data::DataLoader;
use crate::models::{Classifier, Matrix, Regressor};
use crate::nn::OutputHead;
use crate::nn::{Cnn, CnnConfig, Mlp, MlpConfig, Network, Rnn, RnnConfig};
use crate::nn::{TextClassifier, TextClassifierConfig};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use std::marker::PhantomData;
use std::sync::Arc;

/// Builds a fresh, untrained network on a device.
type Build = dyn Fn(&Device) -> Result<Box<dyn Network>> + Send + Sync;

/// What each `fit` builds.
#[derive(Clone)]
enum Architecture {
    /// Sized by the data: as many inputs as columns, as many outputs as classes.
    Mlp(MlpConfig),
    /// Built as configured; each row of the data is one input sample, flattened.
    Fixed {
        name: String,
        device: Device,
        build: Arc<Build>,
    },
}

/// A neural network with scikit-learn's shape, by its targets: [`NeuralClassifier`] (class
/// labels) or [`NeuralRegressor`] (values). Every `fit` builds a fresh network (same seed, same
/// starting weights) and trains it with the trainer (quietly); a classifier's
/// `predict_proba` is the softmax. Each row of the [`Matrix`] is one sample, flattened: 64 columns for an 8x8
/// grey image (a CNN reads them as `[1, 8, 8]`), `steps x features` for a sequence, token ids
/// for text. Scale the features first (`Standardized`, or a scaler in a
/// [`crate::data::Pipeline`]).
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
pub struct NeuralNet<Target> {
    architecture: Architecture,
    trainer: Trainer,
    batch_size: usize,
    /// The order batches are drawn in.
    shuffle_seed: u64,
    model: Option<Box<dyn Network>>,
    /// What it learns: `usize` class labels or `f64` values.
    target: PhantomData<Target>,
}

/// A neural network that learns class labels: a [`Classifier`].
pub type NeuralClassifier = NeuralNet<usize>;

/// A neural network that learns real values: a [`Regressor`]. Built like a
/// [`NeuralClassifier`]; an MLP gets one linear output, a network built by hand needs a
/// regression head (`MlpConfig::regressor`, `RnnConfig::regressor`).
///
/// ```
/// use trainbook::prelude::*;
/// let data = load_diabetes();
/// let (x, y) = (Matrix::features(&data).unwrap(), data.y_values().unwrap());
/// let y: Vec<f64> = y.iter().map(|v| v / 100.0).collect(); // targets near 1, as networks like
/// let model = Standardized::new(
///     NeuralRegressor::mlp(&[32])
///         .trainer(Trainer::new().epochs(60).optimizer(Optimizer::adam(0.01)))
///         .device(&Device::Cpu),
/// );
/// let r2 = cross_val_score(&model, &x, &y, 3, "r2").unwrap();
/// assert!(r2.iter().all(|&s| s > 0.3), "{r2:?}");
/// ```
pub type NeuralRegressor = NeuralNet<f64>;

impl<Target> NeuralNet<Target> {
    fn with(architecture: Architecture, shuffle_seed: u64) -> NeuralNet<Target> {
        NeuralNet {
            architecture,
            trainer: Trainer::new().progress(Progress::Quiet),
            batch_size: 32,
            shuffle_seed,
            model: None,
            target: PhantomData,
        }
    }

    /// The same settings, nothing learned.
    fn unfitted_copy(&self) -> NeuralNet<Target> {
        NeuralNet {
            architecture: self.architecture.clone(),
            trainer: self.trainer.clone(),
            batch_size: self.batch_size,
            shuffle_seed: self.shuffle_seed,
            model: None,
            target: PhantomData,
        }
    }

    /// The model and its training, for reports.
    fn describe(&self) -> String {
        let training = format!("{} epochs, {}", self.trainer.epochs, self.trainer.optimizer);
        match &self.architecture {
            Architecture::Mlp(config) => {
                let hidden: Vec<String> = config.hidden.iter().map(|h| h.to_string()).collect();
                format!("MLP({}; {training})", hidden.join("-"))
            }
            Architecture::Fixed { name, .. } => format!("{name}({training})"),
        }
    }

    /// Trains a fresh network with `head` on `x` and `targets` (one per row).
    fn train(&mut self, x: &Matrix, head: OutputHead, targets: Tensor) -> Result<()> {
        let model = self.build(x, head)?;
        let loader = DataLoader::new(self.tensor(model.as_ref(), x)?, targets, self.batch_size)?
            .shuffle(self.shuffle_seed);
        self.trainer.fit(model.as_ref(), &loader, None)?;
        self.model = Some(model);
        Ok(())
    }

    /// A network built as configured at each fit, by `build`.
    fn fixed(
        name: &str,
        device: Device,
        shuffle_seed: u64,
        build: impl Fn(&Device) -> Result<Box<dyn Network>> + Send + Sync + 'static,
    ) -> NeuralNet<Target> {
        let build: Arc<Build> = Arc::new(build);
        NeuralNet::with(
            Architecture::Fixed {
                name: name.to_owned(),
                device,
                build,
            },
            shuffle_seed,
        )
    }

    /// An MLP with these hidden layers (ReLU), trained for 10 epochs of Adam(1e-3) with
    /// batches of 32. Its inputs and classes are set by the data at each `fit`.
    pub fn mlp(hidden: &[usize]) -> NeuralNet<Target> {
        NeuralNet::with(Architecture::Mlp(MlpConfig::classifier(1, hidden, 2)), 0)
    }

    /// A CNN built from `config` at each `fit`; each row holds one image's
    /// `channels x height x width` values, as `Tensor::flatten_from(1)` lays them out.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let digits = load_digits();
    /// let (x, y) = (Matrix::features(&digits).unwrap(), digits.y_classes().unwrap());
    /// let x = Matrix::new(x.rows(), 64, x.as_slice().iter().map(|v| v / 16.0).collect()).unwrap();
    /// let cnn = NeuralClassifier::cnn(CnnConfig::new(&[1, 8, 8], 10).conv(8).pool().dense(32).seed(0).device(&Device::Cpu))
    ///     .trainer(Trainer::new().epochs(6).optimizer(Optimizer::adam(3e-3)));
    /// let scores = cross_val_score(&cnn, &x, &y, 3, "f1_macro").unwrap();
    /// assert!(scores.iter().all(|&s| s > 0.8), "{scores:?}");
    /// ```
    pub fn cnn(config: CnnConfig) -> NeuralNet<Target> {
        let (device, seed) = (config.device.clone(), config.seed);
        NeuralNet::fixed("CNN", device, seed, move |device: &Device| {
            Ok(Box::new(Cnn::new(config.clone().device(device))?))
        })
    }

    /// A recurrent network (LSTM, GRU) built from `config` at each `fit`; each row holds one
    /// sequence's `steps x features` values, step by step.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// // Is the sequence rising? 4 steps of 1 feature per row.
    /// let mut rng = trainbook::random::Rng::new(0);
    /// let (mut values, mut labels) = (Vec::new(), Vec::new());
    /// for _ in 0..200 {
    ///     let (start, step) = (rng.uniform(), rng.uniform() - 0.5);
    ///     values.extend((0..4).map(|t| start + step * t as f64));
    ///     labels.push(usize::from(step > 0.0));
    /// }
    /// let x = Matrix::new(200, 4, values).unwrap();
    /// let lstm = NeuralClassifier::rnn(RnnConfig::classifier(4, 1, 8, 2).seed(0).device(&Device::Cpu))
    ///     .trainer(Trainer::new().epochs(20).optimizer(Optimizer::adam(1e-2)));
    /// let scores = cross_val_score(&lstm, &x, &labels, 3, "balanced_accuracy").unwrap();
    /// assert!(scores.iter().all(|&s| s > 0.85), "{scores:?}");
    /// ```
    pub fn rnn(config: RnnConfig) -> NeuralNet<Target> {
        let (device, seed) = (config.device.clone(), config.seed);
        NeuralNet::fixed("RNN", device, seed, move |device: &Device| {
            Ok(Box::new(Rnn::new(config.clone().device(device))?))
        })
    }

    /// A text classifier built from `config` at each `fit`; each row holds one text's token
    /// ids (`Tokenizer::encode`), as whole numbers.
    pub fn text(config: TextClassifierConfig) -> NeuralNet<Target> {
        let (device, seed) = (config.device.clone(), config.seed);
        NeuralNet::fixed("text classifier", device, seed, move |device: &Device| {
            Ok(Box::new(TextClassifier::new(
                config.clone().device(device),
            )?))
        })
    }

    /// Any network: `build` makes a fresh, untrained one on the device it is given (the same
    /// one each time: seed it), called at each `fit`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let data = make_moons(200, 0.1, 0).unwrap();
    /// let (x, y) = (Matrix::features(&data).unwrap(), data.y_classes().unwrap());
    /// let model = NeuralClassifier::network("wide MLP", |device| {
    ///     Ok(Box::new(Mlp::new(MlpConfig::classifier(2, &[64], 2).seed(1).device(device))?))
    /// })
    /// .trainer(Trainer::new().epochs(40).optimizer(Optimizer::adam(0.01)))
    /// .device(&Device::Cpu);
    /// assert!(cross_val_score(&model, &x, &y, 3, "accuracy").unwrap().iter().all(|&s| s > 0.9));
    /// ```
    pub fn network(
        name: &str,
        build: impl Fn(&Device) -> Result<Box<dyn Network>> + Send + Sync + 'static,
    ) -> NeuralNet<Target> {
        NeuralNet::fixed(name, crate::nn::default_device(), 0, build)
    }

    /// The MLP's settings (activation, dropout, batch norm, seed); its input width and outputs
    /// are set by `fit`. Makes this an MLP whatever it was.
    pub fn config(mut self, config: MlpConfig) -> NeuralNet<Target> {
        self.shuffle_seed = config.seed;
        self.architecture = Architecture::Mlp(config);
        self
    }

    /// How each fit trains (epochs, optimizer, schedule, penalties; early stopping needs
    /// validation data and is not available here).
    pub fn trainer(mut self, trainer: Trainer) -> NeuralNet<Target> {
        self.trainer = trainer.progress(Progress::Quiet);
        self
    }

    /// Rows per batch.
    pub fn batch_size(mut self, batch_size: usize) -> NeuralNet<Target> {
        self.batch_size = batch_size;
        self
    }

    /// The device to train on.
    pub fn device(mut self, device: &Device) -> NeuralNet<Target> {
        match &mut self.architecture {
            Architecture::Mlp(config) => *config = config.clone().device(device),
            Architecture::Fixed { device: d, .. } => *d = device.clone(),
        }
        self
    }

    /// The trained network, after `fit`.
    pub fn fitted_network(&self) -> Option<&dyn Network> {
        self.model.as_deref()
    }

    fn training_device(&self) -> &Device {
        match &self.architecture {
            Architecture::Mlp(config) => &config.device,
            Architecture::Fixed { device, .. } => device,
        }
    }

    /// The rows as a batch of the network's samples.
    fn tensor(&self, network: &dyn Network, x: &Matrix) -> Result<Tensor> {
        let shape = network.input_shape();
        let width: usize = shape.iter().product();
        if x.cols() != width {
            bail!(
                "the network takes samples of shape {shape:?} ({width} values per row) but the \
                 data has {} columns; flatten each sample into one row",
                x.cols()
            );
        }
        let mut dims = vec![x.rows()];
        dims.extend(&shape);
        let device = self.training_device();
        if network.input_dtype() == DType::F32 {
            let values: Vec<f32> = x.as_slice().iter().map(|&v| v as f32).collect();
            return Ok(Tensor::from_vec(values, dims, device)?);
        }
        let ids = x
            .as_slice()
            .iter()
            .map(|&v| {
                if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                    Ok(v as u32)
                } else {
                    bail!("the network reads ids (token, user or item numbers), but the data holds {v}")
                }
            })
            .collect::<Result<Vec<u32>>>()?;
        Ok(Tensor::from_vec(ids, dims, device)?.to_dtype(network.input_dtype())?)
    }

    fn fitted(&self) -> Result<&dyn Network> {
        self.model
            .as_deref()
            .context("the network is not fitted yet; call fit(&x, &y) first")
    }

    /// A fresh network for `x` with `head` (`Classes(k)` for k classes, `Regression(1)`).
    fn build(&self, x: &Matrix, head: OutputHead) -> Result<Box<dyn Network>> {
        match &self.architecture {
            Architecture::Mlp(config) => {
                let mut config = config.clone();
                config.inputs = x.cols();
                config.head = head;
                Ok(Box::new(Mlp::new(config)?))
            }
            Architecture::Fixed {
                name,
                device,
                build,
            } => {
                let network = build(device)?;
                let classes = match head {
                    OutputHead::Classes(k) => k,
                    _ => {
                        if network.head().is_classifier() {
                            bail!(
                                "the {name} is built as a classifier; for values build it with a \
                                 regression head (MlpConfig::regressor, RnnConfig::regressor)"
                            );
                        }
                        return Ok(network);
                    }
                };
                let predicts = match network.head() {
                    OutputHead::Classes(k) => k,
                    OutputHead::Binary => 2,
                    OutputHead::Regression(_) => {
                        bail!("the {name} is built as a regressor; build it with a classifier head")
                    }
                };
                if classes > predicts {
                    bail!(
                        "the {name} is built for {predicts} classes but the labels go up to {}; \
                         build it for {classes} classes",
                        classes - 1
                    );
                }
                Ok(network)
            }
        }
    }
}

impl Classifier for NeuralClassifier {
    fn fit(&mut self, x: &Matrix, y: &[usize]) -> Result<()> {
        if x.rows() != y.len() {
            bail!("{} samples but {} labels", x.rows(), y.len());
        }
        let classes = y.iter().max().map_or(0, |&m| m + 1).max(2);
        let labels: Vec<u32> = y.iter().map(|&c| c as u32).collect();
        let targets = Tensor::new(labels, self.training_device())?;
        self.train(x, OutputHead::Classes(classes), targets)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let network = self.fitted()?;
        network.predict(&self.tensor(network, x)?)
    }

    fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let network = self.fitted()?;
        let p = network
            .predict_proba(&self.tensor(network, x)?)?
            .to_dtype(DType::F64)?;
        let (rows, cols) = p.dims2()?;
        Matrix::new(rows, cols, p.flatten_all()?.to_vec1()?)
    }

    fn unfitted(&self) -> Box<dyn Classifier> {
        Box::new(self.unfitted_copy())
    }

    fn name(&self) -> String {
        self.describe()
    }
}

impl Regressor for NeuralRegressor {
    fn fit(&mut self, x: &Matrix, y: &[f64]) -> Result<()> {
        if x.rows() != y.len() {
            bail!("{} samples but {} targets", x.rows(), y.len());
        }
        if let Some(v) = y.iter().find(|v| !v.is_finite()) {
            bail!("the network got a non-finite target ({v}); drop those rows first");
        }
        let values: Vec<f32> = y.iter().map(|&v| v as f32).collect();
        let targets = Tensor::new(values, self.training_device())?;
        self.train(x, OutputHead::Regression(1), targets)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        let network = self.fitted()?;
        network.predict_values(&self.tensor(network, x)?)
    }

    fn unfitted(&self) -> Box<dyn Regressor> {
        Box::new(self.unfitted_copy())
    }

    fn name(&self) -> String {
        self.describe()
    }
}

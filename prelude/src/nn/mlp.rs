//! The multilayer perceptron, and the linear and logistic regressions that are its special
//! case with no hidden layer.

use super::layers::{Activation, Dropout};
use super::Linear;
use super::{LayerInfo, Network, OutputHead, Parameters, Summary};
use anyhow::{bail, Result};
use candle_core::{Device, Module, Tensor};
use candle_nn::{BatchNorm, ModuleT};

/// The shape and settings of an [`Mlp`]; build one with a constructor, adjust it with the
/// chained setters.
///
/// ```
/// use trainbook::prelude::*;
/// let config = MlpConfig::classifier(64, &[128, 64], 10)
///     .activation(Activation::Gelu)
///     .dropout(0.2)
///     .batch_norm(true)
///     .seed(42);
/// let model = Mlp::new(config).unwrap();
/// assert_eq!(model.head(), OutputHead::Classes(10));
/// ```
#[derive(Clone, Debug)]
pub struct MlpConfig {
    pub inputs: usize,
    pub hidden: Vec<usize>,
    pub head: OutputHead,
    pub activation: Activation,
    /// Dropout after each hidden layer (0 for none).
    pub dropout: f64,
    /// Batch normalisation after each hidden linear layer.
    pub batch_norm: bool,
    /// Seeds the initial weights and the dropout masks.
    pub seed: u64,
    pub device: Device,
}

impl MlpConfig {
    fn with_head(inputs: usize, hidden: &[usize], head: OutputHead) -> MlpConfig {
        MlpConfig {
            inputs,
            hidden: hidden.to_vec(),
            head,
            activation: Activation::Relu,
            dropout: 0.0,
            batch_norm: false,
            seed: 0,
            device: super::default_device(),
        }
    }

    /// `classes` logits trained with cross-entropy.
    pub fn classifier(inputs: usize, hidden: &[usize], classes: usize) -> MlpConfig {
        MlpConfig::with_head(inputs, hidden, OutputHead::Classes(classes))
    }

    /// One logit trained with binary cross-entropy.
    pub fn binary(inputs: usize, hidden: &[usize]) -> MlpConfig {
        MlpConfig::with_head(inputs, hidden, OutputHead::Binary)
    }

    /// `outputs` real values trained with mean squared error.
    pub fn regressor(inputs: usize, hidden: &[usize], outputs: usize) -> MlpConfig {
        MlpConfig::with_head(inputs, hidden, OutputHead::Regression(outputs))
    }

    /// Logistic regression: no hidden layer; binary for 2 classes, multinomial (softmax) above.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Mlp::new(MlpConfig::logistic_regression(30, 2)).unwrap().head(), OutputHead::Binary);
    /// ```
    pub fn logistic_regression(inputs: usize, classes: usize) -> MlpConfig {
        let head = if classes == 2 {
            OutputHead::Binary
        } else {
            OutputHead::Classes(classes)
        };
        MlpConfig::with_head(inputs, &[], head)
    }

    /// Linear regression: no hidden layer, `outputs` values, mean squared error.
    pub fn linear_regression(inputs: usize, outputs: usize) -> MlpConfig {
        MlpConfig::with_head(inputs, &[], OutputHead::Regression(outputs))
    }

    /// The activation after each hidden layer (ReLU by default).
    pub fn activation(mut self, activation: Activation) -> MlpConfig {
        self.activation = activation;
        self
    }

    /// Dropout rate after each hidden layer.
    pub fn dropout(mut self, rate: f64) -> MlpConfig {
        self.dropout = rate;
        self
    }

    /// Batch normalisation after each hidden linear layer.
    pub fn batch_norm(mut self, on: bool) -> MlpConfig {
        self.batch_norm = on;
        self
    }

    /// The seed for the initial weights and dropout masks.
    pub fn seed(mut self, seed: u64) -> MlpConfig {
        self.seed = seed;
        self
    }

    /// The device to build the model on (the default is [`super::default_device`]).
    pub fn device(mut self, device: &Device) -> MlpConfig {
        self.device = device.clone();
        self
    }
}

struct HiddenBlock {
    linear: Linear,
    norm: Option<BatchNorm>,
    dropout: Option<Dropout>,
}

/// A multilayer perceptron: (linear → [batch norm] → activation → [dropout]) per hidden layer,
/// then a linear output layer.
///
/// ```
/// use trainbook::prelude::*;
/// let model = Mlp::new(MlpConfig::classifier(4, &[16], 3).device(&Device::Cpu)).unwrap();
/// let x = Tensor::zeros((5, 4), DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(model.predict_proba(&x).unwrap().dims(), &[5, 3]);
/// assert_eq!(model.predict(&x).unwrap().len(), 5);
/// ```
pub struct Mlp {
    config: MlpConfig,
    params: Parameters,
    hidden: Vec<HiddenBlock>,
    output: Linear,
}

impl Mlp {
    /// Builds the model with weights drawn from the config's seed.
    pub fn new(config: MlpConfig) -> Result<Mlp> {
        if config.inputs == 0 {
            bail!("an MLP needs at least one input feature");
        }
        if let Some(i) = config.hidden.iter().position(|&h| h == 0) {
            bail!("hidden layer {i} has 0 units; every layer needs at least one");
        }
        if let OutputHead::Classes(k) = config.head {
            if k < 2 {
                bail!("a classifier needs at least 2 classes, got {k}");
            }
        }
        if !(0.0..1.0).contains(&config.dropout) {
            bail!("dropout must be in [0, 1), got {}", config.dropout);
        }
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        let mut width = config.inputs;
        let mut hidden = Vec::new();
        for (i, &units) in config.hidden.iter().enumerate() {
            let linear = Linear::new(width, units, vb.pp(format!("hidden{i}")))?;
            let norm = if config.batch_norm {
                Some(candle_nn::batch_norm(
                    units,
                    candle_nn::BatchNormConfig::default(),
                    vb.pp(format!("norm{i}")),
                )?)
            } else {
                None
            };
            let dropout = (config.dropout > 0.0)
                .then(|| Dropout::new(config.dropout, config.seed ^ (0xD0 + i as u64)));
            hidden.push(HiddenBlock {
                linear,
                norm,
                dropout,
            });
            width = units;
        }
        let output = Linear::new(width, config.head.outputs(), vb.pp("output"))?;
        Ok(Mlp {
            config,
            params,
            hidden,
            output,
        })
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }
}

impl Network for Mlp {
    fn forward_t(&self, input: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut x = input.clone();
        for block in &self.hidden {
            if let (None, Activation::Relu) = (&block.norm, self.config.activation) {
                // One graph node for both on the CPU (Linear::forward_relu).
                x = block.linear.forward_relu(&x)?;
            } else {
                x = block.linear.forward(&x)?;
                if let Some(norm) = &block.norm {
                    x = norm.forward_t(&x, train)?;
                }
                x = self.config.activation.apply(&x)?;
            }
            if let Some(dropout) = &block.dropout {
                x = dropout.forward_t(&x, train)?;
            }
        }
        self.output.forward(&x)
    }

    fn seed_epoch(&self, epoch: usize) {
        for dropout in self.hidden.iter().filter_map(|b| b.dropout.as_ref()) {
            dropout.seed_epoch(epoch);
        }
    }

    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn head(&self) -> OutputHead {
        self.config.head
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![self.config.inputs]
    }

    fn summary(&self) -> Summary {
        let c = &self.config;
        let mut layers = Vec::new();
        let mut width = c.inputs;
        for (i, &units) in c.hidden.iter().enumerate() {
            layers.push(LayerInfo {
                name: format!("hidden{i}"),
                kind: format!("Linear({width} → {units})"),
                output: vec![units],
                params: width * units + units,
            });
            if c.batch_norm {
                layers.push(LayerInfo {
                    name: format!("norm{i}"),
                    kind: "BatchNorm1d".into(),
                    output: vec![units],
                    params: 2 * units,
                });
            }
            layers.push(LayerInfo {
                name: format!("act{i}"),
                kind: c.activation.name(),
                output: vec![units],
                params: 0,
            });
            if c.dropout > 0.0 {
                layers.push(LayerInfo {
                    name: format!("dropout{i}"),
                    kind: format!("Dropout({})", c.dropout),
                    output: vec![units],
                    params: 0,
                });
            }
            width = units;
        }
        let outputs = c.head.outputs();
        layers.push(LayerInfo {
            name: "output".into(),
            kind: format!("Linear({width} → {outputs})"),
            output: vec![outputs],
            params: width * outputs + outputs,
        });
        let model = match (c.hidden.is_empty(), c.head) {
            (true, OutputHead::Regression(_)) => "Linear regression".to_string(),
            (true, _) => "Logistic regression".to_string(),
            (false, OutputHead::Regression(_)) => "MLP regressor".to_string(),
            (false, _) => "MLP classifier".to_string(),
        };
        Summary {
            model,
            input: vec![c.inputs],
            layers,
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}

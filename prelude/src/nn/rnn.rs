//! Recurrent sequence models: stacked LSTM or GRU layers over (n, steps, features) batches,
//! with a classification or regression head on the last step's hidden state.

use super::layers::Dropout;
use super::Linear;
use super::{LayerInfo, Network, OutputHead, Parameters, Summary};
use anyhow::{bail, Result};
use candle_core::{Device, IndexOp, Module, Tensor};
use candle_nn::rnn::{GRUConfig, LSTMConfig, GRU, LSTM, RNN};

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RnnCell {
    Lstm,
    Gru,
}

/// The shape and settings of an [`Rnn`].
///
/// ```
/// use trainbook::prelude::*;
/// // Sequences of 20 steps with 3 features, two LSTM layers of 32, 4 classes.
/// let config = RnnConfig::classifier(20, 3, 32, 4).layers(2).dropout(0.1);
/// let model = Rnn::new(config.device(&Device::Cpu)).unwrap();
/// let x = Tensor::zeros((5, 20, 3), DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(model.predict_proba(&x).unwrap().dims(), &[5, 4]);
/// ```
#[derive(Clone, Debug)]
pub struct RnnConfig {
    pub steps: usize,
    pub features: usize,
    pub hidden: usize,
    pub layers: usize,
    pub cell: RnnCell,
    pub head: OutputHead,
    /// Dropout between recurrent layers.
    pub dropout: f64,
    pub seed: u64,
    pub device: Device,
}

impl RnnConfig {
    fn with_head(steps: usize, features: usize, hidden: usize, head: OutputHead) -> RnnConfig {
        RnnConfig {
            steps,
            features,
            hidden,
            layers: 1,
            cell: RnnCell::Lstm,
            head,
            dropout: 0.0,
            seed: 0,
            device: super::default_device(),
        }
    }

    /// An LSTM classifier of sequences of `steps` × `features` into `classes`.
    pub fn classifier(steps: usize, features: usize, hidden: usize, classes: usize) -> RnnConfig {
        RnnConfig::with_head(steps, features, hidden, OutputHead::Classes(classes))
    }

    /// An LSTM regressor of sequences onto `outputs` values.
    pub fn regressor(steps: usize, features: usize, hidden: usize, outputs: usize) -> RnnConfig {
        RnnConfig::with_head(steps, features, hidden, OutputHead::Regression(outputs))
    }

    /// LSTM (default) or GRU.
    pub fn cell(mut self, cell: RnnCell) -> RnnConfig {
        self.cell = cell;
        self
    }

    /// Stacked recurrent layers.
    pub fn layers(mut self, layers: usize) -> RnnConfig {
        self.layers = layers;
        self
    }

    /// Dropout between recurrent layers.
    pub fn dropout(mut self, rate: f64) -> RnnConfig {
        self.dropout = rate;
        self
    }

    pub fn seed(mut self, seed: u64) -> RnnConfig {
        self.seed = seed;
        self
    }

    pub fn device(mut self, device: &Device) -> RnnConfig {
        self.device = device.clone();
        self
    }
}

enum Recurrent {
    Lstm(LSTM),
    Gru(GRU),
}

impl Recurrent {
    /// All hidden states, (n, steps, hidden).
    fn run(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Recurrent::Lstm(lstm) => lstm.states_to_tensor(&lstm.seq(x)?),
            // candle's GRU `states_to_tensor` concatenates the steps into (n, steps·hidden);
            // stack them as LSTM's does.
            Recurrent::Gru(gru) => {
                let states: Vec<Tensor> = gru.seq(x)?.iter().map(|s| s.h().clone()).collect();
                Tensor::stack(&states, 1)
            }
        }
    }
}

/// Stacked LSTM or GRU layers and a linear head on the last step; takes (n, steps, features).
/// LSTM weight names follow PyTorch's `nn.LSTM` (`rnn.weight_ih_l0`, …).
pub struct Rnn {
    config: RnnConfig,
    params: Parameters,
    layers: Vec<Recurrent>,
    dropouts: Vec<Dropout>,
    output: Linear,
}

impl Rnn {
    /// Builds the model with weights drawn from the config's seed.
    pub fn new(config: RnnConfig) -> Result<Rnn> {
        if config.steps == 0 || config.features == 0 || config.hidden == 0 || config.layers == 0 {
            bail!(
                "steps, features, hidden units and layers must all be at least 1 (got {}, {}, {}, {})",
                config.steps,
                config.features,
                config.hidden,
                config.layers
            );
        }
        if !(0.0..1.0).contains(&config.dropout) {
            bail!("dropout must be in [0, 1), got {}", config.dropout);
        }
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        let mut layers = Vec::new();
        for layer in 0..config.layers {
            let inputs = if layer == 0 {
                config.features
            } else {
                config.hidden
            };
            layers.push(match config.cell {
                RnnCell::Lstm => Recurrent::Lstm(candle_nn::lstm(
                    inputs,
                    config.hidden,
                    LSTMConfig {
                        layer_idx: layer,
                        ..Default::default()
                    },
                    vb.pp("rnn"),
                )?),
                // candle's GRU names every layer's weights `..._l0`: one prefix per layer.
                RnnCell::Gru => Recurrent::Gru(candle_nn::gru(
                    inputs,
                    config.hidden,
                    GRUConfig::default(),
                    vb.pp(format!("rnn.layer{layer}")),
                )?),
            });
        }
        let dropouts = (1..config.layers)
            .map(|i| Dropout::new(config.dropout, config.seed ^ (0xD0 + i as u64)))
            .collect();
        let output = Linear::new(config.hidden, config.head.outputs(), vb.pp("output"))?;
        Ok(Rnn {
            config,
            params,
            layers,
            dropouts,
            output,
        })
    }
}

impl Network for Rnn {
    fn forward_t(&self, input: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut x = input.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                x = self.dropouts[i - 1].forward_t(&x, train)?;
            }
            x = layer.run(&x)?;
        }
        let last = x.i((.., self.config.steps - 1, ..))?.contiguous()?;
        self.output.forward(&last)
    }

    fn seed_epoch(&self, epoch: usize) {
        for dropout in &self.dropouts {
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
        vec![self.config.steps, self.config.features]
    }

    fn summary(&self) -> Summary {
        let c = &self.config;
        let gates = match c.cell {
            RnnCell::Lstm => 4,
            RnnCell::Gru => 3,
        };
        let mut layers = Vec::new();
        for i in 0..c.layers {
            let inputs = if i == 0 { c.features } else { c.hidden };
            if i > 0 && c.dropout > 0.0 {
                layers.push(LayerInfo {
                    name: format!("dropout{i}"),
                    kind: format!("Dropout({})", c.dropout),
                    output: vec![c.steps, c.hidden],
                    params: 0,
                });
            }
            layers.push(LayerInfo {
                name: format!("rnn.l{i}"),
                kind: format!("{:?}({inputs} → {})", c.cell, c.hidden).to_uppercase(),
                output: vec![c.steps, c.hidden],
                params: gates * c.hidden * (inputs + c.hidden + 2),
            });
        }
        let outputs = c.head.outputs();
        layers.push(LayerInfo {
            name: "output".into(),
            kind: format!("Linear({} → {outputs}) on the last step", c.hidden),
            output: vec![outputs],
            params: c.hidden * outputs + outputs,
        });
        let kind = if c.head.is_classifier() {
            "classifier"
        } else {
            "regressor"
        };
        Summary {
            model: format!("{:?} {kind}", c.cell).to_uppercase(),
            input: vec![c.steps, c.features],
            layers,
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}

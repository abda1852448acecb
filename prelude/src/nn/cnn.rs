//! A convolutional network for images: 3×3 "same" convolutions (each with optional batch norm
//! and a ReLU), 2×2 max pooling, dropout, then dense layers and the output layer.

use super::conv::Conv3x3;
use super::layers::{flatten_batch, Dropout};
use super::Linear;
use super::{LayerInfo, Network, OutputHead, Parameters, Summary};
use anyhow::{bail, Result};
use candle_core::{Device, Module, Tensor};
use candle_nn::{BatchNorm, ModuleT};

#[derive(Clone, Debug, PartialEq)]
enum LayerSpec {
    Conv(usize),
    Pool,
    Dense(usize),
    Dropout(f64),
}

/// The layers of a [`Cnn`], in order, on images of shape (channels, height, width).
///
/// ```
/// use trainbook::prelude::*;
/// // The digits CNN: conv16 → conv32 → pool → dense 64 → 10 classes.
/// let config = CnnConfig::new(&[1, 8, 8], 10).conv(16).conv(32).pool().dropout(0.25).dense(64);
/// let model = Cnn::new(config.device(&Device::Cpu)).unwrap();
/// let x = Tensor::zeros((2, 1, 8, 8), DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(model.predict_proba(&x).unwrap().dims(), &[2, 10]);
/// ```
#[derive(Clone, Debug)]
pub struct CnnConfig {
    input: [usize; 3],
    layers: Vec<LayerSpec>,
    pub head: OutputHead,
    /// Batch normalisation after each convolution.
    pub batch_norm: bool,
    pub seed: u64,
    pub device: Device,
}

impl CnnConfig {
    /// A classifier of `classes` on images of shape `[channels, height, width]`; add layers
    /// with the chained methods.
    pub fn new(input: &[usize; 3], classes: usize) -> CnnConfig {
        CnnConfig {
            input: *input,
            layers: Vec::new(),
            head: OutputHead::Classes(classes),
            batch_norm: false,
            seed: 0,
            device: super::default_device(),
        }
    }

    /// A 3×3 convolution with `channels` outputs ("same" padding), then ReLU.
    pub fn conv(mut self, channels: usize) -> CnnConfig {
        self.layers.push(LayerSpec::Conv(channels));
        self
    }

    /// 2×2 max pooling (halves height and width).
    pub fn pool(mut self) -> CnnConfig {
        self.layers.push(LayerSpec::Pool);
        self
    }

    /// A dense layer of `units` with ReLU (the image is flattened before the first one).
    pub fn dense(mut self, units: usize) -> CnnConfig {
        self.layers.push(LayerSpec::Dense(units));
        self
    }

    /// Dropout of `rate` in training.
    pub fn dropout(mut self, rate: f64) -> CnnConfig {
        self.layers.push(LayerSpec::Dropout(rate));
        self
    }

    /// Batch normalisation after every convolution.
    pub fn batch_norm(mut self, on: bool) -> CnnConfig {
        self.batch_norm = on;
        self
    }

    /// The seed for the initial weights and dropout masks.
    pub fn seed(mut self, seed: u64) -> CnnConfig {
        self.seed = seed;
        self
    }

    /// The device to build the model on.
    pub fn device(mut self, device: &Device) -> CnnConfig {
        self.device = device.clone();
        self
    }
}

enum Layer {
    Conv(Conv3x3, Option<BatchNorm>),
    Pool,
    Flatten,
    Dense(Linear),
    Dropout(Dropout),
}

/// A convolutional classifier built from a [`CnnConfig`]; takes batches of shape
/// (n, channels, height, width).
pub struct Cnn {
    config: CnnConfig,
    params: Parameters,
    layers: Vec<Layer>,
    info: Vec<LayerInfo>,
    output: Linear,
}

impl Cnn {
    /// Builds the model, checking that every layer fits the image (pooling a 1-pixel image is
    /// an error that names the layer).
    pub fn new(config: CnnConfig) -> Result<Cnn> {
        let [channels, height, width] = config.input;
        if channels == 0 || height == 0 || width == 0 {
            bail!("the input shape {:?} has a zero dimension", config.input);
        }
        if !config
            .layers
            .iter()
            .any(|l| matches!(l, LayerSpec::Conv(_)))
        {
            bail!("a CNN needs at least one .conv(channels) layer; for no convolutions use an Mlp");
        }
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        let mut shape = vec![channels, height, width];
        let (mut layers, mut info) = (Vec::new(), Vec::new());
        let mut flat = false;
        for (i, spec) in config.layers.iter().enumerate() {
            match *spec {
                LayerSpec::Conv(out) => {
                    if flat {
                        bail!("layer {i}: a convolution cannot follow a dense layer");
                    }
                    let conv = Conv3x3::new(shape[0], out, vb.pp(format!("conv{i}")))?;
                    let norm = if config.batch_norm {
                        Some(candle_nn::batch_norm(
                            out,
                            candle_nn::BatchNormConfig::default(),
                            vb.pp(format!("norm{i}")),
                        )?)
                    } else {
                        None
                    };
                    let weights = shape[0] * out * 9 + out;
                    info.push(LayerInfo {
                        name: format!("conv{i}"),
                        kind: format!(
                            "Conv2d({} → {out}, 3×3){} + ReLU",
                            shape[0],
                            if config.batch_norm {
                                " + BatchNorm"
                            } else {
                                ""
                            }
                        ),
                        output: vec![out, shape[1], shape[2]],
                        params: weights + if config.batch_norm { 2 * out } else { 0 },
                    });
                    shape[0] = out;
                    layers.push(Layer::Conv(conv, norm));
                }
                LayerSpec::Pool => {
                    if flat || shape[1] < 2 || shape[2] < 2 {
                        bail!(
                            "layer {i}: cannot pool a {}×{} feature map; remove a .pool()",
                            shape.get(1).unwrap_or(&1),
                            shape.get(2).unwrap_or(&1)
                        );
                    }
                    shape = vec![shape[0], shape[1] / 2, shape[2] / 2];
                    info.push(LayerInfo {
                        name: format!("pool{i}"),
                        kind: "MaxPool2d(2)".into(),
                        output: shape.clone(),
                        params: 0,
                    });
                    layers.push(Layer::Pool);
                }
                LayerSpec::Dense(units) => {
                    if !flat {
                        layers.push(Layer::Flatten);
                        shape = vec![shape.iter().product()];
                        flat = true;
                    }
                    let linear = Linear::new(shape[0], units, vb.pp(format!("dense{i}")))?;
                    info.push(LayerInfo {
                        name: format!("dense{i}"),
                        kind: format!("Linear({} → {units}) + ReLU", shape[0]),
                        output: vec![units],
                        params: shape[0] * units + units,
                    });
                    shape = vec![units];
                    layers.push(Layer::Dense(linear));
                }
                LayerSpec::Dropout(rate) => {
                    if !(0.0..1.0).contains(&rate) {
                        bail!("layer {i}: dropout must be in [0, 1), got {rate}");
                    }
                    info.push(LayerInfo {
                        name: format!("dropout{i}"),
                        kind: format!("Dropout({rate})"),
                        output: shape.clone(),
                        params: 0,
                    });
                    layers.push(Layer::Dropout(Dropout::new(
                        rate,
                        config.seed ^ (0xD0 + i as u64),
                    )));
                }
            }
        }
        if !flat {
            layers.push(Layer::Flatten);
            shape = vec![shape.iter().product()];
        }
        let outputs = config.head.outputs();
        let output = Linear::new(shape[0], outputs, vb.pp("output"))?;
        info.push(LayerInfo {
            name: "output".into(),
            kind: format!("Linear({} → {outputs})", shape[0]),
            output: vec![outputs],
            params: shape[0] * outputs + outputs,
        });
        Ok(Cnn {
            config,
            params,
            layers,
            info,
            output,
        })
    }
}

impl Network for Cnn {
    fn forward_t(&self, input: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut x = input.clone();
        for layer in &self.layers {
            x = match layer {
                Layer::Conv(conv, None) => conv.forward_relu(&x)?,
                Layer::Conv(conv, Some(norm)) => {
                    super::cpu_ops::relu(&norm.forward_t(&conv.forward(&x)?, train)?)?
                }
                Layer::Pool => super::cpu_ops::max_pool2(&x)?,
                Layer::Flatten => flatten_batch(&x)?,
                Layer::Dense(linear) => super::cpu_ops::relu(&linear.forward(&x)?)?,
                Layer::Dropout(dropout) => dropout.forward_t(&x, train)?,
            };
        }
        self.output.forward(&x)
    }

    fn seed_epoch(&self, epoch: usize) {
        for layer in &self.layers {
            if let Layer::Dropout(dropout) = layer {
                dropout.seed_epoch(epoch);
            }
        }
    }

    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn head(&self) -> OutputHead {
        self.config.head
    }

    fn input_shape(&self) -> Vec<usize> {
        self.config.input.to_vec()
    }

    fn summary(&self) -> Summary {
        Summary {
            model: "CNN classifier".into(),
            input: self.config.input.to_vec(),
            layers: self.info.clone(),
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}

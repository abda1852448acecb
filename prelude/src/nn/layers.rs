//! Small layers candle-nn lacks or that must be seeded: activations by name, and a dropout
//! whose masks come from the model's seed so that training runs are reproducible on the CPU.

use crate::random::Rng;
use candle_core::{Tensor, D};
use std::sync::Mutex;

/// The activation between layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    /// max(x, slope * x)
    LeakyRelu(f64),
    Gelu,
    Silu,
    Tanh,
    Sigmoid,
    /// No activation (a linear model).
    Identity,
}

impl Activation {
    /// Applies the activation.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Tensor::new(&[-1f32, 2.0], &Device::Cpu).unwrap();
    /// assert_eq!(Activation::Relu.apply(&x).unwrap().to_vec1::<f32>().unwrap(), [0.0, 2.0]);
    /// ```
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Relu => super::cpu_ops::relu(x),
            Activation::LeakyRelu(slope) => x.maximum(&(x * slope)?),
            Activation::Gelu => x.gelu_erf(),
            Activation::Silu => x.silu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Identity => Ok(x.clone()),
        }
    }

    /// The name shown in model summaries.
    pub fn name(self) -> String {
        match self {
            Activation::Relu => "ReLU".into(),
            Activation::LeakyRelu(slope) => format!("LeakyReLU({slope})"),
            Activation::Gelu => "GELU".into(),
            Activation::Silu => "SiLU".into(),
            Activation::Tanh => "Tanh".into(),
            Activation::Sigmoid => "Sigmoid".into(),
            Activation::Identity => "Identity".into(),
        }
    }
}

/// Inverted dropout: in training, zeroes each value with probability `rate` and scales the
/// rest by 1 / (1 - rate); in evaluation, does nothing. Masks are drawn from a seeded
/// generator, so the same seed and data give the same training run.
///
/// ```
/// use trainbook::prelude::*;
/// let dropout = Dropout::new(0.5, 1);
/// let x = Tensor::ones((4, 100), DType::F32, &Device::Cpu).unwrap();
/// let kept = dropout.forward_t(&x, true).unwrap().ne(0f32).unwrap().to_dtype(DType::F32).unwrap();
/// let share = kept.mean_all().unwrap().to_scalar::<f32>().unwrap();
/// assert!((share - 0.5).abs() < 0.1);
/// assert_eq!(dropout.forward_t(&x, false).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap(), 400.0);
/// ```
#[derive(Debug)]
pub struct Dropout {
    rate: f64,
    seed: u64,
    rng: Mutex<Rng>,
}

impl Dropout {
    /// A dropout of `rate` (0 to below 1) drawing its masks from `seed`.
    pub fn new(rate: f64, seed: u64) -> Dropout {
        Dropout {
            rate: rate.clamp(0.0, 0.99),
            seed,
            rng: Mutex::new(Rng::new(seed)),
        }
    }

    /// Restarts the masks at stream `epoch` of this dropout's seed: the trainer does this at
    /// every epoch's start, so an epoch's masks depend only on the seed and the epoch, and a
    /// run resumed from a checkpoint draws what a run that never stopped would have drawn.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let dropout = Dropout::new(0.5, 7);
    /// let x = Tensor::ones((1, 64), DType::F32, &Device::Cpu).unwrap();
    /// dropout.seed_epoch(3);
    /// let first = dropout.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap();
    /// dropout.forward_t(&x, true).unwrap(); // later batches move the stream on
    /// dropout.seed_epoch(3);
    /// assert_eq!(dropout.forward_t(&x, true).unwrap().to_vec2::<f32>().unwrap(), first);
    /// ```
    pub fn seed_epoch(&self, epoch: usize) {
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) =
            Rng::new(self.seed).fork(epoch as u64);
    }

    /// The share of values dropped in training.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Applies dropout when `train`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if !train || self.rate == 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.rate;
        let scale = (1.0 / keep) as f32;
        let mask: Vec<f32> = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            (0..x.elem_count())
                .map(|_| if rng.uniform() < keep { scale } else { 0.0 })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
}

/// Flattens every dimension after the batch: (n, c, h, w) to (n, c*h*w).
pub(crate) fn flatten_batch(x: &Tensor) -> candle_core::Result<Tensor> {
    x.flatten_from(1)
}

/// Log-softmax over the last dimension.
pub(crate) fn log_softmax_last(x: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::log_softmax(x, D::Minus1)
}

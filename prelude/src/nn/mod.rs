//! Neural networks on candle: the [`Network`] trait every model implements, and the models
//! (one file each). Training lives in [`crate::train`].

mod cnn;
mod conv;
mod cpu_ops;
mod layers;
mod linear;
mod mlp;
mod params;
mod recommender;
mod rnn;
mod summary;
mod text;

pub use cnn::{Cnn, CnnConfig};
pub use conv::Conv3x3;
pub use cpu_ops::{max_pool2, relu};
pub(crate) use layers::log_softmax_last;
pub use layers::{Activation, Dropout};
pub use linear::{linear, Linear};
pub use mlp::{Mlp, MlpConfig};
pub(crate) use params::save_tensors_atomically;
pub use params::{Parameter, Parameters};
pub use recommender::{
    items_by_user, popular_items, ratings_to_tensors, MatrixFactorization, RecommenderConfig,
    TwoTower,
};
pub use rnn::{Rnn, RnnCell, RnnConfig};
pub use summary::{LayerInfo, Summary};
pub use text::{TextClassifier, TextClassifierConfig, Tokenizer};

use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor, D};
use polars::prelude::DataFrame;

/// What a network's output means, which decides its default loss and what `predict` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputHead {
    /// One logit per class (k >= 2), cross-entropy; `predict` gives the arg-max class.
    Classes(usize),
    /// One logit, binary cross-entropy; `predict` gives 1 when the probability is >= 0.5.
    Binary,
    /// `n` real outputs, mean squared error.
    Regression(usize),
}

impl OutputHead {
    /// The width of the last layer.
    pub fn outputs(self) -> usize {
        match self {
            OutputHead::Classes(k) => k,
            OutputHead::Binary => 1,
            OutputHead::Regression(n) => n,
        }
    }

    /// True for the classification heads.
    pub fn is_classifier(self) -> bool {
        !matches!(self, OutputHead::Regression(_))
    }

    /// The number of classes a classification head predicts (2 for binary).
    pub fn classes(self) -> Option<usize> {
        match self {
            OutputHead::Classes(k) => Some(k),
            OutputHead::Binary => Some(2),
            OutputHead::Regression(_) => None,
        }
    }
}

/// What every model does: a forward pass (with dropout and batch statistics when `train`), its
/// weights, a summary, and the meaning of its outputs. Prediction is built on these.
pub trait Network: Send + Sync {
    /// The raw outputs (logits for classifiers) for a batch.
    fn forward_t(&self, input: &Tensor, train: bool) -> candle_core::Result<Tensor>;
    /// The model's weights (shared: changing them changes the model).
    fn parameters(&self) -> &Parameters;
    /// Layers, output shapes and parameter counts.
    fn summary(&self) -> Summary;
    /// What the outputs mean.
    fn head(&self) -> OutputHead;
    /// The shape of one input sample (without the batch dimension).
    fn input_shape(&self) -> Vec<usize>;
    /// Sets every dropout layer's masks to their stream for `epoch` (see
    /// [`Dropout::seed_epoch`]); the trainer calls it as each epoch starts. Models without
    /// dropout have nothing to do.
    fn seed_epoch(&self, _epoch: usize) {}
    /// F32 features for most models; U32 ids for models that start with an embedding.
    fn input_dtype(&self) -> DType {
        DType::F32
    }

    /// Outputs in evaluation mode, computed in chunks so a large input does not need one huge
    /// activation tensor.
    fn outputs(&self, input: &Tensor) -> Result<Tensor> {
        check_input(input, &self.input_shape())?;
        let input = &match self.input_dtype() {
            DType::F32 => input.to_dtype(DType::F32)?,
            ids => {
                if input.dtype().is_float() {
                    bail!("this model takes {ids:?} ids (token, user or item numbers), not {:?} values", input.dtype());
                }
                input.to_dtype(ids)?
            }
        };
        let n = input.dim(0)?;
        let chunk = 4096;
        if n <= chunk {
            return Ok(self.forward_t(input, false)?);
        }
        let parts = (0..n)
            .step_by(chunk)
            .map(|start| self.forward_t(&input.narrow(0, start, chunk.min(n - start))?, false))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 0)?)
    }

    /// Class probabilities, one row per sample (for a binary head two columns: P(0), P(1),
    /// as scikit-learn's `predict_proba`).
    fn predict_proba(&self, input: &Tensor) -> Result<Tensor> {
        let outputs = self.outputs(input)?;
        Ok(match self.head() {
            OutputHead::Classes(_) => candle_nn::ops::softmax(&outputs, D::Minus1)?,
            OutputHead::Binary => {
                let p = candle_nn::ops::sigmoid(&outputs.flatten_all()?)?.unsqueeze(1)?;
                Tensor::cat(&[(1.0 - &p)?, p], 1)?
            }
            OutputHead::Regression(_) => {
                bail!("predict_proba needs a classifier; this model is a regressor (use predict_values)")
            }
        })
    }

    /// The predicted class of each sample.
    fn predict(&self, input: &Tensor) -> Result<Vec<usize>> {
        let outputs = self.outputs(input)?;
        let classes: Vec<u32> = match self.head() {
            OutputHead::Classes(_) => outputs.argmax(D::Minus1)?.to_vec1()?,
            OutputHead::Binary => outputs
                .flatten_all()?
                .ge(0.0)?
                .to_dtype(DType::U32)?
                .to_vec1()?,
            OutputHead::Regression(_) => {
                bail!("predict gives classes; this model is a regressor (use predict_values)")
            }
        };
        Ok(classes.into_iter().map(|c| c as usize).collect())
    }

    /// The predicted values of a regressor, one per sample (the first output when there are
    /// several).
    fn predict_values(&self, input: &Tensor) -> Result<Vec<f64>> {
        if self.head().is_classifier() {
            bail!(
                "predict_values is for regressors; use predict or predict_proba for a classifier"
            );
        }
        let outputs = self.outputs(input)?.to_dtype(DType::F64)?;
        Ok(outputs.narrow(1, 0, 1)?.flatten_all()?.to_vec1()?)
    }

    /// [`Network::predict`] on a frame's feature columns.
    fn predict_frame(&self, frame: &DataFrame, features: &[String]) -> Result<Vec<usize>> {
        let x =
            crate::data::frame_to_tensor(frame, features, DType::F32, self.parameters().device())?;
        self.predict(&x)
    }

    /// [`Network::predict_proba`] on a frame's feature columns.
    fn predict_proba_frame(&self, frame: &DataFrame, features: &[String]) -> Result<Tensor> {
        let x =
            crate::data::frame_to_tensor(frame, features, DType::F32, self.parameters().device())?;
        self.predict_proba(&x)
    }

    /// A frame's feature columns as this model's input batch.
    fn frame_input(&self, frame: &DataFrame, features: &[String]) -> Result<Tensor> {
        let x =
            crate::data::frame_to_tensor(frame, features, DType::F32, self.parameters().device())?;
        if self.input_dtype() == DType::F32 {
            return Ok(x);
        }
        Ok(x.to_dtype(self.input_dtype())?)
    }

    /// Saves the weights to a safetensors file (atomically).
    fn save(&self, path: &std::path::Path) -> Result<()> {
        self.parameters().save(path)
    }

    /// Loads weights saved from a model with the same configuration.
    fn load(&self, path: &std::path::Path) -> Result<()> {
        self.parameters().load_file(path, false).map(|_| ())
    }
}

/// A clear error when a batch does not have the shape the model was built for.
pub(crate) fn check_input(input: &Tensor, sample_shape: &[usize]) -> Result<()> {
    let dims = input.dims();
    if dims.len() != sample_shape.len() + 1 || &dims[1..] != sample_shape {
        bail!(
            "the model takes a batch of shape (n, {}) but got {:?}; {}",
            sample_shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            dims,
            if dims.len() == sample_shape.len() {
                "a single sample needs a batch dimension: use .unsqueeze(0)"
            } else {
                "check the number of feature columns"
            }
        );
    }
    Ok(())
}

/// The device Trainbook trains on by default: the first CUDA GPU when the prelude was built
/// with the `cuda` feature and one is present, else the CPU.
///
/// ```
/// let device = trainbook::prelude::default_device();
/// assert!(device.is_cpu() || device.is_cuda());
/// ```
pub fn default_device() -> Device {
    Device::cuda_if_available(0).unwrap_or(Device::Cpu)
}

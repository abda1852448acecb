//! Loss functions, with PyTorch's definitions and mean reduction: cross-entropy (class weights,
//! label smoothing), binary cross-entropy on logits, MSE, MAE and the hinge loss of a linear SVM.

use crate::nn::OutputHead;
use anyhow::{bail, Result};
use candle_core::{DType, Tensor, D};

/// What the training loop minimises.
///
/// ```
/// use trainbook::prelude::*;
/// let logits = Tensor::new(&[[2f32, 0.0], [0.0, 2.0]], &Device::Cpu).unwrap();
/// let labels = Tensor::new(&[0u32, 0], &Device::Cpu).unwrap();
/// let loss = Loss::cross_entropy().compute(&logits, &labels).unwrap();
/// // (log(1 + e^-2) + log(1 + e^2)) / 2
/// assert!((loss.to_scalar::<f32>().unwrap() - 1.1269).abs() < 1e-3);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy on class logits; `class_weights` (one per class) weight each
    /// sample by its class, normalised by the total weight; `label_smoothing` mixes the target
    /// with the uniform distribution.
    CrossEntropy {
        class_weights: Option<Vec<f64>>,
        label_smoothing: f64,
    },
    /// Sigmoid cross-entropy on one logit per sample; `pos_weight` multiplies the loss of the
    /// positive class (n_negative / n_positive balances the classes).
    BinaryCrossEntropy {
        pos_weight: Option<f64>,
    },
    MeanSquaredError,
    MeanAbsoluteError,
    /// Hinge loss, one-vs-rest: sum over classes of max(0, 1 - t·s) with t = +1 for the true
    /// class and -1 for the others (a linear SVM when the model is linear).
    Hinge,
}

impl Loss {
    /// Plain cross-entropy.
    pub fn cross_entropy() -> Loss {
        Loss::CrossEntropy {
            class_weights: None,
            label_smoothing: 0.0,
        }
    }

    /// Binary cross-entropy on logits.
    pub fn binary_cross_entropy() -> Loss {
        Loss::BinaryCrossEntropy { pos_weight: None }
    }

    /// Cross-entropy with one weight per class (see [`crate::data::class_weights`]).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let loss = Loss::cross_entropy().class_weights(&[1.0, 4.0]);
    /// assert!(matches!(loss, Loss::CrossEntropy { class_weights: Some(_), .. }));
    /// ```
    pub fn class_weights(self, weights: &[f64]) -> Loss {
        match self {
            Loss::CrossEntropy {
                label_smoothing, ..
            } => Loss::CrossEntropy {
                class_weights: Some(weights.to_vec()),
                label_smoothing,
            },
            Loss::BinaryCrossEntropy { .. } if weights.len() == 2 && weights[0] > 0.0 => {
                Loss::BinaryCrossEntropy {
                    pos_weight: Some(weights[1] / weights[0]),
                }
            }
            other => other,
        }
    }

    /// Cross-entropy with label smoothing `amount` (0 to 1).
    pub fn label_smoothing(self, amount: f64) -> Loss {
        match self {
            Loss::CrossEntropy { class_weights, .. } => Loss::CrossEntropy {
                class_weights,
                label_smoothing: amount,
            },
            other => other,
        }
    }

    /// The usual loss for a head: cross-entropy, binary cross-entropy or MSE.
    pub fn for_head(head: OutputHead) -> Loss {
        match head {
            OutputHead::Classes(_) => Loss::cross_entropy(),
            OutputHead::Binary => Loss::binary_cross_entropy(),
            OutputHead::Regression(_) => Loss::MeanSquaredError,
        }
    }

    /// Checks that the loss fits the model's outputs, with an error that says what to change.
    pub(crate) fn check(&self, head: OutputHead) -> Result<()> {
        match (self, head) {
            (
                Loss::CrossEntropy {
                    class_weights,
                    label_smoothing,
                },
                OutputHead::Classes(k),
            ) => {
                if let Some(w) = class_weights {
                    if w.len() != k {
                        bail!(
                            "{} class weights given for a model with {k} classes",
                            w.len()
                        );
                    }
                }
                if !(0.0..=1.0).contains(label_smoothing) {
                    bail!("label smoothing must be in [0, 1], got {label_smoothing}");
                }
                Ok(())
            }
            (Loss::CrossEntropy { .. }, _) => bail!(
                "cross-entropy needs a model with one output per class; this one has a {head:?} \
                 head (use Loss::binary_cross_entropy for one logit, MSE for regression)"
            ),
            (Loss::BinaryCrossEntropy { .. }, OutputHead::Binary) => Ok(()),
            (Loss::BinaryCrossEntropy { .. }, _) => {
                bail!("binary cross-entropy needs a model with one logit (a binary head), not {head:?}")
            }
            (Loss::Hinge, OutputHead::Regression(_)) => bail!("the hinge loss needs a classifier"),
            (Loss::MeanSquaredError | Loss::MeanAbsoluteError, h) if h.is_classifier() => bail!(
                "MSE and MAE are regression losses; this model is a classifier (use cross-entropy)"
            ),
            _ => Ok(()),
        }
    }

    /// The mean loss of a batch of model outputs against targets (class indices as U32 for
    /// classifiers, values for regression).
    pub fn compute(&self, outputs: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Loss::CrossEntropy {
                class_weights,
                label_smoothing,
            } => cross_entropy(outputs, targets, class_weights.as_deref(), *label_smoothing),
            Loss::BinaryCrossEntropy { pos_weight } => {
                let x = outputs.flatten_all()?;
                let y = targets.flatten_all()?.to_dtype(x.dtype())?;
                // log(1 + e^-|x|) + max(-x, 0): log(1 + e^-x) without overflow.
                let softplus_neg = ((x.abs()?.neg()?.exp()? + 1.0)?.log()? + x.neg()?.relu()?)?;
                let loss = match pos_weight {
                    None => ((&x - (&x * &y)?)? + softplus_neg)?,
                    Some(p) => {
                        let scale = ((&y * (p - 1.0))? + 1.0)?;
                        (((1.0 - &y)? * &x)? + (scale * softplus_neg)?)?
                    }
                };
                loss.mean_all()
            }
            Loss::MeanSquaredError | Loss::MeanAbsoluteError => {
                let y = targets
                    .to_dtype(outputs.dtype())?
                    .reshape(outputs.shape())?;
                let diff = (outputs - y)?;
                if matches!(self, Loss::MeanSquaredError) {
                    diff.sqr()?.mean_all()
                } else {
                    diff.abs()?.mean_all()
                }
            }
            Loss::Hinge => {
                let classes = outputs.dim(D::Minus1)?;
                let n = outputs.dim(0)?;
                let signs = if classes == 1 {
                    // Binary: t = 2y - 1.
                    ((targets.to_dtype(outputs.dtype())?.reshape((n, 1))? * 2.0)? - 1.0)?
                } else {
                    let one_hot = one_hot(targets, classes, outputs)?;
                    ((one_hot * 2.0)? - 1.0)?
                };
                let margins = (1.0 - (signs * outputs)?)?.relu()?;
                margins.sum(D::Minus1)?.sum_all()? / n as f64
            }
        }
    }
}

fn one_hot(targets: &Tensor, classes: usize, like: &Tensor) -> candle_core::Result<Tensor> {
    let n = targets.dim(0)?;
    let index = targets.to_dtype(DType::U32)?.reshape((n, 1))?;
    let zeros = Tensor::zeros((n, classes), like.dtype(), like.device())?;
    let ones = Tensor::ones((n, 1), like.dtype(), like.device())?;
    zeros.scatter_add(&index, &ones, 1)
}

fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    class_weights: Option<&[f64]>,
    smoothing: f64,
) -> candle_core::Result<Tensor> {
    let (n, classes) = logits.dims2()?;
    let log_p = crate::nn::log_softmax_last(logits)?;
    let index = targets.to_dtype(DType::U32)?.reshape((n, 1))?;
    let picked = log_p.gather(&index, 1)?.reshape(n)?.neg()?;
    let (nll, smooth) = match class_weights {
        None => {
            let nll = picked.mean_all()?;
            let smooth = (log_p.sum(1)?.neg()?.mean_all()? / classes as f64)?;
            (nll, smooth)
        }
        Some(weights) => {
            let w = Tensor::new(
                weights.iter().map(|&w| w as f32).collect::<Vec<_>>(),
                logits.device(),
            )?
            .to_dtype(logits.dtype())?;
            let sample_w = w.index_select(&index.flatten_all()?, 0)?;
            let total = sample_w.sum_all()?;
            let nll = (picked * &sample_w)?.sum_all()?.div(&total)?;
            let smooth = (log_p
                .broadcast_mul(&w.unsqueeze(0)?)?
                .sum(1)?
                .neg()?
                .sum_all()?
                .div(&total)?
                / classes as f64)?;
            (nll, smooth)
        }
    };
    if smoothing == 0.0 {
        return Ok(nll);
    }
    (nll * (1.0 - smoothing))? + (smooth * smoothing)?
}

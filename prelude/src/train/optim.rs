//! Optimizers, with PyTorch's update rules (the same numbers step for step): SGD with
//! momentum and Nesterov, Adam, AdamW and RMSprop, each with weight decay.

use crate::nn::Parameter;
use anyhow::{bail, Result};
use candle_core::backprop::GradStore;
use candle_core::Tensor;
use std::collections::HashMap;

/// The update rule and its constants.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    Sgd {
        momentum: f64,
        dampening: f64,
        nesterov: bool,
    },
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
    /// Adam with weight decay applied to the weights directly (decoupled), not to the gradient.
    AdamW {
        beta1: f64,
        beta2: f64,
        eps: f64,
    },
    RmsProp {
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
    },
}

/// An optimizer: a method, a base learning rate (a schedule may scale it) and weight decay.
///
/// ```
/// use trainbook::prelude::*;
/// let sgd = Optimizer::sgd(0.1).momentum(0.9).nesterov(true).weight_decay(1e-4);
/// let adamw = Optimizer::adamw(1e-3); // weight decay 0.01, as PyTorch
/// assert_eq!(adamw.weight_decay, 0.01);
/// assert!(sgd.to_string().contains("nesterov"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    pub method: Method,
    pub learning_rate: f64,
    pub weight_decay: f64,
}

impl Optimizer {
    /// Plain stochastic gradient descent; add `.momentum(m)` and `.nesterov(true)`.
    pub fn sgd(learning_rate: f64) -> Optimizer {
        Optimizer {
            method: Method::Sgd {
                momentum: 0.0,
                dampening: 0.0,
                nesterov: false,
            },
            learning_rate,
            weight_decay: 0.0,
        }
    }

    /// Adam (betas 0.9, 0.999, eps 1e-8).
    pub fn adam(learning_rate: f64) -> Optimizer {
        Optimizer {
            method: Method::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            learning_rate,
            weight_decay: 0.0,
        }
    }

    /// AdamW (betas 0.9, 0.999, eps 1e-8, weight decay 0.01).
    pub fn adamw(learning_rate: f64) -> Optimizer {
        Optimizer {
            method: Method::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            learning_rate,
            weight_decay: 0.01,
        }
    }

    /// RMSprop (alpha 0.99, eps 1e-8); add `.momentum(m)`.
    pub fn rmsprop(learning_rate: f64) -> Optimizer {
        Optimizer {
            method: Method::RmsProp {
                alpha: 0.99,
                eps: 1e-8,
                momentum: 0.0,
                centered: false,
            },
            learning_rate,
            weight_decay: 0.0,
        }
    }

    /// Momentum for SGD or RMSprop (ignored by Adam, which has betas).
    pub fn momentum(mut self, value: f64) -> Optimizer {
        match &mut self.method {
            Method::Sgd { momentum, .. } | Method::RmsProp { momentum, .. } => *momentum = value,
            _ => {}
        }
        self
    }

    /// Nesterov momentum for SGD.
    pub fn nesterov(mut self, on: bool) -> Optimizer {
        if let Method::Sgd { nesterov, .. } = &mut self.method {
            *nesterov = on;
        }
        self
    }

    /// Centered RMSprop (normalises by the variance of the gradient rather than its second moment).
    pub fn centered(mut self, on: bool) -> Optimizer {
        if let Method::RmsProp { centered, .. } = &mut self.method {
            *centered = on;
        }
        self
    }

    /// The betas of Adam and AdamW.
    pub fn betas(mut self, first: f64, second: f64) -> Optimizer {
        if let Method::Adam { beta1, beta2, .. } | Method::AdamW { beta1, beta2, .. } =
            &mut self.method
        {
            (*beta1, *beta2) = (first, second);
        }
        self
    }

    /// Weight decay: L2 on the gradient for SGD, Adam and RMSprop; decoupled for AdamW.
    pub fn weight_decay(mut self, value: f64) -> Optimizer {
        self.weight_decay = value;
        self
    }

    /// The same optimizer with another base learning rate.
    pub fn learning_rate(mut self, value: f64) -> Optimizer {
        self.learning_rate = value;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            bail!(
                "the learning rate must be a positive number, got {}",
                self.learning_rate
            );
        }
        if self.weight_decay.is_nan() || self.weight_decay < 0.0 {
            bail!("weight decay must be >= 0, got {}", self.weight_decay);
        }
        Ok(())
    }
}

impl std::fmt::Display for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lr = self.learning_rate;
        match &self.method {
            Method::Sgd {
                momentum, nesterov, ..
            } => {
                write!(f, "SGD(lr {lr}")?;
                if *momentum > 0.0 {
                    write!(f, ", momentum {momentum}")?;
                }
                if *nesterov {
                    write!(f, ", nesterov")?;
                }
            }
            Method::Adam { .. } => write!(f, "Adam(lr {lr}")?,
            Method::AdamW { .. } => write!(f, "AdamW(lr {lr}")?,
            Method::RmsProp { momentum, .. } => {
                write!(f, "RMSprop(lr {lr}")?;
                if *momentum > 0.0 {
                    write!(f, ", momentum {momentum}")?;
                }
            }
        }
        if self.weight_decay > 0.0 {
            write!(f, ", weight decay {}", self.weight_decay)?;
        }
        write!(f, ")")
    }
}

/// An optimizer with its running state (momentum buffers, moment estimates) per parameter:
/// what [`crate::train::Trainer`] uses, and what a hand-written training loop can use.
///
/// ```
/// use trainbook::prelude::*;
/// let model = Mlp::new(MlpConfig::regressor(1, &[], 1).device(&Device::Cpu)).unwrap();
/// let x = Tensor::new(&[[1f32], [2.0], [3.0]], &Device::Cpu).unwrap();
/// let y = Tensor::new(&[2f32, 4.0, 6.0], &Device::Cpu).unwrap();
/// let mut optimizer = OptimizerState::new(Optimizer::sgd(0.05));
/// for _ in 0..500 {
///     let loss = Loss::MeanSquaredError.compute(&model.forward_t(&x, true).unwrap(), &y).unwrap();
///     optimizer.backward_step(model.parameters(), &loss).unwrap();
/// }
/// let slope = model.parameters().get("output.weight").unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()[0];
/// assert!((slope - 2.0).abs() < 0.05);
/// ```
pub struct OptimizerState {
    pub config: Optimizer,
    /// Update steps taken.
    pub steps: u64,
    slots: HashMap<String, Vec<Tensor>>,
}

impl OptimizerState {
    /// A fresh state (no steps taken) for `config`.
    pub fn new(config: Optimizer) -> OptimizerState {
        OptimizerState {
            config,
            steps: 0,
            slots: HashMap::new(),
        }
    }

    /// Backpropagates `loss` and updates the trainable parameters at the configured rate.
    pub fn backward_step(&mut self, params: &crate::nn::Parameters, loss: &Tensor) -> Result<()> {
        self.config.validate()?;
        let grads = loss.backward()?;
        let lr = self.config.learning_rate;
        self.step(&params.trainable(), &grads, lr)
    }

    /// One update of every given parameter that has a gradient, at learning rate `lr`.
    pub fn step(&mut self, params: &[Parameter], grads: &GradStore, lr: f64) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        let wd = self.config.weight_decay;
        for param in params {
            let Some(grad) = grads.get(param.var.as_tensor()) else {
                continue;
            };
            let p = param.var.as_detached_tensor();
            let mut g = grad.detach();
            let slots = self.slots.entry(param.name.clone()).or_default();
            let updated = match self.config.method {
                Method::Sgd {
                    momentum,
                    dampening,
                    nesterov,
                } => {
                    if wd > 0.0 {
                        g = (g + (&p * wd)?)?;
                    }
                    if momentum > 0.0 {
                        let buffer = match slots.first() {
                            None => g.clone(),
                            Some(b) => ((b * momentum)? + (&g * (1.0 - dampening))?)?,
                        };
                        g = if nesterov {
                            (g + (&buffer * momentum)?)?
                        } else {
                            buffer.clone()
                        };
                        *slots = vec![buffer];
                    }
                    (p - (g * lr)?)?
                }
                Method::Adam { beta1, beta2, eps } | Method::AdamW { beta1, beta2, eps } => {
                    let decoupled = matches!(self.config.method, Method::AdamW { .. });
                    let p = if decoupled && wd > 0.0 {
                        (&p * (1.0 - lr * wd))?
                    } else {
                        if wd > 0.0 {
                            g = (g + (&p * wd)?)?;
                        }
                        p
                    };
                    if slots.is_empty() {
                        *slots = vec![g.zeros_like()?, g.zeros_like()?];
                    }
                    let m = ((&slots[0] * beta1)? + (&g * (1.0 - beta1))?)?;
                    let v = ((&slots[1] * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                    let correction1 = 1.0 - beta1.powi(t);
                    let correction2 = 1.0 - beta2.powi(t);
                    let denominator = ((v.sqrt()? / correction2.sqrt())? + eps)?;
                    let update = ((&m / denominator)? * (lr / correction1))?;
                    *slots = vec![m, v];
                    (p - update)?
                }
                Method::RmsProp {
                    alpha,
                    eps,
                    momentum,
                    centered,
                } => {
                    if wd > 0.0 {
                        g = (g + (&p * wd)?)?;
                    }
                    if slots.is_empty() {
                        *slots = vec![g.zeros_like()?, g.zeros_like()?, g.zeros_like()?];
                    }
                    let square = ((&slots[0] * alpha)? + (g.sqr()? * (1.0 - alpha))?)?;
                    let mean = if centered {
                        ((&slots[1] * alpha)? + (&g * (1.0 - alpha))?)?
                    } else {
                        slots[1].clone()
                    };
                    let average = if centered {
                        ((&square - mean.sqr()?)?.sqrt()? + eps)?
                    } else {
                        (square.sqrt()? + eps)?
                    };
                    let step = if momentum > 0.0 {
                        let buffer = ((&slots[2] * momentum)? + (&g / &average)?)?;
                        slots[2] = buffer.clone();
                        buffer
                    } else {
                        (&g / &average)?
                    };
                    slots[0] = square;
                    slots[1] = mean;
                    (p - (step * lr)?)?
                }
            };
            param.var.set(&updated)?;
        }
        Ok(())
    }

    /// The running state as named tensors, for checkpoints.
    pub(crate) fn to_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (name, slots) in &self.slots {
            for (i, slot) in slots.iter().enumerate() {
                out.insert(format!("optimizer/{name}/{i}"), slot.copy()?);
            }
        }
        Ok(out)
    }

    /// Restores the state saved by [`OptimizerState::to_tensors`].
    pub(crate) fn load_tensors(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        steps: u64,
    ) -> Result<()> {
        let mut slots: HashMap<String, Vec<(usize, Tensor)>> = HashMap::new();
        for (key, tensor) in tensors {
            let Some(rest) = key.strip_prefix("optimizer/") else {
                continue;
            };
            let Some((name, index)) = rest.rsplit_once('/') else {
                continue;
            };
            let index: usize = index.parse()?;
            slots
                .entry(name.to_string())
                .or_default()
                .push((index, tensor.clone()));
        }
        self.slots = slots
            .into_iter()
            .map(|(name, mut list)| {
                list.sort_by_key(|(i, _)| *i);
                (name, list.into_iter().map(|(_, t)| t).collect())
            })
            .collect();
        self.steps = steps;
        Ok(())
    }
}

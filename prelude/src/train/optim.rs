//! Optimizers, with PyTorch's update rules (the same numbers step for step): SGD with
//! momentum and Nesterov, Adam, AdamW and RMSprop, each with weight decay.

use crate::nn::Parameter;
use anyhow::{bail, Result};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, Layout, Storage, StorageRef, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::mem::MaybeUninit;

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
                    if slots.is_empty() {
                        *slots = vec![g.zeros_like()?, g.zeros_like()?];
                    }
                    let adam = AdamStep {
                        beta1,
                        beta2,
                        eps,
                        lr,
                        weight_decay: wd,
                        decoupled: matches!(self.config.method, Method::AdamW { .. }),
                        step: t,
                    };
                    let (p, m, v) = match adam_step_cpu(&p, &g, &slots[0], &slots[1], &adam)? {
                        Some(updated) => updated,
                        None => adam_step_ops(&p, &g, &slots[0], &slots[1], &adam)?,
                    };
                    *slots = vec![m, v];
                    p
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

/// [`AdamStep`]'s constants as f32.
struct AdamConstants {
    beta1: f32,
    keep1: f32,
    beta2: f32,
    keep2: f32,
    unbias2: f32,
    eps: f32,
    rate: f32,
    shrink: f32,
    l2: f32,
}

const NO_DECAY: u8 = 0;
const DECAY_GRADIENT: u8 = 1;
const DECAY_WEIGHTS: u8 = 2;

/// The Adam update over [weights, gradients, first, second moments] into [`new_p`, `new_m`,
/// `new_v`], all the same length; one monomorphised loop per weight-decay form so that each is
/// straight-line code.
fn adam_loop<const DECAY: u8>(
    inputs: [&[f32]; 4],
    [new_p, new_m, new_v]: [&mut [MaybeUninit<f32>]; 3],
    k: &AdamConstants,
) {
    let n = inputs[0].len();
    let (ps, gs, ms, vs) = (
        &inputs[0][..n],
        &inputs[1][..n],
        &inputs[2][..n],
        &inputs[3][..n],
    );
    let (new_p, new_m, new_v) = (&mut new_p[..n], &mut new_m[..n], &mut new_v[..n]);
    for i in 0..n {
        let (mut p, mut g) = (ps[i], gs[i]);
        // Each scalar step as candle's affine, `x * mul + add`, so the numbers are the tensor
        // ops' to the bit.
        if DECAY == DECAY_WEIGHTS {
            p = p * k.shrink + 0.0;
        } else if DECAY == DECAY_GRADIENT {
            g += p * k.l2 + 0.0;
        }
        let m = (ms[i] * k.beta1 + 0.0) + (g * k.keep1 + 0.0);
        let v = (vs[i] * k.beta2 + 0.0) + ((g * g) * k.keep2 + 0.0);
        let denominator = (v.sqrt() * k.unbias2 + 0.0) * 1.0 + k.eps;
        new_p[i].write(p - ((m / denominator) * k.rate + 0.0));
        new_m[i].write(m);
        new_v[i].write(v);
    }
}

/// Values per chunk of the Adam pass; tensors with more than one chunk are updated on rayon's
/// threads, a chunk each (element-wise, so the numbers do not depend on the split).
const ADAM_CHUNK: usize = 1 << 15;

/// The Adam update of `inputs` (see [`adam_loop`]) as three new vectors, written once (no
/// zero-fill first), in parallel chunks for large tensors.
fn adam_pass(inputs: [&[f32]; 4], k: &AdamConstants, form: u8) -> [Vec<f32>; 3] {
    let n = inputs[0].len();
    assert!(inputs.iter().all(|values| values.len() == n));
    let mut new = [(); 3].map(|_| Vec::<f32>::with_capacity(n));
    {
        let [p, m, v] = new
            .each_mut()
            .map(|values| &mut values.spare_capacity_mut()[..n]);
        let update = |offset: usize, outputs: [&mut [MaybeUninit<f32>]; 3]| {
            let len = outputs[0].len();
            let inputs = inputs.map(|values| &values[offset..offset + len]);
            match form {
                DECAY_WEIGHTS => adam_loop::<DECAY_WEIGHTS>(inputs, outputs, k),
                DECAY_GRADIENT => adam_loop::<DECAY_GRADIENT>(inputs, outputs, k),
                _ => adam_loop::<NO_DECAY>(inputs, outputs, k),
            }
        };
        if n > ADAM_CHUNK {
            p.par_chunks_mut(ADAM_CHUNK)
                .zip(m.par_chunks_mut(ADAM_CHUNK))
                .zip(v.par_chunks_mut(ADAM_CHUNK))
                .enumerate()
                .for_each(|(i, ((p, m), v))| update(i * ADAM_CHUNK, [p, m, v]));
        } else {
            update(0, [p, m, v]);
        }
    }
    // SAFETY: adam_loop wrote each of the first n values of all three vectors.
    for values in &mut new {
        unsafe { values.set_len(n) };
    }
    new
}

/// The constants of one Adam or AdamW update.
struct AdamStep {
    beta1: f64,
    beta2: f64,
    eps: f64,
    lr: f64,
    weight_decay: f64,
    /// AdamW: weight decay shrinks the weights directly instead of joining the gradient.
    decoupled: bool,
    /// The 1-based step number, for the bias corrections.
    step: i32,
}

impl AdamStep {
    /// The bias corrections of the first and second moments at this step.
    fn corrections(&self) -> (f64, f64) {
        (
            1.0 - self.beta1.powi(self.step),
            1.0 - self.beta2.powi(self.step),
        )
    }
}

/// Adam as tensor ops: (new weights, first moment, second moment). Any device.
fn adam_step_ops(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    a: &AdamStep,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (p, g) = if a.decoupled && a.weight_decay > 0.0 {
        ((p * (1.0 - a.lr * a.weight_decay))?, g.clone())
    } else if a.weight_decay > 0.0 {
        (p.clone(), (g + (p * a.weight_decay)?)?)
    } else {
        (p.clone(), g.clone())
    };
    let m = ((m * a.beta1)? + (&g * (1.0 - a.beta1))?)?;
    let v = ((v * a.beta2)? + (g.sqr()? * (1.0 - a.beta2))?)?;
    let (correction1, correction2) = a.corrections();
    let denominator = ((v.sqrt()? / correction2.sqrt())? + a.eps)?;
    let update = ((&m / denominator)? * (a.lr / correction1))?;
    Ok(((p - update)?, m, v))
}

/// Adam in one pass over contiguous F32 CPU values, the same arithmetic as
/// [`adam_step_ops`] value for value (each scalar op as candle's affine: `x * mul + add` in
/// f32). Tensor ops make eleven passes with a fresh tensor each: about 2 ms of an 11 ms step
/// for the 256-512-512-10 MLP. `None` when the tensors are elsewhere or strided.
fn adam_step_cpu(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    a: &AdamStep,
) -> Result<Option<(Tensor, Tensor, Tensor)>> {
    /// The values, when they are F32 on the CPU and contiguous.
    fn cpu_values<'a>(held: &'a (StorageRef<'_>, &Layout)) -> Option<&'a [f32]> {
        let (start, end) = held.1.contiguous_offsets()?;
        match &*held.0 {
            Storage::Cpu(CpuStorage::F32(values)) => Some(&values[start..end]),
            _ => None,
        }
    }
    // Read locks on the four storages, released before the weights are written.
    let held = [p, g, m, v].map(Tensor::storage_and_layout);
    let [Some(ps), Some(gs), Some(ms), Some(vs)] = held.each_ref().map(cpu_values) else {
        return Ok(None);
    };
    if [gs.len(), ms.len(), vs.len()] != [ps.len(); 3] {
        return Ok(None);
    }
    let (correction1, correction2) = a.corrections();
    // The scalars as f32, as candle's affine converts them.
    let f = |x: f64| x as f32;
    let k = AdamConstants {
        beta1: f(a.beta1),
        keep1: f(1.0 - a.beta1),
        beta2: f(a.beta2),
        keep2: f(1.0 - a.beta2),
        unbias2: f(1.0 / correction2.sqrt()),
        eps: f(a.eps),
        rate: f(a.lr / correction1),
        shrink: f(1.0 - a.lr * a.weight_decay),
        l2: f(a.weight_decay),
    };
    let form = if a.decoupled && a.weight_decay > 0.0 {
        DECAY_WEIGHTS
    } else if a.weight_decay > 0.0 {
        DECAY_GRADIENT
    } else {
        NO_DECAY
    };
    let new = adam_pass([ps, gs, ms, vs], &k, form);
    let [new_p, new_m, new_v] = new;
    drop(held);
    let device = p.device();
    Ok(Some((
        Tensor::from_vec(new_p, p.shape(), device)?,
        Tensor::from_vec(new_m, m.shape(), device)?,
        Tensor::from_vec(new_v, v.shape(), device)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// The one-pass CPU update gives the tensor ops' numbers to the bit, for every
    /// weight-decay form, over several steps (bias corrections change with the step), in one
    /// chunk and in parallel chunks (331 x 211 is two full chunks and a partial one).
    #[test]
    fn the_cpu_adam_pass_equals_the_tensor_ops() {
        let cpu = Device::Cpu;
        let (one_chunk, chunks) = ((37, 5), (331, 211));
        const { assert!(37 * 5 <= ADAM_CHUNK && 331 * 211 > 2 * ADAM_CHUNK) };
        let forms = [(false, 0.0), (false, 0.01), (true, 0.01)];
        for ((decoupled, weight_decay), shape) in forms
            .into_iter()
            .flat_map(|form| [(form, one_chunk), (form, chunks)])
        {
            let mut p = Tensor::randn(0f32, 1.0, shape, &cpu).unwrap();
            let mut m = p.zeros_like().unwrap();
            let mut v = p.zeros_like().unwrap();
            let (mut p2, mut m2, mut v2) = (p.clone(), m.clone(), v.clone());
            for step in 1..=4 {
                let g = Tensor::randn(0f32, 1.0, shape, &cpu).unwrap();
                let a = AdamStep {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    lr: 1e-3,
                    weight_decay,
                    decoupled,
                    step,
                };
                (p, m, v) = adam_step_cpu(&p, &g, &m, &v, &a).unwrap().unwrap();
                (p2, m2, v2) = adam_step_ops(&p2, &g, &m2, &v2, &a).unwrap();
                for (ours, theirs) in [(&p, &p2), (&m, &m2), (&v, &v2)] {
                    let ours = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    let theirs = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    assert_eq!(ours, theirs, "decoupled {decoupled}, decay {weight_decay}");
                }
            }
        }
    }

    #[test]
    fn strided_or_non_f32_values_take_the_tensor_ops() {
        let cpu = Device::Cpu;
        let p = Tensor::zeros((4, 3), DType::F32, &cpu)
            .unwrap()
            .t()
            .unwrap();
        let a = AdamStep {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            lr: 1e-3,
            weight_decay: 0.0,
            decoupled: false,
            step: 1,
        };
        let z = p.zeros_like().unwrap();
        assert!(adam_step_cpu(&p, &z, &z, &z, &a).unwrap().is_none());
        let d = Tensor::zeros(3, DType::F64, &cpu).unwrap();
        assert!(adam_step_cpu(&d, &d, &d, &d, &a).unwrap().is_none());
    }
}

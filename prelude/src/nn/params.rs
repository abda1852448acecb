//! A model's weights: named candle `Var`s created with a seeded initialisation, which can be
//! frozen, counted, saved to and loaded from safetensors.
//!
//! candle-nn's layers (linear, conv, LSTM, batch norm, embedding) ask a `VarBuilder` for their
//! tensors. Ours answers from a [`Parameters`] store whose random numbers come from the prelude's
//! seeded [`Rng`], because candle's CPU generator cannot be seeded: without this, two runs with
//! the same seed would start from different weights.

use crate::random::Rng;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::init::{FanInOut, NormalOrUniform};
use candle_nn::{Init, VarBuilder};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// One named tensor of a model.
#[derive(Clone, Debug)]
pub struct Parameter {
    /// The dotted path, e.g. `hidden0.weight`.
    pub name: String,
    /// The tensor; shared with the layer that uses it.
    pub var: Var,
    /// False for buffers that are not learned by gradient, such as batch-norm running means.
    pub learned: bool,
    /// A frozen parameter keeps its value during training (transfer learning).
    pub frozen: bool,
}

impl Parameter {
    /// True when the optimizer should update it.
    pub fn trainable(&self) -> bool {
        self.learned && !self.frozen
    }
}

struct Store {
    rng: Rng,
    entries: Vec<Parameter>,
}

/// The named weights of a model, in creation order. Cloning shares the same weights.
///
/// ```
/// use trainbook::prelude::*;
/// let params = Parameters::new(7, &Device::Cpu);
/// let layer = trainbook::candle_nn::linear(3, 2, params.builder().pp("dense")).unwrap();
/// assert_eq!(params.count(), 3 * 2 + 2);
/// assert_eq!(params.names(), vec!["dense.weight", "dense.bias"]);
/// // The same seed gives the same weights.
/// let again = Parameters::new(7, &Device::Cpu);
/// trainbook::candle_nn::linear(3, 2, again.builder().pp("dense")).unwrap();
/// let (a, b) = (params.get("dense.weight").unwrap(), again.get("dense.weight").unwrap());
/// assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
/// ```
#[derive(Clone)]
pub struct Parameters {
    store: Arc<Mutex<Store>>,
    device: Device,
}

impl std::fmt::Debug for Parameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Parameters({} tensors, {} values)",
            self.len(),
            self.count()
        )
    }
}

impl Parameters {
    /// An empty store whose random initialisations are drawn from `seed`, on `device`.
    pub fn new(seed: u64, device: &Device) -> Parameters {
        Parameters {
            store: Arc::new(Mutex::new(Store {
                rng: Rng::new(seed),
                entries: Vec::new(),
            })),
            device: device.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the entries intact; keep using them.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A candle-nn `VarBuilder` (F32) that creates its tensors in this store.
    pub fn builder(&self) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), DType::F32, self.device.clone())
    }

    /// Every parameter, in creation order.
    pub fn entries(&self) -> Vec<Parameter> {
        self.lock().entries.clone()
    }

    /// The parameter names, in creation order.
    pub fn names(&self) -> Vec<String> {
        self.lock().entries.iter().map(|p| p.name.clone()).collect()
    }

    /// The tensor called `name`, if any.
    pub fn get(&self, name: &str) -> Option<Tensor> {
        self.lock()
            .entries
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.var.as_tensor().clone())
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when no layer has been built on this store.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of learned values (buffers such as running means are not counted).
    pub fn count(&self) -> usize {
        let store = self.lock();
        store
            .entries
            .iter()
            .filter(|p| p.learned)
            .map(|p| p.var.elem_count())
            .sum()
    }

    /// The number of learned values the optimizer will update (not frozen).
    pub fn trainable_count(&self) -> usize {
        let store = self.lock();
        store
            .entries
            .iter()
            .filter(|p| p.trainable())
            .map(|p| p.var.elem_count())
            .sum()
    }

    /// The parameters the optimizer updates, in creation order.
    pub fn trainable(&self) -> Vec<Parameter> {
        self.lock()
            .entries
            .iter()
            .filter(|p| p.trainable())
            .cloned()
            .collect()
    }

    /// Freezes every parameter whose name starts with `prefix` ("" freezes all); returns how
    /// many tensors it matched, and fails when none did, naming the layers there are.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Mlp::new(MlpConfig::classifier(4, &[8], 3)).unwrap();
    /// model.parameters().freeze("hidden0").unwrap();
    /// assert_eq!(model.parameters().trainable_count(), 8 * 3 + 3);
    /// assert!(model.parameters().freeze("nope").is_err());
    /// ```
    pub fn freeze(&self, prefix: &str) -> Result<usize> {
        self.set_frozen(prefix, true)
    }

    /// Undoes [`Parameters::freeze`] for the names starting with `prefix`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Mlp::new(MlpConfig::classifier(4, &[8], 3)).unwrap();
    /// model.parameters().freeze("").unwrap();
    /// model.parameters().unfreeze("output").unwrap();
    /// assert_eq!(model.parameters().trainable_count(), 8 * 3 + 3);
    /// ```
    pub fn unfreeze(&self, prefix: &str) -> Result<usize> {
        self.set_frozen(prefix, false)
    }

    fn set_frozen(&self, prefix: &str, frozen: bool) -> Result<usize> {
        let mut store = self.lock();
        let mut matched = 0;
        for p in store
            .entries
            .iter_mut()
            .filter(|p| p.name.starts_with(prefix))
        {
            p.frozen = frozen;
            matched += 1;
        }
        if matched == 0 {
            let mut layers: Vec<&str> = store
                .entries
                .iter()
                .map(|p| p.name.split('.').next().unwrap_or(&p.name))
                .collect();
            layers.dedup();
            bail!(
                "no parameter name starts with {prefix:?}; the layers are {}",
                layers.join(", ")
            );
        }
        Ok(matched)
    }

    /// A copy of every tensor's current value (for checkpoints and "restore best weights").
    pub fn snapshot(&self) -> Result<HashMap<String, Tensor>> {
        self.lock()
            .entries
            .iter()
            .map(|p| Ok((p.name.clone(), p.var.as_tensor().copy()?)))
            .collect()
    }

    /// Sets the tensors named in `values`. Every tensor of the model must be present with its
    /// shape, unless `partial` (transfer learning: load what matches by name, report the rest).
    /// Returns the names that were not loaded.
    pub fn load(&self, values: &HashMap<String, Tensor>, partial: bool) -> Result<Vec<String>> {
        let store = self.lock();
        let mut missing = Vec::new();
        for p in &store.entries {
            match values.get(&p.name) {
                Some(value) if value.dims() == p.var.dims() => {
                    let value = value.to_device(&self.device)?.to_dtype(p.var.dtype())?;
                    p.var.set(&value)?;
                }
                Some(value) if !partial => bail!(
                    "weights for {} have shape {:?} but the model's are {:?}; the file was saved \
                     from a model with a different configuration",
                    p.name,
                    value.dims(),
                    p.var.dims()
                ),
                _ if !partial => bail!(
                    "the weights have no tensor {}; pass partial = true to load only the tensors \
                     whose names and shapes match",
                    p.name
                ),
                _ => missing.push(p.name.clone()),
            }
        }
        Ok(missing)
    }

    /// Writes every tensor to a safetensors file, atomically: a temporary file in the same
    /// folder, then a rename, so an interrupted save never leaves a half-written file.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let model = Mlp::new(MlpConfig::classifier(4, &[8], 3)).unwrap();
    /// let path = std::env::temp_dir().join("trainbook-doc-params.safetensors");
    /// model.parameters().save(&path).unwrap();
    /// let other = Mlp::new(MlpConfig::classifier(4, &[8], 3).seed(99)).unwrap();
    /// other.parameters().load_file(&path, false).unwrap();
    /// assert_eq!(
    ///     other.parameters().get("output.bias").unwrap().to_vec1::<f32>().unwrap(),
    ///     model.parameters().get("output.bias").unwrap().to_vec1::<f32>().unwrap()
    /// );
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_tensors_atomically(&self.snapshot()?, path.as_ref())
    }

    /// Loads a safetensors file written by [`Parameters::save`] (or any file with the same
    /// tensor names); see [`Parameters::load`] for `partial`.
    pub fn load_file(&self, path: impl AsRef<Path>, partial: bool) -> Result<Vec<String>> {
        let path = path.as_ref();
        let values = candle_core::safetensors::load(path, &self.device)
            .with_context(|| format!("could not read weights from {}", path.display()))?;
        self.load(&values, partial)
    }

    fn create(&self, shape: Shape, name: &str, init: Init, dtype: DType) -> Result<Tensor> {
        let mut store = self.lock();
        if let Some(existing) = store.entries.iter().find(|p| p.name == name) {
            if existing.var.shape() != &shape {
                bail!(
                    "{name} was already created with shape {:?}, now asked for {:?}",
                    existing.var.dims(),
                    shape.dims()
                );
            }
            return Ok(existing.var.as_tensor().clone());
        }
        let values = initial_values(&init, &shape, &mut store.rng);
        let tensor = Tensor::from_vec(values, shape, &self.device)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let learned = !(name.ends_with("running_mean") || name.ends_with("running_var"));
        store.entries.push(Parameter {
            name: name.to_string(),
            var: var.clone(),
            learned,
            frozen: false,
        });
        Ok(var.as_tensor().clone())
    }
}

/// Writes tensors to `path` through a temporary file and a rename.
pub(crate) fn save_tensors_atomically(
    tensors: &HashMap<String, Tensor>,
    path: &Path,
) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create the folder {}", parent.display()))?;
    }
    // A fresh temporary name per save, flushed to disk before the rename (two threads may
    // save one path; a crash right after a save keeps it).
    trainbook_wire::files::replace(path, |temporary| {
        candle_core::safetensors::save(tensors, temporary)
            .with_context(|| format!("could not write {}", temporary.display()))
    })
    .with_context(|| format!("could not save the weights to {}", path.display()))
}

fn initial_values(init: &Init, shape: &Shape, rng: &mut Rng) -> Vec<f32> {
    let n = shape.elem_count();
    let uniform = |rng: &mut Rng, lo: f64, hi: f64| -> Vec<f32> {
        (0..n).map(|_| rng.uniform_range(lo, hi) as f32).collect()
    };
    let normal = |rng: &mut Rng, mean: f64, std: f64| -> Vec<f32> {
        (0..n).map(|_| (mean + std * rng.normal()) as f32).collect()
    };
    match *init {
        Init::Const(value) => vec![value as f32; n],
        Init::Uniform { lo, up } => uniform(rng, lo, up),
        Init::Randn { mean, stdev } => normal(rng, mean, stdev),
        Init::Kaiming {
            dist,
            fan,
            non_linearity,
        } => {
            let fan = match fan {
                FanInOut::FanIn | FanInOut::FanOut => fan.for_shape(shape),
            };
            let std = non_linearity.gain() / (fan.max(1) as f64).sqrt();
            match dist {
                NormalOrUniform::Uniform => {
                    let bound = 3f64.sqrt() * std;
                    uniform(rng, -bound, bound)
                }
                NormalOrUniform::Normal => normal(rng, 0.0, std),
            }
        }
    }
}

impl candle_nn::var_builder::SimpleBackend for Parameters {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.create(shape, name, init, dtype)
            .map_err(|e| candle_core::Error::Msg(format!("{e:#}")))
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        match self.get(name) {
            Some(tensor) => tensor.to_dtype(dtype),
            None => candle_core::bail!("the model has no tensor {name}"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.lock().entries.iter().any(|p| p.name == name)
    }
}

//! From tables to candle tensors, and batches for the training loop.

use super::columns::{class_labels, f64_values, owned};
use crate::random::Rng;
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use polars::prelude::DataFrame;

/// The named columns as a (rows × columns) tensor of `dtype` on `device`. Missing values or
/// text columns are errors that name the column.
///
/// ```
/// use trainbook::prelude::*;
/// let iris = load_iris();
/// let x = frame_to_tensor(&iris.frame, &iris.feature_names, DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(x.dims(), &[150, 4]);
/// ```
pub fn frame_to_tensor(
    frame: &DataFrame,
    columns: &[impl AsRef<str>],
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    columns_to_tensor(frame, &owned(columns), dtype, device)
}

fn columns_to_tensor(
    frame: &DataFrame,
    columns: &[String],
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    if columns.is_empty() {
        bail!("frame_to_tensor: no columns named; pass the feature column names");
    }
    let values: Vec<Vec<f64>> = columns
        .iter()
        .map(|name| f64_values(frame, name))
        .collect::<Result<_>>()?;
    let n = frame.height();
    let mut row_major = Vec::with_capacity(n * columns.len());
    for row in 0..n {
        row_major.extend(values.iter().map(|c| c[row]));
    }
    Ok(Tensor::from_vec(row_major, (n, columns.len()), device)?.to_dtype(dtype)?)
}

/// A class-label column (whole numbers 0..k) as a U32 tensor of shape (rows,), what
/// cross-entropy takes.
///
/// ```
/// use trainbook::prelude::*;
/// let y = labels_to_tensor(&load_iris().frame, "target", &Device::Cpu).unwrap();
/// assert_eq!((y.dims(), y.dtype()), (&[150][..], DType::U32));
/// ```
pub fn labels_to_tensor(frame: &DataFrame, column: &str, device: &Device) -> Result<Tensor> {
    let labels: Vec<u32> = class_labels(frame, column)?
        .into_iter()
        .map(|c| c as u32)
        .collect();
    Ok(Tensor::new(labels, device)?)
}

/// A numeric column as a tensor of shape (rows,), for regression targets.
///
/// ```
/// use trainbook::prelude::*;
/// let y = values_to_tensor(&load_diabetes().frame, "target", DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(y.dims(), &[442]);
/// ```
pub fn values_to_tensor(
    frame: &DataFrame,
    column: &str,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    Ok(Tensor::new(f64_values(frame, column)?, device)?.to_dtype(dtype)?)
}

/// Mini-batches of (features, targets) for the training loop: a batch size, an optional
/// seeded shuffle that is different for every epoch but the same for a given (seed, epoch),
/// and `drop_last` for a short final batch.
///
/// ```
/// use trainbook::prelude::*;
/// let x = Tensor::arange(0f32, 10f32, &Device::Cpu).unwrap().reshape((10, 1)).unwrap();
/// let y = Tensor::arange(0u32, 10u32, &Device::Cpu).unwrap();
/// let loader = DataLoader::new(x, y, 4).unwrap().shuffle(7).drop_last(true);
/// assert_eq!(loader.batches_per_epoch(), 2);
/// let batches: Vec<(Tensor, Tensor)> = loader.epoch(0).collect::<Result<_, _>>().unwrap();
/// assert_eq!(batches[0].0.dims(), &[4, 1]);
/// ```
#[derive(Clone, Debug)]
pub struct DataLoader {
    x: Tensor,
    y: Tensor,
    batch_size: usize,
    seed: Option<u64>,
    drop_last: bool,
}

impl DataLoader {
    /// Batches of `batch_size` rows of `x` and the matching entries of `y` (same first
    /// dimension), in order.
    pub fn new(x: Tensor, y: Tensor, batch_size: usize) -> Result<DataLoader> {
        if batch_size == 0 {
            bail!("DataLoader: batch_size must be at least 1");
        }
        let (nx, ny) = (x.dims().first().copied(), y.dims().first().copied());
        if nx.is_none() || nx != ny {
            bail!(
                "DataLoader: features have shape {:?} and targets {:?}; their first dimension \
                 (the samples) must match",
                x.dims(),
                y.dims()
            );
        }
        Ok(DataLoader {
            x,
            y,
            batch_size,
            seed: None,
            drop_last: false,
        })
    }

    /// A loader over a frame's feature columns and a class-label column, as F32 and U32.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let iris = load_iris();
    /// let loader = DataLoader::from_frame(&iris.frame, &iris.feature_names, "target", 32, &Device::Cpu).unwrap();
    /// assert_eq!(loader.batches_per_epoch(), 5);
    /// ```
    pub fn from_frame(
        frame: &DataFrame,
        features: &[impl AsRef<str>],
        target: &str,
        batch_size: usize,
        device: &Device,
    ) -> Result<DataLoader> {
        let x = columns_to_tensor(frame, &owned(features), DType::F32, device)?;
        let y = labels_to_tensor(frame, target, device)?;
        DataLoader::new(x, y, batch_size)
    }

    /// Shuffles the rows every epoch; epoch e's order depends only on (seed, e).
    pub fn shuffle(mut self, seed: u64) -> DataLoader {
        self.seed = Some(seed);
        self
    }

    /// Skips the last batch of an epoch when it is shorter than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> DataLoader {
        self.drop_last = drop_last;
        self
    }

    /// The number of rows per batch.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Tensor::zeros((4, 2), DType::F32, &Device::Cpu).unwrap();
    /// let y = Tensor::zeros(4, DType::U32, &Device::Cpu).unwrap();
    /// assert_eq!(DataLoader::new(x, y, 3).unwrap().batch_size(), 3);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.x.dims()[0]
    }

    /// True when there are no samples.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Tensor::zeros((0, 2), DType::F32, &Device::Cpu).unwrap();
    /// let y = Tensor::zeros(0, DType::U32, &Device::Cpu).unwrap();
    /// assert!(DataLoader::new(x, y, 3).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batches in one epoch (a short last batch counts unless `drop_last`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let x = Tensor::zeros((10, 2), DType::F32, &Device::Cpu).unwrap();
    /// let y = Tensor::zeros(10, DType::U32, &Device::Cpu).unwrap();
    /// assert_eq!(DataLoader::new(x, y, 4).unwrap().batches_per_epoch(), 3);
    /// ```
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.len() / self.batch_size
        } else {
            self.len().div_ceil(self.batch_size)
        }
    }

    /// The row order of an epoch.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        match self.seed {
            Some(seed) => Rng::new(seed).fork(epoch as u64).permutation(self.len()),
            None => (0..self.len()).collect(),
        }
    }

    /// The batches of one epoch.
    pub fn epoch(&self, epoch: usize) -> Batches<'_> {
        Batches {
            loader: self,
            order: self.order(epoch),
            next: 0,
            count: self.batches_per_epoch(),
        }
    }
}

/// The batches of one epoch of a [`DataLoader`].
pub struct Batches<'a> {
    loader: &'a DataLoader,
    order: Vec<usize>,
    next: usize,
    count: usize,
}

impl Iterator for Batches<'_> {
    type Item = candle_core::Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let start = self.next * self.loader.batch_size;
        let end = (start + self.loader.batch_size).min(self.order.len());
        self.next += 1;
        let batch = || {
            if self.loader.seed.is_none() {
                // In order: a view, no copy.
                let x = self.loader.x.narrow(0, start, end - start)?;
                let y = self.loader.y.narrow(0, start, end - start)?;
                return Ok((x, y));
            }
            let rows: Vec<u32> = self.order[start..end].iter().map(|&r| r as u32).collect();
            let index = Tensor::new(rows, self.loader.x.device())?;
            Ok((
                self.loader.x.index_select(&index, 0)?,
                self.loader.y.index_select(&index, 0)?,
            ))
        };
        Some(batch())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

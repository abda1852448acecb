//! From tables to candle tensors, and batches for the training loop.

use super::columns::{class_labels, f64_values, owned};
use crate::random::Rng;
use crate::vision::loader::{ImageSource, Images};
use crate::vision::{Augment, ImageFolder, ImageSet, Normalize};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use polars::prelude::DataFrame;
use std::sync::Arc;

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
    source: Source,
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
            source: Source::Tensors { x, y },
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

    /// A loader over labelled images in memory: each batch is augmented (sample i of epoch e
    /// always gets the same augmentation) and normalised into an N×C×H×W F32 tensor, with U32
    /// labels. Images must come out of `augment` at one size.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let digits = load_digits_images();
    /// let augment = Augment::new(vec![Transform::rotate(10.0)], 0);
    /// let loader = DataLoader::from_image_set(&digits, Some(&augment), &Normalize::unit(), 64, &Device::Cpu).unwrap();
    /// let (x, y) = loader.epoch(0).next().unwrap().unwrap();
    /// assert_eq!((x.dims(), y.dims()), (&[64, 1, 8, 8][..], &[64][..]));
    /// ```
    pub fn from_image_set(
        set: &ImageSet,
        augment: Option<&Augment>,
        normalize: &Normalize,
        batch_size: usize,
        device: &Device,
    ) -> Result<DataLoader> {
        DataLoader::from_images(
            Images::Set(set.clone()),
            augment,
            normalize,
            batch_size,
            device,
        )
    }

    /// A loader over an image folder: files are decoded in parallel when their batch is
    /// needed, then augmented and normalised as in [`from_image_set`](Self::from_image_set).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// let augment = Augment::new(vec![Transform::random_resized_crop(24, 24, (0.6, 1.0))], 0);
    /// let loader = DataLoader::from_image_folder(&folder, Some(&augment), &Normalize::unit(), 16, &Device::Cpu).unwrap();
    /// let (x, _) = loader.epoch(0).next().unwrap().unwrap();
    /// assert_eq!(x.dims(), &[16, 3, 24, 24]);
    /// ```
    pub fn from_image_folder(
        folder: &ImageFolder,
        augment: Option<&Augment>,
        normalize: &Normalize,
        batch_size: usize,
        device: &Device,
    ) -> Result<DataLoader> {
        DataLoader::from_images(
            Images::Folder(folder.clone()),
            augment,
            normalize,
            batch_size,
            device,
        )
    }

    fn from_images(
        images: Images,
        augment: Option<&Augment>,
        normalize: &Normalize,
        batch_size: usize,
        device: &Device,
    ) -> Result<DataLoader> {
        if batch_size == 0 {
            bail!("DataLoader: batch_size must be at least 1");
        }
        let source = ImageSource {
            images,
            augment: augment.cloned(),
            normalize: normalize.clone(),
            device: device.clone(),
        };
        if source.len() == 0 {
            bail!("DataLoader: the image set is empty");
        }
        // Run one sample now: a transform that cannot work on these images (a crop larger
        // than they are, a wrong channel count for Normalize) fails here, not mid-training.
        source.batch(&[0], 0)?;
        Ok(DataLoader {
            source: Source::Images(Arc::new(source)),
            batch_size,
            seed: None,
            drop_last: false,
        })
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
        match &self.source {
            Source::Tensors { x, .. } => x.dims()[0],
            Source::Images(images) => images.len(),
        }
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
            epoch,
            order: self.order(epoch),
            next: 0,
            count: self.batches_per_epoch(),
        }
    }
}

/// Where a loader's samples come from.
#[derive(Clone, Debug)]
enum Source {
    Tensors { x: Tensor, y: Tensor },
    Images(Arc<ImageSource>),
}

/// The batches of one epoch of a [`DataLoader`].
pub struct Batches<'a> {
    loader: &'a DataLoader,
    epoch: usize,
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
        let batch = || match &self.loader.source {
            Source::Tensors { x, y } => {
                if self.loader.seed.is_none() {
                    // In order: a view, no copy.
                    return Ok((
                        x.narrow(0, start, end - start)?,
                        y.narrow(0, start, end - start)?,
                    ));
                }
                let rows: Vec<u32> = self.order[start..end].iter().map(|&r| r as u32).collect();
                let index = Tensor::new(rows, x.device())?;
                Ok((x.index_select(&index, 0)?, y.index_select(&index, 0)?))
            }
            Source::Images(images) => images
                .batch(&self.order[start..end], self.epoch)
                .map_err(|e| candle_core::Error::Msg(format!("{e:#}"))),
        };
        Some(batch())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

//! The image side of [`DataLoader`](crate::data::DataLoader): decodes (folders), augments and
//! converts a batch of samples, in parallel.

use super::dataset::{ImageFolder, ImageSet};
use super::image::Image;
use super::tensor::{images_to_tensor, Normalize};
use super::transform::Augment;
use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

#[derive(Clone, Debug)]
pub(crate) enum Images {
    Set(ImageSet),
    Folder(ImageFolder),
}

/// Labelled images plus what happens to each on its way into a batch.
#[derive(Clone, Debug)]
pub(crate) struct ImageSource {
    pub images: Images,
    pub augment: Option<Augment>,
    pub normalize: Normalize,
    pub device: Device,
}

impl ImageSource {
    pub fn len(&self) -> usize {
        match &self.images {
            Images::Set(set) => set.len(),
            Images::Folder(folder) => folder.len(),
        }
    }

    fn label(&self, row: usize) -> usize {
        match &self.images {
            Images::Set(set) => set.labels[row],
            Images::Folder(folder) => folder.labels()[row],
        }
    }

    /// Sample `row` as it enters epoch `epoch`: decoded and augmented.
    fn sample(&self, row: usize, epoch: usize) -> Result<Image> {
        let owned;
        let image = match &self.images {
            Images::Set(set) => &set.images[row],
            Images::Folder(folder) => {
                owned = folder.load(row)?;
                &owned
            }
        };
        match &self.augment {
            Some(augment) => Ok(augment
                .apply(image, row, epoch)
                .with_context(|| format!("augmenting sample {row}"))?
                .image),
            None => Ok(image.clone()),
        }
    }

    /// (images as N×C×H×W F32, labels as U32) for these rows.
    pub fn batch(&self, rows: &[usize], epoch: usize) -> Result<(Tensor, Tensor)> {
        let images = rows
            .par_iter()
            .map(|&row| self.sample(row, epoch))
            .collect::<Result<Vec<_>>>()?;
        let x = images_to_tensor(&images, &self.normalize, &self.device)?;
        let labels: Vec<u32> = rows.iter().map(|&r| self.label(r) as u32).collect();
        Ok((x, Tensor::new(labels, &self.device)?))
    }
}

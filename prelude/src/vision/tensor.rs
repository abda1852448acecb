//! Images to candle tensors: NCHW, F32, normalised per channel.

use super::image::Image;
use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

/// Per-channel normalisation applied when images become tensors: value / 255, minus `mean`,
/// divided by `std` (torchvision's `ToTensor` + `Normalize`).
///
/// ```
/// use trainbook::prelude::*;
/// let n = Normalize::new(vec![0.5], vec![0.5]).unwrap();
/// let t = Image::new(2, 1, 1, vec![0, 255]).unwrap().to_tensor(&n, &Device::Cpu).unwrap();
/// assert_eq!(t.dims(), &[1, 1, 2]);
/// let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
/// assert!((v[0] + 1.0).abs() < 1e-6 && (v[1] - 1.0).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalize {
    /// One mean and std per channel (1 or 3 values each); every std must be positive.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(Normalize::new(vec![0.5; 3], vec![0.2; 3]).is_ok());
    /// assert!(Normalize::new(vec![0.5; 3], vec![0.0; 3]).is_err());
    /// assert!(Normalize::new(vec![0.5; 2], vec![0.2; 2]).is_err());
    /// ```
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Normalize> {
        if mean.len() != std.len() || !(mean.len() == 1 || mean.len() == 3) {
            bail!(
                "Normalize: {} means and {} stds; give one of each per channel (1 or 3)",
                mean.len(),
                std.len()
            );
        }
        if let Some(bad) = std.iter().find(|s| !(**s > 0.0 && s.is_finite())) {
            bail!("Normalize: std {bad} must be positive");
        }
        Ok(Normalize { mean, std })
    }

    /// Values scaled to 0..1 only (mean 0, std 1 for every channel).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let t = Image::filled(1, 1, &[255]).unwrap().to_tensor(&Normalize::unit(), &Device::Cpu).unwrap();
    /// assert!((t.flatten_all().unwrap().to_vec1::<f32>().unwrap()[0] - 1.0).abs() < 1e-6);
    /// ```
    pub fn unit() -> Normalize {
        Normalize {
            mean: vec![0.0],
            std: vec![1.0],
        }
    }

    /// The ImageNet statistics pretrained models expect.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Normalize::imagenet().mean.len(), 3);
    /// ```
    pub fn imagenet() -> Normalize {
        Normalize {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// (scale, offset) per channel: normalised = value * scale + offset.
    fn affine(&self, channels: usize) -> Result<Vec<(f32, f32)>> {
        let pick = |v: &Vec<f32>, c: usize| if v.len() == 1 { v[0] } else { v[c] };
        if self.mean.len() != 1 && self.mean.len() != channels {
            bail!(
                "Normalize has {} channel statistics but the images have {channels} channels",
                self.mean.len()
            );
        }
        Ok((0..channels)
            .map(|c| {
                let (m, s) = (pick(&self.mean, c), pick(&self.std, c));
                (1.0 / (255.0 * s), -m / s)
            })
            .collect())
    }
}

impl Image {
    /// The image as a (channels, height, width) F32 tensor.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let t = Image::filled(4, 2, &[0, 128, 255]).unwrap().to_tensor(&Normalize::unit(), &Device::Cpu).unwrap();
    /// assert_eq!(t.dims(), &[3, 2, 4]);
    /// ```
    pub fn to_tensor(&self, normalize: &Normalize, device: &Device) -> Result<Tensor> {
        let t = images_to_tensor(std::slice::from_ref(self), normalize, device)?;
        Ok(t.squeeze(0)?)
    }
}

/// Images of one size and channel count as an (n, channels, height, width) F32 tensor, filled
/// in parallel.
///
/// ```
/// use trainbook::prelude::*;
/// let images = vec![Image::filled(4, 3, &[255, 0, 0]).unwrap(); 5];
/// let t = images_to_tensor(&images, &Normalize::unit(), &Device::Cpu).unwrap();
/// assert_eq!(t.dims(), &[5, 3, 3, 4]);
/// ```
pub fn images_to_tensor(
    images: &[Image],
    normalize: &Normalize,
    device: &Device,
) -> Result<Tensor> {
    let Some(first) = images.first() else {
        bail!("images_to_tensor: no images");
    };
    let (w, h, c) = (first.width(), first.height(), first.channels());
    if let Some((i, odd)) = images
        .iter()
        .enumerate()
        .find(|(_, im)| (im.width(), im.height(), im.channels()) != (w, h, c))
    {
        bail!(
            "images_to_tensor: image {i} is {}x{} {} but image 0 is {w}x{h} {}; resize or crop \
             to one size (e.g. Transform::resize or CenterCrop) before batching",
            odd.width(),
            odd.height(),
            odd.mode(),
            first.mode()
        );
    }
    let affine = normalize.affine(c)?;
    let plane = w * h;
    let mut data = vec![0f32; images.len() * c * plane];
    data.par_chunks_mut(c * plane)
        .zip(images.par_iter())
        .for_each(|(out, image)| {
            for (p, pixel) in image.pixels().chunks_exact(c).enumerate() {
                for (ch, &v) in pixel.iter().enumerate() {
                    let (scale, offset) = affine[ch];
                    out[ch * plane + p] = v as f32 * scale + offset;
                }
            }
        });
    Ok(Tensor::from_vec(data, (images.len(), c, h, w), device)?)
}

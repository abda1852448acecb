//! Random augmentation: a [`Transform`] describes what may happen (a range of angles, a
//! probability); running it on an image samples concrete parameters, applies them and records
//! them as [`Applied`] steps, which replay exactly. An [`Augment`] pipeline seeds every
//! (sample, epoch) pair on its own, so sample i at epoch e gets the same augmentation in any
//! order, on any thread, in any run.

use super::geometry::{center_offset, Padding};
use super::grid::ImageGrid;
use super::image::Image;
use super::resample::ResizeFilter;
use crate::random::Rng;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::fmt;

/// One augmentation step with its random ranges. Build pipelines from these inside an
/// [`Augment`]; the helper constructors give torchvision's defaults.
///
/// ```
/// use trainbook::prelude::*;
/// let augment = Augment::new(vec![
///     Transform::HorizontalFlip.random_apply(0.5),
///     Transform::one_of(vec![Transform::rotate(15.0), Transform::RandomRotate90]),
///     Transform::color_jitter(0.2, 0.2, 0.2, 0.02),
/// ], 7);
/// let image = Image::filled(16, 16, &[200, 30, 30]).unwrap();
/// let out = augment.apply(&image, 0, 0).unwrap();
/// assert_eq!(out.image, augment.apply(&image, 0, 0).unwrap().image);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    HorizontalFlip,
    VerticalFlip,
    /// A fixed number of counter-clockwise quarter turns.
    Rotate90 {
        quarter_turns: i32,
    },
    /// 0, 1, 2 or 3 quarter turns, equally likely.
    RandomRotate90,
    /// A rotation by an angle drawn uniformly from `degrees` (counter-clockwise positive).
    Rotate {
        degrees: (f64, f64),
        fill: [u8; 3],
        expand: bool,
    },
    Crop {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    },
    CenterCrop {
        width: usize,
        height: usize,
    },
    /// A crop at a random position, after padding each side by `padding` pixels.
    RandomCrop {
        width: usize,
        height: usize,
        padding: usize,
        mode: Padding,
    },
    Pad {
        left: usize,
        top: usize,
        right: usize,
        bottom: usize,
        mode: Padding,
    },
    Resize {
        width: usize,
        height: usize,
        filter: ResizeFilter,
    },
    /// torchvision's `RandomResizedCrop`: a crop with a random area fraction from `scale` and
    /// aspect ratio from `ratio` (log-uniform), resized to `width` × `height`.
    RandomResizedCrop {
        width: usize,
        height: usize,
        scale: (f64, f64),
        ratio: (f64, f64),
        filter: ResizeFilter,
    },
    /// Brightness, contrast and saturation factors drawn from [1 - x, 1 + x], hue shift from
    /// [-hue, hue]; applied in a random order, as torchvision does. 0 turns one off.
    ColorJitter {
        brightness: f64,
        contrast: f64,
        saturation: f64,
        hue: f64,
    },
    Grayscale,
    /// Gaussian blur with sigma drawn from `sigma` (0 kernel size: automatic).
    GaussianBlur {
        sigma: (f64, f64),
        kernel_size: usize,
    },
    /// Additive gaussian noise, `std` as a fraction of full intensity.
    GaussianNoise {
        std: f64,
    },
    /// torchvision's `RandomErasing` (cutout): a rectangle with area fraction from `scale`
    /// and aspect from `ratio`, filled with `fill` or, for `None`, random values.
    RandomErasing {
        scale: (f64, f64),
        ratio: (f64, f64),
        fill: Option<[u8; 3]>,
    },
    /// All of these, in order.
    Compose(Vec<Transform>),
    /// One of these, chosen uniformly.
    OneOf(Vec<Transform>),
    /// `transform` with this probability, otherwise nothing.
    RandomApply {
        probability: f64,
        transform: Box<Transform>,
    },
}

impl Transform {
    /// A rotation by up to `max_degrees` either way, black corners, same canvas.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Transform::rotate(10.0), Transform::Rotate { degrees: (-10.0, 10.0), fill: [0; 3], expand: false });
    /// ```
    pub fn rotate(max_degrees: f64) -> Transform {
        Transform::Rotate {
            degrees: (-max_degrees, max_degrees),
            fill: [0; 3],
            expand: false,
        }
    }

    /// A random `width` × `height` crop from the image padded by `padding` (zeros) per side.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::random_crop(28, 28, 2)], 0)
    ///     .apply(&Image::filled(28, 28, &[9]).unwrap(), 0, 0).unwrap();
    /// assert_eq!((out.image.width(), out.applied.len()), (28, 2)); // pad, then crop
    /// ```
    pub fn random_crop(width: usize, height: usize, padding: usize) -> Transform {
        Transform::RandomCrop {
            width,
            height,
            padding,
            mode: Padding::Constant([0; 3]),
        }
    }

    /// Resize with the bilinear (antialiased) filter.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::resize(16, 8)], 0).apply(&Image::filled(32, 32, &[9]).unwrap(), 0, 0).unwrap();
    /// assert_eq!((out.image.width(), out.image.height()), (16, 8));
    /// ```
    pub fn resize(width: usize, height: usize) -> Transform {
        Transform::Resize {
            width,
            height,
            filter: ResizeFilter::Bilinear,
        }
    }

    /// `RandomResizedCrop` with `scale` and torchvision's ratio (3/4, 4/3), bilinear.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::random_resized_crop(24, 24, (0.5, 1.0))], 3)
    ///     .apply(&Image::filled(40, 30, &[9]).unwrap(), 0, 0).unwrap();
    /// assert_eq!((out.image.width(), out.image.height()), (24, 24));
    /// ```
    pub fn random_resized_crop(width: usize, height: usize, scale: (f64, f64)) -> Transform {
        Transform::RandomResizedCrop {
            width,
            height,
            scale,
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            filter: ResizeFilter::Bilinear,
        }
    }

    /// Colour jitter with these maximum changes.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::color_jitter(0.2, 0.0, 0.0, 0.0)], 1)
    ///     .apply(&Image::filled(4, 4, &[100, 50, 25]).unwrap(), 0, 0).unwrap();
    /// assert!(matches!(out.applied[..], [Applied::Brightness(f)] if (0.8..1.2).contains(&f)));
    /// ```
    pub fn color_jitter(brightness: f64, contrast: f64, saturation: f64, hue: f64) -> Transform {
        Transform::ColorJitter {
            brightness,
            contrast,
            saturation,
            hue,
        }
    }

    /// Gaussian blur with sigma in `sigma` and an automatic kernel.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::gaussian_blur((0.5, 1.5))], 1)
    ///     .apply(&Image::filled(8, 8, &[50]).unwrap(), 0, 0).unwrap();
    /// assert_eq!(out.image.pixels(), &[50; 64]); // a flat image stays flat
    /// ```
    pub fn gaussian_blur(sigma: (f64, f64)) -> Transform {
        Transform::GaussianBlur {
            sigma,
            kernel_size: 0,
        }
    }

    /// Random erasing with torchvision's ranges (area 2–33 %, aspect 0.3–3.3), black fill.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::random_erasing()], 2)
    ///     .apply(&Image::filled(32, 32, &[200]).unwrap(), 0, 0).unwrap();
    /// assert!(out.image.pixels().contains(&0));
    /// ```
    pub fn random_erasing() -> Transform {
        Transform::RandomErasing {
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            fill: Some([0; 3]),
        }
    }

    /// All of `transforms`, in order.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let both = Transform::compose(vec![Transform::HorizontalFlip, Transform::VerticalFlip]);
    /// let out = Augment::new(vec![both], 0).apply(&Image::new(2, 1, 1, vec![1, 2]).unwrap(), 0, 0).unwrap();
    /// assert_eq!(out.applied.len(), 2);
    /// ```
    pub fn compose(transforms: Vec<Transform>) -> Transform {
        Transform::Compose(transforms)
    }

    /// One of `transforms`, chosen uniformly.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let either = Transform::one_of(vec![Transform::HorizontalFlip, Transform::VerticalFlip]);
    /// let out = Augment::new(vec![either], 0).apply(&Image::new(2, 1, 1, vec![1, 2]).unwrap(), 0, 0).unwrap();
    /// assert_eq!(out.applied.len(), 1);
    /// ```
    pub fn one_of(transforms: Vec<Transform>) -> Transform {
        Transform::OneOf(transforms)
    }

    /// This transform with probability `probability`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let never = Augment::new(vec![Transform::HorizontalFlip.random_apply(0.0)], 0);
    /// assert!(never.apply(&Image::filled(2, 2, &[0]).unwrap(), 0, 0).unwrap().applied.is_empty());
    /// ```
    pub fn random_apply(self, probability: f64) -> Transform {
        Transform::RandomApply {
            probability,
            transform: Box::new(self),
        }
    }

    /// Samples parameters for `image`, applies them and records each concrete step.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let mut applied = Vec::new();
    /// let image = Image::new(2, 1, 1, vec![1, 2]).unwrap();
    /// let out = Transform::HorizontalFlip.run(image, &mut trainbook::random::Rng::new(0), &mut applied).unwrap();
    /// assert_eq!((out.pixels(), &applied[..]), (&[2u8, 1][..], &[Applied::HorizontalFlip][..]));
    /// ```
    pub fn run(&self, image: Image, rng: &mut Rng, applied: &mut Vec<Applied>) -> Result<Image> {
        let (w, h) = (image.width(), image.height());
        let mut step = |op: Applied, image: Image| -> Result<Image> {
            let out = op.apply(&image)?;
            applied.push(op);
            Ok(out)
        };
        match self {
            Transform::HorizontalFlip => step(Applied::HorizontalFlip, image),
            Transform::VerticalFlip => step(Applied::VerticalFlip, image),
            Transform::Rotate90 { quarter_turns } => step(Applied::Rotate90(*quarter_turns), image),
            Transform::RandomRotate90 => step(Applied::Rotate90(rng.below(4) as i32), image),
            Transform::Rotate {
                degrees,
                fill,
                expand,
            } => {
                check_range("Rotate degrees", *degrees, f64::NEG_INFINITY)?;
                let degrees = rng.uniform_range(degrees.0, degrees.1);
                step(
                    Applied::Rotate {
                        degrees,
                        fill: *fill,
                        expand: *expand,
                    },
                    image,
                )
            }
            Transform::Crop {
                x,
                y,
                width,
                height,
            } => step(
                Applied::Crop {
                    x: *x,
                    y: *y,
                    width: *width,
                    height: *height,
                },
                image,
            ),
            Transform::CenterCrop { width, height } => {
                if *width > w || *height > h {
                    bail!("CenterCrop {width}x{height} is larger than the {w}x{h} image; resize first");
                }
                step(
                    Applied::Crop {
                        x: center_offset(w, *width),
                        y: center_offset(h, *height),
                        width: *width,
                        height: *height,
                    },
                    image,
                )
            }
            Transform::RandomCrop {
                width,
                height,
                padding,
                mode,
            } => {
                let (pw, ph) = (w + 2 * padding, h + 2 * padding);
                if *width > pw || *height > ph {
                    bail!(
                        "RandomCrop {width}x{height} is larger than the {w}x{h} image padded by \
                         {padding}; resize first or pad more"
                    );
                }
                let image = if *padding > 0 {
                    step(
                        Applied::Pad {
                            left: *padding,
                            top: *padding,
                            right: *padding,
                            bottom: *padding,
                            mode: *mode,
                        },
                        image,
                    )?
                } else {
                    image
                };
                let x = rng.below(pw - width + 1);
                let y = rng.below(ph - height + 1);
                step(
                    Applied::Crop {
                        x,
                        y,
                        width: *width,
                        height: *height,
                    },
                    image,
                )
            }
            Transform::Pad {
                left,
                top,
                right,
                bottom,
                mode,
            } => step(
                Applied::Pad {
                    left: *left,
                    top: *top,
                    right: *right,
                    bottom: *bottom,
                    mode: *mode,
                },
                image,
            ),
            Transform::Resize {
                width,
                height,
                filter,
            } => step(
                Applied::Resize {
                    width: *width,
                    height: *height,
                    filter: *filter,
                },
                image,
            ),
            Transform::RandomResizedCrop {
                width,
                height,
                scale,
                ratio,
                filter,
            } => {
                check_range("RandomResizedCrop scale", *scale, 0.0)?;
                check_range("RandomResizedCrop ratio", *ratio, 0.0)?;
                let (x, y, cw, ch) = resized_crop_box(w, h, *scale, *ratio, rng);
                step(
                    Applied::ResizedCrop {
                        x,
                        y,
                        crop_width: cw,
                        crop_height: ch,
                        width: *width,
                        height: *height,
                        filter: *filter,
                    },
                    image,
                )
            }
            Transform::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
            } => {
                for (name, v) in [
                    ("brightness", brightness),
                    ("contrast", contrast),
                    ("saturation", saturation),
                ] {
                    if !(*v >= 0.0 && v.is_finite()) {
                        bail!("ColorJitter {name} {v} must be zero or positive");
                    }
                }
                if !(0.0..=0.5).contains(hue) {
                    bail!("ColorJitter hue {hue} must be in 0..=0.5 (a fraction of a turn)");
                }
                let factor = |rng: &mut Rng, x: f64| rng.uniform_range((1.0 - x).max(0.0), 1.0 + x);
                let mut image = image;
                for which in rng.permutation(4) {
                    image = match which {
                        0 if *brightness > 0.0 => {
                            step(Applied::Brightness(factor(rng, *brightness)), image)?
                        }
                        1 if *contrast > 0.0 => {
                            step(Applied::Contrast(factor(rng, *contrast)), image)?
                        }
                        2 if *saturation > 0.0 => {
                            step(Applied::Saturation(factor(rng, *saturation)), image)?
                        }
                        3 if *hue > 0.0 => {
                            step(Applied::Hue(rng.uniform_range(-hue, *hue)), image)?
                        }
                        _ => image,
                    };
                }
                Ok(image)
            }
            Transform::Grayscale => step(Applied::Grayscale, image),
            Transform::GaussianBlur { sigma, kernel_size } => {
                check_range("GaussianBlur sigma", *sigma, 0.0)?;
                let sigma = rng.uniform_range(sigma.0, sigma.1);
                step(
                    Applied::Blur {
                        sigma,
                        kernel_size: *kernel_size,
                    },
                    image,
                )
            }
            Transform::GaussianNoise { std } => step(
                Applied::Noise {
                    std: *std,
                    seed: rng.next_u64(),
                },
                image,
            ),
            Transform::RandomErasing { scale, ratio, fill } => {
                check_range("RandomErasing scale", *scale, 0.0)?;
                check_range("RandomErasing ratio", *ratio, 0.0)?;
                match erase_box(w, h, *scale, *ratio, rng) {
                    Some((x, y, ew, eh)) => step(
                        Applied::Erase {
                            x,
                            y,
                            width: ew,
                            height: eh,
                            fill: *fill,
                            seed: rng.next_u64(),
                        },
                        image,
                    ),
                    None => Ok(image),
                }
            }
            Transform::Compose(transforms) => {
                let mut image = image;
                for t in transforms {
                    image = t.run(image, rng, applied)?;
                }
                Ok(image)
            }
            Transform::OneOf(transforms) => {
                if transforms.is_empty() {
                    bail!("OneOf has no transforms to choose from");
                }
                let chosen = rng.below(transforms.len());
                transforms[chosen].run(image, rng, applied)
            }
            Transform::RandomApply {
                probability,
                transform,
            } => {
                if !(0.0..=1.0).contains(probability) {
                    bail!("RandomApply probability {probability} must be in 0..=1");
                }
                if rng.uniform() < *probability {
                    transform.run(image, rng, applied)
                } else {
                    Ok(image)
                }
            }
        }
    }
}

fn check_range(what: &str, (low, high): (f64, f64), minimum: f64) -> Result<()> {
    if !(low <= high && low >= minimum && high.is_finite()) {
        bail!(
            "{what} ({low}, {high}) must be a (low, high) range with low <= high, from {minimum}"
        );
    }
    Ok(())
}

/// torchvision's `RandomResizedCrop.get_params`: 10 tries, then a centre crop at the nearest
/// allowed aspect ratio.
fn resized_crop_box(
    w: usize,
    h: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut Rng,
) -> (usize, usize, usize, usize) {
    let area = (w * h) as f64;
    let log_ratio = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.uniform_range(scale.0, scale.1);
        let aspect = rng.uniform_range(log_ratio.0, log_ratio.1).exp();
        let cw = (target * aspect).sqrt().round() as usize;
        let ch = (target / aspect).sqrt().round() as usize;
        if cw > 0 && ch > 0 && cw <= w && ch <= h {
            let y = rng.below(h - ch + 1);
            let x = rng.below(w - cw + 1);
            return (x, y, cw, ch);
        }
    }
    let in_ratio = w as f64 / h as f64;
    let (cw, ch) = if in_ratio < ratio.0 {
        (w, ((w as f64 / ratio.0).round() as usize).clamp(1, h))
    } else if in_ratio > ratio.1 {
        (((h as f64 * ratio.1).round() as usize).clamp(1, w), h)
    } else {
        (w, h)
    };
    ((w - cw) / 2, (h - ch) / 2, cw, ch)
}

/// torchvision's `RandomErasing.get_params`; `None` when 10 tries find no fitting rectangle.
fn erase_box(
    w: usize,
    h: usize,
    scale: (f64, f64),
    ratio: (f64, f64),
    rng: &mut Rng,
) -> Option<(usize, usize, usize, usize)> {
    let area = (w * h) as f64;
    let log_ratio = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target = area * rng.uniform_range(scale.0, scale.1);
        let aspect = rng.uniform_range(log_ratio.0, log_ratio.1).exp();
        let eh = (target * aspect).sqrt().round() as usize;
        let ew = (target / aspect).sqrt().round() as usize;
        if ew > 0 && eh > 0 && ew < w && eh < h {
            let y = rng.below(h - eh + 1);
            let x = rng.below(w - ew + 1);
            return Some((x, y, ew, eh));
        }
    }
    None
}

/// One concrete step that a [`Transform`] took, with its sampled parameters. Applying the
/// same steps to the same image gives the same result.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    HorizontalFlip,
    VerticalFlip,
    Rotate90(i32),
    Rotate {
        degrees: f64,
        fill: [u8; 3],
        expand: bool,
    },
    Crop {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
    },
    Pad {
        left: usize,
        top: usize,
        right: usize,
        bottom: usize,
        mode: Padding,
    },
    Resize {
        width: usize,
        height: usize,
        filter: ResizeFilter,
    },
    ResizedCrop {
        x: usize,
        y: usize,
        crop_width: usize,
        crop_height: usize,
        width: usize,
        height: usize,
        filter: ResizeFilter,
    },
    Brightness(f64),
    Contrast(f64),
    Saturation(f64),
    Hue(f64),
    Grayscale,
    Blur {
        sigma: f64,
        kernel_size: usize,
    },
    Noise {
        std: f64,
        seed: u64,
    },
    Erase {
        x: usize,
        y: usize,
        width: usize,
        height: usize,
        fill: Option<[u8; 3]>,
        seed: u64,
    },
}

impl Applied {
    /// Applies this step.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(2, 1, 1, vec![1, 2]).unwrap();
    /// assert_eq!(Applied::HorizontalFlip.apply(&image).unwrap().pixels(), &[2, 1]);
    /// ```
    pub fn apply(&self, image: &Image) -> Result<Image> {
        Ok(match self {
            Applied::HorizontalFlip => image.flip_horizontal(),
            Applied::VerticalFlip => image.flip_vertical(),
            Applied::Rotate90(k) => image.rotate90(*k),
            Applied::Rotate {
                degrees,
                fill,
                expand,
            } => image.rotate(*degrees, *fill, *expand),
            Applied::Crop {
                x,
                y,
                width,
                height,
            } => image.crop(*x, *y, *width, *height)?,
            Applied::Pad {
                left,
                top,
                right,
                bottom,
                mode,
            } => image.pad(*left, *top, *right, *bottom, *mode)?,
            Applied::Resize {
                width,
                height,
                filter,
            } => image.resize(*width, *height, *filter)?,
            Applied::ResizedCrop {
                x,
                y,
                crop_width,
                crop_height,
                width,
                height,
                filter,
            } => image
                .crop(*x, *y, *crop_width, *crop_height)?
                .resize(*width, *height, *filter)?,
            Applied::Brightness(f) => image.adjust_brightness(*f)?,
            Applied::Contrast(f) => image.adjust_contrast(*f)?,
            Applied::Saturation(f) => image.adjust_saturation(*f)?,
            Applied::Hue(shift) => image.adjust_hue(*shift)?,
            Applied::Grayscale => image.to_gray(),
            Applied::Blur { sigma, kernel_size } => image.gaussian_blur(*sigma, *kernel_size)?,
            Applied::Noise { std, seed } => image.gaussian_noise(*std, &mut Rng::new(*seed))?,
            Applied::Erase {
                x,
                y,
                width,
                height,
                fill,
                seed,
            } => image.erase(*x, *y, *width, *height, *fill, &mut Rng::new(*seed))?,
        })
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Applied::HorizontalFlip => write!(f, "flip ↔"),
            Applied::VerticalFlip => write!(f, "flip ↕"),
            Applied::Rotate90(k) => write!(f, "rotate {}°", k.rem_euclid(4) * 90),
            Applied::Rotate { degrees, .. } => write!(f, "rotate {degrees:+.1}°"),
            Applied::Crop {
                x,
                y,
                width,
                height,
            } => write!(f, "crop {width}x{height} at ({x},{y})"),
            Applied::Pad {
                left,
                top,
                right,
                bottom,
                ..
            } => write!(f, "pad {left},{top},{right},{bottom}"),
            Applied::Resize { width, height, .. } => write!(f, "resize {width}x{height}"),
            Applied::ResizedCrop {
                x,
                y,
                crop_width,
                crop_height,
                width,
                height,
                ..
            } => write!(
                f,
                "crop {crop_width}x{crop_height} at ({x},{y}) → {width}x{height}"
            ),
            Applied::Brightness(v) => write!(f, "brightness ×{v:.2}"),
            Applied::Contrast(v) => write!(f, "contrast ×{v:.2}"),
            Applied::Saturation(v) => write!(f, "saturation ×{v:.2}"),
            Applied::Hue(v) => write!(f, "hue {v:+.3}"),
            Applied::Grayscale => write!(f, "gray"),
            Applied::Blur { sigma, .. } => write!(f, "blur σ={sigma:.2}"),
            Applied::Noise { std, .. } => write!(f, "noise σ={std:.3}"),
            Applied::Erase {
                x,
                y,
                width,
                height,
                ..
            } => write!(f, "erase {width}x{height} at ({x},{y})"),
        }
    }
}

/// An augmented image and the steps that made it.
#[derive(Clone, Debug)]
pub struct Augmented {
    pub image: Image,
    pub applied: Vec<Applied>,
}

impl Augmented {
    /// The steps as one line, e.g. "flip ↔, rotate +12.3°" ("unchanged" when none ran).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let out = Augment::new(vec![Transform::Rotate90 { quarter_turns: 1 }], 0)
    ///     .apply(&Image::filled(2, 2, &[0]).unwrap(), 0, 0).unwrap();
    /// assert_eq!(out.description(), "rotate 90°");
    /// ```
    pub fn description(&self) -> String {
        if self.applied.is_empty() {
            return "unchanged".into();
        }
        self.applied
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A seeded augmentation pipeline: its transforms in order, and a seed from which every
/// (sample, epoch) pair draws its own random stream.
///
/// ```
/// use trainbook::prelude::*;
/// let augment = Augment::new(vec![Transform::rotate(30.0), Transform::HorizontalFlip.random_apply(0.5)], 42);
/// let image = Image::filled(8, 8, &[10, 200, 10]).unwrap();
/// let a = augment.apply(&image, 3, 1).unwrap();
/// // Replayable: the same sample and epoch give the same steps; others differ.
/// assert_eq!(a.applied, augment.apply(&image, 3, 1).unwrap().applied);
/// assert_ne!(a.applied, augment.apply(&image, 3, 2).unwrap().applied);
/// assert_eq!(augment.replay(&image, &a.applied).unwrap(), a.image);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    pub transform: Transform,
    pub seed: u64,
}

impl Augment {
    /// `transforms` applied in order, seeded by `seed`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let augment = Augment::new(vec![Transform::HorizontalFlip], 7);
    /// assert_eq!(augment.seed, 7);
    /// ```
    pub fn new(transforms: Vec<Transform>, seed: u64) -> Augment {
        Augment {
            transform: Transform::Compose(transforms),
            seed,
        }
    }

    /// The random stream of one sample in one epoch.
    fn rng(&self, sample: usize, epoch: usize) -> Rng {
        Rng::new(self.seed).fork(epoch as u64).fork(sample as u64)
    }

    /// Augments `image` as sample `sample` of epoch `epoch`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let augment = Augment::new(vec![Transform::rotate(45.0)], 7);
    /// let image = Image::filled(8, 8, &[200]).unwrap();
    /// assert_eq!(augment.apply(&image, 1, 0).unwrap().image, augment.apply(&image, 1, 0).unwrap().image);
    /// ```
    pub fn apply(&self, image: &Image, sample: usize, epoch: usize) -> Result<Augmented> {
        let mut applied = Vec::new();
        let image =
            self.transform
                .run(image.clone(), &mut self.rng(sample, epoch), &mut applied)?;
        Ok(Augmented { image, applied })
    }

    /// Applies recorded steps again.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let augment = Augment::new(vec![Transform::rotate(45.0)], 7);
    /// let image = Image::new(3, 3, 1, (0..9).map(|v| v * 20).collect()).unwrap();
    /// let out = augment.apply(&image, 0, 0).unwrap();
    /// assert_eq!(augment.replay(&image, &out.applied).unwrap(), out.image);
    /// ```
    pub fn replay(&self, image: &Image, applied: &[Applied]) -> Result<Image> {
        let mut image = image.clone();
        for step in applied {
            image = step.apply(&image)?;
        }
        Ok(image)
    }

    /// Augments every image in parallel; image i is sample `samples[i]` of `epoch`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let images = vec![Image::filled(8, 8, &[0]).unwrap(), Image::filled(8, 8, &[255]).unwrap()];
    /// let augment = Augment::new(vec![Transform::random_crop(6, 6, 0)], 1);
    /// let out = augment.apply_batch(&images, &[0, 1], 0).unwrap();
    /// assert_eq!(out[1].width(), 6);
    /// ```
    pub fn apply_batch(
        &self,
        images: &[Image],
        samples: &[usize],
        epoch: usize,
    ) -> Result<Vec<Image>> {
        if images.len() != samples.len() {
            bail!(
                "apply_batch: {} images but {} sample indices; give one index per image",
                images.len(),
                samples.len()
            );
        }
        images
            .par_iter()
            .zip(samples.par_iter())
            .map(|(image, &sample)| {
                self.apply(image, sample, epoch)
                    .map(|a| a.image)
                    .with_context(|| format!("augmenting sample {sample}"))
            })
            .collect()
    }

    /// `n` augmented versions of `image` (as samples 0..n of epoch 0), each labelled with the
    /// parameters it got, next to the original.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let augment = Augment::new(vec![Transform::rotate(20.0)], 3);
    /// let grid = augment.preview(&Image::filled(8, 8, &[90]).unwrap(), 4).unwrap();
    /// assert_eq!(grid.len(), 5);
    /// assert!(grid.captions()[1].starts_with("rotate"));
    /// ```
    pub fn preview(&self, image: &Image, n: usize) -> Result<ImageGrid> {
        let mut images = vec![image.clone()];
        let mut labels = vec!["original".to_string()];
        for sample in 0..n {
            let out = self.apply(image, sample, 0)?;
            labels.push(out.description());
            images.push(out.image);
        }
        ImageGrid::new(images)?.labels(labels)
    }
}

//! Pixel-value transforms: gray, brightness, contrast, saturation, hue, blur, noise, erasing.
//! The colour adjustments follow Pillow's `ImageEnhance` and HSV conversion (what torchvision's
//! `ColorJitter` runs on PIL images), so fixtures from Pillow match to within one level.

use super::image::Image;
use crate::random::Rng;
use anyhow::{bail, Result};

impl Image {
    /// Gray with ITU-R 601-2 luma, Pillow's `convert("L")` exactly:
    /// L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16. Gray images are returned as they are.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let gray = Image::filled(1, 1, &[255, 0, 0]).unwrap().to_gray();
    /// assert_eq!(gray.pixels(), &[76]);
    /// ```
    pub fn to_gray(&self) -> Image {
        if self.channels() == 1 {
            return self.clone();
        }
        let data = self.pixels().chunks_exact(3).map(luma).collect();
        Image::from_parts(self.width(), self.height(), 1, data)
    }

    /// Scales brightness: 0 gives black, 1 the image itself, 2 twice as bright (clipped).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::filled(1, 1, &[100]).unwrap();
    /// assert_eq!(image.adjust_brightness(1.5).unwrap().pixels(), &[150]);
    /// ```
    pub fn adjust_brightness(&self, factor: f64) -> Result<Image> {
        check_factor("adjust_brightness", factor)?;
        let table = blend_table(0, factor);
        let data = self.pixels().iter().map(|&v| table[v as usize]).collect();
        Ok(self.with_pixels(data))
    }

    /// Scales contrast about the mean gray level: 0 gives a flat gray image, 1 the image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(2, 1, 1, vec![100, 200]).unwrap();
    /// assert_eq!(image.adjust_contrast(0.0).unwrap().pixels(), &[150, 150]);
    /// ```
    pub fn adjust_contrast(&self, factor: f64) -> Result<Image> {
        check_factor("adjust_contrast", factor)?;
        let gray = self.to_gray();
        let sum: u64 = gray.pixels().iter().map(|&v| v as u64).sum();
        // Pillow: int(mean + 0.5).
        let mean = (sum as f64 / gray.pixels().len() as f64 + 0.5) as u8;
        let data = self
            .pixels()
            .iter()
            .map(|&v| blend(mean, v, factor))
            .collect();
        Ok(self.with_pixels(data))
    }

    /// Scales colour saturation: 0 gives gray (in RGB), 1 the image, 2 more vivid colours.
    /// Gray images are returned as they are.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::filled(1, 1, &[200, 100, 50]).unwrap();
    /// let gray = image.adjust_saturation(0.0).unwrap();
    /// assert_eq!(gray.pixels(), &[124, 124, 124]);
    /// ```
    pub fn adjust_saturation(&self, factor: f64) -> Result<Image> {
        check_factor("adjust_saturation", factor)?;
        if self.channels() == 1 {
            return Ok(self.clone());
        }
        let mut data = Vec::with_capacity(self.pixels().len());
        for pixel in self.pixels().chunks_exact(3) {
            let l = luma(pixel);
            data.extend(pixel.iter().map(|&v| blend(l, v, factor)));
        }
        Ok(self.with_pixels(data))
    }

    /// Shifts hue by `shift` of a full turn (-0.5..=0.5) in HSV space, as torchvision's
    /// `adjust_hue` does on PIL images (hue stored in 8 bits, so shifts move in 1/255 steps).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let red = Image::filled(1, 1, &[255, 0, 0]).unwrap();
    /// let shifted = red.adjust_hue(1.0 / 3.0).unwrap();
    /// assert_eq!(shifted.pixels(), &[0, 255, 0]);
    /// ```
    pub fn adjust_hue(&self, shift: f64) -> Result<Image> {
        if !(-0.5..=0.5).contains(&shift) {
            bail!("adjust_hue: shift {shift} is outside -0.5..=0.5 (a fraction of a full turn)");
        }
        if self.channels() == 1 {
            return Ok(self.clone());
        }
        // numpy: np.uint8(shift * 255) truncates toward zero, then wraps.
        let delta = (shift * 255.0) as i32 as u8;
        let mut data = Vec::with_capacity(self.pixels().len());
        for pixel in self.pixels().chunks_exact(3) {
            let [h, s, v] = rgb_to_hsv(pixel);
            data.extend_from_slice(&hsv_to_rgb(h.wrapping_add(delta), s, v));
        }
        Ok(self.with_pixels(data))
    }

    /// Gaussian blur with standard deviation `sigma` pixels over a `kernel_size` window (odd;
    /// 0 picks OpenCV's size for 8-bit images, about 6 sigma). Borders mirror without repeating
    /// the edge pixel, OpenCV's default.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let dot = Image::new(3, 1, 1, vec![0, 255, 0]).unwrap();
    /// let blurred = dot.gaussian_blur(1.0, 3).unwrap();
    /// assert_eq!(blurred.pixels(), &[140, 115, 140]);
    /// ```
    pub fn gaussian_blur(&self, sigma: f64, kernel_size: usize) -> Result<Image> {
        if !(sigma > 0.0 && sigma.is_finite()) {
            bail!("gaussian_blur: sigma {sigma} must be a positive number of pixels");
        }
        let size = if kernel_size == 0 {
            ((sigma * 6.0 + 1.0).round() as usize) | 1
        } else {
            kernel_size
        };
        if size % 2 == 0 {
            bail!("gaussian_blur: kernel_size {kernel_size} must be odd (or 0 for automatic)");
        }
        let half = size as isize / 2;
        let mut kernel: Vec<f32> = (-half..=half)
            .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp() as f32)
            .collect();
        let total: f32 = kernel.iter().sum();
        kernel.iter_mut().for_each(|k| *k /= total);
        let (w, h, c) = (self.width(), self.height(), self.channels());
        let reflect = |i: isize, n: usize| -> usize {
            if n == 1 {
                return 0;
            }
            let period = 2 * (n as isize - 1);
            let i = i.rem_euclid(period);
            (if i < n as isize { i } else { period - i }) as usize
        };
        let src = self.pixels();
        let mut horizontal = vec![0f32; w * h * c];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let mut sum = 0f32;
                    for (k, &weight) in kernel.iter().enumerate() {
                        let sx = reflect(x as isize + k as isize - half, w);
                        sum += weight * src[(y * w + sx) * c + ch] as f32;
                    }
                    horizontal[(y * w + x) * c + ch] = sum;
                }
            }
        }
        let mut out = vec![0u8; w * h * c];
        for y in 0..h {
            let rows: Vec<usize> = (0..size)
                .map(|k| reflect(y as isize + k as isize - half, h))
                .collect();
            for i in 0..w * c {
                let mut sum = 0f32;
                for (&weight, &sy) in kernel.iter().zip(&rows) {
                    sum += weight * horizontal[sy * w * c + i];
                }
                out[y * w * c + i] = sum.round().clamp(0.0, 255.0) as u8;
            }
        }
        Ok(self.with_pixels(out))
    }

    /// Adds gaussian noise with standard deviation `std` as a fraction of full intensity
    /// (0.1 = 25.5 levels), drawn from `rng`; results are rounded and clipped to 0..255.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// use trainbook::random::Rng;
    /// let image = Image::filled(8, 8, &[128]).unwrap();
    /// let noisy = image.gaussian_noise(0.05, &mut Rng::new(1)).unwrap();
    /// assert_ne!(noisy, image);
    /// assert_eq!(noisy, image.gaussian_noise(0.05, &mut Rng::new(1)).unwrap());
    /// ```
    pub fn gaussian_noise(&self, std: f64, rng: &mut Rng) -> Result<Image> {
        if !(std >= 0.0 && std.is_finite()) {
            bail!("gaussian_noise: std {std} must be zero or positive (a fraction of 255)");
        }
        let data = self
            .pixels()
            .iter()
            .map(|&v| {
                (v as f64 + rng.normal() * std * 255.0)
                    .round()
                    .clamp(0.0, 255.0) as u8
            })
            .collect();
        Ok(self.with_pixels(data))
    }

    /// Fills the `width` × `height` rectangle at (`x`, `y`) with `fill` (cutout / random
    /// erasing); `None` fills it with uniform random values from `rng`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// use trainbook::random::Rng;
    /// let image = Image::filled(3, 1, &[5]).unwrap();
    /// let erased = image.erase(1, 0, 1, 1, Some([0, 0, 0]), &mut Rng::new(0)).unwrap();
    /// assert_eq!(erased.pixels(), &[5, 0, 5]);
    /// ```
    pub fn erase(
        &self,
        x: usize,
        y: usize,
        width: usize,
        height: usize,
        fill: Option<[u8; 3]>,
        rng: &mut Rng,
    ) -> Result<Image> {
        if x + width > self.width() || y + height > self.height() {
            bail!(
                "erase: the {width}x{height} rectangle at ({x}, {y}) does not fit in the {}x{} image",
                self.width(),
                self.height()
            );
        }
        let c = self.channels();
        let mut data = self.pixels().to_vec();
        for row in y..y + height {
            for column in x..x + width {
                let at = (row * self.width() + column) * c;
                for ch in 0..c {
                    data[at + ch] = match fill {
                        Some(colour) => colour[ch],
                        None => rng.below(256) as u8,
                    };
                }
            }
        }
        Ok(self.with_pixels(data))
    }

    fn with_pixels(&self, data: Vec<u8>) -> Image {
        Image::from_parts(self.width(), self.height(), self.channels(), data)
    }
}

fn check_factor(what: &str, factor: f64) -> Result<()> {
    if !(factor >= 0.0 && factor.is_finite()) {
        bail!("{what}: factor {factor} must be zero or positive (1 leaves the image unchanged)");
    }
    Ok(())
}

fn luma(pixel: &[u8]) -> u8 {
    ((pixel[0] as u32 * 19595 + pixel[1] as u32 * 38470 + pixel[2] as u32 * 7471 + 0x8000) >> 16)
        as u8
}

/// `blend(degenerate, v, factor)` for every byte value: one table lookup per pixel after.
fn blend_table(degenerate: u8, factor: f64) -> [u8; 256] {
    std::array::from_fn(|v| blend(degenerate, v as u8, factor))
}

/// Pillow's `Image.blend(degenerate, image, factor)`: single-precision, truncated, clipped.
fn blend(degenerate: u8, value: u8, factor: f64) -> u8 {
    let alpha = factor as f32;
    let v = degenerate as f32 + alpha * (value as f32 - degenerate as f32);
    if v <= 0.0 {
        0
    } else if v >= 255.0 {
        255
    } else {
        v as u8
    }
}

/// Pillow's `rgb2hsv_row` (Convert.c), with its mix of float and double arithmetic.
fn rgb_to_hsv(pixel: &[u8]) -> [u8; 3] {
    let (r, g, b) = (pixel[0], pixel[1], pixel[2]);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    if max == min {
        return [0, 0, max];
    }
    let cr = (max - min) as f32;
    let s = cr / max as f32;
    let rc = (max - r) as f32 / cr;
    let gc = (max - g) as f32 / cr;
    let bc = (max - b) as f32 / cr;
    let h: f32 = if r == max {
        bc - gc
    } else if g == max {
        (2.0 + rc as f64 - bc as f64) as f32
    } else {
        (4.0 + gc as f64 - rc as f64) as f32
    };
    let h = ((h as f64 / 6.0 + 1.0) % 1.0) as f32;
    let h8 = ((h as f64 * 255.0) as i32).clamp(0, 255) as u8;
    let s8 = ((s as f64 * 255.0) as i32).clamp(0, 255) as u8;
    [h8, s8, max]
}

/// Pillow's `hsv2rgb` (Convert.c).
fn hsv_to_rgb(h: u8, s: u8, v: u8) -> [u8; 3] {
    if s == 0 {
        return [v, v, v];
    }
    let hf = h as f32 as f64 * 6.0 / 255.0;
    let i = hf.floor() as i32;
    let f = (hf - i as f64) as f32;
    let fs = (s as f32 as f64 / 255.0) as f32;
    let vf = v as f32 as f64;
    let round = |x: f64| (x.round() as i32).clamp(0, 255) as u8;
    let p = round(vf * (1.0 - fs as f64));
    let q = round(vf * (1.0 - (fs * f) as f64));
    let t = round(vf * (1.0 - (fs * (1.0 - f)) as f64));
    match i % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

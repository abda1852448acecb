//! Separable resampling, a transcription of Pillow's `Resample.c` (precompute_coeffs,
//! normalize_coeffs_8bpc, the 8-bit horizontal and vertical passes) so that `resize` matches
//! Pillow exactly, antialiasing included.

use super::image::Image;

/// How [`Image::resize`] interpolates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeFilter {
    /// The nearest source pixel: fast, blocky; keeps label maps exact.
    Nearest,
    /// Linear (triangle) filter, widened when shrinking so no pixel is skipped (antialiased).
    Bilinear,
    /// Cubic filter (a = -0.5), antialiased: sharper than bilinear.
    Bicubic,
    /// Lanczos with 3 lobes, antialiased: the highest quality, the slowest.
    Lanczos3,
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn support(filter: ResizeFilter) -> f64 {
    match filter {
        ResizeFilter::Nearest => 0.5,
        ResizeFilter::Bilinear => 1.0,
        ResizeFilter::Bicubic => 2.0,
        ResizeFilter::Lanczos3 => 3.0,
    }
}

fn weight(filter: ResizeFilter, x: f64) -> f64 {
    let sinc = |x: f64| {
        if x == 0.0 {
            1.0
        } else {
            let x = x * std::f64::consts::PI;
            x.sin() / x
        }
    };
    match filter {
        ResizeFilter::Nearest => {
            if (-0.5..0.5).contains(&x) {
                1.0
            } else {
                0.0
            }
        }
        ResizeFilter::Bilinear => (1.0 - x.abs()).max(0.0),
        ResizeFilter::Bicubic => {
            let a = -0.5;
            let x = x.abs();
            if x < 1.0 {
                ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
            } else if x < 2.0 {
                (((x - 5.0) * x + 8.0) * x - 4.0) * a
            } else {
                0.0
            }
        }
        ResizeFilter::Lanczos3 => {
            if (-3.0..3.0).contains(&x) {
                sinc(x) * sinc(x / 3.0)
            } else {
                0.0
            }
        }
    }
}

/// For each output index: the first source index and the fixed-point weights.
struct Coefficients {
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
    kernel_size: usize,
}

fn coefficients(in_size: usize, out_size: usize, filter: ResizeFilter) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = support(filter) * filter_scale;
    let kernel_size = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * kernel_size];
    let mut k = vec![0f64; kernel_size];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filter_scale;
        // C's (int) truncates toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let mut total = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(xmax) {
            let w = weight(filter, (x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            total += w;
        }
        for (x, slot) in weights[xx * kernel_size..(xx + 1) * kernel_size]
            .iter_mut()
            .enumerate()
        {
            let w = if x < xmax && total != 0.0 {
                k[x] / total
            } else {
                0.0
            };
            let scaled = w * (1u64 << PRECISION_BITS) as f64;
            *slot = if w < 0.0 {
                (-0.5 + scaled) as i32
            } else {
                (0.5 + scaled) as i32
            };
        }
        bounds.push((xmin, xmax));
    }
    Coefficients {
        bounds,
        weights,
        kernel_size,
    }
}

fn clip8(value: i32) -> u8 {
    (value >> PRECISION_BITS).clamp(0, 255) as u8
}

pub(crate) fn resample(image: &Image, width: usize, height: usize, filter: ResizeFilter) -> Image {
    let c = image.channels();
    let mut current = image.clone();
    if width != image.width() {
        let co = coefficients(image.width(), width, filter);
        let mut out = Vec::with_capacity(width * image.height() * c);
        for row in current.pixels().chunks_exact(image.width() * c) {
            for (xx, &(xmin, xmax)) in co.bounds.iter().enumerate() {
                let k = &co.weights[xx * co.kernel_size..];
                for ch in 0..c {
                    let mut sum: i32 = 1 << (PRECISION_BITS - 1);
                    for (x, &kx) in k.iter().enumerate().take(xmax) {
                        sum = sum.wrapping_add(row[(xmin + x) * c + ch] as i32 * kx);
                    }
                    out.push(clip8(sum));
                }
            }
        }
        current = Image::from_parts(width, image.height(), c, out);
    }
    if height != image.height() {
        let co = coefficients(image.height(), height, filter);
        let row_len = width * c;
        let src = current.pixels();
        let mut out = Vec::with_capacity(height * row_len);
        for (yy, &(ymin, ymax)) in co.bounds.iter().enumerate() {
            let k = &co.weights[yy * co.kernel_size..];
            for i in 0..row_len {
                let mut sum: i32 = 1 << (PRECISION_BITS - 1);
                for (y, &ky) in k.iter().enumerate().take(ymax) {
                    sum = sum.wrapping_add(src[(ymin + y) * row_len + i] as i32 * ky);
                }
                out.push(clip8(sum));
            }
        }
        current = Image::from_parts(width, height, c, out);
    }
    current
}

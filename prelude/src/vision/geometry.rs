//! Geometric transforms: flips, quarter turns, crops, padding, resizing and rotation by any
//! angle. Each returns a new image; the kernels are written for speed on 8-bit pixels (see
//! `bench/augmentation.py` for the side-by-side with OpenCV and Pillow).

use super::image::Image;
use super::resample::{resample, ResizeFilter};
use anyhow::{bail, Result};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// How [`Image::pad`] fills the new border.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// One colour (gray images use the first value).
    Constant([u8; 3]),
    /// Repeats the edge pixel.
    Edge,
    /// Mirrors the image without repeating the edge pixel (numpy's "reflect").
    Reflect,
}

impl Image {
    /// Mirrors left to right.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(3, 1, 1, vec![1, 2, 3]).unwrap();
    /// assert_eq!(image.flip_horizontal().pixels(), &[3, 2, 1]);
    /// ```
    pub fn flip_horizontal(&self) -> Image {
        let (w, c) = (self.width(), self.channels());
        let mut out = Vec::with_capacity(self.pixels().len());
        for src in self.pixels().chunks_exact(w * c) {
            let start = out.len();
            match c {
                1 => out.extend(src.iter().rev()),
                _ => {
                    // The row is written straight into the spare capacity: no zero fill first.
                    flip_row_rgb(&mut out.spare_capacity_mut()[..src.len()], src);
                    // SAFETY: flip_row_rgb wrote all src.len() bytes after `start`.
                    unsafe { out.set_len(start + src.len()) };
                }
            }
        }
        Image::from_parts(self.width(), self.height(), c, out)
    }

    /// Mirrors top to bottom.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(1, 3, 1, vec![1, 2, 3]).unwrap();
    /// assert_eq!(image.flip_vertical().pixels(), &[3, 2, 1]);
    /// ```
    pub fn flip_vertical(&self) -> Image {
        let row = self.width() * self.channels();
        let mut out = Vec::with_capacity(self.pixels().len());
        for src in self.pixels().chunks_exact(row).rev() {
            out.extend_from_slice(src);
        }
        Image::from_parts(self.width(), self.height(), self.channels(), out)
    }

    /// Rotates by `quarter_turns` × 90 degrees counter-clockwise (negative turns go
    /// clockwise), exactly, without interpolation.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// // 1 2      2 4
    /// // 3 4  ->  1 3
    /// let image = Image::new(2, 2, 1, vec![1, 2, 3, 4]).unwrap();
    /// assert_eq!(image.rotate90(1).pixels(), &[2, 4, 1, 3]);
    /// assert_eq!(image.rotate90(-1).rotate90(1), image);
    /// ```
    pub fn rotate90(&self, quarter_turns: i32) -> Image {
        match quarter_turns.rem_euclid(4) {
            0 => self.clone(),
            1 => self.quarter_turn(false),
            2 => self.flip_horizontal().flip_vertical(),
            _ => self.quarter_turn(true),
        }
    }

    fn quarter_turn(&self, clockwise: bool) -> Image {
        let out = match self.channels() {
            1 => quarter_turn::<1>(self.pixels(), self.width(), self.height(), clockwise),
            _ => quarter_turn::<3>(self.pixels(), self.width(), self.height(), clockwise),
        };
        Image::from_parts(self.height(), self.width(), self.channels(), out)
    }

    /// The `width` × `height` region whose top-left corner is (`x`, `y`); it must lie inside
    /// the image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(3, 2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
    /// assert_eq!(image.crop(1, 0, 2, 2).unwrap().pixels(), &[2, 3, 5, 6]);
    /// assert!(image.crop(2, 0, 2, 2).is_err());
    /// ```
    pub fn crop(&self, x: usize, y: usize, width: usize, height: usize) -> Result<Image> {
        if width == 0 || height == 0 || x + width > self.width() || y + height > self.height() {
            bail!(
                "crop: the {width}x{height} region at ({x}, {y}) does not fit in the {}x{} \
                 image; pad the image first or crop a smaller region",
                self.width(),
                self.height()
            );
        }
        let c = self.channels();
        let row = self.width() * c;
        let mut out = Vec::with_capacity(width * height * c);
        for src in self.pixels().chunks_exact(row).skip(y).take(height) {
            out.extend_from_slice(&src[x * c..(x + width) * c]);
        }
        Ok(Image::from_parts(width, height, c, out))
    }

    /// The central `width` × `height` region, placed as torchvision's `center_crop` places it
    /// (the offset is half the margin, rounded half to even).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(3, 3, 1, (1..=9).collect()).unwrap();
    /// assert_eq!(image.center_crop(1, 1).unwrap().pixels(), &[5]);
    /// ```
    pub fn center_crop(&self, width: usize, height: usize) -> Result<Image> {
        if width > self.width() || height > self.height() {
            bail!(
                "center_crop: {width}x{height} is larger than the {}x{} image; resize or pad first",
                self.width(),
                self.height()
            );
        }
        self.crop(
            center_offset(self.width(), width),
            center_offset(self.height(), height),
            width,
            height,
        )
    }

    /// Adds a border of `left`, `top`, `right`, `bottom` pixels.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(3, 1, 1, vec![1, 2, 3]).unwrap();
    /// assert_eq!(image.pad(2, 0, 1, 0, Padding::Reflect).unwrap().pixels(), &[3, 2, 1, 2, 3, 2]);
    /// assert_eq!(image.pad(1, 0, 1, 0, Padding::Edge).unwrap().pixels(), &[1, 1, 2, 3, 3]);
    /// assert_eq!(image.pad(1, 0, 0, 0, Padding::Constant([9, 9, 9])).unwrap().pixels(), &[9, 1, 2, 3]);
    /// ```
    pub fn pad(
        &self,
        left: usize,
        top: usize,
        right: usize,
        bottom: usize,
        padding: Padding,
    ) -> Result<Image> {
        let (w, h, c) = (self.width(), self.height(), self.channels());
        if padding == Padding::Reflect && (left.max(right) >= w || top.max(bottom) >= h) {
            bail!(
                "pad: reflect padding must be smaller than the image side (image {w}x{h}, \
                 padding left {left}, top {top}, right {right}, bottom {bottom}); use Edge or \
                 Constant padding"
            );
        }
        let (out_w, out_h) = (w + left + right, h + top + bottom);
        let source = |i: isize, n: usize| -> Option<usize> {
            if (0..n as isize).contains(&i) {
                return Some(i as usize);
            }
            match padding {
                Padding::Constant(_) => None,
                Padding::Edge => Some(i.clamp(0, n as isize - 1) as usize),
                Padding::Reflect => Some(if i < 0 {
                    (-i) as usize
                } else {
                    2 * (n - 1) - i as usize
                }),
            }
        };
        let fill = match padding {
            Padding::Constant(colour) => colour,
            _ => [0; 3],
        };
        let columns: Vec<Option<usize>> = (0..out_w)
            .map(|x| source(x as isize - left as isize, w))
            .collect();
        let mut out = Vec::with_capacity(out_w * out_h * c);
        for y in 0..out_h {
            match source(y as isize - top as isize, h) {
                None => (0..out_w).for_each(|_| out.extend_from_slice(&fill[..c])),
                Some(sy) => {
                    let row = &self.pixels()[sy * w * c..(sy + 1) * w * c];
                    for column in &columns {
                        match column {
                            Some(sx) => out.extend_from_slice(&row[sx * c..sx * c + c]),
                            None => out.extend_from_slice(&fill[..c]),
                        }
                    }
                }
            }
        }
        Ok(Image::from_parts(out_w, out_h, c, out))
    }

    /// Resizes to `width` × `height`. The filters and their rounding follow Pillow's
    /// `Image.resize` (fixed-point weights, two separable passes), so results match Pillow 13
    /// pixel for pixel when one side changes and within one level when both do (Pillow then
    /// sometimes runs the vertical pass first); shrinking is antialiased.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(2, 1, 1, vec![0, 200]).unwrap();
    /// assert_eq!(image.resize(4, 1, ResizeFilter::Nearest).unwrap().pixels(), &[0, 0, 200, 200]);
    /// assert_eq!(image.resize(4, 1, ResizeFilter::Bilinear).unwrap().pixels(), &[0, 50, 150, 200]);
    /// ```
    pub fn resize(&self, width: usize, height: usize, filter: ResizeFilter) -> Result<Image> {
        if width == 0 || height == 0 {
            bail!("resize: target size {width}x{height}; both sides must be at least 1");
        }
        if (width, height) == (self.width(), self.height()) {
            return Ok(self.clone());
        }
        if filter == ResizeFilter::Nearest {
            return Ok(self.resize_nearest(width, height));
        }
        Ok(resample(self, width, height, filter))
    }

    fn resize_nearest(&self, width: usize, height: usize) -> Image {
        let c = self.channels();
        // Pillow (ImagingScaleAffine): the source coordinate starts at scale / 2 and grows by
        // `scale` per pixel in double precision; the accumulated rounding decides ties.
        let map = |from: usize, to: usize| -> Vec<usize> {
            let step = from as f64 / to as f64;
            let mut at = step * 0.5;
            (0..to)
                .map(|_| {
                    let i = (at as usize).min(from - 1);
                    at += step;
                    i
                })
                .collect()
        };
        let columns = map(self.width(), width);
        let rows = map(self.height(), height);
        let mut out = Vec::with_capacity(width * height * c);
        for &sy in &rows {
            let row = &self.pixels()[sy * self.width() * c..(sy + 1) * self.width() * c];
            for &sx in &columns {
                out.extend_from_slice(&row[sx * c..sx * c + c]);
            }
        }
        Image::from_parts(width, height, c, out)
    }

    /// Rotates by `degrees` counter-clockwise about the centre with bilinear interpolation.
    /// Uncovered corners get `fill`; `expand` grows the canvas to hold the whole rotated image,
    /// otherwise the size stays and the corners are cut. Same geometry as OpenCV's
    /// `warpAffine(getRotationMatrix2D(((w-1)/2, (h-1)/2), degrees, 1))`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(3, 2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
    /// let turned = image.rotate(90.0, [0, 0, 0], true);
    /// assert_eq!((turned.width(), turned.height()), (2, 3));
    /// assert_eq!(turned, image.rotate90(1));
    /// ```
    pub fn rotate(&self, degrees: f64, fill: [u8; 3], expand: bool) -> Image {
        let (w, h) = (self.width() as f64, self.height() as f64);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (out_w, out_h) = if expand {
            // Trim float noise so 90 degrees gives exactly h x w.
            let side = |v: f64| ((v - 1e-6).ceil().max(1.0)) as usize;
            (
                side(w * cos.abs() + h * sin.abs()),
                side(w * sin.abs() + h * cos.abs()),
            )
        } else {
            (self.width(), self.height())
        };
        // Output pixel (x, y) samples the source at centre + R⁻¹ (p - out_centre), in pixel
        // index coordinates (centres at integers). On screen (y down) a counter-clockwise turn
        // by θ maps d to (d.x cos + d.y sin, -d.x sin + d.y cos); its inverse is below.
        let (cx, cy) = ((w - 1.0) / 2.0, (h - 1.0) / 2.0);
        let (ocx, ocy) = ((out_w as f64 - 1.0) / 2.0, (out_h as f64 - 1.0) / 2.0);
        let map = Affine {
            xx: cos,
            xy: -sin,
            x0: cx - cos * ocx + sin * ocy,
            yx: sin,
            yy: cos,
            y0: cy - sin * ocx - cos * ocy,
        };
        self.warp_bilinear(&map, out_w, out_h, fill)
    }

    /// Samples this image at `map(x, y)` for every output pixel, bilinearly; rows in parallel.
    pub(crate) fn warp_bilinear(
        &self,
        map: &Affine,
        out_w: usize,
        out_h: usize,
        fill: [u8; 3],
    ) -> Image {
        let c = self.channels();
        let mut out = vec![0u8; out_w * out_h * c];
        let rows_per_task = (out_h / (4 * rayon::current_num_threads())).max(8);
        out.par_chunks_mut(out_w * c * rows_per_task)
            .enumerate()
            .for_each(|(chunk, rows)| {
                for (i, row) in rows.chunks_exact_mut(out_w * c).enumerate() {
                    let y = chunk * rows_per_task + i;
                    match c {
                        1 => warp_row::<1>(self, map, y, row, fill),
                        _ => warp_row::<3>(self, map, y, row, fill),
                    }
                }
            });
        Image::from_parts(out_w, out_h, c, out)
    }
}

/// Where a centred crop of `crop` pixels starts in `size` (crop <= size): torchvision's
/// `round(margin / 2)`, whose ties go to the even number, so an odd margin of 1 or 5 puts the
/// extra pixel at the bottom right and one of 3 at the top left, as torchvision does.
pub(crate) fn center_offset(size: usize, crop: usize) -> usize {
    ((size - crop) as f64 / 2.0).round_ties_even() as usize
}

/// Maps an output pixel (x, y) to source coordinates (pixel centres at integers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affine {
    pub xx: f64,
    pub xy: f64,
    pub x0: f64,
    pub yx: f64,
    pub yy: f64,
    pub y0: f64,
}

/// One output row of a bilinear warp. Source coordinates advance by a constant step along the
/// row; the weights use 11 fractional bits in integer arithmetic (OpenCV uses 5 and 15), and
/// neighbours outside the image take the fill colour, as OpenCV's constant border does.
fn warp_row<const C: usize>(image: &Image, map: &Affine, y: usize, row: &mut [u8], fill: [u8; 3]) {
    const BITS: i32 = 11;
    const ONE: i64 = 1 << BITS;
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.pixels();
    let stride = image.width() * C;
    // Fixed point with 16 fractional bits for the coordinates: exact enough over 10k pixels.
    let to_fixed = |v: f64| (v * 65536.0).round() as i64;
    let mut sx = to_fixed(map.xy * y as f64 + map.x0);
    let mut sy = to_fixed(map.yy * y as f64 + map.y0);
    let (dx, dy) = (to_fixed(map.xx), to_fixed(map.yx));
    for out in row.chunks_exact_mut(C) {
        let (x0, y0) = (sx >> 16, sy >> 16);
        let fx = (sx & 0xFFFF) >> (16 - BITS);
        let fy = (sy & 0xFFFF) >> (16 - BITS);
        sx += dx;
        sy += dy;
        if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
            let i = y0 as usize * stride + x0 as usize * C;
            let (fx, fy) = (fx as u32, fy as u32);
            let (gx, gy) = (ONE as u32 - fx, ONE as u32 - fy);
            // Weights sum to 2^(2 BITS); 255 * 2^22 fits in u32.
            let (w00, w01, w10, w11) = (gx * gy, fx * gy, gx * fy, fx * fy);
            // SAFETY: x0 + 1 < w and y0 + 1 < h, so all four neighbours are inside `src`.
            let at = |k: usize| unsafe { *src.get_unchecked(k) } as u32;
            for (ch, value) in out.iter_mut().enumerate() {
                let sum = at(i + ch) * w00
                    + at(i + C + ch) * w01
                    + at(i + stride + ch) * w10
                    + at(i + stride + C + ch) * w11;
                *value = ((sum + (1 << (2 * BITS - 1))) >> (2 * BITS)) as u8;
            }
        } else if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
            out.copy_from_slice(&fill[..C]);
        } else {
            let at = |x: i64, y: i64, ch: usize| -> i64 {
                if x >= 0 && y >= 0 && x < w && y < h {
                    src[y as usize * stride + x as usize * C + ch] as i64
                } else {
                    fill[ch] as i64
                }
            };
            for (ch, value) in out.iter_mut().enumerate() {
                let top = at(x0, y0, ch) * ONE + (at(x0 + 1, y0, ch) - at(x0, y0, ch)) * fx;
                let bottom =
                    at(x0, y0 + 1, ch) * ONE + (at(x0 + 1, y0 + 1, ch) - at(x0, y0 + 1, ch)) * fx;
                let v = top * ONE + (bottom - top) * fy;
                *value = ((v + (1 << (2 * BITS - 1))) >> (2 * BITS)) as u8;
            }
        }
    }
}

/// Reverses the pixel order of an RGB row: 16 pixels per step with SSSE3 byte shuffles where
/// the CPU has them (every x86-64 CPU since 2006), pixel by pixel for the rest.
fn flip_row_rgb(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    let n = src.len() / 3;
    assert!(dst.len() >= src.len());
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("ssse3") {
        // SAFETY: the CPU supports SSSE3 (checked above); the function checks its bounds.
        done = unsafe { simd::flip_row_rgb(dst, src) };
    }
    // Source pixels `done..n` go to output pixels `0..n - done`.
    for x in done..n {
        for c in 0..3 {
            dst[(n - 1 - x) * 3 + c].write(src[x * 3 + c]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// For 16 RGB pixels (48 bytes, three 16-byte vectors), `MASKS[o][s]` picks the bytes of
    /// output vector `o` that come from source vector `s` (0x80: none), reversing pixel order.
    const MASKS: [[[u8; 16]; 3]; 3] = {
        let mut m = [[[0x80u8; 16]; 3]; 3];
        let mut j = 0;
        while j < 48 {
            let source = (15 - j / 3) * 3 + j % 3;
            m[j / 16][source / 16][j % 16] = (source % 16) as u8;
            j += 1;
        }
        m
    };

    /// Flips whole blocks of 16 pixels: source block b (read front to back, which the
    /// hardware prefetcher follows) lands reversed at the row's end. Returns how many source
    /// pixels were moved (the caller does the rest).
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn flip_row_rgb(dst: &mut [std::mem::MaybeUninit<u8>], src: &[u8]) -> usize {
        let n = src.len() / 3;
        assert!(dst.len() >= n * 3);
        let masks: [[__m128i; 3]; 3] = std::array::from_fn(|o| {
            std::array::from_fn(|s| _mm_loadu_si128(MASKS[o][s].as_ptr() as *const __m128i))
        });
        let blocks = n / 16;
        for b in 0..blocks {
            // SAFETY: source pixels 16b .. 16(b+1) and output pixels n-16(b+1) .. n-16b are
            // inside the slices (b < n / 16).
            let s = src.as_ptr().add(b * 48);
            let vectors = [
                _mm_loadu_si128(s as *const __m128i),
                _mm_loadu_si128(s.add(16) as *const __m128i),
                _mm_loadu_si128(s.add(32) as *const __m128i),
            ];
            let d = (dst.as_mut_ptr() as *mut u8).add((n - 16 * (b + 1)) * 3);
            for (o, mask) in masks.iter().enumerate() {
                let v = _mm_or_si128(
                    _mm_or_si128(
                        _mm_shuffle_epi8(vectors[0], mask[0]),
                        _mm_shuffle_epi8(vectors[1], mask[1]),
                    ),
                    _mm_shuffle_epi8(vectors[2], mask[2]),
                );
                _mm_storeu_si128(d.add(o * 16) as *mut __m128i, v);
            }
        }
        blocks * 16
    }
}

/// A 90-degree turn. Source rows are read front to back (the slow side, main memory, sees a
/// stream the prefetcher follows) and pixels scattered into the output, which stays in cache;
/// rows are visited so that each output row fills left to right. An RGB pixel moves as one
/// 4-byte load and store whose 4th byte lands on the next pixel of its output row, written
/// later.
fn quarter_turn<const C: usize>(src: &[u8], w: usize, h: usize, clockwise: bool) -> Vec<u8> {
    let len = src.len();
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let dst = out.as_mut_ptr();
    let s = src.as_ptr();
    debug_assert_eq!(len, w * h * C);
    for step in 0..h {
        // Output column ox ascends with `step`, so each output row fills left to right.
        let (y, ox) = if clockwise {
            (h - 1 - step, step)
        } else {
            (step, step)
        };
        let last_in_row = ox + 1 == h;
        // Output pixel of source (x, y): row oy = x (clockwise) or w - 1 - x, column ox.
        let first_out = if clockwise {
            ox * C
        } else {
            ((w - 1) * h + ox) * C
        };
        let out_step = (h * C) as isize * if clockwise { 1 } else { -1 };
        // SAFETY: the source row y and the output pixels (oy, ox) for x < w are inside the
        // buffers; a 4-byte read needs a byte after the pixel (y < h - 1 leaves a whole row),
        // a 4-byte write a following pixel in the output row (not the last column).
        unsafe {
            let mut from = s.add(y * w * C);
            let mut to = dst.add(first_out);
            if C == 3 && !last_in_row && y + 1 < h {
                for _ in 0..w {
                    (to as *mut u32).write_unaligned((from as *const u32).read_unaligned());
                    from = from.add(3);
                    to = to.offset(out_step);
                }
            } else {
                for _ in 0..w {
                    std::ptr::copy_nonoverlapping(from, to, C);
                    from = from.add(C);
                    to = to.offset(out_step);
                }
            }
        }
    }
    // SAFETY: every output byte 0..len was written above (each output pixel once).
    unsafe { out.set_len(len) };
    out
}

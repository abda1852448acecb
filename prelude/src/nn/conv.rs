//! A 3×3 "same" convolution. On the CPU it is one node of the autograd graph (with the ReLU
//! after it, when asked): a matrix product over the image patches (im2col) forward, and one op
//! backward that returns the weight, bias and input gradients (col2im for the input), so candle
//! never accumulates the patch matrix's gradient. The batch is cut into chunks convolved in
//! parallel, each product on one thread.
//!
//! Why not candle-nn's `Conv2d`: its CPU backward goes through candle's direct
//! `conv_transpose2d` loops, which made the digits CNN five times slower than PyTorch
//! (bench/RESULTS.md), and building the patches from candle tensor ops (pad, narrow, stack,
//! permute) was slower still (strided copies element by element). On other devices the layer
//! uses candle's conv2d, with the same weights.

use super::cpu_ops::{f32_slice, matmul, uses_cpu_kernels, KeptForBackward, Threads};
use candle_core::{CpuStorage, CustomOp3, Layout, Module, Shape, Tensor};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;
use std::ops::Range;

/// Weights of shape (out, in, 3, 3) and a bias, with candle-nn's names and initialisation,
/// so its safetensors files load into candle-nn's `Conv2d` and back.
///
/// ```
/// use trainbook::prelude::*;
/// let params = Parameters::new(0, &Device::Cpu);
/// let conv = Conv3x3::new(2, 4, params.builder().pp("conv")).unwrap();
/// let x = Tensor::ones((1, 2, 5, 5), DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(conv.forward(&x).unwrap().dims(), &[1, 4, 5, 5]);
/// ```
#[derive(Clone, Debug)]
pub struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
}

impl Conv3x3 {
    /// A convolution from `in_channels` to `out_channels`, its tensors created by `vb`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Conv3x3> {
        // candle-nn's conv2d initialisation (He normal for ReLU networks).
        let weight = vb.get_with_hints(
            (out_channels, in_channels, 3, 3),
            "weight",
            candle_nn::init::DEFAULT_KAIMING_NORMAL,
        )?;
        let bound = 1.0 / (in_channels as f64).sqrt();
        let bias = vb.get_with_hints(
            out_channels,
            "bias",
            Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        Ok(Conv3x3 { weight, bias })
    }

    /// A convolution from existing tensors: `weight` (out, in, 3, 3) and `bias` (out), e.g.
    /// loaded from another framework's checkpoint.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let weight = Tensor::ones((1, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    /// let bias = Tensor::new(&[0.5f32], &Device::Cpu).unwrap();
    /// let conv = Conv3x3::from_tensors(weight, bias).unwrap();
    /// let x = Tensor::ones((1, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    /// // The centre pixel sees all nine ones; a corner sees four.
    /// let y = conv.forward(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    /// assert_eq!((y[4], y[0]), (9.5, 4.5));
    /// ```
    pub fn from_tensors(weight: Tensor, bias: Tensor) -> candle_core::Result<Conv3x3> {
        let (out, _, kh, kw) = weight.dims4()?;
        if (kh, kw) != (3, 3) || bias.dims() != [out] {
            candle_core::bail!(
                "Conv3x3::from_tensors: expected a weight of shape (out, in, 3, 3) and a bias of \
                 shape (out), got {:?} and {:?}",
                weight.dims(),
                bias.dims()
            );
        }
        Ok(Conv3x3 { weight, bias })
    }
}

impl Conv3x3 {
    /// The convolution followed by ReLU, max(conv(x), 0): on the CPU one graph node (the
    /// ReLU is applied as the output is written and masks the gradient in the same backward
    /// pass), elsewhere `forward` then candle's `relu`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let weight = Tensor::new(&[[[[0f32, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]]], &Device::Cpu).unwrap();
    /// let conv = Conv3x3::from_tensors(weight, Tensor::new(&[1f32], &Device::Cpu).unwrap()).unwrap();
    /// let x = Tensor::new(&[[[[0f32, 3.0]]]], &Device::Cpu).unwrap();
    /// // 1 − x: 1 and −2, the negative one clipped to zero.
    /// let y = conv.forward_relu(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    /// assert_eq!(y, [1.0, 0.0]);
    /// ```
    pub fn forward_relu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if uses_cpu_kernels(x) {
            self.forward_cpu(x, true)
        } else {
            self.forward(x)?.relu()
        }
    }

    fn forward_cpu(&self, x: &Tensor, relu: bool) -> candle_core::Result<Tensor> {
        // The op reads the weight as an (out, in·9) matrix and the bias as a vector.
        let (weight, bias) = (self.weight.contiguous()?, self.bias.contiguous()?);
        let op = Conv3x3Cpu {
            relu,
            // The patch matrix serves only the weight's gradient: kept when there will be one.
            patches: KeptForBackward::new(weight.track_op()),
        };
        x.apply_op3(&weight, &bias, op)
    }
}

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if uses_cpu_kernels(x) {
            return self.forward_cpu(x, false);
        }
        let out = self.weight.dim(0)?;
        let y = x.conv2d(&self.weight, 1, 1, 1, 1)?;
        y.broadcast_add(&self.bias.reshape((1, out, 1, 1))?)
    }
}

/// The CPU convolution (x, weight, bias) → (n, out, h, w): the patch matrix P (n·h·w, c·9)
/// times Wᵀ in one matrix product, written out in NCHW order with the bias (and the ReLU).
struct Conv3x3Cpu {
    relu: bool,
    /// P of each chunk, kept from the forward pass for the weight gradient; nothing is kept
    /// when no backward can follow (inference), so predicting on a large batch does not hold it.
    patches: KeptForBackward<Vec<Vec<f32>>>,
}

/// Pixels per chunk of the batch (see [`ConvDims::images_per_chunk`]).
const CHUNK_PIXELS: usize = 2048;

/// A sum in eight lanes, which the compiler vectorises (a plain `sum` adds one at a time).
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The shape of one convolution: batch, input channels, height, width, output channels.
#[derive(Clone, Copy)]
struct ConvDims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    out: usize,
}

impl ConvDims {
    fn new(x: &Layout, weight: &Layout, bias: &Layout) -> candle_core::Result<ConvDims> {
        let (n, c, h, w) = x.shape().dims4()?;
        let (out, weight_c, kh, kw) = weight.shape().dims4()?;
        if weight_c != c {
            candle_core::bail!(
                "Conv3x3: the input has {c} channels but the weight expects {weight_c} (weight shape {:?})",
                weight.dims()
            );
        }
        if (kh, kw) != (3, 3) || bias.dims() != [out] {
            candle_core::bail!(
                "Conv3x3: input {:?}, weight {:?} and bias {:?} do not fit (expected (n, c, h, w), (out, c, 3, 3), (out))",
                x.dims(),
                weight.dims(),
                bias.dims()
            );
        }
        Ok(ConvDims { n, c, h, w, out })
    }

    /// The batch is cut into chunks of this many images (about `CHUNK_PIXELS` pixels),
    /// convolved in parallel, each by one matrix product on one thread: on 2 cores that beat
    /// gemm's own threads, which woke and slept around every small product (bench/RESULTS.md).
    fn images_per_chunk(&self) -> usize {
        (CHUNK_PIXELS / (self.h * self.w).max(1)).max(1)
    }
}

/// A contiguous F32 storage's values from its layout's offset on.
fn contiguous<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&f32_slice(storage, op)?[start..end]),
        None => candle_core::bail!("{op}: expected a contiguous tensor"),
    }
}

impl CustomOp3 for Conv3x3Cpu {
    fn name(&self) -> &'static str {
        "conv3x3-cpu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
        bias: &CpuStorage,
        bias_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = CustomOp3::name(self);
        let d = ConvDims::new(x_layout, weight_layout, bias_layout)?;
        let weight = contiguous(weight, weight_layout, name)?;
        let bias = contiguous(bias, bias_layout, name)?;
        let input = f32_slice(x, name)?;
        let (columns, plane) = (d.c * 9, d.h * d.w);
        let per_chunk = d.images_per_chunk();
        let mut y = vec![0f32; d.n * d.out * plane];
        let patches: Vec<Vec<f32>> = y
            .par_chunks_mut((per_chunk * d.out * plane).max(1))
            .enumerate()
            .map(|(chunk, y)| {
                let first = chunk * per_chunk;
                let images = first..(first + per_chunk).min(d.n);
                let pixels = images.len() * plane;
                let patches = im2col(input, x_layout, d, images);
                // W (out, c·9) · P (c·9, pixels): channel-major over the chunk's pixels.
                let product = matmul(
                    (d.out, columns, pixels),
                    weight,
                    (columns, 1),
                    &patches,
                    (pixels, 1),
                    Threads::One,
                );
                for (image, y) in y.chunks_exact_mut(d.out * plane).enumerate() {
                    for ((o, y), &bias) in y.chunks_exact_mut(plane).enumerate().zip(bias) {
                        let values = &product[o * pixels + image * plane..][..plane];
                        for (y, &v) in y.iter_mut().zip(values) {
                            *y = if self.relu {
                                (v + bias).max(0.0)
                            } else {
                                v + bias
                            };
                        }
                    }
                }
                patches
            })
            .collect();
        self.patches.keep(patches);
        Ok((CpuStorage::F32(y), Shape::from((d.n, d.out, d.h, d.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let patches = self.patches.take();
        let input_gradient = x.track_op();
        let backward = Conv3x3Backward {
            relu: self.relu,
            patches,
            weight_gradient: weight.track_op(),
            // (out, c·9), a few thousand values: copied rather than passed as a fourth operand.
            weight: if input_gradient {
                weight.flatten_all()?.to_vec1::<f32>()?
            } else {
                Vec::new()
            },
        };
        let packed = x.apply_op3_no_bwd(grad, res, &backward)?;
        let (n, c, h, w) = x.dims4()?;
        let (weights, out) = (weight.elem_count(), bias.elem_count());
        let grad_weight = packed.narrow(0, 0, weights)?.reshape(weight.shape())?;
        let grad_bias = packed.narrow(0, weights, out)?;
        let grad_x = if input_gradient {
            Some(
                packed
                    .narrow(0, weights + out, n * c * h * w)?
                    .reshape((n, c, h, w))?,
            )
        } else {
            None
        };
        Ok((
            grad_x,
            weight.track_op().then_some(grad_weight),
            bias.track_op().then_some(grad_bias),
        ))
    }
}

/// The convolution's gradients in one pass, from (x, dL/dy, y) (y only for the ReLU's mask):
/// packed as one vector of dL/dW (out·c·9), dL/db (out) and, when the input needs it, dL/dx
/// (n·c·h·w).
struct Conv3x3Backward {
    relu: bool,
    /// P of each chunk from the forward pass; rebuilt from x when absent (a second backward
    /// over the same graph).
    patches: Option<Vec<Vec<f32>>>,
    /// False for a frozen weight: dL/dW is then left at zero (and unused).
    weight_gradient: bool,
    /// W as (out, c·9) when the input needs its gradient, else empty.
    weight: Vec<f32>,
}

impl CustomOp3 for Conv3x3Backward {
    fn name(&self) -> &'static str {
        "conv3x3-backward-cpu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
        y: &CpuStorage,
        y_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = CustomOp3::name(self);
        let (n, c, h, w) = x_layout.shape().dims4()?;
        let (_, out, _, _) = y_layout.shape().dims4()?;
        let d = ConvDims { n, c, h, w, out };
        let (columns, plane) = (c * 9, h * w);
        let grad_values = f32_slice(grad, name)?;
        let input = f32_slice(x, name)?;
        let y = contiguous(y, y_layout, name)?;
        let gs = grad_layout.stride();
        let input_gradient = !self.weight.is_empty();
        let per_chunk = d.images_per_chunk();
        let chunks = d.n.div_ceil(per_chunk);
        let mut grad_x = vec![0f32; if input_gradient { n * c * plane } else { 0 }];
        // (An empty input, zero channels or pixels, has an empty gradient: no chunks of it.)
        let grad_x_chunks: Vec<Option<&mut [f32]>> = if input_gradient && c * plane > 0 {
            grad_x.chunks_mut(per_chunk * c * plane).map(Some).collect()
        } else {
            (0..chunks).map(|_| None).collect()
        };
        // Per chunk: dL/dW and dL/db of its images, summed below in chunk order (the split
        // depends on the shape only, so the result does not depend on the thread count).
        let partials: Vec<(Vec<f32>, Vec<f32>)> = grad_x_chunks
            .into_par_iter()
            .enumerate()
            .map(|(chunk, grad_x)| {
                let first = chunk * per_chunk;
                let images = first..(first + per_chunk).min(n);
                let pixels = images.len() * plane;
                // G (out, pixels): the output gradient channel-major, through the ReLU's mask.
                let mut g = Vec::with_capacity(out * pixels);
                for o in 0..out {
                    for b in images.clone() {
                        let outputs = &y[(b * out + o) * plane..][..plane];
                        let base = grad_layout.start_offset() + b * gs[0] + o * gs[1];
                        let mask = |value: f32, output: f32| {
                            if self.relu && output <= 0.0 {
                                0.0
                            } else {
                                value
                            }
                        };
                        if gs[3] == 1 && gs[2] == w {
                            // A contiguous plane: no index arithmetic per value.
                            let values = &grad_values[base..][..plane];
                            g.extend(values.iter().zip(outputs).map(|(&v, &o)| mask(v, o)));
                        } else {
                            g.extend(outputs.iter().enumerate().map(|(p, &output)| {
                                mask(
                                    grad_values[base + (p / w) * gs[2] + (p % w) * gs[3]],
                                    output,
                                )
                            }));
                        }
                    }
                }
                let grad_weight = if self.weight_gradient {
                    let rebuilt;
                    let patches = match self.patches.as_ref().and_then(|kept| kept.get(chunk)) {
                        Some(kept) => kept,
                        None => {
                            rebuilt = im2col(input, x_layout, d, images.clone());
                            &rebuilt
                        }
                    };
                    // dL/dW (out, c·9) = G · Pᵀ.
                    matmul(
                        (out, pixels, columns),
                        &g,
                        (pixels, 1),
                        patches,
                        (1, pixels),
                        Threads::One,
                    )
                } else {
                    vec![0f32; out * columns]
                };
                let grad_bias = g.chunks_exact(pixels.max(1)).map(sum).collect();
                if let Some(grad_x) = grad_x {
                    // dL/dP (c·9, pixels) = Wᵀ · G, summed back onto the pixels (col2im).
                    let patch_grad = matmul(
                        (columns, out, pixels),
                        &self.weight,
                        (1, columns),
                        &g,
                        (pixels, 1),
                        Threads::One,
                    );
                    let chunk_dims = ConvDims {
                        n: images.len(),
                        ..d
                    };
                    col2im(&patch_grad, chunk_dims, grad_x);
                }
                (grad_weight, grad_bias)
            })
            .collect();
        let weights = out * columns;
        let mut packed = vec![0f32; weights + out];
        for (grad_weight, grad_bias) in &partials {
            let (w_sum, b_sum) = packed.split_at_mut(weights);
            for (total, v) in w_sum.iter_mut().zip(grad_weight) {
                *total += v;
            }
            for (total, v) in b_sum.iter_mut().zip(grad_bias) {
                *total += v;
            }
        }
        packed.extend_from_slice(&grad_x);
        let input_len = grad_x.len();
        Ok((
            CpuStorage::F32(packed),
            Shape::from(weights + out + input_len),
        ))
    }
}

/// (n, c, h, w) of any strides → P (c·9, pixels of `images`): row (channel, ky, kx), in the
/// weight's column order, holds for every pixel of those images its neighbour at offset (ky − 1, kx − 1),
/// zero outside the image. Each row is the input plane shifted, so it is copied a row of
/// pixels at a time.
fn im2col(input: &[f32], layout: &Layout, d: ConvDims, images: Range<usize>) -> Vec<f32> {
    let ConvDims { c, h, w, .. } = d;
    let s = layout.stride();
    let offset = layout.start_offset();
    let mut out = Vec::with_capacity(c * 9 * images.len() * h * w);
    if w == 0 {
        return out;
    }
    for ci in 0..c {
        for ky in 0..3 {
            for kx in 0..3 {
                for b in images.clone() {
                    for y in 0..h {
                        let Some(yy) = (y + ky).checked_sub(1).filter(|&yy| yy < h) else {
                            out.extend(std::iter::repeat_n(0.0, w));
                            continue;
                        };
                        let row = offset + b * s[0] + ci * s[1] + yy * s[2];
                        // Pixel x reads input column x + kx − 1: [lo, hi) of them exist.
                        let (lo, hi) = (usize::from(kx == 0), w - usize::from(kx == 2));
                        let first = lo + kx - 1;
                        out.extend(std::iter::repeat_n(0.0, lo));
                        if s[3] == 1 {
                            out.extend_from_slice(&input[row + first..][..hi - lo]);
                        } else {
                            out.extend((0..hi - lo).map(|i| input[row + (first + i) * s[3]]));
                        }
                        out.extend(std::iter::repeat_n(0.0, w - hi));
                    }
                }
            }
        }
    }
    out
}

/// The adjoint of [`im2col`]: adds each entry of a patch-matrix gradient (c·9, n·h·w) onto
/// its pixel of `out` (n, c, h, w), which starts at zero.
fn col2im(patch_grad: &[f32], d: ConvDims, out: &mut [f32]) {
    let ConvDims { n, c, h, w, .. } = d;
    let (plane, pixels) = (h * w, n * h * w);
    if w == 0 {
        return;
    }
    for ci in 0..c {
        for ky in 0..3 {
            for kx in 0..3 {
                let source = &patch_grad[((ci * 3 + ky) * 3 + kx) * pixels..][..pixels];
                for b in 0..n {
                    for y in 0..h {
                        let Some(yy) = (y + ky).checked_sub(1).filter(|&yy| yy < h) else {
                            continue;
                        };
                        let (lo, hi) = (usize::from(kx == 0), w - usize::from(kx == 2));
                        let first = lo + kx - 1;
                        let from = &source[b * plane + y * w + lo..][..hi - lo];
                        let to = &mut out[(b * c + ci) * plane + yy * w + first..][..hi - lo];
                        for (t, &f) in to.iter_mut().zip(from) {
                            *t += f;
                        }
                    }
                }
            }
        }
    }
}

//! A 3×3 "same" convolution. On the CPU it is one matrix product over the image patches:
//! the patch matrix (im2col) and its backward (col2im) are plain loops, so the whole layer's
//! backward pass is matrix products and two linear passes over memory.
//!
//! Why not candle-nn's `Conv2d`: its CPU backward goes through candle's direct
//! `conv_transpose2d` loops, which made the digits CNN five times slower than PyTorch
//! (bench/RESULTS.md), and building the patches from candle tensor ops (pad, narrow, stack,
//! permute) was slower still (strided copies element by element). On other devices the layer
//! uses candle's conv2d, with the same weights.

use super::cpu_ops::f32_slice;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Shape, Tensor};
use candle_nn::{Init, VarBuilder};

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

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let out = self.weight.dim(0)?;
        if !x.device().is_cpu() || x.dtype() != DType::F32 {
            let y = x.conv2d(&self.weight, 1, 1, 1, 1)?;
            return y.broadcast_add(&self.bias.reshape((1, out, 1, 1))?);
        }
        let patches = x.apply_op1(Im2Col { n, c, h, w })?;
        let kernel = self.weight.reshape((out, c * 9))?;
        // (n·h·w, out) is NHWC; the permuted view is NCHW without a copy.
        super::linear(&patches, &kernel, Some(&self.bias))?
            .reshape((n, h, w, out))?
            .permute((0, 3, 1, 2))
    }
}

/// (n, c, h, w) of any strides → (n·h·w, c·9): row (b, y, x) holds the 3×3 neighbourhood of
/// pixel (y, x) in every channel, zero outside the image; columns ordered (channel, ky, kx)
/// as the weight's.
struct Im2Col {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
}

/// The adjoint of [`Im2Col`]: sums each patch entry back onto its pixel.
struct Col2Im {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_slice(storage, self.name())?;
        let (n, c, h, w) = (self.n, self.c, self.h, self.w);
        let s = layout.stride();
        let offset = layout.start_offset();
        let columns = c * 9;
        let mut out = vec![0f32; n * h * w * columns];
        for b in 0..n {
            for y in 0..h {
                for x in 0..w {
                    let row = ((b * h + y) * w + x) * columns;
                    for ci in 0..c {
                        let base = offset + b * s[0] + ci * s[1];
                        for ky in 0..3 {
                            let yy = y + ky;
                            if yy == 0 || yy > h {
                                continue;
                            }
                            for kx in 0..3 {
                                let xx = x + kx;
                                if xx == 0 || xx > w {
                                    continue;
                                }
                                out[row + ci * 9 + ky * 3 + kx] =
                                    input[base + (yy - 1) * s[2] + (xx - 1) * s[3]];
                            }
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n * h * w, columns))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        if !arg.track_op() {
            // The network's input (the first convolution's image) needs no gradient.
            return Ok(None);
        }
        let (n, c, h, w) = (self.n, self.c, self.h, self.w);
        Ok(Some(grad.apply_op1_no_bwd(&Col2Im { n, c, h, w })?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let grad = f32_slice(storage, self.name())?;
        let (n, c, h, w) = (self.n, self.c, self.h, self.w);
        let s = layout.stride();
        let offset = layout.start_offset();
        let mut out = vec![0f32; n * c * h * w];
        for b in 0..n {
            for y in 0..h {
                for x in 0..w {
                    let row = offset + ((b * h + y) * w + x) * s[0];
                    for ci in 0..c {
                        let base = (b * c + ci) * h * w;
                        for ky in 0..3 {
                            let yy = y + ky;
                            if yy == 0 || yy > h {
                                continue;
                            }
                            for kx in 0..3 {
                                let xx = x + kx;
                                if xx == 0 || xx > w {
                                    continue;
                                }
                                out[base + (yy - 1) * w + (xx - 1)] +=
                                    grad[row + (ci * 9 + ky * 3 + kx) * s[1]];
                            }
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }
}

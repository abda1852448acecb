//! CPU kernels for the layers whose candle backward is a chain of tensor ops: ReLU (compare,
//! cast, multiply) and 2×2 max pooling (upsample, compare, average-pool, divide, upsample,
//! multiply). Each is one loop forward and one backward here; other devices use candle's.
//! Also the matrix product our CPU layers share (`matmul`), which picks gemm's threading by
//! the product's size.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor};
use std::sync::Mutex;

/// The values of an F32 CPU storage (custom ops here are F32 only).
pub(super) fn f32_slice<'a>(storage: &'a CpuStorage, op: &str) -> candle_core::Result<&'a [f32]> {
    match storage {
        CpuStorage::F32(values) => Ok(values),
        _ => candle_core::bail!("{op} takes F32 tensors"),
    }
}

/// Visits the element offsets of a strided layout in row-major order.
fn for_each_offset(layout: &Layout, mut visit: impl FnMut(usize, usize)) {
    let dims = layout.dims();
    let strides = layout.stride();
    let count: usize = dims.iter().product();
    if layout.is_contiguous() {
        let start = layout.start_offset();
        for i in 0..count {
            visit(i, start + i);
        }
        return;
    }
    let mut index = vec![0usize; dims.len()];
    let mut offset = layout.start_offset();
    for i in 0..count {
        visit(i, offset);
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            offset += strides[d];
            if index[d] < dims[d] {
                break;
            }
            offset -= strides[d] * dims[d];
            index[d] = 0;
        }
    }
}

/// What a forward op keeps for its backward pass, only when a backward can follow (inference
/// keeps nothing). The backward takes it; a second backward over the same graph finds it gone
/// and recomputes.
pub(super) struct KeptForBackward<T>(Option<Mutex<Option<T>>>);

impl<T> KeptForBackward<T> {
    pub(super) fn new(wanted: bool) -> Self {
        KeptForBackward(wanted.then(|| Mutex::new(None)))
    }

    pub(super) fn keep(&self, value: T) {
        if let Some(slot) = &self.0 {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        }
    }

    pub(super) fn take(&self) -> Option<T> {
        let slot = self.0.as_ref()?;
        slot.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Which threads a matrix product runs on.
#[derive(Clone, Copy)]
pub(super) enum Threads {
    /// The calling thread (the caller runs its own work in parallel).
    One,
    /// gemm's rayon threads when the product is big enough to gain from them.
    BySize,
}

/// Products of fewer multiply-adds than this run on one thread. On the 2-core machine gemm's
/// threads woke and slept around every small product: the digits MLP (64×128 layers, batch 64)
/// trained 2.4 times as fast on one thread, and the 256×512×512 products of the wide MLP were
/// no faster on two (bench/RESULTS.md).
const PARALLEL_MULTIPLY_ADDS: usize = 1 << 25;

/// lhs (m, k) · rhs (k, n) as a new row-major (m, n) matrix; each operand is given with its
/// (row stride, column stride) from the start of its slice.
pub(super) fn matmul(
    dims: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    threads: Threads,
) -> Vec<f32> {
    let mut dst = Vec::new();
    matmul_append(dims, &mut dst, lhs, lhs_strides, rhs, rhs_strides, threads);
    dst
}

/// Appends lhs (m, k) · rhs (k, n), row-major, to `dst`, strides as for [`matmul`]: for ops that
/// pack several results into one vector without growing (and copying) it on the way.
pub(super) fn matmul_append(
    dims: (usize, usize, usize),
    dst: &mut Vec<f32>,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    threads: Threads,
) {
    let (m, _, n) = dims;
    dst.reserve(m * n);
    let len = dst.len();
    // SAFETY: `gemm_into` without `read_dst` writes all m·n values after the current length
    // without reading any (dst = lhs·rhs, zeros when k is 0), so they are initialised before
    // `set_len`.
    unsafe {
        let start = dst.spare_capacity_mut().as_mut_ptr().cast::<f32>();
        gemm_into(
            dims,
            start,
            false,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            threads,
        );
        dst.set_len(len + m * n);
    }
}

/// dst (m, n, row-major) += lhs (m, k) · rhs (k, n), strides as for [`matmul`].
pub(super) fn matmul_onto(
    dims: (usize, usize, usize),
    dst: &mut [f32],
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    threads: Threads,
) {
    let (m, _, n) = dims;
    assert!(dst.len() >= m * n);
    // SAFETY: dst holds m·n initialised values, read and written in place.
    unsafe {
        gemm_into(
            dims,
            dst.as_mut_ptr(),
            true,
            lhs,
            lhs_strides,
            rhs,
            rhs_strides,
            threads,
        );
    }
}

/// The one gemm call of our CPU layers: dst = lhs·rhs, or dst += lhs·rhs when `read_dst`.
///
/// # Safety
/// `dst` must be valid for writing m·n values (and reading them when `read_dst`).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into(
    (m, k, n): (usize, usize, usize),
    dst: *mut f32,
    read_dst: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    threads: Threads,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !read_dst {
            std::ptr::write_bytes(dst, 0, m * n);
        }
        return;
    }
    assert!(lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs);
    assert!(rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs);
    // SAFETY: the asserts keep every element the strides reach inside lhs and rhs; the caller
    // vouches for dst. With `read_dst` false gemm writes dst (1·(lhs·rhs)) without reading it.
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        n as isize,
        read_dst,
        lhs.as_ptr(),
        lhs_cs as isize,
        lhs_rs as isize,
        rhs.as_ptr(),
        rhs_cs as isize,
        rhs_rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism(m * n * k, threads),
    );
}

/// gemm's threading for a product of `multiply_adds`.
fn parallelism(multiply_adds: usize, threads: Threads) -> gemm::Parallelism {
    // Not candle's `get_num_threads`: unless RAYON_NUM_THREADS is set it reads /proc/cpuinfo
    // on every call (13% of the digits MLP's step went to formatting that file).
    let available = rayon::current_num_threads();
    match threads {
        Threads::BySize if available > 1 && multiply_adds >= PARALLEL_MULTIPLY_ADDS => {
            gemm::Parallelism::Rayon(available)
        }
        _ => gemm::Parallelism::None,
    }
}

/// Whether `x` takes our CPU kernels (F32 on the CPU) rather than candle's ops.
pub(super) fn uses_cpu_kernels(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// max(x, 0), with a one-pass backward on the CPU.
///
/// ```
/// use trainbook::prelude::*;
/// let x = Tensor::new(&[-1f32, 0.5], &Device::Cpu).unwrap();
/// assert_eq!(trainbook::nn::relu(&x).unwrap().to_vec1::<f32>().unwrap(), [0.0, 0.5]);
/// ```
pub fn relu(x: &Tensor) -> candle_core::Result<Tensor> {
    if uses_cpu_kernels(x) {
        x.apply_op1(Relu)
    } else {
        x.relu()
    }
}

/// 2×2 max pooling with stride 2 over the last two dimensions of (n, c, h, w); the gradient
/// goes to each window's maximum, as PyTorch's.
///
/// ```
/// use trainbook::prelude::*;
/// let x = Tensor::new(&[[[[1f32, 2.0], [3.0, 4.0]]]], &Device::Cpu).unwrap();
/// assert_eq!(trainbook::nn::max_pool2(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap(), [4.0]);
/// ```
pub fn max_pool2(x: &Tensor) -> candle_core::Result<Tensor> {
    if uses_cpu_kernels(x) {
        let places = KeptForBackward::new(x.track_op());
        return x.apply_op1(MaxPool2 { places });
    }
    // Not candle's `max_pool2d`: its backward scales the gradient by the share of maxima in
    // the window (a quarter for a unique maximum; bench/RESULTS.md). Each window as the last
    // axis and a max over it sends the whole gradient to the maximum, as on the CPU.
    let (n, c, h, w) = x.dims4()?;
    let (h2, w2) = (h / 2, w / 2);
    x.narrow(2, 0, h2 * 2)?
        .narrow(3, 0, w2 * 2)?
        .reshape((n, c, h2, 2, w2, 2))?
        .permute((0, 1, 2, 4, 3, 5))?
        .reshape((n, c, h2, w2, 4))?
        .max(candle_core::D::Minus1)
}

struct Relu;
struct ReluBackward;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu-cpu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_slice(storage, self.name())?;
        let mut out = vec![0f32; layout.shape().elem_count()];
        for_each_offset(layout, |i, offset| out[i] = input[offset].max(0.0));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(relu_gradient(res, grad)?))
    }
}

/// The gradient through a ReLU given its `output` and the gradient of that output: `grad`
/// where the output is positive, zero elsewhere. One pass on the CPU (F32).
pub(super) fn relu_gradient(output: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
    output.apply_op2_no_bwd(grad, &ReluBackward)
}

impl CustomOp2 for ReluBackward {
    fn name(&self) -> &'static str {
        "relu-backward-cpu"
    }

    fn cpu_fwd(
        &self,
        output: &CpuStorage,
        output_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let output = f32_slice(output, self.name())?;
        let grad = f32_slice(grad, self.name())?;
        if let (Some((o_start, o_end)), Some((g_start, g_end))) = (
            output_layout.contiguous_offsets(),
            grad_layout.contiguous_offsets(),
        ) {
            // One branch-free pass the compiler vectorises (the two-pass loop below mispredicts
            // on every other value: 1.1 ms instead of 0.1 ms for 256×512).
            let out = output[o_start..o_end]
                .iter()
                .zip(&grad[g_start..g_end])
                .map(|(&o, &g)| if o <= 0.0 { 0.0 } else { g })
                .collect();
            return Ok((CpuStorage::F32(out), grad_layout.shape().clone()));
        }
        let mut out = vec![0f32; grad_layout.shape().elem_count()];
        for_each_offset(grad_layout, |i, offset| out[i] = grad[offset]);
        for_each_offset(output_layout, |i, offset| {
            if output[offset] <= 0.0 {
                out[i] = 0.0;
            }
        });
        Ok((CpuStorage::F32(out), grad_layout.shape().clone()))
    }
}

/// The forward op; keeps each window's argmax for the backward pass (when one can follow).
struct MaxPool2 {
    places: KeptForBackward<Vec<u8>>,
}

/// The backward op: dL/dy sent to each window's maximum, at the places the forward found (or
/// found again from the input when they are not kept).
struct MaxPool2Backward {
    places: Option<Vec<u8>>,
}

/// Each 2×2 window's maximum and its place in the window (0..4, row-major; the first one on
/// ties, as PyTorch), in output order (n, c, h / 2, w / 2).
fn window_maxima(input: &[f32], layout: &Layout) -> candle_core::Result<(Vec<f32>, Vec<u8>)> {
    let (n, c, h, w) = layout.shape().dims4()?;
    let s = layout.stride();
    let (oh, ow) = (h / 2, w / 2);
    let mut maxima = Vec::with_capacity(n * c * oh * ow);
    let mut places = Vec::with_capacity(n * c * oh * ow);
    let mut push = |window: [f32; 4]| {
        let mut best = 0;
        for place in 1..4 {
            if window[place] > window[best] {
                best = place;
            }
        }
        maxima.push(window[best]);
        places.push(best as u8);
    };
    for b in 0..n {
        for ci in 0..c {
            let base = layout.start_offset() + b * s[0] + ci * s[1];
            for y in 0..oh {
                let (top, bottom) = (base + 2 * y * s[2], base + (2 * y + 1) * s[2]);
                if s[3] == 1 {
                    // Rows contiguous (the convolution's output): two slices, no index maths.
                    let top = input[top..][..2 * ow].chunks_exact(2);
                    let bottom = input[bottom..][..2 * ow].chunks_exact(2);
                    for (t, b) in top.zip(bottom) {
                        push([t[0], t[1], b[0], b[1]]);
                    }
                } else {
                    for x in 0..ow {
                        let (left, right) = (2 * x * s[3], (2 * x + 1) * s[3]);
                        push([
                            input[top + left],
                            input[top + right],
                            input[bottom + left],
                            input[bottom + right],
                        ]);
                    }
                }
            }
        }
    }
    Ok((maxima, places))
}

impl CustomOp1 for MaxPool2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2-cpu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_slice(storage, self.name())?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let (maxima, places) = window_maxima(input, layout)?;
        self.places.keep(places);
        Ok((CpuStorage::F32(maxima), Shape::from((n, c, h / 2, w / 2))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let places = self.places.take();
        Ok(Some(
            arg.apply_op2_no_bwd(grad, &MaxPool2Backward { places })?,
        ))
    }
}

impl CustomOp2 for MaxPool2Backward {
    fn name(&self) -> &'static str {
        "max-pool-2x2-backward-cpu"
    }

    fn cpu_fwd(
        &self,
        input: &CpuStorage,
        input_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = f32_slice(input, self.name())?;
        let grad = f32_slice(grad, self.name())?;
        let found;
        let places = match &self.places {
            Some(kept) => kept,
            None => {
                found = window_maxima(input, input_layout)?.1;
                &found
            }
        };
        let (n, c, h, w) = input_layout.shape().dims4()?;
        let (oh, ow) = (h / 2, w / 2);
        let gathered;
        let grads = match grad_layout.contiguous_offsets() {
            Some((start, end)) => &grad[start..end],
            None => {
                let mut values = Vec::with_capacity(grad_layout.shape().elem_count());
                for_each_offset(grad_layout, |_, offset| values.push(grad[offset]));
                gathered = values;
                &gathered
            }
        };
        let mut out = vec![0f32; n * c * h * w];
        let windows = (places.chunks_exact(ow.max(1))).zip(grads.chunks_exact(ow.max(1)));
        // Window row r of plane p covers input rows 2·(r mod oh) and the next one.
        for (r, (places, grads)) in windows.enumerate().take(n * c * oh) {
            let (plane, y) = (r / oh, r % oh);
            let top = (plane * h + 2 * y) * w;
            for (x, (&place, &g)) in places.iter().zip(grads).enumerate() {
                let place = usize::from(place);
                out[top + (place / 2) * w + 2 * x + place % 2] = g;
            }
        }
        Ok((CpuStorage::F32(out), input_layout.shape().clone()))
    }
}

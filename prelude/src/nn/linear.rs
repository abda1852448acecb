//! The fully connected layer, y = x·Wᵀ + b, as one node of the autograd graph on the CPU.
//!
//! Why not candle-nn's `Linear`: it is three nodes (transpose, matmul, broadcast add), and
//! candle's backward for them makes the weight gradient as the transpose of xᵀ·g and adds it
//! element by element through the transposed view, sums the bias gradient through a broadcast,
//! accumulates each node's gradient into a fresh zero tensor, and computes the input's gradient
//! even for the network's input, which needs none. For the 256-512-512-10 MLP of
//! bench/RESULTS.md that made the backward pass five times the cost of its matrix products.
//! Here the forward is one `gemm` into an output pre-filled with the bias, and the backward is
//! one op giving g·W (only when the input needs it), gᵀ·x and g summed over rows. Other devices
//! and dtypes use candle's ops, with the same weights.

use super::cpu_ops::{f32_slice, matmul, matmul_append, matmul_onto, relu, relu_gradient, Threads};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Module, Shape, Tensor};
use candle_nn::VarBuilder;

/// A fully connected layer with candle-nn's initialisation and tensor names (`weight` of shape
/// (out, in), `bias` of shape (out)), so its safetensors files load into candle-nn's `Linear`
/// and back.
///
/// ```
/// use trainbook::prelude::*;
/// let params = Parameters::new(0, &Device::Cpu);
/// let layer = trainbook::nn::Linear::new(3, 2, params.builder().pp("dense")).unwrap();
/// let x = Tensor::ones((4, 3), DType::F32, &Device::Cpu).unwrap();
/// assert_eq!(layer.forward(&x).unwrap().dims(), &[4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer from `inputs` to `outputs` features with a bias, its tensors created by `vb`.
    pub fn new(inputs: usize, outputs: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
        let layer = candle_nn::linear(inputs, outputs, vb)?;
        Ok(Linear {
            weight: layer.weight().clone(),
            bias: layer.bias().cloned(),
        })
    }

    /// A layer over existing tensors: `weight` (out, in) and an optional `bias` (out).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let w = Tensor::new(&[[1f32, 2.0], [3.0, 4.0]], &Device::Cpu).unwrap();
    /// let b = Tensor::new(&[10f32, 20.0], &Device::Cpu).unwrap();
    /// let layer = trainbook::nn::Linear::from_tensors(w, Some(b));
    /// let x = Tensor::new(&[[1f32, 1.0]], &Device::Cpu).unwrap();
    /// assert_eq!(layer.forward(&x).unwrap().to_vec2::<f32>().unwrap(), [[13.0, 27.0]]);
    /// ```
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Linear {
        Linear { weight, bias }
    }

    /// The weight, (out, in).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let params = Parameters::new(0, &Device::Cpu);
    /// let layer = trainbook::nn::Linear::new(3, 2, params.builder().pp("dense")).unwrap();
    /// assert_eq!(layer.weight().dims(), &[2, 3]);
    /// ```
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, (out), if the layer has one.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let w = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
    /// assert!(trainbook::nn::Linear::from_tensors(w, None).bias().is_none());
    /// ```
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// max(x·Wᵀ + b, 0): the layer followed by a ReLU. On the CPU in F32 both are one graph
    /// node, which saves the ReLU's pass over the output and candle's accumulation of its
    /// gradient (a zero tensor and an add) in the backward pass.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let w = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &Device::Cpu).unwrap();
    /// let layer = trainbook::nn::Linear::from_tensors(w, None);
    /// let x = Tensor::new(&[[2f32, -3.0]], &Device::Cpu).unwrap();
    /// assert_eq!(layer.forward_relu(&x).unwrap().to_vec2::<f32>().unwrap(), [[2.0, 0.0]]);
    /// ```
    pub fn forward_relu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        linear_then(x, &self.weight, self.bias.as_ref(), true)
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        linear(x, &self.weight, self.bias.as_ref())
    }
}

/// x·Wᵀ + b over the last dimension of `x` (any leading dimensions), with `weight` (out, in)
/// and `bias` (out). On the CPU in F32 it is one graph node (see the module's note).
///
/// ```
/// use trainbook::prelude::*;
/// let x = Tensor::new(&[[1f32, 2.0, 3.0]], &Device::Cpu).unwrap();
/// let w = Tensor::new(&[[1f32, 0.0, 1.0]], &Device::Cpu).unwrap();
/// let b = Tensor::new(&[0.5f32], &Device::Cpu).unwrap();
/// let y = trainbook::nn::linear(&x, &w, Some(&b)).unwrap();
/// assert_eq!(y.to_vec2::<f32>().unwrap(), [[4.5]]);
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    linear_then(x, weight, bias, false)
}

/// [`linear`], followed by a ReLU when `relu_after`.
fn linear_then(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    relu_after: bool,
) -> candle_core::Result<Tensor> {
    let fused = x.device().is_cpu()
        && [Some(x), Some(weight), bias]
            .into_iter()
            .flatten()
            .all(|t| t.dtype() == DType::F32);
    if !fused {
        let y = x.broadcast_matmul(&weight.t()?)?;
        let y = match bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        return if relu_after { relu(&y) } else { Ok(y) };
    }
    if x.rank() != 2 {
        // (…, in) → (rows, in) → (…, out): the fused op works on matrices.
        let mut dims = x.dims().to_vec();
        let inputs = dims.pop().unwrap_or(1);
        let rows = x.reshape(((), inputs))?;
        let y = linear_then(&rows, weight, bias, relu_after)?;
        dims.push(weight.dim(0)?);
        return y.reshape(dims);
    }
    let op = FusedLinear { relu: relu_after };
    match bias {
        Some(b) => x.apply_op3(weight, b, op),
        None => x.apply_op2(weight, op),
    }
}

/// The forward op: y = x·Wᵀ (+ b), then max(y, 0) when `relu`. `apply_op3` with a bias,
/// `apply_op2` without.
struct FusedLinear {
    relu: bool,
}

/// Checks the operands' shapes: x (n, in), W (out, in), b (out).
fn linear_dims(
    x: &Layout,
    w: &Layout,
    b: Option<&Layout>,
) -> candle_core::Result<(usize, usize, usize)> {
    let (n, inputs) = x.shape().dims2()?;
    let (outputs, weight_inputs) = w.shape().dims2()?;
    if inputs != weight_inputs {
        candle_core::bail!(
            "linear: the input has {inputs} features but the weight expects {weight_inputs} (weight shape {:?})",
            w.dims()
        );
    }
    if let Some(b) = b {
        if b.dims() != [outputs] {
            candle_core::bail!(
                "linear: the bias has shape {:?}, the weight has {outputs} outputs",
                b.dims()
            );
        }
    }
    Ok((n, inputs, outputs))
}

/// y (n, out, row-major) = bias rows + x·Wᵀ, by one product with the operands' own strides,
/// then max(y, 0) in place when `relu`.
fn forward_cpu(
    x: (&[f32], &Layout),
    w: (&[f32], &Layout),
    b: Option<(&[f32], &Layout)>,
    relu: bool,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (n, inputs, outputs) = linear_dims(x.1, w.1, b.map(|b| b.1))?;
    let (xs, ws) = (x.1.stride(), w.1.stride());
    let x_values = &x.0[x.1.start_offset()..];
    let w_values = &w.0[w.1.start_offset()..];
    // Wᵀ (in, out) is W read with its strides swapped.
    let (dims, x_strides, wt_strides) = ((n, inputs, outputs), (xs[0], xs[1]), (ws[1], ws[0]));
    let threads = Threads::BySize;
    let mut y = match b {
        Some((bias, layout)) => {
            // The product is added onto rows pre-filled with the bias.
            let (start, step) = (layout.start_offset(), layout.stride()[0]);
            let bias: Vec<f32> = (0..outputs).map(|j| bias[start + j * step]).collect();
            let mut rows = Vec::with_capacity(n * outputs);
            for _ in 0..n {
                rows.extend_from_slice(&bias);
            }
            matmul_onto(
                dims, &mut rows, x_values, x_strides, w_values, wt_strides, threads,
            );
            rows
        }
        None => matmul(dims, x_values, x_strides, w_values, wt_strides, threads),
    };
    if relu {
        for value in &mut y {
            *value = value.max(0.0);
        }
    }
    Ok((CpuStorage::F32(y), Shape::from((n, outputs))))
}

/// Gradients of y = x·Wᵀ + b given dL/dy = `grad` (n, out): only for the operands that need
/// one (the network's input does not), all three from one op. With a fused ReLU, `relu_output` is
/// max(y, 0) and the gradient passes where it is positive.
fn backward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    relu_output: Option<&Tensor>,
    grad: &Tensor,
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let masked;
    let grad = match relu_output {
        Some(output) => {
            masked = relu_gradient(output, grad)?;
            &masked
        }
        None => grad,
    };
    let op = LinearBackward {
        input: x.track_op(),
        weight: w.track_op(),
        bias: b.is_some_and(|b| b.track_op()),
    };
    if !(op.input || op.weight || op.bias) {
        return Ok((None, None, None));
    }
    let packed = x.apply_op3_no_bwd(w, grad, &op)?;
    let mut start = 0;
    let mut take = |wanted: bool, shape: &Shape| -> candle_core::Result<Option<Tensor>> {
        if !wanted {
            return Ok(None);
        }
        let part = packed
            .narrow(0, start, shape.elem_count())?
            .reshape(shape)?;
        start += shape.elem_count();
        Ok(Some(part))
    };
    let grad_w = take(op.weight, w.shape())?;
    let grad_b = take(op.bias, &Shape::from(w.dim(0)?))?;
    let grad_x = take(op.input, x.shape())?;
    Ok((grad_x, grad_w, grad_b))
}

/// The gradients of the fused layer from (x, W, dL/dy), packed as one vector: dL/dW = gᵀ·x,
/// dL/db = g summed over rows, dL/dx = g·W, each only when wanted, in that order. One op on
/// the CPU: candle's matmul of the transposed gradient, run on gemm's threads for every
/// product however small, is what made the digits MLP's step slow (bench/RESULTS.md).
struct LinearBackward {
    input: bool,
    weight: bool,
    bias: bool,
}

impl CustomOp3 for LinearBackward {
    fn name(&self) -> &'static str {
        "linear-backward-cpu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = CustomOp3::name(self);
        let (n, inputs, outputs) = linear_dims(x_layout, w_layout, None)?;
        if grad_layout.dims() != [n, outputs] {
            candle_core::bail!(
                "linear backward: gradient of shape {:?}, expected ({n}, {outputs})",
                grad_layout.dims()
            );
        }
        // Each operand from its first element, with its (row, column) strides.
        let from_start = |layout: &Layout| {
            (
                layout.start_offset(),
                layout.stride()[0],
                layout.stride()[1],
            )
        };
        let x = f32_slice(x, name)?;
        let w = f32_slice(w, name)?;
        let g = f32_slice(grad, name)?;
        let (x_start, x_rs, x_cs) = from_start(x_layout);
        let (w_start, w_rs, w_cs) = from_start(w_layout);
        let (g_start, g_rs, g_cs) = from_start(grad_layout);
        let (x, w, g) = (&x[x_start..], &w[w_start..], &g[g_start..]);
        let wanted = |on: bool, len: usize| if on { len } else { 0 };
        let mut packed = Vec::with_capacity(
            wanted(self.weight, outputs * inputs)
                + wanted(self.bias, outputs)
                + wanted(self.input, n * inputs),
        );
        if self.weight {
            // gᵀ (out, n) · x (n, in).
            matmul_append(
                (outputs, n, inputs),
                &mut packed,
                g,
                (g_cs, g_rs),
                x,
                (x_rs, x_cs),
                Threads::BySize,
            );
        }
        if self.bias {
            let mut sums = vec![0f32; outputs];
            for r in 0..n {
                let row = &g[r * g_rs..];
                if g_cs == 1 {
                    for (sum, &v) in sums.iter_mut().zip(&row[..outputs]) {
                        *sum += v;
                    }
                } else {
                    for (c, sum) in sums.iter_mut().enumerate() {
                        *sum += row[c * g_cs];
                    }
                }
            }
            packed.extend_from_slice(&sums);
        }
        if self.input {
            // g (n, out) · W (out, in).
            matmul_append(
                (n, outputs, inputs),
                &mut packed,
                g,
                (g_rs, g_cs),
                w,
                (w_rs, w_cs),
                Threads::BySize,
            );
        }
        let len = packed.len();
        Ok((CpuStorage::F32(packed), Shape::from(len)))
    }
}

impl CustomOp3 for FusedLinear {
    fn name(&self) -> &'static str {
        "linear-cpu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = CustomOp3::name(self);
        forward_cpu(
            (f32_slice(x, name)?, x_layout),
            (f32_slice(w, name)?, w_layout),
            Some((f32_slice(b, name)?, b_layout)),
            self.relu,
        )
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        backward(x, w, Some(b), self.relu.then_some(res), grad)
    }
}

impl CustomOp2 for FusedLinear {
    fn name(&self) -> &'static str {
        "linear-cpu"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let name = CustomOp2::name(self);
        forward_cpu(
            (f32_slice(x, name)?, x_layout),
            (f32_slice(w, name)?, w_layout),
            None,
            self.relu,
        )
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (grad_x, grad_w, _) = backward(x, w, None, self.relu.then_some(res), grad)?;
        Ok((grad_x, grad_w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// candle's own ops on the same values: the reference for values and gradients.
    fn reference(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
        let y = x.matmul(&w.t().unwrap()).unwrap();
        match b {
            Some(b) => y.broadcast_add(b).unwrap(),
            None => y,
        }
    }

    /// Equal up to f32 rounding, relative to the values' size (the sums run in another order).
    fn close(a: &Tensor, b: &Tensor) {
        let max = |t: Tensor| t.max_all().unwrap().to_scalar::<f32>().unwrap();
        let diff = max((a - b).unwrap().abs().unwrap());
        let scale = 1.0 + max(b.abs().unwrap());
        assert!(diff <= 1e-5 * scale, "differ by {diff} at scale {scale}");
    }

    #[test]
    fn values_and_gradients_match_candles_ops() {
        let cpu = Device::Cpu;
        for bias in [true, false] {
            let x = Var::randn(0f32, 1.0, (7, 5), &cpu).unwrap();
            let w = Var::randn(0f32, 1.0, (3, 5), &cpu).unwrap();
            let b = Var::randn(0f32, 1.0, 3, &cpu).unwrap();
            let b_arg = bias.then_some(b.as_tensor());
            let target = Tensor::randn(0f32, 1.0, (7, 3), &cpu).unwrap();
            let ours = linear(&x, &w, b_arg).unwrap();
            let theirs = reference(&x, &w, b_arg);
            close(&ours, &theirs);
            let loss = |y: &Tensor| (y - &target).unwrap().sqr().unwrap().sum_all().unwrap();
            let g_ours = loss(&ours).backward().unwrap();
            let g_theirs = loss(&theirs).backward().unwrap();
            for v in [&x, &w] {
                close(g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
            }
            if bias {
                close(g_ours.get(&b).unwrap(), g_theirs.get(&b).unwrap());
            } else {
                assert!(g_ours.get(&b).is_none());
            }
        }
    }

    #[test]
    fn strided_operands_and_leading_dimensions() {
        let cpu = Device::Cpu;
        // x as a transposed view, W as a narrowed one, and a rank-3 input.
        let x = Tensor::randn(0f32, 1.0, (5, 6), &cpu).unwrap().t().unwrap();
        let w = Tensor::randn(0f32, 1.0, (4, 7), &cpu)
            .unwrap()
            .narrow(1, 1, 5)
            .unwrap();
        let b = Tensor::randn(0f32, 1.0, 4, &cpu).unwrap();
        close(
            &linear(&x, &w, Some(&b)).unwrap(),
            &reference(&x, &w, Some(&b)),
        );
        // Gradients through the strided views reach the variables behind them.
        let xv = Var::randn(0f32, 1.0, (5, 6), &cpu).unwrap();
        let wv = Var::randn(0f32, 1.0, (4, 7), &cpu).unwrap();
        let (xt, wn) = (xv.t().unwrap(), wv.narrow(1, 1, 5).unwrap());
        let ours = linear(&xt, &wn, Some(&b))
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let theirs = reference(&xt, &wn, Some(&b))
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let (g_ours, g_theirs) = (ours.backward().unwrap(), theirs.backward().unwrap());
        for v in [&xv, &wv] {
            close(g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
        }
        let x3 = Tensor::randn(0f32, 1.0, (2, 3, 5), &cpu).unwrap();
        let y3 = linear(&x3, &w, Some(&b)).unwrap();
        assert_eq!(y3.dims(), &[2, 3, 4]);
        let flat = reference(&x3.reshape((6, 5)).unwrap(), &w, Some(&b));
        close(&y3.reshape((6, 4)).unwrap(), &flat);
    }

    /// The fused ReLU gives the separate ops' values and gradients to the bit: the same
    /// arithmetic, in one node.
    #[test]
    fn forward_relu_equals_linear_then_relu() {
        let cpu = Device::Cpu;
        for bias in [true, false] {
            let x = Var::randn(0f32, 1.0, (9, 6), &cpu).unwrap();
            let w = Var::randn(0f32, 1.0, (5, 6), &cpu).unwrap();
            let b = Var::randn(0f32, 1.0, 5, &cpu).unwrap();
            let layer =
                Linear::from_tensors(w.as_tensor().clone(), bias.then(|| b.as_tensor().clone()));
            let target = Tensor::randn(0f32, 1.0, (9, 5), &cpu).unwrap();
            let fused = layer.forward_relu(&x).unwrap();
            let separate = relu(&layer.forward(&x).unwrap()).unwrap();
            let values = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(values(&fused), values(&separate));
            assert!(values(&fused).contains(&0.0));
            let loss = |y: &Tensor| (y - &target).unwrap().sqr().unwrap().sum_all().unwrap();
            let (g_fused, g_separate) = (
                loss(&fused).backward().unwrap(),
                loss(&separate).backward().unwrap(),
            );
            let mut vars = vec![&x, &w];
            if bias {
                vars.push(&b);
            }
            for v in vars {
                assert_eq!(
                    values(g_fused.get(v).unwrap()),
                    values(g_separate.get(v).unwrap())
                );
            }
        }
    }

    #[test]
    fn the_networks_input_gets_no_gradient() {
        let cpu = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (4, 3), &cpu).unwrap();
        let w = Var::randn(0f32, 1.0, (2, 3), &cpu).unwrap();
        let grads = linear(&x, &w, None)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(&x).is_none());
        assert!(grads.get(&w).is_some());
    }

    #[test]
    fn a_shape_mismatch_is_an_error_not_a_panic() {
        let cpu = Device::Cpu;
        let x = Tensor::zeros((4, 3), DType::F32, &cpu).unwrap();
        let w = Tensor::zeros((2, 5), DType::F32, &cpu).unwrap();
        let err = linear(&x, &w, None).unwrap_err().to_string();
        assert!(
            err.contains("3 features") && err.contains("expects 5"),
            "{err}"
        );
    }
}

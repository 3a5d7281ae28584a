//! The convolution entry points (torch.nn.functional semantics): forward pass, gradient with
//! respect to the input (= transposed convolution) and with respect to the weight (and the
//! bias).
//!
//! Each checks its buffers against the [`ConvShape`], handles empty shapes, and picks an
//! algorithm by shape: the direct depthwise kernel ([`super::depthwise`]) when every group has
//! one or two input channels and few output channels; for `f32` on AVX-512, Winograd
//! F(2x2, 3x3) for 3x3 stride-1 2-D layers with at least 16 channels each way and finite,
//! moderate values (`winograd`), else the implicit GEMM ([`super::implicit`]; a strided input
//! gradient by phases, [`super::implicit_phases`]) when the kernel has several offsets and
//! enough rows; im2col + GEMM otherwise.

use super::batchnorm::NormShape;
use super::conv_forward::forward_gemm;
use super::conv_grad_input::grad_input_gemm;
use super::conv_grad_weight::grad_weight_gemm;
use super::depthwise::{forward_direct, grad_input_direct, grad_weight_direct, prefers_direct};
use super::gemm::ConvFloat;
use super::geometry::{check_len, ConvShape};
#[cfg(target_arch = "x86_64")]
use super::winograd;
use super::{implicit, implicit_phases};
use crate::error::Result;

/// Forward pass: `out` (N, C_out, *O) = cross-correlation of `input` (N, C_in, *S) with
/// `weight` (C_out, C_in / groups, *K), plus `bias` (C_out) when given, on `threads` threads.
///
/// # Errors
/// [`crate::error::ConvError::Value`] when a buffer length does not match `shape`, or if the
/// pool cannot be started.
pub fn conv_forward<T: ConvFloat>(
    shape: &ConvShape,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    check_len("input", input.len(), shape.input_len)?;
    check_len("weight", weight.len(), shape.weight_len)?;
    check_len("output", out.len(), shape.output_len)?;
    if let Some(b) = bias {
        check_len("bias", b.len(), shape.out_channels)?;
    }
    if out.is_empty() {
        return Ok(());
    }
    // No weights, or an input plane of size 0 that the padding alone covers: every window
    // reads only zeros, so each output is its bias.
    if shape.col_rows == 0 || shape.window.input_len == 0 {
        for plane in out.chunks_exact_mut(shape.window.output_len).enumerate() {
            let value = bias.map_or(T::zero(), |b| b[plane.0 % shape.out_channels]);
            plane.1.fill(value);
        }
        return Ok(());
    }
    if prefers_direct(shape) {
        return forward_direct(shape, input, weight, bias, out, threads);
    }
    let bias32 = bias.map(T::as_f32);
    if let (Some(x), Some(wt), Some(o), None | Some(Some(_))) = (
        T::as_f32(input),
        T::as_f32(weight),
        T::as_f32_mut(out),
        bias32,
    ) {
        #[cfg(target_arch = "x86_64")]
        if winograd::applies(shape) && winograd::moderate(&[x, wt]) {
            return winograd::forward(shape, x, wt, bias32.flatten(), o, false, threads);
        }
        if implicit::available() && prefers_implicit(shape) {
            return implicit::forward(shape, x, wt, bias32.flatten(), o, threads);
        }
    }
    forward_gemm(shape, input, weight, bias, out, threads)
}

/// Gradient with respect to the input: `grad_in` (N, C_in, *S) from `grad_out`
/// (N, C_out, *O) and `weight`; input positions no window reaches get 0. This is also the
/// transposed convolution's forward pass.
///
/// # Errors
/// [`crate::error::ConvError::Value`] when a buffer length does not match `shape`, or if the
/// pool cannot be started.
pub fn conv_grad_input<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    weight: &[T],
    grad_in: &mut [T],
    threads: usize,
) -> Result<()> {
    check_len("grad_output", grad_out.len(), shape.output_len)?;
    check_len("weight", weight.len(), shape.weight_len)?;
    check_len("grad_input", grad_in.len(), shape.input_len)?;
    if grad_in.is_empty() {
        return Ok(());
    }
    if shape.out_channels == 0 {
        grad_in.fill(T::zero());
        return Ok(());
    }
    if prefers_direct(shape) {
        return grad_input_direct(shape, grad_out, weight, grad_in, threads);
    }
    if implicit::available() {
        let transposed = implicit::grad_input_shape(shape);
        #[cfg(target_arch = "x86_64")]
        if let (Some(t), Some(go), Some(wt), Some(gi)) = (
            transposed.as_ref().filter(|t| winograd::applies(t)),
            T::as_f32(grad_out),
            T::as_f32(weight),
            T::as_f32_mut(grad_in),
        ) {
            if winograd::moderate(&[go, wt]) {
                return winograd::forward(t, go, wt, None, gi, true, threads);
            }
        }
        let transposed = transposed.filter(prefers_implicit);
        if let (Some(t), Some(go), Some(wt), Some(gi)) = (
            transposed,
            T::as_f32(grad_out),
            T::as_f32(weight),
            T::as_f32_mut(grad_in),
        ) {
            return implicit::grad_input(shape, &t, go, wt, gi, threads);
        }
        if implicit_phases::applies(shape) && prefers_implicit(shape) {
            if let (Some(go), Some(wt), Some(gi)) = (
                T::as_f32(grad_out),
                T::as_f32(weight),
                T::as_f32_mut(grad_in),
            ) {
                return implicit_phases::grad_input(shape, go, wt, gi, threads);
            }
        }
    }
    grad_input_gemm(shape, grad_out, weight, grad_in, threads)
}

/// Gradient with respect to the weight: `grad_weight` (C_out, C_in / groups, *K), the sum
/// over samples and output positions of `grad_out` times the input values each weight met;
/// and, when `grad_bias` (C_out) is given, the bias gradient: the sum of `grad_out` over
/// samples and positions, accumulated in `f64` (the implicit-GEMM path sums it from the
/// transposed `grad_out` it reads anyway, in cache).
///
/// # Errors
/// [`crate::error::ConvError::Value`] when a buffer length does not match `shape`, or if the
/// pool cannot be started.
pub fn conv_grad_weight<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    input: &[T],
    grad_weight: &mut [T],
    grad_bias: Option<&mut [T]>,
    threads: usize,
) -> Result<()> {
    check_len("grad_output", grad_out.len(), shape.output_len)?;
    check_len("input", input.len(), shape.input_len)?;
    check_len("grad_weight", grad_weight.len(), shape.weight_len)?;
    if let Some(gb) = &grad_bias {
        check_len("grad_bias", gb.len(), shape.out_channels)?;
    }
    let empty = grad_weight.is_empty() || shape.batch == 0 || shape.window.input_len == 0;
    #[cfg(target_arch = "x86_64")]
    let winograd_done = !empty
        && winograd::applies_weight(shape)
        && match (
            T::as_f32(grad_out),
            T::as_f32(input),
            T::as_f32_mut(grad_weight),
        ) {
            (Some(go), Some(x), Some(gw)) if winograd::moderate(&[go, x]) => {
                winograd::grad_weight(shape, go, x, gw, threads)?;
                true
            }
            _ => false,
        };
    #[cfg(not(target_arch = "x86_64"))]
    let winograd_done = false;
    if !winograd_done {
        if !empty
            && !prefers_direct(shape)
            && implicit::available()
            && prefers_implicit_weight(shape)
        {
            if let (Some(go), Some(x), Some(gw)) = (
                T::as_f32(grad_out),
                T::as_f32(input),
                T::as_f32_mut(grad_weight),
            ) {
                let gb = grad_bias.map(|gb| T::as_f32_mut(gb).expect("f32 like grad_weight"));
                return implicit::grad_weight(shape, go, x, gw, gb, threads);
            }
        }
        if empty {
            grad_weight.fill(T::zero());
        } else if prefers_direct(shape) {
            grad_weight_direct(shape, grad_out, input, grad_weight, threads)?;
        } else {
            grad_weight_gemm(shape, grad_out, input, grad_weight, threads)?;
        }
    }
    match grad_bias {
        Some(gb) if shape.batch == 0 || shape.window.output_len == 0 => gb.fill(T::zero()),
        Some(gb) if !gb.is_empty() => {
            let planes = NormShape::new(shape.batch, shape.out_channels, shape.window.output_len)?;
            T::channel_sums(grad_out, planes, gb, threads)?;
        }
        _ => {}
    }
    Ok(())
}

/// True when the implicit-GEMM kernels ([`super::implicit`]) beat im2col + GEMM on `shape`:
/// kernels larger than one offset, where building the column matrix costs more than the
/// product it feeds, with enough rows that the products outweigh the transposed stores of
/// their results; or, with as few as 9 rows, small planes feeding whole vectors of output
/// channels, where the column matrix's short rows cost more than those stores. 2 threads,
/// forward, im2col + GEMM against implicit: 32 x 1 -> 32 channels, 3x3 on 8x8, 25 -> 18.5 us;
/// 64 x 3 -> 32 on 8x8, 106 -> 56 us; 64 x 1 -> 32 on 16x16, 140 -> 133 us; but 40x40
/// planes 467 -> 778 us and the 3 -> 32 stem on 32x32 864 -> 1010 us.
fn prefers_implicit(shape: &ConvShape) -> bool {
    let w = &shape.window;
    w.kernel_len > 1
        && (shape.col_rows >= 64
            || shape.col_rows >= 9 && shape.out_per_group() >= 16 && w.output_len <= 256)
}

/// [`prefers_implicit`] for the weight gradient, which also wins on larger planes when the
/// output channels fill whole vectors (its products are summed over every sample and
/// position, so it has no transposed stores per position): the 3 -> 32 channel 3x3 stem's
/// took 1.3 ms instead of 1.9 through im2col + GEMM, 64 x 1 -> 32 channels on 40x40 1.0 ms
/// instead of 1.8, on 8x8 (32 samples) 23 us instead of 41.
fn prefers_implicit_weight(shape: &ConvShape) -> bool {
    prefers_implicit(shape)
        || (shape.window.kernel_len > 1 && shape.col_rows >= 9 && shape.out_per_group() >= 16)
}

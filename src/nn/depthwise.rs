//! A direct kernel for convolutions whose groups hold one or two input channels and a few
//! output channels (depthwise convolutions), where the per-group matrix products of im2col +
//! GEMM would be degenerate (one row, a handful of columns).
//!
//! Every output element is computed as the same sequence of unfused multiply-adds in a fixed
//! order on every path (the AVX2/AVX-512 compilations of the loops only widen them across
//! independent elements), so results are bitwise identical for every ISA and thread count.

#[cfg(target_arch = "x86_64")]
use super::depthwise_simd;
use super::depthwise_wide::{wide_pass, WidePlan};
use super::gemm::ConvFloat;
use super::geometry::{AxisReach, ConvShape, Window, AXES};
use super::tasks::{run_tasks, SharedMut};
use crate::error::Result;
use crate::simd::{active_isa, Isa};

/// True when `shape` is best served by this module's direct kernel.
pub(crate) fn prefers_direct(shape: &ConvShape) -> bool {
    shape.in_per_group() <= 2 && shape.out_per_group() <= 4 && shape.groups > 1
}

/// Calls `f(o_row, i_row)` for every output row (first two output indices) at which kernel
/// offset `reach` reads inside the input: the flat index of the output row's first element,
/// and the input row's number (`i0 * S1 + i1`).
#[inline(always)]
fn for_each_row(w: &Window, reach: &[AxisReach; AXES], mut f: impl FnMut(usize, usize)) {
    for o0 in reach[0].lo..reach[0].hi {
        let i0 = ((o0 * w.stride[0]) as isize + reach[0].offset) as usize;
        for o1 in reach[1].lo..reach[1].hi {
            let i1 = ((o1 * w.stride[1]) as isize + reach[1].offset) as usize;
            f((o0 * w.output[1] + o1) * w.output[2], i0 * w.input[1] + i1);
        }
    }
}

/// Whether kernel offset `reach` reads inside the input from no output position at all
/// (then its first input index may lie in the padding, before the input: skip it).
#[inline(always)]
fn reads_nothing(reach: &[AxisReach; AXES]) -> bool {
    reach.iter().any(|r| r.hi <= r.lo)
}

/// The input index of last-axis output `reach.lo` (a reach that reads something).
#[inline(always)]
fn first_input(w: &Window, reach: &AxisReach) -> usize {
    ((reach.lo * w.stride[2]) as isize + reach.offset) as usize
}

/// Runs `$body` compiled for the best instruction set available (the same operations on
/// every path).
macro_rules! dispatch_isa {
    ($name:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512(f: impl FnOnce()) { f() }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(f: impl FnOnce()) { f() }
            match active_isa() {
                // SAFETY: active_isa reports only instruction sets this CPU supports.
                Isa::Avx512 => unsafe { avx512(|| $name($($arg),*)) },
                // SAFETY: as above.
                Isa::Avx2Fma => unsafe { avx2(|| $name($($arg),*)) },
                Isa::Scalar => $name($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $name($($arg),*)
        }
    }};
}

/// One output plane of the forward pass: `out = bias + sum_ci sum_k w[ci, k] * x[ci]`.
#[inline(always)]
fn forward_plane<T: ConvFloat>(w: &Window, planes: &[T], weights: &[T], bias: T, out: &mut [T]) {
    out.fill(bias);
    let (k_len, stride) = (w.kernel_len, w.stride[2]);
    for (ci, x) in planes.chunks_exact(w.input_len).enumerate() {
        for k in 0..k_len {
            let reach = w.reaches(k);
            if reads_nothing(&reach) {
                continue;
            }
            let r2 = reach[2];
            let (a, n) = (weights[ci * k_len + k], r2.hi - r2.lo);
            let i_first = first_input(w, &r2);
            for_each_row(w, &reach, |o_row, i_row| {
                let dst = &mut out[o_row + r2.lo..][..n];
                let src = &x[i_row * w.input[2] + i_first..];
                if stride == 1 {
                    for (d, &s) in dst.iter_mut().zip(&src[..n]) {
                        *d += a * s;
                    }
                } else {
                    for (j, d) in dst.iter_mut().enumerate() {
                        *d += a * src[j * stride];
                    }
                }
            });
        }
    }
}

/// One input plane of the gradient with respect to the input: the scatter of every output
/// channel of its group through its weights.
#[inline(always)]
fn grad_input_plane<T: ConvFloat>(w: &Window, grads: &[T], weights: &[&[T]], out: &mut [T]) {
    out.fill(T::zero());
    let stride = w.stride[2];
    for (go, wk) in grads.chunks_exact(w.output_len).zip(weights) {
        for (k, &a) in wk.iter().enumerate() {
            let reach = w.reaches(k);
            if reads_nothing(&reach) {
                continue;
            }
            let r2 = reach[2];
            let n = r2.hi - r2.lo;
            let i_first = first_input(w, &r2);
            for_each_row(w, &reach, |o_row, i_row| {
                let src = &go[o_row + r2.lo..][..n];
                let dst = &mut out[i_row * w.input[2] + i_first..];
                if stride == 1 {
                    for (d, &s) in dst[..n].iter_mut().zip(src) {
                        *d += a * s;
                    }
                } else {
                    for (j, &s) in src.iter().enumerate() {
                        dst[j * stride] += a * s;
                    }
                }
            });
        }
    }
}

/// Adds, for every kernel offset `k`, the products `go[o] * x[i(o, k)]` of one (sample, input
/// plane) pair into row `k` of `acc` (rows `w.output[2]` long, indexed by last-axis output).
#[inline(always)]
fn grad_weight_products<T: ConvFloat>(w: &Window, go: &[T], x: &[T], acc: &mut [T]) {
    let (stride, row_len) = (w.stride[2], w.output[2]);
    for (k, acc_row) in acc.chunks_exact_mut(row_len).enumerate() {
        let reach = w.reaches(k);
        if reads_nothing(&reach) {
            continue;
        }
        let r2 = reach[2];
        let n = r2.hi - r2.lo;
        let i_first = first_input(w, &r2);
        let dst = &mut acc_row[r2.lo..r2.hi];
        for_each_row(w, &reach, |o_row, i_row| {
            let g = &go[o_row + r2.lo..][..n];
            let src = &x[i_row * w.input[2] + i_first..];
            if stride == 1 {
                for ((d, &a), &s) in dst.iter_mut().zip(g).zip(&src[..n]) {
                    *d += a * s;
                }
            } else {
                for (j, (d, &a)) in dst.iter_mut().zip(g).enumerate() {
                    *d += a * src[j * stride];
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Stride 1 along the last axis: rows padded with zeros there, so that every kernel offset
// covers whole output rows (the loops above cut each row at the padding, and their vector
// loops ended in scalar remainders as long as the vectors themselves). The products with
// the padding's zeros are added like the others (as zero padding does in torch).
// ---------------------------------------------------------------------------------------

/// Whether the AVX-512 row kernels ([`depthwise_simd`]) serve `f32` passes of `w`.
fn simd_rows(w: &Window) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        depthwise_simd::serves(w)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = w;
        false
    }
}

/// Whether the padded-row kernels serve `w`.
fn padded_rows(w: &Window) -> bool {
    w.stride[2] == 1
}

/// Width of an input row padded for [`forward_plane_padded`] and
/// [`grad_weight_products_padded`]: `S2 + pad_before[2] + pad_after[2]`.
fn input_row_width(w: &Window) -> usize {
    w.input[2] + w.pad_before[2] + w.pad_after[2]
}

/// Writes `planes` (whole planes of `w.input`) into `buf` with each row of the last axis at
/// offset `front` of a zero row of `width` values.
#[inline(always)]
fn pad_rows<T: ConvFloat>(
    planes: &[T],
    row_len: usize,
    front: usize,
    width: usize,
    buf: &mut Vec<T>,
) {
    let rows = planes.len() / row_len.max(1);
    buf.clear();
    buf.resize(rows * width, T::zero());
    for (src, dst) in planes
        .chunks_exact(row_len)
        .zip(buf.chunks_exact_mut(width))
    {
        dst[front..front + row_len].copy_from_slice(src);
    }
}

/// [`forward_plane`] on rows padded by [`pad_rows`] (front `pad_before[2]`, width
/// [`input_row_width`]).
#[inline(always)]
fn forward_plane_padded<T: ConvFloat>(
    w: &Window,
    padded: &[T],
    width: usize,
    weights: &[T],
    bias: T,
    out: &mut [T],
) {
    out.fill(bias);
    let (k_len, o2) = (w.kernel_len, w.output[2]);
    let plane_rows = w.input[0] * w.input[1];
    for (ci, x) in padded.chunks_exact(plane_rows * width).enumerate() {
        for k in 0..k_len {
            let reach = w.reaches(k);
            if reads_nothing(&reach) {
                continue;
            }
            let a = weights[ci * k_len + k];
            let shift = w.kernel_index(k)[2] * w.dilation[2];
            for_each_row(w, &reach, |o_row, i_row| {
                let src = &x[i_row * width + shift..][..o2];
                for (d, &s) in out[o_row..][..o2].iter_mut().zip(src) {
                    *d += a * s;
                }
            });
        }
    }
}

/// [`grad_input_plane`] on output-gradient rows padded by [`pad_rows`] (front `front`).
#[inline(always)]
fn grad_input_plane_padded<T: ConvFloat>(
    w: &Window,
    padded: &[T],
    (front, width): (usize, usize),
    weights: &[&[T]],
    out: &mut [T],
) {
    out.fill(T::zero());
    let s2 = w.input[2];
    let plane_rows = w.output[0] * w.output[1];
    for (go, wk) in padded.chunks_exact(plane_rows * width).zip(weights) {
        for (k, &a) in wk.iter().enumerate() {
            let reach = w.reaches(k);
            if reads_nothing(&reach) {
                continue;
            }
            // Input i2 meets output i2 + pad_before - k2 * dilation.
            let start = front + w.pad_before[2] - w.kernel_index(k)[2] * w.dilation[2];
            for_each_row(w, &reach, |o_row, i_row| {
                let src = &go[o_row / w.output[2] * width + start..][..s2];
                for (d, &g) in out[i_row * s2..][..s2].iter_mut().zip(src) {
                    *d += a * g;
                }
            });
        }
    }
}

/// [`grad_weight_products`] on input rows padded as for [`forward_plane_padded`].
#[inline(always)]
fn grad_weight_products_padded<T: ConvFloat>(
    w: &Window,
    go: &[T],
    padded: &[T],
    width: usize,
    acc: &mut [T],
) {
    let o2 = w.output[2];
    for (k, acc_row) in acc.chunks_exact_mut(o2).enumerate() {
        let reach = w.reaches(k);
        if reads_nothing(&reach) {
            continue;
        }
        let shift = w.kernel_index(k)[2] * w.dilation[2];
        for_each_row(w, &reach, |o_row, i_row| {
            let src = &padded[i_row * width + shift..][..o2];
            for ((d, &g), &s) in acc_row.iter_mut().zip(&go[o_row..][..o2]).zip(src) {
                *d += g * s;
            }
        });
    }
}

/// Elements of work below which a call is not worth the pool, in the units of
/// [`run_tasks`] (multiply-adds times element bytes).
fn work<T>(shape: &ConvShape) -> usize {
    shape.macs().saturating_mul(std::mem::size_of::<T>())
}

/// The forward pass (buffers checked by the caller).
pub(crate) fn forward_direct<T: ConvFloat>(
    shape: &ConvShape,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (cin_g, cout_g, rows) = (shape.in_per_group(), shape.out_per_group(), shape.col_rows);
    let out = SharedMut::new(out);
    let width = input_row_width(w);
    let simd_rows = simd_rows(w);
    run_tasks(
        shape.batch * shape.out_channels,
        threads,
        work::<T>(shape),
        Vec::new,
        |buf: &mut Vec<T>, plane| {
            let (n, c) = (plane / shape.out_channels, plane % shape.out_channels);
            let g = c / cout_g;
            let planes =
                &input[(n * shape.in_channels + g * cin_g) * w.input_len..][..cin_g * w.input_len];
            let weights = &weight[c * rows..][..rows];
            let b = bias.map_or(T::zero(), |b| b[c]);
            // SAFETY: this task alone owns output plane `plane`.
            let dst = unsafe { out.slice(plane * w.output_len, w.output_len) };
            if padded_rows(w) {
                pad_rows(planes, w.input[2], w.pad_before[2], width, buf);
                match (T::as_f32(buf), T::as_f32(weights), T::as_f32_mut(dst)) {
                    #[cfg(target_arch = "x86_64")]
                    (Some(x), Some(ws), Some(o)) if simd_rows => {
                        let b = T::as_f32(std::slice::from_ref(&b)).map_or(0.0, |v| v[0]);
                        depthwise_simd::forward_plane(w, x, width, ws, b, o);
                    }
                    _ => dispatch_isa!(forward_plane_padded(w, buf, width, weights, b, dst)),
                }
            } else {
                dispatch_isa!(forward_plane(w, planes, weights, b, dst));
            }
        },
    )
}

/// The gradient with respect to the input (buffers checked by the caller).
pub(crate) fn grad_input_direct<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    weight: &[T],
    grad_in: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (cin_g, cout_g, rows, k_len) = (
        shape.in_per_group(),
        shape.out_per_group(),
        shape.col_rows,
        w.kernel_len,
    );
    let grad_in = SharedMut::new(grad_in);
    // Output-gradient rows with zeros in front for the taps past the padding, and behind up
    // to the last input.
    let front = ((w.kernel[2] - 1) * w.dilation[2]).saturating_sub(w.pad_before[2]);
    let width = front + (w.input[2] + w.pad_before[2]).max(w.output[2]);
    let wide_plan = WidePlan::grad_input(w);
    run_tasks(
        shape.batch * shape.in_channels,
        threads,
        work::<T>(shape),
        || (Vec::new(), Vec::new(), Vec::new()),
        |(wk, buf, wide): &mut (Vec<&[T]>, Vec<T>, Vec<T>), plane| {
            let (n, c) = (plane / shape.in_channels, plane % shape.in_channels);
            let (g, ci) = (c / cin_g, c % cin_g);
            let grads = &grad_out[(n * shape.out_channels + g * cout_g) * w.output_len..]
                [..cout_g * w.output_len];
            wk.clear();
            wk.extend(
                (0..cout_g).map(|co| &weight[(g * cout_g + co) * rows + ci * k_len..][..k_len]),
            );
            // SAFETY: this task alone owns input plane `plane`.
            let dst = unsafe { grad_in.slice(plane * w.input_len, w.input_len) };
            if let Some(plan) = &wide_plan {
                plan.pad(grads, w.output, buf);
                dispatch_isa!(wide_pass(plan, buf, wk, T::zero(), wide, dst));
            } else if padded_rows(w) {
                pad_rows(grads, w.output[2], front, width, buf);
                dispatch_isa!(grad_input_plane_padded(w, buf, (front, width), wk, dst));
            } else {
                dispatch_isa!(grad_input_plane(w, grads, wk, dst));
            }
        },
    )
}

/// The gradient with respect to the weight (buffers checked by the caller): one task per
/// output channel accumulates its products over samples and output rows elementwise, then
/// sums each kernel offset's row in a fixed order.
pub(crate) fn grad_weight_direct<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    input: &[T],
    grad_weight: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (cin_g, cout_g, rows, k_len) = (
        shape.in_per_group(),
        shape.out_per_group(),
        shape.col_rows,
        w.kernel_len,
    );
    let row_len = w.output[2];
    let gw = SharedMut::new(grad_weight);
    let width = input_row_width(w);
    let simd_rows = simd_rows(w);
    let scratch = || (vec![T::zero(); k_len * row_len], Vec::new());
    run_tasks(
        shape.out_channels,
        threads,
        work::<T>(shape),
        scratch,
        |(acc, buf): &mut (Vec<T>, Vec<T>), c| {
            let g = c / cout_g;
            // SAFETY: this task alone owns output channel c's weights.
            let dst = unsafe { gw.slice(c * rows, rows) };
            for ci in 0..cin_g {
                acc.fill(T::zero());
                for n in 0..shape.batch {
                    let go =
                        &grad_out[(n * shape.out_channels + c) * w.output_len..][..w.output_len];
                    let x = &input[(n * shape.in_channels + g * cin_g + ci) * w.input_len..]
                        [..w.input_len];
                    if padded_rows(w) {
                        pad_rows(x, w.input[2], w.pad_before[2], width, buf);
                        match (T::as_f32(go), T::as_f32(buf), T::as_f32_mut(acc)) {
                            #[cfg(target_arch = "x86_64")]
                            (Some(g), Some(x), Some(a)) if simd_rows => {
                                depthwise_simd::grad_weight_products(w, g, x, width, a)
                            }
                            _ => dispatch_isa!(grad_weight_products_padded(w, go, buf, width, acc)),
                        }
                    } else {
                        dispatch_isa!(grad_weight_products(w, go, x, acc));
                    }
                }
                for (k, acc_row) in acc.chunks_exact(row_len).enumerate() {
                    dst[ci * k_len + k] = acc_row.iter().fold(T::zero(), |s, &v| s + v);
                }
            }
        },
    )
}

#[cfg(test)]
#[path = "depthwise_tests.rs"]
mod tests;

//! Max and average pooling over 1 to 3 spatial axes, forward and backward, with
//! `torch.nn.functional` semantics on C-order `(N, C, *S)` buffers.
//!
//! Every layout is handled as 3-D: fewer spatial axes are padded at the front with axes of
//! length 1 (kernel 1, stride 1, no padding), which leaves the windows, the flat in-plane
//! indices and torch's summation order (depth, then rows, then columns) unchanged.
//!
//! The rules follow ATen's CPU kernels (`MaxPoolKernel.cpp`, `AvgPoolKernel.cpp`):
//!
//! * output length `floor((n + 2p - d (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1`, one less in
//!   ceil mode when the last window would start at or past `n + p` (it must start inside the
//!   input or the left padding); a length below 1 is an error;
//! * `padding <= kernel / 2` on every axis;
//! * max pooling: a value is taken when it is greater than the current maximum or NaN, so the
//!   first maximum wins and a NaN propagates (the last NaN's index is recorded); a window that
//!   holds no input element yields `-inf` and the index torch computes for it;
//! * average pooling: the window clipped to the padded input is the `count_include_pad`
//!   divisor, the window clipped to the input the other one, `divisor_override` replaces both;
//!   sums run in the element type.
//!
//! Work is split over `(n, c)` planes above a work threshold; every plane is computed by the
//! same sequential code whichever thread runs it, so results are bitwise identical for every
//! thread count.

use std::ops::{Add, AddAssign, Div};

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use super::pool_simd;
use crate::error::{ConvError, Result};
use crate::parallel::{pool, PARALLEL_WORK_THRESHOLD};
#[cfg(target_arch = "x86_64")]
use crate::simd::{active_isa, Isa};

/// The most spatial axes a pooling call may have.
pub const MAX_SPATIAL: usize = 3;

/// The largest kernel size, stride, padding, dilation or input length accepted: every window
/// bound then fits in an `i64` with room to spare.
pub const MAX_EXTENT: usize = 1 << 60;

/// One scalar pooling step (a compare or an add, with its load) in the units of
/// [`PARALLEL_WORK_THRESHOLD`] (SIMD multiply-adds times element bytes): the pooling loops are
/// scalar, so one of their steps costs about as much as a 16-lane vector multiply-add.
const SCALAR_STEP_WEIGHT: usize = 16;

/// A floating-point element that pooling computes in (`f32`, `f64`).
pub trait PoolFloat:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + AddAssign
    + Div<Output = Self>
    + std::fmt::Debug
    + 'static
{
    /// Positive zero.
    const ZERO: Self;
    /// Negative infinity, the identity of the maximum.
    const NEG_INFINITY: Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// The larger value, the other one when one is NaN (IEEE `maxNum`; no branch).
    fn max_num(self, other: Self) -> Self;
    /// A count converted as C++ converts an `int64_t` to this type (round to nearest).
    fn from_count(n: i64) -> Self;
    /// Pools consecutive whole planes 2x2 at stride 2 ([`is_plain_2x2`]) with a SIMD kernel
    /// when there is one for this type, instruction set and shape; returns whether it did.
    fn max_planes_2x2_simd(
        _g: &PoolGeometry,
        _input: &[Self],
        _out: &mut [Self],
        _idx: &mut [i64],
    ) -> bool {
        false
    }
}

impl PoolFloat for f32 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn max_num(self, other: Self) -> Self {
        f32::max(self, other)
    }
    #[inline(always)]
    fn from_count(n: i64) -> Self {
        n as f32
    }
    #[cfg(target_arch = "x86_64")]
    fn max_planes_2x2_simd(
        g: &PoolGeometry,
        input: &[f32],
        out: &mut [f32],
        idx: &mut [i64],
    ) -> bool {
        let [_, ih, iw] = g.input;
        let [_, oh, ow] = g.output;
        if active_isa() != Isa::Avx512 || !pool_simd::handles(ih, iw, oh, ow) {
            return false;
        }
        // SAFETY: the CPU supports AVX-512F and `handles` holds.
        unsafe {
            pool_simd::max_planes_2x2_avx512(input, out, idx, ih * iw, ow, |plane, at| {
                pick_2x2(&input[plane * ih * iw..], at, iw)
            })
        };
        true
    }
}

impl PoolFloat for f64 {
    const ZERO: Self = 0.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    #[inline(always)]
    fn max_num(self, other: Self) -> Self {
        f64::max(self, other)
    }
    #[inline(always)]
    fn from_count(n: i64) -> Self {
        n as f64
    }
}

/// The output length of one pooled axis (torch's `pooling_output_shape`).
///
/// # Errors
/// [`ConvError::Value`] when the arguments are out of range or the output would be empty.
pub fn output_len(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Result<usize> {
    for (name, v) in [
        ("input size", input),
        ("kernel_size", kernel),
        ("stride", stride),
        ("padding", padding),
        ("dilation", dilation),
    ] {
        if v > MAX_EXTENT {
            return Err(ConvError::value(format!(
                "{name} must be at most 2**60, got {v}"
            )));
        }
    }
    if kernel == 0 {
        return Err(ConvError::value("kernel_size must be greater than zero"));
    }
    if stride == 0 {
        return Err(ConvError::value("stride must be greater than zero"));
    }
    if dilation == 0 {
        return Err(ConvError::value("dilation must be greater than zero"));
    }
    // All values are at most 2**60, so these i128 expressions cannot overflow.
    let (n, k, s, p, d) = (
        input as i128,
        kernel as i128,
        stride as i128,
        padding as i128,
        dilation as i128,
    );
    let span = n + 2 * p - d * (k - 1) - 1 + if ceil_mode { s - 1 } else { 0 };
    let mut out = span.div_euclid(s) + 1;
    if ceil_mode && out >= 1 && (out - 1) * s >= n + p {
        out -= 1;
    }
    if out < 1 {
        return Err(ConvError::value(format!(
            "output size is too small: input size {input}, kernel_size {kernel}, stride \
             {stride}, padding {padding}, dilation {dilation} give an output size of {out}"
        )));
    }
    Ok(out as usize)
}

/// The shapes of one pooling call: `planes` `(n, c)` planes of `input` elements pooled by a
/// window of `kernel` elements `dilation` apart, moved by `stride` over the input padded with
/// `padding` on both sides. Arrays are 3-D: unused leading axes have length 1 and kernel 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Number of `(n, c)` planes (`N * C`).
    pub planes: usize,
    /// Number of spatial axes of the caller's arrays (1 to 3).
    pub spatial_ndim: usize,
    /// Input lengths.
    pub input: [usize; 3],
    /// Output lengths.
    pub output: [usize; 3],
    /// Window lengths (taps per axis).
    pub kernel: [usize; 3],
    /// Window steps.
    pub stride: [usize; 3],
    /// Implicit padding on both sides.
    pub padding: [usize; 3],
    /// Spacing of the window's taps.
    pub dilation: [usize; 3],
}

/// Per-axis arguments of a pooling call (one entry per spatial axis).
#[derive(Clone, Copy, Debug)]
pub struct PoolArgs<'a> {
    /// Window lengths.
    pub kernel: &'a [usize],
    /// Window steps.
    pub stride: &'a [usize],
    /// Implicit padding on both sides.
    pub padding: &'a [usize],
    /// Tap spacing (all ones for average pooling).
    pub dilation: &'a [usize],
    /// Round the output length up (torch's `ceil_mode`).
    pub ceil_mode: bool,
}

impl PoolGeometry {
    /// Validates the arguments of pooling `planes` planes of spatial shape `input`.
    ///
    /// # Errors
    /// [`ConvError::Value`] naming the argument at fault (wrong number of entries, a zero
    /// kernel/stride/dilation, padding over half the kernel, an empty input axis, an empty
    /// output); [`ConvError::Memory`] when the element counts overflow `usize`.
    pub fn new(planes: usize, input: &[usize], args: &PoolArgs<'_>) -> Result<Self> {
        let nd = input.len();
        if nd == 0 || nd > MAX_SPATIAL {
            return Err(ConvError::value(format!(
                "input must have 1 to {MAX_SPATIAL} spatial axes, got {nd}"
            )));
        }
        for (name, v) in [
            ("kernel_size", args.kernel),
            ("stride", args.stride),
            ("padding", args.padding),
            ("dilation", args.dilation),
        ] {
            if v.len() != nd {
                return Err(ConvError::value(format!(
                    "{name} must have {nd} entries (one per spatial axis), got {}",
                    v.len()
                )));
            }
        }
        let lead = MAX_SPATIAL - nd;
        let mut g = PoolGeometry {
            planes,
            spatial_ndim: nd,
            input: [1; 3],
            output: [1; 3],
            kernel: [1; 3],
            stride: [1; 3],
            padding: [0; 3],
            dilation: [1; 3],
        };
        for (a, &n) in input.iter().enumerate() {
            let (k, p) = (args.kernel[a], args.padding[a]);
            if n == 0 {
                return Err(ConvError::value(format!(
                    "input must have non-zero spatial sizes, got a zero at spatial axis {a}"
                )));
            }
            if k > 0 && p > k / 2 {
                return Err(ConvError::value(format!(
                    "padding should be at most half of kernel_size, got padding={p} and \
                     kernel_size={k}"
                )));
            }
            let m = output_len(n, k, args.stride[a], p, args.dilation[a], args.ceil_mode)?;
            let i = lead + a;
            g.input[i] = n;
            g.output[i] = m;
            g.kernel[i] = k;
            g.stride[i] = args.stride[a];
            g.padding[i] = p;
            g.dilation[i] = args.dilation[a];
        }
        checked_count(&[planes, g.input_plane()?])?;
        checked_count(&[planes, g.output_plane()?])?;
        Ok(g)
    }

    /// Elements in one input plane.
    ///
    /// # Errors
    /// [`ConvError::Memory`] on overflow.
    pub fn input_plane(&self) -> Result<usize> {
        checked_count(&self.input)
    }

    /// Elements in one output plane.
    ///
    /// # Errors
    /// [`ConvError::Memory`] on overflow.
    pub fn output_plane(&self) -> Result<usize> {
        checked_count(&self.output)
    }

    /// The caller's output spatial shape (the last `spatial_ndim` lengths).
    pub fn output_spatial(&self) -> &[usize] {
        &self.output[MAX_SPATIAL - self.spatial_ndim..]
    }

    /// Taps per window.
    fn window(&self) -> usize {
        self.kernel.iter().fold(1usize, |a, &k| a.saturating_mul(k))
    }

    /// `[start, end)` of output `o`'s taps along axis `a` for max pooling, `start` moved past
    /// the left padding by whole dilation steps (may be `>= end`: no tap in the input).
    #[inline(always)]
    fn max_range(&self, a: usize, o: usize) -> (i64, i64) {
        let d = self.dilation[a] as i64;
        let mut start = (o * self.stride[a]) as i64 - self.padding[a] as i64;
        let end = (start + (self.kernel[a] as i64 - 1) * d + 1).min(self.input[a] as i64);
        if start < 0 {
            start += (-start + d - 1) / d * d;
        }
        (start, end)
    }

    /// Average pooling's window along axis `a`: `(start, end, padded length)`, the range
    /// clipped to the input and the length clipped to the padded input.
    #[inline(always)]
    fn avg_range(&self, a: usize, o: usize) -> (i64, i64, i64) {
        let n = self.input[a] as i64;
        let p = self.padding[a] as i64;
        let start = (o * self.stride[a]) as i64 - p;
        let end = (start + self.kernel[a] as i64).min(n + p);
        (start.max(0), end.min(n), end - start)
    }
}

/// The product of `dims`.
///
/// # Errors
/// [`ConvError::Memory`] when it overflows `usize`.
pub fn checked_count(dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| ConvError::Memory(format!("the array shape {dims:?} is too large")))
}

/// A vector of `len` copies of `value`, or [`ConvError::Memory`] when it cannot be allocated
/// (sizes come from arguments such as `input_size`, so they may be absurd: an infallible
/// `vec!` would panic on capacity overflow or abort on allocation failure).
fn filled<V: Copy>(value: V, len: usize) -> Result<Vec<V>> {
    let too_large = || ConvError::Memory(format!("cannot allocate an array of {len} elements"));
    if len
        .checked_mul(std::mem::size_of::<V>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(too_large());
    }
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_large())?;
    v.resize(len, value);
    Ok(v)
}

/// Average pooling's divisor options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgOptions {
    /// Count the padding in the divisor.
    pub count_include_pad: bool,
    /// A fixed divisor (non-zero) replacing the element count.
    pub divisor_override: Option<i64>,
}

impl AvgOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// [`ConvError::Value`] for a zero `divisor_override`.
    pub fn validate(&self) -> Result<()> {
        if self.divisor_override == Some(0) {
            return Err(ConvError::value("divisor_override must be non-zero"));
        }
        Ok(())
    }
}

/// Whether a call of `steps` scalar steps on `T` uses more than one thread.
fn parallel<T>(threads: usize, steps: usize) -> bool {
    let work = steps
        .saturating_mul(std::mem::size_of::<T>())
        .saturating_mul(SCALAR_STEP_WEIGHT);
    threads > 1 && work >= PARALLEL_WORK_THRESHOLD
}

fn check_len(name: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(ConvError::value(format!(
            "{name} has {got} elements, expected {want}"
        )));
    }
    Ok(())
}

/// Max pooling of `input` (`g.planes` planes of `g.input`, C order) on `threads` threads:
/// the output and, per output element, the flat index of the chosen element in its plane.
///
/// # Errors
/// [`ConvError::Value`] when `input` does not have the geometry's length or the thread pool
/// cannot start; [`ConvError::Memory`] on size overflow.
pub fn max_pool_forward<T: PoolFloat>(
    input: &[T],
    g: &PoolGeometry,
    threads: usize,
) -> Result<(Vec<T>, Vec<i64>)> {
    let (in_plane, out_plane) = (g.input_plane()?, g.output_plane()?);
    check_len("input", input.len(), checked_count(&[g.planes, in_plane])?)?;
    let total = checked_count(&[g.planes, out_plane])?;
    let mut out = filled(T::ZERO, total)?;
    let mut idx = filled(0i64, total)?;
    let parallel = parallel::<T>(threads, total.saturating_mul(g.window()));
    // Planes per task: all of them in one serial call, else enough for 2^14 outputs.
    let span = if parallel {
        (1usize << 14)
            .div_ceil(out_plane.max(1))
            .clamp(1, g.planes.max(1))
    } else {
        g.planes.max(1)
    };
    let body = |(t, (o, i)): (usize, (&mut [T], &mut [i64]))| {
        let first = t * span;
        let planes = o.len() / out_plane.max(1);
        max_planes(
            g,
            &input[first * in_plane..(first + planes) * in_plane],
            o,
            i,
        );
    };
    let chunk = span * out_plane.max(1);
    if parallel {
        pool(threads)?.install(|| {
            out.par_chunks_mut(chunk)
                .zip(idx.par_chunks_mut(chunk))
                .enumerate()
                .for_each(body)
        });
    } else {
        out.chunks_mut(chunk)
            .zip(idx.chunks_mut(chunk))
            .enumerate()
            .for_each(body);
    }
    Ok((out, idx))
}

/// Max pooling of consecutive whole planes (`input` and the outputs hold the same number):
/// one SIMD call over all of them where a kernel takes the geometry (see
/// [`PoolFloat::max_planes_2x2_simd`]), else plane by plane.
fn max_planes<T: PoolFloat>(g: &PoolGeometry, input: &[T], out: &mut [T], idx: &mut [i64]) {
    if is_plain_2x2(g) && T::max_planes_2x2_simd(g, input, out, idx) {
        return;
    }
    let in_plane = g.input.iter().product::<usize>().max(1);
    let out_plane = g.output.iter().product::<usize>().max(1);
    let outputs = out
        .chunks_exact_mut(out_plane)
        .zip(idx.chunks_exact_mut(out_plane));
    for (x, (o, i)) in input.chunks_exact(in_plane).zip(outputs) {
        max_plane(g, x, o, i);
    }
}

/// Whether every window lies inside the input with no padding or dilation and one tap deep
/// (without padding or dilation, a window leaves the input only when ceil mode added a last
/// one that runs past the end).
fn is_dense(g: &PoolGeometry) -> bool {
    let inside =
        (0..MAX_SPATIAL).all(|a| (g.output[a] - 1) * g.stride[a] + g.kernel[a] <= g.input[a]);
    g.padding == [0; 3] && g.dilation == [1; 3] && g.kernel[0] == 1 && inside
}

/// Whether every window is a 2-D 2x2 one at stride 2 inside the input, with no padding or
/// dilation.
fn is_plain_2x2(g: &PoolGeometry) -> bool {
    is_dense(g) && g.input[0] == 1 && g.kernel[1..] == [2, 2] && g.stride[1..] == [2, 2]
}

/// One plane of max pooling (torch's rule per window: taps in C order, `>` or NaN replaces).
///
/// The common small windows without padding or dilation take [`max_plane_dense`], whose
/// constant-length loops unroll (the general loop costs about four times as much per tap);
/// everything else goes window by window through [`max_window`].
fn max_plane<T: PoolFloat>(g: &PoolGeometry, input: &[T], out: &mut [T], idx: &mut [i64]) {
    if is_plain_2x2(g) {
        return max_plane_2x2(g, input, out, idx);
    }
    match (is_dense(g), g.kernel[1], g.kernel[2]) {
        (true, 1, 2) => return max_plane_dense::<T, 1, 2>(g, input, out, idx),
        (true, 1, 3) => return max_plane_dense::<T, 1, 3>(g, input, out, idx),
        (true, 2, 2) => return max_plane_dense::<T, 2, 2>(g, input, out, idx),
        (true, 3, 3) => return max_plane_dense::<T, 3, 3>(g, input, out, idx),
        _ => {}
    }
    let [_, ih, iw] = g.input.map(|n| n as i64);
    let [dd, dh, dw] = g.dilation.map(|d| d as i64);
    let ow_n = g.output[2];
    for (row_index, (out_row, idx_row)) in
        out.chunks_mut(ow_n).zip(idx.chunks_mut(ow_n)).enumerate()
    {
        let (od, oh) = (row_index / g.output[1], row_index % g.output[1]);
        let (d0, d1) = g.max_range(0, od);
        let (h0, h1) = g.max_range(1, oh);
        let rows = Rows {
            d0,
            d1,
            dd,
            h0,
            h1,
            dh,
            ih,
            iw,
        };
        for (ow, (o, i)) in out_row.iter_mut().zip(idx_row.iter_mut()).enumerate() {
            let (w0, w1) = g.max_range(2, ow);
            (*o, *i) = max_window(input, &rows, w0, w1, dw);
        }
    }
}

/// One 2-D plane of 2x2 max pooling at stride 2, no padding or dilation (the most common
/// layer): each output reads two slices of two taps, with no index arithmetic per tap and no
/// bounds check; torch's rule as in [`max_window`] (taps in C order, `>` or NaN replaces),
/// written as selects.
fn max_plane_2x2<T: PoolFloat>(g: &PoolGeometry, input: &[T], out: &mut [T], idx: &mut [i64]) {
    let iw = g.input[2];
    let ow_n = g.output[2];
    let rows = out.chunks_exact_mut(ow_n).zip(idx.chunks_exact_mut(ow_n));
    for (oh, (out_row, idx_row)) in rows.enumerate() {
        let row0 = 2 * oh * iw;
        let cells = out_row.iter_mut().zip(idx_row.iter_mut());
        for (ow, (o, i)) in cells.enumerate() {
            (*o, *i) = pick_2x2(input, row0 + 2 * ow, iw);
        }
    }
}

/// The pick of one 2x2 window whose top-left tap is `input[at]` (rows `iw` apart): the first
/// tap equal to the maximum (the first that `>` keeps), found back to front with selects, or,
/// when the window holds a NaN (rare), the last NaN (each NaN replaces under torch's rule).
#[inline(always)]
pub(super) fn pick_2x2<T: PoolFloat>(input: &[T], at: usize, iw: usize) -> (T, i64) {
    let values = [input[at], input[at + 1], input[at + iw], input[at + iw + 1]];
    let positions = [at, at + 1, at + iw, at + iw + 1];
    let k = if values.iter().fold(false, |nan, v| nan | v.is_nan()) {
        (0..4).rev().find(|&k| values[k].is_nan()).unwrap_or(0)
    } else {
        let top = values[0]
            .max_num(values[1])
            .max_num(values[2].max_num(values[3]));
        let mut k = 3;
        k = if values[2] == top { 2 } else { k };
        k = if values[1] == top { 1 } else { k };
        if values[0] == top {
            0
        } else {
            k
        }
    };
    (values[k], positions[k] as i64)
}

/// One plane of max pooling with a `KH` x `KW` window, no padding and no dilation (the
/// common training case): every window lies inside the input, so the loops are plain.
fn max_plane_dense<T: PoolFloat, const KH: usize, const KW: usize>(
    g: &PoolGeometry,
    input: &[T],
    out: &mut [T],
    idx: &mut [i64],
) {
    let [_, ih, iw] = g.input;
    let [sd, sh, sw] = g.stride;
    let ow_n = g.output[2];
    let mut o = 0;
    for od in 0..g.output[0] {
        for oh in 0..g.output[1] {
            let row0 = (od * sd * ih + oh * sh) * iw;
            for ow in 0..ow_n {
                let first = row0 + ow * sw;
                // The maximum first (`maxnum` and an OR: no branch), then the first tap
                // equal to it, found back to front with an integer select; a window holding
                // a NaN (rare) takes torch's loop as written.
                let mut top = T::NEG_INFINITY;
                let mut nan = false;
                for a in 0..KH {
                    for b in 0..KW {
                        let v = input[first + a * iw + b];
                        nan |= v.is_nan();
                        top = top.max_num(v);
                    }
                }
                let mut best_at = first;
                if nan {
                    let mut best = T::NEG_INFINITY;
                    for a in 0..KH {
                        for b in 0..KW {
                            let pos = first + a * iw + b;
                            let v = input[pos];
                            if v > best || v.is_nan() {
                                best = v;
                                best_at = pos;
                            }
                        }
                    }
                } else {
                    for a in (0..KH).rev() {
                        for b in (0..KW).rev() {
                            let pos = first + a * iw + b;
                            best_at = if input[pos] == top { pos } else { best_at };
                        }
                    }
                }
                // The value at the index: exact even between -0 and +0.
                let best = input[best_at];
                out[o] = best;
                idx[o] = best_at as i64;
                o += 1;
            }
        }
    }
}

/// The depth and row taps that one output row of max pooling shares.
struct Rows {
    d0: i64,
    d1: i64,
    dd: i64,
    h0: i64,
    h1: i64,
    dh: i64,
    ih: i64,
    iw: i64,
}

impl Rows {
    /// Calls `f` with the flat offset of each tap row, in C order.
    #[inline(always)]
    fn for_each_row(&self, mut f: impl FnMut(i64)) {
        let mut d = self.d0;
        while d < self.d1 {
            let mut h = self.h0;
            while h < self.h1 {
                f((d * self.ih + h) * self.iw);
                h += self.dh;
            }
            d += self.dd;
        }
    }
}

/// The maximum and its flat index over one window (column taps `[w0, w1)` every `dw`), as
/// torch's loop finds them; `-inf` and the window's first position when no tap is inside.
fn max_window<T: PoolFloat>(input: &[T], rows: &Rows, w0: i64, w1: i64, dw: i64) -> (T, i64) {
    let mut best = T::NEG_INFINITY;
    let mut best_at = (rows.d0 * rows.ih + rows.h0) * rows.iw + w0;
    if w0 < w1 {
        rows.for_each_row(|row| {
            // One row of taps as a slice: no bounds check per tap.
            let taps = &input[(row + w0) as usize..(row + w1) as usize];
            for (j, &v) in taps.iter().step_by(dw as usize).enumerate() {
                if v > best || v.is_nan() {
                    best = v;
                    best_at = row + w0 + j as i64 * dw;
                }
            }
        });
    }
    (best, best_at)
}

/// The gradient of max pooling: `grad_output` (`planes` planes of `out_plane` elements)
/// added, in output order, to the input elements `indices` names (flat in-plane indices;
/// `-1` is skipped as in torch) of `planes` zeroed planes of `in_plane` elements.
///
/// # Errors
/// [`ConvError::Value`] when the lengths disagree or an index lies outside its plane.
pub fn max_pool_backward<T: PoolFloat>(
    grad_output: &[T],
    indices: &[i64],
    planes: usize,
    in_plane: usize,
    out_plane: usize,
    threads: usize,
) -> Result<Vec<T>> {
    let total_out = checked_count(&[planes, out_plane])?;
    check_len("grad_output", grad_output.len(), total_out)?;
    check_len("indices", indices.len(), total_out)?;
    let mut grad_input = filled(T::ZERO, checked_count(&[planes, in_plane])?)?;
    if in_plane == 0 {
        if indices.iter().any(|&i| i != -1) {
            return Err(ConvError::value("indices point into an empty input plane"));
        }
        return Ok(grad_input); // no plane to chunk (`chunks_mut(0)` is not allowed)
    }
    let body = |(p, gi): (usize, &mut [T])| -> Result<()> {
        let go = &grad_output[p * out_plane..(p + 1) * out_plane];
        let ix = &indices[p * out_plane..(p + 1) * out_plane];
        for (&g, &i) in go.iter().zip(ix) {
            if i == -1 {
                continue;
            }
            match usize::try_from(i).ok().and_then(|i| gi.get_mut(i)) {
                Some(slot) => *slot += g,
                None => {
                    return Err(ConvError::value(format!(
                        "indices holds {i}, outside the input plane of {in_plane} elements"
                    )))
                }
            }
        }
        Ok(())
    };
    let steps = total_out.saturating_add(grad_input.len());
    if parallel::<T>(threads, steps) {
        pool(threads)?.install(|| {
            grad_input
                .par_chunks_mut(in_plane)
                .enumerate()
                .try_for_each(body)
        })?;
    } else {
        grad_input
            .chunks_mut(in_plane)
            .enumerate()
            .try_for_each(body)?;
    }
    Ok(grad_input)
}

/// Average pooling of `input` (`g.planes` planes of `g.input`, C order) on `threads` threads.
/// The geometry's dilation must be all ones.
///
/// # Errors
/// [`ConvError::Value`] when `input` does not have the geometry's length, the dilation is not
/// one, `divisor_override` is zero or the thread pool cannot start.
pub fn avg_pool_forward<T: PoolFloat>(
    input: &[T],
    g: &PoolGeometry,
    opts: AvgOptions,
    threads: usize,
) -> Result<Vec<T>> {
    check_avg(g, opts)?;
    let (in_plane, out_plane) = (g.input_plane()?, g.output_plane()?);
    check_len("input", input.len(), checked_count(&[g.planes, in_plane])?)?;
    let total = checked_count(&[g.planes, out_plane])?;
    let mut out = filled(T::ZERO, total)?;
    let body = |(p, o): (usize, &mut [T])| {
        avg_plane(g, opts, &input[p * in_plane..(p + 1) * in_plane], o);
    };
    if parallel::<T>(threads, total.saturating_mul(g.window())) {
        pool(threads)?.install(|| out.par_chunks_mut(out_plane).enumerate().for_each(body));
    } else {
        out.chunks_mut(out_plane).enumerate().for_each(body);
    }
    Ok(out)
}

fn check_avg(g: &PoolGeometry, opts: AvgOptions) -> Result<()> {
    opts.validate()?;
    if g.dilation != [1; 3] {
        return Err(ConvError::value("average pooling has no dilation"));
    }
    Ok(())
}

/// The divisor of one average-pooling window: `padded` taps counting the padding, `inside`
/// taps in the input.
#[inline(always)]
fn divisor(opts: AvgOptions, padded: i64, inside: i64) -> i64 {
    match opts.divisor_override {
        Some(d) => d,
        None if opts.count_include_pad => padded,
        None => inside,
    }
}

/// One plane of average pooling (torch's loop and summation order).
fn avg_plane<T: PoolFloat>(g: &PoolGeometry, opts: AvgOptions, input: &[T], out: &mut [T]) {
    let [_, ih, iw] = g.input.map(|n| n as i64);
    let mut o = 0;
    for od in 0..g.output[0] {
        let (d0, d1, pd) = g.avg_range(0, od);
        for oh in 0..g.output[1] {
            let (h0, h1, ph) = g.avg_range(1, oh);
            for ow in 0..g.output[2] {
                let (w0, w1, pw) = g.avg_range(2, ow);
                if d0 >= d1 || h0 >= h1 || w0 >= w1 {
                    out[o] = T::ZERO;
                    o += 1;
                    continue;
                }
                let div = divisor(opts, pd * ph * pw, (d1 - d0) * (h1 - h0) * (w1 - w0));
                let mut sum = T::ZERO;
                for d in d0..d1 {
                    for h in h0..h1 {
                        let row = ((d * ih + h) * iw) as usize;
                        for &v in &input[row + w0 as usize..row + w1 as usize] {
                            sum += v;
                        }
                    }
                }
                // torch adds the quotient to a zeroed output: a -0.0 quotient becomes +0.0.
                out[o] = T::ZERO + sum / T::from_count(div);
                o += 1;
            }
        }
    }
}

/// The gradient of average pooling: each output's gradient divided by its window's divisor
/// and added to every input element of the window, in output order (torch's loop).
///
/// # Errors
/// [`ConvError::Value`] when `grad_output` does not have the geometry's output length, the
/// dilation is not one, `divisor_override` is zero or the thread pool cannot start.
pub fn avg_pool_backward<T: PoolFloat>(
    grad_output: &[T],
    g: &PoolGeometry,
    opts: AvgOptions,
    threads: usize,
) -> Result<Vec<T>> {
    check_avg(g, opts)?;
    let (in_plane, out_plane) = (g.input_plane()?, g.output_plane()?);
    check_len(
        "grad_output",
        grad_output.len(),
        checked_count(&[g.planes, out_plane])?,
    )?;
    let mut grad_input = filled(T::ZERO, checked_count(&[g.planes, in_plane])?)?;
    let body = |(p, gi): (usize, &mut [T])| {
        avg_plane_backward(
            g,
            opts,
            &grad_output[p * out_plane..(p + 1) * out_plane],
            gi,
        );
    };
    let steps = grad_output.len().saturating_mul(g.window());
    if parallel::<T>(threads, steps) {
        pool(threads)?.install(|| {
            grad_input
                .par_chunks_mut(in_plane)
                .enumerate()
                .for_each(body)
        });
    } else {
        grad_input.chunks_mut(in_plane).enumerate().for_each(body);
    }
    Ok(grad_input)
}

/// One plane of average pooling's gradient (torch's loop order).
fn avg_plane_backward<T: PoolFloat>(
    g: &PoolGeometry,
    opts: AvgOptions,
    grad_output: &[T],
    grad_input: &mut [T],
) {
    let [_, ih, iw] = g.input.map(|n| n as i64);
    let mut o = 0;
    for od in 0..g.output[0] {
        let (d0, d1, pd) = g.avg_range(0, od);
        for oh in 0..g.output[1] {
            let (h0, h1, ph) = g.avg_range(1, oh);
            for ow in 0..g.output[2] {
                let (w0, w1, pw) = g.avg_range(2, ow);
                let go = grad_output[o];
                o += 1;
                if d0 >= d1 || h0 >= h1 || w0 >= w1 {
                    continue;
                }
                let div = divisor(opts, pd * ph * pw, (d1 - d0) * (h1 - h0) * (w1 - w0));
                let delta = go / T::from_count(div);
                for d in d0..d1 {
                    for h in h0..h1 {
                        let row = ((d * ih + h) * iw) as usize;
                        for v in &mut grad_input[row + w0 as usize..row + w1 as usize] {
                            *v += delta;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args<'a>(
        k: &'a [usize],
        s: &'a [usize],
        p: &'a [usize],
        d: &'a [usize],
        ceil: bool,
    ) -> PoolArgs<'a> {
        PoolArgs {
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
            ceil_mode: ceil,
        }
    }

    #[test]
    fn output_len_matches_torch() {
        // Values from torch.nn.functional.max_pool1d.
        assert_eq!(output_len(5, 2, 2, 0, 1, false).unwrap(), 2);
        assert_eq!(output_len(5, 2, 2, 0, 1, true).unwrap(), 3);
        assert_eq!(output_len(4, 2, 2, 1, 1, true).unwrap(), 3);
        // ceil mode would start the last window in the right padding: dropped.
        assert_eq!(output_len(5, 3, 3, 1, 1, true).unwrap(), 2);
        assert_eq!(output_len(6, 2, 1, 0, 3, false).unwrap(), 3);
        assert_eq!(output_len(2, 2, 1, 1, 3, false).unwrap(), 1);
        assert!(output_len(3, 4, 1, 0, 1, false).is_err());
        assert!(output_len(3, 0, 1, 0, 1, false).is_err());
        assert!(output_len(3, 1, 0, 0, 1, false).is_err());
        assert!(output_len(3, 1, 1, 0, 0, false).is_err());
        assert!(output_len(3, 1, 1, 0, MAX_EXTENT + 1, false).is_err());
    }

    #[test]
    fn geometry_errors_name_the_argument() {
        let e = PoolGeometry::new(1, &[4], &args(&[2], &[2], &[2], &[1], false)).unwrap_err();
        assert!(e.to_string().contains("padding"));
        let e = PoolGeometry::new(1, &[4, 4], &args(&[2], &[2], &[0], &[1], false)).unwrap_err();
        assert!(e.to_string().contains("kernel_size"));
        let e = PoolGeometry::new(1, &[0], &args(&[1], &[1], &[0], &[1], false)).unwrap_err();
        assert!(e.to_string().contains("input"));
        assert!(PoolGeometry::new(1, &[], &args(&[], &[], &[], &[], false)).is_err());
        let e =
            PoolGeometry::new(usize::MAX, &[4], &args(&[1], &[1], &[0], &[1], false)).unwrap_err();
        assert!(matches!(e, ConvError::Memory(_)));
    }

    #[test]
    fn max_pool_first_maximum_and_nan() {
        let g = PoolGeometry::new(1, &[6], &args(&[3], &[3], &[0], &[1], false)).unwrap();
        let x = [1.0f64, 3.0, 3.0, f64::NAN, 0.0, f64::NAN];
        let (y, i) = max_pool_forward(&x, &g, 1).unwrap();
        assert_eq!(y[0], 3.0);
        assert!(y[1].is_nan());
        assert_eq!(i, vec![1, 5]);
    }

    #[test]
    fn max_pool_2x2_blocks_match_the_window_rule() {
        // Plane shapes the sixteen-window vector kernel takes (and two it does not), with
        // ties, signed zeros, infinities and NaN in some blocks; every output is checked
        // against `pick_2x2` on its own window, for one thread and for several.
        let values = [
            0.0f32,
            -0.0,
            1.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            2.5,
        ];
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for (h, w) in [(32, 2), (16, 4), (9, 8), (8, 8), (4, 16), (3, 32), (4, 24)] {
            let g = PoolGeometry::new(5, &[h, w], &args(&[2, 2], &[2, 2], &[0, 0], &[1, 1], false))
                .unwrap();
            let x: Vec<f32> = (0..5 * h * w)
                .map(|_| match next() % 64 {
                    0 => f32::NAN,
                    r => values[r % values.len()],
                })
                .collect();
            let (oh, ow) = (h / 2, w / 2);
            for threads in [1, 3] {
                let (y, i) = max_pool_forward(&x, &g, threads).unwrap();
                for p in 0..5 {
                    for r in 0..oh {
                        for c in 0..ow {
                            let o = (p * oh + r) * ow + c;
                            let (v, at) = pick_2x2(&x[p * h * w..], 2 * r * w + 2 * c, w);
                            assert_eq!(i[o], at, "{h}x{w} plane {p} output {r},{c}");
                            assert_eq!(y[o].to_bits(), v.to_bits());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn max_pool_padding_dilation_2d() {
        // 3x3 input, kernel 2, stride 1, padding 1, dilation 2: output o has taps at o - 1
        // and o + 1 on each axis.
        let g = PoolGeometry::new(1, &[3, 3], &args(&[2, 2], &[1, 1], &[1, 1], &[2, 2], false))
            .unwrap();
        assert_eq!(g.output_spatial(), &[3, 3]);
        let x: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let (y, i) = max_pool_forward(&x, &g, 1).unwrap();
        assert_eq!(y, vec![4.0, 5.0, 4.0, 7.0, 8.0, 7.0, 4.0, 5.0, 4.0]);
        assert_eq!(i, vec![4, 5, 4, 7, 8, 7, 4, 5, 4]);
    }

    #[test]
    fn empty_max_window_is_neg_infinity_with_torchs_index() {
        // torch: max_pool1d(x of length 2, 2, 1, 1, 3) -> (-inf, index 2).
        let g = PoolGeometry::new(1, &[2], &args(&[2], &[1], &[1], &[3], false)).unwrap();
        let (y, i) = max_pool_forward(&[1.0f32, 2.0], &g, 1).unwrap();
        assert_eq!(y, vec![f32::NEG_INFINITY]);
        assert_eq!(i, vec![2]);
        assert!(max_pool_backward(&[1.0f32], &i, 1, 2, 1, 1).is_err());
    }

    #[test]
    fn avg_pool_divisors() {
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let g = PoolGeometry::new(1, &[4], &args(&[3], &[2], &[1], &[1], true)).unwrap();
        // Windows [-1, 2), [1, 4) and [3, 6): the last one clipped to [3, 5) in the padded
        // input (2 taps counting the padding) and to [3, 4) in the input.
        assert_eq!(g.output_spatial(), &[3]);
        let inc = AvgOptions {
            count_include_pad: true,
            divisor_override: None,
        };
        let exc = AvgOptions {
            count_include_pad: false,
            ..inc
        };
        let ovr = AvgOptions {
            divisor_override: Some(-2),
            ..inc
        };
        assert_eq!(
            avg_pool_forward(&x, &g, inc, 1).unwrap(),
            vec![1.0, 3.0, 2.0]
        );
        assert_eq!(
            avg_pool_forward(&x, &g, exc, 1).unwrap(),
            vec![1.5, 3.0, 4.0]
        );
        assert_eq!(
            avg_pool_forward(&x, &g, ovr, 1).unwrap(),
            vec![-1.5, -4.5, -2.0]
        );
        let zero = AvgOptions {
            divisor_override: Some(0),
            ..inc
        };
        assert!(avg_pool_forward(&x, &g, zero, 1).is_err());
        // Backward: divisors 3, 3 and 2.
        let gi = avg_pool_backward(&[3.0, 6.0, 4.0], &g, inc, 1).unwrap();
        assert_eq!(gi, vec![1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn max_backward_scatters_and_checks_indices() {
        let gi = max_pool_backward(&[1.0f32, 2.0, 4.0], &[1, 1, -1], 1, 3, 3, 1).unwrap();
        assert_eq!(gi, vec![0.0, 3.0, 0.0]);
        assert!(max_pool_backward(&[1.0f32], &[3], 1, 3, 1, 1).is_err());
        assert!(max_pool_backward(&[1.0f32], &[-2], 1, 3, 1, 1).is_err());
        assert!(max_pool_backward(&[1.0f32], &[0, 0], 1, 3, 1, 1).is_err());
        assert!(max_pool_backward(&[1.0f32], &[0], 1, 0, 1, 1).is_err());
    }

    #[test]
    fn threads_give_identical_bits() {
        let planes = 64;
        let a = args(&[3, 3, 2], &[2, 1, 2], &[1, 1, 0], &[1, 1, 1], true);
        let g = PoolGeometry::new(planes, &[9, 20, 21], &a).unwrap();
        let n = planes * g.input_plane().unwrap();
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 50.0)
            .collect();
        let opts = AvgOptions {
            count_include_pad: false,
            divisor_override: None,
        };
        let (y1, i1) = max_pool_forward(&x, &g, 1).unwrap();
        let a1 = avg_pool_forward(&x, &g, opts, 1).unwrap();
        let b1 = avg_pool_backward(&a1, &g, opts, 1).unwrap();
        let (ip, op) = (g.input_plane().unwrap(), g.output_plane().unwrap());
        let m1 = max_pool_backward(&y1, &i1, planes, ip, op, 1).unwrap();
        assert!(parallel::<f32>(3, y1.len() * 18));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for t in [2, 3] {
            let (y, i) = max_pool_forward(&x, &g, t).unwrap();
            assert_eq!(bits(&y), bits(&y1));
            assert_eq!(i, i1);
            assert_eq!(bits(&avg_pool_forward(&x, &g, opts, t).unwrap()), bits(&a1));
            assert_eq!(
                bits(&avg_pool_backward(&a1, &g, opts, t).unwrap()),
                bits(&b1)
            );
            let m = max_pool_backward(&y, &i, planes, ip, op, t).unwrap();
            assert_eq!(bits(&m), bits(&m1));
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let g = PoolGeometry::new(2, &[4], &args(&[2], &[2], &[0], &[1], false)).unwrap();
        assert!(max_pool_forward(&[0.0f32; 7], &g, 1).is_err());
        let opts = AvgOptions {
            count_include_pad: true,
            divisor_override: None,
        };
        assert!(avg_pool_forward(&[0.0f32; 7], &g, opts, 1).is_err());
        assert!(avg_pool_backward(&[0.0f32; 3], &g, opts, 1).is_err());
        let gd = PoolGeometry::new(2, &[4], &args(&[2], &[2], &[0], &[2], false)).unwrap();
        assert!(avg_pool_forward(&[0.0f32; 8], &gd, opts, 1).is_err());
    }
}

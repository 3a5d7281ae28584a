//! Batch normalisation, forward and backward, with `torch.nn.functional.batch_norm` semantics
//! on C-order `(N, C, M)` buffers (`M` is the product of the spatial axes, 1 for `(N, C)`).
//!
//! # Numerics
//!
//! * Per-channel reductions accumulate in `f64` for both `f32` and `f64` elements (ATen's CPU
//!   kernel accumulates float32 in double too).
//! * Training statistics are computed in two passes over the channel: the mean, then the sum
//!   of squared deviations from it. A channel of a small CNN's activation is a few KiB and sits
//!   in L1/L2 between the passes, so the second pass costs little, and unlike the one-pass
//!   `E[x^2] - E[x]^2` it has no cancellation when `|mean| >> std` (which a compensated
//!   one-pass update would also avoid, at a division per element). The normalising variance
//!   is the biased one; the running variance is updated with the unbiased one, as torch does.
//! * `y = (x - mean) * (invstd * w) + b` in the element type, with the two per-channel
//!   coefficients rounded once from `f64`; subtracting the mean first keeps the result exact
//!   to a few ulps even for inputs far from zero (ATen folds the mean into the shift).
//! * The backward pass uses torch's formulas: in training
//!   `dx = w invstd (g - mean(g) - xhat mean(g xhat))`, in evaluation `dx = g w invstd`; always
//!   `dw = sum(g xhat)` and `db = sum(g)`, the sums in `f64`.
//!
//! # Order and threads
//!
//! A reduction keeps lanes of partial sums, takes rows in batch order and adds the lanes in
//! a fixed tree at the end. The forward statistics cut every `(n, c)` row into pieces of 32
//! elements (two halves of 16 lanes), then at most one of 16 (the low half in even rows, the
//! high half in odd ones), one of 8 and one of 4, then single elements, each narrower width
//! with its own lanes (see `Sums`; float32 rows of whole pieces of 16 run the same additions
//! in AVX-512 intrinsics, `batchnorm_simd.rs`); the backward sums put element `i` of each row
//! in lane `i % 16` (`GradSums`). The order depends on nothing but the shape, so results are
//! bitwise identical for every thread count and for every instruction set (the SIMD builds
//! vectorise the same lane arithmetic; no multiply-add is fused). Each call is two task lists
//! ([`run_tasks`]): the reductions, one task per channel, then the element-wise pass, one
//! task per group of rows; above the helpers' work threshold each list is shared with the
//! (awake) helper threads.
//!
//! A fused ReLU is available: the forward pass can write `max(bn(x), 0)`, and the backward
//! pass can take that output and zero the gradient where it is `<= 0` (torch's
//! `threshold_backward`) before back-propagating through the normalisation.

use std::fmt::Debug;
use std::mem::size_of;
use std::ops::{Add, Mul, Sub};

#[path = "batchnorm_simd.rs"]
mod avx512_sums;

use crate::error::{ConvError, Result};
use crate::nn::tasks::{run_tasks, SharedMut};
use crate::simd::compiled::{dispatch, Kernel};
use crate::simd::{active_isa, Isa};

/// Work per input byte of the per-channel reductions, in the units of the helpers' work
/// threshold ([`crate::parallel::HELPERS_WORK_THRESHOLD`], about 8 us of one core at 2^21):
/// the forward statistics (two passes, float64 lanes) of a 32 x 32 x 8 x 8 float32 input take
/// about 18 us on one core, the backward sums about as long. Measured there on 2 threads
/// against 1: the backward pass 33 -> 24 us, the forward pass no faster (21-26 us either way);
/// from 1 MiB of input both gain 1.4-1.7x.
const REDUCE_WORK_PER_BYTE: usize = 16;

/// Work per input byte of the element-wise pass (one pass: about 8 us for the same input).
const ELEMENTWISE_WORK_PER_BYTE: usize = 8;

/// The least number of elements an element-wise task gets when the work is split.
const TASK_ELEMENTS: usize = 1 << 13;

/// A floating-point element batch normalisation computes in (`f32`, `f64`).
pub trait NormFloat:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + 'static
{
    /// Positive zero.
    const ZERO: Self;
    /// The value as an `f64` (exact).
    fn to_f64(self) -> f64;
    /// The `f64` rounded to this type (round to nearest).
    fn from_f64(v: f64) -> Self;
    /// The values as `f32`, when they are.
    fn as_f32(values: &[Self]) -> Option<&[f32]>;
}

impl NormFloat for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn as_f32(values: &[Self]) -> Option<&[f32]> {
        Some(values)
    }
}

impl NormFloat for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
}

/// The validated shape `(N, C, M)` of a batch-normalisation input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormShape {
    batch: usize,
    channels: usize,
    inner: usize,
}

impl NormShape {
    /// `N` samples of `C` channels of `M` values each.
    ///
    /// # Errors
    /// [`ConvError::Value`] for zero channels, [`ConvError::Memory`] when the element count
    /// (or its size in bytes) overflows.
    pub fn new(batch: usize, channels: usize, inner: usize) -> Result<Self> {
        if channels == 0 {
            return Err(ConvError::value(
                "batch normalisation needs at least one channel (dimension 1)",
            ));
        }
        batch
            .checked_mul(channels)
            .and_then(|v| v.checked_mul(inner))
            .filter(|&len| len <= isize::MAX as usize / std::mem::size_of::<f64>())
            .ok_or_else(|| {
                ConvError::Memory(format!(
                    "an input of shape ({batch}, {channels}, {inner}) is too large"
                ))
            })?;
        Ok(NormShape {
            batch,
            channels,
            inner,
        })
    }

    /// `N`, the batch size.
    pub fn batch(self) -> usize {
        self.batch
    }

    /// `C`, the channel count.
    pub fn channels(self) -> usize {
        self.channels
    }

    /// `M`, the values per `(n, c)` row.
    pub fn inner(self) -> usize {
        self.inner
    }

    /// `N * C * M`, the element count.
    pub fn len(self) -> usize {
        self.batch * self.channels * self.inner
    }

    /// Whether the input has no elements.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// `N * M`, the values each channel's statistics are taken over.
    pub fn per_channel(self) -> usize {
        self.batch * self.inner
    }

    /// Channel `c`'s rows of `data` (which holds [`NormShape::len`] elements), batch order.
    fn rows<T>(self, data: &[T], c: usize) -> impl Iterator<Item = &[T]> {
        let (cm, m) = (self.channels * self.inner, self.inner);
        data.chunks_exact(cm.max(1))
            .map(move |sample| &sample[c * m..(c + 1) * m])
    }

    /// Rows per element-wise task: enough to give each task [`TASK_ELEMENTS`] elements.
    fn rows_per_task(self) -> usize {
        let rows = self.batch * self.channels;
        TASK_ELEMENTS
            .div_ceil(self.inner.max(1))
            .clamp(1, rows.max(1))
    }
}

/// Running statistics a training call updates in place:
/// `running = (1 - momentum) running + momentum batch` (unbiased batch variance), in `f64`.
#[derive(Debug)]
pub struct RunningUpdate<'a, T> {
    /// Running mean, one per channel.
    pub mean: &'a mut [T],
    /// Running variance, one per channel.
    pub var: &'a mut [T],
    /// Weight of the batch statistics.
    pub momentum: f64,
}

/// Which statistics normalise the input.
#[derive(Debug)]
pub enum Statistics<'a, T> {
    /// Training: the batch's own mean and biased variance; running statistics, if given, are
    /// updated.
    Batch(Option<RunningUpdate<'a, T>>),
    /// Evaluation: the given running mean and variance.
    Running {
        /// Running mean, one per channel.
        mean: &'a [T],
        /// Running variance, one per channel.
        var: &'a [T],
    },
}

/// The per-channel affine map `y = w xhat + b` (`None`: weight 1, bias 0).
#[derive(Debug, Clone, Copy)]
pub struct Affine<'a, T> {
    /// Weight (gamma), one per channel.
    pub weight: Option<&'a [T]>,
    /// Bias (beta), one per channel.
    pub bias: Option<&'a [T]>,
}

/// Where a forward call writes its results.
#[derive(Debug)]
pub struct ForwardOutputs<'a, T> {
    /// The normalised output, `N * C * M` elements.
    pub output: &'a mut [T],
    /// The mean used per channel (torch's `save_mean`; the running mean in evaluation).
    pub mean: &'a mut [T],
    /// `1 / sqrt(var + eps)` per channel (torch's `save_invstd`; 0 where `var + eps == 0`).
    pub invstd: &'a mut [T],
}

/// Where a backward call writes its results; `None` skips that gradient.
#[derive(Debug)]
pub struct BackwardOutputs<'a, T> {
    /// Gradient with respect to the input, `N * C * M` elements.
    pub grad_input: Option<&'a mut [T]>,
    /// Gradient with respect to the weight, one per channel.
    pub grad_weight: Option<&'a mut [T]>,
    /// Gradient with respect to the bias, one per channel.
    pub grad_bias: Option<&'a mut [T]>,
}

/// What a forward pass saved that its backward pass needs.
#[derive(Debug, Clone, Copy)]
pub struct Saved<'a, T> {
    /// The forward input, `N * C * M` elements.
    pub input: &'a [T],
    /// The forward's per-channel mean ([`ForwardOutputs::mean`]).
    pub mean: &'a [T],
    /// The forward's per-channel inverse standard deviation ([`ForwardOutputs::invstd`]).
    pub invstd: &'a [T],
    /// The weight (`None`: 1).
    pub weight: Option<&'a [T]>,
    /// The fused ReLU's output, when the forward applied one: the gradient is zeroed where
    /// it is `<= 0`.
    pub relu_output: Option<&'a [T]>,
}

/// Batch normalisation of `x` (shape `shape`), optionally followed by a ReLU, into `out`.
///
/// Runs on `threads` threads above the work threshold; the result does not depend on it.
///
/// # Errors
/// [`ConvError::Value`] when a buffer's length does not match `shape` (or `C` for the
/// per-channel ones), or when training on an input with no values per channel.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward<T: NormFloat>(
    x: &[T],
    shape: NormShape,
    affine: Affine<'_, T>,
    stats: Statistics<'_, T>,
    eps: f64,
    relu: bool,
    out: ForwardOutputs<'_, T>,
    threads: usize,
) -> Result<()> {
    forward_with(
        active_isa(),
        x,
        shape,
        affine,
        stats,
        eps,
        relu,
        out,
        threads,
    )
}

/// Per-channel sums of `x` (N, C, inner) into `out` (C), accumulated in `f64` lanes (see
/// [`Sums`]): the bias gradient of a convolution. The order of the additions depends only on
/// the shape, never on `threads`.
///
/// # Errors
/// [`ConvError::Value`] when a length does not match `shape`, or if the pool cannot start.
pub fn channel_sums<T: NormFloat>(
    x: &[T],
    shape: NormShape,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    check_len("input", x.len(), shape.len())?;
    check_len("output", out.len(), shape.channels())?;
    let isa = active_isa();
    per_channel(shape, size_of::<T>(), threads, out, |c| {
        T::from_f64(dispatch(isa, ChannelSum { x, shape, c }))
    })
}

/// [`batch_norm_forward`] with the instruction set given (`isa` must be one this CPU runs).
#[allow(clippy::too_many_arguments)]
fn forward_with<T: NormFloat>(
    isa: Isa,
    x: &[T],
    shape: NormShape,
    affine: Affine<'_, T>,
    stats: Statistics<'_, T>,
    eps: f64,
    relu: bool,
    out: ForwardOutputs<'_, T>,
    threads: usize,
) -> Result<()> {
    let c = shape.channels();
    check_len("input", x.len(), shape.len())?;
    check_len("output", out.output.len(), shape.len())?;
    check_len("mean output", out.mean.len(), c)?;
    check_len("invstd output", out.invstd.len(), c)?;
    check_affine(affine, c)?;
    match &stats {
        Statistics::Batch(running) => {
            if shape.per_channel() == 0 {
                return Err(ConvError::value(
                    "batch statistics need at least one value per channel",
                ));
            }
            if let Some(r) = running {
                check_len("running_mean", r.mean.len(), c)?;
                check_len("running_var", r.var.len(), c)?;
            }
        }
        Statistics::Running { mean, var } => {
            check_len("running_mean", mean.len(), c)?;
            check_len("running_var", var.len(), c)?;
        }
    }
    // Per-channel mean and variance, in f64.
    let moments: Vec<(f64, f64)> = match &stats {
        Statistics::Batch(_) => {
            let mut moments = vec![(0.0, 0.0); c];
            per_channel(shape, size_of::<T>(), threads, &mut moments, |ch| {
                T::as_f32(x)
                    .and_then(|x| avx512_sums::moments(isa, x, shape, ch))
                    .unwrap_or_else(|| dispatch(isa, Moments { x, shape, c: ch }))
            })?;
            moments
        }
        Statistics::Running { mean, var } => mean
            .iter()
            .zip(var.iter())
            .map(|(&m, &v)| (m.to_f64(), v.to_f64()))
            .collect(),
    };
    let mut coef: Vec<Coef<T>> = Vec::with_capacity(c);
    for (ch, &(mean, var)) in moments.iter().enumerate() {
        let invstd = inv_std(var, eps);
        let w = affine.weight.map_or(1.0, |w| w[ch].to_f64());
        coef.push(Coef {
            mean: T::from_f64(mean),
            scale: T::from_f64(invstd * w),
            shift: affine.bias.map_or(T::ZERO, |b| b[ch]),
        });
        out.mean[ch] = T::from_f64(mean);
        out.invstd[ch] = T::from_f64(invstd);
    }
    let output = SharedMut::new(out.output);
    row_groups(shape, size_of::<T>(), threads, |first_row, lo, len| {
        // SAFETY: row groups are disjoint.
        let ys = unsafe { output.slice(lo, len) };
        let k = Normalize {
            x: &x[lo..lo + len],
            out: ys,
            first_row,
            shape,
            coef: &coef,
        };
        if relu {
            dispatch(isa, Relu(k));
        } else {
            dispatch(isa, k);
        }
    })?;
    if let Statistics::Batch(Some(r)) = stats {
        update_running(&moments, shape.per_channel(), r);
    }
    Ok(())
}

/// `running = (1 - momentum) running + momentum batch` for the mean and the unbiased
/// variance (`var * n / (n - 1)`; infinite or NaN for `n = 1`, as in ATen), in `f64`.
fn update_running<T: NormFloat>(moments: &[(f64, f64)], n: usize, r: RunningUpdate<'_, T>) {
    let (mom, n) = (r.momentum, n as f64);
    let unbias = n / (n - 1.0);
    for ((&(mean, var), rm), rv) in moments.iter().zip(r.mean.iter_mut()).zip(r.var.iter_mut()) {
        *rm = T::from_f64(mom * mean + (1.0 - mom) * rm.to_f64());
        *rv = T::from_f64(mom * (var * unbias) + (1.0 - mom) * rv.to_f64());
    }
}

/// The gradients of batch normalisation (and of the fused ReLU, when `saved.relu_output` is
/// given) for `grad_output` (shape `shape`): torch's `native_batch_norm_backward`.
///
/// `training` selects the batch-statistics formula (the mean and variance depend on the
/// input) over the evaluation one (they are constants).
///
/// # Errors
/// [`ConvError::Value`] when a buffer's length does not match `shape` (or `C`).
pub fn batch_norm_backward<T: NormFloat>(
    grad_output: &[T],
    shape: NormShape,
    saved: Saved<'_, T>,
    training: bool,
    out: BackwardOutputs<'_, T>,
    threads: usize,
) -> Result<()> {
    backward_with(
        active_isa(),
        grad_output,
        shape,
        saved,
        training,
        out,
        threads,
    )
}

/// [`batch_norm_backward`] with the instruction set given (`isa` must be one this CPU runs).
fn backward_with<T: NormFloat>(
    isa: Isa,
    grad_output: &[T],
    shape: NormShape,
    saved: Saved<'_, T>,
    training: bool,
    out: BackwardOutputs<'_, T>,
    threads: usize,
) -> Result<()> {
    let c = shape.channels();
    check_len("grad_output", grad_output.len(), shape.len())?;
    check_len("input", saved.input.len(), shape.len())?;
    check_len("mean", saved.mean.len(), c)?;
    check_len("invstd", saved.invstd.len(), c)?;
    check_affine(
        Affine {
            weight: saved.weight,
            bias: None,
        },
        c,
    )?;
    if let Some(y) = saved.relu_output {
        check_len("relu output", y.len(), shape.len())?;
    }
    let BackwardOutputs {
        grad_input,
        grad_weight,
        grad_bias,
    } = out;
    if let Some(gi) = &grad_input {
        check_len("grad_input", gi.len(), shape.len())?;
    }
    if let Some(gw) = &grad_weight {
        check_len("grad_weight", gw.len(), c)?;
    }
    if let Some(gb) = &grad_bias {
        check_len("grad_bias", gb.len(), c)?;
    }
    let (g, x) = (grad_output, saved.input);
    // Per channel: sum(g) and sum((x - mean) g), in f64, g masked by the ReLU.
    let one = |ch: usize| {
        let mean = saved.mean[ch];
        match saved.relu_output {
            Some(y) => dispatch(
                isa,
                GradSums::<T, true> {
                    g,
                    x,
                    y,
                    shape,
                    c: ch,
                    mean,
                },
            ),
            None => dispatch(
                isa,
                GradSums::<T, false> {
                    g,
                    x,
                    y: g,
                    shape,
                    c: ch,
                    mean,
                },
            ),
        }
    };
    let need_sums = training || grad_weight.is_some() || grad_bias.is_some();
    let mut sums = vec![(0.0, 0.0); c];
    if need_sums && !shape.is_empty() {
        per_channel(shape, size_of::<T>(), threads, &mut sums, one)?;
    }
    let count = shape.per_channel() as f64;
    let coef: Vec<GradCoef<T>> = sums
        .iter()
        .enumerate()
        .map(|(ch, &(sum_g, dotp))| {
            let invstd = saved.invstd[ch].to_f64();
            let w = saved.weight.map_or(1.0, |w| w[ch].to_f64());
            let (k, gmean) = if count > 0.0 {
                (dotp * invstd * invstd / count, sum_g / count)
            } else {
                (0.0, 0.0)
            };
            GradCoef {
                mean: saved.mean[ch],
                k: T::from_f64(k),
                gmean: T::from_f64(gmean),
                scale: T::from_f64(invstd * w),
            }
        })
        .collect();
    if let Some(gw) = grad_weight {
        for ((o, &(_, dotp)), &inv) in gw.iter_mut().zip(&sums).zip(saved.invstd) {
            *o = T::from_f64(dotp * inv.to_f64());
        }
    }
    if let Some(gb) = grad_bias {
        for (o, &(sum_g, _)) in gb.iter_mut().zip(&sums) {
            *o = T::from_f64(sum_g);
        }
    }
    let Some(gi) = grad_input else {
        return Ok(());
    };
    let y = saved.relu_output;
    let gi = SharedMut::new(gi);
    row_groups(shape, size_of::<T>(), threads, |first_row, lo, len| {
        let gs = &g[lo..lo + len];
        let xs = &x[lo..lo + len];
        let ys = y.map_or(gs, |y| &y[lo..lo + len]);
        // SAFETY: row groups are disjoint.
        let out = unsafe { gi.slice(lo, len) };
        macro_rules! go {
            ($relu:literal, $train:literal) => {
                dispatch(
                    isa,
                    GradInput::<T, $relu, $train> {
                        g: gs,
                        x: xs,
                        y: ys,
                        out,
                        first_row,
                        shape,
                        coef: &coef,
                    },
                )
            };
        }
        match (y.is_some(), training) {
            (true, true) => go!(true, true),
            (true, false) => go!(true, false),
            (false, true) => go!(false, true),
            (false, false) => go!(false, false),
        }
    })
}

/// `out[c] = one(c)` for every channel: one task per channel, shared with the helper
/// threads when the reductions' work ([`REDUCE_WORK_PER_BYTE`]) calls for it.
fn per_channel<R: Send>(
    shape: NormShape,
    elem_bytes: usize,
    threads: usize,
    out: &mut [R],
    one: impl Fn(usize) -> R + Sync,
) -> Result<()> {
    let work = (shape.len() * elem_bytes).saturating_mul(REDUCE_WORK_PER_BYTE);
    let count = out.len();
    let out = SharedMut::new(out);
    run_tasks(
        count,
        threads,
        work,
        || (),
        |_, c| {
            // SAFETY: each task writes its own channel's element.
            let slot = unsafe { out.slice(c, 1) };
            slot[0] = one(c);
        },
    )
}

/// Runs `task(first_row, start, len)` over groups of whole `(n, c)` rows covering the input
/// (elements `start..start + len`; [`NormShape::rows_per_task`] rows each), shared with the
/// helper threads when the element-wise work ([`ELEMENTWISE_WORK_PER_BYTE`]) calls for it.
fn row_groups(
    shape: NormShape,
    elem_bytes: usize,
    threads: usize,
    task: impl Fn(usize, usize, usize) + Sync,
) -> Result<()> {
    if shape.is_empty() {
        return Ok(());
    }
    let rows = shape.rows_per_task();
    let total_rows = shape.batch() * shape.channels();
    let work = (shape.len() * elem_bytes).saturating_mul(ELEMENTWISE_WORK_PER_BYTE);
    run_tasks(
        total_rows.div_ceil(rows),
        threads,
        work,
        || (),
        |_, i| {
            let first_row = i * rows;
            let end = (first_row + rows).min(total_rows);
            let inner = shape.inner();
            task(first_row, first_row * inner, (end - first_row) * inner)
        },
    )
}
fn check_len(name: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(ConvError::value(format!(
            "{name} should contain {want} elements not {got}"
        )))
    }
}

fn check_affine<T>(affine: Affine<'_, T>, c: usize) -> Result<()> {
    if let Some(w) = affine.weight {
        check_len("weight", w.len(), c)?;
    }
    if let Some(b) = affine.bias {
        check_len("bias", b.len(), c)?;
    }
    Ok(())
}

/// `1 / sqrt(var + eps)`, 0 when `var + eps == 0` (ATen's `InvStd`).
fn inv_std(var: f64, eps: f64) -> f64 {
    let v = var + eps;
    if v == 0.0 {
        0.0
    } else {
        1.0 / v.sqrt()
    }
}

/// A running sum over the rows of a channel, kept in registers: a row is cut into pieces of
/// 32, then at most one of 16, one of 8 and one of 4, then single elements. A piece of 32
/// adds to both halves of 32 lanes (element `i` to lane `i`); a lone piece of 16 adds to the
/// low half in the channel's even rows and to the high half in its odd rows (all rows of a
/// channel have the same length, so rows of 16 elements, a 4x4 plane, alternate); the
/// narrower pieces have lanes of their own. Two halves are two independent chains of
/// additions, so the sum runs at the adder's throughput instead of its latency. Every index
/// is a constant after unrolling (the rows go in pairs, so even the half of a lone piece is),
/// so no accumulator lives in memory (a remainder loop indexing one lane array, or a half
/// chosen at run time, would put them there, and a store-to-load stall on every piece with
/// it). The cut depends only on the row length, so the order of the additions (and the
/// result) depends only on the shape.
struct Sums {
    lo: [f64; 16],
    hi: [f64; 16],
    w8: [f64; 8],
    w4: [f64; 4],
    w1: f64,
}

impl Sums {
    /// The sum of `term` over every element of `rows` (a channel's rows, in order).
    #[inline(always)]
    fn over<'a, T: Copy + 'a>(
        mut rows: impl Iterator<Item = &'a [T]>,
        term: impl Fn(T) -> f64,
    ) -> f64 {
        let mut sums = Sums {
            lo: [0.0; 16],
            hi: [0.0; 16],
            w8: [0.0; 8],
            w4: [0.0; 4],
            w1: 0.0,
        };
        while let Some(even) = rows.next() {
            sums.add_row::<T, false>(even, &term);
            let Some(odd) = rows.next() else { break };
            sums.add_row::<T, true>(odd, &term);
        }
        sums.total()
    }

    /// Adds `term` of every element of `row`; `ODD`: the row's lone piece of 16 (if any)
    /// goes to the high half.
    #[inline(always)]
    fn add_row<T: Copy, const ODD: bool>(&mut self, row: &[T], term: &impl Fn(T) -> f64) {
        let mut rest = row;
        while rest.len() >= 32 {
            rest = add_piece(&mut self.lo, rest, term);
            rest = add_piece(&mut self.hi, rest, term);
        }
        if rest.len() >= 16 {
            rest = add_piece(if ODD { &mut self.hi } else { &mut self.lo }, rest, term);
        }
        if rest.len() >= 8 {
            rest = add_piece(&mut self.w8, rest, term);
        }
        if rest.len() >= 4 {
            rest = add_piece(&mut self.w4, rest, term);
        }
        for &v in rest {
            self.w1 += term(v);
        }
    }

    /// The sum: the halves added lane by lane, each lane set added in a fixed tree, the
    /// widths in a fixed order.
    #[inline(always)]
    fn total(&self) -> f64 {
        tree_sum(pair_sum(&self.lo, &self.hi)) + tree_sum(self.w8) + tree_sum(self.w4) + self.w1
    }
}

/// `lo[j] + hi[j]` for every lane.
#[inline(always)]
fn pair_sum(lo: &[f64; 16], hi: &[f64; 16]) -> [f64; 16] {
    std::array::from_fn(|j| lo[j] + hi[j])
}

/// Adds `term` of the first `W` elements of `row` (at least that long) to the `W` lanes;
/// returns the rest of the row.
#[inline(always)]
fn add_piece<'a, T: Copy, const W: usize>(
    lanes: &mut [f64; W],
    row: &'a [T],
    term: &impl Fn(T) -> f64,
) -> &'a [T] {
    let (piece, rest) = row.split_at(W);
    let piece: &[T; W] = piece.try_into().expect("a piece of W elements");
    for j in 0..W {
        lanes[j] += term(piece[j]);
    }
    rest
}

/// The lanes added pairwise in a fixed tree (`W` a power of two).
#[inline(always)]
fn tree_sum<const W: usize>(mut v: [f64; W]) -> f64 {
    let mut width = W;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            v[j] += v[j + width];
        }
    }
    v[0]
}

// ----------------------------------------------------------------------------------------------
// Kernels: each is a value whose `run` is compiled once per instruction set by `dispatch`.
// ----------------------------------------------------------------------------------------------

/// Channel `c`'s mean and biased variance (two passes, `f64` lanes).
struct Moments<'a, T> {
    x: &'a [T],
    shape: NormShape,
    c: usize,
}

impl<T: NormFloat> Kernel for Moments<'_, T> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run(self) -> (f64, f64) {
        let count = self.shape.per_channel() as f64;
        let sum = Sums::over(self.shape.rows(self.x, self.c), |v| v.to_f64());
        let mean = sum / count;
        let sq = Sums::over(self.shape.rows(self.x, self.c), |v| {
            let d = v.to_f64() - mean;
            d * d
        });
        (mean, sq / count)
    }
}

/// Channel `c`'s sum (`f64` lanes).
struct ChannelSum<'a, T> {
    x: &'a [T],
    shape: NormShape,
    c: usize,
}

impl<T: NormFloat> Kernel for ChannelSum<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        Sums::over(self.shape.rows(self.x, self.c), |v| v.to_f64())
    }
}

/// Per-channel coefficients of the forward map `y = (x - mean) scale + shift`.
#[derive(Debug, Clone, Copy)]
struct Coef<T> {
    mean: T,
    scale: T,
    shift: T,
}

/// Normalises whole `(n, c)` rows: `x` and `out` start at row `first_row`.
struct Normalize<'a, T> {
    x: &'a [T],
    out: &'a mut [T],
    first_row: usize,
    shape: NormShape,
    coef: &'a [Coef<T>],
}

impl<T: NormFloat> Normalize<'_, T> {
    #[inline(always)]
    fn apply<const RELU: bool>(self) {
        let (m, c) = (self.shape.inner(), self.shape.channels());
        let rows = self.x.chunks_exact(m).zip(self.out.chunks_exact_mut(m));
        for (r, (xs, ys)) in rows.enumerate() {
            let k = self.coef[(self.first_row + r) % c];
            for (y, &v) in ys.iter_mut().zip(xs) {
                let t = (v - k.mean) * k.scale + k.shift;
                *y = if RELU && t < T::ZERO { T::ZERO } else { t };
            }
        }
    }
}

impl<T: NormFloat> Kernel for Normalize<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.apply::<false>();
    }
}

/// [`Normalize`] followed by `max(y, 0)` (NaN stays NaN).
struct Relu<'a, T>(Normalize<'a, T>);

impl<T: NormFloat> Kernel for Relu<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.0.apply::<true>();
    }
}

/// The ReLU-masked gradient: 0 where the output is `<= 0` (NaN outputs pass the gradient).
#[inline(always)]
fn masked<T: NormFloat, const RELU: bool>(g: T, y: T) -> T {
    if RELU && y <= T::ZERO {
        T::ZERO
    } else {
        g
    }
}

/// Channel `c`'s `sum(g)` and `sum((x - mean) g)` (`g` masked by `y` when `RELU`).
struct GradSums<'a, T, const RELU: bool> {
    g: &'a [T],
    x: &'a [T],
    y: &'a [T],
    shape: NormShape,
    c: usize,
    mean: T,
}

impl<T: NormFloat, const RELU: bool> Kernel for GradSums<'_, T, RELU> {
    type Output = (f64, f64);
    #[inline(always)]
    fn run(self) -> (f64, f64) {
        let mean = self.mean.to_f64();
        // One lane set of 16 per sum, the row's tail in lanes 0.. (this pair of sums
        // vectorises as it is; `Sums` suits the single sums of the forward pass).
        let mut sg = [0.0f64; 16];
        let mut dp = [0.0f64; 16];
        let rows = self
            .shape
            .rows(self.g, self.c)
            .zip(self.shape.rows(self.x, self.c))
            .zip(self.shape.rows(self.y, self.c));
        for ((gr, xr), yr) in rows {
            let mut gc = gr.chunks_exact(16);
            let mut xc = xr.chunks_exact(16);
            let mut yc = yr.chunks_exact(16);
            for ((g, x), y) in (&mut gc).zip(&mut xc).zip(&mut yc) {
                for j in 0..16.min(g.len()).min(x.len()).min(y.len()) {
                    let gv = masked::<T, RELU>(g[j], y[j]).to_f64();
                    sg[j] += gv;
                    dp[j] += (x[j].to_f64() - mean) * gv;
                }
            }
            let tail = gc
                .remainder()
                .iter()
                .zip(xc.remainder())
                .zip(yc.remainder());
            for (j, ((&g, &x), &y)) in tail.enumerate() {
                let gv = masked::<T, RELU>(g, y).to_f64();
                sg[j] += gv;
                dp[j] += (x.to_f64() - mean) * gv;
            }
        }
        (tree_sum(sg), tree_sum(dp))
    }
}

/// Per-channel coefficients of the input gradient.
#[derive(Debug, Clone, Copy)]
struct GradCoef<T> {
    mean: T,
    /// `sum((x - mean) g) invstd^2 / count`.
    k: T,
    /// `sum(g) / count`.
    gmean: T,
    /// `invstd * w`.
    scale: T,
}

/// The input gradient of whole `(n, c)` rows starting at row `first_row`.
struct GradInput<'a, T, const RELU: bool, const TRAIN: bool> {
    g: &'a [T],
    x: &'a [T],
    y: &'a [T],
    out: &'a mut [T],
    first_row: usize,
    shape: NormShape,
    coef: &'a [GradCoef<T>],
}

impl<T: NormFloat, const RELU: bool, const TRAIN: bool> Kernel for GradInput<'_, T, RELU, TRAIN> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (m, c) = (self.shape.inner(), self.shape.channels());
        let rows = self
            .g
            .chunks_exact(m)
            .zip(self.x.chunks_exact(m))
            .zip(self.y.chunks_exact(m))
            .zip(self.out.chunks_exact_mut(m));
        for (r, (((gs, xs), ys), os)) in rows.enumerate() {
            let k = self.coef[(self.first_row + r) % c];
            for (((o, &g), &x), &y) in os.iter_mut().zip(gs).zip(xs).zip(ys) {
                let g = masked::<T, RELU>(g, y);
                *o = if TRAIN {
                    (g - k.gmean - (x - k.mean) * k.k) * k.scale
                } else {
                    g * k.scale
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::supported_isas;

    fn data(len: usize, seed: u64) -> Vec<f32> {
        let v = crate::test_values::uniform(len, seed, -1.0, 3.0);
        v.into_iter().map(|x| x as f32).collect()
    }

    type Results = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

    /// Training forward + backward (with the fused ReLU when `relu`) on `isa`/`threads`.
    fn run(isa: Isa, shape: NormShape, relu: bool, threads: usize) -> Results {
        let (len, c) = (shape.len(), shape.channels());
        let (x, g, w) = (data(len, 1), data(len, 2), data(c, 3));
        let (mut y, mut mean, mut invstd) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
        let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
        let running = RunningUpdate {
            mean: &mut rm,
            var: &mut rv,
            momentum: 0.1,
        };
        let affine = Affine {
            weight: Some(&w),
            bias: Some(&w),
        };
        let outs = ForwardOutputs {
            output: &mut y,
            mean: &mut mean,
            invstd: &mut invstd,
        };
        let stats = Statistics::Batch(Some(running));
        forward_with(isa, &x, shape, affine, stats, 1e-5, relu, outs, threads).unwrap();
        let (mut gi, mut gw, mut gb) = (vec![0.0; len], vec![0.0; c], vec![0.0; c]);
        let saved = Saved {
            input: &x,
            mean: &mean,
            invstd: &invstd,
            weight: Some(&w),
            relu_output: relu.then_some(&y[..]),
        };
        let outs = BackwardOutputs {
            grad_input: Some(&mut gi),
            grad_weight: Some(&mut gw),
            grad_bias: Some(&mut gb),
        };
        backward_with(isa, &g, shape, saved, true, outs, threads).unwrap();
        (y, mean, invstd, gi, gw, gb)
    }

    /// The AVX-512 statistics against the generic kernel, compared in `f64` before any
    /// rounding to `f32` (which hides the order of the additions: sums of `f32` values in `f64`
    /// are mostly exact), for rows with and without lone pieces of 16.
    #[test]
    fn avx512_statistics_add_in_the_generic_order() {
        if !supported_isas().contains(&Isa::Avx512) {
            return; // the kernel cannot run on this CPU (and `active_isa` never picks it)
        }
        for (n, c, m) in [(7, 3, 16), (5, 2, 48), (3, 2, 64), (3, 5, 80), (2, 2, 37)] {
            let shape = NormShape::new(n, c, m).unwrap();
            let x = data(shape.len(), 1);
            for ch in 0..c {
                let want = dispatch(
                    Isa::Scalar,
                    Moments {
                        x: &x,
                        shape,
                        c: ch,
                    },
                );
                let got = avx512_sums::moments(Isa::Avx512, &x, shape, ch);
                if m % 16 == 0 {
                    assert_eq!(got, Some(want), "{n} {c} {m}");
                } else {
                    assert!(got.is_none());
                }
            }
        }
    }

    #[test]
    fn matches_naive_statistics() {
        let shape = NormShape::new(3, 2, 21).unwrap();
        let (y, mean, invstd, ..) = run(Isa::Scalar, shape, false, 1);
        let x = data(shape.len(), 1);
        for c in 0..2 {
            let vals: Vec<f64> = shape.rows(&x, c).flatten().map(|&v| v as f64).collect();
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let v = vals.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / vals.len() as f64;
            assert!((mean[c] as f64 - m).abs() < 1e-6);
            assert!((invstd[c] as f64 - 1.0 / (v + 1e-5).sqrt()).abs() < 1e-5);
        }
        assert!(y.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn identical_for_every_isa_and_thread_count() {
        // Rows of 16, 48 and 80 have a lone piece of 16 (the halves in turn), 64 only pieces
        // of 32, 37 and 1 narrower pieces (the generic code on every instruction set).
        let shapes = [
            (2, 3, 37),
            (5, 4, 1),
            (40, 8, 4096),
            (7, 3, 16),
            (5, 2, 48),
            (3, 2, 64),
            (3, 5, 80),
        ];
        for (n, c, m) in shapes {
            let shape = NormShape::new(n, c, m).unwrap();
            for relu in [false, true] {
                let want = run(Isa::Scalar, shape, relu, 1);
                for isa in supported_isas() {
                    for threads in [1, 2, 3] {
                        assert_eq!(run(isa, shape, relu, threads), want, "{isa:?} {threads}");
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        assert!(NormShape::new(2, 0, 3).is_err());
        assert!(NormShape::new(usize::MAX, 2, 3).is_err());
        let shape = NormShape::new(2, 2, 3).unwrap();
        let x = vec![0.0f64; 12];
        let (mut y, mut m, mut s) = (vec![0.0; 12], vec![0.0; 2], vec![0.0; 3]);
        let outs = ForwardOutputs {
            output: &mut y,
            mean: &mut m,
            invstd: &mut s,
        };
        let affine = Affine {
            weight: None,
            bias: None,
        };
        let err = batch_norm_forward(
            &x,
            shape,
            affine,
            Statistics::Batch(None),
            1e-5,
            false,
            outs,
            1,
        );
        assert!(matches!(err, Err(ConvError::Value(_))));
        let empty = NormShape::new(0, 2, 3).unwrap();
        let (mut s2, mut y0) = (vec![0.0; 2], vec![]);
        let outs = ForwardOutputs {
            output: &mut y0,
            mean: &mut m,
            invstd: &mut s2,
        };
        let err = batch_norm_forward(
            &[],
            empty,
            affine,
            Statistics::Batch(None),
            1e-5,
            false,
            outs,
            1,
        );
        assert!(err.is_err());
        let saved = Saved {
            input: &x,
            mean: &m,
            invstd: &s,
            weight: None,
            relu_output: None,
        };
        let outs = BackwardOutputs {
            grad_input: None,
            grad_weight: None,
            grad_bias: None,
        };
        assert!(batch_norm_backward(&x, shape, saved, true, outs, 1).is_err());
    }
}

//! The direct N-D correlation driver: geometry → output rows → row kernels on the pool.
//!
//! Arrays are C-contiguous with `batch_ndim` leading batch axes (broadcast between the two
//! inputs) followed by the convolved axes. The output is cut into tiles (one output row, or a
//! fixed-length stretch of a long row); each tile gathers the (input row, kernel row) pairs that
//! reach it and calls the row kernel. Tiles depend only on the shapes, and each element sums its
//! terms in one fixed order, so the result is the same for every thread count.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::geometry::{broadcast_batch, c_strides, checked_size, AxisGeometry, Mode};
use crate::parallel::{pool, PARALLEL_WORK_THRESHOLD};
use crate::simd::{active_isa, HasRowKernel, Isa, RowKernel, RowPair};

/// Outputs per tile along a long last axis: small enough that a 1-D signal of 10^4 samples
/// still splits across threads, large enough that gathering the pairs is negligible.
const COL_TILE: usize = 2048;

/// A borrowed C-contiguous N-D array.
#[derive(Debug, Clone, Copy)]
pub struct ArrayRef<'a, T> {
    /// The elements in C order.
    pub data: &'a [T],
    /// The shape; its product must equal `data.len()`.
    pub shape: &'a [usize],
}

/// How the kernel is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    /// Reverse the kernel along the convolved axes first (convolution instead of correlation).
    pub flip: bool,
    /// Conjugate the kernel first (SciPy's and NumPy's correlate on complex input).
    pub conj: bool,
}

/// A checked plan: per-axis geometry and the broadcast batch shape.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Leading batch axes of the output (broadcast of the two inputs').
    pub batch: Vec<usize>,
    /// Geometry of each convolved axis.
    pub axes: Vec<AxisGeometry>,
}

impl Plan {
    /// Validates the two shapes and turns `mode` into explicit geometry.
    ///
    /// # Errors
    /// [`ConvError::Value`] for rank mismatch, empty or non-broadcastable shapes, or a `valid`
    /// kernel longer than the signal; [`ConvError::Memory`] if the output size overflows.
    pub fn new(x_shape: &[usize], w_shape: &[usize], batch_ndim: usize, mode: Mode) -> Result<Self> {
        if x_shape.len() != w_shape.len() {
            return Err(ConvError::value(
                "in1 and in2 should have the same dimensionality",
            ));
        }
        if batch_ndim >= x_shape.len() {
            return Err(ConvError::value("at least one axis must be convolved"));
        }
        let batch = broadcast_batch(&x_shape[..batch_ndim], &w_shape[..batch_ndim])?;
        let axes = x_shape[batch_ndim..]
            .iter()
            .zip(&w_shape[batch_ndim..])
            .map(|(&n, &k)| AxisGeometry::new(n, k, mode))
            .collect::<Result<Vec<_>>>()?;
        let plan = Plan { batch, axes };
        checked_size(&plan.out_shape())?;
        Ok(plan)
    }

    /// The output shape: batch axes, then each convolved axis's output length.
    pub fn out_shape(&self) -> Vec<usize> {
        let mut shape = self.batch.clone();
        shape.extend(self.axes.iter().map(|a| a.m));
        shape
    }

    /// Multiply-adds of the interior-dominated estimate `out_size * kernel_size`, saturating.
    pub fn work(&self) -> usize {
        let out = self.out_shape().iter().fold(1usize, |a, &d| a.saturating_mul(d));
        let taps = self.axes.iter().fold(1usize, |a, g| a.saturating_mul(g.k));
        out.saturating_mul(taps)
    }
}

/// Correlates (or convolves) `x` with `w` along their trailing axes.
///
/// Returns the C-order output and its shape.
///
/// # Errors
/// See [`Plan::new`]; [`ConvError::Value`] if a buffer's length does not match its shape;
/// [`ConvError::Memory`] if the output cannot be allocated.
pub fn correlate<T: HasRowKernel>(
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    batch_ndim: usize,
    mode: Mode,
    orient: Orientation,
    threads: usize,
) -> Result<(Vec<T>, Vec<usize>)> {
    correlate_on(active_isa(), x, w, batch_ndim, mode, orient, threads)
}

/// [`correlate`] with the row kernels of a chosen instruction set (tests and benchmarks use
/// it to exercise every kernel; an ISA the CPU lacks falls back to the scalar kernel).
///
/// # Errors
/// As [`correlate`].
pub fn correlate_on<T: HasRowKernel>(
    isa: Isa,
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    batch_ndim: usize,
    mode: Mode,
    orient: Orientation,
    threads: usize,
) -> Result<(Vec<T>, Vec<usize>)> {
    for (name, a) in [("in1", &x), ("in2", &w)] {
        if checked_size(a.shape)? != a.data.len() {
            return Err(ConvError::value(format!("{name}: buffer does not match its shape")));
        }
    }
    let plan = Plan::new(x.shape, w.shape, batch_ndim, mode)?;
    let kernel = orient_kernel(w, batch_ndim, orient);
    let out_shape = plan.out_shape();
    let len = checked_size(&out_shape)?;
    let mut out = alloc_output::<T>(len)?;
    let job = Job {
        plan: &plan,
        x,
        w: ArrayRef { data: &kernel, shape: w.shape },
        kernel: T::row_kernel(isa),
    };
    job.run(&mut out.spare_capacity_mut()[..len], threads)?;
    // SAFETY: `run` returned Ok, so every tile ran and each row kernel wrote all the elements
    // of its tile; the tiles partition `0..len`.
    unsafe { out.set_len(len) };
    Ok((out, out_shape))
}

/// An empty output buffer with room for `len` elements, or [`ConvError::Memory`] instead of an
/// abort. It is not zero-filled: the tiles write every element exactly once.
fn alloc_output<T>(len: usize) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| ConvError::Memory(format!("cannot allocate an output of {len} elements")))?;
    Ok(out)
}

/// The kernel as the row kernels use it: flipped along convolved axes and/or conjugated.
fn orient_kernel<'a, T: Element>(w: ArrayRef<'a, T>, batch_ndim: usize, o: Orientation) -> Cow<'a, [T]> {
    if !o.flip && !o.conj {
        return Cow::Borrowed(w.data);
    }
    let conv: usize = w.shape[batch_ndim..].iter().product();
    let mut out: Vec<T> = Vec::with_capacity(w.data.len());
    for block in w.data.chunks(conv.max(1)) {
        if o.flip {
            // Reversing a C-order block reverses every one of its axes at once.
            out.extend(block.iter().rev());
        } else {
            out.extend_from_slice(block);
        }
    }
    if o.conj {
        out.iter_mut().for_each(|v| *v = v.conj());
    }
    Cow::Owned(out)
}

/// Everything a tile needs, shared by all threads.
struct Job<'a, T> {
    plan: &'a Plan,
    x: ArrayRef<'a, T>,
    w: ArrayRef<'a, T>,
    kernel: RowKernel<T>,
}

impl<T: HasRowKernel> Job<'_, T> {
    fn run(&self, out: &mut [MaybeUninit<T>], threads: usize) -> Result<()> {
        let row_len = self.plan.axes.last().map_or(1, |g| g.m);
        if out.is_empty() {
            return Ok(());
        }
        if threads <= 1 || self.plan.work() < PARALLEL_WORK_THRESHOLD {
            for (r, row) in out.chunks_mut(row_len).enumerate() {
                for (c, seg) in row.chunks_mut(COL_TILE).enumerate() {
                    self.tile(r, c * COL_TILE, seg);
                }
            }
            return Ok(());
        }
        pool(threads)?.install(|| {
            out.par_chunks_mut(row_len).enumerate().for_each(|(r, row)| {
                row.par_chunks_mut(COL_TILE)
                    .enumerate()
                    .for_each(|(c, seg)| self.tile(r, c * COL_TILE, seg));
            });
        });
        Ok(())
    }

    /// Computes output row `r`, columns `i0..i0 + seg.len()`.
    fn tile(&self, r: usize, i0: usize, seg: &mut [MaybeUninit<T>]) {
        let pairs = self.pairs(r);
        let last = self.plan.axes.last().copied();
        if let Some(g) = last {
            (self.kernel)(&pairs, &g, i0, seg);
        }
    }

    /// The (input row, kernel row) pairs that reach output row `r`, in lexicographic tap order.
    fn pairs(&self, r: usize) -> Vec<RowPair<'_, T>> {
        let plan = self.plan;
        let nd = plan.axes.len();
        let nb = plan.batch.len();
        let lead = &plan.axes[..nd - 1];
        // Decompose the row index into batch indices and leading output indices.
        let mut idx = vec![0usize; nb + nd - 1];
        let mut rem = r;
        let dims: Vec<usize> = plan.batch.iter().copied().chain(lead.iter().map(|g| g.m)).collect();
        for d in (0..dims.len()).rev() {
            idx[d] = rem % dims[d];
            rem /= dims[d];
        }
        let xs = c_strides(self.x.shape);
        let ws = c_strides(self.w.shape);
        let (mut xoff, mut woff) = (0usize, 0usize);
        for d in 0..nb {
            if self.x.shape[d] != 1 {
                xoff += idx[d] * xs[d];
            }
            if self.w.shape[d] != 1 {
                woff += idx[d] * ws[d];
            }
        }
        let ranges: Vec<(usize, usize)> = lead.iter().zip(&idx[nb..]).map(|(g, &i)| g.taps(i)).collect();
        let g_last = plan.axes[nd - 1];
        let mut pairs = Vec::new();
        if ranges.iter().any(|&(a, b)| a >= b) {
            return pairs;
        }
        let mut taps: Vec<usize> = ranges.iter().map(|&(a, _)| a).collect();
        loop {
            let (mut xo, mut wo) = (xoff, woff);
            for (d, (&j, g)) in taps.iter().zip(lead).enumerate() {
                let xi = (g.start + (idx[nb + d] + j) as isize) as usize;
                xo += xi * xs[nb + d];
                wo += j * ws[nb + d];
            }
            pairs.push((
                &self.x.data[xo..xo + g_last.n],
                &self.w.data[wo..wo + g_last.k],
            ));
            // Advance the odometer over the leading taps.
            let mut d = taps.len();
            loop {
                if d == 0 {
                    return pairs;
                }
                d -= 1;
                taps[d] += 1;
                if taps[d] < ranges[d].1 {
                    break;
                }
                taps[d] = ranges[d].0;
            }
        }
    }
}

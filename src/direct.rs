//! The direct N-D correlation driver: geometry → output rows → row kernels on the pool.
//!
//! Arrays are C-contiguous with `batch_ndim` leading batch axes (broadcast between the two
//! inputs) followed by the convolved axes. The output is cut into tiles (one output row, or a
//! fixed-length stretch of a long row); each tile gathers the (input row, kernel row) pairs that
//! reach it and calls the row kernel. Tiles depend only on the shapes, and each element sums its
//! terms in one fixed order, so the result is the same for every thread count.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::geometry::{broadcast_batch, checked_size, AxisGeometry, Mode};
use crate::handoff::{Balance, Shared, HANDOFF};
use crate::interrupt::{self, Cancel};
use crate::parallel::{
    share_with_helpers, warm_helpers, SharedMut, TwoEndedClaims, HELPERS_WORK_THRESHOLD,
};
use crate::rows::RowPairs;
use crate::simd::{active_isa, HasRowKernel, Isa, RowKernel};

/// Outputs per tile when threads share the work: small enough that a 1-D signal of 10^4
/// samples still splits across threads, large enough that taking a tile is negligible.
const COL_TILE: usize = 2048;

/// Longest stretch of one row that a single-threaded call computes between two checks for
/// cancellation (a multiple of 64 elements, a whole number of SIMD blocks).
const SERIAL_STRETCH: usize = 1 << 16;

/// A borrowed C-contiguous N-D array.
#[derive(Debug)]
pub struct ArrayRef<'a, T> {
    /// The elements in C order.
    pub data: &'a [T],
    /// The shape; its product must equal `data.len()`.
    pub shape: &'a [usize],
}

impl<T> Clone for ArrayRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ArrayRef<'_, T> {}

/// How the kernel is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    /// Reverse the kernel along the convolved axes first (convolution instead of correlation).
    pub flip: bool,
    /// Conjugate the kernel first (SciPy's and NumPy's correlate on complex input).
    pub conj: bool,
}

/// A checked plan: per-axis geometry and the broadcast batch shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The mode the geometry was made for.
    pub mode: Mode,
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
    pub fn new(
        x_shape: &[usize],
        w_shape: &[usize],
        batch_ndim: usize,
        mode: Mode,
    ) -> Result<Self> {
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
        let plan = Plan { mode, batch, axes };
        checked_size(&plan.out_shape())?;
        Ok(plan)
    }

    /// The output shape: batch axes, then each convolved axis's output length.
    pub fn out_shape(&self) -> Vec<usize> {
        let mut shape = self.batch.clone();
        shape.extend(self.axes.iter().map(|a| a.m));
        shape
    }

    /// The number of output elements (checked against overflow when the plan was made).
    pub fn out_len(&self) -> usize {
        let batch = self.batch.iter().fold(1usize, |a, &d| a.saturating_mul(d));
        self.axes.iter().fold(batch, |a, g| a.saturating_mul(g.m))
    }

    /// True when this plan was made for inputs of these shapes (no allocation; the check every
    /// entry point repeats before running a plan it was handed).
    pub fn fits(&self, x_shape: &[usize], w_shape: &[usize]) -> bool {
        let nb = self.batch.len();
        x_shape.len() == w_shape.len()
            && x_shape.len() == nb + self.axes.len()
            && self
                .batch
                .iter()
                .zip(x_shape.iter().zip(w_shape))
                .all(|(&b, (&p, &q))| {
                    (p == b || p == 1) && (q == b || q == 1) && (p == b || q == b)
                })
            && self
                .axes
                .iter()
                .zip(&x_shape[nb..])
                .zip(&w_shape[nb..])
                .all(|((g, &n), &k)| {
                    AxisGeometry::new(n, k, self.mode).is_ok_and(|want| want == *g)
                })
    }

    /// Multiply-adds, estimated as `out_size * prod(min(n, k))` (an output never sums more
    /// than `min(n, k)` taps per axis), saturating.
    pub fn work(&self) -> usize {
        let out = self.out_len();
        let taps = self
            .axes
            .iter()
            .fold(1usize, |a, g| a.saturating_mul(g.k.min(g.n)));
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
    let plan = Plan::new(x.shape, w.shape, batch_ndim, mode)?;
    let out_shape = plan.out_shape();
    let len = checked_size(&out_shape)?;
    let mut out = alloc_output::<T>(len)?;
    correlate_into(
        isa,
        &plan,
        x,
        w,
        orient,
        threads,
        &mut out.spare_capacity_mut()[..len],
    )?;
    // SAFETY: `correlate_into` returned Ok, so every element of `out[..len]` was written.
    unsafe { out.set_len(len) };
    Ok((out, out_shape))
}

/// Computes the correlation that `plan` describes into `out` (C order, `plan.out_shape()`).
///
/// `out` may be uninitialised: on `Ok` every element has been written.
///
/// # Errors
/// [`ConvError::Value`] if a buffer does not match its shape or `plan` does not match the
/// shapes; thread-pool errors.
pub fn correlate_into<T: HasRowKernel>(
    isa: Isa,
    plan: &Plan,
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<T>],
) -> Result<()> {
    for (name, a) in [("in1", &x), ("in2", &w)] {
        if checked_size(a.shape)? != a.data.len() {
            return Err(ConvError::value(format!(
                "{name}: buffer does not match its shape"
            )));
        }
    }
    let batch_ndim = plan.batch.len();
    if !plan.fits(x.shape, w.shape) {
        return Err(ConvError::value("the plan does not match the input shapes"));
    }
    if out.len() != plan.out_len() {
        return Err(ConvError::value(
            "the output buffer does not match the output shape",
        ));
    }
    let kernel = orient_kernel(w, batch_ndim, orient);
    let job = Job {
        plan,
        x,
        w: ArrayRef {
            data: &kernel,
            shape: w.shape,
        },
        kernel: T::row_kernel(isa),
        cancel: interrupt::current(),
    };
    job.run(out, threads)
}

/// Kernels up to this many taps are oriented on the stack by [`correlate_1d_small`].
const STACK_TAPS: usize = 64;

/// One 1-D correlation (or convolution) of `x` with `w` into `out` (the mode's output
/// length), for calls too small for the N-D driver's per-call allocations (plan, strides, row
/// pairs, the oriented kernel's copy; with the bindings' borrow registration and views, they
/// made a small call's fixed cost 0.95 us instead of 0.37). The same row kernel over the same
/// single row: bitwise the driver's result.
///
/// With `threads` > 1 and at least [`SPLIT_WORK`], the row is computed in two parts, the
/// second by a helper thread that is already spinning ([`HANDOFF`]; with none spinning, the
/// calling thread computes both, and starts the helpers spinning for the next call). Each
/// output is computed alone, so the split does not change a bit.
///
/// `out` may be uninitialised: on `Ok` every element has been written.
///
/// # Errors
/// As [`crate::geometry::AxisGeometry::new`]; [`ConvError::Value`] if `out` has the wrong
/// length.
pub fn correlate_1d_small<T: HasRowKernel>(
    isa: Isa,
    x: &[T],
    w: &[T],
    mode: Mode,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<T>],
) -> Result<()> {
    let g = AxisGeometry::new(x.len(), w.len(), mode)?;
    if out.len() != g.m {
        return Err(ConvError::value(
            "the output buffer does not match the output shape",
        ));
    }
    let mut stack = [T::ZERO; STACK_TAPS];
    let mut heap = Vec::new();
    let taps: &[T] = if orient.flip || orient.conj {
        let buf = if w.len() <= STACK_TAPS {
            &mut stack[..w.len()]
        } else {
            heap.resize(w.len(), T::ZERO);
            &mut heap[..]
        };
        orient_block(w, orient, buf);
        buf
    } else {
        w
    };
    let kernel = T::row_kernel(isa);
    // Outputs `i0..i0 + seg.len()` of the row.
    let row = |i0: usize, seg: &mut [MaybeUninit<T>]| kernel(&[(x, taps)], &g, i0, seg);
    let work = g.m.saturating_mul(g.k.min(g.n));
    if threads <= 1 || work.saturating_mul(size_of::<T>()) < SPLIT_WORK {
        row(0, out);
        return Ok(());
    }
    // Two parts, cut where the last calls balanced (`SMALL_SPLIT`): each participant's is
    // about the same from call to call, so its output lines stay in its core's cache. More,
    // smaller pieces claimed one by one cost more (the claims' cache line moves between the
    // cores at each one) than they gained in balance: 1e4 * 3 float64 on 2 threads, 1.22 us
    // in halves against 1.7 us in pieces of 1024 outputs (1.8 us on one thread).
    let cut = SMALL_SPLIT.cut(g.m, CUT_ALIGN);
    let shared = SharedMut::new(out);
    // SAFETY (both parts): disjoint parts of `out`, and `share` runs each exactly once.
    let first = || row(0, unsafe { shared.slice(0, cut) });
    let second = || row(cut, unsafe { shared.slice(cut, g.m - cut) });
    let outcome = HANDOFF.share(first, &second);
    SMALL_SPLIT.learn(outcome);
    if outcome == Shared::NoHelper {
        // The result is complete; a pool that cannot start only means no helper next time.
        let _ = warm_helpers(threads);
    }
    Ok(())
}

/// Where [`correlate_1d_small`] cuts its row between the caller and the helper.
pub(crate) static SMALL_SPLIT: Balance = Balance::new();

/// From this much work (multiply-adds times element bytes) up, [`correlate_1d_small`] on more
/// than one thread shares the row with a spinning helper. The split costs about 0.3 us (the
/// helper sees the job 0.2 us after it is posted, and the caller then waits for its part).
/// Measured on 2 threads against 1, 1e4 to 6e3 * 3 float64 from the Rust side: 2,000 outputs
/// (48k units) 0.38 -> 0.46 us (slower), 3,000 0.59 -> 0.56, 5,000 (120k) 0.94 -> 0.90,
/// 6,000 (144k) 1.12 -> 0.88, 10,000 1.8 -> 1.2-1.4; from Python, 2e4 * 3 float32 (240k)
/// 2.7 -> 2.2 us, 2e3 * 11 float64 (176k) 2.0 -> 1.8 us.
pub const SPLIT_WORK: usize = 1 << 17;

/// The parts of a split call meet at a multiple of this many outputs (whole blocks of the
/// short-kernel loop, and of cache lines when the output is aligned).
const CUT_ALIGN: usize = 64;

/// An empty output buffer with room for `len` elements, or [`ConvError::Memory`] instead of an
/// abort. It is not zero-filled: the tiles write every element exactly once.
fn alloc_output<T>(len: usize) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| ConvError::Memory(format!("cannot allocate an output of {len} elements")))?;
    Ok(out)
}

/// The kernel as the row kernels use it: flipped along convolved axes and/or conjugated
/// (borrowed unchanged when neither).
pub fn orient_kernel<'a, T: Element>(
    w: ArrayRef<'a, T>,
    batch_ndim: usize,
    o: Orientation,
) -> Cow<'a, [T]> {
    if !o.flip && !o.conj {
        return Cow::Borrowed(w.data);
    }
    let conv: usize = w.shape[batch_ndim..].iter().product();
    let mut out = vec![T::ZERO; w.data.len()];
    for (block, dst) in w.data.chunks(conv.max(1)).zip(out.chunks_mut(conv.max(1))) {
        orient_block(block, o, dst);
    }
    Cow::Owned(out)
}

/// Writes one kernel block (the convolved axes of one batch entry, C order) into `dst` as the
/// row kernels use it: reversed when `o.flip` (reversing a C-order block reverses every one
/// of its axes at once), then conjugated when `o.conj`.
fn orient_block<T: Element>(block: &[T], o: Orientation, dst: &mut [T]) {
    if o.flip {
        dst.iter_mut()
            .zip(block.iter().rev())
            .for_each(|(d, &v)| *d = v);
    } else {
        dst.copy_from_slice(block);
    }
    if o.conj {
        dst.iter_mut().for_each(|v| *v = v.conj());
    }
}

/// Everything a tile needs, shared by all threads.
struct Job<'a, T> {
    plan: &'a Plan,
    /// Checked between tiles (and between stretches of rows on one thread): Ctrl-C.
    cancel: Cancel,
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
        let work = self.plan.work().saturating_mul(std::mem::size_of::<T>());
        if threads <= 1 || work < HELPERS_WORK_THRESHOLD {
            let mut rows = RowPairs::new(self.plan, self.x, self.w);
            // Long rows go in stretches so that a cancellation is seen within one stretch;
            // each output element is computed alone, so the split does not change a bit.
            let stretch = row_len.min(SERIAL_STRETCH);
            let stretches_per_check = (COL_TILE / stretch).max(1);
            for (r, row) in out.chunks_mut(row_len).enumerate() {
                for (s, seg) in row.chunks_mut(stretch).enumerate() {
                    if (r * row_len.div_ceil(stretch) + s).is_multiple_of(stretches_per_check) {
                        self.cancel.check()?;
                    }
                    self.row(&mut rows, r, s * stretch, seg);
                }
            }
            return self.cancel.check();
        }
        // Every participant, the calling thread included, takes tiles until none is left (the
        // caller from the front, helpers from the back: see `TwoEndedClaims`); the caller
        // starts at once, and a helper that wakes late finds less (or nothing) to do.
        let grid = TileGrid::new(out.len(), row_len);
        let claims = TwoEndedClaims::new(grid.count)
            .ok_or_else(|| ConvError::Memory("more than 2^32 output tiles".into()))?;
        let out = SharedMut::new(out);
        let drain = |participant: usize| {
            let mut rows = RowPairs::new(self.plan, self.x, self.w);
            while let Some(items) = claims.claim(participant, 1) {
                if self.cancel.is_cancelled() {
                    break;
                }
                for i in items {
                    let (row, col, start, len) = grid.tile(i);
                    // SAFETY: tiles are disjoint, and each is claimed once.
                    let data = unsafe { out.slice(start, len) };
                    for (r, i0, seg) in (Tile { row, col, data }).rows(row_len) {
                        self.row(&mut rows, r, i0, seg);
                    }
                }
            }
        };
        share_with_helpers(threads, drain)?;
        self.cancel.check()
    }

    /// Computes output row `r`, columns `i0..i0 + seg.len()`.
    fn row(&self, rows: &mut RowPairs<'_, T>, r: usize, i0: usize, seg: &mut [MaybeUninit<T>]) {
        let g = rows.last_axis();
        (self.kernel)(rows.pairs(r), &g, i0, seg);
    }
}

/// A stretch of the output that one participant computes at a time.
struct Tile<'o, T> {
    /// Index of the first row the stretch belongs to.
    row: usize,
    /// Column of the stretch's first element within that row.
    col: usize,
    /// The elements: either whole rows, or a part of one row.
    data: &'o mut [MaybeUninit<T>],
}

impl<'o, T> Tile<'o, T> {
    /// `(row, first column, elements)` for each row this tile touches.
    fn rows(
        self,
        row_len: usize,
    ) -> impl Iterator<Item = (usize, usize, &'o mut [MaybeUninit<T>])> {
        let (row, col) = (self.row, self.col);
        let split = col > 0 || self.data.len() < row_len;
        let chunk = if split {
            self.data.len().max(1)
        } else {
            row_len
        };
        self.data
            .chunks_mut(chunk)
            .enumerate()
            .map(move |(i, seg)| {
                if split {
                    (row, col, seg)
                } else {
                    (row + i, 0, seg)
                }
            })
    }
}

/// How the output is cut into tiles of about [`COL_TILE`] elements: long rows into equal
/// parts (a multiple of 64 elements, a whole number of SIMD blocks), short rows into groups of
/// rows. Tile `i` is computed from `i`, so a participant claims tiles by index alone.
struct TileGrid {
    /// Elements of the output and of one row.
    len: usize,
    row_len: usize,
    /// Elements of a part of a long row (0 when rows are grouped instead).
    part: usize,
    /// Parts per long row, or rows per group.
    per: usize,
    /// Tiles in all.
    count: usize,
}

impl TileGrid {
    fn new(len: usize, row_len: usize) -> Self {
        let row_len = row_len.max(1);
        if row_len >= 2 * COL_TILE {
            let parts = row_len.div_ceil(COL_TILE);
            let part = row_len.div_ceil(parts).next_multiple_of(64);
            let per = row_len.div_ceil(part);
            let count = len / row_len * per;
            TileGrid {
                len,
                row_len,
                part,
                per,
                count,
            }
        } else {
            let per = (COL_TILE / row_len).max(1);
            let count = len.div_ceil(per * row_len);
            TileGrid {
                len,
                row_len,
                part: 0,
                per,
                count,
            }
        }
    }

    /// Tile `i`: `(first row, column of its first element, start, length)` in the output.
    fn tile(&self, i: usize) -> (usize, usize, usize, usize) {
        if self.part > 0 {
            let (row, p) = (i / self.per, i % self.per);
            let col = p * self.part;
            let len = self.part.min(self.row_len - col);
            (row, col, row * self.row_len + col, len)
        } else {
            let start = i * self.per * self.row_len;
            let len = (self.per * self.row_len).min(self.len - start);
            (i * self.per, 0, start, len)
        }
    }
}

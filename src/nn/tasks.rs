//! Running a list of independent tasks on the calling thread and the pool, and cutting the
//! column matrix into tiles.
//!
//! Tile sizes depend only on the shapes, never on the thread count: each task computes the
//! same sequence of operations whoever runs it, so results are bitwise identical for every
//! thread count.

use crate::error::Result;
use crate::interrupt;
use crate::parallel::{share_with_helpers, TwoEndedClaims, HELPERS_WORK_THRESHOLD};

/// Claims of tasks each thread makes on average (more claims balance the threads' loads
/// better; each claim is an atomic operation on a cache line the cores share).
const CLAIMS_PER_THREAD: usize = 16;

/// Most tasks claimed at once.
const MAX_GRAIN: usize = 64;

/// The most bytes of column matrix one participant materialises at a time.
pub const COLUMN_BUDGET_BYTES: usize = 1 << 20;

/// The fewest output positions a column tile covers (when the rows allow it), so that the
/// matrix products stay wide enough to run at full speed.
pub const MIN_TILE_POSITIONS: usize = 128;

/// Runs `task(scratch, i)` for every `i` in `0..count`: on the calling thread alone when
/// `threads <= 1` or `work` (multiply-adds times element bytes) is below
/// [`HELPERS_WORK_THRESHOLD`], otherwise on the calling thread and `threads - 1` helpers that
/// take tasks in turn. Each participant creates its scratch with `init` before its first task.
///
/// # Errors
/// [`crate::error::ConvError::Value`] if the pool's threads cannot be started;
/// [`crate::error::ConvError::Interrupted`] when the call was cancelled (the output is then
/// incomplete).
pub fn run_tasks<S, I, F>(count: usize, threads: usize, work: usize, init: I, task: F) -> Result<()>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize) + Sync,
{
    let threads = threads.min(count);
    // Checked between tasks: a Ctrl-C stops the call within one task.
    let cancel = interrupt::current();
    // More than 2^32 tasks (no call comes near this) run on one thread too.
    let shared = threads > 1 && work >= HELPERS_WORK_THRESHOLD;
    let Some(claims) = TwoEndedClaims::new(count).filter(|_| shared) else {
        let mut scratch = init();
        for i in 0..count {
            cancel.check()?;
            task(&mut scratch, i);
        }
        return Ok(());
    };
    // Tasks are claimed `grain` at a time: with a claim per task, thousands of
    // microsecond tasks (small planes) spent a good part of their time passing the counter's
    // cache line between the cores. Which thread runs a task never changes what it computes.
    let grain = (count / (threads * CLAIMS_PER_THREAD)).clamp(1, MAX_GRAIN);
    let drain = |participant: usize| {
        let mut scratch = None;
        while let Some(items) = claims.claim(participant, grain) {
            if cancel.is_cancelled() {
                break;
            }
            for i in items {
                task(scratch.get_or_insert_with(&init), i);
            }
        }
    };
    share_with_helpers(threads, drain)?;
    cancel.check()
}

/// A mutable buffer shared by tasks that write disjoint parts of it.
#[derive(Debug)]
pub struct SharedMut<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: tasks only touch disjoint elements (each user's contract); T itself crosses threads.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// Shares `buf` for the lifetime of the borrow.
    pub fn new(buf: &mut [T]) -> Self {
        SharedMut {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        }
    }

    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// No other live reference may touch these elements, and the buffer must outlive the
    /// returned slice.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start <= self.len && len <= self.len - start);
        // SAFETY: in bounds (checked); exclusivity is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of element `start`, for strided writes.
    pub fn ptr_at(&self, start: usize) -> *mut T {
        assert!(start <= self.len);
        self.ptr.wrapping_add(start)
    }
}

/// How a column matrix of `rows` x `positions` is cut: chunks of `rows_per_tile` rows times
/// `positions_per_tile` positions, within [`COLUMN_BUDGET_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnTiles {
    /// Rows of one tile.
    pub rows_per_tile: usize,
    /// Output positions of one tile.
    pub positions_per_tile: usize,
}

impl ColumnTiles {
    /// Tiles for a column matrix of `rows` x `positions` elements of `elem_bytes` bytes.
    pub fn new(rows: usize, positions: usize, elem_bytes: usize) -> Self {
        let budget = (COLUMN_BUDGET_BYTES / elem_bytes).max(1);
        let rows = rows.max(1);
        let positions = positions.max(1);
        let positions_per_tile = (budget / rows).max(MIN_TILE_POSITIONS).min(positions);
        let rows_per_tile = (budget / positions_per_tile).clamp(1, rows);
        ColumnTiles {
            rows_per_tile,
            positions_per_tile,
        }
    }

    /// Elements of one tile's scratch buffer.
    pub fn scratch_len(&self) -> usize {
        self.rows_per_tile * self.positions_per_tile
    }
}

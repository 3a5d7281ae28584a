//! Running a list of independent tasks on the calling thread and the pool, and cutting the
//! column matrix into tiles.
//!
//! Tile sizes depend only on the shapes, never on the thread count: each task computes the
//! same sequence of operations whoever runs it, so results are bitwise identical for every
//! thread count.

use crate::error::Result;
use crate::interrupt;
pub use crate::parallel::SharedMut;
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

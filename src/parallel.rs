//! The thread pool: one of our own, sized by `set_num_threads`, rebuilt after `fork`.
//!
//! Pools are cached per thread count (a call's `workers=` picks one without rebuilding the
//! default) and tagged with the process id that built them: a child created by `fork` has the
//! pool's memory but none of its threads, so a pid mismatch rebuilds it.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{ConvError, Result};

/// Below this much work (multiply-adds times element bytes) a call runs on the calling thread
/// alone. A call that uses the pool waits, at its end, for the helper thread to have woken up
/// and run its (possibly empty) share, which costs 10-20 us on the 2-core development VM; 2^24
/// units are 60-70 us of one core's AVX-512 work (float32 at ~60 GMAC/s, float64 at ~32). With
/// the earlier 2^21 the side-by-side bench (`python -m fastconv bench --grid direct`) showed
/// 2-thread calls of 10-30 us slower than one thread (n=1e5, k=3 float64: 33 us vs 15 us).
pub const PARALLEL_WORK_THRESHOLD: usize = 1 << 24;

/// [`PARALLEL_WORK_THRESHOLD`] for work shared through [`share_with_helpers`] (the direct
/// convolution's tiles and the convolution layers' task lists): the calling thread works
/// too, and the helpers stay awake between calls that come back to back (a training step, a
/// loop of convolutions), so a split costs a few microseconds, not a wake-up. Measured at
/// 2^21 units against 2^24, 2 threads: the digits CNN's training epoch went from about 80 to
/// 70 ms (its smallest layers use both cores); direct 512x512 * 3x3 float32 from 155 to
/// 100 us, 1e5 * 11 float32 from 37 to 26 us, 1e4 * 101 float64 from 62 to 55 us.
pub const HELPERS_WORK_THRESHOLD: usize = PARALLEL_WORK_THRESHOLD / 8;

/// Thread count used when a call names none; 0 means "not set yet: use all cores".
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

struct PoolCache {
    pid: u32,
    pools: HashMap<usize, Arc<ThreadPool>>,
}

fn cache() -> &'static Mutex<PoolCache> {
    static CACHE: OnceLock<Mutex<PoolCache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(PoolCache {
            pid: std::process::id(),
            pools: HashMap::new(),
        })
    })
}

/// The number of logical cores this process may use, read once (the query reads cgroup
/// files and costs tens of microseconds, too much for every call).
pub fn available_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The default thread count for calls that do not pass `workers`.
pub fn num_threads() -> usize {
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => available_cores(),
        n => n,
    }
}

/// Sets the default thread count.
///
/// # Errors
/// [`ConvError::Value`] when `n` is zero.
pub fn set_num_threads(n: usize) -> Result<()> {
    if n == 0 {
        return Err(ConvError::value("the number of threads must be at least 1"));
    }
    DEFAULT_THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

/// Resolves a call's `workers` argument: `None` is the default count.
///
/// # Errors
/// [`ConvError::Value`] for zero.
pub fn resolve_workers(workers: Option<usize>) -> Result<usize> {
    match workers {
        None => Ok(num_threads()),
        Some(0) => Err(ConvError::value("workers must be a positive integer")),
        Some(n) => Ok(n),
    }
}

/// The pool that helps the calling thread when a call runs on `threads` threads: it has
/// `threads - 1` workers (at least one), since the caller itself takes a share of the work.
///
/// # Errors
/// [`ConvError::Value`] if the operating system refuses to start the threads.
pub fn helper_pool(threads: usize) -> Result<Arc<ThreadPool>> {
    pool(threads.saturating_sub(1).max(1))
}

/// The pool of `threads` worker threads, built on first use in this process.
///
/// # Errors
/// [`ConvError::Value`] if the operating system refuses to start the threads.
pub fn pool(threads: usize) -> Result<Arc<ThreadPool>> {
    let mut guard = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // Forked child: the parent's worker threads do not exist here. Leak the stale pools
        // (dropping them would try to join threads that are gone) and start afresh.
        let stale = std::mem::take(&mut guard.pools);
        std::mem::forget(stale);
        guard.pid = pid;
    }
    if let Some(p) = guard.pools.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let built = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("fastconv-{i}"))
        .build()
        .map_err(|e| ConvError::value(format!("could not start {threads} threads: {e}")))?;
    let built = Arc::new(built);
    guard.pools.insert(threads, Arc::clone(&built));
    Ok(built)
}

/// How long a helper thread keeps looking for the next call's work after its last task
/// before rayon may put it to sleep. Waking a sleeping thread costs 10-50 us on the 2-vCPU
/// development VM (a futex wake of an idle vCPU), more than many whole calls; the training step
/// of a small CNN makes a parallel call every 20-200 us. OpenMP runtimes (PyTorch's) spin in the
/// same way between parallel regions.
const WARM_SPIN: Duration = Duration::from_micros(500);

thread_local! {
    /// Whether this pool thread is already inside a [`keep_warm`] spin (a second spin job that
    /// it picks up while spinning returns at once instead of nesting).
    static SPINNING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `drain` on the calling thread and on `threads - 1` helper threads at once (each
/// participant takes work from a queue that `drain` shares), and returns when every helper
/// has returned. Afterwards the helpers spin for [`WARM_SPIN`], running any new job at once
/// (see [`keep_warm`]); which participant runs which part never changes a result.
///
/// # Errors
/// [`ConvError::Value`] if the pool's threads cannot be started.
pub fn share_with_helpers(threads: usize, drain: impl Fn() + Sync) -> Result<()> {
    let helpers = helper_pool(threads)?;
    helpers.in_place_scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| drain());
        }
        drain();
    });
    keep_warm(&helpers);
    Ok(())
}

/// Gives each of `pool`'s threads a job that spins, running the pool's new jobs as they come
/// (`rayon::yield_now`), until none has come for [`WARM_SPIN`]. A call made meanwhile finds its
/// helpers awake; a spin job that a spinning thread picks up returns at once.
fn keep_warm(pool: &ThreadPool) {
    for _ in 0..pool.current_num_threads() {
        pool.spawn(|| {
            if SPINNING.with(|s| s.replace(true)) {
                return;
            }
            let mut last_job = Instant::now();
            loop {
                if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    last_job = Instant::now();
                } else if last_job.elapsed() > WARM_SPIN {
                    break;
                } else {
                    for _ in 0..32 {
                        std::hint::spin_loop();
                    }
                }
            }
            SPINNING.with(|s| s.set(false));
        });
    }
}

/// `rayon::join(a, b)` when `parallel` (inside a pool's `install`, so the pool's threads run
/// them), else `a` then `b` on the calling thread: outside any pool a bare `rayon::join` would
/// use rayon's global pool, more threads than a one-thread call may take.
pub fn join_if<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if parallel {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_resolve() {
        assert!(resolve_workers(Some(0)).is_err());
        assert_eq!(resolve_workers(Some(3)).unwrap(), 3);
        assert!(resolve_workers(None).unwrap() >= 1);
        assert!(set_num_threads(0).is_err());
    }

    #[test]
    fn pools_are_cached() {
        let a = pool(2).unwrap();
        let b = pool(2).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.current_num_threads(), 2);
    }
}

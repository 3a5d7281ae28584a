//! The thread pool: one of our own, sized by `set_num_threads`, rebuilt after `fork`.
//!
//! Pools are cached per thread count (a call's `workers=` picks one without rebuilding the
//! default) and tagged with the fork generation that built them: a child created by `fork`
//! has the pool's memory but none of its threads, so a child (whose `pthread_atfork` handler
//! bumps the generation) rebuilds them. A generation, not the process id: `getpid` is a
//! system call, 150 ns on the development VM, which every parallel call paid (a parallel call
//! on 2 threads costs about 700 ns in all).

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{ConvError, Result};
use crate::handoff::HANDOFF;

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
    generation: usize,
    pools: HashMap<usize, Arc<ThreadPool>>,
}

/// How many forks lie between the process that loaded this library and the current one:
/// bumped in each child by the `pthread_atfork` handler that [`cache`] installs.
static FORK_GENERATION: AtomicUsize = AtomicUsize::new(0);

#[cfg(unix)]
extern "C" fn count_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    HANDOFF.reset_after_fork();
}

fn cache() -> &'static Mutex<PoolCache> {
    static CACHE: OnceLock<Mutex<PoolCache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        #[cfg(unix)]
        // SAFETY: the handler only increments an atomic, which is async-signal-safe, as a
        // handler run in a forked child must be. Registration fails only without memory.
        unsafe {
            libc::pthread_atfork(None, None, Some(count_fork_in_child));
        }
        Mutex::new(PoolCache {
            generation: FORK_GENERATION.load(Ordering::Relaxed),
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
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    if guard.generation != generation {
        // Forked child: the parent's worker threads do not exist here. Leak the stale pools
        // (dropping them would try to join threads that are gone) and start afresh.
        let stale = std::mem::take(&mut guard.pools);
        std::mem::forget(stale);
        guard.generation = generation;
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

/// Runs `drain(participant)` on the calling thread (participant 0) and on `threads - 1`
/// helper threads (1, 2, ...) at once (each participant takes work from a queue that `drain`
/// shares, such as [`TwoEndedClaims`]), and returns when every helper that started has
/// returned; a helper whose job has not started by the time the caller's `drain` returns
/// never runs it (see [`Finish`]), so `drain` must leave no work behind for the others.
/// Afterwards the helpers spin for [`WARM_SPIN`], running any new job at once (see
/// [`keep_warm`]); which participant runs which part never changes a result.
///
/// The caller waits for its helpers by spinning ([`Finish`]): when it runs out of work a
/// helper is usually inside its last item, a few microseconds from done, and a blocking wait
/// (rayon's scopes block a thread from outside the pool on a condition variable) put it to
/// sleep for a futex wake-up of 5-20 us on the 2-vCPU development VM. Measured on 2 threads,
/// alternating epochs of two builds: the digits CNN's training epoch 9-10% faster.
///
/// # Errors
/// [`ConvError::Value`] if the pool's threads cannot be started.
pub fn share_with_helpers(threads: usize, drain: impl Fn(usize) + Sync) -> Result<()> {
    if threads <= 1 {
        drain(0);
        return Ok(());
    }
    let helpers = helper_pool(threads)?;
    if helpers.current_thread_index().is_some() {
        // Called from one of the helpers themselves: a scope lets this thread run the jobs
        // it spawns while it waits (spinning here could wait for a job only it can run).
        let drain = &drain;
        helpers.in_place_scope(|scope| {
            for participant in 1..threads {
                scope.spawn(move |_| drain(participant));
            }
            drain(0);
        });
        keep_warm(&helpers);
        return Ok(());
    }
    let finish = Arc::new(Finish::new(threads - 1));
    let erased: *const (dyn Fn(usize) + Sync + '_) = &drain;
    // SAFETY: only the lifetime changes. The pointer is dereferenced by a helper only after it
    // has moved its slot from PENDING to RUNNING, which the caller cannot undo, and the caller
    // does not leave this function (by returning or unwinding: `WaitForHelpers`) before every
    // RUNNING helper has finished its call; a raw pointer may dangle after that.
    let shared = SharedDrain(unsafe {
        std::mem::transmute::<
            *const (dyn Fn(usize) + Sync + '_),
            *const (dyn Fn(usize) + Sync + 'static),
        >(erased)
    });
    let wait = WaitForHelpers(&finish);
    for participant in 1..threads {
        let finish = Arc::clone(&finish);
        helpers.spawn(move || {
            if !finish.start(participant - 1) {
                return; // the caller finished the work without this helper and left
            }
            // SAFETY: this helper is RUNNING, so the caller is still waiting (see above).
            let drain = unsafe { shared.get() };
            let done =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drain(participant)));
            finish.helper_done(done.err());
        });
    }
    drain(0);
    drop(wait);
    keep_warm(&helpers);
    match finish.take_panic() {
        Some(payload) => std::panic::resume_unwind(payload),
        None => Ok(()),
    }
}

/// The shared `drain` of a [`share_with_helpers`] call, lifetime erased (see there).
#[derive(Clone, Copy)]
struct SharedDrain(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure is `Sync`, so calling it from other threads is sound; when it may be
// called is the contract of `share_with_helpers`.
unsafe impl Send for SharedDrain {}

impl SharedDrain {
    /// The closure.
    ///
    /// # Safety
    /// The caller of `share_with_helpers` must still be waiting (the helper is RUNNING).
    unsafe fn get(&self) -> &(dyn Fn(usize) + Sync) {
        // SAFETY: the closure is alive (the contract above).
        unsafe { &*self.0 }
    }
}

/// How long the calling thread spins for its helpers to finish before it parks.
const FINISH_SPIN: Duration = Duration::from_micros(200);

/// A helper's job has not run yet.
const PENDING: u8 = 0;
/// A helper's job runs `drain`: the caller waits for it.
const RUNNING: u8 = 1;
/// The caller ran out of work before the helper's job started, and did not wait for it.
const CANCELLED: u8 = 2;

/// The state of one [`share_with_helpers`] call's helpers: each one's slot (PENDING, RUNNING,
/// CANCELLED), how many the caller still waits for, the calling thread to wake when the last
/// one finishes, and the first helper's panic, if any.
///
/// A helper whose job has not started when the caller runs out of work is cancelled instead
/// of waited for: its share is already done (the caller took every unclaimed item), and its
/// thread may be far from running (another process's threads on the core, a sleeping vCPU).
/// Measured on 2 threads: 1e5 * 3 float64 direct convolution right after PyTorch calls (whose
/// OpenMP workers keep the other core for a while) 422 -> 27 us per call (16.5 alone).
struct Finish {
    slots: Vec<AtomicU8>,
    waiting: AtomicUsize,
    caller: std::thread::Thread,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Finish {
    fn new(helpers: usize) -> Self {
        Finish {
            slots: (0..helpers).map(|_| AtomicU8::new(PENDING)).collect(),
            waiting: AtomicUsize::new(helpers),
            caller: std::thread::current(),
            panic: Mutex::new(None),
        }
    }

    /// A helper's first act: whether it may run (its slot went from PENDING to RUNNING).
    fn start(&self, helper: usize) -> bool {
        self.slots[helper]
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// A running helper's last act: records its panic, counts it out, wakes the caller if it
    /// was the last (an unpark of a thread that is not parked costs one atomic operation).
    fn helper_done(&self, panic: Option<Box<dyn std::any::Any + Send>>) {
        if let Some(payload) = panic {
            let mut slot = self.panic.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(payload);
        }
        if self.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.caller.unpark();
        }
    }

    /// The caller's end: cancels the helpers that have not started, then returns once every
    /// started one has called [`Finish::helper_done`]: spinning for [`FINISH_SPIN`], then
    /// parked (woken by the last helper, or every millisecond).
    fn wait(&self) {
        for slot in &self.slots {
            let cancelled = slot
                .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if cancelled {
                self.waiting.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let start = Instant::now();
        while self.waiting.load(Ordering::Acquire) != 0 {
            if start.elapsed() < FINISH_SPIN {
                for _ in 0..16 {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }
    }

    fn take_panic(&self) -> Option<Box<dyn std::any::Any + Send>> {
        self.panic.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Waits for the helpers when dropped, so that the caller cannot leave
/// [`share_with_helpers`] (by returning or by a panic of its own share) while a helper still
/// uses the borrowed `drain`.
struct WaitForHelpers<'a>(&'a Finish);

impl Drop for WaitForHelpers<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Work items `0..count` claimed from both ends: the calling thread (participant 0) takes
/// them from the front, the helpers from the back. When the participants run at the same
/// speed, each computes the same contiguous part on every call of the same shape, so the
/// output it writes is already in its core's cache from the last call (with one shared
/// counter the parts changed hands from call to call, and the cache lines with them); and a
/// participant that starts late or runs slow has its share taken over by the others.
/// Measured on 2 threads: 3e5 outputs of float64 direct convolution (k = 3) 53-111 -> 46 us;
/// the digits CNN's epoch about 0.070 -> 0.067 s in quiet stretches (A/B, alternating
/// processes; within the machine's noise).
#[derive(Debug)]
pub struct TwoEndedClaims {
    /// The next front item (low 32 bits) and the end of the unclaimed items (high 32 bits).
    state: AtomicU64,
}

impl TwoEndedClaims {
    /// Claims over `0..count`, or `None` when `count` does not fit in 32 bits.
    pub fn new(count: usize) -> Option<Self> {
        let count = u32::try_from(count).ok()?;
        Some(TwoEndedClaims {
            state: AtomicU64::new(u64::from(count) << 32),
        })
    }

    /// The next `grain` (at least 1) unclaimed items for `participant`: from the front for
    /// participant 0, else from the back; `None` when every item is claimed.
    pub fn claim(&self, participant: usize, grain: usize) -> Option<Range<usize>> {
        let grain = grain.max(1);
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let (front, back) = ((current & 0xFFFF_FFFF) as usize, (current >> 32) as usize);
            if front >= back {
                return None;
            }
            let items = if participant == 0 {
                front..(front + grain).min(back)
            } else {
                back.saturating_sub(grain).max(front)..back
            };
            let (front, back) = if participant == 0 {
                (items.end, back)
            } else {
                (front, items.start)
            };
            let next = ((back as u64) << 32) | front as u64;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(items),
                Err(seen) => current = seen,
            }
        }
    }
}

/// Starts the helpers of a `threads`-thread call spinning (see [`keep_warm`]), so that the
/// next call finds them awake: for callers that share their work through [`HANDOFF`] and
/// found no helper spinning. Does nothing while an earlier call's spin jobs have not
/// started yet.
///
/// # Errors
/// [`ConvError::Value`] if the pool's threads cannot be started.
pub fn warm_helpers(threads: usize) -> Result<()> {
    if threads <= 1 || !HANDOFF.begin_warm_up() {
        return Ok(());
    }
    match helper_pool(threads) {
        Ok(helpers) => {
            keep_warm(&helpers);
            Ok(())
        }
        Err(e) => {
            HANDOFF.warm_up_failed();
            Err(e)
        }
    }
}

/// Gives each of `pool`'s threads a job that spins, running the pool's new jobs as they come
/// (`rayon::yield_now`) and the jobs posted to [`HANDOFF`], until none has come for
/// [`WARM_SPIN`]. A call made meanwhile finds its helpers awake; a spin job that a spinning
/// thread picks up returns at once.
fn keep_warm(pool: &ThreadPool) {
    for _ in 0..pool.current_num_threads() {
        pool.spawn(|| {
            if SPINNING.with(|s| s.replace(true)) {
                return;
            }
            let spinning = HANDOFF.spinning();
            let mut last_job = Instant::now();
            loop {
                if HANDOFF.run_posted() {
                    last_job = Instant::now();
                } else if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    last_job = Instant::now();
                } else if last_job.elapsed() > WARM_SPIN {
                    break;
                } else {
                    // A posted job cuts the pause short: a hand-off waited 0.53 us for its
                    // helper after 32 uninterrupted pauses, 0.2 us with this check.
                    for _ in 0..32 {
                        if HANDOFF.job_posted() {
                            break;
                        }
                        std::hint::spin_loop();
                    }
                }
            }
            drop(spinning);
            SPINNING.with(|s| s.set(false));
        });
    }
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
    fn two_ended_claims_hand_out_every_item_once() {
        for (count, participants, grain) in
            [(0, 2, 1), (1, 2, 1), (7, 2, 1), (100, 2, 3), (1000, 5, 7)]
        {
            let claims = TwoEndedClaims::new(count).unwrap();
            let taken: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            let first_front = Mutex::new(None);
            std::thread::scope(|s| {
                for p in 0..participants {
                    let (claims, taken, first_front) = (&claims, &taken, &first_front);
                    s.spawn(move || {
                        while let Some(items) = claims.claim(p, grain) {
                            assert!(items.len() <= grain && !items.is_empty());
                            if p == 0 {
                                first_front.lock().unwrap().get_or_insert(items.start);
                            }
                            for i in items {
                                taken[i].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            assert!(taken.iter().all(|t| t.load(Ordering::Relaxed) == 1));
            // The front participant, when it got anything, started at the front.
            assert!(first_front.lock().unwrap().is_none_or(|f| f == 0));
        }
        assert!(TwoEndedClaims::new(1 << 33).is_none());
    }

    /// Spins until `flag` is set (at most a second: a pool under heavy load may be slow).
    fn await_flag(flag: &AtomicUsize, at_least: usize) {
        let start = Instant::now();
        while flag.load(Ordering::Acquire) < at_least && start.elapsed() < Duration::from_secs(1) {
            std::hint::spin_loop();
        }
    }

    #[test]
    fn every_item_once_and_no_started_helper_outlives_the_call() {
        for threads in [1, 2, 3, 5] {
            for round in 0..200 {
                let count = 1 + round % 37;
                let claims = TwoEndedClaims::new(count).unwrap();
                let taken: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
                let started: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
                let ended: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
                share_with_helpers(threads, |p| {
                    started[p].fetch_add(1, Ordering::Relaxed);
                    while let Some(items) = claims.claim(p, 1) {
                        if p > 0 && round % 3 == 0 {
                            // a helper slower than the caller: the caller must wait for it
                            std::thread::sleep(Duration::from_micros(50));
                        }
                        for i in items {
                            taken[i].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    ended[p].fetch_add(1, Ordering::Release);
                })
                .unwrap();
                assert!(taken.iter().all(|t| t.load(Ordering::Relaxed) == 1));
                assert_eq!(
                    started[0].load(Ordering::Relaxed),
                    1,
                    "the caller always runs"
                );
                for (s, e) in started.iter().zip(&ended) {
                    // a helper runs at most once, and has finished when the call returns
                    assert!(s.load(Ordering::Relaxed) <= 1);
                    assert_eq!(s.load(Ordering::Relaxed), e.load(Ordering::Acquire));
                }
            }
        }
    }

    #[test]
    fn a_helper_that_has_not_started_is_not_waited_for() {
        // The only helper thread is kept busy: the call's helper job cannot start, and the
        // caller, having done all the work, returns without it.
        let pool = helper_pool(2).unwrap();
        let (busy, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (b, r) = (Arc::clone(&busy), Arc::clone(&release));
        pool.spawn(move || {
            b.store(1, Ordering::Release);
            await_flag(&r, 1);
        });
        await_flag(&busy, 1);
        let started = Instant::now();
        let ran: Vec<AtomicUsize> = (0..2).map(|_| AtomicUsize::new(0)).collect();
        share_with_helpers(2, |p| {
            ran[p].fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        let waited = started.elapsed();
        release.store(1, Ordering::Release);
        assert_eq!(ran[0].load(Ordering::Relaxed), 1);
        assert_eq!(
            ran[1].load(Ordering::Relaxed),
            0,
            "the cancelled helper never runs"
        );
        assert!(
            waited < Duration::from_millis(500),
            "returned without the helper"
        );
    }

    #[test]
    fn a_helpers_panic_reaches_the_caller_after_every_helper_has_finished() {
        let (started, finished) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            share_with_helpers(3, |p| {
                started.fetch_add(1, Ordering::AcqRel);
                // every participant starts before any ends, so neither helper is cancelled
                await_flag(&started, 3);
                if p == 2 {
                    panic!("helper {p} failed");
                }
                std::thread::sleep(Duration::from_millis(2));
                finished.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let payload = caught.expect_err("the helper's panic is re-raised");
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "helper 2 failed");
        assert_eq!(finished.load(Ordering::Relaxed), 2);
        // the pool still works afterwards
        let runs = AtomicUsize::new(0);
        share_with_helpers(3, |p| {
            runs.fetch_add(1, Ordering::Relaxed);
            assert!(p < 3);
        })
        .unwrap();
        assert!((1..=3).contains(&runs.load(Ordering::Relaxed)));
    }

    #[test]
    fn sharing_from_inside_a_helper_does_not_wait_on_itself() {
        let (runs, inner) = (AtomicUsize::new(0), AtomicUsize::new(0));
        share_with_helpers(2, |_| {
            runs.fetch_add(1, Ordering::AcqRel);
            // the helper runs too (the caller waits for it to start), and its own share runs
            // on the helper pool's only thread: it must not wait for a job only it could run
            await_flag(&runs, 2);
            share_with_helpers(2, |_| {
                inner.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        })
        .unwrap();
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert!((2..=4).contains(&inner.load(Ordering::Relaxed)));
    }

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

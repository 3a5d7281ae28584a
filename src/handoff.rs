//! A hand-off of one small job to a helper thread that is already spinning, for work of a few
//! microseconds that the pool's scheduling cannot split: a job spawned into the rayon pool
//! starts about 1.4 us after the call on the 2-vCPU development VM, even with its helper
//! awake and spinning (measured: a 1 us caller share, 2,000 calls), while a spinning helper
//! that polls one shared word sees a posted job 0.2 us after it is posted.
//!
//! The job lives in the hand-off itself, on one cache line with its state word, so that each
//! step of the protocol moves that one line between the cores and nothing else (each move
//! costs 0.1-0.2 us on the VM, as much as a tenth of the work shared):
//! - the caller claims the hand-off (FREE to CLAIMED), writes its job, and posts it (POSTED);
//! - a helper takes it (POSTED to RUNNING), runs it, and marks it DONE;
//! - the caller, done with its own part, either takes the job back (POSTED to CLAIMED: no
//!   helper started it, and none ever will) and runs it itself, or waits for DONE; then it
//!   frees the hand-off (FREE).
//!
//! So the borrowed job runs exactly once, and only while its caller waits for it.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The process's hand-off, polled by the helpers that spin in [`crate::parallel`]'s warm loop.
pub static HANDOFF: Handoff = Handoff::new();

/// No job: a caller may claim the hand-off.
const FREE: u32 = 0;
/// A caller owns the hand-off (writing its job, or running it itself).
const CLAIMED: u32 = 1;
/// A job waits for a helper.
const POSTED: u32 = 2;
/// A helper runs the job.
const RUNNING: u32 = 3;
/// The helper's run has returned (or panicked: the payload is in `panic`).
const DONE: u32 = 4;

/// The job's code, lifetime erased.
type ErasedJob = *const (dyn Fn() + Sync + 'static);

/// One slot for a posted job, and the count of the helpers that poll it; on a cache line of
/// its own.
#[derive(Debug)]
#[repr(align(128))]
pub struct Handoff {
    /// FREE, CLAIMED, POSTED, RUNNING or DONE.
    state: AtomicU32,
    /// Helper threads now spinning on this hand-off (see [`Spinning`]).
    spinners: AtomicUsize,
    /// Whether spin jobs have been sent to a pool and none has started spinning yet, so that
    /// calls made meanwhile do not queue more (a spawn into rayon's pool can cost a futex
    /// wake-up of a sleeping thread). Cleared when a helper starts or stops spinning.
    warming: AtomicBool,
    /// The CPU the posting caller ran on (-1: unknown), written before POSTED: a helper on
    /// the same CPU leaves the job alone (see [`Handoff::run_posted`]).
    caller_cpu: AtomicI32,
    /// Whether a helper leaves alone the jobs posted from its own CPU (off only in tests that
    /// need a helper to take every job wherever the scheduler puts it).
    check_cpu: bool,
    /// The posted job: written by its caller while CLAIMED, read by the helper that moved it
    /// to RUNNING.
    job: UnsafeCell<Option<ErasedJob>>,
    /// The helper's panic: written before DONE, taken by the caller after it.
    panic: UnsafeCell<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `job` and `panic` are each accessed by one thread at a time, as the state word
// orders them: `job` is written by the caller that moved the state from FREE to CLAIMED,
// published by its release store of POSTED, and read by the helper whose acquire CAS moved
// it to RUNNING; `panic` is written by that helper before its release store of DONE, and read
// by the caller after its acquire load of DONE. The job itself is `Sync`, so it may be called
// from the helper's thread.
unsafe impl Sync for Handoff {}

/// How long the caller spins for a running helper to finish before it yields its core
/// between checks.
const DONE_SPIN: Duration = Duration::from_micros(200);

impl Handoff {
    /// A free hand-off with no spinners.
    pub const fn new() -> Self {
        Self::with_cpu_check(true)
    }

    /// [`Handoff::new`], with or without the check that keeps a helper off jobs posted from
    /// its own CPU.
    const fn with_cpu_check(check_cpu: bool) -> Self {
        Handoff {
            check_cpu,
            state: AtomicU32::new(FREE),
            spinners: AtomicUsize::new(0),
            warming: AtomicBool::new(false),
            caller_cpu: AtomicI32::new(-1),
            job: UnsafeCell::new(None),
            panic: UnsafeCell::new(None),
        }
    }

    /// Runs `mine` on the calling thread and `theirs` once: on a helper that is spinning on
    /// this hand-off, at the same time as `mine`, or else on the calling thread after `mine`.
    /// Returns when both have returned, saying how it went. A panic of `theirs` on the helper
    /// is raised again here.
    ///
    /// When no helper was spinning ([`Shared::NoHelper`]) the caller may want to start some
    /// ([`crate::parallel::warm_helpers`]) for its next call.
    pub fn share(&self, mine: impl FnOnce(), theirs: &(dyn Fn() + Sync)) -> Shared {
        if self.spinners.load(Ordering::Relaxed) == 0 {
            mine();
            theirs();
            return Shared::NoHelper;
        }
        let claimed = self
            .state
            .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !claimed {
            mine();
            theirs();
            return Shared::Busy;
        }
        // SAFETY: only the lifetime changes; the job is called only while RUNNING, and this
        // function does not return (or unwind: `Settle`) while it is.
        let erased = unsafe {
            std::mem::transmute::<*const (dyn Fn() + Sync + '_), ErasedJob>(theirs as *const _)
        };
        // SAFETY: CLAIMED by this thread: nobody else reads or writes `job`.
        unsafe { *self.job.get() = Some(erased) };
        self.caller_cpu.store(current_cpu(), Ordering::Relaxed);
        self.state.store(POSTED, Ordering::Release);
        let mut settle = Settle {
            handoff: self,
            outcome: None,
        };
        mine();
        let outcome = settle.settle();
        if outcome == Shared::TakenBack {
            theirs();
        }
        drop(settle);
        outcome
    }

    /// Whether a job waits for a helper (a load of a cache line that stays shared while
    /// nothing is posted).
    #[inline]
    pub fn job_posted(&self) -> bool {
        self.state.load(Ordering::Relaxed) == POSTED
    }

    /// A spinning helper's poll: takes the posted job, if any, and runs it. Returns whether
    /// it ran one.
    ///
    /// A job posted from the helper's own CPU is left to its caller, and the helper yields
    /// that CPU: the two threads would only take turns on it, and the caller would wait for a
    /// time slice. (The scheduler of the 2-vCPU development VM at times kept the helper on
    /// the caller's vCPU for seconds: 1e4 * 3 float64 then took 2.9-3.2 us a call on two
    /// threads against 2.4 on one.)
    pub fn run_posted(&self) -> bool {
        if !self.job_posted() {
            return false;
        }
        let cpu = self.caller_cpu.load(Ordering::Relaxed);
        if self.check_cpu && cpu >= 0 && cpu == current_cpu() {
            std::thread::yield_now();
            return false;
        }
        let taken = self
            .state
            .compare_exchange(POSTED, RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !taken {
            return false;
        }
        // SAFETY: RUNNING: this thread moved the state from POSTED, so the job is written and
        // its caller waits for DONE before the job goes away.
        let job = unsafe { (*self.job.get()).map(|j| &*j) };
        if let Some(job) = job {
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                // SAFETY: the caller reads `panic` only after DONE, which is stored below.
                unsafe { *self.panic.get() = Some(payload) };
            }
        }
        self.state.store(DONE, Ordering::Release);
        true
    }

    /// Counts the calling thread in among the spinners for as long as the guard lives (it
    /// polls [`Handoff::run_posted`] meanwhile).
    pub fn spinning(&self) -> Spinning<'_> {
        self.spinners.fetch_add(1, Ordering::Relaxed);
        self.warming.store(false, Ordering::Relaxed);
        Spinning(self)
    }

    /// Whether the caller should send spin jobs to a pool now: `true` for the first caller
    /// since a helper last started or stopped spinning, and for no other until then. A caller
    /// that then fails to send them calls [`Handoff::warm_up_failed`].
    pub fn begin_warm_up(&self) -> bool {
        !self.warming.swap(true, Ordering::Relaxed)
    }

    /// Undoes [`Handoff::begin_warm_up`] when no spin job could be sent.
    pub fn warm_up_failed(&self) {
        self.warming.store(false, Ordering::Relaxed);
    }

    /// Forgets the spinners and any posted job: for a child process after `fork`, which has
    /// none of the parent's helper threads (async-signal-safe: atomic stores).
    pub fn reset_after_fork(&self) {
        self.spinners.store(0, Ordering::Relaxed);
        self.warming.store(false, Ordering::Relaxed);
        self.state.store(FREE, Ordering::Release);
    }
}

/// The CPU the calling thread runs on, or -1 where that is unknown (a vDSO call on Linux).
fn current_cpu() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no arguments, no memory; -1 on failure.
        unsafe { libc::sched_getcpu() }
    }
    #[cfg(not(target_os = "linux"))]
    {
        -1
    }
}

impl Default for Handoff {
    fn default() -> Self {
        Self::new()
    }
}

/// How a [`Handoff::share`] call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// No helper was spinning: the caller ran both parts.
    NoHelper,
    /// Another call's job held the hand-off: the caller ran both parts.
    Busy,
    /// No helper had taken the job when the caller finished its part: the caller ran both.
    TakenBack,
    /// A helper ran `theirs`, and the caller, done first, waited for it.
    CallerWaited,
    /// A helper ran `theirs`, and was done before the caller.
    HelperFirst,
}

/// The caller's end of a posted job: takes it back or waits for its helper
/// ([`Settle::settle`]), then frees the hand-off, when dropped at the latest, so that the
/// caller cannot leave [`Handoff::share`] (returning or unwinding) while a helper may still
/// run the job.
struct Settle<'a> {
    handoff: &'a Handoff,
    /// How the job was settled, once it is.
    outcome: Option<Shared>,
}

impl Settle<'_> {
    /// Takes the job back (no helper took it) or waits until its helper is DONE, raising the
    /// helper's panic, if any.
    fn settle(&mut self) -> Shared {
        let (outcome, panic) = self.wait();
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        outcome
    }

    /// [`Settle::settle`] without raising the panic (returned instead); a second call returns
    /// the first one's outcome (the state stays DONE or CLAIMED until the drop frees it).
    fn wait(&mut self) -> (Shared, Option<Box<dyn std::any::Any + Send>>) {
        if let Some(outcome) = self.outcome {
            return (outcome, None);
        }
        let h = self.handoff;
        let outcome =
            match h
                .state
                .compare_exchange(POSTED, CLAIMED, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => Shared::TakenBack,
                Err(DONE) => Shared::HelperFirst,
                Err(_) => Shared::CallerWaited,
            };
        self.outcome = Some(outcome);
        if outcome == Shared::TakenBack {
            return (outcome, None);
        }
        let start = Instant::now();
        while h.state.load(Ordering::Acquire) != DONE {
            if start.elapsed() < DONE_SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: DONE (acquire): the helper wrote `panic` before, and touches nothing now.
        (outcome, unsafe { (*h.panic.get()).take() })
    }
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        // Unwinding from `mine` (or after a helper's panic): the job must not be running when
        // the caller's frame goes; a second panic is dropped rather than raised in a drop.
        drop(self.wait());
        self.handoff.state.store(FREE, Ordering::Release);
    }
}

/// Where a job is cut between the caller and its helper (the helper's share, in 256ths),
/// learnt from how the last calls went: the helper starts 0.2 us after the call, and on a
/// shared VM its core may run slower than the caller's for a while, so that an even split
/// left the caller waiting (1e4 * 3 float64 in the direct bench: 3.1 us a call against 2.5 on
/// one thread, for a whole run). Each call moves the share a step towards the side that
/// finished first; every output is computed alone, so the cut never changes a result.
#[derive(Debug)]
pub struct Balance(AtomicU32);

/// [`Balance`]'s step after a call that one side finished first, in 256ths.
const BALANCE_STEP: u32 = 2;
/// [`Balance`]'s step down after a call whose helper had not even started (in 256ths).
const BALANCE_STEP_NOT_STARTED: u32 = 16;
/// The smallest and largest helper share, in 256ths.
const BALANCE_RANGE: (u32, u32) = (8, 192);

impl Balance {
    /// An even split.
    pub const fn new() -> Self {
        Balance(AtomicU32::new(128))
    }

    /// Where to cut `len` items: the caller takes `0..cut`, the helper `cut..len`; `cut` is a
    /// multiple of `align` (or `len`).
    pub fn cut(&self, len: usize, align: usize) -> usize {
        let helper = self.0.load(Ordering::Relaxed) as usize;
        let mine = len - len / 256 * helper - len % 256 * helper / 256;
        mine.next_multiple_of(align.max(1)).min(len)
    }

    /// Moves the cut after a call that went as `outcome` (a lost update between concurrent
    /// callers only delays the balance by a step).
    pub fn learn(&self, outcome: Shared) {
        let helper = self.0.load(Ordering::Relaxed);
        let next = match outcome {
            Shared::HelperFirst => helper + BALANCE_STEP,
            Shared::CallerWaited => helper.saturating_sub(BALANCE_STEP),
            Shared::TakenBack => helper.saturating_sub(BALANCE_STEP_NOT_STARTED),
            Shared::NoHelper | Shared::Busy => return,
        };
        self.0.store(
            next.clamp(BALANCE_RANGE.0, BALANCE_RANGE.1),
            Ordering::Relaxed,
        );
    }

    /// The helper's share now, in 256ths.
    pub fn helper_share(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Balance {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread counted among a hand-off's spinners ([`Handoff::spinning`]) until dropped.
#[derive(Debug)]
pub struct Spinning<'a>(&'a Handoff);

impl Drop for Spinning<'_> {
    fn drop(&mut self) {
        self.0.spinners.fetch_sub(1, Ordering::Relaxed);
        self.0.warming.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;

//! A hand-off of one small job to a helper thread that is already spinning, for work of a few
//! microseconds that the pool's scheduling cannot split: a job spawned into the rayon pool
//! starts about 1.4 us after the call on the 2-vCPU development VM, even with its helper
//! awake and spinning (measured: a 1 us caller share, 2,000 calls), while a spinning helper
//! that polls one shared slot sees a posted job 0.2 us after it is posted.
//!
//! The slot holds one reference to a job (an `Arc`). A helper takes it by swapping the slot
//! back to null, which makes it the job's only taker, and then moves the job from PENDING to
//! RUNNING before it calls the caller's `drain`. The caller, done with its own share, either
//! retracts the job (the slot still holds it), cancels it (PENDING to CANCELLED: the taker
//! has not started, and never calls `drain`), or waits for the RUNNING taker to finish. So
//! the borrowed `drain` is called only while its caller waits, and a taker that stalls
//! between the swap and its start (a descheduled vCPU) costs the caller nothing.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The process's hand-off, polled by the helpers that spin in [`crate::parallel`]'s warm loop.
pub static HANDOFF: Handoff = Handoff::new();

/// A slot for one posted job and the count of the helpers that poll it.
#[derive(Debug)]
pub struct Handoff {
    /// The posted job (a reference made by `Arc::into_raw`), or null. First, so that the
    /// alignment below gives it a cache line of its own with the two counters: helpers poll
    /// it, and only posting and taking write it.
    slot: AtomicPtr<Posted>,
    /// Helper threads now spinning on this hand-off (see [`Spinning`]).
    spinners: AtomicUsize,
    /// Whether spin jobs have been sent to a pool and none has started spinning yet, so that
    /// calls made meanwhile do not queue more (a spawn into rayon's pool can cost a futex
    /// wake-up of a sleeping thread). Cleared when a helper starts or stops spinning.
    warming: AtomicBool,
    _pad: CacheLinePad,
}

/// Keeps the next static off the hand-off's cache line.
#[derive(Debug)]
#[repr(align(128))]
struct CacheLinePad;

/// The job has not started.
const PENDING: u8 = 0;
/// The taker calls `drain`: the caller waits for it.
const RUNNING: u8 = 1;
/// The caller finished first: the taker must not call `drain`.
const CANCELLED: u8 = 2;
/// The taker's call has returned (or panicked, the payload in `panic`).
const DONE: u8 = 3;

/// A job in the slot: participant 1's call of a caller's `drain`, and how it ended.
struct Posted {
    /// The caller's `drain`, lifetime erased: called only while RUNNING.
    drain: *const (dyn Fn(usize) + Sync + 'static),
    /// PENDING, RUNNING, CANCELLED or DONE.
    state: AtomicU8,
    /// The taker's panic, written before DONE and read by the caller after it.
    panic: UnsafeCell<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `drain` points at a `Sync` closure, which any thread may call; the protocol above
// says when (only while RUNNING, with its caller waiting). `panic` is written by the taker
// before DONE (release) and read by the caller only after it has seen DONE (acquire) or has
// retracted or cancelled the job, so no two threads touch it at once.
unsafe impl Send for Posted {}
// SAFETY: as for `Send`.
unsafe impl Sync for Posted {}

/// How long the caller spins for a running taker to finish before it yields its core between
/// checks.
const DONE_SPIN: Duration = Duration::from_micros(200);

impl Handoff {
    /// An empty slot with no spinners.
    pub const fn new() -> Self {
        Handoff {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            spinners: AtomicUsize::new(0),
            warming: AtomicBool::new(false),
            _pad: CacheLinePad,
        }
    }

    /// Runs `drain(0)` on the calling thread and, when a helper is spinning on this hand-off
    /// (and the slot is free), `drain(1)` on that helper at the same time; returns once every
    /// call that started has returned. `drain` shares its work between the participants
    /// (such as [`crate::parallel::TwoEndedClaims`]) and must leave none behind for
    /// participant 1, whose call may never happen. A panic in the helper's call is raised
    /// again here.
    ///
    /// Returns whether a helper was spinning when the call was made: when none was,
    /// `drain(1)` did not run, and the caller may want to start some
    /// ([`crate::parallel::warm_helpers`]) for its next call.
    pub fn share(&self, drain: &(dyn Fn(usize) + Sync)) -> bool {
        if self.spinners.load(Ordering::Relaxed) == 0 {
            drain(0);
            return false;
        }
        // SAFETY: only the lifetime changes; the pointer is called only while the job is
        // RUNNING, and this function does not return (or unwind: `Settle`) while it is.
        let erased = unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(drain as *const _)
        };
        let job = Arc::new(Posted {
            drain: erased,
            state: AtomicU8::new(PENDING),
            panic: UnsafeCell::new(None),
        });
        let in_slot = Arc::into_raw(Arc::clone(&job)).cast_mut();
        let posted = self
            .slot
            .compare_exchange(
                std::ptr::null_mut(),
                in_slot,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok();
        if !posted {
            // SAFETY: the reference made for the slot above, which did not take it.
            drop(unsafe { Arc::from_raw(in_slot) });
            drain(0); // another call's job is in the slot
            return true;
        }
        {
            let _settle = Settle {
                handoff: self,
                job: &job,
                in_slot,
            };
            drain(0);
        }
        // SAFETY: the job is settled (retracted, cancelled or DONE): no other thread touches
        // `panic` any more.
        if let Some(payload) = unsafe { (*job.panic.get()).take() } {
            std::panic::resume_unwind(payload);
        }
        true
    }

    /// Whether a job waits in the slot (a load of a cache line that stays shared while
    /// nothing is posted).
    #[inline]
    pub fn job_posted(&self) -> bool {
        !self.slot.load(Ordering::Relaxed).is_null()
    }

    /// A spinning helper's poll: takes the posted job, if any, and runs it unless its caller
    /// has cancelled it meanwhile. Returns whether it took one.
    pub fn run_posted(&self) -> bool {
        match self.take() {
            Some(job) => {
                job.run();
                true
            }
            None => false,
        }
    }

    /// Takes the posted job, if any, out of the slot.
    fn take(&self) -> Option<Taken> {
        if !self.job_posted() {
            return None;
        }
        let taken = self.slot.swap(std::ptr::null_mut(), Ordering::Acquire);
        // SAFETY: the swap moved the slot's reference, if any, to this thread.
        (!taken.is_null()).then(|| Taken(unsafe { Arc::from_raw(taken.cast_const()) }))
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
    /// none of the parent's helper threads (async-signal-safe: atomic stores; a posted job's
    /// reference leaks).
    pub fn reset_after_fork(&self) {
        self.spinners.store(0, Ordering::Relaxed);
        self.warming.store(false, Ordering::Relaxed);
        self.slot.store(std::ptr::null_mut(), Ordering::Relaxed);
    }
}

impl Default for Handoff {
    fn default() -> Self {
        Self::new()
    }
}

/// A job taken out of the slot by a helper.
struct Taken(Arc<Posted>);

impl Taken {
    /// Calls the caller's `drain(1)` unless the caller has cancelled the job.
    fn run(self) {
        let job = &self.0;
        let started = job
            .state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if !started {
            return;
        }
        // SAFETY: RUNNING: the caller waits for DONE before its `drain` goes away.
        let drain = unsafe { &*job.drain };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drain(1)));
        if let Err(payload) = result {
            // SAFETY: the caller reads `panic` only after DONE, which is stored below.
            unsafe { *job.panic.get() = Some(payload) };
        }
        job.state.store(DONE, Ordering::Release);
    }
}

/// Settles a posted job when dropped (retracts it, cancels it, or waits for its running
/// taker), so that the caller cannot leave [`Handoff::share`] (returning or unwinding) while
/// its `drain` may still be called.
struct Settle<'a> {
    handoff: &'a Handoff,
    job: &'a Arc<Posted>,
    /// The slot's reference to the job, as posted.
    in_slot: *mut Posted,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let retracted = self
            .handoff
            .slot
            .compare_exchange(
                self.in_slot,
                std::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        if retracted {
            // SAFETY: the slot's reference, taken back from the slot.
            drop(unsafe { Arc::from_raw(self.in_slot) });
            return;
        }
        let state = &self.job.state;
        if state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        let start = Instant::now();
        while state.load(Ordering::Acquire) != DONE {
            if start.elapsed() < DONE_SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
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

//! Tests of [`super::Handoff`], each on a hand-off of its own with its own helper threads
//! (without the same-CPU check, so that a helper takes every job wherever the scheduler puts
//! it, except in the test of that check).

use super::{Balance, Handoff, Shared, FREE};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Spins until `flag` is set.
fn await_flag(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
}

/// Sets its flag when dropped: stops a test's helper thread even when the test's body
/// panics (a scope waits for its threads, so a failed assertion would otherwise hang).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Runs `body` with one helper thread spinning on `h` (polling it like a pool helper).
fn with_spinning_helper(h: &Handoff, body: impl FnOnce()) {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            let _spinning = h.spinning();
            while !stop.load(Ordering::Acquire) {
                if !h.run_posted() {
                    std::hint::spin_loop();
                }
            }
        });
        while h.spinners.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        body();
    });
}

/// `h.share(mine, theirs)`, asserting that each ran exactly once.
fn share_counted(h: &Handoff, mine: impl FnOnce(), theirs: &(dyn Fn() + Sync)) -> Shared {
    let (mine_runs, theirs_runs) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let shared = h.share(
        || {
            mine();
            mine_runs.fetch_add(1, Ordering::Relaxed);
        },
        &|| {
            theirs();
            theirs_runs.fetch_add(1, Ordering::Relaxed);
        },
    );
    assert_eq!(mine_runs.load(Ordering::Relaxed), 1);
    assert_eq!(theirs_runs.load(Ordering::Relaxed), 1);
    shared
}

/// A helper's part that takes 20 ms, with flags set when it starts and when it ends.
#[derive(Default)]
struct SlowPart {
    started: AtomicBool,
    finished: AtomicBool,
}

impl SlowPart {
    fn run(&self) {
        self.started.store(true, Ordering::Release);
        thread::sleep(Duration::from_millis(20));
        self.finished.store(true, Ordering::Release);
    }
}

fn is_free(h: &Handoff) -> bool {
    h.state.load(Ordering::Acquire) == FREE
}

#[test]
fn without_a_spinning_helper_the_caller_runs_both_in_order() {
    let h = Handoff::with_cpu_check(false);
    let order = std::sync::Mutex::new(Vec::new());
    let shared = h.share(|| order.lock().unwrap().push("mine"), &|| {
        order.lock().unwrap().push("theirs")
    });
    assert_eq!(shared, Shared::NoHelper);
    assert_eq!(*order.lock().unwrap(), ["mine", "theirs"]);
    assert!(is_free(&h));
}

#[test]
fn a_spinning_helper_runs_theirs_while_the_caller_runs_mine() {
    let h = Handoff::with_cpu_check(false);
    let caller = thread::current().id();
    with_spinning_helper(&h, || {
        for _ in 0..200 {
            let theirs_started = AtomicBool::new(false);
            let shared = share_counted(
                &h,
                // Both at once: mine waits until the helper has started theirs.
                || await_flag(&theirs_started),
                &|| {
                    assert_ne!(thread::current().id(), caller);
                    theirs_started.store(true, Ordering::Release);
                },
            );
            // The helper started before the caller finished: it ran theirs.
            assert!(matches!(shared, Shared::CallerWaited | Shared::HelperFirst));
            assert!(is_free(&h));
        }
    });
}

#[test]
fn a_job_no_helper_takes_is_run_by_the_caller() {
    let h = Handoff::with_cpu_check(false);
    // Counted as spinning, but never polling: the job is posted and nobody takes it.
    let _spinning = h.spinning();
    let caller = thread::current().id();
    let theirs_runs = AtomicUsize::new(0);
    let shared = h.share(|| assert!(h.job_posted()), &|| {
        assert_eq!(thread::current().id(), caller);
        theirs_runs.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(shared, Shared::TakenBack);
    assert_eq!(theirs_runs.load(Ordering::Relaxed), 1);
    assert!(is_free(&h));
}

#[test]
fn the_caller_waits_for_a_running_helper() {
    let h = Handoff::with_cpu_check(false);
    with_spinning_helper(&h, || {
        let slow = SlowPart::default();
        h.share(|| await_flag(&slow.started), &|| slow.run());
        assert!(slow.finished.load(Ordering::Acquire));
    });
}

#[test]
fn a_caller_that_panics_waits_for_its_helper_before_unwinding() {
    let h = Handoff::with_cpu_check(false);
    with_spinning_helper(&h, || {
        let slow = SlowPart::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.share(
                || {
                    await_flag(&slow.started);
                    panic!("caller failed");
                },
                &|| slow.run(),
            )
        }));
        assert!(outcome.is_err());
        assert!(slow.finished.load(Ordering::Acquire));
        assert!(is_free(&h));
    });
}

#[test]
fn a_helpers_panic_reaches_the_caller() {
    let h = Handoff::with_cpu_check(false);
    with_spinning_helper(&h, || {
        let started = AtomicBool::new(false);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.share(|| await_flag(&started), &|| {
                started.store(true, Ordering::Release);
                panic!("helper failed");
            })
        }));
        let payload = outcome.expect_err("the helper's panic is raised in the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"helper failed"));
        assert!(is_free(&h));
        // The helper still serves the next call.
        let helper_ran = AtomicBool::new(false);
        h.share(|| await_flag(&helper_ran), &|| {
            helper_ran.store(true, Ordering::Release)
        });
    });
}

#[test]
fn concurrent_callers_each_get_both_parts_run_once() {
    let h = Handoff::with_cpu_check(false);
    with_spinning_helper(&h, || {
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..300 {
                        share_counted(&h, || {}, &|| {});
                    }
                });
            }
        });
    });
    assert!(is_free(&h));
}

#[test]
fn warm_up_is_claimed_once_until_a_helper_starts_or_stops() {
    let h = Handoff::with_cpu_check(false);
    assert!(h.begin_warm_up());
    assert!(!h.begin_warm_up());
    let spinning = h.spinning();
    assert!(h.begin_warm_up(), "a helper's start clears the claim");
    drop(spinning);
    assert!(h.begin_warm_up(), "so does its stop");
    h.warm_up_failed();
    assert!(h.begin_warm_up());
    h.reset_after_fork();
    assert!(h.begin_warm_up());
    assert_eq!(h.spinners.load(Ordering::Relaxed), 0);
}

#[test]
fn the_cut_moves_towards_the_side_that_finished_first() {
    let b = Balance::new();
    assert_eq!(b.cut(1000, 1), 500);
    assert_eq!(b.cut(1000, 64), 512);
    assert_eq!(b.cut(100, 64), 64);
    assert_eq!(b.cut(0, 64), 0);
    assert_eq!(b.cut(usize::MAX, 1), usize::MAX - usize::MAX / 2);
    b.learn(Shared::HelperFirst);
    assert_eq!(b.helper_share(), 130);
    b.learn(Shared::CallerWaited);
    b.learn(Shared::CallerWaited);
    assert_eq!(b.helper_share(), 126);
    b.learn(Shared::TakenBack);
    assert_eq!(b.helper_share(), 110);
    b.learn(Shared::NoHelper);
    b.learn(Shared::Busy);
    assert_eq!(b.helper_share(), 110);
    for _ in 0..100 {
        b.learn(Shared::TakenBack);
    }
    assert_eq!(b.helper_share(), 8, "the helper keeps a share to win back");
    assert_eq!(b.cut(256, 1), 248);
    for _ in 0..200 {
        b.learn(Shared::HelperFirst);
    }
    assert_eq!(b.helper_share(), 192);
    assert_eq!(b.cut(256, 1), 64);
}

#[cfg(target_os = "linux")]
#[test]
fn a_helper_leaves_alone_a_job_posted_from_its_own_cpu() {
    /// Pins the calling thread to `cpu`.
    fn pin(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            assert_eq!(
                libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set),
                0
            );
        }
    }
    let cpu = super::current_cpu() as usize;
    let h = Handoff::new();
    let caller = thread::current().id();
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            pin(cpu);
            let _spinning = h.spinning();
            while !stop.load(Ordering::Acquire) {
                h.run_posted();
            }
        });
        pin(cpu);
        while h.spinners.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        for _ in 0..20 {
            // The helper is spinning, but on this CPU: the caller runs both parts.
            let shared = share_counted(&h, || thread::sleep(Duration::from_millis(1)), &|| {
                assert_eq!(thread::current().id(), caller)
            });
            assert_eq!(shared, Shared::TakenBack);
        }
    });
}

//! Tests of [`super::Handoff`], each on a hand-off of its own with its own helper threads.

use super::Handoff;
use crate::parallel::TwoEndedClaims;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Spins until `flag` is set.
fn await_flag(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
}

/// Polls `h` like a pool helper (counted among its spinners) until `stop` is set.
fn spin_on(h: &Handoff, stop: &AtomicBool) {
    let _spinning = h.spinning();
    while !stop.load(Ordering::Acquire) {
        if !h.run_posted() {
            std::hint::spin_loop();
        }
    }
}

/// Runs `body` with one helper thread spinning on `h`.
fn with_spinning_helper(h: &Handoff, body: impl FnOnce()) {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| spin_on(h, &stop));
        while h.spinners.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        body();
        stop.store(true, Ordering::Release);
    });
}

#[test]
fn without_a_spinning_helper_the_caller_runs_alone() {
    let h = Handoff::new();
    let calls = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let shared = h.share(&|p: usize| {
        calls[p].fetch_add(1, Ordering::Relaxed);
    });
    assert!(!shared);
    assert_eq!(calls[0].load(Ordering::Relaxed), 1);
    assert_eq!(calls[1].load(Ordering::Relaxed), 0);
    assert!(!h.job_posted());
}

#[test]
fn both_participants_run_and_every_item_is_done_once() {
    let h = Handoff::new();
    with_spinning_helper(&h, || {
        for round in 0..200 {
            let count = 1 + round % 70;
            let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            let claims = TwoEndedClaims::new(count).unwrap();
            let helper_started = AtomicBool::new(false);
            let drain = |p: usize| {
                if p == 1 {
                    helper_started.store(true, Ordering::Release);
                } else {
                    // Both participants take items in every round.
                    await_flag(&helper_started);
                }
                while let Some(items) = claims.claim(p, 1) {
                    for i in items {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    }
                }
            };
            assert!(h.share(&drain));
            assert!(hits.iter().all(|n| n.load(Ordering::Relaxed) == 1));
            assert!(!h.job_posted());
        }
    });
}

#[test]
fn the_caller_waits_for_a_running_helper() {
    let h = Handoff::new();
    with_spinning_helper(&h, || {
        let started = AtomicBool::new(false);
        let finished = AtomicBool::new(false);
        h.share(&|p: usize| {
            if p == 1 {
                started.store(true, Ordering::Release);
                thread::sleep(Duration::from_millis(20));
                finished.store(true, Ordering::Release);
            } else {
                await_flag(&started);
            }
        });
        assert!(finished.load(Ordering::Acquire));
    });
}

#[test]
fn a_helpers_panic_reaches_the_caller() {
    let h = Handoff::new();
    with_spinning_helper(&h, || {
        let started = AtomicBool::new(false);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.share(&|p: usize| {
                if p == 1 {
                    started.store(true, Ordering::Release);
                    panic!("helper failed");
                }
                await_flag(&started);
            })
        }));
        let payload = outcome.expect_err("the helper's panic is raised in the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"helper failed"));
        // The hand-off is free for the next call, and the helper still serves it.
        let helper_ran = AtomicBool::new(false);
        h.share(&|p: usize| {
            if p == 1 {
                helper_ran.store(true, Ordering::Release);
            } else {
                await_flag(&helper_ran);
            }
        });
    });
}

#[test]
fn a_job_taken_after_its_caller_finished_is_never_run() {
    let h = Handoff::new();
    let taken = AtomicBool::new(false);
    let caller_left = AtomicBool::new(false);
    let helper_calls = AtomicUsize::new(0);
    thread::scope(|s| {
        // A helper that takes the job and then stalls (a descheduled thread) until its caller
        // has returned.
        let helper = s.spawn(|| {
            let _spinning = h.spinning();
            let job = loop {
                if let Some(job) = h.take() {
                    break job;
                }
                std::hint::spin_loop();
            };
            taken.store(true, Ordering::Release);
            // (Bounded, so that a caller that wrongly waits for this job fails the test below
            // instead of hanging it.)
            let stalled = std::time::Instant::now();
            while !caller_left.load(Ordering::Acquire) && stalled.elapsed() < Duration::from_secs(5)
            {
                thread::yield_now();
            }
            job.run();
        });
        while h.spinners.load(Ordering::Relaxed) == 0 {
            thread::yield_now();
        }
        let shared = h.share(&|p: usize| {
            if p == 1 {
                helper_calls.fetch_add(1, Ordering::Relaxed);
            } else {
                await_flag(&taken);
            }
        });
        assert!(shared);
        caller_left.store(true, Ordering::Release);
        helper.join().unwrap();
    });
    assert_eq!(helper_calls.load(Ordering::Relaxed), 0);
}

#[test]
fn concurrent_callers_each_get_all_their_items_done_once() {
    let h = Handoff::new();
    with_spinning_helper(&h, || {
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for round in 0..300 {
                        let count = 1 + round % 9;
                        let hits: Vec<AtomicUsize> =
                            (0..count).map(|_| AtomicUsize::new(0)).collect();
                        let claims = TwoEndedClaims::new(count).unwrap();
                        h.share(&|p: usize| {
                            while let Some(items) = claims.claim(p, 1) {
                                for i in items {
                                    hits[i].fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        });
                        assert!(hits.iter().all(|n| n.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
    });
}

#[test]
fn warm_up_is_claimed_once_until_a_helper_starts_or_stops() {
    let h = Handoff::new();
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

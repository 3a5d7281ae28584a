//! Long calls that Ctrl-C can stop.
//!
//! A long call runs on a scoped worker thread with a cancellation flag installed there
//! ([`crate::interrupt`]), while the calling thread, with the GIL released, waits for it and
//! every [`POLL_INTERVAL`] takes the GIL briefly to run pending signal handlers. When one raises
//! (KeyboardInterrupt from Ctrl-C), the flag is set, the worker stops at its next tile boundary,
//! and the handler's exception is returned. Short calls skip all this: they end sooner than a
//! user could press a key, and a thread start costs tens of microseconds.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::ConvError;
use crate::interrupt::{with_flag, CancelFlag};

/// How often a waiting call checks for pending signals.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Direct-method work (multiply-adds) from which a call is made interruptible: about 0.1 s of
/// one core's direct work, and far more than the 20-40 us a thread start costs for any method.
pub const INTERRUPTIBLE_WORK: usize = 1 << 28;

/// Runs `f` with the GIL released; when `long` is true, on a worker thread that a pending
/// signal (Ctrl-C) stops within about [`POLL_INTERVAL`] plus one tile of work.
///
/// # Errors
/// The error `f` returns, the exception a signal handler raised, or RuntimeError if the worker
/// thread panicked (a bug: every entry point validates before computing).
pub fn detach_interruptible<T, F>(py: Python<'_>, long: bool, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, ConvError> + Send,
{
    if !long {
        return py.detach(f).map_err(PyErr::from);
    }
    py.detach(|| {
        let flag = CancelFlag::default();
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
            let worker_flag = Arc::clone(&flag);
            let spawned = std::thread::Builder::new()
                .name("fastconv-call".into())
                .spawn_scoped(scope, move || {
                    let result = with_flag(worker_flag, f);
                    let _ = done_tx.send(());
                    result
                });
            let handle = match spawned {
                Ok(h) => h,
                // No thread to be had: nothing to poll from, so just run (uninterruptible).
                Err(_) => return Err(PyRuntimeError::new_err("could not start a worker thread")),
            };
            loop {
                match done_rx.recv_timeout(POLL_INTERVAL) {
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(raised) = Python::attach(|py| py.check_signals()) {
                            flag.store(true, Ordering::Relaxed);
                            let _ = handle.join();
                            return Err(raised);
                        }
                    }
                }
            }
            match handle.join() {
                Ok(result) => result.map_err(PyErr::from),
                Err(_) => Err(PyRuntimeError::new_err(
                    "internal error: a fastconv worker thread panicked",
                )),
            }
        })
    })
}

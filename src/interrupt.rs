//! Cooperative cancellation of long calls (Ctrl-C).
//!
//! The binding layer runs a long call on a scoped worker thread with a fresh [`CancelFlag`]
//! installed there ([`with_flag`]), while the calling thread waits and polls for pending
//! signals. The core reads the flag once per call with [`current`] (on the thread that entered
//! the core, before fanning work out to the pool), hands the [`Cancel`] handle to every
//! participant, and they check it between tiles: a set flag makes the remaining tiles no-ops
//! and the call return [`ConvError::Interrupted`]. Without an installed flag (`cargo test`,
//! short calls) the handle is inert and checking it costs one branch.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{ConvError, Result};

/// A per-call flag that asks the call's participants to stop.
pub type CancelFlag = Arc<AtomicBool>;

thread_local! {
    static CURRENT: RefCell<Option<CancelFlag>> = const { RefCell::new(None) };
}

/// The cancellation handle of one call, cheap to clone and to check.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Option<CancelFlag>);

impl Cancel {
    /// A handle that is never cancelled.
    pub fn never() -> Self {
        Cancel(None)
    }

    /// Whether the call has been asked to stop.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// `Err(Interrupted)` when the call has been asked to stop (its output is then incomplete
    /// and must be discarded), `Ok(())` otherwise.
    ///
    /// # Errors
    /// [`ConvError::Interrupted`] when cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(ConvError::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// The handle of the call running on this thread (inert when none was installed).
pub fn current() -> Cancel {
    CURRENT.with(|c| Cancel(c.borrow().clone()))
}

/// Runs `f` with `flag` installed as this thread's cancellation flag.
pub fn with_flag<R>(flag: CancelFlag, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<CancelFlag>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(flag));
    let _restore = Restore(previous);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inert_without_a_flag() {
        assert!(!current().is_cancelled());
        assert!(current().check().is_ok());
    }

    #[test]
    fn installed_flag_is_seen_and_restored() {
        let flag = CancelFlag::default();
        with_flag(Arc::clone(&flag), || {
            let c = current();
            assert!(!c.is_cancelled());
            flag.store(true, Ordering::Relaxed);
            assert_eq!(c.check(), Err(ConvError::Interrupted));
        });
        assert!(!current().is_cancelled());
    }
}

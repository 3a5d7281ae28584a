//! The one error type of the pure-Rust core.
//!
//! Every entry point validates its arguments and returns one of these before any unsafe code
//! runs; the binding layer maps each variant to the Python exception class the peer raises.

use thiserror::Error;

/// Everything that can go wrong in a convolution call.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConvError {
    /// Argument values that are inconsistent with each other (NumPy/SciPy raise `ValueError`).
    #[error("{0}")]
    Value(String),
    /// The result would not fit in memory or its size overflows `usize` (`MemoryError`).
    #[error("{0}")]
    Memory(String),
    /// The call was interrupted (a pending signal such as Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl ConvError {
    /// Shorthand for a [`ConvError::Value`] with a formatted message.
    pub fn value(msg: impl Into<String>) -> Self {
        ConvError::Value(msg.into())
    }
}

/// Result alias used throughout the core.
pub type Result<T> = std::result::Result<T, ConvError>;

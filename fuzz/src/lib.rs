//! Shared code of the fastconv fuzz targets: a decoder that turns fuzz bytes into bounded
//! shapes, parameters and values, and a naive reference correlation written from the
//! definition (`out[i] = sum_j x[start + i + j] * w[j]`, zero outside the input) that results
//! are checked against.
//!
//! The `conv` and `pool` targets check the neural-network core (`fastconv::nn`) against
//! float64 loops of their own ([`conv`], [`pool`], helpers in [`nn_common`]).
//!
//! Each target calls one `run_*` function. A target fails (libFuzzer reports a crash) when
//! the core panics, aborts or overflows an integer (the fuzz build enables overflow checks and
//! debug assertions), or when a result disagrees with the reference.

#![deny(unsafe_code)]

pub mod check;
pub mod conv;
pub mod input;
pub mod nn_common;
pub mod pool;
pub mod reference;

pub use check::{run_correlate, run_layout, run_plan};
pub use conv::run_conv;
pub use pool::run_pool;

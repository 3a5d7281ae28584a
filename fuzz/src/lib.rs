//! Shared code of the fastconv fuzz targets: a decoder that turns fuzz bytes into bounded
//! shapes, parameters and values, and a naive reference correlation written from the
//! definition (`out[i] = sum_j x[start + i + j] * w[j]`, zero outside the input) that results
//! are checked against.
//!
//! Each target calls one `run_*` function. A target fails (libFuzzer reports a crash) when
//! the core panics, aborts or overflows an integer (the fuzz build enables overflow checks and
//! debug assertions), or when a result disagrees with the reference.

#![deny(unsafe_code)]

pub mod check;
pub mod input;
pub mod reference;

pub use check::{run_correlate, run_layout, run_plan};

//! fastconv: fast direct convolution for NumPy arrays.
//!
//! The crate is a pure-Rust core ([`direct`], [`geometry`], [`simd`], [`parallel`]) with no
//! Python types in it, plus one thin PyO3 binding layer in [`python`] behind the `python`
//! feature, so `cargo test --no-default-features` tests the core without an interpreter.

pub mod direct;
pub mod dispatch;
pub mod element;
pub mod error;
pub mod fft;
pub mod geometry;
pub mod handoff;
pub mod interrupt;
pub mod method;
pub mod nn;
pub mod parallel;
pub mod rows;
pub mod scratch;
pub mod simd;

#[cfg(feature = "python")]
pub mod python;

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod fft_tests;
#[cfg(test)]
mod test_values;

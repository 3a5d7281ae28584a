//! FFT plans, made once per length and shared by every thread.
//!
//! realfft and rustfft planners cache their plans; one planner per float type sits behind a
//! mutex that is held only while a plan is looked up, never while it runs. Plans are
//! `Arc<dyn ...>`, `Send + Sync`, and carry their own SIMD choice (rustfft detects AVX/SSE
//! once when planning).

use std::sync::{Arc, Mutex, OnceLock};

use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftNum, FftPlanner};

use crate::element::Element;

/// Both planners of one float type.
pub struct Planners<T: FftNum> {
    real: Mutex<RealFftPlanner<T>>,
    complex: Mutex<FftPlanner<T>>,
}

impl<T: FftNum> Planners<T> {
    fn new() -> Self {
        Planners {
            real: Mutex::new(RealFftPlanner::new()),
            complex: Mutex::new(FftPlanner::new()),
        }
    }

    /// Real-to-complex forward transform of length `n`.
    pub fn r2c(&self, n: usize) -> Arc<dyn RealToComplex<T>> {
        lock(&self.real).plan_fft_forward(n)
    }

    /// Complex-to-real inverse transform of length `n` (unnormalised).
    pub fn c2r(&self, n: usize) -> Arc<dyn ComplexToReal<T>> {
        lock(&self.real).plan_fft_inverse(n)
    }

    /// Complex transform of length `n`, forward or inverse (unnormalised).
    pub fn complex(&self, n: usize, inverse: bool) -> Arc<dyn Fft<T>> {
        let mut planner = lock(&self.complex);
        if inverse {
            planner.plan_fft_inverse(n)
        } else {
            planner.plan_fft_forward(n)
        }
    }
}

fn lock<P>(m: &Mutex<P>) -> std::sync::MutexGuard<'_, P> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Float types the FFT path computes in, each with its process-wide planners.
pub trait FftFloat: FftNum + Element + num_traits::Float {
    /// The planners for this type.
    fn planners() -> &'static Planners<Self>;
}

impl FftFloat for f32 {
    fn planners() -> &'static Planners<f32> {
        static P: OnceLock<Planners<f32>> = OnceLock::new();
        P.get_or_init(Planners::new)
    }
}

impl FftFloat for f64 {
    fn planners() -> &'static Planners<f64> {
        static P: OnceLock<Planners<f64>> = OnceLock::new();
        P.get_or_init(Planners::new)
    }
}

/// Shorthand for a complex number of an FFT float type.
pub type C<T> = Complex<T>;

//! Runs a plan with a chosen method: direct, whole-array FFT, overlap-save, or `auto`.

use std::mem::MaybeUninit;

use num_complex::Complex;

use crate::direct::{self, ArrayRef, Orientation, Plan};
use crate::error::{ConvError, Result};
use crate::fft::{self, layout::FftLayout};
use crate::method::{choose, estimate, Kind, Method};
use crate::simd::{HasRowKernel, Isa};

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Let the cost model choose (direct whenever an input is not finite).
    Auto,
    /// An FFT method: the cheaper of one whole-array transform and overlap-save tiles.
    AnyFft,
    /// This method.
    Exactly(Method),
}

impl Request {
    /// Parses "auto", "direct", "fft", "fft_any" or "oa" (with optional tile lengths for "oa").
    ///
    /// # Errors
    /// [`ConvError::Value`] for another name.
    pub fn parse(name: &str, block: Option<Vec<usize>>) -> Result<Request> {
        Ok(match name {
            "auto" => Request::Auto,
            "fft_any" => Request::AnyFft,
            "direct" => Request::Exactly(Method::Direct),
            "fft" => Request::Exactly(Method::Fft),
            "oa" => Request::Exactly(Method::OverlapSave(block.unwrap_or_default())),
            other => {
                return Err(ConvError::value(format!(
                    "method must be 'auto', 'direct', 'fft', 'fft_any' or 'oa', got {other:?}"
                )))
            }
        })
    }
}

/// Element types every method can run on.
pub trait Computable: HasRowKernel {
    /// Which cost constants apply.
    const KIND: Kind;
    /// Runs an FFT layout (an error for integers).
    ///
    /// # Errors
    /// As [`fft::correlate_real_into`]; [`ConvError::Value`] for integers.
    fn fft_into(
        plan: &Plan,
        layout: &FftLayout,
        x: ArrayRef<'_, Self>,
        w: ArrayRef<'_, Self>,
        orient: Orientation,
        threads: usize,
        out: &mut [MaybeUninit<Self>],
    ) -> Result<()>;
    /// True when no element is NaN or infinite.
    fn all_finite(data: &[Self]) -> bool;
}

/// Elements per chunk of [`all_chunks`]: a few KiB, so a NaN early in a huge array still
/// ends the scan early.
const FINITE_CHUNK: usize = 1024;

/// Whether `test` holds for every element. Within a chunk the results are AND-ed without an
/// early exit, which vectorises (a short-circuiting `all` stays one branch per element, and
/// took ~0.5 ns per element: 0.14 ms of a 1.3 ms 512x512 FFT convolution).
#[inline]
fn all_chunks<T: Copy>(data: &[T], test: impl Fn(T) -> bool + Copy) -> bool {
    data.chunks(FINITE_CHUNK)
        .all(|chunk| chunk.iter().fold(true, |ok, &v| ok & test(v)))
}

/// Elements per parallel task of [`all_finite_parallel`]; smaller inputs are scanned by the
/// calling thread.
const PARALLEL_SCAN: usize = 1 << 16;

/// [`Computable::all_finite`] over `threads` threads for large inputs: `auto`'s scan of a
/// 2 MiB float64 image took ~0.1 ms on one thread, 5% of the FFT convolution it guards.
fn all_finite_parallel<T: Computable>(data: &[T], threads: usize) -> bool {
    if threads <= 1 || data.len() < 2 * PARALLEL_SCAN {
        return T::all_finite(data);
    }
    match crate::parallel::pool(threads) {
        Ok(pool) => pool.install(|| {
            use rayon::prelude::*;
            data.par_chunks(PARALLEL_SCAN).all(T::all_finite)
        }),
        Err(_) => T::all_finite(data),
    }
}

macro_rules! real_computable {
    ($t:ty, $kind:expr) => {
        impl Computable for $t {
            const KIND: Kind = $kind;
            fn fft_into(
                plan: &Plan,
                layout: &FftLayout,
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Result<()> {
                fft::correlate_real_into(plan, layout, x, w, orient, threads, out)
            }
            fn all_finite(data: &[Self]) -> bool {
                all_chunks(data, |v| v.is_finite())
            }
        }
    };
}
real_computable!(f32, Kind::F32);
real_computable!(f64, Kind::F64);

macro_rules! complex_computable {
    ($t:ty, $kind:expr) => {
        impl Computable for Complex<$t> {
            const KIND: Kind = $kind;
            fn fft_into(
                plan: &Plan,
                layout: &FftLayout,
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Result<()> {
                fft::correlate_complex_into(plan, layout, x, w, orient, threads, out)
            }
            fn all_finite(data: &[Self]) -> bool {
                all_chunks(data, |v| v.re.is_finite() & v.im.is_finite())
            }
        }
    };
}
complex_computable!(f32, Kind::C64);
complex_computable!(f64, Kind::C128);

impl Computable for i64 {
    const KIND: Kind = Kind::I64;
    fn fft_into(
        _: &Plan,
        _: &FftLayout,
        _: ArrayRef<'_, Self>,
        _: ArrayRef<'_, Self>,
        _: Orientation,
        _: usize,
        _: &mut [MaybeUninit<Self>],
    ) -> Result<()> {
        Err(ConvError::value(
            "FFT methods need float or complex inputs; integers use 'direct'",
        ))
    }
    fn all_finite(_: &[Self]) -> bool {
        true
    }
}

/// The method that will run for `request` (the cost model's choice for `Auto`, turned to
/// direct when an input holds NaN or infinity, which an FFT would spread everywhere).
///
/// The choice is made for the machine's core count, not the call's thread count, so that a
/// result never depends on `workers` (each method is thread-count invariant on its own, but
/// two methods round differently).
///
/// `threads` only splits the NaN/Inf scan of the inputs (a yes/no answer, the same for every
/// thread count).
pub fn resolve<T: Computable>(
    request: &Request,
    plan: &Plan,
    x: &[T],
    w: &[T],
    isa: Isa,
    threads: usize,
) -> Method {
    let cores = crate::parallel::available_cores();
    match request {
        Request::Exactly(m) => m.clone(),
        Request::AnyFft => {
            let c = estimate(plan, T::KIND, isa, cores);
            if c.oa < c.fft {
                Method::OverlapSave(c.oa_block)
            } else {
                Method::Fft
            }
        }
        Request::Auto => match choose(plan, T::KIND, isa, cores) {
            Method::Direct => Method::Direct,
            _ if !(all_finite_parallel(x, threads) && T::all_finite(w)) => Method::Direct,
            other => other,
        },
    }
}

/// Runs `plan` with `method` into `out` (every element written on `Ok`).
///
/// # Errors
/// As the method's own entry point.
#[allow(clippy::too_many_arguments)]
pub fn correlate_with<T: Computable>(
    method: &Method,
    isa: Isa,
    plan: &Plan,
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<T>],
) -> Result<()> {
    let real = matches!(T::KIND, Kind::F32 | Kind::F64);
    match method {
        Method::Direct => direct::correlate_into(isa, plan, x, w, orient, threads, out),
        Method::Fft => {
            let layout = FftLayout::whole(&plan.axes, real);
            T::fft_into(plan, &layout, x, w, orient, threads, out)
        }
        Method::OverlapSave(block) => {
            let block = if block.is_empty() {
                crate::method::overlap_save_block(plan)
            } else {
                block.clone()
            };
            let layout = FftLayout::overlap_save(&plan.axes, &block, real)?;
            T::fft_into(plan, &layout, x, w, orient, threads, out)
        }
    }
}

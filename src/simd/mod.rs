//! Row kernels and the choice among them.
//!
//! A *row kernel* computes one stretch of one output row of an N-D correlation: every
//! contributing (input row, kernel row) pair is summed in a fixed order, so the result of an
//! element never depends on how rows were split into tiles or threads. The scalar kernel is
//! always built and is the oracle for the others; the instruction set is detected once, and
//! `FASTCONV_ISA=scalar` (or `avx2`) overrides the choice so tests can force every path.

#[cfg(target_arch = "x86_64")]
pub mod blocked;
pub mod compiled;
pub mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx512;

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use num_complex::Complex;

use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::geometry::AxisGeometry;

/// One contribution to an output row: an input row (length `n`) and the kernel row (length `k`)
/// that slides along it.
pub type RowPair<'a, T> = (&'a [T], &'a [T]);

/// Computes `out[o] = sum over pairs, sum over taps j of x[start + i0 + o + j] * w[j]` for every
/// `o` in `0..out.len()`, leaving out taps that fall outside the input row.
///
/// `out` may be uninitialised on entry: a kernel writes every one of its elements.
pub type RowKernel<T> =
    fn(pairs: &[RowPair<'_, T>], g: &AxisGeometry, i0: usize, out: &mut [MaybeUninit<T>]);

/// The instruction sets a kernel can be built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust, auto-vectorised by the compiler for the baseline target.
    Scalar,
    /// x86-64 AVX2 with fused multiply-add.
    Avx2Fma,
    /// x86-64 AVX-512F (512-bit vectors, lane masks) with fused multiply-add.
    Avx512,
}

impl Isa {
    /// Parses a name of [`Isa::name`]; an ISA this CPU lacks maps to the best it has.
    ///
    /// # Errors
    /// [`ConvError::Value`] for an unknown name.
    pub fn parse(name: &str) -> Result<Isa> {
        let wanted = match name {
            "scalar" => Isa::Scalar,
            "avx2" => Isa::Avx2Fma,
            "avx512" => Isa::Avx512,
            other => {
                return Err(ConvError::value(format!(
                    "isa must be 'scalar', 'avx2' or 'avx512', got {other:?}"
                )))
            }
        };
        let supported = supported_isas();
        Ok(if supported.contains(&wanted) {
            wanted
        } else {
            supported[supported.len() - 1]
        })
    }

    /// The lower-case name used by `FASTCONV_ISA` and reported to Python.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2Fma => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

fn detect() -> Isa {
    let best = best_supported();
    // A request for an ISA this CPU lacks falls back to what it has, never to a crash.
    match std::env::var("FASTCONV_ISA") {
        Ok(name) => Isa::parse(&name).unwrap_or(best),
        Err(_) => best,
    }
}

fn best_supported() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx2") && has!("fma") {
            return Isa::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Isa::Avx2Fma;
        }
    }
    Isa::Scalar
}

/// Every instruction set this CPU can run, the portable one first.
pub fn supported_isas() -> Vec<Isa> {
    let best = best_supported();
    [Isa::Scalar, Isa::Avx2Fma, Isa::Avx512]
        .into_iter()
        .filter(|&isa| {
            isa == Isa::Scalar || isa == Isa::Avx2Fma && best != Isa::Scalar || isa == best
        })
        .collect()
}

/// The instruction set in use for this process, detected once.
pub fn active_isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(detect)
}

/// Element types that know their fastest row kernel.
pub trait HasRowKernel: Element {
    /// The row kernel for `isa` (the scalar one where no SIMD kernel exists for this type).
    fn row_kernel(isa: Isa) -> RowKernel<Self>;
}

impl HasRowKernel for f32 {
    fn row_kernel(isa: Isa) -> RowKernel<Self> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => x86_avx2::row_f32,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86_avx512::row_f32,
            _ => scalar::row::<f32>,
        }
    }
}

impl HasRowKernel for f64 {
    fn row_kernel(isa: Isa) -> RowKernel<Self> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => x86_avx2::row_f64,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86_avx512::row_f64,
            _ => scalar::row::<f64>,
        }
    }
}

macro_rules! scalar_only {
    ($($t:ty),*) => {$(
        impl HasRowKernel for $t {
            fn row_kernel(_isa: Isa) -> RowKernel<Self> {
                scalar::row::<$t>
            }
        }
    )*};
}
scalar_only!(i64, Complex<f32>, Complex<f64>);

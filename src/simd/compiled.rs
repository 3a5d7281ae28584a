//! Code compiled once per instruction set from one generic body.
//!
//! A [`Kernel`] is a value whose `run` is `#[inline(always)]`; [`dispatch`] calls it from a
//! function built with the chosen instruction set's target features, so the compiler
//! vectorises the same Rust for AVX-512, AVX2 or the baseline. The arithmetic is the same
//! in every build (no operation is fused or reordered by the features), so results are
//! identical whichever runs.

use super::Isa;

/// A computation [`dispatch`] can compile for several instruction sets.
pub trait Kernel {
    /// What the computation returns.
    type Output;
    /// Runs it; must be `#[inline(always)]` so it is compiled with the caller's features.
    fn run(self) -> Self::Output;
}

/// Runs `k` with the code compiled for `isa` (which must be one this CPU supports: callers
/// pass [`super::active_isa`] or, in tests, one of [`super::supported_isas`]).
#[inline]
pub fn dispatch<K: Kernel>(isa: Isa, k: K) -> K::Output {
    match isa {
        // SAFETY: `isa` is an instruction set this CPU supports (see above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { run_avx512(k) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { run_avx2(k) },
        _ => k.run(),
    }
}

/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn run_avx512<K: Kernel>(k: K) -> K::Output {
    k.run()
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<K: Kernel>(k: K) -> K::Output {
    k.run()
}

//! The batch-norm training statistics of `f32` channels on AVX-512, written with intrinsics:
//! the compiler vectorised the generic code's variance pass in 128-bit registers. This kernel
//! does the same additions in the same order as the generic `Sums` (pieces of 32 fill two
//! halves of 16 lanes, a lone piece of 16 goes to the low half in even rows and the high
//! half in odd rows, the halves and lanes are added in the same fixed tree), so its results
//! are bitwise equal; it takes rows whose length is a multiple of 16 (no narrower pieces),
//! the generic code the rest.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m512, __m512d, _mm256_add_pd, _mm256_castpd_ps, _mm256_storeu_pd, _mm512_add_pd,
    _mm512_castpd512_pd256, _mm512_castps512_ps256, _mm512_castps_pd, _mm512_cvtps_pd,
    _mm512_extractf64x4_pd, _mm512_loadu_ps, _mm512_mul_pd, _mm512_set1_pd, _mm512_setzero_pd,
    _mm512_sub_pd,
};

use super::NormShape;
use crate::simd::Isa;

/// Channel `c`'s mean and biased variance, as `Moments` computes them, when this path takes
/// the shape (AVX-512, rows a multiple of 16 long); `None` otherwise.
pub(super) fn moments(isa: Isa, x: &[f32], shape: NormShape, c: usize) -> Option<(f64, f64)> {
    if !takes(isa, shape) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let count = shape.per_channel() as f64;
        // SAFETY: AVX-512F is available (`takes`); rows are whole pieces of 16.
        let sum = unsafe { reduce::<false>(x, shape, c, 0.0) };
        let mean = sum / count;
        // SAFETY: as above.
        let sq = unsafe { reduce::<true>(x, shape, c, mean) };
        Some((mean, sq / count))
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Whether this kernel takes `shape` on `isa`.
fn takes(isa: Isa, shape: NormShape) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        matches!(isa, Isa::Avx512) && shape.inner().is_multiple_of(16) && shape.inner() > 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (isa, shape);
        false
    }
}

/// `tree_sum(pair_sum(lo, hi))` of two halves of 16 `f64` lanes (each two vectors): lane j
/// of the halves added, then lanes j and j + 8, j + 4, j + 2, j + 1, as the generic tree does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn halves_total(lo: [__m512d; 2], hi: [__m512d; 2]) -> f64 {
    let v8 = _mm512_add_pd(_mm512_add_pd(lo[0], hi[0]), _mm512_add_pd(lo[1], hi[1]));
    let v4 = _mm256_add_pd(_mm512_castpd512_pd256(v8), _mm512_extractf64x4_pd::<1>(v8));
    let mut v = [0f64; 4];
    // SAFETY: four lanes into four elements.
    unsafe { _mm256_storeu_pd(v.as_mut_ptr(), v4) };
    (v[0] + v[2]) + (v[1] + v[3])
}

/// The 16 `f32` values of a piece as two vectors of `f64` (lanes 0-7, 8-15).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn widen(v: __m512) -> [__m512d; 2] {
    [
        _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
            _mm512_castps_pd(v),
        ))),
    ]
}

/// `half + piece`, lane by lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn added(half: [__m512d; 2], piece: [__m512d; 2]) -> [__m512d; 2] {
    [
        _mm512_add_pd(half[0], piece[0]),
        _mm512_add_pd(half[1], piece[1]),
    ]
}

/// `Sums` over channel `c` of `x` (SQUARED: of `(x - mean)^2`, the product rounded before
/// the addition), then `+ 0.0` three times for the generic total's empty narrower lanes.
///
/// # Safety
/// AVX-512F must be available; every row's length is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn reduce<const SQUARED: bool>(x: &[f32], shape: NormShape, c: usize, mean: f64) -> f64 {
    let m = _mm512_set1_pd(mean);
    let term = |v: __m512| {
        let [a, b] = widen(v);
        if SQUARED {
            let (da, db) = (_mm512_sub_pd(a, m), _mm512_sub_pd(b, m));
            [_mm512_mul_pd(da, da), _mm512_mul_pd(db, db)]
        } else {
            [a, b]
        }
    };
    // The halves as locals (a reference chosen at run time would keep them in memory); every
    // row of the channel has a lone piece of 16 or none, so `odd` alternates with the rows.
    let (mut lo, mut hi) = ([_mm512_setzero_pd(); 2], [_mm512_setzero_pd(); 2]);
    let mut odd = false;
    for row in shape.rows(x, c) {
        let mut rest = row;
        while rest.len() >= 32 {
            // SAFETY: 32 values in bounds.
            let (a, b) = unsafe {
                (
                    _mm512_loadu_ps(rest.as_ptr()),
                    _mm512_loadu_ps(rest.as_ptr().add(16)),
                )
            };
            lo = added(lo, term(a));
            hi = added(hi, term(b));
            rest = &rest[32..];
        }
        if rest.len() >= 16 {
            // SAFETY: 16 values in bounds.
            let a = term(unsafe { _mm512_loadu_ps(rest.as_ptr()) });
            if odd {
                hi = added(hi, a);
            } else {
                lo = added(lo, a);
            }
            odd = !odd;
        }
    }
    ((halves_total(lo, hi) + 0.0) + 0.0) + 0.0
}

//! AVX2 + FMA row kernels for `f32` (8 lanes) and `f64` (4 lanes).
//!
//! The kernel body is [`crate::register_blocked_row_kernel`]; this file supplies the AVX2
//! intrinsics and the masked edge update (masked load, FMA, blend).

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::geometry::AxisGeometry;
use crate::simd::RowPair;

fn detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

// Accumulators: 8 of the 16 ymm registers, enough to cover the FMA latency (4 cycles x 2
// ports) with room for the broadcast weight and the loads (inner loop checked in the assembly:
// one vbroadcastss and eight vfmadd231ps with memory operands).
crate::register_blocked_row_kernel!(
    features = "avx2,fma",
    detected = detected(),
    acc = 8,
    short = crate::simd::blocked::no_short_loop,
    row_f32,
    interior_f32,
    edges_f32,
    f32,
    8,
    __m256,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_setzero_ps,
    _mm256_fmadd_ps,
    masked_fma_f32,
    store_first_f32
);
crate::register_blocked_row_kernel!(
    features = "avx2,fma",
    detected = detected(),
    acc = 8,
    short = crate::simd::blocked::no_short_loop,
    row_f64,
    interior_f64,
    edges_f64,
    f64,
    4,
    __m256d,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_set1_pd,
    _mm256_setzero_pd,
    _mm256_fmadd_pd,
    masked_fma_f64,
    store_first_f64
);

/// `acc + x * w` in the lanes `l` with `0 <= first + l < n`, `acc` elsewhere; lanes outside
/// are never read. Callers keep `first` and `n` within +-2^30 (no overflow in 32-bit lanes).
///
/// # Safety
/// Needs AVX2 and FMA; `x` points at input index `first` of a row of `n` elements.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn masked_fma_f32(acc: __m256, x: *const f32, w: __m256, first: isize, n: isize) -> __m256 {
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let idx = _mm256_add_epi32(_mm256_set1_epi32(first as i32), lanes);
    let ge0 = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1));
    let ltn = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx);
    let mask = _mm256_and_si256(ge0, ltn);
    let xv = _mm256_maskload_ps(x, mask);
    _mm256_blendv_ps(acc, _mm256_fmadd_ps(xv, w, acc), _mm256_castsi256_ps(mask))
}

/// The `f64` counterpart of [`masked_fma_f32`] (4 lanes of 64 bits).
///
/// # Safety
/// As [`masked_fma_f32`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn masked_fma_f64(
    acc: __m256d,
    x: *const f64,
    w: __m256d,
    first: isize,
    n: isize,
) -> __m256d {
    let idx = _mm256_add_epi64(
        _mm256_set1_epi64x(first as i64),
        _mm256_setr_epi64x(0, 1, 2, 3),
    );
    let ge0 = _mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(-1));
    let ltn = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), idx);
    let mask = _mm256_and_si256(ge0, ltn);
    let xv = _mm256_maskload_pd(x, mask);
    _mm256_blendv_pd(acc, _mm256_fmadd_pd(xv, w, acc), _mm256_castsi256_pd(mask))
}

/// Stores the first `count` (< 8) lanes of `v` at `dst`; the memory past them is not touched.
///
/// # Safety
/// Needs AVX2; `dst` is valid for `count` writes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_first_f32(dst: *mut f32, v: __m256, count: usize) {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), idx);
    _mm256_maskstore_ps(dst, mask, v);
}

/// The `f64` counterpart of [`store_first_f32`] (`count` < 4).
///
/// # Safety
/// As [`store_first_f32`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_first_f64(dst: *mut f64, v: __m256d, count: usize) {
    let idx = _mm256_setr_epi64x(0, 1, 2, 3);
    let mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(count as i64), idx);
    _mm256_maskstore_pd(dst, mask, v);
}

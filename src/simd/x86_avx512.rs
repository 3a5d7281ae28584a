//! AVX-512F row kernels for `f32` (16 lanes) and `f64` (8 lanes).
//!
//! Same register-blocked body as AVX2 ([`crate::register_blocked_row_kernel`]) on 512-bit
//! vectors; edges use the native lane masks (masked load, masked FMA). On cores with full-width
//! 512-bit FMA units this doubles the multiply-adds per instruction.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::geometry::AxisGeometry;
use crate::simd::RowPair;

fn detected() -> bool {
    is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma")
}

// Accumulators: 8 of the 32 zmm registers, as for AVX2 (latency 4 x 2 ports).
crate::register_blocked_row_kernel!(
    features = "avx512f,fma",
    detected = detected(),
    acc = 8,
    short = crate::simd::blocked::no_short_loop,
    row_f32,
    interior_f32,
    edges_f32,
    f32,
    16,
    __m512,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_setzero_ps,
    _mm512_fmadd_ps,
    masked_fma_f32,
    store_first_f32
);
crate::register_blocked_row_kernel!(
    features = "avx512f,fma",
    detected = detected(),
    acc = 8,
    short = short_f64,
    row_f64,
    interior_f64,
    edges_f64,
    f64,
    8,
    __m512d,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_set1_pd,
    _mm512_setzero_pd,
    _mm512_fmadd_pd,
    masked_fma_f64,
    store_first_f64
);

/// Accumulators of the short-kernel loops (as in the register-blocked body).
const SHORT_ACC: usize = 8;

/// Defines a short-kernel interior loop (instantiated for `f64` only: the `f32` build, sixteen
/// lanes and fifteen shifts, ran 4-7x slower than the register-blocked loop, 100 against
/// 15 us for 1e5 * 3): for kernels of at most one vector of taps, each block
/// of `SHORT_ACC` vectors of outputs loads its inputs once (`SHORT_ACC + 1` vectors, the last
/// through a mask to the `k - 1` elements the taps reach) and forms tap `j`'s shifted inputs
/// with `valign` instead of `SHORT_ACC` unaligned loads per tap, most of which split across
/// cache lines. The multiply-adds are the register-blocked body's, in its order (pair, tap,
/// accumulator), so every output rounds exactly as before.
macro_rules! short_kernel_loop {
    ($name:ident, $t:ty, $lanes:expr, $vec:ty, $mask:ty, $loadu:ident, $maskz_loadu:ident,
     $storeu:ident, $set1:ident, $zero:ident, $fmadd:ident, $align:ident, $($j:literal)*) => {
        /// Whole blocks of interior outputs from input index `base0` for kernels of at most
        /// one vector of taps (see [`short_kernel_loop`]); returns the outputs written (0 for
        /// longer kernels).
        ///
        /// # Safety
        /// Needs AVX-512F and FMA; every window of these outputs lies inside each pair's `x`
        /// (`x[base0 + o..base0 + o + k]` for output `o`), and each `w` has `k` taps.
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn $name(
            pairs: &[RowPair<'_, $t>],
            k: usize,
            base0: usize,
            out: &mut [MaybeUninit<$t>],
        ) -> usize {
            const BLOCK: usize = SHORT_ACC * $lanes;
            if k == 0 || k > $lanes {
                return 0;
            }
            // The last vector of a block holds the k - 1 inputs past the block's windows.
            let tail = ((1u32 << (k - 1)) - 1) as $mask;
            let m = out.len();
            let mut o = 0;
            while o + BLOCK <= m {
                let mut acc: [$vec; SHORT_ACC] = [$zero(); SHORT_ACC];
                for (x, w) in pairs {
                    let xp = x.as_ptr().add(base0 + o);
                    let v: [$vec; SHORT_ACC + 1] = std::array::from_fn(|a| {
                        if a < SHORT_ACC {
                            $loadu(xp.add(a * $lanes))
                        } else {
                            // (a pointer past the row when k is 1: nothing is read)
                            $maskz_loadu(tail, xp.wrapping_add(a * $lanes))
                        }
                    });
                    for j in 0..k {
                        let wv = $set1(*w.get_unchecked(j));
                        match j {
                            $($j => {
                                for a in 0..SHORT_ACC {
                                    let xj = $align::<$j>(v[a + 1], v[a]);
                                    acc[a] = $fmadd(xj, wv, acc[a]);
                                }
                            })*
                            _ => {
                                for a in 0..SHORT_ACC {
                                    acc[a] = $fmadd(v[a], wv, acc[a]);
                                }
                            }
                        }
                    }
                }
                let op = out.as_mut_ptr().cast::<$t>().add(o);
                for (a, accv) in acc.iter().enumerate() {
                    $storeu(op.add(a * $lanes), *accv);
                }
                o += BLOCK;
            }
            o
        }
    };
}

short_kernel_loop!(
    short_f64, f64, 8, __m512d, __mmask8, _mm512_loadu_pd, _mm512_maskz_loadu_pd,
    _mm512_storeu_pd, _mm512_set1_pd, _mm512_setzero_pd, _mm512_fmadd_pd, align_f64,
    1 2 3 4 5 6 7
);

/// Lanes `J..J + 8` of the 16 lanes `lo, hi` (`_mm512_alignr_epi64(hi, lo, J)`), as one
/// `valignq`. Through the intrinsic, LLVM rewrote the shift as a two-source permute
/// (`vpermt2pd`, plus a register copy, since it overwrites an input), which made the
/// short-kernel loop 4-14% slower on Zen 4 (1e4 * 3 float64, the two builds alternating in
/// one process: 1.98 against 1.89 us, 1.80 against 1.55 us).
///
/// # Safety
/// Needs AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn align_f64<const J: i32>(hi: __m512d, lo: __m512d) -> __m512d {
    let shifted: __m512d;
    // SAFETY: a register-only instruction of AVX-512F, which the caller guarantees.
    unsafe {
        std::arch::asm!(
            "valignq {out}, {hi}, {lo}, {j}",
            out = lateout(zmm_reg) shifted,
            hi = in(zmm_reg) hi,
            lo = in(zmm_reg) lo,
            j = const J,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    shifted
}

/// Bit `l` set for the lanes `l < lanes` with `0 <= first + l < n`.
#[inline]
fn lane_bits(first: isize, n: isize, lanes: isize) -> u32 {
    let lo = (-first).clamp(0, lanes);
    let hi = (n - first).clamp(lo, lanes);
    let below_hi = if hi >= 32 { u32::MAX } else { (1u32 << hi) - 1 };
    below_hi & !((1u32 << lo) - 1)
}

/// `acc + x * w` in the lanes `l` with `0 <= first + l < n`, `acc` elsewhere; lanes outside
/// are never read.
///
/// # Safety
/// Needs AVX-512F; `x` points at input index `first` of a row of `n` elements.
#[inline]
#[target_feature(enable = "avx512f,fma")]
unsafe fn masked_fma_f32(acc: __m512, x: *const f32, w: __m512, first: isize, n: isize) -> __m512 {
    let k = lane_bits(first, n, 16) as __mmask16;
    let xv = _mm512_maskz_loadu_ps(k, x);
    _mm512_mask3_fmadd_ps(xv, w, acc, k)
}

/// The `f64` counterpart of [`masked_fma_f32`] (8 lanes).
///
/// # Safety
/// As [`masked_fma_f32`].
#[inline]
#[target_feature(enable = "avx512f,fma")]
unsafe fn masked_fma_f64(
    acc: __m512d,
    x: *const f64,
    w: __m512d,
    first: isize,
    n: isize,
) -> __m512d {
    let k = lane_bits(first, n, 8) as __mmask8;
    let xv = _mm512_maskz_loadu_pd(k, x);
    _mm512_mask3_fmadd_pd(xv, w, acc, k)
}

/// Stores the first `count` (< 16) lanes of `v` at `dst`; the memory past them is not touched.
///
/// # Safety
/// Needs AVX-512F; `dst` is valid for `count` writes.
#[inline]
#[target_feature(enable = "avx512f,fma")]
unsafe fn store_first_f32(dst: *mut f32, v: __m512, count: usize) {
    _mm512_mask_storeu_ps(dst, ((1u32 << count) - 1) as __mmask16, v);
}

/// The `f64` counterpart of [`store_first_f32`] (`count` < 8).
///
/// # Safety
/// As [`store_first_f32`].
#[inline]
#[target_feature(enable = "avx512f,fma")]
unsafe fn store_first_f64(dst: *mut f64, v: __m512d, count: usize) {
    _mm512_mask_storeu_pd(dst, ((1u32 << count) - 1) as __mmask8, v);
}

#[cfg(test)]
mod tests {
    use super::lane_bits;

    #[test]
    fn lane_bits_cover_the_in_range_lanes() {
        assert_eq!(lane_bits(-3, 100, 8), 0b1111_1000);
        assert_eq!(lane_bits(95, 100, 8), 0b0001_1111);
        assert_eq!(lane_bits(0, 100, 16), 0xFFFF);
        assert_eq!(lane_bits(-2, 3, 8), 0b0001_1100);
    }
}

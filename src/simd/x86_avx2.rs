//! AVX2 + FMA row kernels for `f32` and `f64`.
//!
//! The interior is register-blocked: `ACC` vector accumulators hold `ACC * LANES` consecutive
//! outputs while every (pair, tap) is streamed through them with one broadcast of the weight and
//! one unaligned load of the input per accumulator, so the loop runs at the machine's load and
//! FMA throughput. The remainder runs one vector at a time, then lane by lane with scalar FMA,
//! and the edges use scalar FMA too: every element is `fma(x, w, acc)` over the same sequence of
//! terms whichever path computes it, so tiling never changes a result.

use std::arch::x86_64::*;

use crate::geometry::AxisGeometry;
use crate::simd::{scalar, RowPair};

/// Accumulators in the main block: 8 of the 16 ymm registers, enough to cover the FMA latency
/// (4 cycles x 2 ports) with room for the broadcast weight and the loads.
const ACC: usize = 8;

macro_rules! avx2_row_kernel {
    ($name:ident, $body:ident, $edges:ident, $t:ty, $lanes:expr, $vec:ty,
     $loadu:ident, $storeu:ident, $set1:ident, $zero:ident, $fmadd:ident,
     $lane_mask:ident, $maskload:ident, $blendv:ident, $cast_mask:ident) => {
        /// AVX2+FMA row kernel (see [`crate::simd::RowKernel`]); falls back to the scalar
        /// kernel on a CPU without AVX2 or FMA.
        pub fn $name(pairs: &[RowPair<'_, $t>], g: &AxisGeometry, i0: usize, out: &mut [$t]) {
            if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
                return scalar::row(pairs, g, i0, out);
            }
            // The unchecked loads below rely on every row having the geometry's lengths.
            if pairs.iter().any(|(x, w)| x.len() != g.n || w.len() != g.k) {
                return scalar::row(pairs, g, i0, out);
            }
            let (lo, hi) = g.interior();
            let end = i0 + out.len();
            let (lo, hi) = (lo.clamp(i0, end), hi.clamp(i0, end));
            let (lo, hi) = if lo < hi { (lo, hi) } else { (end, end) };
            // SAFETY: AVX2 and FMA were detected above; row lengths were checked above, and
            // `lo..hi` lies in the interior, where every window is inside its input row.
            unsafe {
                $edges(pairs, g, i0, &mut out[..lo - i0]);
                $body(pairs, g, lo, &mut out[lo - i0..hi - i0]);
                $edges(pairs, g, hi, &mut out[hi - i0..]);
            }
        }

        /// Outputs `i0..i0 + out.len()` whose windows leave the input: whole vectors of outputs
        /// with masked loads, updating only the lanes whose tap is in range (an out-of-range
        /// tap is left out, not multiplied by zero), then scalar FMA for a last partial vector.
        ///
        /// # Safety
        /// Needs AVX2 and FMA; each pair's `x` has `g.n` elements and `w` has `g.k`.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $edges(pairs: &[RowPair<'_, $t>], g: &AxisGeometry, i0: usize, out: &mut [$t]) {
            let m = out.len();
            // Lane indices are compared as signed integers: keep every index far from overflow.
            let fits = g.n < (1 << 30) && g.k < (1 << 30) && g.start.unsigned_abs() < (1 << 30);
            let whole = if fits { m - m % $lanes } else { 0 };
            let (n, k) = (g.n as isize, g.k as isize);
            let mut o = 0;
            while o < whole {
                let t = g.start + (i0 + o) as isize;
                let mut acc = $zero();
                for (x, w) in pairs {
                    for j in 0..k {
                        let first = t + j;
                        let last = first + $lanes - 1;
                        if last < 0 || first >= n {
                            continue;
                        }
                        let wv = $set1(*w.get_unchecked(j as usize));
                        let xp = x.as_ptr().wrapping_offset(first);
                        if first >= 0 && last < n {
                            acc = $fmadd($loadu(xp), wv, acc);
                        } else {
                            let mask = $lane_mask(first, n);
                            let xv = $maskload(xp, mask);
                            acc = $blendv(acc, $fmadd(xv, wv, acc), $cast_mask(mask));
                        }
                    }
                }
                $storeu(out.as_mut_ptr().add(o), acc);
                o += $lanes;
            }
            edges_fma(pairs, g, i0 + o, &mut out[o..]);
        }

        /// Interior outputs `i0..i0 + out.len()`.
        ///
        /// # Safety
        /// Needs AVX2 and FMA; every window of these outputs lies inside each pair's `x`,
        /// and each `w` has `g.k` taps.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $body(pairs: &[RowPair<'_, $t>], g: &AxisGeometry, i0: usize, out: &mut [$t]) {
            const BLOCK: usize = ACC * $lanes;
            let m = out.len();
            let base0 = (g.start + i0 as isize) as usize;
            let k = g.k;
            let mut o = 0;
            while o + BLOCK <= m {
                let mut acc: [$vec; ACC] = [$zero(); ACC];
                for (x, w) in pairs {
                    let xp = x.as_ptr().add(base0 + o);
                    for j in 0..k {
                        let wv = $set1(*w.get_unchecked(j));
                        let xj = xp.add(j);
                        for (a, accv) in acc.iter_mut().enumerate() {
                            *accv = $fmadd($loadu(xj.add(a * $lanes)), wv, *accv);
                        }
                    }
                }
                let op = out.as_mut_ptr().add(o);
                for (a, accv) in acc.iter().enumerate() {
                    $storeu(op.add(a * $lanes), *accv);
                }
                o += BLOCK;
            }
            while o + $lanes <= m {
                let mut accv = $zero();
                for (x, w) in pairs {
                    let xp = x.as_ptr().add(base0 + o);
                    for j in 0..k {
                        accv = $fmadd($loadu(xp.add(j)), $set1(*w.get_unchecked(j)), accv);
                    }
                }
                $storeu(out.as_mut_ptr().add(o), accv);
                o += $lanes;
            }
            for (oo, slot) in out.iter_mut().enumerate().skip(o) {
                let mut acc: $t = 0.0;
                for (x, w) in pairs {
                    let xs = &x[base0 + oo..base0 + oo + k];
                    for (&xv, &wv) in xs.iter().zip(w.iter()) {
                        acc = xv.mul_add(wv, acc);
                    }
                }
                *slot = acc;
            }
        }
    };
}

avx2_row_kernel!(
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
    lane_mask_8,
    _mm256_maskload_ps,
    _mm256_blendv_ps,
    _mm256_castsi256_ps
);
avx2_row_kernel!(
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
    lane_mask_4,
    _mm256_maskload_pd,
    _mm256_blendv_pd,
    _mm256_castsi256_pd
);

/// All-ones in each of 8 32-bit lanes `l` with `0 <= first + l < n` (callers keep both
/// values within +-2^30, so the arithmetic cannot overflow).
///
/// # Safety
/// Needs AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn lane_mask_8(first: isize, n: isize) -> __m256i {
    let idx = _mm256_add_epi32(_mm256_set1_epi32(first as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    let ge0 = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1));
    let ltn = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx);
    _mm256_and_si256(ge0, ltn)
}

/// All-ones in each of 4 64-bit lanes `l` with `0 <= first + l < n`.
///
/// # Safety
/// Needs AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn lane_mask_4(first: isize, n: isize) -> __m256i {
    let idx = _mm256_add_epi64(_mm256_set1_epi64x(first as i64), _mm256_setr_epi64x(0, 1, 2, 3));
    let ge0 = _mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(-1));
    let ltn = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), idx);
    _mm256_and_si256(ge0, ltn)
}

/// Clipped-tap outputs with scalar FMA, so edges round exactly like the vector lanes.
///
/// # Safety
/// Needs FMA (the `mul_add` calls compile to one instruction only with it enabled).
#[target_feature(enable = "avx2,fma")]
unsafe fn edges_fma<T: FmaScalar>(pairs: &[RowPair<'_, T>], g: &AxisGeometry, i0: usize, out: &mut [T]) {
    for (o, i) in out.iter_mut().zip(i0..) {
        let (jlo, jhi) = g.taps(i);
        let mut acc = T::default();
        if jlo < jhi {
            let base = (g.start + (i + jlo) as isize) as usize;
            for (x, w) in pairs {
                let xs = &x[base..base + (jhi - jlo)];
                for (&xv, &wv) in xs.iter().zip(&w[jlo..jhi]) {
                    acc = xv.fma(wv, acc);
                }
            }
        }
        *o = acc;
    }
}

/// Scalar types with a fused multiply-add.
trait FmaScalar: Copy + Default {
    fn fma(self, b: Self, c: Self) -> Self;
}

impl FmaScalar for f32 {
    #[inline(always)]
    fn fma(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
}

impl FmaScalar for f64 {
    #[inline(always)]
    fn fma(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
}

//! The register-blocked row kernel, written once for every x86 SIMD instruction set.
//!
//! The interior is register-blocked: `ACC` vector accumulators hold `ACC * LANES` consecutive
//! outputs while every (pair, tap) streams through them with one broadcast of the weight and one
//! unaligned load of the input per accumulator, so the loop runs at the machine's load and FMA
//! throughput. The remainder runs one vector at a time, then lane by lane with scalar FMA. Edge
//! outputs run a vector at a time with masked loads that update only the lanes whose tap is in
//! range. Every element is `fma(x, w, acc)` over the same sequence of terms whichever path
//! computes it, so tiling (and so the thread count) never changes a result.

use std::mem::MaybeUninit;

use crate::geometry::AxisGeometry;
use crate::simd::RowPair;

/// Instantiates a kernel: `row` (public entry), `body` (interior), `edges` (masked edges).
#[macro_export]
#[doc(hidden)]
macro_rules! register_blocked_row_kernel {
    (features = $feat:literal, detected = $detected:expr, acc = $accn:expr,
     short = $short:path, $name:ident, $body:ident, $edges:ident, $t:ty, $lanes:expr, $vec:ty,
     $loadu:ident, $storeu:ident, $set1:ident, $zero:ident, $fmadd:ident,
     $masked_fma:ident, $store_first:ident) => {
        /// Register-blocked SIMD row kernel (see [`crate::simd::RowKernel`]); falls back to the
        /// scalar kernel on a CPU without these instructions.
        pub fn $name(
            pairs: &[RowPair<'_, $t>],
            g: &AxisGeometry,
            i0: usize,
            out: &mut [MaybeUninit<$t>],
        ) {
            if !$detected {
                return $crate::simd::scalar::row(pairs, g, i0, out);
            }
            // The unchecked loads below rely on every row having the geometry's lengths.
            if pairs.iter().any(|(x, w)| x.len() != g.n || w.len() != g.k) {
                return $crate::simd::scalar::row(pairs, g, i0, out);
            }
            let (lo, hi) = g.interior();
            let end = i0 + out.len();
            let (lo, hi) = (lo.clamp(i0, end), hi.clamp(i0, end));
            let (lo, hi) = if lo < hi { (lo, hi) } else { (end, end) };
            // The interior kernel takes whole vectors; a last partial one joins the edges,
            // which handle partial vectors with masks instead of a latency-bound scalar loop.
            let hi = lo + (hi - lo) / $lanes * $lanes;
            // SAFETY: the instructions were detected above; row lengths were checked above, and
            // `lo..hi` lies in the interior, where every window is inside its input row.
            unsafe {
                $edges(pairs, g, i0, &mut out[..lo - i0]);
                $body(pairs, g, lo, &mut out[lo - i0..hi - i0]);
                $edges(pairs, g, hi, &mut out[hi - i0..]);
            }
        }

        /// Outputs `i0..i0 + out.len()` whose windows leave the input: vectors of outputs with
        /// masked loads, updating only the lanes whose tap is in range (an out-of-range tap is
        /// left out, not multiplied by zero); a last partial vector is stored through a mask.
        ///
        /// # Safety
        /// Needs the target features; each pair's `x` has `g.n` elements and `w` has `g.k`.
        #[target_feature(enable = $feat)]
        unsafe fn $edges(
            pairs: &[RowPair<'_, $t>],
            g: &AxisGeometry,
            i0: usize,
            out: &mut [MaybeUninit<$t>],
        ) {
            let m = out.len();
            // Lane indices are compared as signed integers: keep every index far from overflow.
            let fits = g.n < (1 << 30) && g.k < (1 << 30) && g.start.unsigned_abs() < (1 << 30);
            if !fits {
                return $crate::simd::blocked::edges_fma(pairs, g, i0, out);
            }
            let (n, k) = (g.n as isize, g.k as isize);
            let mut o = 0;
            while o < m {
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
                            acc = $masked_fma(acc, xp, wv, first, n);
                        }
                    }
                }
                let dst = out.as_mut_ptr().cast::<$t>().add(o);
                if o + $lanes <= m {
                    $storeu(dst, acc);
                } else {
                    $store_first(dst, acc, m - o);
                }
                o += $lanes;
            }
        }

        /// Interior outputs `i0..i0 + out.len()`.
        ///
        /// # Safety
        /// Needs the target features; every window of these outputs lies inside each pair's `x`,
        /// and each `w` has `g.k` taps.
        #[target_feature(enable = $feat)]
        unsafe fn $body(
            pairs: &[RowPair<'_, $t>],
            g: &AxisGeometry,
            i0: usize,
            out: &mut [MaybeUninit<$t>],
        ) {
            const ACC: usize = $accn;
            const BLOCK: usize = ACC * $lanes;
            let m = out.len();
            let base0 = (g.start + i0 as isize) as usize;
            let k = g.k;
            // Whole blocks of a short kernel may go to a specialised loop (the same terms in
            // the same order); it returns how many outputs it wrote.
            let mut o = $short(pairs, k, base0, out);
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
                let op = out.as_mut_ptr().cast::<$t>().add(o);
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
                $storeu(out.as_mut_ptr().cast::<$t>().add(o), accv);
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
                slot.write(acc);
            }
        }
    };
}

/// The `short` hook of a kernel without a specialised short-kernel loop: writes nothing.
#[inline(always)]
pub fn no_short_loop<T>(
    _: &[RowPair<'_, T>],
    _: usize,
    _: usize,
    _: &mut [MaybeUninit<T>],
) -> usize {
    0
}

/// Clipped-tap outputs with scalar FMA, so edges round exactly like the vector lanes.
///
/// # Safety
/// Needs FMA (the `mul_add` calls compile to one instruction only with it enabled).
#[inline]
#[target_feature(enable = "fma")]
pub unsafe fn edges_fma<T: FmaScalar>(
    pairs: &[RowPair<'_, T>],
    g: &AxisGeometry,
    i0: usize,
    out: &mut [MaybeUninit<T>],
) {
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
        o.write(acc);
    }
}

/// Scalar types with a fused multiply-add.
pub trait FmaScalar: Copy + Default {
    /// `self * b + c` with one rounding.
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

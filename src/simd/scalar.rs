//! The portable row kernel: the oracle every SIMD kernel is tested against.
//!
//! Edges (taps clipped by the zero padding) are summed as dot products; the interior is summed
//! in "axpy" order over a block of outputs so the compiler can vectorise it. Both orders add
//! the same terms in the same sequence for each element, so they agree bit for bit.

use std::mem::MaybeUninit;

use crate::element::Element;
use crate::geometry::AxisGeometry;
use crate::simd::RowPair;

/// Outputs per interior block: a stack buffer that stays in L1 (256 complex128 = 4 KiB).
const BLOCK: usize = 256;

/// Portable row kernel (see [`crate::simd::RowKernel`]).
pub fn row<T: Element>(
    pairs: &[RowPair<'_, T>],
    g: &AxisGeometry,
    i0: usize,
    out: &mut [MaybeUninit<T>],
) {
    let (lo, hi) = g.interior();
    let end = i0 + out.len();
    let (lo, hi) = (lo.clamp(i0, end), hi.clamp(i0, end));
    let (lo, hi) = if lo < hi { (lo, hi) } else { (end, end) };
    edges(pairs, g, i0, &mut out[..lo - i0]);
    interior(pairs, g, lo, &mut out[lo - i0..hi - i0]);
    edges(pairs, g, hi, &mut out[hi - i0..]);
}

/// Dot-product form with clipped taps, for outputs whose window leaves the input.
pub fn edges<T: Element>(
    pairs: &[RowPair<'_, T>],
    g: &AxisGeometry,
    i0: usize,
    out: &mut [MaybeUninit<T>],
) {
    for (o, i) in out.iter_mut().zip(i0..) {
        let (jlo, jhi) = g.taps(i);
        let mut acc = T::ZERO;
        if jlo < jhi {
            let base = (g.start + (i + jlo) as isize) as usize;
            for (x, w) in pairs {
                let xs = &x[base..base + (jhi - jlo)];
                for (&xv, &wv) in xs.iter().zip(&w[jlo..jhi]) {
                    acc = acc.mul_acc(xv, wv);
                }
            }
        }
        o.write(acc);
    }
}

/// Axpy form over blocks, for outputs whose whole window lies inside the input.
fn interior<T: Element>(
    pairs: &[RowPair<'_, T>],
    g: &AxisGeometry,
    i0: usize,
    out: &mut [MaybeUninit<T>],
) {
    let mut acc = [T::ZERO; BLOCK];
    for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
        let len = chunk.len();
        let acc = &mut acc[..len];
        acc.fill(T::ZERO);
        let base = (g.start + (i0 + b * BLOCK) as isize) as usize;
        for (x, w) in pairs {
            for (j, &wv) in w.iter().enumerate() {
                let xs = &x[base + j..base + j + len];
                for (a, &xv) in acc.iter_mut().zip(xs) {
                    *a = a.mul_acc(xv, wv);
                }
            }
        }
        for (o, &a) in chunk.iter_mut().zip(acc.iter()) {
            o.write(a);
        }
    }
}

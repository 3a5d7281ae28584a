//! N-dimensional transforms of one tile, built from 1-D plans.
//!
//! Real input: a real-to-complex transform along the last axis (the spectrum keeps
//! `F_last / 2 + 1` columns), then complex transforms along each other axis. Complex input:
//! complex transforms along every axis. Lines along an inner axis are gathered a panel of
//! columns at a time into a small contiguous buffer, transformed in a batch, and scattered
//! back. With `parallel`, rows and lines are shared among the threads
//! of the current Rayon pool; the result is the same either way (each line is one transform).

use rayon::prelude::*;
use realfft::{ComplexToReal, RealToComplex};
use rustfft::Fft;

use crate::fft::plans::{FftFloat, C};
use crate::scratch::{self, Scratch};

/// A complex work buffer of `len` elements, written before it is read (reused between calls
/// when large, without refilling).
fn complex_scratch<T: FftFloat>(len: usize) -> Scratch<C<T>> {
    scratch::overwritten(len, C::new(T::zero(), T::zero()))
}

/// Rows per parallel task: enough work per task to hide Rayon's scheduling cost.
const ROWS_PER_TASK: usize = 16;

/// Real-to-complex transform of every row of `buf` (rows of `r2c.len()` samples) into the
/// rows of `spec` (rows of `len / 2 + 1`); `buf` is used as scratch. All-zero rows are
/// skipped (their spectrum is zero): the padding of a tile is mostly such rows.
pub fn rows_forward_real<T: FftFloat>(
    buf: &mut [T],
    spec: &mut [C<T>],
    r2c: &dyn RealToComplex<T>,
    parallel: bool,
) {
    let (n, h) = (r2c.len(), r2c.len() / 2 + 1);
    let work = |scratch: &mut [C<T>], row: &mut [T], out: &mut [C<T>]| {
        if row.iter().all(|v| *v == T::zero()) {
            out.fill(C::new(T::zero(), T::zero()));
        } else {
            // Lengths match the plan by construction, so this cannot fail.
            let _ = r2c.process_with_scratch(row, out, scratch);
        }
    };
    if parallel {
        buf.par_chunks_mut(n * ROWS_PER_TASK)
            .zip(spec.par_chunks_mut(h * ROWS_PER_TASK))
            .for_each_init(
                || complex_scratch(r2c.get_scratch_len()),
                |s, (rows, outs)| {
                    for (row, out) in rows.chunks_mut(n).zip(outs.chunks_mut(h)) {
                        work(s, row, out);
                    }
                },
            );
    } else {
        let mut s = complex_scratch(r2c.get_scratch_len());
        for (row, out) in buf.chunks_mut(n).zip(spec.chunks_mut(h)) {
            work(&mut s, row, out);
        }
    }
}

/// Complex-to-real transform of every row of `spec` into the rows of `buf` (unnormalised);
/// `spec` is used as scratch.
pub fn rows_inverse_real<T: FftFloat>(
    spec: &mut [C<T>],
    buf: &mut [T],
    c2r: &dyn ComplexToReal<T>,
    parallel: bool,
) {
    let (n, h) = (c2r.len(), c2r.len() / 2 + 1);
    let work = |scratch: &mut [C<T>], row: &mut [C<T>], out: &mut [T]| {
        // The imaginary parts of the first and last bins are rounding noise after the complex
        // passes; realfft ignores them and only reports it, so the error is not a failure.
        let _ = c2r.process_with_scratch(row, out, scratch);
    };
    if parallel {
        spec.par_chunks_mut(h * ROWS_PER_TASK)
            .zip(buf.par_chunks_mut(n * ROWS_PER_TASK))
            .for_each_init(
                || complex_scratch(c2r.get_scratch_len()),
                |s, (rows, outs)| {
                    for (row, out) in rows.chunks_mut(h).zip(outs.chunks_mut(n)) {
                        work(s, row, out);
                    }
                },
            );
    } else {
        let mut s = complex_scratch(c2r.get_scratch_len());
        for (row, out) in spec.chunks_mut(h).zip(buf.chunks_mut(n)) {
            work(&mut s, row, out);
        }
    }
}

/// Columns gathered per panel for a transform along an inner axis: 16 complex values are 2-4
/// cache lines of each row, and a panel of 16 lines of a few thousand points stays in L2.
const PANEL: usize = 16;

/// A raw pointer to the array being transformed, shared by tasks that touch disjoint columns.
#[derive(Clone, Copy)]
struct Columns<T>(*mut C<T>);
// SAFETY: every task reads and writes only the columns of its own panel (disjoint sets of
// elements); the pointer outlives the parallel loop (it borrows the caller's slice).
unsafe impl<T: Send> Send for Columns<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Columns<T> {}

/// Complex transform along `axis` of a C-order array of `shape`, in place.
///
/// Lines along an inner axis are strided: they are gathered a panel of [`PANEL`] columns at a
/// time into a small contiguous buffer, transformed together and scattered back (no full-size
/// transpose, no large temporary).
pub fn along_axis<T: FftFloat>(
    data: &mut [C<T>],
    shape: &[usize],
    axis: usize,
    fft: &dyn Fft<T>,
    parallel: bool,
) {
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let total: usize = shape.iter().product();
    if len <= 1 || data.is_empty() {
        return;
    }
    assert_eq!(data.len(), total, "array does not match its shape");
    if inner == 1 {
        return contiguous_lines(data, len, fft, parallel);
    }
    let outer = total / (len * inner);
    let panels_per_block = inner.div_ceil(PANEL);
    let base = Columns(data.as_mut_ptr());
    let scratch_len = fft.get_inplace_scratch_len();
    let panel = move |bufs: &mut (Scratch<C<T>>, Scratch<C<T>>), p: usize| {
        let (a, c0) = (p / panels_per_block, (p % panels_per_block) * PANEL);
        let width = PANEL.min(inner - c0);
        let (tmp, scratch) = bufs;
        let block = a * len * inner;
        // SAFETY: indices stay below `outer * len * inner == data.len()`; this panel's columns
        // `c0..c0 + width` of block `a` are touched by this task alone.
        unsafe {
            let ptr = base;
            for t in 0..len {
                let row = ptr.0.add(block + t * inner + c0);
                for j in 0..width {
                    *tmp.get_unchecked_mut(j * len + t) = *row.add(j);
                }
            }
            fft.process_with_scratch(&mut tmp[..width * len], scratch);
            for t in 0..len {
                let row = ptr.0.add(block + t * inner + c0);
                for j in 0..width {
                    *row.add(j) = *tmp.get_unchecked(j * len + t);
                }
            }
        }
    };
    let new_bufs = || (complex_scratch(PANEL * len), complex_scratch(scratch_len));
    let panels = outer * panels_per_block;
    if parallel {
        (0..panels).into_par_iter().for_each_init(new_bufs, panel);
    } else {
        let mut bufs = new_bufs();
        (0..panels).for_each(|p| panel(&mut bufs, p));
    }
}

/// Transforms consecutive lines of `len` elements in place.
fn contiguous_lines<T: FftFloat>(data: &mut [C<T>], len: usize, fft: &dyn Fft<T>, parallel: bool) {
    let scratch_len = fft.get_inplace_scratch_len();
    if parallel {
        data.par_chunks_mut(len * ROWS_PER_TASK).for_each_init(
            || complex_scratch(scratch_len),
            |s, lines| fft.process_with_scratch(lines, s),
        );
    } else {
        let mut s = complex_scratch(scratch_len);
        fft.process_with_scratch(data, &mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_transform_matches_a_direct_dft() {
        let shape = [3usize, 4, 5];
        let data: Vec<C<f64>> = (0..60).map(|i| C::new(i as f64, (i % 7) as f64)).collect();
        let fft = <f64 as FftFloat>::planners().complex(4, false);
        for parallel in [false, true] {
            let mut got = data.clone();
            along_axis(&mut got, &shape, 1, fft.as_ref(), parallel);
            for a in 0..3 {
                for b in 0..5 {
                    for f in 0..4 {
                        let mut want = C::new(0.0, 0.0);
                        for t in 0..4 {
                            let ang = -2.0 * std::f64::consts::PI * (f * t) as f64 / 4.0;
                            want += data[a * 20 + t * 5 + b] * C::new(ang.cos(), ang.sin());
                        }
                        assert!((got[a * 20 + f * 5 + b] - want).norm() < 1e-9);
                    }
                }
            }
        }
    }
}

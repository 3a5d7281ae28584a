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
        if is_all_zero(row) {
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

/// Whether every sample of `row` is zero, tested a block at a time: the comparisons inside a
/// block have no early exit, so they vectorise (an element-wise `all` stays scalar, and on
/// the padding rows of a tile it cost as much as a tenth of a 2-D convolution).
fn is_all_zero<T: FftFloat>(row: &[T]) -> bool {
    const BLOCK: usize = 64;
    row.chunks(BLOCK)
        .all(|block| block.iter().fold(true, |zero, v| zero & (*v == T::zero())))
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

impl<T> Columns<T> {
    /// The address of element `i` (a method, so closures capture the whole `Sync` wrapper).
    fn at(self, i: usize) -> *mut C<T> {
        self.0.wrapping_add(i)
    }
}

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
    let inner: usize = shape[axis + 1..].iter().product();
    if shape[axis] <= 1 || data.is_empty() {
        return;
    }
    if inner == 1 {
        assert_eq!(
            data.len(),
            shape.iter().product::<usize>(),
            "array does not match its shape"
        );
        return contiguous_lines(data, shape[axis], fft, parallel);
    }
    let transform = |lines: &mut [C<T>], scratch: &mut [C<T>], _| {
        fft.process_with_scratch(lines, scratch);
        true
    };
    for_each_panel(data, shape, axis, &[fft], parallel, &transform);
}

/// Complex transform along `axis` of a C-order array of `shape` into `out` in line-major
/// order: the last two axes of `(outer, len, inner)` swapped, so that each transformed line
/// is contiguous (`out[(a * inner + c) * len + t]` holds element `t` of line `(a, c)`).
/// `data` is left as it was.
pub fn along_axis_to_line_major<T: FftFloat>(
    data: &mut [C<T>],
    shape: &[usize],
    axis: usize,
    fft: &dyn Fft<T>,
    out: &mut [C<T>],
    parallel: bool,
) {
    assert_eq!(out.len(), data.len(), "output does not match the input");
    let dst = Columns(out.as_mut_ptr());
    let transform_and_store = |lines: &mut [C<T>], scratch: &mut [C<T>], at: usize| {
        fft.process_with_scratch(lines, scratch);
        // SAFETY: `at + lines.len()` is at most `data.len() == out.len()` ([`for_each_panel`]),
        // and panels occupy disjoint ranges of the line-major layout.
        unsafe { std::ptr::copy_nonoverlapping(lines.as_ptr(), dst.at(at), lines.len()) };
        false
    };
    for_each_panel(data, shape, axis, &[fft], parallel, &transform_and_store);
}

/// Circular convolution along `axis` of a C-order array of `shape`, in place: each line is
/// transformed by `forward`, multiplied by its line of `kernel` (the kernel's spectrum along
/// this axis in line-major order, from [`along_axis_to_line_major`]) and transformed back by
/// `inverse`, while its panel is in cache. The same arithmetic as [`along_axis`], a product
/// and [`along_axis`] again, without writing the spectrum back in between.
pub fn convolve_along_axis<T: FftFloat>(
    data: &mut [C<T>],
    shape: &[usize],
    axis: usize,
    (forward, inverse): (&dyn Fft<T>, &dyn Fft<T>),
    kernel: &[C<T>],
    parallel: bool,
) {
    assert_eq!(
        kernel.len(),
        data.len(),
        "kernel spectrum does not match the array"
    );
    let convolve = |lines: &mut [C<T>], scratch: &mut [C<T>], at: usize| {
        forward.process_with_scratch(lines, scratch);
        let n = lines.len();
        for (v, k) in lines.iter_mut().zip(&kernel[at..at + n]) {
            *v = *v * *k;
        }
        inverse.process_with_scratch(lines, scratch);
        true
    };
    for_each_panel(data, shape, axis, &[forward, inverse], parallel, &convolve);
}

/// What [`for_each_panel`] does to one gathered panel: `op(lines, fft_scratch, at)` gets the
/// panel's lines one after another and their offset in line-major order, and returns whether
/// to scatter them back.
type PanelOp<'a, T> = dyn Fn(&mut [C<T>], &mut [C<T>], usize) -> bool + Sync + 'a;

/// Gathers the lines along `axis` of a C-order array of `shape` a panel of [`PANEL`]
/// columns at a time into a contiguous buffer, runs `op` on it and scatters it back if
/// asked; in parallel over panels with `parallel`. `ffts` are the transforms `op` runs (for
/// the size of their scratch).
fn for_each_panel<T: FftFloat>(
    data: &mut [C<T>],
    shape: &[usize],
    axis: usize,
    ffts: &[&dyn Fft<T>],
    parallel: bool,
    op: &PanelOp<'_, T>,
) {
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let total: usize = shape.iter().product();
    assert_eq!(data.len(), total, "array does not match its shape");
    if total == 0 {
        return;
    }
    let outer = total / (len * inner);
    let scratch_len = ffts.iter().map(|f| f.get_inplace_scratch_len()).max();
    let scratch_len = scratch_len.unwrap_or(0);
    let panels_per_block = inner.div_ceil(PANEL);
    let base = Columns(data.as_mut_ptr());
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
            if op(&mut tmp[..width * len], scratch, block + c0 * len) {
                for t in 0..len {
                    let row = ptr.0.add(block + t * inner + c0);
                    for j in 0..width {
                        *row.add(j) = *tmp.get_unchecked(j * len + t);
                    }
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

    #[test]
    fn fused_axis_convolution_matches_the_separate_passes() {
        // Axis 1 of a 2 x 5 x 19 array (19 > one panel, so two panels per block).
        let shape = [2usize, 5, 19];
        let n: usize = shape.iter().product();
        let data: Vec<C<f64>> = (0..n)
            .map(|i| C::new((i % 11) as f64 - 5.0, (i % 3) as f64))
            .collect();
        let kernel: Vec<C<f64>> = (0..n)
            .map(|i| C::new((i % 5) as f64 * 0.5, -((i % 7) as f64)))
            .collect();
        let p = <f64 as FftFloat>::planners();
        let (fwd, inv) = (p.complex(5, false), p.complex(5, true));
        for parallel in [false, true] {
            // Separate passes: transform, product (natural layout), inverse transform.
            let mut want = data.clone();
            along_axis(&mut want, &shape, 1, fwd.as_ref(), parallel);
            let mut k_natural = kernel.clone();
            along_axis(&mut k_natural, &shape, 1, fwd.as_ref(), parallel);
            want.iter_mut().zip(&k_natural).for_each(|(w, k)| *w *= *k);
            along_axis(&mut want, &shape, 1, inv.as_ref(), parallel);
            // Fused, with the kernel spectrum line-major.
            let mut k_lines = vec![C::new(0.0, 0.0); n];
            let mut k_in = kernel.clone();
            along_axis_to_line_major(&mut k_in, &shape, 1, fwd.as_ref(), &mut k_lines, parallel);
            assert_eq!(k_in, kernel, "the input is left as it was");
            for a in 0..shape[0] {
                for t in 0..shape[1] {
                    for c in 0..shape[2] {
                        let natural = (a * shape[1] + t) * shape[2] + c;
                        let line_major = (a * shape[2] + c) * shape[1] + t;
                        assert_eq!(k_lines[line_major], k_natural[natural]);
                    }
                }
            }
            let mut got = data.clone();
            convolve_along_axis(
                &mut got,
                &shape,
                1,
                (fwd.as_ref(), inv.as_ref()),
                &k_lines,
                parallel,
            );
            assert_eq!(got, want, "same arithmetic, same bits");
        }
    }
}

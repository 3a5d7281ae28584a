//! The FFT convolution engine: kernel spectra once, then tiles (gather, transform, multiply,
//! inverse, scatter), in parallel over tiles when there are enough of them, otherwise in
//! parallel inside each transform.
//!
//! `h` is the convolution kernel (already reversed/conjugated from the caller's correlation
//! kernel), so each tile computes a plain circular convolution. Every output element is
//! written by exactly one tile, and each tile's arithmetic does not depend on which thread
//! runs it, so results do not depend on the thread count.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::direct::{ArrayRef, Plan};
use crate::element::Element;
use crate::error::{ConvError, Result};
use crate::fft::domain::{self, Domain};
use crate::fft::layout::FftLayout;
use crate::fft::plans::{FftFloat, C};
use crate::fft::two_phase;
use crate::geometry::{c_strides, for_each_axis_index, unravel};
use crate::interrupt;
use crate::parallel::{join_if, pool};
use crate::scratch::{self, Scratch};

/// A tile's sample buffer and spectrum buffer (reused between calls; see [`scratch`]).
type Buffers<S, T> = (Scratch<S>, Scratch<C<T>>);

/// A raw output pointer shared by tiles that write disjoint elements.
#[derive(Clone, Copy)]
struct OutPtr<S>(*mut S);
// SAFETY: tiles write disjoint index sets (they partition the output), checked against the
// length before every write.
unsafe impl<S: Send> Send for OutPtr<S> {}
// SAFETY: as above.
unsafe impl<S: Send> Sync for OutPtr<S> {}

impl<S> OutPtr<S> {
    /// The address of element `i` (a method, so closures capture the whole `Sync` wrapper).
    fn at(self, i: usize) -> *mut S {
        self.0.wrapping_add(i)
    }
}

/// Everything one FFT convolution needs.
pub struct FftJob<'a, T: FftFloat, D: Domain<T>> {
    /// The tile transform.
    pub domain: &'a D,
    /// Shapes, modes and broadcast batch.
    pub plan: &'a Plan,
    /// Tiling of the convolved axes.
    pub layout: &'a FftLayout,
    /// The signal.
    pub x: ArrayRef<'a, D::Sample>,
    /// The convolution kernel (same rank as `x`).
    pub h: ArrayRef<'a, D::Sample>,
    /// Marker for the float type.
    pub _float: std::marker::PhantomData<T>,
}

impl<T, D> FftJob<'_, T, D>
where
    T: FftFloat,
    D: Domain<T>,
    D::Sample: Element,
{
    /// Writes every element of `out` (C order, `plan.out_shape()`).
    ///
    /// # Errors
    /// [`ConvError::Value`] for inconsistent buffers; thread-pool errors.
    pub fn run(&self, threads: usize, out: &mut [MaybeUninit<D::Sample>]) -> Result<()> {
        self.run_with(threads, None, out)
    }

    /// [`FftJob::run`] with kernel spectra computed earlier by [`FftJob::kernel_spectra`]
    /// (a reusable convolver keeps them between calls).
    ///
    /// # Errors
    /// As [`FftJob::run`], and for spectra that do not fit this job.
    pub fn run_with(
        &self,
        threads: usize,
        kernels: Option<&[Scratch<C<T>>]>,
        out: &mut [MaybeUninit<D::Sample>],
    ) -> Result<()> {
        let plan = self.plan;
        if out.len() != plan.out_len() {
            return Err(ConvError::value(
                "the output buffer does not match the output shape",
            ));
        }
        let nb = plan.batch.len();
        if let Some(k) = kernels {
            let blocks: usize = self.h.shape[..nb].iter().product();
            if k.len() != blocks || k.iter().any(|s| s.len() != self.domain.spec_len()) {
                return Err(ConvError::value(
                    "kernel spectra do not match this transform",
                ));
            }
        }
        if out.is_empty() {
            return Ok(());
        }
        let cancel = interrupt::current();
        let per_batch: Vec<usize> = self.layout.tiles_per_axis(&plan.axes);
        let tiles_per_batch: usize = per_batch.iter().product();
        let total = tiles_per_batch * plan.batch.iter().product::<usize>();
        let tile_parallel = threads > 1 && total >= 2 * threads;
        let inner = threads > 1 && !tile_parallel;
        let ptr = OutPtr(out.as_mut_ptr().cast::<D::Sample>());
        let len = out.len();
        let new_bufs = || {
            (
                // tile_forward zeroes the sample buffer; the transform writes the spectrum.
                scratch::overwritten(self.domain.tile_len(), D::Sample::ZERO),
                scratch::overwritten(self.domain.spec_len(), zero()),
            )
        };
        let mut work = || -> Result<()> {
            if total == 1 && kernels.is_none() && two_phase::applies(&self.layout.f) {
                let half = D::with_lengths(&[self.layout.f[0] / 2]);
                let (x, h, layout) = (self.x.data, self.h.data, self.layout);
                let (f, base, extract) = (layout.f[0], layout.base[0], layout.extract[0]);
                two_phase::convolve(&half, x, base, h, f, extract, out, threads > 1);
                return Ok(());
            }
            if total == 1 && kernels.is_none() {
                // One tile: transform the signal while another thread transforms the kernel
                // (on one thread, one after the other: a bare `rayon::join` here would run on
                // rayon's global pool, two threads for a `workers=1` call).
                let mut bufs = new_bufs();
                let (owned, ()) = join_if(
                    threads > 1,
                    || self.kernel_spectra(false),
                    || self.tile_forward(&mut bufs, 0, 0, &per_batch, inner),
                );
                self.tile_finish(&mut bufs, 0, 0, &per_batch, &owned[0], inner, ptr, len);
                return Ok(());
            }
            let owned;
            let kernels = match kernels {
                Some(k) => k,
                None => {
                    owned = self.kernel_spectra(threads > 1);
                    &owned
                }
            };
            let run_tile = |bufs: &mut Buffers<D::Sample, T>, t: usize| {
                if cancel.is_cancelled() {
                    return;
                }
                let (b, tile) = (t / tiles_per_batch, t % tiles_per_batch);
                let kernel = &kernels[self.w_block(b, nb)];
                self.tile_forward(bufs, b, tile, &per_batch, inner);
                self.tile_finish(bufs, b, tile, &per_batch, kernel, inner, ptr, len);
            };
            if tile_parallel {
                (0..total).into_par_iter().for_each_init(new_bufs, run_tile);
            } else {
                let mut bufs = new_bufs();
                (0..total).for_each(|t| run_tile(&mut bufs, t));
            }
            cancel.check()
        };
        if threads > 1 {
            pool(threads)?.install(work)
        } else {
            work()
        }
    }

    /// Spectrum of each kernel block, scaled by `1 / prod(F)` (the inverse's normalisation).
    pub fn kernel_spectra(&self, parallel: bool) -> Vec<Scratch<C<T>>> {
        let nb = self.plan.batch.len();
        let blocks: usize = self.h.shape[..nb].iter().product();
        let kshape = &self.h.shape[nb..];
        let klen: usize = kshape.iter().product();
        let scale = T::one() / T::from(self.domain.tile_len()).unwrap_or_else(T::one);
        let one = |b: usize, inner: bool| {
            let mut buf = scratch::overwritten(self.domain.tile_len(), D::Sample::ZERO);
            let src = &self.h.data[b * klen..(b + 1) * klen];
            let origin = vec![0; kshape.len()];
            let window = Window {
                src_lo: &origin,
                dst_lo: &origin,
                count: kshape,
            };
            fill_tile(src, kshape, &window, &mut buf, &self.layout.f, inner);
            let mut spec = scratch::overwritten(self.domain.spec_len(), zero());
            self.domain.kernel_forward(&mut buf, &mut spec, inner);
            domain::scale(&mut spec, scale, inner);
            spec
        };
        if parallel && blocks > 1 {
            (0..blocks).into_par_iter().map(|b| one(b, false)).collect()
        } else {
            (0..blocks).map(|b| one(b, parallel)).collect()
        }
    }

    /// Index of the kernel block used by output batch `b` (broadcasting size-1 axes).
    fn w_block(&self, b: usize, nb: usize) -> usize {
        broadcast_block(b, &self.plan.batch, &self.h.shape[..nb])
    }

    /// Gathers tile `tile` of batch `b` (zeros outside the signal) and runs the forward
    /// passes that come before the product ([`Domain::signal_forward`]) into the spectrum
    /// buffer.
    fn tile_forward(
        &self,
        (buf, spec): &mut Buffers<D::Sample, T>,
        b: usize,
        tile: usize,
        per_batch: &[usize],
        parallel: bool,
    ) {
        let plan = self.plan;
        let nb = plan.batch.len();
        let layout = self.layout;
        let i0 = self.tile_origin(tile, per_batch);
        let xshape = &self.x.shape[nb..];
        let xlen: usize = xshape.iter().product();
        let xb = broadcast_block(b, &plan.batch, &self.x.shape[..nb]);
        let xs = &self.x.data[xb * xlen..(xb + 1) * xlen];
        let mut src_lo = Vec::with_capacity(xshape.len());
        let mut dst_lo = Vec::with_capacity(xshape.len());
        let mut count = Vec::with_capacity(xshape.len());
        for (d, &n) in xshape.iter().enumerate() {
            let a = layout.base[d] + i0[d] as isize;
            let p_lo = (-a).max(0) as usize;
            let p_hi = (n as isize - a).clamp(0, layout.f[d] as isize) as usize;
            dst_lo.push(p_lo);
            src_lo.push((a + p_lo as isize).max(0) as usize);
            count.push(p_hi.saturating_sub(p_lo));
        }
        let window = Window {
            src_lo: &src_lo,
            dst_lo: &dst_lo,
            count: &count,
        };
        fill_tile(xs, xshape, &window, buf, &layout.f, parallel);
        self.domain.signal_forward(buf, spec, parallel);
    }

    /// Finishes the tile's transform, multiplies it by the kernel's, transforms back
    /// ([`Domain::multiply_inverse`]) and writes the tile's outputs.
    #[allow(clippy::too_many_arguments)]
    fn tile_finish(
        &self,
        (buf, spec): &mut Buffers<D::Sample, T>,
        b: usize,
        tile: usize,
        per_batch: &[usize],
        kernel: &[C<T>],
        parallel: bool,
        out: OutPtr<D::Sample>,
        out_len: usize,
    ) {
        let layout = self.layout;
        let i0 = self.tile_origin(tile, per_batch);
        self.domain.multiply_inverse(spec, kernel, buf, parallel);
        let m: Vec<usize> = self.plan.axes.iter().map(|g| g.m).collect();
        let keep: Vec<usize> = (0..m.len())
            .map(|d| layout.tile[d].min(m[d] - i0[d]))
            .collect();
        let out_strides = c_strides(&m);
        let f_strides = c_strides(&layout.f);
        let out_block = b * m.iter().product::<usize>();
        let last = m.len() - 1;
        let buf: &[D::Sample] = buf;
        let write_row = |r: usize| {
            let mut dst = out_block + i0[last];
            let mut src = layout.extract[last];
            for_each_axis_index(r, &keep[..last], |d, qd| {
                dst += (i0[d] + qd) * out_strides[d];
                src += (layout.extract[d] + qd) * f_strides[d];
            });
            let n = keep[last];
            assert!(
                dst + n <= out_len && src + n <= buf.len(),
                "tile write out of bounds"
            );
            // SAFETY: in bounds (checked above); tiles partition the output and each output
            // row of the tile is written by one call, so no other writer touches these
            // elements; `buf` is a distinct allocation.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr().add(src), out.at(dst), n) };
        };
        let rows: usize = keep[..last].iter().product();
        if parallel {
            (0..rows)
                .into_par_iter()
                .with_min_len(ROWS_PER_TASK)
                .for_each(write_row);
        } else {
            (0..rows).for_each(write_row);
        }
    }

    /// The first output index of tile `tile` along each axis.
    fn tile_origin(&self, tile: usize, per_batch: &[usize]) -> Vec<usize> {
        let tidx = unravel(tile, per_batch);
        tidx.iter()
            .zip(&self.layout.tile)
            .map(|(&t, &l)| t * l)
            .collect()
    }
}

fn zero<T: FftFloat>() -> C<T> {
    C::new(T::zero(), T::zero())
}

/// The flat block index of output batch `b` in an input whose batch shape is `dims`
/// (a size-1 axis broadcasts).
fn broadcast_block(b: usize, batch: &[usize], dims: &[usize]) -> usize {
    let idx = unravel(b, batch);
    idx.iter()
        .zip(dims)
        .fold(0, |acc, (&i, &d)| acc * d + if d == 1 { 0 } else { i })
}

/// Rows (along the last axis) per parallel task of the tile gather and scatter.
const ROWS_PER_TASK: usize = 8;

/// Where a box of a C-order source lands in a tile: `count` elements per axis from
/// `src_lo` of the source to `dst_lo` of the tile.
struct Window<'a> {
    src_lo: &'a [usize],
    dst_lo: &'a [usize],
    count: &'a [usize],
}

/// Writes the whole tile `dst` (C order, shape `dshape`): the window of `src` (shape
/// `sshape`) where it lands, zeros elsewhere; row by row, in parallel with `parallel`.
fn fill_tile<S: Element>(
    src: &[S],
    sshape: &[usize],
    window: &Window<'_>,
    dst: &mut [S],
    dshape: &[usize],
    parallel: bool,
) {
    let last = dshape.len() - 1;
    let row_len = dshape[last];
    let ss = c_strides(sshape);
    let Window {
        src_lo,
        dst_lo,
        count,
    } = *window;
    let empty = count.contains(&0);
    // The source row written into tile row `r`, if any.
    let source_row = |r: usize| -> Option<usize> {
        if empty {
            return None;
        }
        let (mut s, mut inside) = (src_lo[last], true);
        for_each_axis_index(r, &dshape[..last], |d, qd| {
            match qd.checked_sub(dst_lo[d]).filter(|&v| v < count[d]) {
                Some(rel) => s += (src_lo[d] + rel) * ss[d],
                None => inside = false,
            }
        });
        inside.then_some(s)
    };
    let fill_row = |r: usize, row: &mut [S]| match source_row(r) {
        Some(s) => {
            let (lo, n) = (dst_lo[last], count[last]);
            row[..lo].fill(S::ZERO);
            row[lo..lo + n].copy_from_slice(&src[s..s + n]);
            row[lo + n..].fill(S::ZERO);
        }
        None => row.fill(S::ZERO),
    };
    if parallel {
        dst.par_chunks_mut(row_len * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(t, rows)| {
                for (i, row) in rows.chunks_mut(row_len).enumerate() {
                    fill_row(t * ROWS_PER_TASK + i, row);
                }
            });
    } else {
        for (r, row) in dst.chunks_mut(row_len).enumerate() {
            fill_row(r, row);
        }
    }
}

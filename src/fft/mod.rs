//! FFT convolution (real-input fast path and complex), whole-array or overlap-save tiles.
//!
//! Plans come from realfft/rustfft and are cached per length ([`plans`]); transform lengths
//! are smooth ([`sizes`]); a [`layout::FftLayout`] says how the output is cut into tiles and
//! [`engine::FftJob`] runs them, a long 1-D one as even and odd half-length transforms
//! ([`two_phase`]). [`correlate_into`] is the entry point with the same contract
//! as [`crate::direct::correlate_into`].

pub mod domain;
pub mod engine;
pub mod layout;
pub mod plans;
pub mod prepared;
pub mod sizes;
pub mod transform;
pub mod two_phase;

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::direct::{orient_kernel, ArrayRef, Orientation, Plan};
use crate::error::{ConvError, Result};
use crate::geometry::checked_size;
use domain::{ComplexDomain, Domain, RealDomain};
use engine::FftJob;
use layout::FftLayout;
use plans::{FftFloat, C};

/// Computes the correlation of `plan` with FFTs, tiled by `layout`, into `out`.
///
/// Same meaning as [`crate::direct::correlate_into`]: `orient` says how `w` is applied.
///
/// # Errors
/// [`ConvError::Value`] for inconsistent shapes or layout; thread-pool errors.
pub fn correlate_real_into<T: FftFloat>(
    plan: &Plan,
    layout: &FftLayout,
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<T>],
) -> Result<()> {
    check(plan, layout, x.shape, w.shape, x.data.len(), w.data.len())?;
    let domain = RealDomain::<T>::new(&layout.f);
    run(&domain, plan, layout, x, w, orient, threads, out)
}

/// The complex-sample counterpart of [`correlate_real_into`].
///
/// # Errors
/// As [`correlate_real_into`].
pub fn correlate_complex_into<T: FftFloat>(
    plan: &Plan,
    layout: &FftLayout,
    x: ArrayRef<'_, C<T>>,
    w: ArrayRef<'_, C<T>>,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<C<T>>],
) -> Result<()>
where
    C<T>: crate::element::Element,
{
    check(plan, layout, x.shape, w.shape, x.data.len(), w.data.len())?;
    let domain = ComplexDomain::<T>::new(&layout.f);
    run(&domain, plan, layout, x, w, orient, threads, out)
}

#[allow(clippy::too_many_arguments)]
fn run<T, D>(
    domain: &D,
    plan: &Plan,
    layout: &FftLayout,
    x: ArrayRef<'_, D::Sample>,
    w: ArrayRef<'_, D::Sample>,
    orient: Orientation,
    threads: usize,
    out: &mut [MaybeUninit<D::Sample>],
) -> Result<()>
where
    T: FftFloat,
    D: Domain<T>,
{
    // The engine convolves: its kernel is the reverse of the correlation kernel.
    let nb = plan.batch.len();
    let conv = Orientation {
        flip: !orient.flip,
        conj: orient.conj,
    };
    let h = orient_kernel(w, nb, conv);
    let job = FftJob {
        domain,
        plan,
        layout,
        x,
        h: ArrayRef {
            data: &h,
            shape: w.shape,
        },
        _float: PhantomData,
    };
    job.run(threads, out)
}

/// Validates buffers, plan and layout together before any transform runs.
pub(crate) fn check(
    plan: &Plan,
    layout: &FftLayout,
    xs: &[usize],
    ws: &[usize],
    xl: usize,
    wl: usize,
) -> Result<()> {
    if checked_size(xs)? != xl || checked_size(ws)? != wl {
        return Err(ConvError::value("a buffer does not match its shape"));
    }
    if !plan.fits(xs, ws) {
        return Err(ConvError::value("the plan does not match the input shapes"));
    }
    let d = plan.axes.len();
    let ok = [
        layout.f.len(),
        layout.tile.len(),
        layout.extract.len(),
        layout.base.len(),
    ]
    .iter()
    .all(|&l| l == d)
        && layout
            .f
            .iter()
            .zip(&plan.axes)
            .all(|(&f, g)| f >= g.k && f > 0)
        && layout.tile.iter().all(|&t| t > 0)
        // A tile's outputs are read from the circular result at extract..extract + tile.
        && (0..d).all(|i| {
            layout.extract[i].saturating_add(layout.tile[i].min(plan.axes[i].m)) <= layout.f[i]
        });
    if !ok {
        return Err(ConvError::value("the FFT layout does not match the plan"));
    }
    Ok(())
}

//! A convolution prepared once and applied to many signals of one shape: the plan, the FFT
//! layout, the plans of the transforms and the kernel's spectra are all kept (filter banks,
//! streaming).

use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::direct::{orient_kernel, ArrayRef, Orientation, Plan};
use crate::error::{ConvError, Result};
use crate::fft::domain::Domain;
use crate::fft::engine::FftJob;
use crate::fft::layout::FftLayout;
use crate::fft::plans::{FftFloat, C};
use crate::geometry::checked_size;
use crate::scratch::Scratch;

/// Everything about a convolution that does not depend on the signal's values.
pub struct Prepared<T: FftFloat, D: Domain<T>> {
    plan: Plan,
    layout: FftLayout,
    domain: D,
    x_shape: Vec<usize>,
    h: Vec<D::Sample>,
    h_shape: Vec<usize>,
    spectra: Vec<Scratch<C<T>>>,
}

impl<T, D> Prepared<T, D>
where
    T: FftFloat,
    D: Domain<T>,
{
    /// Prepares the correlation of signals of shape `x_shape` with `w` (applied as `orient`
    /// says), tiled by `layout`; `make_domain` builds the transforms for the layout's lengths.
    ///
    /// # Errors
    /// [`ConvError::Value`] for inconsistent shapes or layout.
    pub fn new(
        x_shape: &[usize],
        w: ArrayRef<'_, D::Sample>,
        plan: Plan,
        layout: FftLayout,
        orient: Orientation,
        make_domain: impl FnOnce(&[usize]) -> D,
    ) -> Result<Self> {
        if plan != Plan::new(x_shape, w.shape, plan.batch.len(), plan.mode)? {
            return Err(ConvError::value("the plan does not match the shapes"));
        }
        super::check(
            &plan,
            &layout,
            x_shape,
            w.shape,
            checked_size(x_shape)?,
            w.data.len(),
        )?;
        let conv = Orientation {
            flip: !orient.flip,
            conj: orient.conj,
        };
        let h = orient_kernel(w, plan.batch.len(), conv).into_owned();
        let domain = make_domain(&layout.f);
        let mut prepared = Prepared {
            plan,
            layout,
            domain,
            x_shape: x_shape.to_vec(),
            h,
            h_shape: w.shape.to_vec(),
            spectra: Vec::new(),
        };
        prepared.spectra = prepared.job(&[]).kernel_spectra(false);
        Ok(prepared)
    }

    fn job<'a>(&'a self, x: &'a [D::Sample]) -> FftJob<'a, T, D> {
        FftJob {
            domain: &self.domain,
            plan: &self.plan,
            layout: &self.layout,
            x: ArrayRef {
                data: x,
                shape: &self.x_shape,
            },
            h: ArrayRef {
                data: &self.h,
                shape: &self.h_shape,
            },
            _float: PhantomData,
        }
    }

    /// The output shape.
    pub fn out_shape(&self) -> Vec<usize> {
        self.plan.out_shape()
    }

    /// The signal shape this convolution was prepared for.
    pub fn x_shape(&self) -> &[usize] {
        &self.x_shape
    }

    /// Convolves one signal of the prepared shape into `out`.
    ///
    /// # Errors
    /// [`ConvError::Value`] when `x` has another shape or `out` another length.
    pub fn apply(
        &self,
        x: ArrayRef<'_, D::Sample>,
        threads: usize,
        out: &mut [MaybeUninit<D::Sample>],
    ) -> Result<()> {
        if x.shape != self.x_shape.as_slice()
            || x.data.len() != self.x_shape.iter().product::<usize>()
        {
            return Err(ConvError::value(format!(
                "this convolver was prepared for signals of shape {:?}, got {:?}",
                self.x_shape, x.shape
            )));
        }
        self.job(x.data).run_with(threads, Some(&self.spectra), out)
    }
}

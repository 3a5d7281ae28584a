//! The two kinds of tile transform: real input (half spectrum) and complex input.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealToComplex};
use rustfft::Fft;

use crate::element::Element;
use crate::fft::plans::{FftFloat, C};
use crate::fft::transform::{
    along_axis, along_axis_to_line_major, convolve_along_axis, rows_forward_real, rows_inverse_real,
};
use crate::scratch;

/// An N-D transform of a tile of samples of type `Sample` to a complex spectrum and back.
pub trait Domain<T: FftFloat>: Sync {
    /// The input/output sample type.
    type Sample: Element;
    /// Elements of the spectrum.
    fn spec_len(&self) -> usize;
    /// Elements of the tile (the product of the transform lengths).
    fn tile_len(&self) -> usize;
    /// Forward transform; `buf` may be overwritten.
    fn forward(&self, buf: &mut [Self::Sample], spec: &mut [C<T>], parallel: bool);
    /// Inverse transform, unnormalised; `spec` may be overwritten.
    fn inverse(&self, spec: &mut [C<T>], buf: &mut [Self::Sample], parallel: bool);
    /// The same kind of transform for lengths `f` (the last one even for real samples).
    fn with_lengths(f: &[usize]) -> Self
    where
        Self: Sized;

    /// A kernel tile's spectrum in the layout [`Domain::multiply_inverse`] takes (by default
    /// the layout of [`Domain::forward`]); `buf` may be overwritten.
    fn kernel_forward(&self, buf: &mut [Self::Sample], spec: &mut [C<T>], parallel: bool) {
        self.forward(buf, spec, parallel);
    }

    /// The forward passes of a signal tile that come before the product with the kernel (by
    /// default all of them); `buf` may be overwritten.
    fn signal_forward(&self, buf: &mut [Self::Sample], spec: &mut [C<T>], parallel: bool) {
        self.forward(buf, spec, parallel);
    }

    /// Finishes what [`Domain::signal_forward`] began: the rest of the forward transform, the
    /// product with `kernel` (from [`Domain::kernel_forward`]) and the inverse transform,
    /// unnormalised, into `buf`; `spec` may be overwritten.
    fn multiply_inverse(
        &self,
        spec: &mut [C<T>],
        kernel: &[C<T>],
        buf: &mut [Self::Sample],
        parallel: bool,
    ) {
        multiply(spec, kernel, parallel);
        self.inverse(spec, buf, parallel);
    }
}

/// Spectrum elements per parallel task of the point-wise passes.
const POINTS_PER_TASK: usize = 1 << 13;

/// `spec *= kernel` element by element, in parallel with `parallel`.
fn multiply<T: FftFloat>(spec: &mut [C<T>], kernel: &[C<T>], parallel: bool) {
    let product = |(s, k): (&mut [C<T>], &[C<T>])| {
        for (s, k) in s.iter_mut().zip(k) {
            *s = *s * *k;
        }
    };
    if parallel {
        spec.par_chunks_mut(POINTS_PER_TASK)
            .zip(kernel.par_chunks(POINTS_PER_TASK))
            .for_each(product);
    } else {
        product((spec, kernel));
    }
}

/// Multiplies every element of `spec` by `factor`, in parallel with `parallel`.
pub fn scale<T: FftFloat>(spec: &mut [C<T>], factor: T, parallel: bool) {
    let scale = |a: &mut [C<T>]| a.iter_mut().for_each(|v| *v = *v * factor);
    if parallel {
        spec.par_chunks_mut(POINTS_PER_TASK).for_each(scale);
    } else {
        scale(spec);
    }
}

/// Real samples: real-to-complex along the last axis, complex along the others.
pub struct RealDomain<T: FftFloat> {
    f: Vec<usize>,
    spec_shape: Vec<usize>,
    r2c: Arc<dyn RealToComplex<T>>,
    c2r: Arc<dyn ComplexToReal<T>>,
    forward_lead: Vec<Arc<dyn Fft<T>>>,
    inverse_lead: Vec<Arc<dyn Fft<T>>>,
}

impl<T: FftFloat> RealDomain<T> {
    /// Plans for transform lengths `f` (the last one even).
    pub fn new(f: &[usize]) -> Self {
        let p = T::planners();
        let last = f[f.len() - 1];
        let mut spec_shape = f.to_vec();
        spec_shape[f.len() - 1] = last / 2 + 1;
        let lead = &f[..f.len() - 1];
        RealDomain {
            f: f.to_vec(),
            spec_shape,
            r2c: p.r2c(last),
            c2r: p.c2r(last),
            forward_lead: lead.iter().map(|&n| p.complex(n, false)).collect(),
            inverse_lead: lead.iter().map(|&n| p.complex(n, true)).collect(),
        }
    }
}

impl<T: FftFloat> Domain<T> for RealDomain<T> {
    type Sample = T;

    fn spec_len(&self) -> usize {
        self.spec_shape.iter().product()
    }

    fn tile_len(&self) -> usize {
        self.f.iter().product()
    }

    fn forward(&self, buf: &mut [T], spec: &mut [C<T>], parallel: bool) {
        rows_forward_real(buf, spec, self.r2c.as_ref(), parallel);
        for (axis, fft) in self.forward_lead.iter().enumerate() {
            along_axis(spec, &self.spec_shape, axis, fft.as_ref(), parallel);
        }
    }

    fn inverse(&self, spec: &mut [C<T>], buf: &mut [T], parallel: bool) {
        for (axis, fft) in self.inverse_lead.iter().enumerate() {
            along_axis(spec, &self.spec_shape, axis, fft.as_ref(), parallel);
        }
        rows_inverse_real(spec, buf, self.c2r.as_ref(), parallel);
    }

    fn with_lengths(f: &[usize]) -> Self {
        RealDomain::new(f)
    }

    // With axes before the last, the last of them is transformed, multiplied and transformed
    // back a panel at a time ([`convolve_along_axis`]), the kernel's spectrum kept line-major
    // along it so that the product reads it contiguously.
    fn kernel_forward(&self, buf: &mut [T], spec: &mut [C<T>], parallel: bool) {
        let Some(fused) = self.forward_lead.len().checked_sub(1) else {
            return self.forward(buf, spec, parallel);
        };
        let mut natural = scratch::overwritten(spec.len(), C::new(T::zero(), T::zero()));
        self.signal_forward(buf, &mut natural, parallel);
        let fft = self.forward_lead[fused].as_ref();
        along_axis_to_line_major(&mut natural, &self.spec_shape, fused, fft, spec, parallel);
    }

    fn signal_forward(&self, buf: &mut [T], spec: &mut [C<T>], parallel: bool) {
        rows_forward_real(buf, spec, self.r2c.as_ref(), parallel);
        let before_fused = self.forward_lead.len().saturating_sub(1);
        for (axis, fft) in self.forward_lead[..before_fused].iter().enumerate() {
            along_axis(spec, &self.spec_shape, axis, fft.as_ref(), parallel);
        }
    }

    fn multiply_inverse(&self, spec: &mut [C<T>], kernel: &[C<T>], buf: &mut [T], parallel: bool) {
        let Some(fused) = self.forward_lead.len().checked_sub(1) else {
            multiply(spec, kernel, parallel);
            return self.inverse(spec, buf, parallel);
        };
        let pair = (
            self.forward_lead[fused].as_ref(),
            self.inverse_lead[fused].as_ref(),
        );
        convolve_along_axis(spec, &self.spec_shape, fused, pair, kernel, parallel);
        for (axis, fft) in self.inverse_lead[..fused].iter().enumerate() {
            along_axis(spec, &self.spec_shape, axis, fft.as_ref(), parallel);
        }
        rows_inverse_real(spec, buf, self.c2r.as_ref(), parallel);
    }
}

/// Complex samples: complex transforms along every axis.
pub struct ComplexDomain<T: FftFloat> {
    f: Vec<usize>,
    forward: Vec<Arc<dyn Fft<T>>>,
    inverse: Vec<Arc<dyn Fft<T>>>,
}

impl<T: FftFloat> ComplexDomain<T> {
    /// Plans for transform lengths `f`.
    pub fn new(f: &[usize]) -> Self {
        let p = T::planners();
        ComplexDomain {
            f: f.to_vec(),
            forward: f.iter().map(|&n| p.complex(n, false)).collect(),
            inverse: f.iter().map(|&n| p.complex(n, true)).collect(),
        }
    }
}

impl<T: FftFloat> Domain<T> for ComplexDomain<T>
where
    C<T>: Element,
{
    type Sample = C<T>;

    fn spec_len(&self) -> usize {
        self.f.iter().product()
    }

    fn tile_len(&self) -> usize {
        self.f.iter().product()
    }

    fn forward(&self, buf: &mut [C<T>], spec: &mut [C<T>], parallel: bool) {
        spec.copy_from_slice(buf);
        for (axis, fft) in self.forward.iter().enumerate() {
            along_axis(spec, &self.f, axis, fft.as_ref(), parallel);
        }
    }

    fn inverse(&self, spec: &mut [C<T>], buf: &mut [C<T>], parallel: bool) {
        for (axis, fft) in self.inverse.iter().enumerate() {
            along_axis(spec, &self.f, axis, fft.as_ref(), parallel);
        }
        buf.copy_from_slice(spec);
    }

    fn with_lengths(f: &[usize]) -> Self {
        ComplexDomain::new(f)
    }
}

//! The two kinds of tile transform: real input (half spectrum) and complex input.

use std::sync::Arc;

use realfft::{ComplexToReal, RealToComplex};
use rustfft::Fft;

use crate::element::Element;
use crate::fft::plans::{FftFloat, C};
use crate::fft::transform::{along_axis, rows_forward_real, rows_inverse_real};

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

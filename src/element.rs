//! The element types the core computes in, and the one arithmetic operation it needs.
//!
//! Integers of every width are computed as wrapping `i64` (two's-complement arithmetic is a ring
//! homomorphism modulo 2^n, so truncating the `i64` result to the peer's width reproduces the
//! peer's wrap-around exactly); `bool` is computed as an integer sum and compared with zero.

use num_complex::Complex;

/// An element the direct kernels can multiply and accumulate.
///
/// # Safety
/// The all-zero bit pattern must be a valid value equal to [`Element::ZERO`]: outputs are
/// allocated zeroed by the allocator (lazily, by the operating system, for large buffers).
pub unsafe trait Element:
    Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static
{
    /// The additive identity.
    const ZERO: Self;
    /// `self + a * b` in this type's arithmetic (wrapping for integers, unfused for floats).
    fn mul_acc(self, a: Self, b: Self) -> Self;
    /// The complex conjugate (identity for real types).
    fn conj(self) -> Self;
}

// SAFETY: all-zero bits are f32's zero.
unsafe impl Element for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn mul_acc(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    #[inline(always)]
    fn conj(self) -> Self {
        self
    }
}

// SAFETY: all-zero bits are f64's zero.
unsafe impl Element for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn mul_acc(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    #[inline(always)]
    fn conj(self) -> Self {
        self
    }
}

// SAFETY: all-zero bits are i64's zero.
unsafe impl Element for i64 {
    const ZERO: Self = 0;
    #[inline(always)]
    fn mul_acc(self, a: Self, b: Self) -> Self {
        self.wrapping_add(a.wrapping_mul(b))
    }
    #[inline(always)]
    fn conj(self) -> Self {
        self
    }
}

// SAFETY: all-zero bits are Complex<f32>'s zero.
unsafe impl Element for Complex<f32> {
    const ZERO: Self = Complex::new(0.0, 0.0);
    #[inline(always)]
    fn mul_acc(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    #[inline(always)]
    fn conj(self) -> Self {
        Complex::conj(&self)
    }
}

// SAFETY: all-zero bits are Complex<f64>'s zero.
unsafe impl Element for Complex<f64> {
    const ZERO: Self = Complex::new(0.0, 0.0);
    #[inline(always)]
    fn mul_acc(self, a: Self, b: Self) -> Self {
        self + a * b
    }
    #[inline(always)]
    fn conj(self) -> Self {
        Complex::conj(&self)
    }
}

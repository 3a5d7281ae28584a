//! The naive reference: correlation from the definition, in the element's own arithmetic,
//! summing each output's terms in lexicographic tap order (the order the core documents).

use num_complex::Complex;

/// The per-axis output rule of each mode, restated from the NumPy/SciPy definitions:
/// `(start, output length)` for a signal of length `n` and a kernel of length `k`.
pub fn axis_rule(n: usize, k: usize, mode: u8) -> (isize, usize) {
    let (ni, ki) = (n as isize, k as isize);
    match mode {
        // full: every overlap.
        0 => (-(ki - 1), n + k - 1),
        // same (SciPy/NumPy centring: tap k/2 over each output).
        1 => (-(ki / 2), n),
        // same with correlate2d's centring (tap (k-1)/2 over each output).
        2 => (-((ki - 1) / 2), n),
        // valid, with the peers' swap when the kernel is the longer one.
        _ if k > n => (ni - ki, k - n + 1),
        _ => (0, n - k + 1),
    }
}

/// Element arithmetic for the reference (written out here so that it does not reuse the
/// core's own `mul_acc`).
pub trait RefElem: Copy + PartialEq + std::fmt::Debug {
    /// Zero.
    const ZERO: Self;
    /// `acc + a * b`, wrapping for integers, unfused for floats.
    fn ref_mul_acc(acc: Self, a: Self, b: Self) -> Self;
    /// The conjugate.
    fn ref_conj(self) -> Self;
}

macro_rules! real_ref {
    ($t:ty) => {
        impl RefElem for $t {
            const ZERO: Self = 0.0;
            fn ref_mul_acc(acc: Self, a: Self, b: Self) -> Self {
                acc + a * b
            }
            fn ref_conj(self) -> Self {
                self
            }
        }
    };
}
real_ref!(f32);
real_ref!(f64);

impl RefElem for i64 {
    const ZERO: Self = 0;
    fn ref_mul_acc(acc: Self, a: Self, b: Self) -> Self {
        acc.wrapping_add(a.wrapping_mul(b))
    }
    fn ref_conj(self) -> Self {
        self
    }
}

macro_rules! complex_ref {
    ($t:ty) => {
        impl RefElem for Complex<$t> {
            const ZERO: Self = Complex::new(0.0, 0.0);
            fn ref_mul_acc(acc: Self, a: Self, b: Self) -> Self {
                Complex::new(
                    acc.re + (a.re * b.re - a.im * b.im),
                    acc.im + (a.re * b.im + a.im * b.re),
                )
            }
            fn ref_conj(self) -> Self {
                Complex::new(self.re, -self.im)
            }
        }
    };
}
complex_ref!(f32);
complex_ref!(f64);

/// A C-order array owned by the reference.
#[derive(Debug, Clone)]
pub struct Owned<T> {
    /// Elements in C order.
    pub data: Vec<T>,
    /// Shape.
    pub shape: Vec<usize>,
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

fn index_of(flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut rest = flat;
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = rest % shape[d];
        rest /= shape[d];
    }
    idx
}

/// The correlation of `x` with `w` over the trailing axes after `nb` batch axes (which
/// broadcast), in `mode` (0 full, 1 same, 2 same-low-centre, 3 valid), the kernel reversed
/// along the convolved axes when `flip` and conjugated when `conj`.
///
/// The caller guarantees non-empty convolved axes and broadcastable batch axes.
pub fn correlate<T: RefElem>(
    x: &Owned<T>,
    w: &Owned<T>,
    nb: usize,
    mode: u8,
    flip: bool,
    conj: bool,
) -> Owned<T> {
    let nd = x.shape.len();
    let mut shape = Vec::with_capacity(nd);
    let mut starts = Vec::with_capacity(nd);
    for d in 0..nd {
        let (p, q) = (x.shape[d], w.shape[d]);
        if d < nb {
            shape.push(if p == 1 { q } else { p });
            starts.push(0);
        } else {
            let (start, m) = axis_rule(p, q, mode);
            shape.push(m);
            starts.push(start);
        }
    }
    let total: usize = shape.iter().product();
    let (xs, ws) = (strides(&x.shape), strides(&w.shape));
    let taps_shape = &w.shape[nb..];
    let taps: usize = taps_shape.iter().product();
    let mut data = Vec::with_capacity(total);
    for flat in 0..total {
        let o = index_of(flat, &shape);
        let mut acc = T::ZERO;
        'tap: for t in 0..taps {
            let j = index_of(t, taps_shape);
            let mut xi = 0usize;
            let mut wi = 0usize;
            for d in 0..nb {
                xi += if x.shape[d] == 1 { 0 } else { o[d] } * xs[d];
                wi += if w.shape[d] == 1 { 0 } else { o[d] } * ws[d];
            }
            for d in nb..nd {
                let jd = j[d - nb];
                let pos = starts[d] + (o[d] + jd) as isize;
                if pos < 0 || pos >= x.shape[d] as isize {
                    continue 'tap;
                }
                xi += pos as usize * xs[d];
                let wj = if flip { w.shape[d] - 1 - jd } else { jd };
                wi += wj * ws[d];
            }
            let wv = if conj {
                w.data[wi].ref_conj()
            } else {
                w.data[wi]
            };
            acc = T::ref_mul_acc(acc, x.data[xi], wv);
        }
        data.push(acc);
    }
    Owned { data, shape }
}

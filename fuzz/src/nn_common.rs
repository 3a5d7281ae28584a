//! Shared pieces of the `conv` and `pool` targets: the element trait, value decoding, and
//! the comparisons against the float64 references.

use fastconv::nn::gemm::ConvFloat;
use fastconv::nn::pool::PoolFloat;

use crate::input::Bytes;

/// A float type of the neural-network core (`f32`, `f64`), with what the checks need.
pub trait NnFloat: ConvFloat + PoolFloat {
    /// Unit roundoff `u = EPSILON / 2`.
    const U: f64;
    /// Significand bits (24 or 53).
    const MANTISSA: i32;
    /// `v` rounded to the type.
    fn of(v: f64) -> Self;
    /// The value as `f64` (exact).
    fn f(self) -> f64;
    /// The bit pattern.
    fn bits(self) -> u64;
}

impl NnFloat for f32 {
    const U: f64 = f32::EPSILON as f64 / 2.0;
    const MANTISSA: i32 = 24;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f(self) -> f64 {
        f64::from(self)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl NnFloat for f64 {
    const U: f64 = f64::EPSILON / 2.0;
    const MANTISSA: i32 = 53;
    fn of(v: f64) -> Self {
        v
    }
    fn f(self) -> f64 {
        self
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// How a case's values are drawn.
#[derive(Clone, Copy, Debug)]
pub struct ValueKind {
    /// Full-precision values (products and sums round); otherwise multiples of 1/8 in
    /// `[-4, 4)`, whose products are multiples of 1/64, so that sums are exact while
    /// `|sum| * 64 < 2^MANTISSA` whatever the summation order.
    pub rough: bool,
    /// NaN, +inf and -inf at some positions (pooling only).
    pub specials: bool,
}

impl ValueKind {
    /// Decodes a kind (`specials` only when `allow_specials`).
    pub fn decode(b: &mut Bytes<'_>, allow_specials: bool) -> Self {
        let rough = rare(b, 4);
        let specials = allow_specials && rare(b, 6);
        ValueKind { rough, specials }
    }
}

/// True with probability about `1 / n` (`n` at most 256), but false for a zero byte: the
/// bytes past the end of the input read as zeros, so short inputs decode to the common case
/// (unlike [`Bytes::one_in`], which is true for a zero).
pub fn rare(b: &mut Bytes<'_>, n: u16) -> bool {
    u16::from(b.u8()) % n == n - 1
}

/// SplitMix64: the values past the end of the fuzz input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` values: one fuzz byte each while input remains (so the fuzzer steers ties, signs
/// and specials), then a pseudo-random stream seeded by `seed`.
pub fn values<T: NnFloat>(b: &mut Bytes<'_>, len: usize, kind: ValueKind, seed: u64) -> Vec<T> {
    (0..len)
        .map(|i| {
            let r = mix(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let byte = if b.remaining() > 0 { b.u8() } else { r as u8 };
            if kind.specials && byte >= 250 {
                return T::of([f64::NAN, f64::INFINITY, f64::NEG_INFINITY][usize::from(byte % 3)]);
            }
            if kind.rough {
                // 53 random bits in [-1, 1), scaled by 2^-2 .. 2^2, then rounded to T.
                let unit = (r >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
                T::of(unit * 2f64.powi(i32::from(byte % 5) - 2))
            } else {
                T::of(f64::from((byte as i8) >> 2) / 8.0)
            }
        })
        .collect()
}

/// One element of a float64 reference: the value, the sum of the absolute values of its
/// terms, and the number of terms.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ref {
    /// The sum in float64.
    pub v: f64,
    /// The sum of `|term|`.
    pub abs: f64,
    /// The number of terms.
    pub terms: usize,
}

impl Ref {
    /// Adds one term.
    pub fn add(&mut self, t: f64) {
        self.v += t;
        self.abs += t.abs();
        self.terms += 1;
    }
}

/// The allowed error of an element summed from `r.terms` terms in `T`.
///
/// Tolerance: `(terms + 2) * (u_T + u_64) * sum |terms|`, with `u` the unit roundoff. Any
/// summation order of `m` terms (sequential, blocked, pairwise, with or without FMA) is within
/// `(m - 1) * u_T * sum |terms|` of the exact sum (Higham, *Accuracy and Stability of
/// Numerical Algorithms*, 2nd ed., eq. 4.4, to first order); the two extra `u` cover rounding
/// the terms themselves (a product, or a quotient for average pooling) and the result to `T`,
/// and `u_64` the float64 reference's own rounding. So: a few eps per term of the sum, scaled
/// by the sum of the absolute values — no smaller bound holds for every summation order.
///
/// With exact data (`!rough`: multiples of 1/8, products multiples of 1/64) every partial
/// sum is exact while `sum |terms| * 64 < 2^MANTISSA`: then any order gives the reference
/// exactly and the tolerance is 0.
pub fn tolerance<T: NnFloat>(r: &Ref, rough: bool) -> f64 {
    if !rough && r.abs * 64.0 < 2f64.powi(T::MANTISSA) {
        return 0.0;
    }
    (r.terms as f64 + 2.0) * (T::U + f64::EPSILON / 2.0) * r.abs
}

/// 0 finite, 1 NaN, 2 +inf, 3 -inf.
pub fn class(v: f64) -> u8 {
    if v.is_nan() {
        1
    } else if v == f64::INFINITY {
        2
    } else if v == f64::NEG_INFINITY {
        3
    } else {
        0
    }
}

/// Checks `got` against the reference within [`tolerance`]; a non-finite reference must be
/// matched by the same class (NaN, +inf, -inf).
pub fn assert_close<T: NnFloat>(what: &str, got: &[T], want: &[Ref], rough: bool) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, r)) in got.iter().zip(want).enumerate() {
        let g = g.f();
        if !r.v.is_finite() || !g.is_finite() {
            assert_eq!(
                class(g),
                class(r.v),
                "{what}: element {i}: got {g:e}, want {:e} ({r:?})",
                r.v
            );
            continue;
        }
        let tol = tolerance::<T>(r, rough);
        let err = (g - r.v).abs();
        assert!(
            err <= tol,
            "{what}: element {i}: got {g:e}, want {:e} (error {err:e} > tolerance {tol:e}, {r:?})",
            r.v
        );
    }
}

/// Checks that two runs of an entry point (1 and 3 threads) gave bitwise identical results;
/// NaNs only need to be NaN on both sides (LLVM may commute an addition, which picks the
/// other operand's NaN payload without changing any value).
pub fn assert_same_bits<T: NnFloat>(what: &str, a: &[T], b: &[T]) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let same = x.bits() == y.bits() || (x.f().is_nan() && y.f().is_nan());
        assert!(
            same,
            "{what}: element {i} depends on the thread count: {x:?} on 1 thread, {y:?} on 3"
        );
    }
}

/// A length that is not `len` (one more, or one less when possible).
pub fn wrong_len(b: &mut Bytes<'_>, len: usize) -> usize {
    if len > 0 && b.bool() {
        len - 1
    } else {
        len + 1
    }
}

/// The product of `dims`, multiplied left to right, or `None` when a partial product
/// overflows `usize` (the core's rule: a later zero does not rescue an overflow).
pub fn product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

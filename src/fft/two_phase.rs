//! One long 1-D FFT convolution as four half-length ones (even and odd samples), so that two
//! threads share every transform instead of only the two forward ones.
//!
//! A circular convolution of even length `F = 2M`, `y = x (*) h`, splits by the parity of
//! the index (`x_e[j] = x[2j]`, `x_o[j] = x[2j + 1]`, likewise `h` and `y`) into circular
//! convolutions of length `M`:
//!
//! ```text
//! y_e = x_e (*) h_e + delay(x_o (*) h_o)      (delay: one sample, circularly)
//! y_o = x_e (*) h_o + x_o (*) h_e
//! ```
//!
//! and in the frequency domain of length `M` the delay is the factor `exp(-2 pi i q / M)` of
//! bin `q`. So four forward transforms of length `M` (of `x_e`, `x_o`, `h_e`, `h_o`), four
//! complex products per bin (three by Karatsuba, one delay) and two inverse transforms give
//! the same circular result as the whole
//! transform of length `F`: the same `N log N` work, but on two threads the critical path is
//! three half-length transforms instead of two whole ones (a third less), and the path is
//! taken by shape alone, so results never depend on the thread count. The transforms are
//! rustfft/realfft plans; only the split and the recombination are here.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::element::Element;
use crate::fft::domain::Domain;
use crate::fft::plans::{FftFloat, C};
use crate::fft::sizes::fast_len;
use crate::parallel::join_if;
use crate::scratch::{self, Scratch};

/// Shortest transform taken in two phases. Chosen, not fitted: around it (2e4 x 5e3 points,
/// float32 and float64) both paths measured within the noise on one thread and two phases
/// 0-20% faster on two; below it a call is tens of microseconds and the extra passes and
/// task hand-offs weigh more.
pub const MIN_LEN: usize = 1 << 14;

/// Bins per twiddle anchor: each bin's factor is its anchor's times a table entry, both
/// computed in `f64`, so every bin gets the same value whichever thread runs its chunk.
const ANCHOR_BINS: usize = 64;

/// Bins per parallel task of the products and points per task of the interleaved copy (a
/// multiple of [`ANCHOR_BINS`]).
const POINTS_PER_TASK: usize = 1 << 13;

/// The transform length of a whole 1-D convolution needing `need` points when it runs in two
/// phases: four times a fast length, so each phase's length is even (realfft's fast case)
/// with a fast half. `None` below [`MIN_LEN`].
pub fn transform_len(need: usize) -> Option<usize> {
    if need < MIN_LEN {
        return None;
    }
    fast_len(need.div_ceil(4)).checked_mul(4)
}

/// Whether a one-tile transform of lengths `f` (one per axis) runs in two phases: one axis,
/// at least [`MIN_LEN`] long, a multiple of 4.
pub fn applies(f: &[usize]) -> bool {
    matches!(f, [n] if *n >= MIN_LEN && n.is_multiple_of(4))
}

/// One phase's samples and their spectrum.
type Phase<S, T> = (Scratch<S>, Scratch<C<T>>);

/// The circular convolution of length `f` of the window `x[a..a + f]` (zeros outside `x`)
/// with `h` at the origin, written as `out[i] = y[extract + i]`. `half` is the transform of
/// length `f / 2`; with `parallel`, transforms and passes are spread over the current pool.
#[allow(clippy::too_many_arguments)]
pub fn convolve<T, D>(
    half: &D,
    x: &[D::Sample],
    a: isize,
    h: &[D::Sample],
    f: usize,
    extract: usize,
    out: &mut [MaybeUninit<D::Sample>],
    parallel: bool,
) where
    T: FftFloat,
    D: Domain<T>,
{
    let m = f / 2;
    assert!(
        half.tile_len() == m && extract + out.len() <= f,
        "two-phase layout mismatch"
    );
    let phase = |src: &[D::Sample], a: isize, parity: usize| -> Phase<D::Sample, T> {
        let mut buf = scratch::overwritten(m, D::Sample::ZERO);
        gather_phase(src, a, parity, &mut buf);
        let mut spec = scratch::overwritten(half.spec_len(), C::new(T::zero(), T::zero()));
        half.forward(&mut buf, &mut spec, false);
        (buf, spec)
    };
    let ((xe, xo), (he, ho)) = join_if(
        parallel,
        || join_if(parallel, || phase(x, a, 0), || phase(x, a, 1)),
        || join_if(parallel, || phase(h, 0, 0), || phase(h, 0, 1)),
    );
    // The x phases' buffers and spectra become the y phases'.
    let ((mut ye, mut ye_spec), (mut yo, mut yo_spec)) = (xe, xo);
    let scale = 1.0 / m as f64;
    combine(&mut ye_spec, &mut yo_spec, &he.1, &ho.1, m, scale, parallel);
    drop((he, ho));
    join_if(
        parallel,
        || half.inverse(&mut ye_spec, &mut ye, false),
        || half.inverse(&mut yo_spec, &mut yo, false),
    );
    interleave(&ye, &yo, extract, out, parallel);
}

/// `buf[j] = src[a + 2j + parity]` where that index is inside `src`, zero elsewhere.
fn gather_phase<S: Element>(src: &[S], a: isize, parity: usize, buf: &mut [S]) {
    // First j with a + 2j + parity >= 0, and the count of j with the index below src.len().
    let first = a + parity as isize;
    let j_lo = if first >= 0 {
        0
    } else {
        ((-first) as usize).div_ceil(2)
    };
    let j_hi = if (src.len() as isize) <= first {
        0
    } else {
        ((src.len() as isize - first) as usize).div_ceil(2)
    }
    .min(buf.len());
    let j_lo = j_lo.min(j_hi);
    buf[..j_lo].fill(S::ZERO);
    if j_hi > j_lo {
        let start = (first + 2 * j_lo as isize) as usize;
        for (d, s) in buf[j_lo..j_hi]
            .iter_mut()
            .zip(src[start..].iter().step_by(2))
        {
            *d = *s;
        }
    }
    buf[j_hi..].fill(S::ZERO);
}

/// `exp(-2 pi i q / m)` in `f64`.
fn cis(q: usize, m: usize) -> (f64, f64) {
    let angle = -2.0 * std::f64::consts::PI * (q % m) as f64 / m as f64;
    (angle.cos(), angle.sin())
}

/// In place: `ye <- (Xe He + t_q Xo Ho) s`, `yo <- (Xe Ho + Xo He) s` per bin `q` (on
/// entry `ye` holds `Xe` and `yo` holds `Xo`; `t_q` the one-sample delay, `s` the scale).
fn combine<T: FftFloat>(
    ye: &mut [C<T>],
    yo: &mut [C<T>],
    he: &[C<T>],
    ho: &[C<T>],
    m: usize,
    scale: f64,
    parallel: bool,
) {
    let table: Vec<(f64, f64)> = (0..ANCHOR_BINS).map(|j| cis(j, m)).collect();
    let s = T::from(scale).unwrap_or_else(T::one);
    let task = |t: usize, ye: &mut [C<T>], yo: &mut [C<T>]| {
        let q0 = t * POINTS_PER_TASK;
        let he = &he[q0..q0 + ye.len()];
        let ho = &ho[q0..q0 + ye.len()];
        let mut tw = [C::new(T::zero(), T::zero()); ANCHOR_BINS];
        for (c, (((ye, yo), he), ho)) in ye
            .chunks_mut(ANCHOR_BINS)
            .zip(yo.chunks_mut(ANCHOR_BINS))
            .zip(he.chunks(ANCHOR_BINS))
            .zip(ho.chunks(ANCHOR_BINS))
            .enumerate()
        {
            // This chunk's delay factors: its anchor times the table, in f64, then scaled.
            let (ar, ai) = cis(q0 + c * ANCHOR_BINS, m);
            for (t, &(br, bi)) in tw.iter_mut().zip(&table) {
                *t = C::new(
                    T::from((ar * br - ai * bi) * scale).unwrap_or_else(T::zero),
                    T::from((ar * bi + ai * br) * scale).unwrap_or_else(T::zero),
                );
            }
            for ((((e, o), &a), &b), &t) in
                ye.iter_mut().zip(yo.iter_mut()).zip(he).zip(ho).zip(&tw)
            {
                // Three products (Karatsuba) instead of four for the two sums.
                let (xe, xo) = (*e, *o);
                let (p1, p2) = (xe * a, xo * b);
                let p3 = (xe + xo) * (a + b);
                *e = p1 * s + t * p2;
                *o = (p3 - p1 - p2) * s;
            }
        }
    };
    if parallel {
        ye.par_chunks_mut(POINTS_PER_TASK)
            .zip(yo.par_chunks_mut(POINTS_PER_TASK))
            .enumerate()
            .for_each(|(t, (e, o))| task(t, e, o));
    } else {
        for (t, (e, o)) in ye
            .chunks_mut(POINTS_PER_TASK)
            .zip(yo.chunks_mut(POINTS_PER_TASK))
            .enumerate()
        {
            task(t, e, o);
        }
    }
}

/// `out[i] = y[extract + i]` with `y[2j] = ye[j]`, `y[2j + 1] = yo[j]`.
fn interleave<S: Element>(
    ye: &[S],
    yo: &[S],
    extract: usize,
    out: &mut [MaybeUninit<S>],
    parallel: bool,
) {
    let task = |t: usize, dst: &mut [MaybeUninit<S>]| {
        let first = extract + t * POINTS_PER_TASK;
        // An odd first index takes one odd sample; then whole (even, odd) pairs.
        let (head, rest) = dst.split_at_mut((first % 2).min(dst.len()));
        if let Some(d) = head.first_mut() {
            d.write(yo[first / 2]);
        }
        let (j0, whole) = (first.div_ceil(2), rest.len() / 2);
        let mut pairs = rest.chunks_exact_mut(2);
        for ((pair, &e), &o) in pairs
            .by_ref()
            .zip(&ye[j0..j0 + whole])
            .zip(&yo[j0..j0 + whole])
        {
            pair[0].write(e);
            pair[1].write(o);
        }
        if let [d] = pairs.into_remainder() {
            d.write(ye[j0 + whole]);
        }
    };
    if parallel {
        out.par_chunks_mut(POINTS_PER_TASK)
            .enumerate()
            .for_each(|(t, d)| task(t, d));
    } else {
        for (t, d) in out.chunks_mut(POINTS_PER_TASK).enumerate() {
            task(t, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fft::domain::{ComplexDomain, RealDomain};

    /// The circular convolution of length `f` of the window `x[a..a + f]` with `h`, kept from
    /// `extract`, summed straight from the definition in `f64`.
    fn circular(x: &[f64], a: isize, h: &[f64], f: usize, extract: usize, m: usize) -> Vec<f64> {
        let tile: Vec<f64> = (0..f)
            .map(|t| {
                let i = a + t as isize;
                if i >= 0 && (i as usize) < x.len() {
                    x[i as usize]
                } else {
                    0.0
                }
            })
            .collect();
        (0..m)
            .map(|i| {
                let n = extract + i;
                (0..h.len().min(f))
                    .map(|j| h[j] * tile[(n + f - j) % f])
                    .sum()
            })
            .collect()
    }

    fn signal(len: usize, seed: u64) -> Vec<f64> {
        crate::test_values::uniform(len, seed, -0.5, 0.5)
    }

    #[test]
    fn two_phases_give_the_circular_convolution() {
        // (signal, kernel, window start, transform length, first kept index, outputs)
        let cases: [(usize, usize, isize, usize, usize, usize); 6] = [
            (50, 7, 0, 64, 6, 50),
            (51, 8, 0, 64, 0, 58),
            (64, 9, 0, 64, 8, 56), // 'valid' style: the signal fills the transform, wraps
            (40, 5, -3, 48, 4, 33), // window starting in the zero padding, odd extract
            (13, 20, 0, 36, 1, 30), // kernel longer than the signal
            (1, 1, 0, 4, 0, 1),
        ];
        for (n, k, a, f, extract, m) in cases {
            let (x, h) = (signal(n, 1), signal(k, 2));
            let want = circular(&x, a, &h, f, extract, m);
            let half = RealDomain::<f64>::new(&[f / 2]);
            let mut out = vec![MaybeUninit::<f64>::uninit(); m];
            convolve(&half, &x, a, &h, f, extract, &mut out, false);
            for (i, (o, w)) in out.iter().zip(&want).enumerate() {
                // SAFETY: convolve writes every element of `out`.
                let got = unsafe { o.assume_init() };
                assert!(
                    (got - w).abs() < 1e-12,
                    "{n} {k} {a} {f} {extract}: [{i}] {got} vs {w}"
                );
            }
            // Complex samples (real values) through the complex transforms agree too.
            let xc: Vec<C<f64>> = x.iter().map(|&v| C::new(v, 0.0)).collect();
            let hc: Vec<C<f64>> = h.iter().map(|&v| C::new(v, 0.0)).collect();
            let half = ComplexDomain::<f64>::new(&[f / 2]);
            let mut outc = vec![MaybeUninit::<C<f64>>::uninit(); m];
            convolve(&half, &xc, a, &hc, f, extract, &mut outc, false);
            for (o, w) in outc.iter().zip(&want) {
                // SAFETY: as above.
                let got = unsafe { o.assume_init() };
                assert!((got.re - w).abs() < 1e-12 && got.im.abs() < 1e-12);
            }
        }
    }

    #[test]
    fn lengths_are_four_times_a_fast_length_from_the_threshold() {
        assert_eq!(transform_len(MIN_LEN - 1), None);
        for need in [MIN_LEN, 109_999, 149_999, 1_009_999] {
            let f = transform_len(need).unwrap();
            assert!(f >= need && f.is_multiple_of(4) && applies(&[f]));
            assert_eq!(fast_len(f / 4), f / 4);
        }
        assert!(!applies(&[1 << 16, 1 << 16]) && !applies(&[]) && !applies(&[MIN_LEN + 2]));
    }
}

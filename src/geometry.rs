//! Shapes and modes turned into explicit geometry, once.
//!
//! Every correlation the core computes has the form
//! `out[i] = sum_j x[start + i + j] * w[j]` along each convolved axis, with terms whose input
//! index falls outside `0..n` left out (zero padding). The modes `full`, `same` and `valid` are
//! nothing but a choice of `start` and output length per axis; leading batch axes broadcast.

use crate::error::{ConvError, Result};

/// The output-size rule of a convolution, as in NumPy and SciPy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every position where signal and kernel overlap: `n + k - 1`.
    Full,
    /// The size of the signal, centred on the full output (SciPy's and NumPy's centring): the
    /// kernel tap `k / 2` sits over each output position.
    Same,
    /// The size of the signal with kernel tap `(k - 1) / 2` over each output position: the
    /// centring of `scipy.signal.correlate2d` (differs from [`Mode::Same`] for even `k`).
    SameLowCentre,
    /// Only positions where the kernel lies wholly inside the signal: `n - k + 1`.
    Valid,
}

impl Mode {
    /// Parses `"full"`, `"same"` or `"valid"`.
    ///
    /// # Errors
    /// [`ConvError::Value`] naming the accepted modes for anything else.
    pub fn parse(name: &str) -> Result<Mode> {
        match name {
            "full" => Ok(Mode::Full),
            "same" => Ok(Mode::Same),
            "valid" => Ok(Mode::Valid),
            "same_low_centre" => Ok(Mode::SameLowCentre),
            other => Err(ConvError::value(format!(
                "mode must be one of 'full', 'same' or 'valid', got {other:?}"
            ))),
        }
    }
}

/// The geometry of one convolved axis: `out[i]` reads `x[start + i + j]` for `j` in `0..k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisGeometry {
    /// Input length along this axis.
    pub n: usize,
    /// Kernel length along this axis.
    pub k: usize,
    /// Input index read by `out[0]` with kernel tap 0 (negative in the zero padding).
    pub start: isize,
    /// Output length along this axis.
    pub m: usize,
}

/// The longest axis a plan accepts (2^61 elements): longer ones cannot be in memory, and the
/// bound keeps `n + k`, `m + k` and transform lengths far from overflow.
pub const MAX_AXIS_LEN: usize = 1 << 61;

impl AxisGeometry {
    /// The geometry of correlating a length-`n` signal with a length-`k` kernel in `mode`.
    ///
    /// `same` keeps the output centred on the full output with offset `(k - 1) / 2` (rounded
    /// down), which is the rule of both `scipy.signal` and `numpy`.
    ///
    /// # Errors
    /// [`ConvError::Value`] for an empty axis; [`ConvError::Memory`] for lengths beyond `isize`.
    pub fn new(n: usize, k: usize, mode: Mode) -> Result<Self> {
        if n == 0 || k == 0 {
            return Err(ConvError::value("inputs must not be empty"));
        }
        if n > MAX_AXIS_LEN || k > MAX_AXIS_LEN {
            // No array this long fits in an address space; refusing it keeps every sum of
            // lengths below (signed) overflow.
            return Err(too_large());
        }
        let ki = to_isize(k)?;
        let (start, m) = match mode {
            Mode::Full => (-(ki - 1), n.checked_add(k - 1).ok_or_else(too_large)?),
            Mode::Same => (-(ki / 2), n),
            Mode::SameLowCentre => (-((ki - 1) / 2), n),
            // A kernel longer than the signal gives the peers' swapped result: every output
            // sees the whole signal, lags `n - k ..= 0`.
            Mode::Valid if k > n => (to_isize(n)? - ki, k - n + 1),
            Mode::Valid => (0, n - k + 1),
        };
        Ok(AxisGeometry { n, k, start, m })
    }

    /// The output range `lo..hi` whose kernel window lies wholly inside the input.
    pub fn interior(&self) -> (usize, usize) {
        let lo = (-self.start).max(0) as usize;
        let hi_signed = self.n as isize - self.k as isize - self.start + 1;
        let hi = hi_signed.clamp(0, self.m as isize) as usize;
        (lo.min(hi), hi)
    }

    /// The kernel taps `jlo..jhi` that land inside the input for output index `i`.
    #[inline]
    pub fn taps(&self, i: usize) -> (usize, usize) {
        let t = self.start + i as isize;
        let jlo = (-t).clamp(0, self.k as isize) as usize;
        let jhi = (self.n as isize - t).clamp(0, self.k as isize) as usize;
        (jlo, jhi.max(jlo))
    }
}

fn to_isize(v: usize) -> Result<isize> {
    isize::try_from(v).map_err(|_| too_large())
}

fn too_large() -> ConvError {
    ConvError::Memory("array dimensions are too large".into())
}

/// The product of `dims`, or [`ConvError::Memory`] when it overflows `usize`.
///
/// # Errors
/// [`ConvError::Memory`] on overflow.
pub fn checked_size(dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_large)
}

/// C-order element strides of a contiguous array of shape `dims`.
pub fn c_strides(dims: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; dims.len()];
    for d in (0..dims.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * dims[d + 1];
    }
    strides
}

/// The C-order multi-index of flat position `flat` in an array of shape `dims`.
pub fn unravel(flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for_each_axis_index(flat, dims, |d, i| idx[d] = i);
    idx
}

/// Calls `f(axis, index)` for each axis of the C-order multi-index of `flat` in shape `dims`,
/// the last axis first, without allocating (for per-row index arithmetic on hot paths).
#[inline]
pub fn for_each_axis_index(mut flat: usize, dims: &[usize], mut f: impl FnMut(usize, usize)) {
    for d in (0..dims.len()).rev() {
        f(d, flat % dims[d]);
        flat /= dims[d];
    }
}

/// Broadcasts two batch shapes NumPy-style (equal, or one of them 1).
///
/// # Errors
/// [`ConvError::Value`] when a pair of sizes is neither equal nor 1.
pub fn broadcast_batch(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    if a.len() != b.len() {
        return Err(ConvError::value("batch dimensions must have the same rank"));
    }
    a.iter()
        .zip(b)
        .map(|(&p, &q)| match (p, q) {
            _ if p == q => Ok(p),
            (1, _) => Ok(q),
            (_, 1) => Ok(p),
            _ => Err(ConvError::value(format!(
                "incompatible shapes for in1 and in2 along a non-convolved axis: {p} and {q}"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_give_numpy_lengths() {
        let full = AxisGeometry::new(4, 3, Mode::Full).unwrap();
        assert_eq!((full.start, full.m), (-2, 6));
        let same = AxisGeometry::new(4, 3, Mode::Same).unwrap();
        assert_eq!((same.start, same.m), (-1, 4));
        let valid = AxisGeometry::new(4, 3, Mode::Valid).unwrap();
        assert_eq!((valid.start, valid.m), (0, 2));
        // even kernel: centred with offset (k-1)/2 = 1 in the full output
        let same_even = AxisGeometry::new(5, 4, Mode::Same).unwrap();
        assert_eq!(same_even.start, -2);
        let low = AxisGeometry::new(5, 4, Mode::SameLowCentre).unwrap();
        assert_eq!((low.start, low.m), (-1, 5));
    }

    #[test]
    fn valid_swaps_longer_kernel_and_empty_is_rejected() {
        let swapped = AxisGeometry::new(2, 5, Mode::Valid).unwrap();
        assert_eq!((swapped.start, swapped.m), (-3, 4));
        assert!(AxisGeometry::new(0, 3, Mode::Full).is_err());
        assert!(Mode::parse("nope").is_err());
    }

    #[test]
    fn interior_and_taps_agree() {
        for (n, k) in [(10, 3), (3, 10), (1, 1), (7, 7)] {
            for mode in [Mode::Full, Mode::Same, Mode::SameLowCentre, Mode::Valid] {
                let g = AxisGeometry::new(n, k, mode).unwrap();
                let (lo, hi) = g.interior();
                for i in 0..g.m {
                    let (a, b) = g.taps(i);
                    let whole = a == 0 && b == k;
                    assert_eq!(whole, (lo..hi).contains(&i), "n={n} k={k} i={i}");
                }
            }
        }
    }

    #[test]
    fn size_overflow_is_memory_error() {
        assert!(matches!(
            checked_size(&[usize::MAX, 2]),
            Err(ConvError::Memory(_))
        ));
        assert_eq!(c_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(broadcast_batch(&[1, 3], &[2, 1]).unwrap(), vec![2, 3]);
        assert!(broadcast_batch(&[2], &[3]).is_err());
    }
}

//! The depthwise input gradient with stride 1 on every axis, on "wide" planes: the output
//! gradient's planes are zero-padded on every axis, and every output is computed at its flat index in the padded
//! layout. Each tap is then one offset into the padded plane, and a whole plane's products
//! of one tap are a single contiguous loop (no per-row bookkeeping: with rows of 32 values,
//! that bookkeeping cost more than the products). The wide result holds a few positions
//! between the rows that are not outputs; they are computed and dropped.
//!
//! Every output gets the same sequence of unfused multiply-adds, in tap order, whatever the
//! instruction set; taps reading the padding add products with its zeros (as zero padding does
//! in torch).

use super::gemm::ConvFloat;
use super::geometry::{Window, AXES};

/// How one pass reads and writes wide planes.
pub(super) struct WidePlan {
    /// Size per axis of a padded plane.
    padded: [usize; AXES],
    /// Zeros before the data per axis.
    front: [usize; AXES],
    /// Size per axis of the planes written.
    out: [usize; AXES],
    /// Offset in a padded plane of each tap, in the order of the weights.
    offsets: Vec<usize>,
    /// Elements of one padded plane.
    plane_len: usize,
    /// Flat padded indices from the first output to past the last.
    span: usize,
}

/// Flat offset of per-axis indices `i` in a C-order array of size `dims`.
fn flat(i: [usize; AXES], dims: [usize; AXES]) -> usize {
    (i[0] * dims[1] + i[1]) * dims[2] + i[2]
}

impl WidePlan {
    /// The input gradient of `w` (`None` unless every stride is 1 and no padding exceeds the
    /// dilated kernel span): the output-gradient planes padded by the span minus the padding,
    /// so that input `s` reads padded `s + span - k d` with tap `k`.
    pub(super) fn grad_input(w: &Window) -> Option<Self> {
        if w.stride.iter().any(|&s| s != 1) {
            return None;
        }
        let span: [usize; AXES] = std::array::from_fn(|a| (w.kernel[a] - 1) * w.dilation[a]);
        let mut front = [0; AXES];
        let mut padded = [0; AXES];
        for a in 0..AXES {
            front[a] = span[a].checked_sub(w.pad_before[a])?;
            padded[a] = front[a] + w.output[a] + span[a].checked_sub(w.pad_after[a])?;
        }
        let offsets = (0..w.kernel_len)
            .map(|k| {
                let ki = w.kernel_index(k);
                flat(
                    std::array::from_fn(|a| span[a] - ki[a] * w.dilation[a]),
                    padded,
                )
            })
            .collect();
        Some(Self::new(padded, front, w.input, offsets))
    }

    fn new(
        padded: [usize; AXES],
        front: [usize; AXES],
        out: [usize; AXES],
        offsets: Vec<usize>,
    ) -> Self {
        let span = if out.contains(&0) {
            0
        } else {
            flat(std::array::from_fn(|a| out[a] - 1), padded) + 1
        };
        let plane_len = padded.iter().product();
        let plan = WidePlan {
            padded,
            front,
            out,
            offsets,
            plane_len,
            span,
        };
        assert!(
            plan.offsets.iter().all(|&o| o + span <= plane_len),
            "wide plan: a tap reads past its plane"
        );
        plan
    }

    /// Writes `planes` (C-order planes of size `dims`) into `buf`, each zero-padded.
    #[inline(always)]
    pub(super) fn pad<T: ConvFloat>(&self, planes: &[T], dims: [usize; AXES], buf: &mut Vec<T>) {
        let plane_in: usize = dims.iter().product();
        let count = planes.len() / plane_in.max(1);
        buf.clear();
        buf.resize(count * self.plane_len, T::zero());
        let [_, d1, d2] = dims;
        if d1 == 0 || d2 == 0 {
            return;
        }
        let f = self.front;
        for (src, dst) in planes
            .chunks_exact(plane_in)
            .zip(buf.chunks_exact_mut(self.plane_len))
        {
            for (r, row) in src.chunks_exact(d2).enumerate() {
                let at = flat([r / d1 + f[0], r % d1 + f[1], f[2]], self.padded);
                dst[at..at + d2].copy_from_slice(row);
            }
        }
    }

    /// `out = init + sum over padded planes p of sum over taps k of taps[p][k] * p[. + off_k]`
    /// (`padded`: planes written by [`WidePlan::pad`], one slice of taps each); `wide` is
    /// scratch.
    #[inline(always)]
    pub(super) fn run<T: ConvFloat>(
        &self,
        padded: &[T],
        taps: &[&[T]],
        init: T,
        wide: &mut Vec<T>,
        out: &mut [T],
    ) {
        wide.clear();
        wide.resize(self.span, init);
        for (src, weights) in padded.chunks_exact(self.plane_len).zip(taps) {
            for (&a, &off) in weights.iter().zip(&self.offsets) {
                for (d, &s) in wide.iter_mut().zip(&src[off..off + self.span]) {
                    *d += a * s;
                }
            }
        }
        let [_, o1, o2] = self.out;
        if self.span == 0 {
            return;
        }
        for (r, row) in out.chunks_exact_mut(o2).enumerate() {
            let at = flat([r / o1, r % o1, 0], self.padded);
            row.copy_from_slice(&wide[at..at + o2]);
        }
    }
}

/// [`WidePlan::run`] as a free function, for the instruction-set dispatch.
#[inline(always)]
pub(super) fn wide_pass<T: ConvFloat>(
    plan: &WidePlan,
    padded: &[T],
    taps: &[&[T]],
    init: T,
    wide: &mut Vec<T>,
    out: &mut [T],
) {
    plan.run(padded, taps, init, wide, out);
}

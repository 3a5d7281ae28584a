//! AVX-512 `f32` versions of two depthwise padded-row loops ([`super::depthwise`]), with the
//! accumulators of a whole output row held in registers across the kernel's taps: the forward
//! pass of one output plane, and the weight-gradient products of one (sample, plane) pair.
//! The generic loops make one pass over the plane per tap, loading and storing the row each
//! time, and pay their row bookkeeping per tap.
//!
//! Each accumulator lane receives the same unfused products in the same order as in the
//! generic loops (taps in order for an output; samples, then rows, for a weight-gradient lane),
//! so the results are bitwise identical to theirs. x86-64 only.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_mul_ps,
    _mm512_set1_ps,
};

use super::geometry::{AxisReach, Window, AXES};

/// Lanes of one vector.
const LANES: usize = 16;

/// The panic message of a call [`serves`] does not allow.
const UNSERVED: &str = "the depthwise AVX-512 kernels do not serve this shape";

/// Most accumulator vectors one call keeps in registers (taps times vectors per row).
const MAX_ACCUMULATORS: usize = 24;

/// The rows a tap reads: output rows `lo..hi` per leading axis read input row
/// `o * stride + offset` there, at `shift` along the padded row.
#[derive(Clone, Copy)]
struct TapRows {
    reach: [AxisReach; AXES],
    shift: usize,
    active: bool,
}

impl TapRows {
    fn new(w: &Window, k: usize) -> Self {
        let reach = w.reaches(k);
        TapRows {
            reach,
            shift: w.kernel_index(k)[2] * w.dilation[2],
            active: reach.iter().all(|r| r.hi > r.lo),
        }
    }

    /// The input row (flat over the two leading axes) output row `(o0, o1)` reads, if any.
    #[inline(always)]
    fn input_row(&self, w: &Window, o0: usize, o1: usize) -> Option<usize> {
        let [r0, r1, _] = &self.reach;
        if !self.active || !(r0.lo..r0.hi).contains(&o0) || !(r1.lo..r1.hi).contains(&o1) {
            return None;
        }
        let i0 = ((o0 * w.stride[0]) as isize + r0.offset) as usize;
        let i1 = ((o1 * w.stride[1]) as isize + r1.offset) as usize;
        Some(i0 * w.input[1] + i1)
    }
}

/// Whether this CPU and `w` suit the kernels here: AVX-512F, and a row's accumulators for
/// every tap fit the registers.
pub(super) fn serves(w: &Window) -> bool {
    crate::simd::active_isa() == crate::simd::Isa::Avx512
        && w.stride[2] == 1
        && matches!(w.kernel_len, 1..=9)
        && matches!(w.output[2].div_ceil(LANES), 1..=2)
        && w.kernel_len * w.output[2].div_ceil(LANES) <= MAX_ACCUMULATORS
}

/// Masks of the lanes of each of `V` vectors that hold one of `len` row values.
fn row_masks<const V: usize>(len: usize) -> [__mmask16; V] {
    std::array::from_fn(|v| {
        let lanes = len.saturating_sub(v * LANES).min(LANES);
        ((1u32 << lanes) - 1) as __mmask16
    })
}

/// Checks that every row a tap reads lies inside `padded` (rows of `width`).
fn check_reads(w: &Window, taps: &[TapRows], padded_len: usize, width: usize) {
    let o2 = w.output[2];
    for t in taps.iter().filter(|t| t.active) {
        let [r0, r1, _] = t.reach;
        let last = t
            .input_row(w, r0.hi - 1, r1.hi - 1)
            .expect("an active tap reads its last row");
        assert!(
            t.shift + o2 <= width && last * width + width <= padded_len,
            "depthwise kernel: a tap reads outside the padded rows"
        );
    }
}

/// [`super::depthwise`]'s `forward_plane_padded` for `f32` ([`serves`] must hold): `out =
/// bias + sum over channels and taps of weight * x`, one output row at a time.
pub(super) fn forward_plane(
    w: &Window,
    padded: &[f32],
    width: usize,
    weights: &[f32],
    bias: f32,
    out: &mut [f32],
) {
    assert!(serves(w), "{UNSERVED}");
    // SAFETY: AVX-512F is active (serves); the kernel checks its own bounds.
    unsafe {
        match w.output[2].div_ceil(LANES) {
            1 => forward_rows::<1>(w, (padded, width), (weights, bias), out),
            _ => forward_rows::<2>(w, (padded, width), (weights, bias), out),
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn forward_rows<const V: usize>(
    w: &Window,
    (padded, width): (&[f32], usize),
    (weights, bias): (&[f32], f32),
    out: &mut [f32],
) {
    let (o2, k_len) = (w.output[2], w.kernel_len);
    let plane_rows = w.input[0] * w.input[1];
    let channels = weights.len() / k_len;
    let taps: Vec<TapRows> = (0..k_len).map(|k| TapRows::new(w, k)).collect();
    assert!(padded.len() >= channels * plane_rows * width && out.len() >= w.output_len);
    check_reads(w, &taps, plane_rows * width, width);
    let mask = row_masks::<V>(o2);
    for o0 in 0..w.output[0] {
        for o1 in 0..w.output[1] {
            let mut acc = [_mm512_set1_ps(bias); V];
            for (ci, ws) in weights.chunks_exact(k_len).enumerate() {
                let plane = padded.as_ptr().add(ci * plane_rows * width);
                for (t, &a) in taps.iter().zip(ws) {
                    if let Some(i_row) = t.input_row(w, o0, o1) {
                        let a = _mm512_set1_ps(a);
                        let src = plane.add(i_row * width + t.shift);
                        for (v, r) in acc.iter_mut().enumerate() {
                            // SAFETY: inside the plane (check_reads); masked lanes are not read.
                            let x = _mm512_maskz_loadu_ps(mask[v], src.add(v * LANES));
                            *r = _mm512_add_ps(*r, _mm512_mul_ps(a, x));
                        }
                    }
                }
            }
            let dst = out.as_mut_ptr().add((o0 * w.output[1] + o1) * o2);
            for (v, r) in acc.iter().enumerate() {
                // SAFETY: the row lies inside `out` (asserted); masked lanes are not written.
                _mm512_mask_storeu_ps(dst.add(v * LANES), mask[v], *r);
            }
        }
    }
}

/// [`super::depthwise`]'s `grad_weight_products_padded` for `f32` ([`serves`] must hold):
/// adds `go * x` of every row to each tap's row of `acc` (`k_len` rows of `S2'` lanes).
pub(super) fn grad_weight_products(
    w: &Window,
    go: &[f32],
    padded: &[f32],
    width: usize,
    acc: &mut [f32],
) {
    assert!(serves(w), "{UNSERVED}");
    // SAFETY: AVX-512F is active (serves); the kernel checks its own bounds.
    unsafe {
        match (w.kernel_len, w.output[2].div_ceil(LANES)) {
            (k, 2) if k <= 3 => weight_rows::<3, 2>(w, go, padded, width, acc),
            (k, _) if k <= 3 => weight_rows::<3, 1>(w, go, padded, width, acc),
            (_, 2) => weight_rows::<9, 2>(w, go, padded, width, acc),
            _ => weight_rows::<9, 1>(w, go, padded, width, acc),
        }
    }
}

/// The weight-gradient products with up to `K` taps (the kernel's first `K`; the others'
/// accumulators stay unused) and `V` vectors per row.
#[target_feature(enable = "avx512f")]
unsafe fn weight_rows<const K: usize, const V: usize>(
    w: &Window,
    go: &[f32],
    padded: &[f32],
    width: usize,
    acc: &mut [f32],
) {
    let (o2, k_len) = (w.output[2], w.kernel_len);
    assert!(k_len <= K && acc.len() >= k_len * o2 && go.len() >= w.output_len);
    let taps: [TapRows; K] = std::array::from_fn(|k| {
        if k < k_len {
            TapRows::new(w, k)
        } else {
            TapRows {
                active: false,
                ..TapRows::new(w, 0)
            }
        }
    });
    check_reads(w, &taps, padded.len(), width);
    let mask = row_masks::<V>(o2);
    let mut sums: [[__m512; V]; K] = std::array::from_fn(|k| {
        std::array::from_fn(|v| {
            if k < k_len {
                // SAFETY: row k of `acc` holds o2 values (asserted); masked lanes are not read.
                unsafe { _mm512_maskz_loadu_ps(mask[v], acc.as_ptr().add(k * o2 + v * LANES)) }
            } else {
                _mm512_set1_ps(0.0)
            }
        })
    });
    for o0 in 0..w.output[0] {
        for o1 in 0..w.output[1] {
            let row = go.as_ptr().add((o0 * w.output[1] + o1) * o2);
            // SAFETY: the output row lies inside `go` (asserted); masked lanes are not read.
            let g: [__m512; V] = std::array::from_fn(|v| unsafe {
                _mm512_maskz_loadu_ps(mask[v], row.add(v * LANES))
            });
            for (t, s) in taps.iter().zip(sums.iter_mut()) {
                if let Some(i_row) = t.input_row(w, o0, o1) {
                    let src = padded.as_ptr().add(i_row * width + t.shift);
                    for (v, r) in s.iter_mut().enumerate() {
                        // SAFETY: inside `padded` (check_reads); masked lanes are not read.
                        let x = _mm512_maskz_loadu_ps(mask[v], src.add(v * LANES));
                        *r = _mm512_add_ps(*r, _mm512_mul_ps(g[v], x));
                    }
                }
            }
        }
    }
    for (k, s) in sums.iter().enumerate().take(k_len) {
        for (v, r) in s.iter().enumerate() {
            // SAFETY: row k of `acc` (asserted); masked lanes are not written.
            _mm512_mask_storeu_ps(acc.as_mut_ptr().add(k * o2 + v * LANES), mask[v], *r);
        }
    }
}

//! 2x2 stride-2 max pooling of float32 planes with AVX-512, sixteen windows per vector.
//!
//! When a plane's width is even and its output rows are 1, 2, 4, 8 or 16 windows wide,
//! sixteen consecutive outputs read exactly 64 consecutive input elements: block `b`
//! covers inputs `64 b .. 64 b + 64`, and window `l` of the block has its top-left tap at
//! `64 b + t(l)` with `t(l) = 2 (l / W) iw + 2 (l % W)` for output width `W` and input width
//! `iw = 2 W`. Each of the four taps is then two two-register permutes and a blend of the
//! block's four loaded vectors. The pick is the scalar rule's ([`super::pool::pick_2x2`]),
//! the first tap equal to the maximum, written as masked moves from the last tap to the
//! first; a block holding a NaN goes window by window through the scalar rule instead.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Windows per vector.
const LANES: usize = 16;

/// Input elements one block of [`LANES`] windows reads.
const BLOCK_INPUT: usize = 4 * LANES;

/// Whether [`max_planes_2x2_avx512`] handles planes of `ih x iw` inputs pooled to `oh x ow`
/// (the caller has checked the windows are 2x2 at stride 2 with no padding or dilation).
pub(super) fn handles(ih: usize, iw: usize, oh: usize, ow: usize) -> bool {
    iw == 2 * ow
        && ow > 0
        && LANES.is_multiple_of(ow)
        && (oh * ow).is_multiple_of(LANES)
        && ih >= 2 * oh
        && i32::try_from(ih * iw).is_ok()
}

/// Max pooling of consecutive planes of `plane_input` elements each (rows of `2 ow`), their
/// outputs in `out` and `idx`; `scalar(plane, at)` is the scalar pick for the window of
/// that plane whose top-left tap is at `at`.
///
/// # Safety
/// The CPU must support AVX-512F, and [`handles`] must hold for the shapes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn max_planes_2x2_avx512(
    input: &[f32],
    out: &mut [f32],
    idx: &mut [i64],
    plane_input: usize,
    ow: usize,
    scalar: impl Fn(usize, usize) -> (f32, i64),
) {
    let iw = 2 * ow;
    let planes = input.len() / plane_input;
    let blocks = out.len() / planes.max(1) / LANES;
    assert!(idx.len() == out.len() && out.len() == planes * blocks * LANES);
    assert!(blocks * BLOCK_INPUT <= plane_input);
    let mut first = [0i32; LANES];
    for (l, t) in first.iter_mut().enumerate() {
        *t = (2 * (l / ow) * iw + 2 * (l % ow)) as i32;
    }
    let t = _mm512_loadu_si512(first.as_ptr().cast());
    let tap = |d: usize| _mm512_add_epi32(t, _mm512_set1_epi32(d as i32));
    let (ia, ib, ic, id) = (tap(0), tap(1), tap(iw), tap(iw + 1));
    let high = |i: __m512i| _mm512_cmpge_epi32_mask(i, _mm512_set1_epi32(32));
    let (ha, hb, hc, hd) = (high(ia), high(ib), high(ic), high(id));
    for p in 0..planes {
        for b in 0..blocks {
            let at = b * BLOCK_INPUT;
            let o = (p * blocks + b) * LANES;
            let src = input.as_ptr().add(p * plane_input + at);
            let v = [0, 16, 32, 48].map(|k| _mm512_loadu_ps(src.add(k)));
            let nan = v
                .iter()
                .fold(0u16, |m, &x| m | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x));
            if nan != 0 {
                for l in 0..LANES {
                    (out[o + l], idx[o + l]) = scalar(p, at + first[l] as usize);
                }
                continue;
            }
            let pick = |i: __m512i, h: __mmask16| {
                let lo = _mm512_permutex2var_ps(v[0], i, v[1]);
                let hi = _mm512_permutex2var_ps(v[2], i, v[3]);
                _mm512_mask_blend_ps(h, lo, hi)
            };
            let (a, bb, c, d) = (pick(ia, ha), pick(ib, hb), pick(ic, hc), pick(id, hd));
            let top = _mm512_max_ps(_mm512_max_ps(a, bb), _mm512_max_ps(c, d));
            let (mut value, mut pos) = (d, id);
            for (x, i) in [(c, ic), (bb, ib), (a, ia)] {
                let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(x, top);
                value = _mm512_mask_mov_ps(value, eq, x);
                pos = _mm512_mask_mov_epi32(pos, eq, i);
            }
            let base = _mm512_set1_epi64(at as i64);
            let widen = |half: __m256i| _mm512_add_epi64(base, _mm512_cvtepi32_epi64(half));
            let lo = widen(_mm512_castsi512_si256(pos));
            let hi = widen(_mm512_extracti64x4_epi64::<1>(pos));
            _mm512_storeu_ps(out.as_mut_ptr().add(o), value);
            _mm512_storeu_si512(idx.as_mut_ptr().add(o).cast(), lo);
            _mm512_storeu_si512(idx.as_mut_ptr().add(o + 8).cast(), hi);
        }
    }
}

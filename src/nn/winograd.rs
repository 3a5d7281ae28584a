//! Winograd F(2x2, 3x3) convolution for `f32` on AVX-512: the forward pass (and through it
//! the input gradient) and the weight gradient of 3x3, stride-1, undilated, ungrouped 2-D
//! convolutions with enough channels.
//!
//! A 2x2 block of outputs is `A^T [(G g G^T) . (B^T d B)] A` for the 4x4 input patch `d`
//! around it and the 3x3 kernel `g` (`.`: element-wise). Summed over input channels, each of
//! the 16 transform points is one matrix product, (positions x C_in) by (C_in x C_out): 16
//! multiply-adds per 2x2 outputs per channel pair instead of 36, 2.25 times fewer. The
//! transforms only add, subtract and halve; the rounding error follows the same expression
//! over absolute values, `|A^T| [(|G| |g| |G^T|) . (|B^T| |d| |B|)] |A|`, which covers the
//! direct sum's `sum |g| |d|` and also the taps a tile holds that an output does not use (a
//! 1e4 tap beside a 1e-3 one costs the small one's low bits; `tests/test_nn_winograd.py`
//! checks against that bound). Inputs with infinities, NaNs or huge values take the direct
//! paths ([`moderate`]).
//!
//! Layouts: images are transposed to position-major rows of channels (the existing 16x16 block
//! transposes), so every transform runs on whole vectors of 16 channels, and the products run
//! on the implicit-GEMM micro-kernel ([`super::implicit::call`]) with the output channels in
//! the vector lanes. The work of a tile never depends on which task or thread runs it, so the
//! results are the same for every thread count.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    _mm512_sub_ps,
};

use super::geometry::{checked_product, ConvShape};
use super::implicit::{self, rows_for, vectors_for, MAX_P, MAX_WIDTH};
use super::implicit_kernel::LANES;
use super::tasks::{run_tasks, SharedMut};
use super::transpose::transpose;
use crate::error::Result;
use crate::scratch::{self, Scratch};

/// Transform points of one tile (4 x 4).
const POINTS: usize = 16;

/// Fewest input and output channels the Winograd path takes: shorter sums would leave the
/// transforms' extra rounding a larger share of the error bound, and the products too narrow.
const MIN_CHANNELS: usize = 16;

/// Fewest samples: tasks are (sample, block of tile rows), so smaller batches of small images
/// would leave threads idle (the implicit GEMM splits positions instead).
const MIN_BATCH: usize = 4;

/// Bytes of transformed tiles (input and product) one forward task keeps at once.
const TASK_BYTES: usize = 512 << 10;

/// Fewest tiles of a forward task when whole samples fit in one: smaller planes are grouped,
/// several samples to a task, so that the products run on enough rows (a 4x4 plane has 4).
const MIN_TASK_TILES: usize = 32;

/// Most bytes of buffers the weight gradient holds ([`WeightPlan`]).
const WEIGHT_GRAD_BYTES: usize = 32 << 20;

/// Whether the Winograd forward pass applies to `shape` (see the module documentation).
pub(crate) fn applies(shape: &ConvShape) -> bool {
    let w = &shape.window;
    implicit::available()
        && w.ndim == 2
        && w.kernel[1..] == [3, 3]
        && w.stride[1..] == [1, 1]
        && w.dilation[1..] == [1, 1]
        && shape.groups == 1
        && shape.batch >= MIN_BATCH
        && shape.in_channels >= MIN_CHANNELS
        && shape.out_channels >= MIN_CHANNELS
}

/// Largest magnitude of the values the Winograd path takes (2^50): the transforms add up to
/// 16 values and multiply by at most 2.25, so no intermediate overflows where the direct sum
/// would not, for any channel count that fits in memory.
const MAX_MAGNITUDE: f32 = 1.125_899_9e15;

/// Whether every value of `parts` is finite and at most [`MAX_MAGNITUDE`] in magnitude. An
/// infinity or NaN takes the direct paths instead: the transforms mix a tile's inputs, so a
/// non-finite input would reach outputs (as NaN) that the direct sum never lets it touch.
pub(crate) fn moderate(parts: &[&[f32]]) -> bool {
    parts.iter().all(|values| {
        values
            .chunks(256)
            .all(|c| c.iter().fold(true, |ok, v| ok & (v.abs() <= MAX_MAGNITUDE)))
    })
}

/// Whether the Winograd weight gradient applies: [`applies`], and its buffers (the batch's
/// position-major copies and the chunks' partial sums, [`WeightPlan`]) fit in
/// [`WEIGHT_GRAD_BYTES`].
pub(crate) fn applies_weight(shape: &ConvShape) -> bool {
    applies(shape) && WeightPlan::new(shape).bytes <= WEIGHT_GRAD_BYTES
}

/// How the weight gradient cuts its work: chunks of tiles, one partial sum each.
struct WeightPlan {
    /// Tiles of the whole batch.
    tiles: usize,
    /// Tiles per chunk: fixed by the shape (an eighth of the batch's tiles, 64 to 512), so
    /// each chunk's partial sum, and their sum in chunk order, never depend on the thread
    /// count.
    chunk: usize,
    /// Chunks.
    parts: usize,
    /// Rows of one point's block of a partial sum: C_in and [`MAX_P`] rows of slack (the
    /// micro-kernel stores whole row blocks).
    part_rows: usize,
    /// Bytes of the batch's copies and the partial sums (saturating).
    bytes: usize,
}

impl WeightPlan {
    fn new(shape: &ConvShape) -> Self {
        let t = Tiles::new(shape);
        let tiles = shape.batch.saturating_mul(t.per_sample);
        let chunk = tiles.div_ceil(8).clamp(64, 512);
        let parts = tiles.div_ceil(chunk);
        let part_rows = shape.in_channels + MAX_P;
        let copies = shape.input_len.saturating_add(shape.output_len);
        let partials = parts
            .saturating_mul(POINTS)
            .saturating_mul(part_rows)
            .saturating_mul(t.cout_pad);
        let bytes = copies.saturating_add(partials).saturating_mul(4);
        WeightPlan {
            tiles,
            chunk,
            parts,
            part_rows,
            bytes,
        }
    }
}

/// The tiling of one convolution: 2x2 output tiles over the (H_out, W_out) plane.
#[derive(Clone, Copy, Debug)]
struct Tiles {
    /// Input rows and columns.
    h: usize,
    w: usize,
    /// Output rows and columns.
    ho: usize,
    wo: usize,
    /// Zeros before the input rows and columns.
    pad_top: usize,
    pad_left: usize,
    /// Tile rows and columns.
    th: usize,
    tw: usize,
    /// Tiles of one sample.
    per_sample: usize,
    /// Output channels rounded up to whole vectors (the lanes of the products).
    cout_pad: usize,
}

impl Tiles {
    fn new(shape: &ConvShape) -> Self {
        let win = &shape.window;
        let (ho, wo) = (win.output[1], win.output[2]);
        let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
        Tiles {
            h: win.input[1],
            w: win.input[2],
            ho,
            wo,
            pad_top: win.pad_before[1],
            pad_left: win.pad_before[2],
            th,
            tw,
            per_sample: th * tw,
            cout_pad: shape.out_channels.next_multiple_of(LANES),
        }
    }

    /// The input row (or column) `2 * tile + offset - pad`, when inside `0..len`.
    fn inside(tile: usize, offset: usize, pad: usize, len: usize) -> Option<usize> {
        (2 * tile + offset).checked_sub(pad).filter(|&i| i < len)
    }

    /// The 4x4 patch of tile `(ti, tj)`: element `e` is the `c`-channel row of input pixel
    /// `(2 ti + e / 4, 2 tj + e % 4) - pads` in `rows` (position-major, from input row `r0`
    /// on), or `zeros` in the padding.
    fn patch<'a>(
        &self,
        rows: &'a [f32],
        r0: usize,
        (ti, tj): (usize, usize),
        c: usize,
        zeros: &'a [f32],
    ) -> [&'a [f32]; POINTS] {
        std::array::from_fn(|e| {
            match (
                Self::inside(ti, e / 4, self.pad_top, self.h),
                Self::inside(tj, e % 4, self.pad_left, self.w),
            ) {
                (Some(ir), Some(ic)) => &rows[((ir - r0) * self.w + ic) * c..][..c],
                _ => &zeros[..c],
            }
        })
    }
}

/// The lane chunks of the products: `(first lane, vectors)` covering `0..cout_pad`.
fn lane_chunks(cout_pad: usize) -> Vec<(usize, usize)> {
    let mut chunks = Vec::new();
    let mut lane0 = 0;
    while lane0 < cout_pad {
        let cb = vectors_for(cout_pad - lane0);
        chunks.push((lane0, cb));
        lane0 += cb * LANES;
    }
    chunks
}

/// The mask of the lanes `c0..min(c0 + 16, len)` of a vector of channels.
fn lane_mask(c0: usize, len: usize) -> u16 {
    let n = (len - c0).min(LANES);
    if n == LANES {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// The transformed weight `U = G g G^T`, laid out `[point][c_in][c_out_pad]` (the products'
/// vectors). `flip`: the kernel of the input gradient, `weight` then being the layer's
/// (C_in', C_out', 3, 3) and the kernel used `g[co][ci][k] = weight[ci][co][8 - k]`.
fn weight_transform(
    weight: &[f32],
    cin: usize,
    cout: usize,
    cout_pad: usize,
    flip: bool,
) -> Scratch<f32> {
    // wt[(ci * 9 + k) * cout_pad + co]: the kernel's tap k of (co, ci), channels in lanes
    // (zeros in the lanes past C_out).
    let mut wt = scratch::filled(cin * 9 * cout_pad, 0f32);
    if flip {
        for ci in 0..cin {
            transpose(
                &weight[ci * cout * 9..],
                9,
                cout,
                9,
                &mut wt[ci * 9 * cout_pad..],
                cout_pad,
            );
        }
    } else {
        transpose(weight, cin * 9, cout, cin * 9, &mut wt, cout_pad);
    }
    let mut u = scratch::overwritten(POINTS * cin * cout_pad, 0f32);
    // SAFETY: AVX-512F is available (`applies`); the sizes are those of the buffers.
    unsafe { weight_points(&wt, cin, cout_pad, flip, &mut u) };
    u
}

/// `U = G g G^T` for every (c_in, 16-lane chunk of c_out): `wt` holds the taps
/// (`[(ci * 9 + k) * cout_pad + co]`), `u` receives `[point][ci][co]`.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_points(wt: &[f32], cin: usize, cout_pad: usize, flip: bool, u: &mut [f32]) {
    assert!(wt.len() >= cin * 9 * cout_pad && u.len() >= POINTS * cin * cout_pad);
    let half = _mm512_set1_ps(0.5);
    let plane = cin * cout_pad;
    for ci in 0..cin {
        for c0 in (0..cout_pad).step_by(LANES) {
            // SAFETY: in bounds (asserted; cout_pad is a multiple of 16).
            let g: [__m512; 9] = std::array::from_fn(|k| {
                let tap = if flip { 8 - k } else { k };
                unsafe { _mm512_loadu_ps(wt.as_ptr().add((ci * 9 + tap) * cout_pad + c0)) }
            });
            // t = G g (4 x 3), then U = t G^T (4 x 4).
            let mut t = [_mm512_setzero_ps(); 12];
            for c in 0..3 {
                let (g0, g1, g2) = (g[c], g[3 + c], g[6 + c]);
                let even = _mm512_add_ps(g0, g2);
                t[c] = g0;
                t[3 + c] = _mm512_mul_ps(half, _mm512_add_ps(even, g1));
                t[6 + c] = _mm512_mul_ps(half, _mm512_sub_ps(even, g1));
                t[9 + c] = g2;
            }
            for r in 0..4 {
                let (t0, t1, t2) = (t[3 * r], t[3 * r + 1], t[3 * r + 2]);
                let even = _mm512_add_ps(t0, t2);
                let point = [
                    t0,
                    _mm512_mul_ps(half, _mm512_add_ps(even, t1)),
                    _mm512_mul_ps(half, _mm512_sub_ps(even, t1)),
                    t2,
                ];
                for (c, &p) in point.iter().enumerate() {
                    let at = (4 * r + c) * plane + ci * cout_pad + c0;
                    // SAFETY: in bounds (asserted).
                    unsafe { _mm512_storeu_ps(u.as_mut_ptr().add(at), p) };
                }
            }
        }
    }
}

/// `G^T dU G` for every (c_in, 16-lane chunk of c_out): `du` holds `[point][ci][co]`, `taps`
/// receives `[(ci * 9 + k) * cout_pad + co]`.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_taps(du: &[f32], cin: usize, cout_pad: usize, taps: &mut [f32]) {
    assert!(du.len() >= POINTS * cin * cout_pad && taps.len() >= cin * 9 * cout_pad);
    let half = _mm512_set1_ps(0.5);
    let plane = cin * cout_pad;
    for ci in 0..cin {
        for c0 in (0..cout_pad).step_by(LANES) {
            // SAFETY: in bounds (asserted; cout_pad is a multiple of 16).
            let u: [__m512; POINTS] = std::array::from_fn(|e| unsafe {
                _mm512_loadu_ps(du.as_ptr().add(e * plane + ci * cout_pad + c0))
            });
            // t = G^T u (3 x 4), then w = t G (3 x 3).
            let mut t = [_mm512_setzero_ps(); 12];
            for c in 0..4 {
                let (u0, u1, u2, u3) = (u[c], u[4 + c], u[8 + c], u[12 + c]);
                let mid = _mm512_mul_ps(half, _mm512_add_ps(u1, u2));
                t[c] = _mm512_add_ps(u0, mid);
                t[4 + c] = _mm512_mul_ps(half, _mm512_sub_ps(u1, u2));
                t[8 + c] = _mm512_add_ps(mid, u3);
            }
            for r in 0..3 {
                let (t0, t1, t2, t3) = (t[4 * r], t[4 * r + 1], t[4 * r + 2], t[4 * r + 3]);
                let mid = _mm512_mul_ps(half, _mm512_add_ps(t1, t2));
                let k = [
                    _mm512_add_ps(t0, mid),
                    _mm512_mul_ps(half, _mm512_sub_ps(t1, t2)),
                    _mm512_add_ps(mid, t3),
                ];
                for (c, &v) in k.iter().enumerate() {
                    let at = (ci * 9 + 3 * r + c) * cout_pad + c0;
                    // SAFETY: in bounds (asserted).
                    unsafe { _mm512_storeu_ps(taps.as_mut_ptr().add(at), v) };
                }
            }
        }
    }
}

/// One participant's buffers for the forward pass.
struct ForwardScratch {
    /// The block's input rows, position-major: `(rows x W) x C_in`.
    rows: Scratch<f32>,
    /// Transformed input tiles, `[tile][point][c_in]`.
    v: Scratch<f32>,
    /// Products, `[tile][point][c_out_pad]`, and [`MAX_P`] tiles of slack.
    m: Scratch<f32>,
    /// The block's outputs, position-major: `(rows x W_out) x C_out`.
    out_rows: Scratch<f32>,
    /// The same, channel-major: `C_out x (rows x W_out)`.
    out_planes: Scratch<f32>,
}

/// Forward pass `out = conv(input, weight) + bias` of an [`applies`] shape (buffers checked by
/// the caller). `flip`: `weight` is the layer weight of an input gradient (see
/// [`weight_transform`]); `shape` is then the transposed convolution's.
pub(crate) fn forward(
    shape: &ConvShape,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    flip: bool,
    threads: usize,
) -> Result<()> {
    let (cin, cout) = (shape.in_channels, shape.out_channels);
    let t = Tiles::new(shape);
    let cp = t.cout_pad;
    let u = weight_transform(weight, cin, cout, cp, flip);
    // Tile rows per task: as many as fit TASK_BYTES of transformed tiles; when a whole sample
    // fits, samples go `group` to a task.
    let per_tile_bytes = POINTS * (cin + cp) * 4;
    let fit = (TASK_BYTES / per_tile_bytes).max(1);
    let block_rows = (fit / t.tw.max(1)).clamp(1, t.th.max(1));
    let blocks = t.th.div_ceil(block_rows);
    let max_tiles = block_rows * t.tw;
    let group = if blocks == 1 {
        MIN_TASK_TILES
            .div_ceil(max_tiles.max(1))
            .clamp(1, (fit / max_tiles.max(1)).max(1))
    } else {
        1
    };
    let in_rows = (2 * block_rows + 2).min(t.h);
    let out_rows = (2 * block_rows).min(t.ho);
    let out_len = checked_product(&[out_rows, t.wo, cout], "output block")?;
    // Each buffer is written before it is read (rows: those the block's patches reach).
    let buffers = || ForwardScratch {
        rows: scratch::overwritten(in_rows * t.w * cin, 0f32),
        v: scratch::overwritten(POINTS * group * max_tiles * cin, 0f32),
        m: scratch::overwritten((group * max_tiles + MAX_P) * POINTS * cp, 0f32),
        out_rows: scratch::overwritten(out_len, 0f32),
        out_planes: scratch::overwritten(out_len, 0f32),
    };
    let channel_offsets: Vec<usize> = (0..cin).collect();
    let zeros = vec![0f32; cin.max(MAX_WIDTH)];
    let chunks = lane_chunks(cp);
    let plane_out = t.ho * t.wo;
    let shared = SharedMut::new(out);
    let work = shape.macs().saturating_mul(4);
    let groups = shape.batch.div_ceil(group);
    run_tasks(groups * blocks, threads, work, buffers, |s, task| {
        let (n0, block) = ((task / blocks) * group, task % blocks);
        let samples = n0..(n0 + group).min(shape.batch);
        let (ti0, ti1) = (block * block_rows, ((block + 1) * block_rows).min(t.th));
        let tiles = (ti1 - ti0) * t.tw;
        // Input rows the block's patches reach, transposed to position-major.
        let r0 = (2 * ti0).saturating_sub(t.pad_top).min(t.h);
        let r1 = (2 * ti1 + 2).saturating_sub(t.pad_top).min(t.h);
        for (k, n) in samples.clone().enumerate() {
            let sample = &input[n * cin * t.h * t.w..][..cin * t.h * t.w];
            if r1 > r0 {
                let cols = (r1 - r0) * t.w;
                transpose(&sample[r0 * t.w..], t.h * t.w, cin, cols, &mut s.rows, cin);
            }
            for ti in ti0..ti1 {
                for tj in 0..t.tw {
                    let q = k * tiles + (ti - ti0) * t.tw + tj;
                    let patch = t.patch(&s.rows, r0, (ti, tj), cin, &zeros);
                    // SAFETY: AVX-512F is available (`applies`).
                    unsafe { input_tile(&patch, cin, &mut s.v, q * POINTS * cin, cin) };
                }
            }
        }
        // The 16 products, (tiles x C_in) by (C_in x C_out_pad) each, over the task's tiles.
        let all = samples.len() * tiles;
        for point in 0..POINTS {
            let x = &s.v[point * cin..all * POINTS * cin];
            let up = &u[point * cin * cp..][..cin * cp];
            for &(lane0, cb) in &chunks {
                let width = cb * LANES;
                let rows = rows_for(cb);
                for q0 in (0..all).step_by(rows) {
                    let q1 = (q0 + rows).min(all);
                    let offsets: [usize; MAX_P] = std::array::from_fn(|i| (q0 + i) * POINTS * cin);
                    // Rows past q1 (the last block's copies) land in the buffer's slack.
                    implicit::call(
                        cb,
                        x,
                        &channel_offsets,
                        &offsets[..q1 - q0],
                        up,
                        (cp, lane0),
                        Some(&zeros[..width]),
                        (&mut s.m[(q0 * POINTS + point) * cp + lane0..], POINTS * cp),
                    );
                }
            }
        }
        // Output tiles, position-major, then channel-major into the output planes.
        let (o0, o1) = (2 * ti0, (2 * ti1).min(t.ho));
        let pixels = (o1 - o0) * t.wo;
        for (k, n) in samples.enumerate() {
            for ti in ti0..ti1 {
                for tj in 0..t.tw {
                    let q = k * tiles + (ti - ti0) * t.tw + tj;
                    // SAFETY: AVX-512F is available; output_tile checks its bounds.
                    unsafe {
                        output_tile(
                            &s.m,
                            q * POINTS * cp,
                            bias,
                            cout,
                            &t,
                            (ti, tj, o0),
                            &mut s.out_rows,
                        )
                    };
                }
            }
            if pixels == plane_out {
                // The block is the whole plane: the sample's output is channel-major already.
                // SAFETY: sample n's output planes belong to this task alone.
                let dst = unsafe { shared.slice(n * cout * plane_out, cout * plane_out) };
                transpose(&s.out_rows, cout, pixels, cout, dst, pixels);
                continue;
            }
            transpose(&s.out_rows, cout, pixels, cout, &mut s.out_planes, pixels);
            for co in 0..cout {
                // SAFETY: rows o0..o1 of plane (n, co) belong to this task alone.
                let at = (n * cout + co) * plane_out + o0 * t.wo;
                let dst = unsafe { shared.slice(at, pixels) };
                dst.copy_from_slice(&s.out_planes[co * pixels..][..pixels]);
            }
        }
    })
}

/// `B^T d B` of one 4x4 patch (`patch[r * 4 + c]`: `cin` channels each) into
/// `dst[at + point * ld..][..cin]`.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_tile(patch: &[&[f32]; POINTS], cin: usize, dst: &mut [f32], at: usize, ld: usize) {
    assert!(patch.iter().all(|p| p.len() >= cin));
    assert!(at + 15 * ld + cin <= dst.len());
    for c0 in (0..cin).step_by(LANES) {
        let mask: __mmask16 = lane_mask(c0, cin);
        // SAFETY: masked loads within each row's `cin` values (asserted).
        let d: [__m512; POINTS] = std::array::from_fn(|e| unsafe {
            _mm512_maskz_loadu_ps(mask, patch[e].as_ptr().add(c0))
        });
        // Along the rows (for each column c), then along the columns.
        let mut t = [_mm512_setzero_ps(); POINTS];
        for c in 0..4 {
            let (d0, d1, d2, d3) = (d[c], d[4 + c], d[8 + c], d[12 + c]);
            t[c] = _mm512_sub_ps(d0, d2);
            t[4 + c] = _mm512_add_ps(d1, d2);
            t[8 + c] = _mm512_sub_ps(d2, d1);
            t[12 + c] = _mm512_sub_ps(d1, d3);
        }
        for r in 0..4 {
            let (t0, t1, t2, t3) = (t[4 * r], t[4 * r + 1], t[4 * r + 2], t[4 * r + 3]);
            let point = [
                _mm512_sub_ps(t0, t2),
                _mm512_add_ps(t1, t2),
                _mm512_sub_ps(t2, t1),
                _mm512_sub_ps(t1, t3),
            ];
            for (c, &p) in point.iter().enumerate() {
                // SAFETY: within the destination (asserted), masked to the channels.
                unsafe {
                    _mm512_mask_storeu_ps(dst.as_mut_ptr().add(at + (4 * r + c) * ld + c0), mask, p)
                };
            }
        }
    }
}

/// `A^T m A` (+ bias) of tile `(ti, tj)`'s products (`m[at + point * cout_pad..]`, `cout`
/// lanes) into the position-major output rows of the block that starts at output row `o0`;
/// outputs past the plane's edge are dropped.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn output_tile(
    m: &[f32],
    at: usize,
    bias: Option<&[f32]>,
    cout: usize,
    t: &Tiles,
    (ti, tj, o0): (usize, usize, usize),
    rows: &mut [f32],
) {
    let plane = t.cout_pad;
    assert!(15 * plane + at + cout <= m.len());
    let rows_in_block = rows.len() / (t.wo * cout);
    for c0 in (0..cout).step_by(LANES) {
        let mask: __mmask16 = lane_mask(c0, cout);
        // SAFETY: masked loads within m (asserted) and the bias (cout values).
        let p: [__m512; POINTS] = std::array::from_fn(|e| unsafe {
            _mm512_maskz_loadu_ps(mask, m.as_ptr().add(e * plane + at + c0))
        });
        let b = match bias {
            Some(b) => unsafe { _mm512_maskz_loadu_ps(mask, b.as_ptr().add(c0)) },
            None => _mm512_setzero_ps(),
        };
        // Along the rows: s[0] = m0 + m1 + m2, s[1] = m1 - m2 - m3 (per column c).
        let mut s = [_mm512_setzero_ps(); 8];
        for c in 0..4 {
            let (m0, m1, m2, m3) = (p[c], p[4 + c], p[8 + c], p[12 + c]);
            s[c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[4 + c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for a in 0..2 {
            let (s0, s1, s2, s3) = (s[4 * a], s[4 * a + 1], s[4 * a + 2], s[4 * a + 3]);
            let y = [
                _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), s2), b),
                _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1, s2), s3), b),
            ];
            let (orow, ocol) = (2 * ti + a, 2 * tj);
            if orow >= t.ho || orow - o0 >= rows_in_block {
                continue;
            }
            for (dc, &yv) in y.iter().enumerate() {
                if ocol + dc < t.wo {
                    let at = (((orow - o0) * t.wo) + ocol + dc) * cout + c0;
                    assert!(at + (cout - c0).min(LANES) <= rows.len());
                    // SAFETY: within rows (asserted), masked to the channels.
                    unsafe { _mm512_mask_storeu_ps(rows.as_mut_ptr().add(at), mask, yv) };
                }
            }
        }
    }
}

/// Elements between the point blocks of the weight gradient's tile buffers beyond their
/// length (one cache line).
const SKEW: usize = 16;

/// Weight gradient of an [`applies_weight`] shape (buffers checked by the caller; no bias):
/// `grad_weight = G^T dU G` with, for each of the 16 transform points,
/// `dU[point] = sum over tiles of (B^T d B)[point] (x) (A dY A^T)[point]` (c_in by c_out).
///
/// The images are first transposed to position-major rows (one task per sample). Then each
/// task takes a fixed chunk of tiles: it transforms them into its own point-major buffers (in
/// cache) and accumulates the 16 products into its own partial dU; the partials are added in
/// chunk order.
pub(crate) fn grad_weight(
    shape: &ConvShape,
    grad_out: &[f32],
    input: &[f32],
    grad_weight: &mut [f32],
    threads: usize,
) -> Result<()> {
    let (cin, cout) = (shape.in_channels, shape.out_channels);
    let t = Tiles::new(shape);
    let cp = t.cout_pad;
    let (plane_in, plane_out) = (t.h * t.w, t.ho * t.wo);
    let work = shape.macs().saturating_mul(4);
    // Position-major copies of the input and the output gradient, every element written.
    let mut rows = scratch::overwritten(shape.batch * plane_in * cin, 0f32);
    let mut grad_rows = scratch::overwritten(shape.batch * plane_out * cout, 0f32);
    {
        let (rs, gs) = (SharedMut::new(&mut rows), SharedMut::new(&mut grad_rows));
        run_tasks(
            shape.batch,
            threads,
            work,
            || (),
            |_, n| {
                // SAFETY: sample n's rows belong to this task alone.
                let (r, g) = unsafe {
                    (
                        rs.slice(n * plane_in * cin, plane_in * cin),
                        gs.slice(n * plane_out * cout, plane_out * cout),
                    )
                };
                let x = &input[n * cin * plane_in..][..cin * plane_in];
                transpose(x, plane_in, cin, plane_in, r, cin);
                let go = &grad_out[n * cout * plane_out..][..cout * plane_out];
                transpose(go, plane_out, cout, plane_out, g, cout);
            },
        )?;
    }
    let WeightPlan {
        tiles,
        chunk,
        parts,
        part_rows,
        ..
    } = WeightPlan::new(shape);
    let part_len = POINTS * part_rows * cp;
    let mut partials = scratch::overwritten(parts * part_len, 0f32);
    let tile_offsets: Vec<usize> = (0..chunk).map(|q| q * cin).collect();
    let zeros = vec![0f32; cin.max(cout).max(MAX_WIDTH)];
    let lanes = lane_chunks(cp);
    {
        let ps = SharedMut::new(&mut partials);
        // Point blocks `chunk * c + SKEW` apart: at a power-of-two distance the 16 stores of a
        // tile's transform all fall in one set of the L1 cache.
        let (v_ld, g_ld) = (chunk * cin + SKEW, chunk * cp + SKEW);
        let buffers = || {
            (
                scratch::overwritten(POINTS * v_ld, 0f32),
                // Lanes past C_out are never written: zero, so they stay finite.
                scratch::filled(POINTS * g_ld, 0f32),
            )
        };
        run_tasks(parts, threads, work, buffers, |(v, gm), part| {
            let q0 = part * chunk;
            let len = chunk.min(tiles - q0);
            for q in q0..q0 + len {
                let (n, tile) = (q / t.per_sample, q % t.per_sample);
                let (ti, tj) = (tile / t.tw, tile % t.tw);
                let x = &rows[n * plane_in * cin..][..plane_in * cin];
                let patch = t.patch(x, 0, (ti, tj), cin, &zeros);
                let g = &grad_rows[n * plane_out * cout..][..plane_out * cout];
                let grads: [&[f32]; 4] = std::array::from_fn(|e| {
                    let (orow, ocol) = (2 * ti + e / 2, 2 * tj + e % 2);
                    if orow < t.ho && ocol < t.wo {
                        &g[(orow * t.wo + ocol) * cout..][..cout]
                    } else {
                        &zeros[..cout]
                    }
                });
                let at = q - q0;
                // SAFETY: AVX-512F is available (`applies`); the functions check their bounds.
                unsafe {
                    input_tile(&patch, cin, v, at * cin, v_ld);
                    grad_tile(&grads, cout, gm, at * cp, g_ld);
                }
            }
            // SAFETY: partial `part` belongs to this task alone.
            let acc = unsafe { ps.slice(part * part_len, part_len) };
            for point in 0..POINTS {
                let acc = &mut acc[point * part_rows * cp..][..part_rows * cp];
                let vp = &v[point * v_ld..][..len * cin];
                let gp = &gm[point * g_ld..][..len * cp];
                for &(lane0, cb) in &lanes {
                    let (width, step) = (cb * LANES, rows_for(cb));
                    for ci0 in (0..cin).step_by(step) {
                        let b: [usize; MAX_P] = std::array::from_fn(|i| ci0 + i);
                        implicit::call(
                            cb,
                            vp,
                            &tile_offsets[..len],
                            &b[..step.min(cin - ci0)],
                            gp,
                            (cp, lane0),
                            Some(&zeros[..width]),
                            (&mut acc[ci0 * cp + lane0..], cp),
                        );
                    }
                }
            }
        })?;
    }
    // dU: the partials' sum, in chunk order (one task per point).
    let mut du = scratch::overwritten(POINTS * cin * cp, 0f32);
    {
        let dus = SharedMut::new(&mut du);
        let sum_work = (parts * part_len).saturating_mul(64);
        run_tasks(
            POINTS,
            threads,
            sum_work,
            || (),
            |_, point| {
                // SAFETY: point `point`'s rows of dU belong to this task alone.
                let dst = unsafe { dus.slice(point * cin * cp, cin * cp) };
                for part in 0..parts {
                    let src = &partials[part * part_len + point * part_rows * cp..][..cin * cp];
                    if part == 0 {
                        dst.copy_from_slice(src);
                    } else {
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                    }
                }
            },
        )?;
    }
    // grad_weight[co][ci][k] = (G^T dU G)[k], through taps-major rows (ci * 9 + k) x C_out.
    let mut taps = scratch::overwritten(cin * 9 * cp, 0f32);
    // SAFETY: AVX-512F is available (`applies`); the sizes are those of the buffers.
    unsafe { weight_taps(&du, cin, cp, &mut taps) };
    transpose(&taps, cp, cin * 9, cout, grad_weight, cin * 9);
    Ok(())
}

/// `A g A^T` of one 2x2 block of output gradients (`grads[r * 2 + c]`, `cout` channels each)
/// into `dst[at + point * ld..][..cout]`.
///
/// # Safety
/// AVX-512F must be available.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn grad_tile(grads: &[&[f32]; 4], cout: usize, dst: &mut [f32], at: usize, ld: usize) {
    assert!(grads.iter().all(|g| g.len() >= cout));
    assert!(at + 15 * ld + cout <= dst.len());
    let neg = _mm512_set1_ps(-1.0);
    for c0 in (0..cout).step_by(LANES) {
        let mask: __mmask16 = lane_mask(c0, cout);
        // SAFETY: masked loads within each row (asserted).
        let g: [__m512; 4] = std::array::from_fn(|e| unsafe {
            _mm512_maskz_loadu_ps(mask, grads[e].as_ptr().add(c0))
        });
        // Along the rows: h = A g (4 x 2), then along the columns: h A^T (4 x 4).
        let mut h = [_mm512_setzero_ps(); 8];
        for c in 0..2 {
            let (g0, g1) = (g[c], g[2 + c]);
            h[c] = g0;
            h[2 + c] = _mm512_add_ps(g0, g1);
            h[4 + c] = _mm512_sub_ps(g0, g1);
            h[6 + c] = _mm512_mul_ps(g1, neg);
        }
        for r in 0..4 {
            let (h0, h1) = (h[2 * r], h[2 * r + 1]);
            let point = [
                h0,
                _mm512_add_ps(h0, h1),
                _mm512_sub_ps(h0, h1),
                _mm512_mul_ps(h1, neg),
            ];
            for (c, &p) in point.iter().enumerate() {
                // SAFETY: within dst (asserted), masked to the channels.
                unsafe {
                    _mm512_mask_storeu_ps(dst.as_mut_ptr().add(at + (4 * r + c) * ld + c0), mask, p)
                };
            }
        }
    }
}

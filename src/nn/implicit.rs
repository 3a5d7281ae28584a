//! Implicit-GEMM forward pass and weight gradient for `f32` on AVX-512: the products of
//! im2col + GEMM, computed without materialising the column matrix.
//!
//! Column-matrix entry (row `r`, position `p`) of a group is `xpad[roff[r] + poff[p]]` in the
//! zero-padded input, so the micro-kernel ([`super::implicit_kernel`]) reads it directly:
//! the forward pass sums over rows `j = r` for blocks of positions `i = p` (vectors: the
//! transposed weight, lanes = output channels); the weight gradient sums over (sample,
//! position) pairs `j` for blocks of rows `i = r` (vectors: the transposed output gradient).
//! Blocks and chunks depend only on the shapes, never on the thread count.

use super::geometry::{checked_product, ConvShape, Window};
use super::implicit_kernel::{Block, LANES};
use super::tasks::{run_tasks, SharedMut};
#[cfg(target_arch = "x86_64")]
use super::transpose::block_16x16_f32;
use super::transpose::transpose;
use crate::error::Result;
use crate::scratch::{self, Scratch};

/// Whether this CPU runs the kernels of this module.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::simd::active_isa() == crate::simd::Isa::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Widest accumulator row (lanes of four vectors).
pub(super) const MAX_WIDTH: usize = 4 * LANES;
/// Most accumulator rows of one kernel call: with one or two vectors per row, 8 rows keep
/// the accumulators, the vectors and the broadcast inputs within the 32 vector registers (at
/// 12 rows the compiler spilled accumulators to the stack, and `(128, 64, 262) -> 32`
/// channels, k = 7, ran at 45 GFLOP/s on one core instead of 92).
pub(super) const MAX_P: usize = 8;
/// Output positions one forward task covers.
pub(super) const POSITIONS_PER_TASK: usize = 192;
/// (sample, position) pairs the weight gradient sums per pass over its rows.
const PAIRS_PER_CHUNK: usize = 256;
/// Weight-gradient tasks aimed at (pair chunks times runs of rows), whatever the threads.
const WEIGHT_TASKS: usize = 16;
/// Fewest (sample, position) pairs of one weight-gradient chunk.
const MIN_CHUNK_PAIRS: usize = 512;
/// Most bytes of the weight gradient's per-chunk copies.
const PARTIAL_BUDGET_BYTES: usize = 8 << 20;
/// Work units ([`run_tasks`]) one element of the padded input costs to write: a copy runs at
/// memory speed, so the pass goes parallel from about 128 KiB of input on (at 16 units, the
/// 2 MiB input of a stride-2 layer was padded by one thread, 12% of its weight gradient).
const COPY_WORK_PER_ELEMENT: usize = 128;
/// Padded elements one task of [`padded_input`] writes at least.
const PADDING_TASK_ELEMENTS: usize = 16 << 10;
/// Most column-matrix rows of one weight-gradient task.
const MAX_TASK_ROWS: usize = 576;

/// Column-matrix rows one weight-gradient task covers when the rows are cut in `parts`:
/// whole kernel calls of 6 or 8 rows (a multiple of 24), at most [`MAX_TASK_ROWS`].
fn rows_per_weight_task(rows: usize, parts: usize) -> usize {
    rows.div_ceil(parts.max(1))
        .next_multiple_of(24)
        .clamp(24, MAX_TASK_ROWS)
}

/// Accumulator rows per kernel call for `cb` vectors per row.
pub(super) fn rows_for(cb: usize) -> usize {
    match cb {
        4 => 6,
        _ => MAX_P,
    }
}

/// Vectors per accumulator row for the `remaining` output channels from here on.
pub(super) fn vectors_for(remaining: usize) -> usize {
    if remaining >= 4 * LANES {
        4
    } else if remaining > LANES {
        2
    } else {
        1
    }
}

/// The zero-padded input plane: its size per axis and its length.
pub(super) struct PaddedPlane {
    /// The padded plane's size per axis.
    pub(super) dims: [usize; 3],
    /// Elements of one padded plane.
    pub(super) len: usize,
}

impl PaddedPlane {
    pub(super) fn new(w: &Window) -> Result<Self> {
        let dims: [usize; 3] =
            std::array::from_fn(|a| w.input[a] + w.pad_before[a] + w.pad_after[a]);
        let len = checked_product(&dims, "padded input")?;
        Ok(PaddedPlane { dims, len })
    }
}

/// The padded input plane and the offset in it of every output position's window (`poff`).
struct Offsets {
    poff: Vec<usize>,
    pad: PaddedPlane,
}

impl Offsets {
    fn new(w: &Window) -> Result<Self> {
        let pad = PaddedPlane::new(w)?;
        let [_, p1, p2] = pad.dims;
        let [o0, o1, o2] = w.output;
        let s = &w.stride;
        let mut poff = Vec::with_capacity(w.output_len);
        for a in 0..o0 {
            for b in 0..o1 {
                for c in 0..o2 {
                    poff.push((a * s[0] * p1 + b * s[1]) * p2 + c * s[2]);
                }
            }
        }
        Ok(Offsets { poff, pad })
    }

    /// Padded-plane rows (flat over the two leading padded axes) that output positions
    /// `p0..p1` read: `lo..hi`. The last position's row bounds every earlier one, since a
    /// padded row is longer than the stride times the output positions before it.
    fn window_rows(&self, w: &Window, p0: usize, p1: usize) -> (usize, usize) {
        let [_, o1, o2] = w.output;
        let pd1 = self.pad.dims[1];
        let span = |axis: usize| (w.kernel[axis] - 1) * w.dilation[axis];
        let (first, last) = (p0 / o2, (p1 - 1) / o2);
        let (a0, b0) = (first / o1, first % o1);
        let (a1, b1) = (last / o1, last % o1);
        let lo = a0 * w.stride[0] * pd1 + b0 * w.stride[1];
        let hi = (a1 * w.stride[0] + span(0)) * pd1 + b1 * w.stride[1] + span(1) + 1;
        (lo, hi)
    }
}

/// Offset of every column-matrix row of one group (input channel, kernel offset) in a padded
/// input whose channels are `channel_stride` apart, rows of `padded[2]` values.
fn row_offsets(w: &Window, cin_g: usize, channel_stride: usize, padded: [usize; 3]) -> Vec<usize> {
    let [_, p1, p2] = padded;
    let d = &w.dilation;
    let mut roff = Vec::with_capacity(cin_g * w.kernel_len);
    for ci in 0..cin_g {
        for k in 0..w.kernel_len {
            let [k0, k1, k2] = w.kernel_index(k);
            roff.push(ci * channel_stride + (k0 * d[0] * p1 + k1 * d[1]) * p2 + k2 * d[2]);
        }
    }
    roff
}

/// Writes padded-plane rows `rows` of the `cin_g` input planes `src` into `dst`, channels
/// `channel_stride` apart: the input values where the row holds them, zeros elsewhere.
fn fill_window(
    w: &Window,
    padded: [usize; 3],
    src: &[f32],
    rows: (usize, usize),
    channel_stride: usize,
    dst: &mut [f32],
) {
    let [_, p1, p2] = padded;
    let [i0, i1, i2] = w.input;
    let [b0, b1, b2] = w.pad_before;
    // One fill of each channel's rows, then the input rows copied in: per-row fills of the
    // short padding pieces cost more (10% of a stride-2 layer's passes).
    let len = (rows.1 - rows.0) * p2;
    for (plane, out) in src
        .chunks_exact(w.input_len)
        .zip(dst.chunks_mut(channel_stride))
    {
        out[..len].fill(0.0);
        for (r, d) in (rows.0..rows.1).zip(out.chunks_exact_mut(p2)) {
            let (a, b) = (r / p1, r % p1);
            if (b0..b0 + i0).contains(&a) && (b1..b1 + i1).contains(&b) {
                let row = &plane[((a - b0) * i1 + b - b1) * i2..][..i2];
                d[b2..b2 + i2].copy_from_slice(row);
            }
        }
    }
}

/// The input with its zero padding written out, in a reused scratch buffer; `None` when there
/// is no padding (the input itself is read).
pub(super) fn padded_input(
    shape: &ConvShape,
    pad: &PaddedPlane,
    input: &[f32],
    threads: usize,
) -> Result<Option<Scratch<f32>>> {
    let w = &shape.window;
    if pad.len == w.input_len {
        return Ok(None);
    }
    let planes = shape.batch * shape.in_channels;
    let mut xpad = scratch::overwritten(checked_product(&[planes, pad.len], "padded input")?, 0.0);
    {
        let dst = SharedMut::new(&mut xpad);
        let rows = pad.len / pad.dims[2];
        // Several small planes per task: one task per 8x8 plane spent more on taking tasks
        // (an atomic counter the cores pass back and forth) than on the copies.
        let per_task = PADDING_TASK_ELEMENTS.div_ceil(pad.len).clamp(1, planes);
        run_tasks(
            planes.div_ceil(per_task),
            threads,
            input.len().saturating_mul(COPY_WORK_PER_ELEMENT),
            || (),
            |_, t| {
                let (c0, c1) = (t * per_task, ((t + 1) * per_task).min(planes));
                // SAFETY: each task writes its own padded planes, in full.
                let out = unsafe { dst.slice(c0 * pad.len, (c1 - c0) * pad.len) };
                let src = &input[c0 * w.input_len..c1 * w.input_len];
                fill_window(w, pad.dims, src, (0, rows), pad.len, out);
            },
        )?;
    }
    Ok(Some(xpad))
}

/// One kernel call with `cb` vectors per row over the offsets `b` (at most the call's row
/// count, [`rows_for`]`(cb)`; the rest repeat the last one). Returns nothing: results are in
/// `io.0`, rows `io.1` elements apart; all of the call's rows are stored, those past `b`'s
/// length as copies of its last row.
#[allow(clippy::too_many_arguments)]
pub(super) fn call(
    cb: usize,
    x: &[f32],
    a: &[usize],
    b: &[usize],
    v: &[f32],
    (ld, lane0): (usize, usize),
    init: Option<&[f32]>,
    (io, io_ld): (&mut [f32], usize),
) {
    fn fixed<const P: usize>(b: &[usize]) -> [usize; P] {
        let last = *b.last().expect("at least one offset");
        std::array::from_fn(|i| b.get(i).copied().unwrap_or(last))
    }
    #[cfg(target_arch = "x86_64")]
    {
        use super::implicit_kernel::run_block;
        assert!(available(), "the implicit kernels need AVX-512F");
        // SAFETY: AVX-512F is supported (asserted above); run_block checks its own bounds.
        unsafe {
            match cb {
                4 => run_block::<6, 4>(
                    &Block {
                        x,
                        a,
                        b: fixed(b),
                        v,
                        ld,
                        lane0,
                        init,
                    },
                    io,
                    io_ld,
                ),
                2 => run_block::<MAX_P, 2>(
                    &Block {
                        x,
                        a,
                        b: fixed(b),
                        v,
                        ld,
                        lane0,
                        init,
                    },
                    io,
                    io_ld,
                ),
                _ => run_block::<MAX_P, 1>(
                    &Block {
                        x,
                        a,
                        b: fixed(b),
                        v,
                        ld,
                        lane0,
                        init,
                    },
                    io,
                    io_ld,
                ),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (cb, x, a, b, v, ld, lane0, init, io, io_ld, fixed::<1>);
        unreachable!("the implicit kernels exist on x86-64 only");
    }
}

/// A forward task's buffers: its output tile, its window of the padded input, and the
/// offsets of its positions in that window.
struct ForwardScratch {
    tile: Vec<f32>,
    window: Vec<f32>,
    offsets: Vec<usize>,
}

/// Forward pass, `out = conv(input, weight) + bias` (buffers checked by the caller).
pub(crate) fn forward(
    shape: &ConvShape,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let off = Offsets::new(w)?;
    let per_plane = positions.div_ceil(POSITIONS_PER_TASK);
    // With padding, each task copies the padded rows its positions read (`windows[part]`) of
    // its group's planes into its own window, channels `stride` apart, and reads them there
    // from cache; writing out the whole padded input first cost a pass over memory, about a
    // sixth of the call for (128, 64, 256) -> 32 channels, k = 7, padding 3.
    let padding = off.pad.len != w.input_len;
    let windows: Vec<(usize, usize)> = (0..per_plane)
        .map(|part| {
            let p0 = part * POSITIONS_PER_TASK;
            off.window_rows(w, p0, (p0 + POSITIONS_PER_TASK).min(positions))
        })
        .collect();
    let stride = match windows.iter().map(|&(lo, hi)| hi - lo).max() {
        Some(len) if padding => len * off.pad.dims[2],
        _ => off.pad.len,
    };
    let roff = row_offsets(w, cin_g, stride, off.pad.dims);
    // wt[g][r][co]: the transposed weight, output channels padded to whole vectors.
    let ld = cout_g.next_multiple_of(LANES);
    let mut wt = vec![0f32; checked_product(&[groups, rows, ld], "weight")?];
    for g in 0..groups {
        for co in 0..cout_g {
            let src = &weight[(g * cout_g + co) * rows..][..rows];
            for (r, &v) in src.iter().enumerate() {
                wt[(g * rows + r) * ld + co] = v;
            }
        }
    }
    let count = shape.batch * groups * per_plane;
    let work = shape.macs().saturating_mul(4);
    let out = SharedMut::new(out);
    let group_len = cin_g * w.input_len;
    let scratch = || ForwardScratch {
        tile: vec![0f32; (POSITIONS_PER_TASK + MAX_P) * MAX_WIDTH],
        window: vec![0f32; if padding { cin_g * stride } else { 0 }],
        offsets: Vec::with_capacity(POSITIONS_PER_TASK),
    };
    run_tasks(
        count,
        threads,
        work,
        scratch,
        |s: &mut ForwardScratch, task| {
            let (ng, part) = (task / per_plane, task % per_plane);
            let (n, g) = (ng / groups, ng % groups);
            let planes = &input[(n * groups + g) * group_len..][..group_len];
            let wg = &wt[g * rows * ld..][..rows * ld];
            let p_start = part * POSITIONS_PER_TASK;
            let p_end = (p_start + POSITIONS_PER_TASK).min(positions);
            let ForwardScratch {
                tile,
                window,
                offsets,
            } = s;
            let (x, base): (&[f32], usize) = if padding {
                let (lo, hi) = windows[part];
                fill_window(w, off.pad.dims, planes, (lo, hi), stride, window);
                (window, lo * off.pad.dims[2])
            } else {
                (planes, 0)
            };
            offsets.clear();
            offsets.extend(off.poff[p_start..p_end].iter().map(|&p| p - base));
            let mut co0 = 0;
            while co0 < cout_g {
                let cb = vectors_for(cout_g - co0);
                let lanes = (cout_g - co0).min(cb * LANES);
                let p_rows = rows_for(cb);
                // tile[(p - p_start) * MAX_WIDTH + l]: output channel co0 + l at position p.
                let mut init = [0f32; MAX_WIDTH];
                if let Some(b) = bias {
                    init[..lanes].copy_from_slice(&b[g * cout_g + co0..][..lanes]);
                }
                let mut p0 = p_start;
                while p0 < p_end {
                    let valid = p_rows.min(p_end - p0);
                    let io = &mut tile[(p0 - p_start) * MAX_WIDTH..];
                    let b = &offsets[p0 - p_start..][..valid];
                    call(cb, x, &roff, b, wg, (ld, co0), Some(&init), (io, MAX_WIDTH));
                    p0 += valid;
                }
                // Transposed copy out, 16 positions at a time (their tile rows stay in L1).
                let first = (n * shape.out_channels + g * cout_g + co0) * positions + p_start;
                for i0 in (0..p_end - p_start).step_by(LANES) {
                    let count = LANES.min(p_end - p_start - i0);
                    let rows = &tile[i0 * MAX_WIDTH..][..count * MAX_WIDTH];
                    let whole = if cfg!(target_arch = "x86_64") && count == LANES {
                        lanes - lanes % LANES
                    } else {
                        0
                    };
                    for l0 in (0..whole).step_by(LANES) {
                        let dst = out.ptr_at(first + l0 * positions + i0);
                        assert!(first + (l0 + LANES - 1) * positions + i0 + LANES <= out.len());
                        // SAFETY: AVX-512F is active (this module's kernels need it); the
                        // 16 x 16 block is in bounds (asserted above) at positions
                        // p_start + i0.. of channels co0 + l0.., which this task alone owns.
                        #[cfg(target_arch = "x86_64")]
                        unsafe {
                            block_16x16_f32(rows[l0..].as_ptr(), MAX_WIDTH, dst, positions)
                        };
                    }
                    for l in whole..lanes {
                        // SAFETY: this task alone owns positions p_start..p_end of its channels.
                        let dst = unsafe { out.slice(first + l * positions + i0, count) };
                        for (d, row) in dst.iter_mut().zip(rows.chunks_exact(MAX_WIDTH)) {
                            *d = row[l];
                        }
                    }
                }
                co0 += lanes;
            }
        },
    )
}

/// Weight gradient, `gw_g = sum over (sample, position) of grad_out x columns` (buffers
/// checked by the caller).
pub(crate) fn grad_weight(
    shape: &ConvShape,
    grad_out: &[f32],
    input: &[f32],
    grad_weight: &mut [f32],
    grad_bias: Option<&mut [f32]>,
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let off = Offsets::new(w)?;
    let roff = row_offsets(w, cin_g, off.pad.len, off.pad.dims);
    let padded = padded_input(shape, &off.pad, input, threads)?;
    let xpad: &[f32] = padded.as_deref().map_or(input, |v| v);
    let pairs = shape.batch * positions;
    // Each pass of the kernel reads the grad_out of its pairs transposed, (pair, co), output
    // channels padded to whole vectors: every task transposes them into its own buffer just
    // before (a separate pass transposing all of grad_out first cost a trip through memory,
    // a tenth of the call).
    let ld = cout_g.next_multiple_of(LANES);
    let sample_len = shape.in_channels * off.pad.len;
    let a: Vec<usize> = (0..pairs)
        .map(|q| (q / positions) * sample_len + off.poff[q % positions])
        .collect();
    // Blocks of output channels: (first channel, vectors).
    let co_blocks: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut co0 = 0;
        while co0 < cout_g {
            let cb = vectors_for(cout_g - co0);
            v.push((co0, cb));
            co0 += (cout_g - co0).min(cb * LANES);
        }
        v
    };
    // Tasks: (pair chunk, group, output-channel block, run of rows). Each chunk of (sample,
    // position) pairs sums into its own copy of the gradient (the first straight into
    // `grad_weight`), added up in chunk order at the end: every task then reads its pairs of
    // `grad_out` and the input once from memory, for all its rows (splitting rows alone made
    // each task stream all of them again, and ran at memory speed).
    let (chunks, chunk_len) = weight_chunks(pairs, shape.weight_len);
    let blocks = groups * co_blocks.len();
    let rows_per_task = rows_per_weight_task(rows, WEIGHT_TASKS.div_ceil(chunks * blocks));
    let per_block = rows.div_ceil(rows_per_task);
    let count = chunks * blocks * per_block;
    let work = shape.macs().saturating_mul(4);
    let mut partials = vec![0f32; (chunks - 1) * shape.weight_len];
    let gw = SharedMut::new(grad_weight);
    let extra = SharedMut::new(&mut partials);
    // The bias gradient: each chunk's sums per channel (in f64, from the transposed
    // grad_out the first run of rows reads), added in chunk order at the end.
    let oc = shape.out_channels;
    let mut bias_partials = vec![0f64; if grad_bias.is_some() { chunks * oc } else { 0 }];
    let bias_parts = SharedMut::new(&mut bias_partials);
    let group_len = cin_g * off.pad.len;
    let scratch = || WeightScratch {
        acc: vec![0f32; (rows_per_task + MAX_P) * MAX_WIDTH],
        // Zero once: the lanes past cout_g are never written.
        go_t: vec![0f32; PAIRS_PER_CHUNK * ld],
    };
    run_tasks(
        count,
        threads,
        work,
        scratch,
        |s: &mut WeightScratch, task| {
            let WeightScratch { acc, go_t } = s;
            let (chunk, task) = (task / (blocks * per_block), task % (blocks * per_block));
            let (gb, part) = (task / per_block, task % per_block);
            let (g, (co0, cb)) = (gb / co_blocks.len(), co_blocks[gb % co_blocks.len()]);
            let lanes = (cout_g - co0).min(cb * LANES);
            let p_rows = rows_for(cb);
            let r0 = part * rows_per_task;
            let r1 = (r0 + rows_per_task).min(rows);
            acc.fill(0.0);
            let sum_bias = !bias_parts.is_empty() && part == 0;
            let mut sums = [0f64; MAX_WIDTH];
            let x = &xpad[g * group_len..];
            let first_pair = chunk * chunk_len;
            let last_pair = (first_pair + chunk_len).min(pairs);
            for q0 in (first_pair..last_pair).step_by(PAIRS_PER_CHUNK) {
                let q1 = (q0 + PAIRS_PER_CHUNK).min(last_pair);
                let mut q = q0;
                while q < q1 {
                    let (n, p) = (q / positions, q % positions);
                    let seg = (positions - p).min(q1 - q);
                    let src = &grad_out[(n * shape.out_channels + g * cout_g) * positions + p..];
                    transpose(src, positions, cout_g, seg, &mut go_t[(q - q0) * ld..], ld);
                    q += seg;
                }
                if sum_bias {
                    for row in go_t[..(q1 - q0) * ld].chunks_exact(ld) {
                        for (s, &v) in sums[..lanes].iter_mut().zip(&row[co0..co0 + lanes]) {
                            *s += f64::from(v);
                        }
                    }
                }
                let mut r = r0;
                while r < r1 {
                    let valid = p_rows.min(r1 - r);
                    let io = &mut acc[(r - r0) * MAX_WIDTH..];
                    call(
                        cb,
                        x,
                        &a[q0..q1],
                        &roff[r..r + valid],
                        go_t,
                        (ld, co0),
                        None,
                        (io, MAX_WIDTH),
                    );
                    r += valid;
                }
            }
            let (target, base) = match chunk {
                0 => (&gw, 0),
                c => (&extra, (c - 1) * shape.weight_len),
            };
            for l in 0..lanes {
                let first = base + (g * cout_g + co0 + l) * rows + r0;
                // SAFETY: this task alone owns rows r0..r1 of these output channels' weights in
                // its chunk's copy of the gradient.
                let dst = unsafe { target.slice(first, r1 - r0) };
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = acc[i * MAX_WIDTH + l];
                }
            }
            if sum_bias {
                // SAFETY: this task alone sums these channels over its chunk.
                let dst = unsafe { bias_parts.slice(chunk * oc + g * cout_g + co0, lanes) };
                dst.copy_from_slice(&sums[..lanes]);
            }
        },
    )?;
    for partial in partials.chunks_exact(shape.weight_len) {
        for (d, &p) in grad_weight.iter_mut().zip(partial) {
            *d += p;
        }
    }
    if let Some(gb) = grad_bias {
        for (c, d) in gb.iter_mut().enumerate() {
            *d = bias_partials[c..].iter().step_by(oc).sum::<f64>() as f32;
        }
    }
    Ok(())
}

/// A weight-gradient task's buffers: its accumulators and its pairs' grad_out transposed.
struct WeightScratch {
    acc: Vec<f32>,
    go_t: Vec<f32>,
}

/// `(chunks, pairs per chunk)`: how the weight gradient's (sample, position) pairs are cut,
/// from the shape alone: at most [`WEIGHT_TASKS`] chunks of at least [`MIN_CHUNK_PAIRS`]
/// pairs (whole kernel passes of [`PAIRS_PER_CHUNK`]), and no more copies of the gradient
/// than [`PARTIAL_BUDGET_BYTES`] hold.
fn weight_chunks(pairs: usize, weight_len: usize) -> (usize, usize) {
    let by_budget = PARTIAL_BUDGET_BYTES / (weight_len * 4).max(1);
    let chunks = (pairs / MIN_CHUNK_PAIRS)
        .min(WEIGHT_TASKS)
        .min(by_budget)
        .max(1);
    let chunk_len = pairs.div_ceil(chunks).next_multiple_of(PAIRS_PER_CHUNK);
    (pairs.div_ceil(chunk_len).max(1), chunk_len)
}

/// The gradient with respect to the input as a forward pass, when `shape` allows it (stride
/// 1, padding at most the dilated kernel span, at least four vectors of input channels per
/// group, where the kernel runs at its best):
/// the correlation of `grad_out`, padded by the span minus the padding, with the weight
/// flipped along its kernel axes and transposed to (C_in, C_out / groups, *K). `None`
/// otherwise.
pub(crate) fn grad_input_shape(shape: &ConvShape) -> Option<ConvShape> {
    let w = &shape.window;
    if w.stride.iter().any(|&s| s != 1) || shape.in_per_group() < LANES {
        return None;
    }
    let nd = w.ndim;
    let lead = 3 - nd;
    let mut pads = Vec::with_capacity(nd);
    for a in lead..3 {
        let span = (w.kernel[a] - 1) * w.dilation[a];
        pads.push((
            span.checked_sub(w.pad_before[a])?,
            span.checked_sub(w.pad_after[a])?,
        ));
    }
    let window = Window::new(
        w.spatial(&w.output),
        w.spatial(&w.kernel),
        &vec![1; nd],
        &pads,
        w.spatial(&w.dilation),
    )
    .ok()?;
    let t = ConvShape::new(
        shape.batch,
        shape.out_channels,
        shape.in_channels,
        shape.groups,
        window,
    )
    .ok()?;
    (t.window.output == w.input).then_some(t)
}

/// `grad_in` through [`grad_input_shape`]'s forward pass (`transposed` is that shape).
pub(crate) fn grad_input(
    shape: &ConvShape,
    transposed: &ConvShape,
    grad_out: &[f32],
    weight: &[f32],
    grad_in: &mut [f32],
    threads: usize,
) -> Result<()> {
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let k_len = shape.window.kernel_len;
    // flipped[g * cin_g + ci][co][k'] = weight[g * cout_g + co][ci][K - 1 - k'] (row-major
    // flip of every kernel axis at once: the flat kernel index reversed).
    let mut flipped = vec![0f32; weight.len()];
    for g in 0..groups {
        for co in 0..cout_g {
            for ci in 0..cin_g {
                let src = &weight[((g * cout_g + co) * cin_g + ci) * k_len..][..k_len];
                let dst = &mut flipped[((g * cin_g + ci) * cout_g + co) * k_len..][..k_len];
                for (d, &s) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = s;
                }
            }
        }
    }
    forward(transposed, grad_out, &flipped, None, grad_in, threads)
}

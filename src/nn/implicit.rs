//! Implicit-GEMM forward pass and weight gradient for `f32` on AVX-512: the products of
//! im2col + GEMM, computed without materialising the column matrix.
//!
//! Column-matrix entry (row `r`, position `p`) of a group is `xpad[roff[r] + poff[p]]` in the
//! zero-padded input, so the micro-kernel ([`super::implicit_kernel`]) reads it directly:
//! the forward pass sums over rows `j = r` for blocks of positions `i = p` (vectors: the
//! transposed weight, lanes = output channels); the weight gradient sums over (sample,
//! position) pairs `j` for blocks of rows `i = r` (vectors: the transposed output gradient).
//! Blocks and chunks depend only on the shapes, never on the thread count.

use std::borrow::Cow;

use super::geometry::{checked_product, ConvShape, Window};
use super::implicit_kernel::{Block, LANES};
use super::tasks::{run_tasks, SharedMut};
use crate::error::Result;

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
const MAX_WIDTH: usize = 4 * LANES;
/// Most accumulator rows of one kernel call.
const MAX_P: usize = 12;
/// Output positions one forward task covers.
const POSITIONS_PER_TASK: usize = 192;
/// (sample, position) pairs the weight gradient sums per pass over its rows.
const PAIRS_PER_CHUNK: usize = 256;

/// Accumulator rows per kernel call for `cb` vectors per row.
fn rows_for(cb: usize) -> usize {
    if cb >= 4 {
        6
    } else {
        MAX_P
    }
}

/// Vectors per accumulator row for the `remaining` output channels from here on.
fn vectors_for(remaining: usize) -> usize {
    if remaining >= 4 * LANES {
        4
    } else if remaining > LANES {
        2
    } else {
        1
    }
}

/// Offsets into the zero-padded input: `roff` per column-matrix row of one group, `poff` per
/// output position, and the padded plane length.
struct Offsets {
    roff: Vec<usize>,
    poff: Vec<usize>,
    plane: usize,
    padded: [usize; 3],
}

impl Offsets {
    fn new(w: &Window, cin_g: usize) -> Result<Self> {
        let padded: [usize; 3] =
            std::array::from_fn(|a| w.input[a] + w.pad_before[a] + w.pad_after[a]);
        let plane = checked_product(&padded, "padded input")?;
        let [_, p1, p2] = padded;
        let mut roff = Vec::with_capacity(cin_g * w.kernel_len);
        for ci in 0..cin_g {
            for k in 0..w.kernel_len {
                let [k0, k1, k2] = w.kernel_index(k);
                let d = &w.dilation;
                roff.push(ci * plane + (k0 * d[0] * p1 + k1 * d[1]) * p2 + k2 * d[2]);
            }
        }
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
        Ok(Offsets {
            roff,
            poff,
            plane,
            padded,
        })
    }
}

/// The input with its zero padding written out (borrowed when there is none).
fn padded_input<'a>(
    shape: &ConvShape,
    off: &Offsets,
    input: &'a [f32],
    threads: usize,
) -> Result<Cow<'a, [f32]>> {
    let w = &shape.window;
    if off.plane == w.input_len {
        return Ok(Cow::Borrowed(input));
    }
    let planes = shape.batch * shape.in_channels;
    let mut xpad = vec![0f32; checked_product(&[planes, off.plane], "padded input")?];
    {
        let dst = SharedMut::new(&mut xpad);
        let [_, p1, p2] = off.padded;
        let [i0, i1, i2] = w.input;
        let [b0, b1, b2] = w.pad_before;
        run_tasks(
            planes,
            threads,
            input.len() * 16,
            || (),
            |_, c| {
                // SAFETY: each task writes its own padded plane.
                let out = unsafe { dst.slice(c * off.plane, off.plane) };
                let src = &input[c * w.input_len..][..w.input_len];
                for a in 0..i0 {
                    for b in 0..i1 {
                        let at = ((a + b0) * p1 + b + b1) * p2 + b2;
                        out[at..at + i2].copy_from_slice(&src[(a * i1 + b) * i2..][..i2]);
                    }
                }
            },
        )?;
    }
    Ok(Cow::Owned(xpad))
}

/// One kernel call with `cb` vectors per row over the offsets `b` (at most the call's row
/// count; the rest repeat the last one). Returns nothing: results are in `io`.
#[allow(clippy::too_many_arguments)]
fn call(
    cb: usize,
    x: &[f32],
    a: &[usize],
    b: &[usize],
    v: &[f32],
    (ld, lane0): (usize, usize),
    init: Option<&[f32]>,
    io: &mut [f32],
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
                    MAX_WIDTH,
                ),
                2 => run_block::<12, 2>(
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
                    MAX_WIDTH,
                ),
                _ => run_block::<12, 1>(
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
                    MAX_WIDTH,
                ),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (cb, x, a, b, v, ld, lane0, init, io, fixed::<1>);
        unreachable!("the implicit kernels exist on x86-64 only");
    }
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
    let off = Offsets::new(w, cin_g)?;
    let xpad = padded_input(shape, &off, input, threads)?;
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
    let per_plane = positions.div_ceil(POSITIONS_PER_TASK);
    let count = shape.batch * groups * per_plane;
    let work = shape.macs().saturating_mul(4);
    let out = SharedMut::new(out);
    let group_len = cin_g * off.plane;
    let tile_len = (POSITIONS_PER_TASK + MAX_P) * MAX_WIDTH;
    run_tasks(
        count,
        threads,
        work,
        || vec![0f32; tile_len],
        |tile, task| {
            let (ng, part) = (task / per_plane, task % per_plane);
            let (n, g) = (ng / groups, ng % groups);
            let x = &xpad[(n * groups + g) * group_len..][..group_len];
            let wg = &wt[g * rows * ld..][..rows * ld];
            let p_start = part * POSITIONS_PER_TASK;
            let p_end = (p_start + POSITIONS_PER_TASK).min(positions);
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
                    let b = &off.poff[p0..p0 + valid];
                    call(cb, x, &off.roff, b, wg, (ld, co0), Some(&init), io);
                    p0 += valid;
                }
                // Transposed copy out, 16 positions at a time (their tile rows stay in L1).
                let first = (n * shape.out_channels + g * cout_g + co0) * positions + p_start;
                for i0 in (0..p_end - p_start).step_by(LANES) {
                    let count = LANES.min(p_end - p_start - i0);
                    let rows = &tile[i0 * MAX_WIDTH..][..count * MAX_WIDTH];
                    for l in 0..lanes {
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
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let off = Offsets::new(w, cin_g)?;
    let xpad = padded_input(shape, &off, input, threads)?;
    let pairs = shape.batch * positions;
    // go_t[g][(n, p)][co]: grad_out transposed, output channels padded to whole vectors.
    let ld = cout_g.next_multiple_of(LANES);
    let mut go_t = vec![0f32; checked_product(&[groups, pairs, ld], "grad_output")?];
    {
        let dst = SharedMut::new(&mut go_t);
        let plane = cout_g * positions;
        run_tasks(
            shape.batch * groups,
            threads,
            grad_out.len() * 16,
            || (),
            |_, ng| {
                let (n, g) = (ng / groups, ng % groups);
                // SAFETY: each task writes the rows of its own (group, sample).
                let block = unsafe { dst.slice((g * pairs + n * positions) * ld, positions * ld) };
                let src = &grad_out[ng * plane..][..plane];
                for (co, row) in src.chunks_exact(positions).enumerate() {
                    for (p, &v) in row.iter().enumerate() {
                        block[p * ld + co] = v;
                    }
                }
            },
        )?;
    }
    let sample_len = shape.in_channels * off.plane;
    let a: Vec<usize> = (0..pairs)
        .map(|q| (q / positions) * sample_len + off.poff[q % positions])
        .collect();
    // Tasks: (group, output-channel block, run of rows).
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
    let rows_per_task = (rows.div_ceil(8)).next_multiple_of(MAX_P).min(96);
    let per_block = rows.div_ceil(rows_per_task);
    let count = groups * co_blocks.len() * per_block;
    let work = shape.macs().saturating_mul(4);
    let gw = SharedMut::new(grad_weight);
    let group_len = cin_g * off.plane;
    let scratch = || vec![0f32; (rows_per_task + MAX_P) * MAX_WIDTH];
    run_tasks(count, threads, work, scratch, |acc, task| {
        let (gb, part) = (task / per_block, task % per_block);
        let (g, (co0, cb)) = (gb / co_blocks.len(), co_blocks[gb % co_blocks.len()]);
        let lanes = (cout_g - co0).min(cb * LANES);
        let p_rows = rows_for(cb);
        let r0 = part * rows_per_task;
        let r1 = (r0 + rows_per_task).min(rows);
        acc.fill(0.0);
        let x = &xpad[g * group_len..];
        let go_g = &go_t[g * pairs * ld..][..pairs * ld];
        for q0 in (0..pairs).step_by(PAIRS_PER_CHUNK) {
            let q1 = (q0 + PAIRS_PER_CHUNK).min(pairs);
            let mut r = r0;
            while r < r1 {
                let valid = p_rows.min(r1 - r);
                let io = &mut acc[(r - r0) * MAX_WIDTH..];
                let v = &go_g[q0 * ld..];
                call(
                    cb,
                    x,
                    &a[q0..q1],
                    &off.roff[r..r + valid],
                    v,
                    (ld, co0),
                    None,
                    io,
                );
                r += valid;
            }
        }
        for l in 0..lanes {
            let first = (g * cout_g + co0 + l) * rows + r0;
            // SAFETY: this task alone owns rows r0..r1 of these output channels' weights.
            let dst = unsafe { gw.slice(first, r1 - r0) };
            for (i, d) in dst.iter_mut().enumerate() {
                *d = acc[i * MAX_WIDTH + l];
            }
        }
    })
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

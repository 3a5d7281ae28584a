//! The input gradient of a strided convolution as one stride-1 correlation per phase of the
//! input index (`i mod s` on every axis), each through the implicit-GEMM kernel.
//!
//! Along one axis, input `i = s q + φ` receives `g[o] w[k]` from every tap with
//! `s o + k - p = i` (`p` the padding before): `k = κ + m s` with `κ = (φ + p) mod s`, and
//! `o = q + c - m` with `c = floor((φ + p) / s)`. So the phase is the correlation of
//! `grad_out` with its `M = ceil((K - κ) / s)` taps taken in reverse, `w[κ + (M - 1 - m') s]`,
//! read from `grad_out` index `q + c - (M - 1) + m'`. `grad_out` is zero-padded once, enough
//! for every phase, and each phase's results land on every `s`-th input index. The products
//! are those of GEMM + col2im, without the column matrix and its scatter-add (the stride-2
//! layers' input gradient ran at half the forward pass's speed that way).

use super::geometry::{ConvShape, Window, AXES};
use super::implicit::{
    call, padded_input, rows_for, vectors_for, PaddedPlane, MAX_P, MAX_WIDTH, POSITIONS_PER_TASK,
};
use super::implicit_kernel::LANES;
use super::tasks::{run_tasks, SharedMut};
use crate::error::Result;

/// Whether [`grad_input`] serves `shape`: some stride above 1, no dilation, and at least one
/// vector of input channels per group (they are the kernel's lanes).
pub(crate) fn applies(shape: &ConvShape) -> bool {
    let w = &shape.window;
    w.stride.iter().any(|&s| s > 1)
        && w.dilation.iter().all(|&d| d == 1)
        && shape.in_per_group() >= LANES
}

/// One axis of one phase.
#[derive(Clone, Copy, Debug)]
struct AxisPhase {
    /// `φ`: the input indices `s q + φ`.
    phase: usize,
    /// `κ`: the first tap.
    first_tap: usize,
    /// `M`: taps `κ, κ + s, ...` below the kernel size.
    taps: usize,
    /// `c`: the output index input `φ` meets with tap `κ`.
    start: usize,
    /// Input indices of this phase.
    count: usize,
}

impl AxisPhase {
    fn new(w: &Window, axis: usize, phase: usize) -> Self {
        let (s, k, p) = (w.stride[axis], w.kernel[axis], w.pad_before[axis]);
        let first_tap = (phase + p) % s;
        AxisPhase {
            phase,
            first_tap,
            taps: if first_tap < k {
                (k - first_tap).div_ceil(s)
            } else {
                0
            },
            start: (phase + p) / s,
            count: w.input[axis].saturating_sub(phase).div_ceil(s),
        }
    }
}

/// A phase's offsets and taps.
struct Phase {
    /// Positions (input indices of the phase).
    positions: usize,
    /// Rows of its correlation: (output channel, tap), taps reversed.
    rows: usize,
    /// Offset of each row in one group's padded `grad_out`.
    roff: Vec<usize>,
    /// Offset of each position in a padded `grad_out` plane.
    poff: Vec<usize>,
    /// Offset of each position in an input plane.
    ioff: Vec<usize>,
    /// `wt[g][row][ci]`: the taps, input channels padded to whole vectors.
    wt: Vec<f32>,
}

/// The phases' axes that have positions and taps on every axis, and whether some phase has
/// positions but no tap (its inputs get a zero gradient).
fn phases(w: &Window) -> (Vec<[AxisPhase; AXES]>, bool) {
    let mut all = Vec::new();
    let mut untouched = false;
    for p0 in 0..w.stride[0] {
        for p1 in 0..w.stride[1] {
            for p2 in 0..w.stride[2] {
                let axes = [
                    AxisPhase::new(w, 0, p0),
                    AxisPhase::new(w, 1, p1),
                    AxisPhase::new(w, 2, p2),
                ];
                if axes.iter().any(|a| a.count == 0) {
                    continue;
                }
                if axes.iter().any(|a| a.taps == 0) {
                    untouched = true;
                } else {
                    all.push(axes);
                }
            }
        }
    }
    (all, untouched)
}

/// Padding of `grad_out` per axis that every phase's reads stay within.
fn grad_padding(w: &Window, phases: &[[AxisPhase; AXES]]) -> [(usize, usize); AXES] {
    std::array::from_fn(|a| {
        let mut pad = (0, 0);
        for ph in phases {
            let x = ph[a];
            pad.0 = pad.0.max((x.taps - 1).saturating_sub(x.start));
            pad.1 = pad
                .1
                .max((x.count - 1 + x.start).saturating_sub(w.output[a] - 1));
        }
        pad
    })
}

/// Every index of a grid of `sizes`, the last axis fastest.
fn grid(sizes: [usize; AXES]) -> impl Iterator<Item = [usize; AXES]> {
    let len: usize = sizes.iter().product();
    (0..len).map(move |i| {
        [
            i / (sizes[1] * sizes[2]),
            i / sizes[2] % sizes[1],
            i % sizes[2],
        ]
    })
}

/// `sum a[i] b[i]`: a flat offset from per-axis indices and strides.
fn dot(a: [usize; AXES], b: [usize; AXES]) -> usize {
    a.iter().zip(&b).map(|(x, y)| x * y).sum()
}

/// Gradient with respect to the input of a convolution [`applies`] serves (buffers checked by
/// the caller).
pub(crate) fn grad_input(
    shape: &ConvShape,
    grad_out: &[f32],
    weight: &[f32],
    grad_in: &mut [f32],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let (axes, untouched) = phases(w);
    if untouched || axes.is_empty() {
        grad_in.fill(0.0);
    }
    // grad_out as the input of a 1x1 "convolution" with the padding every phase needs.
    let pads = grad_padding(w, &axes);
    let lead = AXES - w.ndim;
    let padded_shape = ConvShape::new(
        shape.batch,
        shape.out_channels,
        shape.in_channels,
        groups,
        Window::new(
            w.spatial(&w.output),
            &vec![1; w.ndim],
            &vec![1; w.ndim],
            &pads[lead..],
            &vec![1; w.ndim],
        )?,
    )?;
    let pad = PaddedPlane::new(&padded_shape.window)?;
    let padded = padded_input(&padded_shape, &pad, grad_out, threads)?;
    let gpad: &[f32] = padded.as_deref().map_or(grad_out, |v| v);
    let [_, p1, p2] = pad.dims;
    let pstride = [p1 * p2, p2, 1];
    let istride = [w.input[1] * w.input[2], w.input[2], 1];
    let kstride = [w.kernel[1] * w.kernel[2], w.kernel[2], 1];
    let ld = cin_g.next_multiple_of(LANES);
    let phases: Vec<Phase> = axes
        .iter()
        .map(|ph| {
            let taps: [usize; AXES] = std::array::from_fn(|a| ph[a].taps);
            let count: [usize; AXES] = std::array::from_fn(|a| ph[a].count);
            let tap_len = taps.iter().product::<usize>();
            let rows = cout_g * tap_len;
            // Padded index of tap m' = 0 at position 0: c - (M - 1) + padding.
            let base = dot(
                std::array::from_fn(|a| ph[a].start + pads[a].0 + 1 - taps[a]),
                pstride,
            );
            let tap_roff: Vec<usize> = grid(taps).map(|m| base + dot(m, pstride)).collect();
            let roff: Vec<usize> = (0..cout_g)
                .flat_map(|co| tap_roff.iter().map(move |&r| r + co * pad.len))
                .collect();
            // Flat kernel index of each tap, taken in reverse along every axis.
            let kidx: Vec<usize> = grid(taps)
                .map(|m| {
                    let k = std::array::from_fn(|a| {
                        ph[a].first_tap + (taps[a] - 1 - m[a]) * w.stride[a]
                    });
                    dot(k, kstride)
                })
                .collect();
            let positions = count.iter().product();
            let poff: Vec<usize> = grid(count).map(|q| dot(q, pstride)).collect();
            let ioff: Vec<usize> = grid(count)
                .map(|q| {
                    dot(
                        std::array::from_fn(|a| w.stride[a] * q[a] + ph[a].phase),
                        istride,
                    )
                })
                .collect();
            assert!(ioff.iter().all(|&o| o < w.input_len), "phase offsets");
            let mut wt = vec![0f32; groups * rows * ld];
            for g in 0..groups {
                for co in 0..cout_g {
                    for ci in 0..cin_g {
                        let src = &weight[((g * cout_g + co) * cin_g + ci) * w.kernel_len..];
                        for (t, &k) in kidx.iter().enumerate() {
                            wt[(g * rows + co * tap_len + t) * ld + ci] = src[k];
                        }
                    }
                }
            }
            Phase {
                positions,
                rows,
                roff,
                poff,
                ioff,
                wt,
            }
        })
        .collect();
    // Tasks: (sample, group, run of positions), each over every phase: phases interleave
    // in the input, so tasks splitting them wrote alternate elements of the same cache lines
    // (from different threads at once: the lines bounced between the cores).
    let parts = phases
        .iter()
        .map(|ph| ph.positions.div_ceil(POSITIONS_PER_TASK))
        .max()
        .unwrap_or(0);
    let count = shape.batch * groups * parts;
    let group_len = cout_g * pad.len;
    let gi = SharedMut::new(grad_in);
    let zeros = [0f32; MAX_WIDTH];
    // Positions p_start.. of one phase of sample n, group g (x: its padded grad_out).
    let phase_part =
        |ph: &Phase, p_start: usize, x: &[f32], n: usize, g: usize, tile: &mut [f32]| {
            let wg = &ph.wt[g * ph.rows * ld..][..ph.rows * ld];
            let p_end = (p_start + POSITIONS_PER_TASK).min(ph.positions);
            let mut ci0 = 0;
            while ci0 < cin_g {
                let cb = vectors_for(cin_g - ci0);
                let lanes = (cin_g - ci0).min(cb * LANES);
                let mut p0 = p_start;
                while p0 < p_end {
                    let valid = rows_for(cb).min(p_end - p0);
                    let io = &mut tile[(p0 - p_start) * MAX_WIDTH..];
                    let b = &ph.poff[p0..p0 + valid];
                    call(
                        cb,
                        x,
                        &ph.roff,
                        b,
                        wg,
                        (ld, ci0),
                        Some(&zeros),
                        (io, MAX_WIDTH),
                    );
                    p0 += valid;
                }
                let first = (n * shape.in_channels + g * cin_g + ci0) * w.input_len;
                let offsets = &ph.ioff[p_start..p_end];
                for l in 0..lanes {
                    let plane = first + l * w.input_len;
                    assert!(plane + w.input_len <= gi.len());
                    let dst = gi.ptr_at(plane);
                    for (row, &o) in tile.chunks_exact(MAX_WIDTH).zip(offsets) {
                        // SAFETY: in bounds (the plane is, and every o < input_len, asserted
                        // when the phase was built); this task alone writes these positions
                        // of these channels.
                        unsafe { *dst.add(o) = row[l] };
                    }
                }
                ci0 += lanes;
            }
        };
    run_tasks(
        count,
        threads,
        shape.macs().saturating_mul(4),
        || vec![0f32; (POSITIONS_PER_TASK + MAX_P) * MAX_WIDTH],
        |tile, task| {
            let (ng, part) = (task / parts, task % parts);
            let (n, g) = (ng / groups, ng % groups);
            let x = &gpad[(n * shape.out_channels + g * cout_g) * pad.len..][..group_len];
            let p_start = part * POSITIONS_PER_TASK;
            for ph in phases.iter().filter(|ph| p_start < ph.positions) {
                phase_part(ph, p_start, x, n, g, tile);
            }
        },
    )
}

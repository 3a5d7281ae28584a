//! Gradient with respect to the weight: `gw_g = sum_n grad_out[n, g] x cols[n]^T`.
//!
//! Work is split over (group, range of column-matrix rows): each task owns a disjoint block of
//! columns of `gw`, builds only its rows of the column matrix, and accumulates over samples
//! and position tiles in a fixed order, so the result needs no reduction and does not depend
//! on the thread count.
//!
//! Both factors are position-contiguous in their natural layouts, the one layout the `gemm`
//! crate runs slowly (a third of its speed). `grad_out` is therefore transposed once, per
//! (sample, group), to position-major order, and each task accumulates its block of `gw`
//! column-major in its own buffer, copied into `gw` at the end.

use super::gemm::{matmul, ConvFloat, Operand};
use super::geometry::ConvShape;
use super::im2col::fill_columns;
use super::tasks::{run_tasks, ColumnTiles, SharedMut};
use super::transpose::transpose;
use crate::error::Result;

/// Rows of the column matrix a task covers: a multiple of 16 (whole SIMD registers of the
/// product's output), and about a sixteenth of the rows so that two to four threads stay busy.
fn rows_per_task(rows: usize) -> usize {
    rows.div_ceil(16)
        .next_multiple_of(16)
        .clamp(16, 256)
        .min(rows.max(1))
}

/// A task's scratch: its column tile and its column-major block of `gw`.
struct Scratch<T> {
    cols: Vec<T>,
    block: Vec<T>,
}

/// `grad_weight` with buffers of the lengths `shape` gives (checked by the caller).
pub(crate) fn grad_weight_gemm<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    input: &[T],
    grad_weight: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let pointwise = w.is_pointwise();
    let elem = std::mem::size_of::<T>();
    let work = shape.macs().saturating_mul(elem);

    // grad_out[n, g] (cout_g x positions) -> go_t[g] (batch * positions x cout_g): for each
    // group, the (sample, position) pairs in order, each a row of cout_g gradients.
    let mut go_t = vec![T::zero(); grad_out.len()];
    let plane = cout_g * positions;
    {
        let go_t = SharedMut::new(&mut go_t);
        let copy_work = grad_out.len().saturating_mul(elem * 64);
        run_tasks(
            shape.batch * groups,
            threads,
            copy_work.min(work),
            || (),
            |_, ng| {
                let (n, g) = (ng / groups, ng % groups);
                // SAFETY: each task writes its own (group, sample) block.
                let dst = unsafe { go_t.slice((g * shape.batch + n) * plane, plane) };
                transpose(
                    &grad_out[ng * plane..][..plane],
                    positions,
                    cout_g,
                    positions,
                    dst,
                    cout_g,
                );
            },
        )?;
    }

    let task_rows = rows_per_task(rows);
    let per_group = rows.div_ceil(task_rows);
    let total = shape.batch * positions;
    let tiles = ColumnTiles::new(task_rows, total, elem);
    let gw = SharedMut::new(grad_weight);
    let scratch = || Scratch {
        cols: vec![T::zero(); task_rows * tiles.positions_per_tile],
        block: vec![T::zero(); task_rows * cout_g],
    };
    run_tasks(
        groups * per_group,
        threads,
        work,
        scratch,
        |s: &mut Scratch<T>, task| {
            let (g, part) = (task / per_group, task % per_group);
            let r0 = part * task_rows;
            let r1 = (r0 + task_rows).min(rows);
            let n_rows = r1 - r0;
            // block[r * cout_g + co] accumulates gw[g * cout_g + co, r0 + r].
            let block = &mut s.block[..n_rows * cout_g];
            block.fill(T::zero());
            let go_g = &go_t[g * shape.batch * plane..][..shape.batch * plane];
            for q0 in (0..total).step_by(tiles.positions_per_tile) {
                let len = tiles.positions_per_tile.min(total - q0);
                // grad_out of group g at (sample, position) pairs q0..q0+len: (cout_g x len).
                let lhs = Operand::transposed(go_g[q0 * cout_g..].as_ptr(), cout_g);
                let (n, p0) = (q0 / positions, q0 % positions);
                let rhs = if pointwise && p0 + len <= positions {
                    let planes = &input[(n * shape.in_channels + g * cin_g) * w.input_len..];
                    Operand::transposed(planes[r0 * positions + p0..].as_ptr(), positions)
                } else {
                    // The columns of each sample the tile touches, side by side.
                    let mut q = q0;
                    while q < q0 + len {
                        let (n, p) = (q / positions, q % positions);
                        let seg = (positions - p).min(q0 + len - q);
                        let planes = &input[(n * shape.in_channels + g * cin_g) * w.input_len..]
                            [..cin_g * w.input_len];
                        fill_columns(planes, w, r0..r1, p, seg, &mut s.cols[q - q0..], len);
                        q += seg;
                    }
                    Operand::transposed(s.cols.as_ptr(), len)
                };
                // SAFETY: block holds cout_g x n_rows elements (column-major), initialised
                // above; lhs reads go_t's rows q0..q0+len, rhs the column tile or the input.
                unsafe {
                    matmul(
                        cout_g,
                        n_rows,
                        len,
                        block.as_mut_ptr(),
                        (1, cout_g),
                        true,
                        lhs,
                        rhs,
                    )
                };
            }
            for co in 0..cout_g {
                // SAFETY: this task alone owns columns r0..r1 of group g's weight rows.
                let row = unsafe { gw.slice((g * cout_g + co) * rows + r0, n_rows) };
                for (r, v) in row.iter_mut().enumerate() {
                    *v = block[r * cout_g + co];
                }
            }
        },
    )
}

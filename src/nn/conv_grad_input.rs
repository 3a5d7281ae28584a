//! Gradient with respect to the input (also the transposed convolution's forward pass):
//! column tiles `W_g^T x grad_out`, scattered back into the input planes (col2im).
//!
//! Work is split over (sample, group, range of input channels): the scatter of distinct
//! channels touches distinct planes, so tasks never write the same element.

use super::gemm::{matmul, ConvFloat, Operand};
use super::geometry::ConvShape;
use super::im2col::scatter_columns;
use super::tasks::{run_tasks, ColumnTiles, SharedMut, COLUMN_BUDGET_BYTES, MIN_TILE_POSITIONS};
use crate::error::Result;

/// Column-matrix rows one task covers at most (whole channels of them): enough rows for
/// wide products, few enough for several tasks per sample.
const ROWS_PER_TASK: usize = 256;

/// `grad_input = conv^T(grad_out, weight)` with buffers of the lengths `shape` gives (checked
/// by the caller).
pub(crate) fn grad_input_gemm<T: ConvFloat>(
    shape: &ConvShape,
    grad_out: &[T],
    weight: &[T],
    grad_in: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows, k_len) = (w.output_len, shape.col_rows, w.kernel_len);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let pointwise = w.is_pointwise();
    let elem = std::mem::size_of::<T>();
    let max_rows = (COLUMN_BUDGET_BYTES / elem / MIN_TILE_POSITIONS).min(ROWS_PER_TASK);
    let channels_per_task = (max_rows / k_len).clamp(1, cin_g.max(1));
    let per_group = cin_g.div_ceil(channels_per_task);
    let tiles = ColumnTiles::new(channels_per_task * k_len, positions, elem);
    let count = shape.batch * groups * per_group;
    let work = shape.macs().saturating_mul(elem);
    let grad_in = SharedMut::new(grad_in);
    let scratch = || {
        if pointwise {
            Vec::new()
        } else {
            vec![T::zero(); channels_per_task * k_len * tiles.positions_per_tile]
        }
    };
    run_tasks(count, threads, work, scratch, |cols: &mut Vec<T>, task| {
        let part = task % per_group;
        let (n, g) = (task / per_group / groups, task / per_group % groups);
        let c0 = part * channels_per_task;
        let c1 = (c0 + channels_per_task).min(cin_g);
        let first = (n * shape.in_channels + g * cin_g + c0) * w.input_len;
        // SAFETY: this task alone owns input channels c0..c1 of group g of sample n.
        let planes = unsafe { grad_in.slice(first, (c1 - c0) * w.input_len) };
        let go =
            &grad_out[(n * shape.out_channels + g * cout_g) * positions..][..cout_g * positions];
        let weight_g = &weight[g * cout_g * rows..][..cout_g * rows];
        // W_g^T restricted to rows c0 * K..c1 * K: element (r, co) is weight_g[co * rows + r].
        let lhs = Operand::transposed(weight_g[c0 * k_len..].as_ptr(), rows);
        let task_rows = (c1 - c0) * k_len;
        if pointwise {
            let rhs = Operand::rows(go.as_ptr(), positions);
            // SAFETY: dst is this task's planes (task_rows x positions), the operands read
            // the weight and grad_out, which do not overlap it.
            unsafe {
                matmul(
                    task_rows,
                    positions,
                    cout_g,
                    planes.as_mut_ptr(),
                    (positions, 1),
                    false,
                    lhs,
                    rhs,
                )
            };
            return;
        }
        planes.fill(T::zero());
        for p0 in (0..positions).step_by(tiles.positions_per_tile) {
            let len = tiles.positions_per_tile.min(positions - p0);
            let rhs = Operand::rows(go[p0..].as_ptr(), positions);
            // SAFETY: cols holds task_rows x len elements; the operands are in bounds.
            unsafe {
                matmul(
                    task_rows,
                    len,
                    cout_g,
                    cols.as_mut_ptr(),
                    (len, 1),
                    false,
                    lhs,
                    rhs,
                )
            };
            scatter_columns(planes, w, 0..task_rows, p0, len, cols);
        }
    })
}

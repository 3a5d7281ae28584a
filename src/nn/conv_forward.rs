//! Forward pass by im2col + GEMM, written straight into the output.
//!
//! Planes with many output positions are cut into tiles of positions: one task per
//! (sample, group, tile) multiplies the group's weight matrix by the tile's columns into its
//! block of the output. Planes with few positions (where one sample's product would be too
//! narrow to run at speed) are batched instead: one task per (group, run of whole samples)
//! puts the samples' columns side by side, multiplies once into a scratch block and copies
//! each sample's part out.

use super::gemm::{matmul, ConvFloat, Operand};
use super::geometry::ConvShape;
use super::im2col::fill_columns;
use super::tasks::{run_tasks, ColumnTiles, SharedMut, COLUMN_BUDGET_BYTES};
use crate::error::Result;

/// Output positions a product should span at least; planes with at most half as many are
/// batched over samples.
const TARGET_POSITIONS: usize = 512;

/// `out = conv(input, weight) + bias` with buffers of the lengths `shape` gives (checked by
/// the caller).
pub(crate) fn forward_gemm<T: ConvFloat>(
    shape: &ConvShape,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    if 2 * shape.window.output_len <= TARGET_POSITIONS && shape.batch > 1 {
        forward_batched(shape, input, weight, bias, out, threads)
    } else {
        forward_tiled(shape, input, weight, bias, out, threads)
    }
}

/// One task per (sample, group, tile of output positions).
fn forward_tiled<T: ConvFloat>(
    shape: &ConvShape,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let pointwise = w.is_pointwise();
    let tiles = ColumnTiles::new(rows, positions, std::mem::size_of::<T>());
    let per_plane = positions.div_ceil(tiles.positions_per_tile);
    let count = shape.batch * groups * per_plane;
    let work = shape.macs().saturating_mul(std::mem::size_of::<T>());
    let out = SharedMut::new(out);
    let scratch = || {
        if pointwise {
            Vec::new()
        } else {
            vec![T::zero(); tiles.scratch_len()]
        }
    };
    run_tasks(count, threads, work, scratch, |cols: &mut Vec<T>, task| {
        let tile = task % per_plane;
        let (n, g) = (task / per_plane / groups, task / per_plane % groups);
        let p0 = tile * tiles.positions_per_tile;
        let len = tiles.positions_per_tile.min(positions - p0);
        let planes =
            &input[(n * shape.in_channels + g * cin_g) * w.input_len..][..cin_g * w.input_len];
        let weight_g = &weight[g * cout_g * rows..][..cout_g * rows];
        let first = (n * shape.out_channels + g * cout_g) * positions + p0;
        if let Some(bias) = bias {
            for co in 0..cout_g {
                // SAFETY: this task alone owns columns p0..p0+len of these output rows.
                unsafe { out.slice(first + co * positions, len) }.fill(bias[g * cout_g + co]);
            }
        }
        let mut accumulate = bias.is_some();
        let dst = out.ptr_at(first);
        for r0 in (0..rows).step_by(tiles.rows_per_tile) {
            let r1 = (r0 + tiles.rows_per_tile).min(rows);
            let rhs = if pointwise {
                Operand::rows(planes[r0 * positions + p0..].as_ptr(), positions)
            } else {
                fill_columns(planes, w, r0..r1, p0, len, cols, len);
                Operand::rows(cols.as_ptr(), len)
            };
            let lhs = Operand::rows(weight_g[r0..].as_ptr(), rows);
            // SAFETY: lhs covers weight rows 0..cout_g, columns r0..r1 of this group; rhs the
            // column tile (r1 - r0 rows of len); dst this task's own output block.
            unsafe {
                matmul(
                    cout_g,
                    len,
                    r1 - r0,
                    dst,
                    (positions, 1),
                    accumulate,
                    lhs,
                    rhs,
                )
            };
            accumulate = true;
        }
    })
}

/// A batched task's scratch: the column tile and the product block.
struct Batch<T> {
    cols: Vec<T>,
    product: Vec<T>,
}

/// One task per (group, run of whole samples), for planes with few output positions.
fn forward_batched<T: ConvFloat>(
    shape: &ConvShape,
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    out: &mut [T],
    threads: usize,
) -> Result<()> {
    let w = &shape.window;
    let (positions, rows) = (w.output_len, shape.col_rows);
    let (cin_g, cout_g, groups) = (shape.in_per_group(), shape.out_per_group(), shape.groups);
    let samples_per_task = (TARGET_POSITIONS / positions).clamp(1, shape.batch);
    let width = samples_per_task * positions;
    let budget = COLUMN_BUDGET_BYTES / std::mem::size_of::<T>();
    let rows_per_tile = (budget / width).clamp(1, rows);
    let per_group = shape.batch.div_ceil(samples_per_task);
    let work = shape.macs().saturating_mul(std::mem::size_of::<T>());
    let out = SharedMut::new(out);
    let scratch = || Batch {
        cols: vec![T::zero(); rows_per_tile * width],
        product: vec![T::zero(); cout_g * width],
    };
    run_tasks(
        groups * per_group,
        threads,
        work,
        scratch,
        |s: &mut Batch<T>, task| {
            let (g, part) = (task / per_group, task % per_group);
            let n0 = part * samples_per_task;
            let n1 = (n0 + samples_per_task).min(shape.batch);
            let len = (n1 - n0) * positions;
            let weight_g = &weight[g * cout_g * rows..][..cout_g * rows];
            for (co, row) in s.product.chunks_exact_mut(width).enumerate() {
                row.fill(bias.map_or(T::zero(), |b| b[g * cout_g + co]));
            }
            for r0 in (0..rows).step_by(rows_per_tile) {
                let r1 = (r0 + rows_per_tile).min(rows);
                for n in n0..n1 {
                    let planes = &input[(n * shape.in_channels + g * cin_g) * w.input_len..]
                        [..cin_g * w.input_len];
                    let at = (n - n0) * positions;
                    fill_columns(planes, w, r0..r1, 0, positions, &mut s.cols[at..], width);
                }
                let lhs = Operand::rows(weight_g[r0..].as_ptr(), rows);
                let rhs = Operand::rows(s.cols.as_ptr(), width);
                // SAFETY: product holds cout_g x width elements (initialised above), the column
                // tile (r1 - r0) x width, lhs this group's weight columns r0..r1.
                unsafe {
                    matmul(
                        cout_g,
                        len,
                        r1 - r0,
                        s.product.as_mut_ptr(),
                        (width, 1),
                        true,
                        lhs,
                        rhs,
                    )
                };
            }
            for n in n0..n1 {
                let first = (n * shape.out_channels + g * cout_g) * positions;
                // SAFETY: this task alone owns group g's output channels of samples n0..n1.
                let dst = unsafe { out.slice(first, cout_g * positions) };
                for (co, plane) in dst.chunks_exact_mut(positions).enumerate() {
                    plane.copy_from_slice(
                        &s.product[co * width + (n - n0) * positions..][..positions],
                    );
                }
            }
        },
    )
}

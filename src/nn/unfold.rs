//! `unfold` (im2col of whole images) and `fold` (col2im, summing overlapping entries), in
//! torch's `F.unfold`/`F.fold` layout generalised to 1 to 3 spatial axes:
//! columns (N, C * prod(K), L) with rows ordered (c, k...) and L = prod(O) positions.

use super::gemm::ConvFloat;
use super::geometry::{check_len, checked_product, Window};
use super::im2col::{fill_columns, scatter_columns};
use super::tasks::{run_tasks, SharedMut};
use crate::error::Result;

/// Elements of the column matrices of `batch` images of `channels` channels.
///
/// # Errors
/// [`crate::error::ConvError::Memory`] on overflow.
pub fn columns_len(batch: usize, channels: usize, w: &Window) -> Result<usize> {
    checked_product(
        &[batch, channels, w.kernel_len, w.output_len],
        "column matrix",
    )
}

/// im2col: `input` (N, C, *S) into `columns` (N, C * prod(K), prod(O)).
///
/// # Errors
/// [`crate::error::ConvError::Value`] when a buffer length does not match the shapes.
pub fn unfold<T: ConvFloat>(
    batch: usize,
    channels: usize,
    w: &Window,
    input: &[T],
    columns: &mut [T],
    threads: usize,
) -> Result<()> {
    check_len(
        "input",
        input.len(),
        checked_product(&[batch, channels, w.input_len], "input")?,
    )?;
    check_len("columns", columns.len(), columns_len(batch, channels, w)?)?;
    let plane_cols = w.kernel_len * w.output_len;
    let work = columns.len().saturating_mul(std::mem::size_of::<T>());
    let columns = SharedMut::new(columns);
    run_tasks(
        batch * channels,
        threads,
        work,
        || (),
        |_, plane| {
            let src = &input[plane * w.input_len..][..w.input_len];
            // SAFETY: this task alone owns the rows of plane `plane`.
            let dst = unsafe { columns.slice(plane * plane_cols, plane_cols) };
            fill_columns(src, w, 0..w.kernel_len, 0, w.output_len, dst, w.output_len);
        },
    )
}

/// col2im: `columns` (N, C * prod(K), prod(O)) summed into `output` (N, C, *S).
///
/// # Errors
/// [`crate::error::ConvError::Value`] when a buffer length does not match the shapes.
pub fn fold<T: ConvFloat>(
    batch: usize,
    channels: usize,
    w: &Window,
    columns: &[T],
    output: &mut [T],
    threads: usize,
) -> Result<()> {
    check_len("columns", columns.len(), columns_len(batch, channels, w)?)?;
    check_len(
        "output",
        output.len(),
        checked_product(&[batch, channels, w.input_len], "output")?,
    )?;
    let plane_cols = w.kernel_len * w.output_len;
    let work = columns.len().saturating_mul(std::mem::size_of::<T>());
    let output = SharedMut::new(output);
    run_tasks(
        batch * channels,
        threads,
        work,
        || (),
        |_, plane| {
            // SAFETY: this task alone owns output plane `plane`.
            let dst = unsafe { output.slice(plane * w.input_len, w.input_len) };
            dst.fill(T::zero());
            let src = &columns[plane * plane_cols..][..plane_cols];
            scatter_columns(dst, w, 0..w.kernel_len, 0, w.output_len, src);
        },
    )
}

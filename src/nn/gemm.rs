//! The element types of the convolution core and the one matrix product it calls.
//!
//! [`matmul`] wraps `gemm::gemm` (single-threaded: the callers parallelise over tiles) with
//! row/column strides in the usual order, and handles the empty cases itself.

use gemm::Parallelism;

use super::batchnorm::{self, NormShape};
use crate::error::Result;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point type the convolution core computes in: `f32` or `f64`.
pub trait ConvFloat:
    num_traits::Float
    + std::ops::AddAssign
    + Default
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// `s` as `f32` elements when `Self` is `f32` (for kernels written for `f32` only).
    fn as_f32(s: &[Self]) -> Option<&[f32]>;
    /// `s` as mutable `f32` elements when `Self` is `f32`.
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]>;
    /// Per-channel sums of `x` (N, C, inner) into `out` (C), accumulated in `f64`
    /// ([`crate::nn::batchnorm::channel_sums`]).
    ///
    /// # Errors
    /// As [`crate::nn::batchnorm::channel_sums`].
    fn channel_sums(x: &[Self], shape: NormShape, out: &mut [Self], threads: usize) -> Result<()>;
}

impl ConvFloat for f32 {
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    fn as_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
    fn channel_sums(x: &[Self], shape: NormShape, out: &mut [Self], threads: usize) -> Result<()> {
        batchnorm::channel_sums(x, shape, out, threads)
    }
}

impl ConvFloat for f64 {
    fn as_f32(_: &[Self]) -> Option<&[f32]> {
        None
    }
    fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
    fn channel_sums(x: &[Self], shape: NormShape, out: &mut [Self], threads: usize) -> Result<()> {
        batchnorm::channel_sums(x, shape, out, threads)
    }
}

/// A strided matrix operand: element (i, j) is at `ptr + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct Operand<T> {
    /// Address of element (0, 0).
    pub ptr: *const T,
    /// Distance between rows, in elements.
    pub row_stride: usize,
    /// Distance between columns, in elements.
    pub col_stride: usize,
}

impl<T> Operand<T> {
    /// A row-major operand with rows `row_stride` elements apart.
    pub fn rows(ptr: *const T, row_stride: usize) -> Self {
        Operand {
            ptr,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `row_stride` elements apart.
    pub fn transposed(ptr: *const T, row_stride: usize) -> Self {
        Operand {
            ptr,
            row_stride: 1,
            col_stride: row_stride,
        }
    }
}

/// `dst (m x n) = lhs (m x k) * rhs (k x n)`, or `dst += ...` when `accumulate`; element
/// (i, j) of `dst` is at `dst + i * dst_strides.0 + j * dst_strides.1`.
///
/// The `gemm` crate runs fastest when `dst` and `lhs` are column-major (or, equivalently, both
/// row-major with `rhs` then read along its rows) and the contraction runs along `rhs`'s
/// columns: callers pick their layouts accordingly.
///
/// The result of each element depends only on (m, n, k) and the operands' values and strides,
/// never on the calling thread.
///
/// # Safety
/// Every element the operands address must be readable, every element of `dst` writable and
/// not read by anyone else during the call, and `dst` must not overlap the operands. With
/// `accumulate`, `dst` must be initialised.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul<T: ConvFloat>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: Operand<T>,
    rhs: Operand<T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: element (i, j) of dst is writable (caller's contract).
                    unsafe { *dst.add(i * dst_strides.0 + j * dst_strides.1) = T::zero() };
                }
            }
        }
        return;
    }
    // SAFETY: forwarded from the caller; gemm takes (column stride, row stride) pairs and
    // computes dst = alpha * dst + beta * lhs * rhs, reading dst only when `accumulate`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_strides.1 as isize,
            dst_strides.0 as isize,
            accumulate,
            lhs.ptr,
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.ptr,
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

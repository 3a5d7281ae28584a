//! Neural-network convolution (torch.nn.functional semantics, NCL/NCHW/NCDHW layouts).
//!
//! Pure Rust: no PyO3 types. [`geometry`] describes a convolution's shapes, [`im2col`] moves
//! between images and column matrices, [`conv`] runs forward and backward passes (im2col + GEMM,
//! or a direct kernel for depthwise and tiny channel counts), and [`pool`] does max/average
//! pooling with their backward passes.

pub mod conv;
pub mod geometry;
pub mod im2col;
pub mod pool;

//! Neural-network convolution (torch.nn.functional semantics, NCL/NCHW/NCDHW layouts).
//!
//! Pure Rust: no PyO3 types. [`geometry`] describes a convolution's shapes, [`im2col`] moves
//! between images and column matrices, [`conv`] runs forward and backward passes (im2col +
//! GEMM, or a direct kernel for depthwise and tiny channel counts), [`unfold`] exposes
//! im2col/col2im of whole images, and [`pool`] does max/average pooling with their backward
//! passes.

pub mod batchnorm;
pub mod conv;
mod conv_forward;
mod conv_grad_input;
mod conv_grad_weight;
mod depthwise;
#[cfg(target_arch = "x86_64")]
mod depthwise_simd;
mod depthwise_wide;
pub mod gemm;
pub mod geometry;
pub mod im2col;
mod implicit;
mod implicit_kernel;
mod implicit_phases;
pub mod optim;
pub mod pool;
#[cfg(target_arch = "x86_64")]
mod pool_simd;
mod runs;
pub mod tasks;
mod transpose;
pub mod unfold;
#[cfg(target_arch = "x86_64")]
mod winograd;

#[cfg(test)]
mod conv_tests;

//! The AVX-512 micro-kernel of the implicit-GEMM convolution ([`super::implicit`]):
//! `acc[i][l] += sum_j x[a[j] + b[i]] * v[j * ld + l]` for `P` values of `i` and
//! `16 * CB` lanes `l`, with the accumulators held in registers.
//!
//! The column matrix is never built: `x[a[j] + b[i]]` is the column-matrix entry of row `j`
//! (or position `j`) and position `i` (or row `i`), read straight from the (padded) input.
//! The sum over `j` runs in order, one fused multiply-add per term, whoever calls it.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps,
};

/// Lanes of one vector of `f32`.
pub const LANES: usize = 16;

/// The operands of one kernel call (see the module documentation).
pub struct Block<'a, const P: usize> {
    /// The (padded) input values.
    pub x: &'a [f32],
    /// Offsets of the reduction index `j`.
    pub a: &'a [usize],
    /// Offsets of the `P` accumulator rows `i`.
    pub b: [usize; P],
    /// The vectors: `16 * CB` lanes at `v[j * ld + lane0..]`.
    pub v: &'a [f32],
    /// Distance between the vectors of consecutive `j`.
    pub ld: usize,
    /// First lane read from each vector.
    pub lane0: usize,
    /// Initial value of every accumulator row (`16 * CB` lanes), instead of loading `io`.
    pub init: Option<&'a [f32]>,
}

/// Runs one block: `io` holds the `P x 16 * CB` accumulators, row `i` at `io[i * io_ld..]`,
/// loaded before (unless `blk.init` gives their initial row) and stored after the sum.
///
/// # Panics
/// If an offset, vector or accumulator lies outside its slice (checked before any unsafe
/// access).
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn run_block<const P: usize, const CB: usize>(
    blk: &Block<'_, P>,
    io: &mut [f32],
    io_ld: usize,
) {
    let width = LANES * CB;
    let (x, a, v) = (blk.x, blk.a, blk.v);
    if a.is_empty() {
        return;
    }
    // Bounds: every x index is a[j] + b[i] <= max(a) + max(b); every vector read ends at
    // (len(a) - 1) * ld + lane0 + width; every accumulator at (P - 1) * io_ld + width.
    let max_a = a.iter().copied().max().unwrap_or(0);
    let max_b = blk.b.iter().copied().max().unwrap_or(0);
    assert!(
        max_a + max_b < x.len(),
        "implicit kernel: x offset out of bounds"
    );
    assert!((a.len() - 1) * blk.ld + blk.lane0 + width <= v.len());
    assert!(io_ld >= width && (P - 1) * io_ld + width <= io.len());
    let xp = x.as_ptr();
    let vp = v.as_ptr().wrapping_add(blk.lane0);
    let iop = io.as_mut_ptr();
    // SAFETY (all loads and stores below): in bounds by the asserts above; unaligned
    // intrinsics are used throughout, and AVX-512F is enabled (caller's contract).
    let mut acc: [[__m512; CB]; P] = match blk.init {
        Some(init) => {
            let init = &init[..width];
            let row: [__m512; CB] =
                std::array::from_fn(|c| unsafe { _mm512_loadu_ps(init.as_ptr().add(c * LANES)) });
            [row; P]
        }
        None => std::array::from_fn(|i| {
            std::array::from_fn(|c| unsafe { _mm512_loadu_ps(iop.add(i * io_ld + c * LANES)) })
        }),
    };
    for (j, &aj) in a.iter().enumerate() {
        let vj = unsafe { vp.add(j * blk.ld) };
        let w: [__m512; CB] =
            std::array::from_fn(|c| unsafe { _mm512_loadu_ps(vj.add(c * LANES)) });
        let xj = unsafe { xp.add(aj) };
        for (row, &bi) in acc.iter_mut().zip(&blk.b) {
            let s = _mm512_set1_ps(unsafe { *xj.add(bi) });
            for (r, &wc) in row.iter_mut().zip(&w) {
                *r = _mm512_fmadd_ps(s, wc, *r);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (c, &r) in row.iter().enumerate() {
            unsafe { _mm512_storeu_ps(iop.add(i * io_ld + c * LANES), r) };
        }
    }
}

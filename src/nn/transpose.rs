//! Matrix transposition between the layouts of the convolution kernels' operands (channel-
//! major planes and position-major rows).
//!
//! Square blocks of [`BLOCK`] x [`BLOCK`] elements move at a time; for `f32` on AVX-512 each
//! block is sixteen vector loads, four rounds of in-register shuffles and sixteen vector
//! stores (the element-wise loop wrote one element per cache line and ran at about 3 GB/s).

use super::gemm::ConvFloat;

/// Edge of the square blocks moved at a time.
const BLOCK: usize = 16;

/// `dst (cols x rows) = src (rows x cols)^T`, both row-major, the rows of `src` `src_ld`
/// elements apart and those of `dst` `dst_ld` apart (the elements past `cols` in each row of
/// `src` are not read, those past `rows` in each row of `dst` are left as they are).
///
/// # Panics
/// If `src_ld < cols`, `dst_ld < rows`, or a slice is too short.
pub(super) fn transpose<T: ConvFloat>(
    src: &[T],
    src_ld: usize,
    rows: usize,
    cols: usize,
    dst: &mut [T],
    dst_ld: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        src_ld >= cols && (rows - 1) * src_ld + cols <= src.len(),
        "transpose: source too short"
    );
    assert!(
        dst_ld >= rows && (cols - 1) * dst_ld + rows <= dst.len(),
        "transpose: destination too short"
    );
    let full_rows = rows - rows % BLOCK;
    let full_cols = cols - cols % BLOCK;
    // f32 on AVX-512: whole blocks in register shuffles.
    #[cfg(target_arch = "x86_64")]
    let simd = crate::simd::active_isa() == crate::simd::Isa::Avx512 && T::as_f32(src).is_some();
    #[cfg(not(target_arch = "x86_64"))]
    let simd = false;
    for i0 in (0..full_rows).step_by(BLOCK) {
        for j0 in (0..full_cols).step_by(BLOCK) {
            if simd {
                // SAFETY: T is f32 (as_f32 said so) and AVX-512F is active; the block's rows
                // i0..i0 + 16 and columns j0..j0 + 16 lie inside both matrices (asserted
                // above).
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    block_16x16_f32(
                        src.as_ptr().add(i0 * src_ld + j0).cast(),
                        src_ld,
                        dst.as_mut_ptr().add(j0 * dst_ld + i0).cast(),
                        dst_ld,
                    )
                };
            } else {
                scalar_block(src, src_ld, dst, dst_ld, i0..i0 + BLOCK, j0..j0 + BLOCK);
            }
        }
    }
    // The elements outside the whole blocks.
    scalar_block(src, src_ld, dst, dst_ld, 0..full_rows, full_cols..cols);
    scalar_block(src, src_ld, dst, dst_ld, full_rows..rows, 0..cols);
}

/// Transposes the 16 x 16 block of `f32` at `src` (rows `src_ld` apart) into the block at
/// `dst` (rows `dst_ld` apart), with AVX-512 shuffles.
///
/// # Safety
/// AVX-512F must be available; rows `0..16` of 16 elements must be readable at
/// `src + i * src_ld` and writable at `dst + j * dst_ld`, the two blocks not overlapping.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn block_16x16_f32(src: *const f32, src_ld: usize, dst: *mut f32, dst_ld: usize) {
    // SAFETY: the caller's contract.
    unsafe { avx512::block_16x16(src, src_ld, dst, dst_ld) }
}

/// Rows `rs` and columns `cs` of `src`, element by element.
fn scalar_block<T: Copy>(
    src: &[T],
    src_ld: usize,
    dst: &mut [T],
    dst_ld: usize,
    rs: std::ops::Range<usize>,
    cs: std::ops::Range<usize>,
) {
    for j in cs {
        let row = &mut dst[j * dst_ld..];
        for i in rs.clone() {
            row[i] = src[i * src_ld + j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_loadu_ps, _mm512_shuffle_f32x4,
        _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
        _mm512_unpacklo_ps,
    };

    /// See [`super::block_16x16_f32`].
    ///
    /// # Safety
    /// As there.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn block_16x16(sp: *const f32, src_ld: usize, dp: *mut f32, dst_ld: usize) {
        // SAFETY (loads and stores): inside the blocks by the caller's contract.
        let r: [__m512; 16] =
            std::array::from_fn(|i| unsafe { _mm512_loadu_ps(sp.add(i * src_ld)) });
        // Within each 128-bit lane l, after two rounds u[4k + m] holds column 4l + m of
        // rows 4k..4k + 4.
        let mut t = [r[0]; 16];
        for p in 0..8 {
            t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
            t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
        }
        let mut u = [r[0]; 16];
        for k in 0..4 {
            let lo = |a: __m512, b: __m512| {
                _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
            };
            let hi = |a: __m512, b: __m512| {
                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
            };
            let (lo01, hi01, lo23, hi23) = (t[4 * k], t[4 * k + 1], t[4 * k + 2], t[4 * k + 3]);
            u[4 * k] = lo(lo01, lo23);
            u[4 * k + 1] = hi(lo01, lo23);
            u[4 * k + 2] = lo(hi01, hi23);
            u[4 * k + 3] = hi(hi01, hi23);
        }
        // Then column 4l + m gathers lane l of u[m], u[4 + m], u[8 + m], u[12 + m].
        for m in 0..4 {
            let (a, b, c, d) = (u[m], u[4 + m], u[8 + m], u[12 + m]);
            let ab_lo = _mm512_shuffle_f32x4::<0x44>(a, b);
            let ab_hi = _mm512_shuffle_f32x4::<0xEE>(a, b);
            let cd_lo = _mm512_shuffle_f32x4::<0x44>(c, d);
            let cd_hi = _mm512_shuffle_f32x4::<0xEE>(c, d);
            let out = [
                _mm512_shuffle_f32x4::<0x88>(ab_lo, cd_lo),
                _mm512_shuffle_f32x4::<0xDD>(ab_lo, cd_lo),
                _mm512_shuffle_f32x4::<0x88>(ab_hi, cd_hi),
                _mm512_shuffle_f32x4::<0xDD>(ab_hi, cd_hi),
            ];
            for (l, v) in out.into_iter().enumerate() {
                unsafe { _mm512_storeu_ps(dp.add((4 * l + m) * dst_ld), v) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::transpose;

    /// Every shape around the block edge, with a destination stride wider than the rows.
    #[test]
    fn matches_the_definition() {
        for rows in [1, 5, 16, 17, 33, 64] {
            for cols in [1, 3, 16, 31, 48] {
                // Source rows cols + 2 apart: the two extra elements must not be read.
                let src_ld = cols + 2;
                let src: Vec<f32> = (0..rows * src_ld)
                    .map(|v| {
                        if v % src_ld < cols {
                            v as f32 * 0.5 - 7.0
                        } else {
                            f32::NAN
                        }
                    })
                    .collect();
                let ld = rows + 3;
                let mut dst = vec![f32::NAN; cols * ld];
                transpose(&src, src_ld, rows, cols, &mut dst, ld);
                let wide: Vec<f64> = src.iter().map(|&v| f64::from(v)).collect();
                let mut dst64 = vec![f64::NAN; cols * ld];
                transpose(&wide, src_ld, rows, cols, &mut dst64, ld);
                for j in 0..cols {
                    for i in 0..ld {
                        let got = dst[j * ld + i];
                        if i < rows {
                            assert_eq!(got, src[i * src_ld + j], "{rows}x{cols} at ({i}, {j})");
                            assert_eq!(dst64[j * ld + i], wide[i * src_ld + j]);
                        } else {
                            assert!(got.is_nan() && dst64[j * ld + i].is_nan());
                        }
                    }
                }
            }
        }
    }
}

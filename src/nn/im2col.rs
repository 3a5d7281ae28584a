//! Moving between images and column matrices (im2col and its adjoint, col2im).
//!
//! Row `r` of a column matrix belongs to plane `r / prod(K)` and kernel offset
//! `r % prod(K)` (row-major over the kernel axes); column `p` is output position `p`
//! (row-major over the output axes). Entries that fall on padding are zero. Both directions
//! work on a tile: a range of rows times a range of output positions, stored row-major with
//! rows `len` elements apart.

use std::ops::Range;

use super::gemm::ConvFloat;
use super::geometry::{AxisReach, Window};
use super::runs::{add_run, copy_run, fill_run};

/// Calls `run(tile_col, o2, count, base)` for each stretch of output positions
/// `p0..p0 + len` that lies on one output row (fixed first two output indices): `tile_col` is
/// the stretch's first column within the tile, `o2` its first last-axis output index, and
/// `base` the input index of (i0, i1, 0) when the first two axes read inside the input for
/// kernel offsets `reach` (`None`: the whole stretch reads padding).
#[inline(always)]
fn for_each_run(
    w: &Window,
    reach: &[AxisReach; 3],
    p0: usize,
    len: usize,
    mut run: impl FnMut(usize, usize, usize, Option<usize>),
) {
    let [_, out1, out2] = w.output;
    let [_, in1, in2] = w.input;
    // Divide once; then walk the output rows by increments.
    let line = p0 / out2;
    let (mut o0, mut o1, mut o2) = (line / out1, line % out1, p0 % out2);
    let mut t = 0;
    while t < len {
        let count = (out2 - o2).min(len - t);
        let inside =
            (reach[0].lo..reach[0].hi).contains(&o0) && (reach[1].lo..reach[1].hi).contains(&o1);
        let base = inside.then(|| {
            let i0 = (o0 * w.stride[0]) as isize + reach[0].offset;
            let i1 = (o1 * w.stride[1]) as isize + reach[1].offset;
            (i0 as usize * in1 + i1 as usize) * in2
        });
        run(t, o2, count, base);
        t += count;
        o2 = 0;
        o1 += 1;
        if o1 == out1 {
            o1 = 0;
            o0 += 1;
        }
    }
}

/// The part of last-axis outputs `o2..o2 + count` that reads inside the input:
/// `(first, last)` output indices, empty when `first >= last`.
#[inline]
fn inner_span(r: &AxisReach, o2: usize, count: usize) -> (usize, usize) {
    let first = o2.max(r.lo);
    let last = (o2 + count).min(r.hi);
    (first, last.max(first))
}

/// Writes rows `rows` of the column matrix of `planes` (consecutive input planes of
/// `w.input_len` elements) for output positions `p0..p0 + len` into `cols`, row-major with
/// rows `ld` apart (`ld >= len`; columns `len..ld` of each row are left alone).
///
/// # Panics
/// If `planes` or `cols` is too short, or the positions exceed the output.
pub fn fill_columns<T: ConvFloat>(
    planes: &[T],
    w: &Window,
    rows: Range<usize>,
    p0: usize,
    len: usize,
    cols: &mut [T],
    ld: usize,
) {
    assert!(p0 + len <= w.output_len && ld >= len);
    if len == 0 || rows.is_empty() {
        return;
    }
    assert!(cols.len() >= (rows.len() - 1) * ld + len);
    let stride = w.stride[2];
    for (i, r) in rows.enumerate() {
        let row = &mut cols[i * ld..i * ld + len];
        let plane = &planes[(r / w.kernel_len) * w.input_len..][..w.input_len];
        let reach = w.reaches(r % w.kernel_len);
        let r2 = reach[2];
        for_each_run(w, &reach, p0, len, |t, o2, count, base| {
            let dst = &mut row[t..t + count];
            let Some(base) = base else {
                fill_run(dst, T::zero());
                return;
            };
            let (first, last) = inner_span(&r2, o2, count);
            if first >= last {
                fill_run(dst, T::zero());
                return;
            }
            let (head, rest) = dst.split_at_mut(first - o2);
            let (mid, tail) = rest.split_at_mut(last - first);
            fill_run(head, T::zero());
            fill_run(tail, T::zero());
            let start = (base as isize + (first * stride) as isize + r2.offset) as usize;
            if stride == 1 {
                // Runs are short: a memcpy call would cost more than the copy.
                copy_run(mid, &plane[start..]);
            } else {
                for (j, d) in mid.iter_mut().enumerate() {
                    *d = plane[start + j * stride];
                }
            }
        });
    }
}

/// Adds rows `rows` of a column-matrix tile (`cols`, row-major with rows `len` apart, output
/// positions `p0..p0 + len`) into the input planes they were read from: the adjoint of
/// [`fill_columns`]. Row `r` adds into plane `r / prod(K)` of `planes`.
///
/// # Panics
/// If `planes` or `cols` is too short, or the positions exceed the output.
pub fn scatter_columns<T: ConvFloat>(
    planes: &mut [T],
    w: &Window,
    rows: Range<usize>,
    p0: usize,
    len: usize,
    cols: &[T],
) {
    assert!(p0 + len <= w.output_len && cols.len() >= rows.len() * len);
    if len == 0 {
        return;
    }
    let stride = w.stride[2];
    for (r, row) in rows.zip(cols.chunks_exact(len)) {
        let plane = &mut planes[(r / w.kernel_len) * w.input_len..][..w.input_len];
        let reach = w.reaches(r % w.kernel_len);
        let r2 = reach[2];
        for_each_run(w, &reach, p0, len, |t, o2, count, base| {
            let Some(base) = base else { return };
            let (first, last) = inner_span(&r2, o2, count);
            if first >= last {
                return;
            }
            let src = &row[t + first - o2..t + last - o2];
            let start = (base as isize + (first * stride) as isize + r2.offset) as usize;
            if stride == 1 {
                add_run(&mut plane[start..start + src.len()], src);
            } else {
                for (j, &s) in src.iter().enumerate() {
                    plane[start + j * stride] += s;
                }
            }
        });
    }
}

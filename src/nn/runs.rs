//! Copying, zeroing and adding short runs of elements without calling `memcpy`/`memset`.
//!
//! The im2col loops move runs as short as one output row (8 elements for a LeNet layer); a
//! library call per run costs more than the move itself. These helpers move fixed-size
//! chunks (which the compiler turns into vector moves) and finish with at most three smaller
//! fixed-size moves, so no variable-length loop is left for the compiler to turn back into a
//! library call.

/// Elements moved per full chunk.
const CHUNK: usize = 8;

/// `dst[i] = src[i]` for every `i < dst.len()`.
///
/// # Panics
/// If `src` is shorter than `dst`.
#[inline(always)]
pub fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let src = &src[..dst.len()];
    let mut d = dst.chunks_exact_mut(CHUNK);
    let mut s = src.chunks_exact(CHUNK);
    for (d, s) in (&mut d).zip(&mut s) {
        let s: &[T; CHUNK] = s.try_into().expect("chunk of CHUNK elements");
        let d: &mut [T; CHUNK] = d.try_into().expect("chunk of CHUNK elements");
        *d = *s;
    }
    let (d, s) = (d.into_remainder(), s.remainder());
    let mut at = 0;
    for size in [4, 2, 1] {
        if (d.len() - at) >= size {
            d[at..at + size].copy_from_slice(&s[at..at + size]);
            at += size;
        }
    }
}

/// `dst[i] = value` for every `i`.
#[inline(always)]
pub fn fill_run<T: Copy>(dst: &mut [T], value: T) {
    let mut d = dst.chunks_exact_mut(CHUNK);
    for d in &mut d {
        let d: &mut [T; CHUNK] = d.try_into().expect("chunk of CHUNK elements");
        *d = [value; CHUNK];
    }
    let d = d.into_remainder();
    let mut at = 0;
    for size in [4, 2, 1] {
        if (d.len() - at) >= size {
            for v in &mut d[at..at + size] {
                *v = value;
            }
            at += size;
        }
    }
}

/// `dst[i] += src[i]` for every `i < dst.len()`.
///
/// # Panics
/// If `src` is shorter than `dst`.
#[inline(always)]
pub fn add_run<T: Copy + std::ops::AddAssign>(dst: &mut [T], src: &[T]) {
    let src = &src[..dst.len()];
    let mut d = dst.chunks_exact_mut(CHUNK);
    let mut s = src.chunks_exact(CHUNK);
    for (d, s) in (&mut d).zip(&mut s) {
        for (d, &s) in d.iter_mut().zip(s) {
            *d += s;
        }
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_every_short_length() {
        for n in 0..40 {
            let src: Vec<f32> = (0..n + 3).map(|i| i as f32 + 0.5).collect();
            let mut dst = vec![-1.0f32; n + 2];
            copy_run(&mut dst[1..n + 1], &src);
            assert_eq!(&dst[1..n + 1], &src[..n]);
            assert_eq!((dst[0], dst[n + 1]), (-1.0, -1.0));
            add_run(&mut dst[1..n + 1], &src);
            for i in 0..n {
                assert_eq!(dst[i + 1], 2.0 * src[i]);
            }
            fill_run(&mut dst[1..n + 1], 7.0);
            assert!(dst[1..n + 1].iter().all(|&v| v == 7.0));
            assert_eq!((dst[0], dst[n + 1]), (-1.0, -1.0));
        }
    }
}

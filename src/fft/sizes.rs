//! Transform lengths the FFT libraries handle fastest.
//!
//! rustfft has dedicated butterflies for 2, 3, 5 and 7 and mixes them well; a length whose
//! prime factors are all among these ("7-smooth") is typically 2-10x faster than a nearby
//! length with a large prime factor. realfft computes a length-`2m` real transform with one
//! complex transform of length `m`, so real lengths are kept even.

use std::sync::OnceLock;

/// Every 7-smooth number up to 2^40, sorted (about 17,000 of them), built once.
fn smooth_numbers() -> &'static [usize] {
    static TABLE: OnceLock<Vec<usize>> = OnceLock::new();
    TABLE.get_or_init(|| {
        const LIMIT: usize = 1 << 40;
        let mut v = Vec::new();
        let mut p7 = 1usize;
        while p7 <= LIMIT {
            let mut p5 = p7;
            while p5 <= LIMIT {
                let mut p3 = p5;
                while p3 <= LIMIT {
                    let mut p2 = p3;
                    while p2 <= LIMIT {
                        v.push(p2);
                        p2 *= 2;
                    }
                    p3 *= 3;
                }
                p5 *= 5;
            }
            p7 *= 7;
        }
        v.sort_unstable();
        v
    })
}

/// The smallest 7-smooth length `>= n` (1 for `n <= 1`); the next power of two beyond 2^40.
pub fn fast_len(n: usize) -> usize {
    let table = smooth_numbers();
    match table.binary_search(&n) {
        Ok(i) => table[i],
        Err(i) if i < table.len() => table[i],
        Err(_) => n.checked_next_power_of_two().unwrap_or(usize::MAX),
    }
}

/// The smallest even 7-smooth length `>= n`, for real-input transforms (`usize::MAX` for
/// lengths beyond any address space, `n > 2^63`).
pub fn fast_real_len(n: usize) -> usize {
    fast_len(n.div_ceil(2).max(1)).saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smooth(mut n: usize) -> bool {
        for p in [2, 3, 5, 7] {
            while n.is_multiple_of(p) {
                n /= p;
            }
        }
        n == 1
    }

    #[test]
    fn fast_lengths_are_smallest_smooth() {
        for n in 1..3000 {
            let f = fast_len(n);
            assert!(f >= n && smooth(f), "{n} -> {f}");
            assert!((n..f).all(|m| !smooth(m)), "{n} -> {f} not smallest");
            let r = fast_real_len(n);
            assert!(r >= n && r.is_multiple_of(2) && smooth(r));
        }
    }
}

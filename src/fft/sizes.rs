//! Transform lengths the FFT libraries handle fastest.
//!
//! rustfft has dedicated butterflies for 2, 3, 5 and 7 and mixes them well; a length whose
//! prime factors are all among these ("7-smooth") is typically 2-10x faster than a nearby
//! length with a large prime factor. realfft computes a length-`2m` real transform with one
//! complex transform of length `m`, so real lengths are kept even.

/// The smallest 7-smooth length `>= n` (1 for `n <= 1`).
pub fn fast_len(n: usize) -> usize {
    if n <= 1 {
        return 1;
    }
    let mut best = n.checked_next_power_of_two().unwrap_or(usize::MAX);
    let mut p7 = 1usize;
    while p7 < best {
        let mut p75 = p7;
        while p75 < best {
            let mut p753 = p75;
            while p753 < best {
                // Smallest power of two that lifts p753 to at least n.
                let quotient = n.div_ceil(p753);
                let candidate = quotient.next_power_of_two().saturating_mul(p753);
                best = best.min(candidate);
                p753 = p753.saturating_mul(3);
            }
            p75 = p75.saturating_mul(5);
        }
        p7 = p7.saturating_mul(7);
    }
    best
}

/// The smallest even 7-smooth length `>= n`, for real-input transforms.
pub fn fast_real_len(n: usize) -> usize {
    2 * fast_len(n.div_ceil(2).max(1))
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

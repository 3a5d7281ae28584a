//! Transform lengths the FFT libraries handle fastest.
//!
//! rustfft has dedicated butterflies for 2, 3, 5, 7 and 11 and mixes them, so every length
//! whose prime factors are among these ("11-smooth") runs in `O(N log N)` without Bluestein's
//! detour. They do not all run equally fast: on lengths up to a few thousand a radix-5 or
//! radix-7 pass costs far more per point than a radix-2, 3 or 11 pass, so there the length
//! chosen for `n` points is the cheapest one by [`relative_cost`] among the smooth lengths up
//! to [`MAX_GROWTH`] times `n` (528 instead of 540: 20% faster per point); longer lengths,
//! where the plans differ and the model was not fitted, take the smallest 7-smooth length.
//! realfft computes a length-`2m` real transform with one complex transform of length `m`,
//! so real lengths are twice a chosen complex length. Overlap-save tiles, whose length is
//! free, take even `2^a 3^b` lengths ([`tile_lengths`]).

use std::sync::OnceLock;

/// The primes of a smooth length.
const PRIMES: [usize; 5] = [2, 3, 5, 7, 11];

/// Extra cost of one pass of each radix of [`PRIMES`] over a radix-2 pass, as the exponent
/// `beta` of `cost(N) = N log2 N exp(sum_p beta_p e_p / log2 N)` (`e_p`: the exponent of `p`
/// in `N`). Fitted by least squares on `log` of the time per `N log2 N` of rustfft's
/// complex `f32` transforms of every 11-smooth length from 100 to 5000 on the development
/// machine (AMD EPYC, AVX-512, one thread; batches of 300k points, best of 12): the fit
/// predicts half of the lengths within -12% .. +10%; choosing by it instead of taking the
/// smallest 7-smooth length made the median length 15% faster (measured times), the
/// slowest 5% of choices 2.5x faster (lengths such as 343 = 7^3 or 250 = 2 5^3), and lost
/// at most 5% on 95% of the lengths.
const RADIX_EXCESS: [f64; 5] = [0.0, 0.122, 1.484, 1.624, 0.313];

/// Largest ratio of a chosen length to the points it must hold.
const MAX_GROWTH: f64 = 1.15;

/// Below this many points every length is cheap: the smallest smooth one is taken.
const SMALL: usize = 32;

/// The longest length the cost model was fitted on: beyond it, the smallest 7-smooth one.
const MODEL_MAX: usize = 5000;

/// The longest length in the tables below.
const LIMIT: usize = 1 << 40;

/// Every 11-smooth number up to [`LIMIT`], sorted, built once.
fn smooth_numbers() -> &'static [usize] {
    static TABLE: OnceLock<Vec<usize>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v = vec![1usize];
        for p in PRIMES {
            let mut next = Vec::with_capacity(v.len() * 8);
            for &base in &v {
                let mut m = base;
                while m <= LIMIT {
                    next.push(m);
                    m *= p;
                }
            }
            v = next;
        }
        v.sort_unstable();
        v
    })
}

/// The model cost of a transform of `n` points (an 11-smooth length), in units of a radix-2
/// pass over one point: `n log2 n` times the radix excess of [`RADIX_EXCESS`].
pub fn relative_cost(n: usize) -> f64 {
    let nf = n.max(2) as f64;
    let log = nf.log2();
    let mut rest = n.max(1);
    let mut excess = 0.0;
    for (p, beta) in PRIMES.iter().zip(RADIX_EXCESS) {
        while rest.is_multiple_of(*p) {
            rest /= p;
            excess += beta;
        }
    }
    nf * log * (excess / log).exp()
}

/// The smallest 7-smooth length `>= n` (1 for `n <= 1`; the next power of two beyond 2^40).
pub fn smallest_smooth_len(n: usize) -> usize {
    let table = smooth_numbers();
    table[table.partition_point(|&m| m < n)..]
        .iter()
        .copied()
        .find(|m| !m.is_multiple_of(11))
        .unwrap_or_else(|| n.checked_next_power_of_two().unwrap_or(usize::MAX))
}

/// Even lengths `2^a 3^b` (`a >= 1`) from `lo` to `hi`, ascending: the overlap-save tile
/// lengths. A tile's length is free to choose, and rustfft runs these at an even cost per
/// point at every size, where lengths with 5s and 7s do not (real `float32` forward+inverse
/// on the development machine: 10368 = 2^7 3^4 points in 22 us, 10500 = 2^2 3 5^3 7 in
/// 35 us; 8192 .. 20736 all within 2.3-2.5 ns per output of a 1000-tap kernel).
pub fn tile_lengths(lo: usize, hi: usize) -> impl Iterator<Item = usize> {
    static TABLE: OnceLock<Vec<usize>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut v = vec![];
        let mut odd = 1usize;
        while 2 * odd <= LIMIT {
            let mut m = 2 * odd;
            while m <= LIMIT {
                v.push(m);
                m *= 2;
            }
            odd *= 3;
        }
        v.sort_unstable();
        v
    });
    table[table.partition_point(|&m| m < lo)..]
        .iter()
        .copied()
        .take_while(move |&m| m <= hi)
}

/// The transform length for `n` points: from [`SMALL`] to [`MODEL_MAX`] points, the cheapest
/// 11-smooth length `>= n` by [`relative_cost`] within [`MAX_GROWTH`] of `n`; otherwise
/// the smallest 7-smooth length (rustfft's plans for long lengths mix the radices
/// differently: 2^9 11^2 ran 30% slower per point than 2^4 3^4 7^2, against the model).
pub fn fast_len(n: usize) -> usize {
    let smallest = smallest_smooth_len(n);
    if !(SMALL..=MODEL_MAX).contains(&n) {
        return smallest;
    }
    let table = smooth_numbers();
    let limit = ((n as f64) * MAX_GROWTH) as usize;
    table[table.partition_point(|&m| m < n)..]
        .iter()
        .take_while(|&&m| m <= limit.max(smallest))
        .copied()
        .min_by(|&a, &b| relative_cost(a).total_cmp(&relative_cost(b)))
        .unwrap_or(smallest)
}

/// An even length `>= n` for real-input transforms, twice a [`fast_len`] (`usize::MAX` for
/// lengths beyond any address space, `n > 2^63`).
pub fn fast_real_len(n: usize) -> usize {
    fast_len(n.div_ceil(2).max(1)).saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smooth(mut n: usize) -> bool {
        for p in PRIMES {
            while n.is_multiple_of(p) {
                n /= p;
            }
        }
        n == 1
    }

    #[test]
    fn fast_lengths_are_smooth_cheap_and_close() {
        for n in 1..5000 {
            let f = fast_len(n);
            assert!(f >= n && smooth(f), "{n} -> {f}");
            let smallest = (n..).find(|&m| smooth(m)).unwrap();
            assert!(
                f == smallest || (f as f64) <= n as f64 * MAX_GROWTH,
                "{n} -> {f}"
            );
            if n >= SMALL {
                assert!(relative_cost(f) <= relative_cost(smallest), "{n} -> {f}");
            }
            let r = fast_real_len(n);
            assert!(r >= n && r.is_multiple_of(2) && smooth(r));
        }
    }

    #[test]
    fn tile_lengths_are_even_and_3_smooth() {
        let got: Vec<usize> = tile_lengths(60, 200).collect();
        assert_eq!(got, [64, 72, 96, 108, 128, 144, 162, 192]);
        assert_eq!(tile_lengths(10_001, 11_000).collect::<Vec<_>>(), [10_368]);
    }

    #[test]
    fn slow_radices_are_avoided() {
        // Measured: 528 = 2^4 3 11 ran 20% faster than 540 = 2^2 3^3 5, and 352 = 2^5 11
        // far faster than 343 = 7^3.
        assert_eq!(fast_len(526), 528);
        assert_ne!(fast_len(343), 343);
        assert_eq!(fast_len(1024), 1024);
    }
}

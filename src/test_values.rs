//! Deterministic pseudo-random test data shared by the unit tests (a 64-bit linear
//! congruential generator: fast, seedable, the same on every machine).

/// `len` values uniform in `[lo, hi)`, in `f64`, from `seed`.
pub(crate) fn uniform(len: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let step = |s: u64| {
        s.wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
    };
    let mut s = step(seed);
    (0..len)
        .map(|_| {
            s = step(s);
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

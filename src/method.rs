//! Which algorithm computes a convolution: the cost model behind `method="auto"`.
//!
//! Each method's time is estimated from the plan's shapes with per-dtype constants measured on
//! this project's development machine (AMD EPYC, AVX-512, 2 cores) by
//! `python -m fastconv fit-cost`, which times the direct kernel and whole-array FFTs on one
//! thread and prints the constants; rerun it on another machine and paste its numbers here. The model knows what SciPy's chooser does not: the thread count,
//! the element type and SIMD width of the direct kernel, and overlap-save tiling.

use crate::direct::Plan;
use crate::fft::layout::FftLayout;
use crate::fft::sizes::{relative_cost, tile_lengths};
use crate::fft::two_phase;
use crate::parallel::HELPERS_WORK_THRESHOLD;
use crate::simd::Isa;

/// The algorithms fastconv can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// The SIMD direct kernel (exact for integers, keeps NaN/Inf local).
    Direct,
    /// One FFT of the whole (padded) arrays.
    Fft,
    /// Overlap-save FFT tiles with these outputs per tile per axis.
    OverlapSave(Vec<usize>),
}

impl Method {
    /// The name Python sees: "direct", "fft" or "oa".
    pub fn name(&self) -> &'static str {
        match self {
            Method::Direct => "direct",
            Method::Fft => "fft",
            Method::OverlapSave(_) => "oa",
        }
    }
}

/// What kind of element a call computes in (selects the constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// float32
    F32,
    /// float64
    F64,
    /// complex64
    C64,
    /// complex128
    C128,
    /// int64 (direct only: FFT rounding could change an exact integer result)
    I64,
}

/// Nanoseconds per multiply-add of the direct kernel on one thread.
fn direct_ns_per_mac(kind: Kind, isa: Isa) -> f64 {
    // Measured 2026-11-23 on the development machine (AMD EPYC, 2 cores) with
    // `python -m fastconv fit-cost` (AVX-512 rows) and the same 'valid' n=1e5, k=64 case
    // forced onto each ISA with `_core.correlate(..., isa=...)` (the other rows).
    match (kind, isa) {
        (Kind::F32, Isa::Avx512) => 0.0158,
        (Kind::F64, Isa::Avx512) => 0.0307,
        (Kind::F32, Isa::Avx2Fma) => 0.0233,
        (Kind::F64, Isa::Avx2Fma) => 0.0444,
        (Kind::F32, Isa::Scalar) => 0.073,
        (Kind::F64, Isa::Scalar) => 0.142,
        (Kind::C64, _) => 0.279,
        (Kind::C128, _) => 0.562,
        (Kind::I64, _) => 0.288,
    }
}

/// Nanoseconds per `N log2 N` of a transform of `N` points on one thread (a real transform
/// counts as `N / 2` points).
fn fft_ns_per_nlogn(kind: Kind) -> f64 {
    // Measured with `python -m fastconv fit-cost`: whole-array 'full' FFT convolutions,
    // n = 2^12 .. 2^18 with k = n/2, three transforms each, median over sizes.
    match kind {
        Kind::F32 => 0.145,
        Kind::F64 => 0.223,
        Kind::C64 => 0.110,
        Kind::C128 => 0.216,
        Kind::I64 => f64::INFINITY,
    }
}

/// Fixed cost of an FFT call (plan lookup, buffers, kernel spectrum bookkeeping), in ns:
/// `fit-cost` measures ~1.6 us for n=32, k=8 on one thread.
const FFT_FIXED_NS: f64 = 1_600.0;
/// Fixed cost of a direct call beyond the binding, in ns.
const DIRECT_FIXED_NS: f64 = 500.0;
/// Bookkeeping per FFT tile (index arithmetic, small buffers), in ns, and per transformed point
/// (zero-fill and gather of the input, spectrum product, scatter of the outputs): fitted to
/// overlap-save timings on one thread (n = 1e5 and 1e6, k = 101 and 1000, float32 and float64),
/// whose excess over the transform model was ~0.9 us per tile plus ~0.5 ns per point.
const FFT_TILE_NS: f64 = 900.0;
const FFT_POINT_NS: f64 = 0.5;

/// Transforms of the kernel per call (one spectrum, shared by every batch and tile).
const KERNEL_TRANSFORMS: f64 = 1.0;

/// Cost of an output in the edge columns of an N-D direct call (window cut by the last axis'
/// ends, computed by the scalar edge code) relative to an interior one. Fitted 2026-11-29 on
/// the development machine, one thread, 'same' with 15x15 kernels: 512x512 ran 2.9x and
/// 2048x2048 2.2x above the interior model, the FFT methods ~2x above theirs at both sizes;
/// edge columns are 2.7% and 0.7% of the outputs there, which this factor reconciles.
const DIRECT_EDGE_COLUMN_FACTOR: f64 = 20.0;

/// Cost of a multiply-add of the N-D direct kernel (a kernel of several rows) relative to the
/// 1-D row kernel's, in the interior. Fitted 2026-11-30 on the development machine ('same',
/// 512x512 and 2048x2048 images, square kernels of 7 to 21 taps a side, float32 and float64,
/// one and two threads) after the FFT tiles got ~25% faster: the direct method then ran
/// 1.16-1.4x further above its model than overlap-save did above its own on 2048x2048
/// (with 15x15 float32 the model picked direct at 17.4 ms over overlap-save at 14.9).
/// `python -m fastconv fit-cost` prints the factor to multiply it by on another machine.
const DIRECT_KERNEL_ROWS_FACTOR: f64 = 1.3;

/// Fraction of ideal speed-up the direct kernel reaches on `t` threads above the threshold.
const DIRECT_PARALLEL_EFFICIENCY: f64 = 0.9;
/// Speed-up of one whole-array FFT on several threads: only the two forward transforms and
/// the lines of an N-D transform run concurrently.
const WHOLE_FFT_PARALLEL_GAIN: f64 = 1.4;
/// Speed-up on two or more threads of one long 1-D transform taken in two phases
/// ([`crate::fft::two_phase`]: every transform shared). Measured 1.57-1.7x on two cores
/// (n = 1e5 and 1e6, k from 1e3 to n/2, float32 and float64, one call against the other).
const TWO_PHASE_PARALLEL_GAIN: f64 = 1.6;

/// The estimated time of each method, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Costs {
    /// The direct kernel.
    pub direct: f64,
    /// One whole-array FFT.
    pub fft: f64,
    /// Overlap-save, with its tile lengths.
    pub oa: f64,
    /// Outputs per overlap-save tile per axis.
    pub oa_block: Vec<usize>,
}

fn nlogn(n: f64) -> f64 {
    n * n.max(2.0).log2()
}

/// `N log2 N` of an N-D transform of lengths `f` (`N` their product), each axis' share
/// weighted by its length's [`relative_cost`] per `n log2 n` (radix-5 and radix-7 passes cost
/// more than radix-2 ones); for real input the last axis' weight is that of its complex
/// transform of half the length.
fn transform_nlogn(f: &[usize], real: bool) -> f64 {
    let points: f64 = f.iter().map(|&v| v as f64).product();
    let weighted: f64 = f
        .iter()
        .enumerate()
        .map(|(a, &len)| {
            let complex = if real && a + 1 == f.len() {
                len / 2
            } else {
                len
            };
            let m = complex.max(2);
            let weight = relative_cost(m) / nlogn(m as f64);
            (len.max(2) as f64).log2() * weight
        })
        .sum();
    points * weighted
}

/// Slow-down of transforms whose buffers (signal tile and spectrum) outgrow the caches:
/// 1 up to 8 MiB, then +1 per doubling. Fitted to `fit-cost`-style timings of whole-array
/// transforms of 2^16 .. 2^21 points in 1-D and 256^2 .. 1536^2 in 2-D (float32 and float64),
/// whose cost per `N log2 N` grew from ~0.15-0.22 ns to ~0.4-0.7 ns.
fn memory_factor(points: f64, kind: Kind) -> f64 {
    let sample = match kind {
        Kind::F32 => 4.0,
        Kind::F64 | Kind::C64 => 8.0,
        Kind::C128 => 16.0,
        Kind::I64 => 8.0,
    };
    let bytes = 2.0 * points * sample;
    1.0 + (bytes / (8.0 * 1024.0 * 1024.0)).log2().max(0.0)
}

/// The direct kernel's slow-down on an N-D call: [`DIRECT_KERNEL_ROWS_FACTOR`] and the edge
/// columns (1 for a kernel of one row: a 1-D row kernel clips its taps at the ends at full
/// speed).
fn kernel_rows_factor(plan: &Plan) -> f64 {
    let Some((last, lead)) = plan.axes.split_last() else {
        return 1.0;
    };
    if lead.iter().all(|g| g.k <= 1) || last.m == 0 {
        return 1.0;
    }
    let (lo, hi) = last.interior();
    let edge = 1.0 - hi.saturating_sub(lo) as f64 / last.m as f64;
    DIRECT_KERNEL_ROWS_FACTOR * (1.0 + DIRECT_EDGE_COLUMN_FACTOR * edge)
}

/// Estimated time of the direct kernel, in ns.
fn direct_estimate(plan: &Plan, kind: Kind, isa: Isa, threads: usize) -> f64 {
    let t = threads.max(1) as f64;
    let one = plan.work() as f64 * direct_ns_per_mac(kind, isa) * kernel_rows_factor(plan);
    let bytes = match kind {
        Kind::F32 => 4,
        Kind::F64 | Kind::C64 | Kind::I64 => 8,
        Kind::C128 => 16,
    };
    let par = if t > 1.0 && plan.work().saturating_mul(bytes) >= HELPERS_WORK_THRESHOLD {
        one / (1.0 + (t - 1.0) * DIRECT_PARALLEL_EFFICIENCY)
    } else {
        one
    };
    DIRECT_FIXED_NS + par
}

/// A lower bound on any FFT method: the fixed cost, plus a forward and an inverse transform
/// per output of depth at least `log2(2 * taps)` (overlap-save tiles are at least twice the
/// kernel), spread perfectly over the threads.
fn fft_lower_bound(plan: &Plan, kind: Kind, threads: usize) -> f64 {
    let outputs = plan.out_len() as f64;
    let taps: f64 = plan.axes.iter().map(|g| g.k as f64).product();
    let half = if matches!(kind, Kind::F32 | Kind::F64) {
        0.5
    } else {
        1.0
    };
    let per_output = 2.0 * half * fft_ns_per_nlogn(kind) * (2.0 * taps).log2().max(1.0);
    FFT_FIXED_NS + outputs * per_output / threads.max(1) as f64
}

/// Estimates every method for `plan`.
pub fn estimate(plan: &Plan, kind: Kind, isa: Isa, threads: usize) -> Costs {
    let t = threads.max(1) as f64;
    let batches: f64 = plan.batch.iter().map(|&b| b as f64).product();
    let real = matches!(kind, Kind::F32 | Kind::F64);
    let direct = direct_estimate(plan, kind, isa, threads);
    let c = fft_ns_per_nlogn(kind);
    let half = if real { 0.5 } else { 1.0 };
    let whole = FftLayout::whole(&plan.axes, real);
    let n_whole: f64 = whole.f.iter().map(|&f| f as f64).product();
    // Kernel spectrum once per kernel block, one forward and one inverse per batch.
    let fft_one = c
        * half
        * transform_nlogn(&whole.f, real)
        * memory_factor(n_whole, kind)
        * (KERNEL_TRANSFORMS + 2.0 * batches)
        + batches * (FFT_TILE_NS + FFT_POINT_NS * n_whole);
    let fft_gain = if batches >= 2.0 * t {
        t * 0.9
    } else if batches == 1.0 && two_phase::applies(&whole.f) {
        TWO_PHASE_PARALLEL_GAIN.min(t)
    } else {
        WHOLE_FFT_PARALLEL_GAIN.min(t)
    };
    let fft = FFT_FIXED_NS + fft_one / fft_gain;
    let oa_block = overlap_save_block(plan);
    let oa = match FftLayout::overlap_save(&plan.axes, &oa_block, real) {
        Ok(layout) => {
            let tiles: f64 = layout
                .tiles_per_axis(&plan.axes)
                .iter()
                .map(|&v| v as f64)
                .product();
            let n_tile: f64 = layout.f.iter().map(|&f| f as f64).product();
            let one = c
                * half
                * transform_nlogn(&layout.f, real)
                * memory_factor(n_tile, kind)
                * (KERNEL_TRANSFORMS + 2.0 * tiles * batches)
                + tiles * batches * (FFT_TILE_NS + FFT_POINT_NS * n_tile);
            let gain = if tiles * batches >= 2.0 * t {
                t * 0.9
            } else {
                WHOLE_FFT_PARALLEL_GAIN.min(t)
            };
            FFT_FIXED_NS + one / gain
        }
        Err(_) => f64::INFINITY,
    };
    Costs {
        direct,
        fft,
        oa,
        oa_block,
    }
}

/// Outputs per overlap-save tile per axis: the tile length `F` ([`tile_lengths`], even
/// `2^a 3^b`) that minimises the transform work per useful output, `F log F / (F - k + 1)`,
/// capped by the output length.
pub fn overlap_save_block(plan: &Plan) -> Vec<usize> {
    plan.axes
        .iter()
        .map(|g| {
            let mut best = (f64::INFINITY, g.m);
            let longest = g.m.saturating_add(g.k).saturating_mul(4).min(1 << 24);
            for f in tile_lengths(2 * g.k, longest) {
                let useful = (f - g.k + 1).min(g.m) as f64;
                let per_output = nlogn(f as f64) / useful;
                if per_output < best.0 {
                    best = (per_output, f - g.k + 1);
                }
            }
            best.1.clamp(1, g.m.max(1))
        })
        .collect()
}

/// The method `auto` picks for `plan`: the cheapest estimate (ties favour direct, which is
/// exact for integers and keeps non-finite values local). Integers always go direct.
pub fn choose(plan: &Plan, kind: Kind, isa: Isa, threads: usize) -> Method {
    if kind == Kind::I64 {
        return Method::Direct;
    }
    // Cheap exit first (estimating the FFT layouts costs a microsecond or two): no FFT
    // method beats a direct call shorter than the FFT methods' lower bound.
    if direct_estimate(plan, kind, isa, threads) <= fft_lower_bound(plan, kind, threads) {
        return Method::Direct;
    }
    let c = estimate(plan, kind, isa, threads);
    if c.direct <= c.fft && c.direct <= c.oa {
        Method::Direct
    } else if c.fft <= c.oa {
        Method::Fft
    } else {
        Method::OverlapSave(c.oa_block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Mode;

    #[test]
    fn small_kernels_go_direct_and_large_ones_go_fft() {
        let small = Plan::new(&[100_000], &[11], 0, Mode::Full).unwrap();
        assert_eq!(choose(&small, Kind::F64, Isa::Avx512, 2), Method::Direct);
        let large = Plan::new(&[100_000], &[50_000], 0, Mode::Full).unwrap();
        assert_ne!(choose(&large, Kind::F64, Isa::Avx512, 2), Method::Direct);
        let long = Plan::new(&[1_000_000], &[1_000], 0, Mode::Full).unwrap();
        assert!(matches!(
            choose(&long, Kind::F32, Isa::Avx512, 2),
            Method::OverlapSave(_)
        ));
        assert_eq!(choose(&large, Kind::I64, Isa::Avx512, 2), Method::Direct);
    }

    #[test]
    fn overlap_save_blocks_are_a_few_kernel_lengths() {
        let p = Plan::new(&[1_000_000], &[100], 0, Mode::Full).unwrap();
        let b = overlap_save_block(&p)[0];
        assert!((100..=100_000).contains(&b), "{b}");
    }
}

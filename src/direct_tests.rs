//! Tests of the direct driver: every kernel against a naive N-D definition, thread counts,
//! orientations, batch broadcasting and bad arguments.

use std::mem::MaybeUninit;

use num_complex::Complex;

use crate::direct::{correlate, ArrayRef, Orientation};
use crate::element::Element;
use crate::error::ConvError;
use crate::geometry::{unravel, AxisGeometry, Mode};
use crate::simd::{scalar, supported_isas, HasRowKernel, Isa};

/// A small deterministic generator (xorshift) so tests need no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn small_int(&mut self) -> i64 {
        (self.next() % 9) as i64 - 4
    }
    fn vec_f64(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.small_int() as f64).collect()
    }
}

/// The definition: `out[i] = sum_j x[start + i + j] * w[j]` over in-range terms, no batch axes.
fn naive<T: Element>(x: &[T], xs: &[usize], w: &[T], ws: &[usize], mode: Mode) -> Vec<T> {
    let geo: Vec<AxisGeometry> = xs
        .iter()
        .zip(ws)
        .map(|(&n, &k)| AxisGeometry::new(n, k, mode).unwrap())
        .collect();
    let out_len: usize = geo.iter().map(|g| g.m).product();
    let w_len: usize = ws.iter().product();
    (0..out_len)
        .map(|flat_out| {
            let oi = unravel(flat_out, &geo.iter().map(|g| g.m).collect::<Vec<_>>());
            let mut acc = T::ZERO;
            for (flat_w, &wv) in w.iter().enumerate().take(w_len) {
                let wj = unravel(flat_w, ws);
                let xi: Option<Vec<usize>> = geo
                    .iter()
                    .zip(oi.iter().zip(&wj))
                    .map(|(g, (&i, &j))| {
                        let t = g.start + (i + j) as isize;
                        (t >= 0 && (t as usize) < g.n).then_some(t as usize)
                    })
                    .collect();
                if let Some(xi) = xi {
                    acc = acc.mul_acc(x[ravel(&xi, xs)], wv);
                }
            }
            acc
        })
        .collect()
}

fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Reads a buffer every element of which a kernel wrote.
fn init(v: Vec<MaybeUninit<f64>>) -> Vec<f64> {
    // SAFETY: callers pass buffers whose every element was written by a row kernel.
    v.into_iter().map(|e| unsafe { e.assume_init() }).collect()
}

const PLAIN: Orientation = Orientation {
    flip: false,
    conj: false,
};

fn run<T: HasRowKernel>(
    x: &[T],
    xs: &[usize],
    w: &[T],
    ws: &[usize],
    mode: Mode,
    threads: usize,
) -> Vec<T> {
    run_on(crate::simd::active_isa(), x, xs, w, ws, mode, threads)
}

fn run_on<T: HasRowKernel>(
    isa: Isa,
    x: &[T],
    xs: &[usize],
    w: &[T],
    ws: &[usize],
    mode: Mode,
    threads: usize,
) -> Vec<T> {
    let (out, _) = crate::direct::correlate_on(
        isa,
        ArrayRef { data: x, shape: xs },
        ArrayRef { data: w, shape: ws },
        0,
        mode,
        PLAIN,
        threads,
    )
    .unwrap();
    out
}

#[test]
fn seed_example_in_every_mode() {
    let x = [1.0f64, 2.0, 3.0, 4.0];
    let w = [5.0f64, 6.0, 7.0];
    let conv = Orientation {
        flip: true,
        conj: false,
    };
    let full = correlate(
        ArrayRef {
            data: &x,
            shape: &[4],
        },
        ArrayRef {
            data: &w,
            shape: &[3],
        },
        0,
        Mode::Full,
        conv,
        1,
    );
    assert_eq!(full.unwrap().0, vec![5.0, 16.0, 34.0, 52.0, 45.0, 28.0]);
    assert_eq!(run(&x, &[4], &w, &[3], Mode::Valid, 1), vec![38.0, 56.0]);
}

#[test]
fn every_shape_matches_the_definition_f64_and_f32() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let shapes: &[(&[usize], &[usize])] = &[
        (&[1], &[1]),
        (&[10], &[3]),
        (&[3], &[10]),
        (&[200], &[17]),
        (&[5000], &[31]),
        (&[300], &[40]),
        (&[40], &[300]),
        (&[7, 9], &[3, 4]),
        (&[2, 70], &[5, 2]),
        (&[4, 5, 6], &[2, 3, 2]),
    ];
    for &(xs, ws) in shapes {
        let x = rng.vec_f64(xs.iter().product());
        let w = rng.vec_f64(ws.iter().product());
        for mode in [Mode::Full, Mode::Same, Mode::Valid] {
            let want = naive(&x, xs, &w, ws, mode);
            for isa in supported_isas() {
                for threads in [1, 3] {
                    // Small integers: every path is exact, so equality is the right test.
                    let got = run_on(isa, &x, xs, &w, ws, mode, threads);
                    assert_eq!(got, want, "{isa:?} {xs:?} {ws:?} {mode:?}");
                    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    let wf: Vec<f32> = w.iter().map(|&v| v as f32).collect();
                    let got32 = run_on(isa, &xf, xs, &wf, ws, mode, threads);
                    let got: Vec<f64> = got32.iter().map(|&v| v as f64).collect();
                    assert_eq!(got, want, "{isa:?} f32");
                }
            }
        }
    }
}

#[test]
fn integers_wrap_and_complex_conjugates() {
    let x = [i64::MAX, 2, 3];
    let w = [2i64, 1];
    let got = run(&x, &[3], &w, &[2], Mode::Valid, 1);
    assert_eq!(got, vec![i64::MAX.wrapping_mul(2).wrapping_add(2), 7]);

    let xc = [Complex::new(1.0f64, 2.0), Complex::new(0.0, 1.0)];
    let wc = [Complex::new(0.0f64, 1.0)];
    let conj = Orientation {
        flip: false,
        conj: true,
    };
    let (out, _) = correlate(
        ArrayRef {
            data: &xc,
            shape: &[2],
        },
        ArrayRef {
            data: &wc,
            shape: &[1],
        },
        0,
        Mode::Full,
        conj,
        1,
    )
    .unwrap();
    assert_eq!(out, vec![Complex::new(2.0, -1.0), Complex::new(1.0, 0.0)]);
}

#[test]
fn simd_kernel_is_bitwise_the_scalar_fma_order_for_any_tiling() {
    // Non-integer data: the SIMD path must not depend on where a tile starts.
    let mut rng = Rng(12345);
    let n = 3000;
    let x: Vec<f64> = (0..n)
        .map(|_| (rng.next() % 10_000) as f64 / 977.0)
        .collect();
    let w: Vec<f64> = (0..37)
        .map(|_| (rng.next() % 10_000) as f64 / 313.0)
        .collect();
    let g = AxisGeometry::new(n, 37, Mode::Full).unwrap();
    for isa in supported_isas() {
        tiling_invariant(isa, &x, &w, &g);
    }
}

fn tiling_invariant(isa: Isa, x: &[f64], w: &[f64], g: &AxisGeometry) {
    let kernel = f64::row_kernel(isa);
    let g = *g;
    let mut whole = vec![MaybeUninit::<f64>::uninit(); g.m];
    kernel(&[(x, w)], &g, 0, &mut whole);
    let whole = init(whole);
    for cut in [1usize, 5, 33, 64, 1000] {
        let mut pieces = vec![MaybeUninit::<f64>::uninit(); g.m];
        let mut i0 = 0;
        for seg in pieces.chunks_mut(cut) {
            let len = seg.len();
            kernel(&[(x, w)], &g, i0, seg);
            i0 += len;
        }
        assert_eq!(init(pieces), whole, "{isa:?} cut={cut}");
    }
    let mut oracle = vec![MaybeUninit::<f64>::uninit(); g.m];
    scalar::row(&[(x, w)], &g, 0, &mut oracle);
    let oracle = init(oracle);
    for (a, b) in oracle.iter().zip(&whole) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0));
    }
    assert_eq!(Isa::Scalar.name(), "scalar");
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = Rng(777);
    let x: Vec<f32> = (0..50_000)
        .map(|_| (rng.next() % 1000) as f32 / 37.0)
        .collect();
    let w: Vec<f32> = (0..101)
        .map(|_| (rng.next() % 1000) as f32 / 91.0)
        .collect();
    let one = run(&x, &[50_000], &w, &[101], Mode::Same, 1);
    for threads in [2, 3, 8] {
        assert_eq!(run(&x, &[50_000], &w, &[101], Mode::Same, threads), one);
    }
    // 2-D: short rows grouped into tiles; long rows (5000) split into parts.
    for (xs, ws) in [
        ([300usize, 700usize], [5usize, 5usize]),
        ([12, 20_000], [3, 9]),
    ] {
        let x2: Vec<f64> = (0..xs[0] * xs[1])
            .map(|_| (rng.next() % 1000) as f64 / 7.0)
            .collect();
        let w2: Vec<f64> = (0..ws[0] * ws[1])
            .map(|_| (rng.next() % 1000) as f64 / 13.0)
            .collect();
        for mode in [Mode::Full, Mode::Same, Mode::Valid] {
            let serial = run(&x2, &xs, &w2, &ws, mode, 1);
            assert_eq!(run(&x2, &xs, &w2, &ws, mode, 2), serial);
            assert_eq!(run(&x2, &xs, &w2, &ws, mode, 5), serial);
        }
    }
}

#[test]
fn the_small_path_split_in_two_parts_is_bitwise_the_driver() {
    use crate::direct::{correlate_1d_small, SMALL_SPLIT, SPLIT_WORK};
    use crate::handoff::Shared;
    let mut rng = Rng(4242);
    let conv = Orientation {
        flip: true,
        conj: false,
    };
    // Lengths just below and above the split, odd ones, and kernels longer than the input.
    for (n, k) in [
        (5_000, 3),
        (5_462, 3),
        (10_001, 3),
        (9_999, 7),
        (2_000, 11),
        (7, 40),
    ] {
        let x: Vec<f64> = (0..n).map(|_| (rng.next() % 1000) as f64 / 7.0).collect();
        let w: Vec<f64> = (0..k).map(|_| (rng.next() % 1000) as f64 / 13.0).collect();
        for (isa, mode) in supported_isas()
            .into_iter()
            .flat_map(|isa| [Mode::Full, Mode::Same, Mode::Valid].map(|mode| (isa, mode)))
        {
            let (whole, shape) = crate::direct::correlate_on(
                isa,
                ArrayRef {
                    data: &x,
                    shape: &[n],
                },
                ArrayRef {
                    data: &w,
                    shape: &[k],
                },
                0,
                mode,
                conv,
                1,
            )
            .unwrap();
            // Cut anywhere the balance may put it: the helper's share at its least, about a
            // quarter, about half, and at its most.
            for (outcome, steps) in [
                (Shared::TakenBack, 20),
                (Shared::HelperFirst, 30),
                (Shared::HelperFirst, 30),
                (Shared::HelperFirst, 60),
            ] {
                for _ in 0..steps {
                    SMALL_SPLIT.learn(outcome);
                }
                // 2 twice: the first call may find no helper spinning, the second one one.
                for threads in [1, 2, 2, 3] {
                    let mut out = vec![MaybeUninit::<f64>::uninit(); shape[0]];
                    correlate_1d_small(isa, &x, &w, mode, conv, threads, &mut out).unwrap();
                    let out = init(out);
                    assert_eq!(out, whole, "n={n} k={k} {isa:?} {mode:?} threads={threads}");
                }
            }
        }
        let split = n * k.min(n) * 8 >= SPLIT_WORK;
        assert_eq!(
            split,
            n >= 5_462 || (n, k) == (2_000, 11),
            "the cases straddle the split"
        );
    }
}

#[test]
fn batch_axes_broadcast() {
    // x: batch (2, 1), w: batch (1, 3); conv axis lengths 4 and 2.
    let x: Vec<f64> = (0..8).map(f64::from).collect();
    let w: Vec<f64> = (0..6).map(|v| f64::from(v) + 1.0).collect();
    let (out, shape) = correlate(
        ArrayRef {
            data: &x,
            shape: &[2, 1, 4],
        },
        ArrayRef {
            data: &w,
            shape: &[1, 3, 2],
        },
        2,
        Mode::Valid,
        PLAIN,
        2,
    )
    .unwrap();
    assert_eq!(shape, vec![2, 3, 3]);
    for b0 in 0..2 {
        for b1 in 0..3 {
            let want = naive(
                &x[b0 * 4..b0 * 4 + 4],
                &[4],
                &w[b1 * 2..b1 * 2 + 2],
                &[2],
                Mode::Valid,
            );
            assert_eq!(&out[(b0 * 3 + b1) * 3..(b0 * 3 + b1) * 3 + 3], &want[..]);
        }
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let x = [1.0f64; 4];
    let bad = correlate(
        ArrayRef {
            data: &x,
            shape: &[5],
        },
        ArrayRef {
            data: &x,
            shape: &[4],
        },
        0,
        Mode::Full,
        PLAIN,
        1,
    );
    assert!(matches!(bad, Err(ConvError::Value(_))));
    let rank = correlate(
        ArrayRef {
            data: &x,
            shape: &[2, 2],
        },
        ArrayRef {
            data: &x,
            shape: &[4],
        },
        0,
        Mode::Full,
        PLAIN,
        1,
    );
    assert!(matches!(rank, Err(ConvError::Value(_))));
    let empty: [f64; 0] = [];
    let e = correlate(
        ArrayRef {
            data: &empty,
            shape: &[0],
        },
        ArrayRef {
            data: &x,
            shape: &[4],
        },
        0,
        Mode::Full,
        PLAIN,
        1,
    );
    assert!(e.is_err());
}

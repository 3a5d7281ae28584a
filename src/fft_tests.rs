//! The FFT engine against the direct kernel: every mode, both layouts, real and complex,
//! broadcast batches, several thread counts; errors within the FFT bound.

use std::mem::MaybeUninit;

use num_complex::Complex;

use crate::direct::{correlate, ArrayRef, Orientation, Plan};
use crate::fft::layout::FftLayout;
use crate::fft::{correlate_complex_into, correlate_real_into};
use crate::geometry::{checked_size, Mode};

fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2001) as f64 / 1000.0 - 1.0
        })
        .collect()
}

fn finish<S: Copy>(v: Vec<MaybeUninit<S>>) -> Vec<S> {
    // SAFETY: the engine returned Ok, so it wrote every element.
    v.into_iter().map(|e| unsafe { e.assume_init() }).collect()
}

type Case = (&'static [usize], &'static [usize], usize);

const CASES: &[Case] = &[
    (&[50], &[7], 0),
    (&[7], &[50], 0),
    (&[1], &[1], 0),
    (&[300], &[31], 0),
    (&[12, 17], &[3, 4], 0),
    (&[5, 40], &[5, 9], 0),
    (&[4, 6, 7], &[2, 3, 3], 0),
    (&[3, 64], &[1, 5], 1),
    (&[2, 1, 33], &[1, 3, 4], 2),
];

fn layouts(plan: &Plan, real: bool) -> Vec<FftLayout> {
    let block: Vec<usize> = plan.axes.iter().map(|g| (g.k * 2).max(3)).collect();
    vec![
        FftLayout::whole(&plan.axes, real),
        FftLayout::overlap_save(&plan.axes, &block, real).unwrap(),
    ]
}

#[test]
fn real_fft_matches_direct_for_every_mode_layout_and_thread_count() {
    for &(xs, ws, nb) in CASES {
        let x = values(checked_size(xs).unwrap(), 1);
        let w = values(checked_size(ws).unwrap(), 2);
        for mode in [Mode::Full, Mode::Same, Mode::Valid, Mode::SameLowCentre] {
            for flip in [false, true] {
                let orient = Orientation { flip, conj: false };
                let xr = ArrayRef {
                    data: &x,
                    shape: xs,
                };
                let wr = ArrayRef {
                    data: &w,
                    shape: ws,
                };
                let (want, shape) = correlate(xr, wr, nb, mode, orient, 1).unwrap();
                let plan = Plan::new(xs, ws, nb, mode).unwrap();
                assert_eq!(plan.out_shape(), shape);
                let k: usize = ws[nb..].iter().product();
                for layout in layouts(&plan, true) {
                    for threads in [1, 3] {
                        let mut out = vec![MaybeUninit::uninit(); want.len()];
                        correlate_real_into(&plan, &layout, xr, wr, orient, threads, &mut out)
                            .unwrap();
                        let got = finish(out);
                        for (g, e) in got.iter().zip(&want) {
                            // Inputs are at most 1 in size: |error| <= c * eps * k * log2(F).
                            assert!(
                                (g - e).abs() < 1e-13 * k as f64 * 64.0,
                                "{xs:?} {ws:?} {mode:?} {layout:?}: {g} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn complex_fft_matches_direct() {
    for &(xs, ws, nb) in CASES {
        let re = values(checked_size(xs).unwrap(), 3);
        let im = values(checked_size(xs).unwrap(), 4);
        let x: Vec<Complex<f64>> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex::new(a, b))
            .collect();
        let wre = values(checked_size(ws).unwrap(), 5);
        let w: Vec<Complex<f64>> = wre.iter().map(|&a| Complex::new(a, -a / 2.0)).collect();
        for mode in [Mode::Full, Mode::Same, Mode::Valid] {
            let orient = Orientation {
                flip: false,
                conj: true,
            };
            let xr = ArrayRef {
                data: &x,
                shape: xs,
            };
            let wr = ArrayRef {
                data: &w,
                shape: ws,
            };
            let (want, _) = correlate(xr, wr, nb, mode, orient, 1).unwrap();
            let plan = Plan::new(xs, ws, nb, mode).unwrap();
            for layout in layouts(&plan, false) {
                let mut out = vec![MaybeUninit::uninit(); want.len()];
                correlate_complex_into(&plan, &layout, xr, wr, orient, 2, &mut out).unwrap();
                for (g, e) in finish(out).iter().zip(&want) {
                    assert!((g - e).norm() < 1e-11, "{xs:?} {ws:?} {mode:?}");
                }
            }
        }
    }
}

#[test]
fn fft_results_do_not_depend_on_thread_count() {
    let x = values(40_000, 9);
    let w = values(501, 10);
    let plan = Plan::new(&[40_000], &[501], 0, Mode::Full).unwrap();
    let orient = Orientation {
        flip: true,
        conj: false,
    };
    for layout in layouts(&plan, true) {
        let mut outs = Vec::new();
        for threads in [1, 2, 4] {
            let mut out = vec![MaybeUninit::uninit(); plan.out_shape()[0]];
            let (xr, wr) = (
                ArrayRef {
                    data: &x[..],
                    shape: &[40_000],
                },
                ArrayRef {
                    data: &w[..],
                    shape: &[501],
                },
            );
            correlate_real_into(&plan, &layout, xr, wr, orient, threads, &mut out).unwrap();
            outs.push(finish(out));
        }
        assert!(outs.windows(2).all(|p| p[0] == p[1]));
    }
}

#[test]
fn mismatched_layouts_are_errors() {
    let x = values(10, 1);
    let plan = Plan::new(&[10], &[3], 0, Mode::Full).unwrap();
    let bad = FftLayout {
        f: vec![2],
        tile: vec![1],
        extract: vec![0],
        base: vec![0],
    };
    let mut out = vec![MaybeUninit::uninit(); 12];
    let orient = Orientation {
        flip: true,
        conj: false,
    };
    let (xr, wr) = (
        ArrayRef {
            data: &x[..],
            shape: &[10],
        },
        ArrayRef {
            data: &x[..3],
            shape: &[3],
        },
    );
    assert!(correlate_real_into(&plan, &bad, xr, wr, orient, 1, &mut out).is_err());
    assert!(FftLayout::overlap_save(&plan.axes, &[0], true).is_err());
}

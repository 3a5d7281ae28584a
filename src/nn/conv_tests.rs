//! Tests of the convolution entry points against naive loops written from the definitions,
//! for 1-D, 2-D and 3-D windows, both dtypes, and thread-count determinism.

use super::conv::{conv_forward, conv_grad_input, conv_grad_weight};
use super::gemm::ConvFloat;
use super::geometry::{ConvShape, Window, AXES};
use super::unfold::{fold, unfold};

/// One test case: shapes and window arguments (spatial lists of equal length).
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    groups: usize,
    input: Vec<usize>,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    padding: Vec<(usize, usize)>,
    dilation: Vec<usize>,
}

impl Case {
    fn shape(&self) -> ConvShape {
        let w = Window::new(
            &self.input,
            &self.kernel,
            &self.stride,
            &self.padding,
            &self.dilation,
        )
        .unwrap();
        ConvShape::new(self.batch, self.c_in, self.c_out, self.groups, w).unwrap()
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn values<T: ConvFloat>(len: usize, seed: u64) -> Vec<T> {
    let v = crate::test_values::uniform(len, seed, -1.0, 1.0);
    v.into_iter().map(|x| T::from(x).unwrap()).collect()
}

/// Calls `f(n, g, co_in_group, ci_in_group, k, o, input index)` for every multiply-add of
/// the convolution whose input index falls inside the input (naive loops).
fn for_each_tap(s: &ConvShape, mut f: impl FnMut(usize, usize, usize, usize, usize, usize, usize)) {
    let w = &s.window;
    for n in 0..s.batch {
        for g in 0..s.groups {
            for co in 0..s.out_per_group() {
                for ci in 0..s.in_per_group() {
                    for k in 0..w.kernel_len {
                        let kk = w.kernel_index(k);
                        for o in 0..w.output_len {
                            let oo = [
                                o / (w.output[1] * w.output[2]),
                                (o / w.output[2]) % w.output[1],
                                o % w.output[2],
                            ];
                            let mut idx = 0usize;
                            let mut inside = true;
                            for a in 0..AXES {
                                let i = (oo[a] * w.stride[a] + kk[a] * w.dilation[a]) as isize
                                    - w.pad_before[a] as isize;
                                inside &= i >= 0 && (i as usize) < w.input[a];
                                idx = idx * w.input[a] + i.max(0) as usize;
                            }
                            if inside {
                                f(n, g, co, ci, k, o, idx);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn naive_forward(s: &ConvShape, x: &[f64], wt: &[f64], b: &[f64]) -> Vec<f64> {
    let w = &s.window;
    let (cig, cog) = (s.in_per_group(), s.out_per_group());
    let mut out = vec![0.0; s.output_len];
    for (i, v) in out.iter_mut().enumerate() {
        *v = b[(i / w.output_len) % s.out_channels];
    }
    for_each_tap(s, |n, g, co, ci, k, o, i| {
        let c_out = g * cog + co;
        out[(n * s.out_channels + c_out) * w.output_len + o] += wt
            [(c_out * cig + ci) * w.kernel_len + k]
            * x[(n * s.in_channels + g * cig + ci) * w.input_len + i];
    });
    out
}

fn naive_grad_input(s: &ConvShape, go: &[f64], wt: &[f64]) -> Vec<f64> {
    let w = &s.window;
    let (cig, cog) = (s.in_per_group(), s.out_per_group());
    let mut gi = vec![0.0; s.input_len];
    for_each_tap(s, |n, g, co, ci, k, o, i| {
        let c_out = g * cog + co;
        gi[(n * s.in_channels + g * cig + ci) * w.input_len + i] += wt
            [(c_out * cig + ci) * w.kernel_len + k]
            * go[(n * s.out_channels + c_out) * w.output_len + o];
    });
    gi
}

fn naive_grad_weight(s: &ConvShape, go: &[f64], x: &[f64]) -> Vec<f64> {
    let w = &s.window;
    let (cig, cog) = (s.in_per_group(), s.out_per_group());
    let mut gw = vec![0.0; s.weight_len];
    for_each_tap(s, |n, g, co, ci, k, o, i| {
        let c_out = g * cog + co;
        gw[(c_out * cig + ci) * w.kernel_len + k] += go
            [(n * s.out_channels + c_out) * w.output_len + o]
            * x[(n * s.in_channels + g * cig + ci) * w.input_len + i];
    });
    gw
}

fn assert_close<T: ConvFloat>(what: &str, got: &[T], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let g = g.to_f64().unwrap();
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// Runs the three entry points on `case` in `T` and compares with the naive loops.
fn check_case<T: ConvFloat>(case: &Case, tol: f64, threads: usize) {
    let s = case.shape();
    let x64: Vec<f64> = values(s.input_len, 1);
    let w64: Vec<f64> = values(s.weight_len, 2);
    let b64: Vec<f64> = values(s.out_channels, 3);
    let g64: Vec<f64> = values(s.output_len, 4);
    let cast = |v: &[f64]| v.iter().map(|&a| T::from(a).unwrap()).collect::<Vec<T>>();
    let back = |v: &[T]| v.iter().map(|a| a.to_f64().unwrap()).collect::<Vec<f64>>();
    // Compare against the naive loops on the values as rounded to T.
    let (x, w, b, g) = (cast(&x64), cast(&w64), cast(&b64), cast(&g64));
    let (x64, w64, b64, g64) = (back(&x), back(&w), back(&b), back(&g));
    let mut out = vec![T::zero(); s.output_len];
    conv_forward(&s, &x, &w, Some(&b), &mut out, threads).unwrap();
    assert_close("forward", &out, &naive_forward(&s, &x64, &w64, &b64), tol);
    let mut out_nb = vec![T::zero(); s.output_len];
    conv_forward(&s, &x, &w, None, &mut out_nb, threads).unwrap();
    assert_close(
        "forward without bias",
        &out_nb,
        &naive_forward(&s, &x64, &w64, &vec![0.0; s.out_channels]),
        tol,
    );
    let mut gi = vec![T::nan(); s.input_len];
    conv_grad_input(&s, &g, &w, &mut gi, threads).unwrap();
    assert_close("grad_input", &gi, &naive_grad_input(&s, &g64, &w64), tol);
    let mut gw = vec![T::nan(); s.weight_len];
    conv_grad_weight(&s, &g, &x, &mut gw, None, threads).unwrap();
    assert_close("grad_weight", &gw, &naive_grad_weight(&s, &g64, &x64), tol);
    let (mut gw2, mut gb) = (vec![T::nan(); s.weight_len], vec![T::nan(); s.out_channels]);
    conv_grad_weight(&s, &g, &x, &mut gw2, Some(&mut gb), threads).unwrap();
    assert_eq!(back(&gw2), back(&gw), "grad_weight with the bias gradient");
    assert_close("grad_bias", &gb, &naive_grad_bias(&s, &g64), tol);
}

/// `sum over samples and positions of grad_out`, per output channel.
fn naive_grad_bias(s: &ConvShape, go: &[f64]) -> Vec<f64> {
    let mut gb = vec![0.0; s.out_channels];
    for (plane, v) in go.chunks_exact(s.window.output_len.max(1)).enumerate() {
        gb[plane % s.out_channels] += v.iter().sum::<f64>();
    }
    gb
}

#[allow(clippy::too_many_arguments)]
fn case(
    batch: usize,
    c_in: usize,
    c_out: usize,
    groups: usize,
    input: &[usize],
    kernel: &[usize],
    stride: &[usize],
    padding: &[(usize, usize)],
    dilation: &[usize],
) -> Case {
    Case {
        batch,
        c_in,
        c_out,
        groups,
        input: input.to_vec(),
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        dilation: dilation.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    vec![
        // 1-D: plain, stride + asymmetric padding + dilation, groups, depthwise, 1x1
        case(2, 3, 4, 1, &[11], &[3], &[1], &[(1, 1)], &[1]),
        case(2, 4, 6, 2, &[13], &[3], &[2], &[(0, 3)], &[2]),
        case(3, 4, 4, 4, &[10], &[5], &[1], &[(2, 2)], &[1]),
        case(2, 4, 8, 4, &[10], &[3], &[3], &[(2, 0)], &[1]),
        case(2, 5, 3, 1, &[9], &[1], &[1], &[(0, 0)], &[1]),
        // 2-D
        case(
            2,
            3,
            5,
            1,
            &[9, 8],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            2,
            4,
            6,
            2,
            &[9, 8],
            &[3, 2],
            &[2, 1],
            &[(1, 0), (2, 1)],
            &[1, 2],
        ),
        case(
            2,
            6,
            6,
            6,
            &[7, 9],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            2,
            6,
            12,
            3,
            &[7, 9],
            &[3, 3],
            &[2, 2],
            &[(0, 1), (1, 0)],
            &[2, 1],
        ),
        case(
            1,
            5,
            7,
            1,
            &[6, 6],
            &[1, 1],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        case(
            2,
            5,
            7,
            1,
            &[6, 7],
            &[1, 1],
            &[2, 3],
            &[(0, 1), (0, 0)],
            &[1, 1],
        ),
        // output size 1, batch 1
        case(
            1,
            2,
            3,
            1,
            &[4, 4],
            &[4, 4],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        case(
            1,
            2,
            3,
            1,
            &[3, 3],
            &[2, 2],
            &[5, 5],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        // padding larger than the kernel reach (positions reading only padding)
        case(
            2,
            2,
            3,
            1,
            &[4, 5],
            &[2, 2],
            &[1, 2],
            &[(3, 2), (0, 4)],
            &[1, 1],
        ),
        // 3-D
        case(
            2,
            4,
            4,
            2,
            &[5, 6, 7],
            &[2, 3, 2],
            &[1, 2, 2],
            &[(1, 0), (0, 1), (2, 2)],
            &[2, 1, 1],
        ),
        case(
            1,
            3,
            3,
            3,
            &[4, 5, 6],
            &[3, 3, 3],
            &[1, 1, 1],
            &[(1, 1), (1, 1), (1, 1)],
            &[1, 1, 1],
        ),
        case(
            2,
            3,
            2,
            1,
            &[3, 4, 5],
            &[1, 1, 1],
            &[1, 1, 1],
            &[(0, 0), (0, 0), (0, 0)],
            &[1, 1, 1],
        ),
        // many positions (tiled forward), and column tiles ending inside a sample
        case(
            2,
            3,
            4,
            1,
            &[20, 20],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            12,
            300,
            4,
            1,
            &[12, 12],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        // implicit GEMM (f32, AVX-512): 64 input channels (grad_input as a forward pass of
        // the flipped weight), 20 output channels (a partial vector), dilation, asymmetric
        // padding
        case(
            2,
            64,
            20,
            1,
            &[7, 9],
            &[3, 2],
            &[1, 1],
            &[(1, 2), (0, 1)],
            &[2, 1],
        ),
        // implicit grad_input with 20 input channels (one full vector and a partial one)
        // and a 1-D case with 32
        case(
            2,
            20,
            24,
            1,
            &[6, 7],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(3, 32, 16, 1, &[19], &[5], &[1], &[(2, 2)], &[1]),
        // implicit forward over several tasks of positions, each copying its own window of
        // the padded input: 2-D with stride, dilation and asymmetric padding; 3-D where a
        // task's positions span several planes; a long dilated 1-D signal
        case(
            2,
            16,
            32,
            1,
            &[30, 17],
            &[3, 3],
            &[2, 1],
            &[(2, 1), (1, 3)],
            &[1, 2],
        ),
        case(
            1,
            16,
            17,
            1,
            &[6, 9, 10],
            &[2, 3, 3],
            &[1, 1, 1],
            &[(1, 0), (1, 1), (0, 2)],
            &[1, 1, 1],
        ),
        case(2, 16, 64, 1, &[500], &[7], &[1], &[(3, 3)], &[2]),
        // implicit weight gradient with few rows (an RGB stem; a strided one)
        case(
            2,
            3,
            32,
            1,
            &[9, 7],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            2,
            2,
            16,
            1,
            &[11, 10],
            &[3, 3],
            &[2, 2],
            &[(1, 1), (0, 1)],
            &[1, 1],
        ),
        // small planes, many samples: padded; unpadded with groups
        case(
            50,
            16,
            24,
            1,
            &[5, 5],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            13,
            32,
            16,
            2,
            &[4, 6],
            &[2, 3],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        // strided input gradient by phases: 2-D stride 2 on an odd size (the last input
        // row and column meet fewer taps), 1-D stride 3 with a kernel of 4 and asymmetric
        // padding, stride above the kernel size (phases no tap reaches), 3-D with mixed
        // strides, and groups with a partial vector of input channels
        case(
            2,
            16,
            24,
            1,
            &[17, 15],
            &[3, 3],
            &[2, 2],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(2, 32, 20, 1, &[41], &[4], &[3], &[(2, 1)], &[1]),
        case(2, 32, 16, 1, &[23], &[2], &[3], &[(0, 2)], &[1]),
        case(
            1,
            16,
            8,
            1,
            &[5, 6, 7],
            &[2, 3, 3],
            &[2, 1, 2],
            &[(1, 0), (1, 1), (0, 1)],
            &[1, 1, 1],
        ),
        case(
            2,
            40,
            6,
            2,
            &[9, 11],
            &[3, 2],
            &[2, 3],
            &[(1, 1), (0, 1)],
            &[1, 1],
        ),
        // Winograd F(2x2, 3x3) (f32): odd and tiny planes, every padding, channel counts
        // that do not fill whole vectors, a plane of one tile
        case(
            4,
            16,
            16,
            1,
            &[8, 8],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            5,
            17,
            33,
            1,
            &[9, 6],
            &[3, 3],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        case(
            4,
            20,
            16,
            1,
            &[3, 9],
            &[3, 3],
            &[1, 1],
            &[(0, 0), (2, 2)],
            &[1, 1],
        ),
        case(
            4,
            16,
            18,
            1,
            &[2, 7],
            &[3, 3],
            &[1, 1],
            &[(1, 2), (2, 0)],
            &[1, 1],
        ),
        case(
            4,
            24,
            16,
            1,
            &[1, 1],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        // many rows: several row tiles per column matrix
        case(
            1,
            300,
            4,
            1,
            &[12, 12],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
    ]
}

#[test]
fn matches_naive_loops_f64() {
    for c in cases() {
        check_case::<f64>(&c, 1e-12, 1);
    }
}

#[test]
fn matches_naive_loops_f32() {
    for c in cases() {
        check_case::<f32>(&c, 2e-5, 1);
    }
}

#[test]
fn matches_naive_loops_on_threads() {
    for c in cases() {
        check_case::<f64>(&c, 1e-12, 3);
    }
}

/// The 3x3 cases above with at least 16 channels each way take the Winograd path for `f32`
/// (forward, input and weight gradients), so `matches_naive_loops_f32` checks it.
#[cfg(target_arch = "x86_64")]
#[test]
fn winograd_cases_take_the_winograd_path() {
    use super::implicit::{available, grad_input_shape};
    use super::winograd::{applies, applies_weight};
    if !available() {
        return; // no AVX-512: the path does not exist on this CPU
    }
    let winograd: Vec<ConvShape> = cases()
        .iter()
        .map(Case::shape)
        .filter(|s| {
            let w = &s.window;
            w.ndim == 2
                && w.kernel[1..] == [3, 3]
                && w.stride[1..] == [1, 1]
                && w.dilation[1..] == [1, 1]
                && s.groups == 1
                && s.batch >= 4
                && s.in_channels.min(s.out_channels) >= 16
        })
        .collect();
    assert!(winograd.len() >= 5);
    for s in &winograd {
        assert!(applies(s) && applies_weight(s), "{s:?}");
        assert!(grad_input_shape(s).is_some_and(|t| applies(&t)), "{s:?}");
    }
}

/// Runs forward, grad_input and grad_weight of `case` on `threads` threads.
fn all_outputs(case: &Case, threads: usize) -> Vec<Vec<f32>> {
    let s = case.shape();
    let (x, w, b, g) = (
        values(s.input_len, 1),
        values(s.weight_len, 2),
        values(s.out_channels, 3),
        values(s.output_len, 4),
    );
    let mut out = vec![0.0f32; s.output_len];
    conv_forward(&s, &x, &w, Some(&b), &mut out, threads).unwrap();
    let mut gi = vec![0.0f32; s.input_len];
    conv_grad_input(&s, &g, &w, &mut gi, threads).unwrap();
    let mut gw = vec![0.0f32; s.weight_len];
    let mut gb = vec![0.0f32; s.out_channels];
    conv_grad_weight(&s, &g, &x, &mut gw, Some(&mut gb), threads).unwrap();
    vec![out, gi, gw, gb]
}

#[test]
fn bitwise_identical_for_every_thread_count() {
    // Large enough to run on the pool (above the parallel work threshold).
    let big = [
        case(
            8,
            16,
            16,
            1,
            &[32, 32],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            8,
            32,
            32,
            32,
            &[32, 32],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (1, 1)],
            &[1, 1],
        ),
        case(
            4,
            64,
            64,
            1,
            &[16, 16],
            &[1, 1],
            &[1, 1],
            &[(0, 0), (0, 0)],
            &[1, 1],
        ),
        case(8, 16, 32, 1, &[256], &[7], &[1], &[(3, 3)], &[1]),
        case(
            32,
            32,
            48,
            1,
            &[7, 9],
            &[3, 3],
            &[1, 1],
            &[(1, 1), (0, 2)],
            &[1, 1],
        ),
    ];
    for c in &big {
        let one = all_outputs(c, 1);
        for threads in [2, 3] {
            let many = all_outputs(c, threads);
            for (a, b) in one.iter().zip(&many) {
                assert!(
                    a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "threads={threads}"
                );
            }
        }
    }
}

#[test]
fn unfold_and_fold_match_naive_loops() {
    for c in cases().into_iter().filter(|c| c.groups == 1) {
        let s = c.shape();
        let w = &s.window;
        let x: Vec<f64> = values(s.input_len, 5);
        let mut cols = vec![f64::NAN; s.batch * s.in_channels * w.kernel_len * w.output_len];
        unfold(s.batch, s.in_channels, w, &x, &mut cols, 2).unwrap();
        let mut want = vec![0.0; cols.len()];
        let mut folded_want = vec![0.0; s.input_len];
        let cg: Vec<f64> = values(cols.len(), 6);
        // Reuse the tap enumeration with one output channel per input channel.
        let depth = ConvShape::new(
            s.batch,
            s.in_channels,
            s.in_channels,
            s.in_channels,
            w.clone(),
        )
        .unwrap();
        for_each_tap(&depth, |n, g, _, _, k, o, i| {
            let row = (n * s.in_channels + g) * w.kernel_len + k;
            want[row * w.output_len + o] = x[(n * s.in_channels + g) * w.input_len + i];
            folded_want[(n * s.in_channels + g) * w.input_len + i] += cg[row * w.output_len + o];
        });
        assert_close("unfold", &cols, &want, 0.0);
        let mut folded = vec![f64::NAN; s.input_len];
        fold(s.batch, s.in_channels, w, &cg, &mut folded, 2).unwrap();
        assert_close("fold", &folded, &folded_want, 1e-12);
    }
}

#[test]
fn rejects_bad_shapes() {
    assert!(Window::new(&[4], &[5], &[1], &[(0, 0)], &[1]).is_err());
    assert!(Window::new(&[4], &[3], &[0], &[(0, 0)], &[1]).is_err());
    assert!(Window::new(&[4, 4], &[3], &[1], &[(0, 0)], &[1]).is_err());
    assert!(Window::new(&[4, 4, 4, 4], &[1; 4], &[1; 4], &[(0, 0); 4], &[1; 4]).is_err());
    assert!(Window::new(&[usize::MAX], &[1], &[1], &[(1, 0)], &[1]).is_err());
    let w = Window::new(&[8], &[3], &[1], &[(1, 1)], &[1]).unwrap();
    assert!(ConvShape::new(1, 3, 4, 2, w.clone()).is_err());
    let s = ConvShape::new(1, 2, 2, 1, w).unwrap();
    let mut out = vec![0.0f32; s.output_len];
    assert!(conv_forward(&s, &[0.0; 3], &[0.0; 12], None, &mut out, 1).is_err());
}

#[test]
fn empty_channels_and_batches() {
    let w = Window::new(&[5], &[3], &[1], &[(1, 1)], &[1]).unwrap();
    let s = ConvShape::new(2, 0, 3, 1, w.clone()).unwrap();
    let mut out = vec![f64::NAN; s.output_len];
    conv_forward(&s, &[], &[], Some(&[1.0, 2.0, 3.0]), &mut out, 1).unwrap();
    assert!(out
        .chunks(5)
        .enumerate()
        .all(|(i, p)| p.iter().all(|&v| v == (i % 3 + 1) as f64)));
    let s = ConvShape::new(0, 2, 3, 1, w).unwrap();
    let (mut gw, mut gb) = (vec![f64::NAN; s.weight_len], vec![f64::NAN; 3]);
    conv_grad_weight(&s, &[], &[], &mut gw, Some(&mut gb), 2).unwrap();
    assert!(gw.iter().chain(&gb).all(|&v| v == 0.0));
    // No input channels: no weight, but the bias gradient is still grad_out's sums.
    let w = Window::new(&[2], &[3], &[1], &[(1, 1)], &[1]).unwrap();
    let s = ConvShape::new(2, 0, 2, 1, w).unwrap();
    let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut gb = vec![f64::NAN; 2];
    conv_grad_weight(&s, &g, &[], &mut [], Some(&mut gb), 2).unwrap();
    assert_eq!(gb, [1.0 + 2.0 + 5.0 + 6.0, 3.0 + 4.0 + 7.0 + 8.0]);
}

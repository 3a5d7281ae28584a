//! The AVX-512 row kernels ([`super::depthwise_simd`]) against the generic loops: bitwise
//! equal on windows of every rank, with strides on the leading axes, dilation, uneven
//! padding, rows of one or two partial vectors and kernels of 1 to 9 taps.

use super::*;

fn values(n: usize, seed: u64) -> Vec<f32> {
    let v = crate::test_values::uniform(n, seed, -0.5, 0.5);
    v.into_iter().map(|x| x as f32).collect()
}

type Case = (
    &'static [usize],
    &'static [usize],
    &'static [usize],
    &'static [(usize, usize)],
    &'static [usize],
);

const CASES: [Case; 7] = [
    (&[8, 32], &[3, 3], &[1, 1], &[(1, 1), (1, 1)], &[1, 1]),
    (&[7, 20], &[3, 3], &[2, 1], &[(1, 0), (2, 2)], &[1, 1]),
    (&[5, 13], &[2, 3], &[1, 1], &[(0, 0), (1, 1)], &[2, 1]),
    (&[30], &[5], &[1], &[(2, 2)], &[1]),
    (
        &[3, 4, 9],
        &[1, 3, 3],
        &[1, 1, 1],
        &[(0, 0), (1, 1), (1, 1)],
        &[1, 1, 1],
    ),
    (&[6, 6], &[1, 1], &[1, 1], &[(0, 0), (0, 0)], &[1, 1]),
    (&[10, 16], &[3, 3], &[1, 1], &[(0, 0), (0, 0)], &[1, 2]),
];

#[cfg(target_arch = "x86_64")]
#[test]
fn simd_rows_match_the_generic_loops_bitwise() {
    let mut compared = 0;
    for (case, &(input, kernel, stride, padding, dilation)) in CASES.iter().enumerate() {
        let w = Window::new(input, kernel, stride, padding, dilation).unwrap();
        if !depthwise_simd::serves(&w) {
            // Not this CPU (or a row too long for the registers): nothing to compare.
            continue;
        }
        let width = input_row_width(&w);
        let channels = 2;
        let x = values(channels * w.input_len, case as u64 + 1);
        let weights = values(channels * w.kernel_len, case as u64 + 7);
        let mut padded = Vec::new();
        pad_rows(&x, w.input[2], w.pad_before[2], width, &mut padded);
        let mut want = vec![0f32; w.output_len];
        let mut got = vec![1f32; w.output_len];
        forward_plane_padded(&w, &padded, width, &weights, 0.25, &mut want);
        depthwise_simd::forward_plane(&w, &padded, width, &weights, 0.25, &mut got);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "forward, case {case}");

        let one = &padded[..padded.len() / channels];
        let mut want = values(w.kernel_len * w.output[2], 3);
        let mut got = want.clone();
        for sample in 0..2 {
            let go = values(w.output_len, 11 + sample);
            grad_weight_products_padded(&w, &go, one, width, &mut want);
            depthwise_simd::grad_weight_products(&w, &go, one, width, &mut got);
        }
        assert_eq!(bits(&got), bits(&want), "weight products, case {case}");
        compared += 1;
    }
    if active_isa() == Isa::Avx512 {
        assert_eq!(compared, CASES.len(), "every case fits the AVX-512 kernels");
    }
}

#[test]
fn wide_input_gradient_matches_the_row_loops() {
    let mut compared = 0;
    for (case, &(input, kernel, stride, padding, dilation)) in CASES.iter().enumerate() {
        let w = Window::new(input, kernel, stride, padding, dilation).unwrap();
        let Some(plan) = WidePlan::grad_input(&w) else {
            continue;
        };
        // Two output-gradient planes into one input plane (a group of one input channel and
        // two output channels).
        let go = values(2 * w.output_len, case as u64 + 5);
        let taps = values(2 * w.kernel_len, case as u64 + 9);
        let weights: Vec<&[f32]> = taps.chunks_exact(w.kernel_len).collect();
        let front = ((w.kernel[2] - 1) * w.dilation[2]).saturating_sub(w.pad_before[2]);
        let width = front + (w.input[2] + w.pad_before[2]).max(w.output[2]);
        let mut rows = Vec::new();
        pad_rows(&go, w.output[2], front, width, &mut rows);
        let mut want = vec![0f32; w.input_len];
        grad_input_plane_padded(&w, &rows, (front, width), &weights, &mut want);
        let (mut padded, mut wide) = (Vec::new(), Vec::new());
        let mut got = vec![1f32; w.input_len];
        plan.pad(&go, w.output, &mut padded);
        wide_pass(&plan, &padded, &weights, 0.0, &mut wide, &mut got);
        for (i, (g, r)) in got.iter().zip(&want).enumerate() {
            assert!((g - r).abs() <= 1e-6, "case {case}, input {i}: {g} vs {r}");
        }
        compared += 1;
    }
    assert!(compared >= 5, "the stride-1 cases take the wide path");
}

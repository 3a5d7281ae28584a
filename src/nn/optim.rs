//! One fused pass of the Adam/AdamW update over a flat `f32` parameter buffer.
//!
//! Each element goes through the same single-rounding `f32` operations, in the same order, as
//! the NumPy formulation (`m *= b1; m += g * (1 - b1)`, and so on): the result is bitwise the
//! one `fastconv.nn.Adam` gave as a dozen NumPy passes over the buffer, in one pass.

use crate::error::{ConvError, Result};

/// The scalars of one Adam step (the per-element factors are rounded to `f32` once, as
/// NumPy's `DTYPE(...)` did).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta1: f64,
    /// Decay of the second moment.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay (0: none).
    pub weight_decay: f64,
    /// AdamW: shrink the weights instead of adding the decay to the gradient.
    pub decoupled: bool,
    /// The step number, from 1 (for the bias corrections).
    pub step: u64,
}

/// Updates `data`, `exp_avg` and `exp_avg_sq` in place from `grad`.
///
/// # Errors
/// [`ConvError::Value`] when the four buffers differ in length or `step` is 0.
pub fn adam_step(
    data: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    s: AdamStep,
) -> Result<()> {
    let n = data.len();
    if grad.len() != n || exp_avg.len() != n || exp_avg_sq.len() != n {
        return Err(ConvError::value(format!(
            "adam_step: buffers of {n}, {}, {} and {} elements (all must match)",
            grad.len(),
            exp_avg.len(),
            exp_avg_sq.len()
        )));
    }
    if s.step == 0 {
        return Err(ConvError::value("adam_step: the step number starts at 1"));
    }
    let t = i32::try_from(s.step).unwrap_or(i32::MAX);
    let bc1 = 1.0 - s.beta1.powi(t);
    let bc2 = 1.0 - s.beta2.powi(t);
    let shrink = (1.0 - s.lr * s.weight_decay) as f32;
    let wd = s.weight_decay as f32;
    let (b1, one_b1) = (s.beta1 as f32, (1.0 - s.beta1) as f32);
    let (b2, one_b2) = (s.beta2 as f32, (1.0 - s.beta2) as f32);
    let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
    let eps = s.eps as f32;
    let step_size = (s.lr / bc1) as f32;
    let (decay, decoupled) = (s.weight_decay != 0.0, s.decoupled);
    for (((p, &g0), m), v) in data.iter_mut().zip(grad).zip(exp_avg).zip(exp_avg_sq) {
        let mut g = g0;
        if decay {
            if decoupled {
                *p *= shrink;
            } else {
                g = *p * wd + g0;
            }
        }
        *m = *m * b1 + g * one_b1;
        *v = *v * b2 + (g * g) * one_b2;
        let denom = v.sqrt() * inv_sqrt_bc2 + eps;
        *p -= (*m / denom) * step_size;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_step_are_checked() {
        let s = AdamStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            step: 1,
        };
        let (mut d, mut m, mut v) = (vec![0f32; 3], vec![0f32; 3], vec![0f32; 3]);
        assert!(adam_step(&mut d, &[0.0; 2], &mut m, &mut v, s).is_err());
        assert!(adam_step(&mut d, &[0.0; 3], &mut m, &mut v, AdamStep { step: 0, ..s }).is_err());
        adam_step(&mut d, &[1.0, -1.0, 0.0], &mut m, &mut v, s).unwrap();
        // The first step moves each weight by -lr * sign(g) (up to eps).
        assert!((d[0] + 1e-3).abs() < 1e-7 && (d[1] - 1e-3).abs() < 1e-7 && d[2] == 0.0);
    }
}

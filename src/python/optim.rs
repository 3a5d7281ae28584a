//! Bindings of the optimisers' fused update ([`crate::nn::optim`]).

use numpy::{PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::nn::optim::{adam_step as adam_kernel, AdamStep};

/// Registers the functions of this module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(adam_step, m)?)?;
    Ok(())
}

/// One Adam (AdamW when `decoupled`) update of the flat float32 buffers `data`,
/// `exp_avg` and `exp_avg_sq`, in place, from `grad`; `step` counts from 1. Bitwise the
/// result of `fastconv.nn.Adam`'s NumPy formulation, in one pass.
#[pyfunction]
#[pyo3(signature = (data, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                    decoupled, step))]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    mut data: PyReadwriteArray1<'_, f32>,
    grad: PyReadonlyArray1<'_, f32>,
    mut exp_avg: PyReadwriteArray1<'_, f32>,
    mut exp_avg_sq: PyReadwriteArray1<'_, f32>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    step: u64,
) -> PyResult<()> {
    let contiguous = || PyValueError::new_err("adam_step needs contiguous float32 buffers");
    let grad = grad.as_slice().map_err(|_| contiguous())?;
    let data = data.as_slice_mut().map_err(|_| contiguous())?;
    let m = exp_avg.as_slice_mut().map_err(|_| contiguous())?;
    let v = exp_avg_sq.as_slice_mut().map_err(|_| contiguous())?;
    let s = AdamStep {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        decoupled,
        step,
    };
    Ok(adam_kernel(data, grad, m, v, s)?)
}

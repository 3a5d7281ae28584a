//! Thread-count and CPU-feature queries exposed to Python.

use pyo3::prelude::*;

use crate::parallel;
use crate::simd::active_isa;

/// Sets the default number of threads for calls that do not pass `workers`.
#[pyfunction]
pub fn set_num_threads(n: usize) -> PyResult<()> {
    Ok(parallel::set_num_threads(n)?)
}

/// The default number of threads for calls that do not pass `workers`.
#[pyfunction]
pub fn get_num_threads() -> usize {
    parallel::num_threads()
}

/// The number of logical cores this process may use.
#[pyfunction]
pub fn available_cores() -> usize {
    parallel::available_cores()
}

/// The instruction set the kernels use: `"avx2"` or `"scalar"`.
#[pyfunction]
pub fn isa() -> &'static str {
    active_isa().name()
}

//! Thread-count and CPU-feature queries exposed to Python.

use pyo3::prelude::*;

use pyo3::exceptions::PyValueError;

use crate::parallel;
use crate::simd::{self, active_isa};

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

/// The instruction set the kernels use: `"avx512"`, `"avx2"` or `"scalar"` (set once per
/// process from the CPU, or from `FASTCONV_ISA`).
#[pyfunction]
pub fn isa() -> &'static str {
    active_isa().name()
}

/// Every instruction set this CPU can run, the portable one first.
#[pyfunction]
pub fn supported_isas() -> Vec<&'static str> {
    simd::supported_isas()
        .into_iter()
        .map(|i| i.name())
        .collect()
}

/// A call's thread count from its `workers` argument: `None` is the default count, values
/// below 1 raise ValueError.
pub(crate) fn threads_for(workers: Option<isize>) -> PyResult<usize> {
    match workers {
        Some(w) if w < 1 => Err(PyValueError::new_err("workers must be a positive integer")),
        Some(w) => Ok(parallel::resolve_workers(Some(w as usize))?),
        None => Ok(parallel::resolve_workers(None)?),
    }
}

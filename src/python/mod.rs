//! The binding layer: the only code that knows PyO3.
//!
//! Each function borrows NumPy buffers, converts arguments to plain Rust values, releases the
//! GIL for the heavy work, and maps [`crate::error::ConvError`] to the Python exception class
//! NumPy/SciPy raise for the same problem.

mod batchnorm;
mod convolve;
mod convolver;
mod errors;
mod interrupt;
mod layout;
mod nn;
mod optim;
mod pool;
mod threads;

use pyo3::prelude::*;

/// The `fastconv._core` extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(convolve::correlate, m)?)?;
    m.add_function(wrap_pyfunction!(convolve::axis_geometry, m)?)?;
    m.add_function(wrap_pyfunction!(convolve::choose_method, m)?)?;
    m.add_function(wrap_pyfunction!(convolve::method_costs, m)?)?;
    m.add_function(wrap_pyfunction!(convolve::fft_len, m)?)?;
    m.add_function(wrap_pyfunction!(convolve::fast_1d, m)?)?;
    m.add_function(wrap_pyfunction!(threads::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::available_cores, m)?)?;
    m.add_function(wrap_pyfunction!(threads::isa, m)?)?;
    m.add_function(wrap_pyfunction!(threads::supported_isas, m)?)?;
    m.add_class::<convolver::Convolver>()?;
    nn::register(m)?;
    pool::register(m)?;
    batchnorm::register(m)?;
    optim::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

//! Bindings for pooling ([`crate::nn::pool`]).

use pyo3::prelude::*;

/// Adds this file's functions to the extension module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}

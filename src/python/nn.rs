//! Bindings for the neural-network convolution core ([`crate::nn`]).

use pyo3::prelude::*;

/// Adds this file's functions to the extension module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}

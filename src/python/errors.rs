//! Maps core errors to Python exceptions.

use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::PyErr;

use crate::error::ConvError;

impl From<ConvError> for PyErr {
    fn from(err: ConvError) -> PyErr {
        match err {
            ConvError::Value(msg) => PyValueError::new_err(msg),
            ConvError::Memory(msg) => PyMemoryError::new_err(msg),
            ConvError::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        }
    }
}

//! C-order views of NumPy inputs, copied only when needed and never with an aborting
//! allocation, and results handed to NumPy without a copy.

use numpy::ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, CowArray, IxDyn, Zip};
use numpy::{Element as NpElement, PyArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::ConvError;
use crate::geometry::checked_size;

/// `view` in C order: borrowed when it already is, otherwise copied into a new buffer whose
/// allocation failure is a [`ConvError::Memory`] (a huge zero-stride view must raise
/// MemoryError, not abort the interpreter as `as_standard_layout` would).
///
/// # Errors
/// [`ConvError::Memory`] when the copy's size overflows or cannot be allocated.
pub fn c_order<'a, T: Clone>(view: ArrayViewD<'a, T>) -> Result<CowArray<'a, T, IxDyn>, ConvError> {
    if view.is_standard_layout() {
        return Ok(CowArray::from(view));
    }
    let len = checked_size(view.shape())?;
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(ConvError::Memory(format!(
            "a C-order copy of an input of shape {:?} does not fit in memory",
            view.shape()
        )));
    }
    let mut data: Vec<T> = Vec::new();
    data.try_reserve_exact(len).map_err(|_| {
        ConvError::Memory(format!(
            "cannot allocate a C-order copy of an input of shape {:?}",
            view.shape()
        ))
    })?;
    {
        let spare = &mut data.spare_capacity_mut()[..len];
        let mut dst = ArrayViewMutD::from_shape(IxDyn(view.shape()), spare)
            .map_err(|e| ConvError::value(format!("internal: {e}")))?;
        // Zip walks both in the destination's C order, row by row: a strided copy as fast
        // as ndarray's own `as_standard_layout`.
        Zip::from(&mut dst).and(&view).for_each(|d, s| {
            d.write(s.clone());
        });
    }
    // SAFETY: the Zip above wrote each of the first `len` elements (dst has `len` elements,
    // one per element of `view`).
    unsafe { data.set_len(len) };
    let owned = ArrayD::from_shape_vec(IxDyn(view.shape()), data)
        .map_err(|e| ConvError::value(format!("internal: {e}")))?;
    Ok(CowArray::from(owned))
}

/// A C-order NumPy array of `shape` owning `data` (no copy).
pub fn to_numpy<'py, T: NpElement>(
    py: Python<'py>,
    shape: &[usize],
    data: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), data)
        .map_err(|e| PyValueError::new_err(format!("internal: {e}")))?;
    Ok(PyArray::from_owned_array(py, array).into_any())
}

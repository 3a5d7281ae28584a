//! `_core.correlate`: N-D direct correlation/convolution on NumPy arrays.

use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{
    Complex32, Complex64, Element as NpElement, IntoPyArray, PyArrayDescrMethods, PyArrayDyn,
    PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::direct::{self, ArrayRef, Orientation};
use crate::error::ConvError;
use crate::geometry::{AxisGeometry, Mode};
use crate::parallel::resolve_workers;
use crate::simd::{active_isa, HasRowKernel, Isa};

/// Correlates `in1` with `in2` along their trailing axes (convolves when `flip`).
///
/// Both arrays must have the same dtype, one of float32, float64, complex64, complex128 or
/// int64, and the same number of dimensions; the first `batch_ndim` axes broadcast.
#[pyfunction]
///
/// `isa` picks the kernels' instruction set for this call ("scalar", "avx2", "avx512"; an
/// unsupported one falls back to the portable kernel), so tests can exercise every path.
#[pyo3(signature = (in1, in2, mode, batch_ndim=0, flip=false, conj=false, workers=None, isa=None))]
#[allow(clippy::too_many_arguments)]
pub fn correlate<'py>(
    py: Python<'py>,
    in1: &Bound<'py, PyAny>,
    in2: &Bound<'py, PyAny>,
    mode: &str,
    batch_ndim: usize,
    flip: bool,
    conj: bool,
    workers: Option<isize>,
    isa: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let mode = Mode::parse(mode)?;
    let isa = match isa {
        None => active_isa(),
        Some(name) => Isa::parse(name)?,
    };
    let threads = match workers {
        Some(w) if w < 1 => {
            return Err(PyValueError::new_err("workers must be a positive integer"))
        }
        Some(w) => resolve_workers(Some(w as usize))?,
        None => resolve_workers(None)?,
    };
    let call = Call {
        isa,
        mode,
        batch_ndim,
        orient: Orientation { flip, conj },
        threads,
    };
    // Dispatch on the first input's dtype (one check instead of failed extractions); the
    // typed extraction below then also checks that the second input has the same dtype.
    let dtype_of_in1 = in1.cast::<PyUntypedArray>().map(|a| a.dtype().char());
    macro_rules! typed {
        ($t:ty) => {
            match (
                in1.extract::<PyReadonlyArrayDyn<'py, $t>>(),
                in2.extract::<PyReadonlyArrayDyn<'py, $t>>(),
            ) {
                (Ok(a), Ok(b)) => call.run::<$t>(py, a.as_array(), b.as_array()),
                _ => Err(unsupported()),
            }
        };
    }
    match dtype_of_in1 {
        Ok(b'd') => typed!(f64),
        Ok(b'f') => typed!(f32),
        Ok(b'D') => typed!(Complex64),
        Ok(b'F') => typed!(Complex32),
        Ok(b'l' | b'q') => typed!(i64),
        _ => Err(unsupported()),
    }
}

fn unsupported() -> PyErr {
    PyTypeError::new_err(
        "in1 and in2 must be NumPy arrays of one dtype among float32, float64, complex64, \
         complex128 and int64",
    )
}

/// `(start, output length)` of one axis: the single source of the mode rules for Python code
/// that pads explicitly (boundary modes).
#[pyfunction]
pub fn axis_geometry(n: usize, k: usize, mode: &str) -> PyResult<(isize, usize)> {
    let g = AxisGeometry::new(n, k, Mode::parse(mode)?)?;
    Ok((g.start, g.m))
}

/// The plain-Rust arguments of one call.
struct Call {
    isa: Isa,
    mode: Mode,
    batch_ndim: usize,
    orient: Orientation,
    threads: usize,
}

impl Call {
    fn run<'py, T>(
        &self,
        py: Python<'py>,
        a: ArrayViewD<'_, T>,
        b: ArrayViewD<'_, T>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: HasRowKernel + NpElement,
    {
        let (out, shape) = py.detach(|| -> Result<_, ConvError> {
            // Non-contiguous, Fortran-order and negative-stride views are copied once into C
            // order here, outside the GIL; contiguous inputs are borrowed as they are.
            let a = a.as_standard_layout();
            let b = b.as_standard_layout();
            let (ad, bd) = match (a.as_slice(), b.as_slice()) {
                (Some(ad), Some(bd)) => (ad, bd),
                _ => {
                    return Err(ConvError::value(
                        "internal: standard layout is not contiguous",
                    ))
                }
            };
            direct::correlate_on(
                self.isa,
                ArrayRef {
                    data: ad,
                    shape: a.shape(),
                },
                ArrayRef {
                    data: bd,
                    shape: b.shape(),
                },
                self.batch_ndim,
                self.mode,
                self.orient,
                self.threads,
            )
        })?;
        let array = numpy::ndarray::Array::from_shape_vec(IxDyn(&shape), out)
            .map_err(|e| PyValueError::new_err(format!("internal shape error: {e}")))?;
        let result: Bound<'py, PyArrayDyn<T>> = array.into_pyarray(py);
        Ok(result.into_any())
    }
}

//! Bindings for pooling ([`crate::nn::pool`]): `max_pool_forward`, `max_pool_backward`,
//! `avg_pool_forward`, `avg_pool_backward`.
//!
//! Arrays are borrowed as they are (C-contiguous float32/float64, `(N, C, *S)` with 1 to 3
//! spatial axes; anything else is a `TypeError`), every argument is checked and turned into a
//! [`PoolGeometry`] before the core runs, the GIL is released for all but tiny calls, and the
//! results are Rust vectors handed to NumPy without a copy.

use numpy::{
    Element as NpElement, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::python::layout::to_numpy;
use crate::python::threads::threads_for;

use crate::error::ConvError;
use crate::nn::pool::{self, AvgOptions, PoolArgs, PoolGeometry, MAX_SPATIAL};

/// Calls with fewer scalar steps than this keep the GIL (releasing it costs ~0.1 us).
const GIL_RELEASE_STEPS: usize = 1 << 14;

/// Adds this file's functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(max_pool_forward, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool_backward, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool_forward, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool_backward, m)?)?;
    Ok(())
}

/// Max pooling of `input` (N, C, *S): the output and, per output element, the flat index of
/// the chosen input element within its (n, c) plane (torch's `return_indices`).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding, dilation, ceil_mode, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn max_pool_forward<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    ceil_mode: bool,
    workers: Option<isize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let threads = threads_for(workers)?;
    let (k, s, p, d) = (
        extents("kernel_size", &kernel_size)?,
        extents("stride", &stride)?,
        extents("padding", &padding)?,
        extents("dilation", &dilation)?,
    );
    let args = PoolArgs {
        kernel: &k,
        stride: &s,
        padding: &p,
        dilation: &d,
        ceil_mode,
    };
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>(input, "input")?;
            let (lead, g) = geometry(x.shape(), &args)?;
            let data = contiguous(&x, "input")?;
            let steps = data
                .len()
                .saturating_add(g.planes.saturating_mul(g.output_plane()?));
            let (out, idx) =
                maybe_detached(py, steps, || pool::max_pool_forward(data, &g, threads))?;
            let shape = out_shape(lead, g.output_spatial());
            (to_numpy(py, &shape, out)?, to_numpy(py, &shape, idx)?)
        }};
    }
    Ok(match float_kind(input, "input")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// Scatter-adds `grad_output` (N, C, *S_out) to the input elements `indices` records: the
/// gradient of max pooling, of shape (N, C, *input_size).
#[pyfunction]
#[pyo3(signature = (grad_output, indices, input_size, workers=None))]
pub fn max_pool_backward<'py>(
    py: Python<'py>,
    grad_output: &Bound<'py, PyAny>,
    indices: &Bound<'py, PyAny>,
    input_size: Vec<i64>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = threads_for(workers)?;
    let input_size = extents("input_size", &input_size)?;
    let ix = indices
        .extract::<PyReadonlyArrayDyn<'py, i64>>()
        .map_err(|_| PyTypeError::new_err("indices must be a NumPy array of dtype int64"))?;
    macro_rules! typed {
        ($t:ty) => {{
            let go = borrow::<$t>(grad_output, "grad_output")?;
            let shape = go.shape().to_vec();
            check_ndim(&shape, "grad_output")?;
            if ix.shape() != shape.as_slice() {
                return Err(PyValueError::new_err(format!(
                    "indices has shape {:?}, grad_output has shape {shape:?}: they must be \
                     equal",
                    ix.shape()
                )));
            }
            let spatial = &shape[2..];
            if input_size.len() != spatial.len() {
                return Err(PyValueError::new_err(format!(
                    "input_size must have {} entries (one per spatial axis), got {}",
                    spatial.len(),
                    input_size.len()
                )));
            }
            if input_size.contains(&0) {
                return Err(PyValueError::new_err("input_size must not hold a zero"));
            }
            let planes = pool::checked_count(&shape[..2])?;
            let in_plane = pool::checked_count(&input_size)?;
            let out_plane = pool::checked_count(spatial)?;
            pool::checked_count(&[planes, in_plane])?;
            let (gd, id) = (contiguous(&go, "grad_output")?, contiguous(&ix, "indices")?);
            let steps = gd.len().saturating_add(planes.saturating_mul(in_plane));
            let gi = maybe_detached(py, steps, || {
                pool::max_pool_backward(gd, id, planes, in_plane, out_plane, threads)
            })?;
            to_numpy(py, &out_shape([shape[0], shape[1]], &input_size), gi)?
        }};
    }
    Ok(match float_kind(grad_output, "grad_output")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// Average pooling of `input` (N, C, *S) with torch's divisor rules.
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn avg_pool_forward<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = threads_for(workers)?;
    let (k, s, p) = (
        extents("kernel_size", &kernel_size)?,
        extents("stride", &stride)?,
        extents("padding", &padding)?,
    );
    let d = vec![1; k.len()];
    let args = PoolArgs {
        kernel: &k,
        stride: &s,
        padding: &p,
        dilation: &d,
        ceil_mode,
    };
    let opts = AvgOptions {
        count_include_pad,
        divisor_override,
    };
    opts.validate()?;
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>(input, "input")?;
            let (lead, g) = geometry(x.shape(), &args)?;
            let data = contiguous(&x, "input")?;
            let steps = g
                .planes
                .saturating_mul(g.output_plane()?)
                .saturating_mul(k.iter().product());
            let out = maybe_detached(py, steps, || {
                pool::avg_pool_forward(data, &g, opts, threads)
            })?;
            to_numpy(py, &out_shape(lead, g.output_spatial()), out)?
        }};
    }
    Ok(match float_kind(input, "input")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// The gradient of average pooling: (N, C, *input_size) from `grad_output` (N, C, *S_out),
/// which must have the output shape these arguments give.
#[pyfunction]
#[pyo3(signature = (grad_output, input_size, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn avg_pool_backward<'py>(
    py: Python<'py>,
    grad_output: &Bound<'py, PyAny>,
    input_size: Vec<i64>,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = threads_for(workers)?;
    let (n, k, s, p) = (
        extents("input_size", &input_size)?,
        extents("kernel_size", &kernel_size)?,
        extents("stride", &stride)?,
        extents("padding", &padding)?,
    );
    let d = vec![1; k.len()];
    let args = PoolArgs {
        kernel: &k,
        stride: &s,
        padding: &p,
        dilation: &d,
        ceil_mode,
    };
    let opts = AvgOptions {
        count_include_pad,
        divisor_override,
    };
    opts.validate()?;
    macro_rules! typed {
        ($t:ty) => {{
            let go = borrow::<$t>(grad_output, "grad_output")?;
            let shape = go.shape().to_vec();
            check_ndim(&shape, "grad_output")?;
            let mut input_shape = shape[..2].to_vec();
            input_shape.extend_from_slice(&n);
            let (lead, g) = geometry(&input_shape, &args)?;
            if g.output_spatial() != &shape[2..] {
                return Err(PyValueError::new_err(format!(
                    "grad_output has spatial shape {:?}, but these arguments give an output \
                     of spatial shape {:?}",
                    &shape[2..],
                    g.output_spatial()
                )));
            }
            let gd = contiguous(&go, "grad_output")?;
            let steps = gd.len().saturating_mul(k.iter().product());
            let gi = maybe_detached(py, steps, || pool::avg_pool_backward(gd, &g, opts, threads))?;
            to_numpy(py, &out_shape(lead, &n), gi)?
        }};
    }
    Ok(match float_kind(grad_output, "grad_output")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// `b'f'` or `b'd'`: the dtype character of a float32/float64 NumPy array.
fn float_kind(x: &Bound<'_, PyAny>, name: &str) -> PyResult<u8> {
    match x.cast::<PyUntypedArray>().map(|a| a.dtype().char()) {
        Ok(c @ (b'f' | b'd')) => Ok(c),
        _ => Err(PyTypeError::new_err(format!(
            "{name} must be a NumPy array of dtype float32 or float64"
        ))),
    }
}

fn borrow<'py, T: NpElement>(
    x: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    x.extract::<PyReadonlyArrayDyn<'py, T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a NumPy array of dtype float32 or float64"
        ))
    })
}

/// The array's elements as one C-order slice (`TypeError` for any other layout).
fn contiguous<'a, T: NpElement>(x: &'a PyReadonlyArrayDyn<'_, T>, name: &str) -> PyResult<&'a [T]> {
    x.as_slice()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be C-contiguous")))
}

fn check_ndim(shape: &[usize], name: &str) -> PyResult<()> {
    if shape.len() < 3 || shape.len() > 2 + MAX_SPATIAL {
        return Err(PyValueError::new_err(format!(
            "{name} must be (N, C, *S) with 1 to {MAX_SPATIAL} spatial axes, got shape \
             {shape:?}"
        )));
    }
    Ok(())
}

/// `(N, C)` and the validated geometry of an input of shape `(N, C, *S)`.
fn geometry(shape: &[usize], args: &PoolArgs<'_>) -> PyResult<([usize; 2], PoolGeometry)> {
    check_ndim(shape, "input")?;
    if shape[1] == 0 {
        return Err(PyValueError::new_err(format!(
            "input must have a non-zero channel count, got shape {shape:?}"
        )));
    }
    let planes = pool::checked_count(&shape[..2])?;
    let g = PoolGeometry::new(planes, &shape[2..], args)?;
    Ok(([shape[0], shape[1]], g))
}

fn out_shape(lead: [usize; 2], spatial: &[usize]) -> Vec<usize> {
    let mut shape = lead.to_vec();
    shape.extend_from_slice(spatial);
    shape
}

/// Non-negative per-axis integers (a `ValueError` naming `name` otherwise).
fn extents(name: &str, values: &[i64]) -> PyResult<Vec<usize>> {
    values
        .iter()
        .map(|&v| {
            usize::try_from(v).map_err(|_| {
                PyValueError::new_err(format!("{name} must be non-negative, got {values:?}"))
            })
        })
        .collect()
}

/// Runs `f`, with the GIL released unless the call is tiny.
fn maybe_detached<R: Send>(
    py: Python<'_>,
    steps: usize,
    f: impl FnOnce() -> Result<R, ConvError> + Send,
) -> PyResult<R> {
    if steps < GIL_RELEASE_STEPS {
        Ok(f()?)
    } else {
        Ok(py.detach(f)?)
    }
}

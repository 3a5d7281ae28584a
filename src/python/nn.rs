//! Bindings for the neural-network convolution core ([`crate::nn`]): `conv_forward`,
//! `conv_grad_input`, `conv_grad_weight`, `unfold` and `fold`.
//!
//! Arrays must be C-contiguous float32 or float64 of one dtype; every shape and argument is
//! checked here or by the core's constructors before any computation, and the work runs with
//! the GIL released.

use numpy::ndarray::IxDyn;
use numpy::{
    Element as NpElement, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use crate::error::{ConvError, Result as CoreResult};
use crate::nn::conv::{
    conv_forward as forward, conv_grad_input as grad_input, conv_grad_weight as grad_weight,
};
use crate::nn::gemm::ConvFloat;
use crate::nn::geometry::{checked_product, ConvShape, Window};
use crate::nn::unfold::{columns_len, fold as fold_core, unfold as unfold_core};
use crate::parallel::resolve_workers;
use crate::python::interrupt::{detach_interruptible, INTERRUPTIBLE_WORK};
use crate::python::layout::to_numpy;

/// Adds this file's functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv_forward, m)?)?;
    m.add_function(wrap_pyfunction!(conv_grad_input, m)?)?;
    m.add_function(wrap_pyfunction!(conv_grad_weight, m)?)?;
    m.add_function(wrap_pyfunction!(unfold, m)?)?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    Ok(())
}

/// The per-axis window arguments as Python passes them (checked for sign here, for
/// consistency by [`Window::new`]).
struct WindowArgs {
    stride: Vec<usize>,
    padding: Vec<(usize, usize)>,
    dilation: Vec<usize>,
}

impl WindowArgs {
    fn new(
        stride: Vec<isize>,
        padding: Vec<(isize, isize)>,
        dilation: Vec<isize>,
    ) -> PyResult<Self> {
        let positive = |name: &str, v: &[isize]| -> PyResult<Vec<usize>> {
            v.iter()
                .map(|&s| usize::try_from(s).ok().filter(|&s| s > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    PyValueError::new_err(format!("{name} must hold positive integers, got {v:?}"))
                })
        };
        let padding = padding
            .iter()
            .map(|&(b, a)| Some((usize::try_from(b).ok()?, usize::try_from(a).ok()?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "padding must hold non-negative integers, got {padding:?}"
                ))
            })?;
        Ok(WindowArgs {
            stride: positive("stride", &stride)?,
            padding,
            dilation: positive("dilation", &dilation)?,
        })
    }

    fn window(&self, input: &[usize], kernel: &[usize]) -> CoreResult<Window> {
        Window::new(input, kernel, &self.stride, &self.padding, &self.dilation)
    }
}

fn positive(name: &str, value: isize) -> PyResult<usize> {
    usize::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| {
            PyValueError::new_err(format!("{name} must be a positive integer, got {value}"))
        })
}

fn threads_for(workers: Option<isize>) -> PyResult<usize> {
    match workers {
        Some(w) => Ok(resolve_workers(Some(positive("workers", w)?))?),
        None => Ok(resolve_workers(None)?),
    }
}

/// The dtype character of the array `a` when it is float32 ('f') or float64 ('d').
fn float_dtype(name: &str, a: &Bound<'_, PyAny>) -> PyResult<u8> {
    match a.cast::<PyUntypedArray>().map(|a| a.dtype().char()) {
        Ok(c @ (b'f' | b'd')) => Ok(c),
        _ => Err(PyTypeError::new_err(format!(
            "{name} must be a NumPy array of dtype float32 or float64"
        ))),
    }
}

/// Borrows a C-contiguous array of element type `T`.
fn borrow<'py, T: NpElement>(
    name: &str,
    a: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let array = a.cast::<PyArrayDyn<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a NumPy array of the same dtype as the other arrays (float32 or float64)"
        ))
    })?;
    if !array.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name} must be C-contiguous"
        )));
    }
    array
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

fn slice_of<'a, T: NpElement>(name: &str, a: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name} must be C-contiguous")))
}

/// Outputs from this size up come from `numpy.empty` (NumPy's allocator, huge pages); smaller
/// ones are allocated directly.
const LARGE_OUTPUT_BYTES: usize = 1 << 20;

/// The array to write a result of `shape` into: `out` after checking it, or a new one.
fn output_array<'py, T: NpElement>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let len = checked_product(shape, "output")?;
    let bytes = len
        .checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| ConvError::Memory(format!("the output of shape {shape:?} is too large")))?;
    if let Some(out) = out {
        let array = out
            .cast::<PyArrayDyn<T>>()
            .map_err(|_| PyValueError::new_err("out must be a NumPy array of the inputs' dtype"))?;
        if array.shape() != shape {
            return Err(PyValueError::new_err(format!(
                "out has shape {:?}, expected {shape:?}",
                array.shape()
            )));
        }
        if !array.is_c_contiguous() {
            return Err(PyValueError::new_err("out must be C-contiguous"));
        }
        return Ok(array.clone());
    }
    if bytes < LARGE_OUTPUT_BYTES {
        // SAFETY: every entry point writes every element of its output before returning Ok;
        // on an error the array is dropped unseen.
        return Ok(unsafe { PyArrayDyn::<T>::new(py, IxDyn(shape), false) });
    }
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let empty = EMPTY.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("numpy")?.getattr("empty")?.unbind())
    })?;
    let array = empty
        .bind(py)
        .call1((PyTuple::new(py, shape)?, T::get_dtype(py)))?;
    Ok(array.cast_into::<PyArrayDyn<T>>()?)
}

/// Runs `compute` on `out`'s elements with the GIL released; `out` must be writeable and not
/// overlap a borrowed input.
///
/// `work` (multiply-adds, or elements moved) decides whether the call is long enough to be
/// made interruptible by Ctrl-C ([`detach_interruptible`]).
fn write_into<'py, T: NpElement + ConvFloat>(
    py: Python<'py>,
    out: Bound<'py, PyArrayDyn<T>>,
    work: usize,
    compute: impl FnOnce(&mut [T]) -> CoreResult<()> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    {
        let mut rw = out.try_readwrite().map_err(|e| {
            PyValueError::new_err(format!(
                "out must be writeable and not overlap an input: {e}"
            ))
        })?;
        let data = rw
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("out must be C-contiguous"))?;
        detach_interruptible(py, work >= INTERRUPTIBLE_WORK, || compute(data))?;
    }
    Ok(out.into_any())
}

/// Checks an array's number of dimensions: 2 leading axes plus 1 to 3 spatial axes.
fn check_ndim(name: &str, shape: &[usize]) -> PyResult<()> {
    if (3..=5).contains(&shape.len()) {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{name} must have 3 to 5 dimensions (batch, channels, 1 to 3 spatial axes), got shape {shape:?}"
        )))
    }
}

/// Checks that the window's output size matches `grad_output`'s spatial shape.
fn check_output(window: &Window, spatial: &[usize]) -> PyResult<()> {
    let expected = window.spatial(&window.output);
    if expected == spatial {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "grad_output has spatial shape {spatial:?}, but these arguments give {expected:?}"
        )))
    }
}

/// `C_in = C_in_per_group * groups`, checked.
fn in_channels(per_group: usize, groups: usize) -> PyResult<usize> {
    per_group
        .checked_mul(groups)
        .ok_or_else(|| ConvError::Memory("in_channels overflows".into()).into())
}

/// Cross-correlation layer forward pass, (N, C_out, *O); writes into ``out`` if given.
#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, groups, out=None, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn conv_forward<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    stride: Vec<isize>,
    padding: Vec<(isize, isize)>,
    dilation: Vec<isize>,
    groups: isize,
    out: Option<&Bound<'py, PyAny>>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = WindowArgs::new(stride, padding, dilation)?;
    let groups = positive("groups", groups)?;
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>("input", input)?;
            let w = borrow::<$t>("weight", weight)?;
            let b = bias.map(|b| borrow::<$t>("bias", b)).transpose()?;
            let (xs, ws) = (x.shape(), w.shape());
            check_ndim("input", xs)?;
            if ws.len() != xs.len() {
                return Err(PyValueError::new_err(format!(
                    "weight has shape {ws:?}, expected {} dimensions like input {xs:?}",
                    xs.len()
                )));
            }
            let c_in = in_channels(ws[1], groups)?;
            if c_in != xs[1] {
                return Err(PyValueError::new_err(format!(
                    "input has {} channels, but weight {ws:?} with groups={groups} expects {c_in}",
                    xs[1]
                )));
            }
            let shape = ConvShape::new(
                xs[0],
                xs[1],
                ws[0],
                groups,
                args.window(&xs[2..], &ws[2..])?,
            )?;
            if let Some(b) = &b {
                if b.shape() != [ws[0]] {
                    return Err(PyValueError::new_err(format!(
                        "bias has shape {:?}, expected ({},)",
                        b.shape(),
                        ws[0]
                    )));
                }
            }
            let (xd, wd) = (slice_of("input", &x)?, slice_of("weight", &w)?);
            let bd = b.as_ref().map(|b| slice_of("bias", b)).transpose()?;
            let out = output_array::<$t>(py, out, &shape.output_shape())?;
            write_into(py, out, shape.macs(), |o| {
                forward(&shape, xd, wd, bd, o, threads)
            })
        }};
    }
    match float_dtype("input", input)? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    }
}

/// Gradient of the loss with respect to the input, (N, C_in, *input_size); also the transposed
/// convolution's forward pass.
#[pyfunction]
#[pyo3(signature = (grad_output, weight, input_size, stride, padding, dilation, groups, out=None, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn conv_grad_input<'py>(
    py: Python<'py>,
    grad_output: &Bound<'py, PyAny>,
    weight: &Bound<'py, PyAny>,
    input_size: Vec<usize>,
    stride: Vec<isize>,
    padding: Vec<(isize, isize)>,
    dilation: Vec<isize>,
    groups: isize,
    out: Option<&Bound<'py, PyAny>>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = WindowArgs::new(stride, padding, dilation)?;
    let groups = positive("groups", groups)?;
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let go = borrow::<$t>("grad_output", grad_output)?;
            let w = borrow::<$t>("weight", weight)?;
            let (gs, ws) = (go.shape(), w.shape());
            check_ndim("grad_output", gs)?;
            if ws.len() != gs.len() || ws[0] != gs[1] || input_size.len() != gs.len() - 2 {
                return Err(PyValueError::new_err(format!(
                    "inconsistent shapes: grad_output {gs:?}, weight {ws:?}, input_size {input_size:?}"
                )));
            }
            let c_in = in_channels(ws[1], groups)?;
            let window = args.window(&input_size, &ws[2..])?;
            check_output(&window, &gs[2..])?;
            let shape = ConvShape::new(gs[0], c_in, ws[0], groups, window)?;
            let (gd, wd) = (slice_of("grad_output", &go)?, slice_of("weight", &w)?);
            let out = output_array::<$t>(py, out, &shape.input_shape())?;
            write_into(py, out, shape.macs(), |o| grad_input(&shape, gd, wd, o, threads))
        }};
    }
    match float_dtype("grad_output", grad_output)? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    }
}

/// Gradient with respect to the weight, (C_out, C_in // groups, *kernel_size); with
/// `with_bias=True`, the pair `(grad_weight, grad_bias)`, the bias gradient (C_out,) summed in
/// the same pass where the kernels allow.
#[pyfunction]
#[pyo3(signature = (grad_output, input, kernel_size, stride, padding, dilation, groups, out=None, workers=None, with_bias=false))]
#[allow(clippy::too_many_arguments)]
pub fn conv_grad_weight<'py>(
    py: Python<'py>,
    grad_output: &Bound<'py, PyAny>,
    input: &Bound<'py, PyAny>,
    kernel_size: Vec<usize>,
    stride: Vec<isize>,
    padding: Vec<(isize, isize)>,
    dilation: Vec<isize>,
    groups: isize,
    out: Option<&Bound<'py, PyAny>>,
    workers: Option<isize>,
    with_bias: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let args = WindowArgs::new(stride, padding, dilation)?;
    let groups = positive("groups", groups)?;
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let go = borrow::<$t>("grad_output", grad_output)?;
            let x = borrow::<$t>("input", input)?;
            let (gs, xs) = (go.shape(), x.shape());
            check_ndim("input", xs)?;
            if gs.len() != xs.len() || gs[0] != xs[0] || kernel_size.len() != xs.len() - 2 {
                return Err(PyValueError::new_err(format!(
                    "inconsistent shapes: grad_output {gs:?}, input {xs:?}, kernel_size {kernel_size:?}"
                )));
            }
            let window = args.window(&xs[2..], &kernel_size)?;
            check_output(&window, &gs[2..])?;
            let shape = ConvShape::new(xs[0], xs[1], gs[1], groups, window)?;
            let (gd, xd) = (slice_of("grad_output", &go)?, slice_of("input", &x)?);
            let out = output_array::<$t>(py, out, &shape.weight_shape())?;
            if !with_bias {
                return write_into(py, out, shape.macs(), |o| {
                    grad_weight(&shape, gd, xd, o, None, threads)
                });
            }
            let mut gb = vec![<$t>::default(); shape.out_channels];
            let gw = write_into(py, out, shape.macs(), |o| {
                grad_weight(&shape, gd, xd, o, Some(&mut gb), threads)
            })?;
            let gb = to_numpy(py, &[shape.out_channels], gb)?;
            Ok(PyTuple::new(py, [gw, gb])?.into_any())
        }};
    }
    match float_dtype("grad_output", grad_output)? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    }
}

/// im2col: (N, C, *S) -> (N, C * prod(K), L), L = prod(O); torch's row order (c, k...).
#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding, dilation, workers=None))]
pub fn unfold<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    kernel_size: Vec<usize>,
    stride: Vec<isize>,
    padding: Vec<(isize, isize)>,
    dilation: Vec<isize>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = WindowArgs::new(stride, padding, dilation)?;
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>("input", input)?;
            let xs = x.shape();
            check_ndim("input", xs)?;
            let window = args.window(&xs[2..], &kernel_size)?;
            let (batch, channels) = (xs[0], xs[1]);
            columns_len(batch, channels, &window)?;
            let rows = checked_product(&[channels, window.kernel_len], "column matrix")?;
            let shape = [batch, rows, window.output_len];
            let xd = slice_of("input", &x)?;
            let out = output_array::<$t>(py, None, &shape)?;
            let moved = batch.saturating_mul(rows).saturating_mul(window.output_len);
            write_into(py, out, moved, |o| {
                unfold_core(batch, channels, &window, xd, o, threads)
            })
        }};
    }
    match float_dtype("input", input)? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    }
}

/// col2im: (N, C * prod(K), L) -> (N, C, *output_size), summing overlapping entries.
#[pyfunction]
#[pyo3(signature = (columns, output_size, kernel_size, stride, padding, dilation, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn fold<'py>(
    py: Python<'py>,
    columns: &Bound<'py, PyAny>,
    output_size: Vec<usize>,
    kernel_size: Vec<usize>,
    stride: Vec<isize>,
    padding: Vec<(isize, isize)>,
    dilation: Vec<isize>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let args = WindowArgs::new(stride, padding, dilation)?;
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let c = borrow::<$t>("columns", columns)?;
            let cs = c.shape();
            if cs.len() != 3 {
                return Err(PyValueError::new_err(format!(
                    "columns must have 3 dimensions (N, C * prod(kernel_size), L), got shape {cs:?}"
                )));
            }
            let window = args.window(&output_size, &kernel_size)?;
            if !cs[1].is_multiple_of(window.kernel_len) || cs[2] != window.output_len {
                return Err(PyValueError::new_err(format!(
                    "columns of shape {cs:?} do not match kernel_size {kernel_size:?} (prod {}) \
                     and {} sliding-window positions",
                    window.kernel_len, window.output_len
                )));
            }
            let (batch, channels) = (cs[0], cs[1] / window.kernel_len);
            let mut shape = vec![batch, channels];
            shape.extend_from_slice(&output_size);
            let cd = slice_of("columns", &c)?;
            let out = output_array::<$t>(py, None, &shape)?;
            write_into(py, out, cd.len(), |o| {
                fold_core(batch, channels, &window, cd, o, threads)
            })
        }};
    }
    match float_dtype("columns", columns)? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    }
}

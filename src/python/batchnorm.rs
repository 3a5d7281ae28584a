//! Bindings for batch normalisation ([`crate::nn::batchnorm`]): `batch_norm_forward` and
//! `batch_norm_backward`.
//!
//! Arrays are borrowed as they are: C-contiguous float32/float64, every one of the input's
//! dtype (anything else is a `TypeError`). An input of shape `(N, C, *S)` is seen as
//! `(N, C, prod(S))`. Every length is checked by the core before it computes, output buffers
//! passed as `out=` must be writeable and must not overlap an input (`ValueError`), and the
//! GIL is released for all but tiny calls.

use numpy::ndarray::IxDyn;
use numpy::{
    Element as NpElement, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn,
    PyReadwriteArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::python::layout::to_numpy;
use crate::python::threads::threads_for;

use crate::error::ConvError;
use crate::nn::batchnorm::{
    self, Affine, BackwardOutputs, ForwardOutputs, NormFloat, NormShape, RunningUpdate, Saved,
    Statistics,
};

/// Calls with fewer elements than this keep the GIL (releasing it costs ~0.1 us).
const GIL_RELEASE_ELEMENTS: usize = 1 << 14;

/// Adds this file's functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_norm_forward, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_backward, m)?)?;
    m.add_function(wrap_pyfunction!(channel_sums, m)?)?;
    Ok(())
}

/// Batch normalisation of `input` (N, C, *S), optionally fused with a ReLU (`relu=True`
/// returns `max(bn(x), 0)`): returns `(output, mean, invstd)`, the per-channel mean and
/// `1 / sqrt(var + eps)` used (batch statistics in training, running ones in evaluation).
///
/// In training, `running_mean` and `running_var` (both or neither) are updated in place with
/// `momentum` and the unbiased batch variance; in evaluation both are required. The output is
/// written into `out` when given (same shape and dtype as `input`, C-contiguous).
#[pyfunction]
#[pyo3(signature = (input, weight, bias, running_mean, running_var, training, momentum, eps,
                    relu=false, out=None, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
    running_mean: Option<&Bound<'py, PyAny>>,
    running_var: Option<&Bound<'py, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
    relu: bool,
    out: Option<&Bound<'py, PyAny>>,
    workers: Option<isize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let threads = threads_for(workers)?;
    if running_mean.is_some() != running_var.is_some() {
        return Err(PyValueError::new_err(
            "running_mean and running_var must both be given or both be None",
        ));
    }
    if !training && running_mean.is_none() {
        return Err(PyValueError::new_err(
            "running_mean must be defined in evaluation mode",
        ));
    }
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>(input, "input")?;
            let shape = norm_shape(x.shape())?;
            let xd = slice(&x, "input")?;
            let w = borrow_opt::<$t>(weight, "weight")?;
            let b = borrow_opt::<$t>(bias, "bias")?;
            let affine = Affine {
                weight: opt_slice(&w, "weight")?,
                bias: opt_slice(&b, "bias")?,
            };
            let c = shape.channels();
            let (mut mean, mut invstd) = (vec![<$t>::ZERO; c], vec![<$t>::ZERO; c]);
            let y = output_array::<$t>(py, out, x.shape())?;
            let mut yrw = writeable(&y, "out")?;
            let yd = yrw
                .as_slice_mut()
                .map_err(|_| PyValueError::new_err("out must be C-contiguous"))?;
            let outs = ForwardOutputs {
                output: yd,
                mean: &mut mean,
                invstd: &mut invstd,
            };
            let big = shape.len() >= GIL_RELEASE_ELEMENTS;
            if training {
                let mut rm = borrow_rw_opt::<$t>(running_mean, "running_mean")?;
                let mut rv = borrow_rw_opt::<$t>(running_var, "running_var")?;
                let running = match (&mut rm, &mut rv) {
                    (Some(m), Some(v)) => Some(RunningUpdate {
                        mean: m
                            .as_slice_mut()
                            .map_err(|_| not_contiguous("running_mean"))?,
                        var: v
                            .as_slice_mut()
                            .map_err(|_| not_contiguous("running_var"))?,
                        momentum,
                    }),
                    _ => None,
                };
                let stats = Statistics::Batch(running);
                detached(py, big, || {
                    batchnorm::batch_norm_forward(
                        xd, shape, affine, stats, eps, relu, outs, threads,
                    )
                })?;
            } else {
                let rm = borrow_opt::<$t>(running_mean, "running_mean")?;
                let rv = borrow_opt::<$t>(running_var, "running_var")?;
                let (Some(m), Some(v)) = (
                    opt_slice(&rm, "running_mean")?,
                    opt_slice(&rv, "running_var")?,
                ) else {
                    return Err(PyValueError::new_err(
                        "running_mean must be defined in evaluation mode",
                    ));
                };
                let stats = Statistics::Running { mean: m, var: v };
                detached(py, big, || {
                    batchnorm::batch_norm_forward(
                        xd, shape, affine, stats, eps, relu, outs, threads,
                    )
                })?;
            }
            drop(yrw);
            (
                y.into_any(),
                to_numpy(py, &[c], mean)?,
                to_numpy(py, &[c], invstd)?,
            )
        }};
    }
    Ok(match float_kind(input, "input")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// The sum of `input` (N, C, *S) over every axis but the channel, accumulated in float64 and
/// returned as `(C,)` in the input's dtype: a convolution's bias gradient.
#[pyfunction]
#[pyo3(signature = (input, workers=None))]
pub fn channel_sums<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    workers: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>(input, "input")?;
            if x.shape().get(1) == Some(&0) {
                return to_numpy(py, &[0], Vec::<$t>::new());
            }
            let shape = norm_shape(x.shape())?;
            let xd = slice(&x, "input")?;
            let mut sums = vec![<$t>::ZERO; shape.channels()];
            detached(py, shape.len() >= GIL_RELEASE_ELEMENTS, || {
                batchnorm::channel_sums(xd, shape, &mut sums, threads)
            })?;
            to_numpy(py, &[shape.channels()], sums)?
        }};
    }
    Ok(match float_kind(input, "input")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// Gradients of batch normalisation: `(grad_input, grad_weight, grad_bias)`, each `None`
/// where `output_mask` says so (torch's `native_batch_norm_backward`).
///
/// `mean` and `invstd` are what [`batch_norm_forward`] returned; `training` selects the
/// batch-statistics formula. With `relu_output` (the output of a forward call made with
/// `relu=True`) the gradient is first zeroed where that output is `<= 0`. `grad_input` is
/// written into `out` when given.
#[pyfunction]
#[pyo3(signature = (grad_output, input, mean, invstd, weight, training,
                    output_mask=(true, true, true), relu_output=None, out=None, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<'py>(
    py: Python<'py>,
    grad_output: &Bound<'py, PyAny>,
    input: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    invstd: &Bound<'py, PyAny>,
    weight: Option<&Bound<'py, PyAny>>,
    training: bool,
    output_mask: (bool, bool, bool),
    relu_output: Option<&Bound<'py, PyAny>>,
    out: Option<&Bound<'py, PyAny>>,
    workers: Option<isize>,
) -> PyResult<Grads<'py>> {
    let threads = threads_for(workers)?;
    macro_rules! typed {
        ($t:ty) => {{
            let x = borrow::<$t>(input, "input")?;
            let shape = norm_shape(x.shape())?;
            let go = borrow::<$t>(grad_output, "grad_output")?;
            same_shape("grad_output", go.shape(), x.shape())?;
            let ro = borrow_opt::<$t>(relu_output, "relu_output")?;
            if let Some(r) = &ro {
                same_shape("relu_output", r.shape(), x.shape())?;
            }
            let (m, s) = (borrow::<$t>(mean, "mean")?, borrow::<$t>(invstd, "invstd")?);
            let w = borrow_opt::<$t>(weight, "weight")?;
            let saved = Saved {
                input: slice(&x, "input")?,
                mean: slice(&m, "mean")?,
                invstd: slice(&s, "invstd")?,
                weight: opt_slice(&w, "weight")?,
                relu_output: opt_slice(&ro, "relu_output")?,
            };
            let gd = slice(&go, "grad_output")?;
            let c = shape.channels();
            let mut gw = output_mask.1.then(|| vec![<$t>::ZERO; c]);
            let mut gb = output_mask.2.then(|| vec![<$t>::ZERO; c]);
            let gi = if output_mask.0 {
                Some(output_array::<$t>(py, out, x.shape())?)
            } else {
                None
            };
            {
                let mut girw = match &gi {
                    Some(a) => Some(writeable(a, "out")?),
                    None => None,
                };
                let gid = match &mut girw {
                    Some(rw) => Some(
                        rw.as_slice_mut()
                            .map_err(|_| PyValueError::new_err("out must be C-contiguous"))?,
                    ),
                    None => None,
                };
                let outs = BackwardOutputs {
                    grad_input: gid,
                    grad_weight: gw.as_deref_mut(),
                    grad_bias: gb.as_deref_mut(),
                };
                let big = shape.len() >= GIL_RELEASE_ELEMENTS;
                detached(py, big, || {
                    batchnorm::batch_norm_backward(gd, shape, saved, training, outs, threads)
                })?;
            }
            (
                gi.map(|a| a.into_any()),
                gw.map(|v| to_numpy(py, &[c], v)).transpose()?,
                gb.map(|v| to_numpy(py, &[c], v)).transpose()?,
            )
        }};
    }
    Ok(match float_kind(input, "input")? {
        b'f' => typed!(f32),
        _ => typed!(f64),
    })
}

/// `(grad_input, grad_weight, grad_bias)`, each `None` when not asked for.
type Grads<'py> = (
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// `(N, C, prod(S))` of an input of shape `(N, C, *S)`.
fn norm_shape(shape: &[usize]) -> PyResult<NormShape> {
    if shape.len() < 2 {
        return Err(PyValueError::new_err(format!(
            "input must have at least 2 dimensions (N, C, *S), got shape {shape:?}"
        )));
    }
    let inner = shape[2..]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| ConvError::Memory(format!("an input of shape {shape:?} is too large")))?;
    Ok(NormShape::new(shape[0], shape[1], inner)?)
}

fn same_shape(name: &str, got: &[usize], want: &[usize]) -> PyResult<()> {
    if got == want {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{name} has shape {got:?}, input has shape {want:?}: they must be equal"
        )))
    }
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

fn wrong_type(name: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{name} must be a NumPy array of the input's dtype (float32 or float64)"
    ))
}

fn not_contiguous(name: &str) -> PyErr {
    PyTypeError::new_err(format!("{name} must be C-contiguous"))
}

fn borrow<'py, T: NpElement>(
    x: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    let array = x.cast::<PyArrayDyn<T>>().map_err(|_| wrong_type(name))?;
    array.try_readonly().map_err(|e| {
        PyValueError::new_err(format!(
            "{name} overlaps an array written by this call: {e}"
        ))
    })
}

fn borrow_opt<'py, T: NpElement>(
    x: Option<&Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<Option<PyReadonlyArrayDyn<'py, T>>> {
    x.map(|a| borrow(a, name)).transpose()
}

fn borrow_rw_opt<'py, T: NpElement>(
    x: Option<&Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<Option<PyReadwriteArrayDyn<'py, T>>> {
    x.map(|a| {
        let array = a.cast::<PyArrayDyn<T>>().map_err(|_| wrong_type(name))?;
        writeable(array, name)
    })
    .transpose()
}

fn writeable<'py, T: NpElement>(
    array: &Bound<'py, PyArrayDyn<T>>,
    name: &str,
) -> PyResult<PyReadwriteArrayDyn<'py, T>> {
    array.try_readwrite().map_err(|e| {
        PyValueError::new_err(format!(
            "{name} must be writeable and not overlap another argument: {e}"
        ))
    })
}

/// The array's elements as one C-order slice (`TypeError` for any other layout).
fn slice<'a, T: NpElement>(x: &'a PyReadonlyArrayDyn<'_, T>, name: &str) -> PyResult<&'a [T]> {
    x.as_slice().map_err(|_| not_contiguous(name))
}

fn opt_slice<'a, T: NpElement>(
    x: &'a Option<PyReadonlyArrayDyn<'_, T>>,
    name: &str,
) -> PyResult<Option<&'a [T]>> {
    x.as_ref().map(|a| slice(a, name)).transpose()
}

/// `out` after checking its shape, or a new uninitialised array of `shape`.
fn output_array<'py, T: NpElement + NormFloat>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    match out {
        Some(o) => {
            let array = o
                .cast::<PyArrayDyn<T>>()
                .map_err(|_| wrong_type("out"))?
                .clone();
            if array.shape() != shape {
                return Err(PyValueError::new_err(format!(
                    "out has shape {:?}, expected {shape:?}",
                    array.shape()
                )));
            }
            if !array.is_c_contiguous() {
                return Err(PyValueError::new_err("out must be C-contiguous"));
            }
            Ok(array)
        }
        // SAFETY: the core writes every element of its output before returning Ok; on an
        // error the array is dropped unseen.
        None => Ok(unsafe { PyArrayDyn::<T>::new(py, IxDyn(shape), false) }),
    }
}

/// Runs `f`, with the GIL released when `big`.
fn detached<R: Send>(
    py: Python<'_>,
    big: bool,
    f: impl FnOnce() -> Result<R, ConvError> + Send,
) -> PyResult<R> {
    if big {
        Ok(py.detach(f)?)
    } else {
        Ok(f()?)
    }
}

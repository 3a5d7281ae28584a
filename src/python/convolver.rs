//! `_core.Convolver`: a convolution prepared once for a kernel and a signal shape.

use std::mem::MaybeUninit;

use numpy::ndarray::ArrayViewD;
use numpy::{
    Complex32, Complex64, Element as NpElement, IntoPyArray, PyArrayDescrMethods,
    PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::python::interrupt::detach_interruptible;
use crate::python::layout::c_order;

/// Output length from which a convolver call can be stopped by Ctrl-C (~10 ms of transforms).
const CONVOLVER_INTERRUPTIBLE_LEN: usize = 1 << 20;

use crate::direct::{ArrayRef, Orientation, Plan};
use crate::dispatch::{resolve, Computable, Request};
use crate::error::ConvError;
use crate::fft::domain::{ComplexDomain, Domain, RealDomain};
use crate::fft::layout::FftLayout;
use crate::fft::plans::FftFloat;
use crate::fft::prepared::Prepared;
use crate::geometry::{checked_size, Mode};
use crate::method::Method;
use crate::parallel::{available_cores, resolve_workers};
use crate::simd::active_isa;

/// The prepared state of each dtype (FFT methods), or the kernel for the direct method.
enum State {
    Direct(Py<PyAny>),
    R32(Prepared<f32, RealDomain<f32>>),
    R64(Prepared<f64, RealDomain<f64>>),
    C64(Prepared<f32, ComplexDomain<f32>>),
    C128(Prepared<f64, ComplexDomain<f64>>),
}

/// A convolution prepared for one kernel and one signal shape; call it with signals.
#[pyclass(module = "fastconv._core", name = "Convolver", frozen)]
pub struct Convolver {
    state: State,
    method: &'static str,
    x_shape: Vec<usize>,
    out_shape: Vec<usize>,
    mode: Mode,
    batch_ndim: usize,
    orient: Orientation,
    threads: usize,
    dtype: u8,
}

#[pymethods]
impl Convolver {
    /// Prepares the correlation (convolution when `flip`) of signals of shape `shape` and the
    /// dtype of `kernel` with `kernel`; `method` is "auto", "direct", "fft", "fft_any" or "oa".
    #[new]
    #[pyo3(signature = (kernel, shape, mode, batch_ndim=0, flip=true, conj=false, method="auto", workers=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kernel: &Bound<'_, PyAny>,
        shape: Vec<usize>,
        mode: &str,
        batch_ndim: usize,
        flip: bool,
        conj: bool,
        method: &str,
        workers: Option<usize>,
    ) -> PyResult<Self> {
        let mode = Mode::parse(mode)?;
        let request = Request::parse(method, None)?;
        let threads = resolve_workers(workers)?;
        let orient = Orientation { flip, conj };
        let dtype = kernel
            .cast::<PyUntypedArray>()
            .map(|a| a.dtype().char())
            .map_err(|_| unsupported())?;
        let args = Args {
            shape: &shape,
            mode,
            batch_ndim,
            orient,
            request: &request,
        };
        let (state, method, out_shape) = match dtype {
            b'f' => prepare::<f32, _>(kernel, &args, RealDomain::new, State::R32)?,
            b'd' => prepare::<f64, _>(kernel, &args, RealDomain::new, State::R64)?,
            b'F' => prepare::<Complex32, _>(kernel, &args, ComplexDomain::new, State::C64)?,
            b'D' => prepare::<Complex64, _>(kernel, &args, ComplexDomain::new, State::C128)?,
            _ => return Err(unsupported()),
        };
        Ok(Convolver {
            state,
            method,
            x_shape: shape,
            out_shape,
            mode,
            batch_ndim,
            orient,
            threads,
            dtype,
        })
    }

    /// Convolves `x` (the prepared shape and dtype); the GIL is released while it runs.
    fn __call__<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let dtype = x
            .cast::<PyUntypedArray>()
            .map(|a| a.dtype().char())
            .map_err(|_| unsupported())?;
        if dtype != self.dtype {
            return Err(PyTypeError::new_err(format!(
                "this convolver was prepared for dtype '{}', got '{}'",
                self.dtype as char, dtype as char
            )));
        }
        match &self.state {
            State::Direct(kernel) => self.direct(py, x, kernel.bind(py)),
            State::R32(p) => apply::<f32, _>(py, p, x, self.threads),
            State::R64(p) => apply::<f64, _>(py, p, x, self.threads),
            State::C64(p) => apply::<Complex32, _>(py, p, x, self.threads),
            State::C128(p) => apply::<Complex64, _>(py, p, x, self.threads),
        }
    }

    /// The method this convolver runs: "direct", "fft" or "oa".
    #[getter]
    fn method(&self) -> &'static str {
        self.method
    }

    /// The signal shape it was prepared for.
    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.x_shape.clone()
    }

    /// The shape of each output.
    #[getter]
    fn out_shape(&self) -> Vec<usize> {
        self.out_shape.clone()
    }
}

impl Convolver {
    fn direct<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        kernel: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape = x.cast::<PyUntypedArray>()?.shape().to_vec();
        if shape != self.x_shape {
            return Err(PyValueError::new_err(format!(
                "this convolver was prepared for signals of shape {:?}, got {:?}",
                self.x_shape, shape
            )));
        }
        let mode = match self.mode {
            Mode::Full => "full",
            Mode::Same => "same",
            Mode::Valid => "valid",
            Mode::SameLowCentre => "same_low_centre",
        };
        super::convolve::correlate(
            py,
            x,
            kernel,
            mode,
            self.batch_ndim,
            self.orient.flip,
            self.orient.conj,
            Some(self.threads as isize),
            None,
            "direct",
            None,
        )
    }
}

struct Args<'a> {
    shape: &'a [usize],
    mode: Mode,
    batch_ndim: usize,
    orient: Orientation,
    request: &'a Request,
}

type Prepped = (State, &'static str, Vec<usize>);

fn prepare<S, D>(
    kernel: &Bound<'_, PyAny>,
    args: &Args<'_>,
    make_domain: impl FnOnce(&[usize]) -> D,
    wrap: impl FnOnce(Prepared<<S as Real>::F, D>) -> State,
) -> PyResult<Prepped>
where
    S: Computable + NpElement + Real,
    D: Domain<S::F, Sample = S>,
{
    let k = kernel.extract::<PyReadonlyArrayDyn<'_, S>>()?;
    let plan = Plan::new(args.shape, k.shape(), args.batch_ndim, args.mode)?;
    let out_shape = plan.out_shape();
    // Choose from shapes (no signal yet): a non-finite kernel runs direct.
    let kview = k.as_array();
    let kstd = c_order(kview)?;
    let kdata = kstd
        .as_slice()
        .ok_or_else(|| PyValueError::new_err("internal layout"))?;
    let method = match args.request {
        Request::Auto => crate::method::choose(&plan, S::KIND, active_isa(), available_cores()),
        _ => resolve::<S>(args.request, &plan, &[], &[], active_isa(), 1),
    };
    let method = if S::all_finite(kdata) {
        method
    } else {
        Method::Direct
    };
    let layout = match &method {
        Method::Direct => {
            let copy = kstd
                .to_owned()
                .into_pyarray(kernel.py())
                .into_any()
                .unbind();
            return Ok((State::Direct(copy), "direct", out_shape));
        }
        Method::Fft => FftLayout::whole(&plan.axes, S::REAL),
        Method::OverlapSave(block) => {
            let block = if block.is_empty() {
                crate::method::overlap_save_block(&plan)
            } else {
                block.clone()
            };
            FftLayout::overlap_save(&plan.axes, &block, S::REAL)?
        }
    };
    let w = ArrayRef {
        data: kdata,
        shape: k.shape(),
    };
    let prepared = Prepared::new(args.shape, w, plan, layout, args.orient, make_domain)?;
    Ok((wrap(prepared), method.name(), out_shape))
}

fn apply<'py, S, D>(
    py: Python<'py>,
    p: &Prepared<S::F, D>,
    x: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<Bound<'py, PyAny>>
where
    S: Computable + NpElement + Real,
    D: Domain<S::F, Sample = S>,
{
    let x = x.extract::<PyReadonlyArrayDyn<'py, S>>()?;
    let view: ArrayViewD<'_, S> = x.as_array();
    let out_shape = p.out_shape();
    let len = checked_size(&out_shape)?;
    let mut out: Vec<S> = Vec::new();
    out.try_reserve_exact(len)
        .map_err(|_| pyo3::exceptions::PyMemoryError::new_err("cannot allocate the output"))?;
    // Interruptible when the signal is large (the transforms then take a while).
    let long = len >= CONVOLVER_INTERRUPTIBLE_LEN;
    detach_interruptible(py, long, || -> Result<(), ConvError> {
        let xs = c_order(view)?;
        let data = xs
            .as_slice()
            .ok_or_else(|| ConvError::value("internal layout"))?;
        let spare: &mut [MaybeUninit<S>] = &mut out.spare_capacity_mut()[..len];
        p.apply(
            ArrayRef {
                data,
                shape: xs.shape(),
            },
            threads,
            spare,
        )
    })?;
    // SAFETY: `apply` returned Ok, so every element of `out[..len]` was written.
    unsafe { out.set_len(len) };
    let array = numpy::ndarray::Array::from_shape_vec(numpy::ndarray::IxDyn(&out_shape), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py).into_any())
}

/// Sample types with their float type and whether they are real.
pub trait Real {
    /// The float type of the sample.
    type F: FftFloat;
    /// True for real samples (half-spectrum transforms).
    const REAL: bool;
}
impl Real for f32 {
    type F = f32;
    const REAL: bool = true;
}
impl Real for f64 {
    type F = f64;
    const REAL: bool = true;
}
impl Real for Complex32 {
    type F = f32;
    const REAL: bool = false;
}
impl Real for Complex64 {
    type F = f64;
    const REAL: bool = false;
}

fn unsupported() -> PyErr {
    PyTypeError::new_err(
        "Convolver needs NumPy arrays of float32, float64, complex64 or complex128",
    )
}

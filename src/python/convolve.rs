//! `_core.correlate`: N-D direct correlation/convolution on NumPy arrays.

use std::mem::MaybeUninit;

use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{
    Complex32, Complex64, Element as NpElement, PyArray1, PyArrayDescrMethods, PyArrayDyn,
    PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::python::threads::threads_for;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyString, PyStringMethods, PyTuple};

use crate::method::{choose, estimate, Costs, Kind};

use crate::direct::{correlate_1d_small, ArrayRef, Orientation, Plan};
use crate::dispatch::{correlate_with, resolve, Computable, Request};
use crate::error::ConvError;
use crate::geometry::{checked_size, AxisGeometry, Mode};
use crate::method::Method;
use crate::parallel::resolve_workers;
use crate::python::interrupt::{detach_interruptible, INTERRUPTIBLE_WORK};
use crate::python::layout::c_order;
use crate::simd::{active_isa, HasRowKernel, Isa};

/// Correlates `in1` with `in2` along their trailing axes (convolves when `flip`).
///
/// Both arrays must have the same dtype, one of float32, float64, complex64, complex128 or
/// int64, and the same number of dimensions; the first `batch_ndim` axes broadcast.
#[pyfunction]
///
/// `isa` picks the kernels' instruction set for this call ("scalar", "avx2", "avx512"; an
/// unsupported one falls back to the portable kernel), so tests can exercise every path.
///
/// `method` is "direct", "fft" (one whole-array transform), "oa" (overlap-save tiles of
/// `block` outputs per axis, chosen by cost when omitted) or "auto" (the cost model; direct
/// when an input holds NaN or infinity).
#[pyo3(signature = (in1, in2, mode, batch_ndim=0, flip=false, conj=false, workers=None, isa=None,
                    method="direct", block=None))]
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
    method: &str,
    block: Option<Vec<usize>>,
) -> PyResult<Bound<'py, PyAny>> {
    let request = Request::parse(method, block)?;
    let mode = Mode::parse(mode)?;
    let isa = match isa {
        None => active_isa(),
        Some(name) => Isa::parse(name)?,
    };
    let threads = threads_for(workers)?;
    let call = Call {
        request,
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

/// The method `method="auto"` would run for these inputs (looking at their values: an input
/// holding NaN or infinity runs direct), and the cost model's estimates in seconds:
/// `(name, {"direct": s, "fft": s, "oa": s})`.
#[pyfunction]
#[pyo3(signature = (in1, in2, mode, batch_ndim=0, workers=None))]
pub fn choose_method<'py>(
    py: Python<'py>,
    in1: &Bound<'py, PyAny>,
    in2: &Bound<'py, PyAny>,
    mode: &str,
    batch_ndim: usize,
    workers: Option<isize>,
) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
    let mode = Mode::parse(mode)?;
    let threads = threads_for(workers)?;
    let dtype = in1.cast::<PyUntypedArray>().map(|a| a.dtype().char());
    macro_rules! typed {
        ($t:ty) => {{
            let a = in1
                .extract::<PyReadonlyArrayDyn<'py, $t>>()
                .map_err(|_| unsupported())?;
            let b = in2
                .extract::<PyReadonlyArrayDyn<'py, $t>>()
                .map_err(|_| unsupported())?;
            let plan = Plan::new(a.shape(), b.shape(), batch_ndim, mode)?;
            let (a, b) = (a.as_array(), b.as_array());
            let (a, b) = (c_order(a)?, c_order(b)?);
            let (Some(ad), Some(bd)) = (a.as_slice(), b.as_slice()) else {
                return Err(PyValueError::new_err(
                    "internal: standard layout is not contiguous",
                ));
            };
            let isa = active_isa();
            let m = resolve::<$t>(&Request::Auto, &plan, ad, bd, isa, threads);
            (
                m.name(),
                estimate(&plan, <$t as Computable>::KIND, isa, threads),
            )
        }};
    }
    let (name, costs) = match dtype {
        Ok(b'd') => typed!(f64),
        Ok(b'f') => typed!(f32),
        Ok(b'D') => typed!(Complex64),
        Ok(b'F') => typed!(Complex32),
        Ok(b'l' | b'q') => typed!(i64),
        _ => return Err(unsupported()),
    };
    Ok((name, costs_dict(py, &costs)?))
}

/// The cost model's pick and estimates from shapes alone (no data is read):
/// `dtype` is a NumPy type character among "f", "d", "F", "D".
#[pyfunction]
#[pyo3(signature = (shape1, shape2, mode, dtype, batch_ndim=0, workers=None))]
pub fn method_costs<'py>(
    py: Python<'py>,
    shape1: Vec<usize>,
    shape2: Vec<usize>,
    mode: &str,
    dtype: &str,
    batch_ndim: usize,
    workers: Option<isize>,
) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
    let plan = Plan::new(&shape1, &shape2, batch_ndim, Mode::parse(mode)?)?;
    let kind = match dtype {
        "f" => Kind::F32,
        "d" => Kind::F64,
        "F" => Kind::C64,
        "D" => Kind::C128,
        other => {
            return Err(PyValueError::new_err(format!(
                "unsupported dtype {other:?}"
            )))
        }
    };
    // Without `workers`, the machine's core count: the basis of every automatic choice.
    let threads = match workers {
        None => crate::parallel::available_cores(),
        Some(_) => threads_for(workers)?,
    };
    let method = choose(&plan, kind, active_isa(), threads);
    let costs = estimate(&plan, kind, active_isa(), threads);
    Ok((method.name(), costs_dict(py, &costs)?))
}

fn costs_dict<'py>(py: Python<'py>, costs: &Costs) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("direct", costs.direct * 1e-9)?;
    dict.set_item("fft", costs.fft * 1e-9)?;
    dict.set_item("oa", costs.oa * 1e-9)?;
    Ok(dict)
}

/// The common 1-D call, decided and run in Rust: two non-empty 1-D arrays of one dtype among
/// float32, float64, complex64, complex128 and a mode string. Returns `None` for anything
/// else (the caller then takes its full Python path). `numpy_rules`: the longer input plays
/// the signal (NumPy); otherwise SciPy's rules ('same' keeps `in1`'s length). Correlation
/// conjugates `in2` for complex input. Runs `method` ("auto" or "direct") on `workers`
/// threads (the default count when `None`). Any other method, and `workers` other than None
/// or a positive `int`, takes the Python path, which validates them.
#[pyfunction]
#[pyo3(signature = (in1, in2, mode, flip, numpy_rules, method, workers=None))]
#[allow(clippy::too_many_arguments)]
pub fn fast_1d<'py>(
    py: Python<'py>,
    in1: &Bound<'py, PyAny>,
    in2: &Bound<'py, PyAny>,
    mode: &Bound<'py, PyAny>,
    flip: bool,
    numpy_rules: bool,
    method: &Bound<'py, PyAny>,
    workers: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    // Anything but None or a plain positive int (a bool, a float, -1) takes the Python path,
    // which validates it.
    let threads = if let Some(workers) = workers {
        if !workers.is_exact_instance_of::<PyInt>() {
            return Ok(None);
        }
        match workers.extract::<isize>() {
            Ok(w) if w >= 1 => w as usize,
            _ => return Ok(None),
        }
    } else {
        resolve_workers(None)?
    };
    let Ok(method) = method.cast::<PyString>() else {
        return Ok(None);
    };
    let request = match &*method.to_cow()? {
        "auto" => Request::Auto,
        "direct" => Request::Exactly(Method::Direct),
        _ => return Ok(None),
    };
    let (Ok(a), Ok(b)) = (in1.cast::<PyUntypedArray>(), in2.cast::<PyUntypedArray>()) else {
        return Ok(None);
    };
    let Ok(mode) = mode.cast::<PyString>() else {
        return Ok(None);
    };
    let Ok(mode) = Mode::parse(&mode.to_cow()?) else {
        return Ok(None);
    };
    if a.ndim() != 1 || b.ndim() != 1 || mode == Mode::SameLowCentre {
        return Ok(None);
    }
    let (dt, dt2) = (a.dtype(), b.dtype());
    if !dt.is_equiv_to(&dt2) {
        return Ok(None);
    }
    let (n, k) = (a.shape()[0], b.shape()[0]);
    if n == 0 || k == 0 {
        return Ok(None);
    }
    if !numpy_rules && mode == Mode::Same && n < k {
        return Ok(None); // SciPy's N-D path (it multiplies its zero padding): the Python path
    }
    let swap = k > n && (numpy_rules || mode == Mode::Full);
    if swap && !flip {
        return Ok(None); // a swapped correlation needs reversing: the Python path does it
    }
    let (x, w) = if swap { (in2, in1) } else { (in1, in2) };
    let call = Call {
        request,
        isa: active_isa(),
        mode,
        batch_ndim: 0,
        orient: Orientation { flip, conj: false },
        threads,
    };
    macro_rules! typed {
        ($t:ty, $complex:expr) => {{
            let orient = Orientation {
                flip,
                conj: $complex && !flip,
            };
            if let Some(out) = small_1d::<$t>(py, x, w, orient, &call) {
                return Ok(Some(out));
            }
            let (x, w) = (
                x.extract::<PyReadonlyArrayDyn<'py, $t>>()?,
                w.extract::<PyReadonlyArrayDyn<'py, $t>>()?,
            );
            let call = Call { orient, ..call };
            call.run::<$t>(py, x.as_array(), w.as_array()).map(Some)
        }};
    }
    match dt.char() {
        b'd' => typed!(f64, false),
        b'f' => typed!(f32, false),
        b'D' => typed!(Complex64, true),
        b'F' => typed!(Complex32, true),
        _ => Ok(None),
    }
}

/// A small 1-D call (fewer multiply-adds than [`GIL_RELEASE_WORK`], so it keeps the GIL) on
/// aligned contiguous inputs, run direct without the general path's NumPy borrow
/// registration, array views and plan ([`correlate_1d_small`], which may share the row with
/// a spinning helper thread; the helper needs no GIL). The fixed cost of a call fell from
/// about 0.95 to 0.37 us (16 samples * 3 taps, float64); 1e4 * 3 float64 from 2.9 to 2.3 us
/// on one thread, and to 1.8 us on two. `None` when the call does not qualify (or its
/// geometry is refused: the general path then raises the error); `call.request` must be
/// direct or "auto".
fn small_1d<'py, T>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    orient: Orientation,
    call: &Call,
) -> Option<Bound<'py, PyAny>>
where
    T: Computable + NpElement + HasRowKernel,
{
    let (x, w) = (x.cast::<PyArray1<T>>().ok()?, w.cast::<PyArray1<T>>().ok()?);
    let g = AxisGeometry::new(x.len(), w.len(), call.mode).ok()?;
    if g.m.saturating_mul(g.k.min(g.n)) >= GIL_RELEASE_WORK {
        return None;
    }
    let aligned = |a: &Bound<'py, PyArray1<T>>| a.is_contiguous() && a.data().is_aligned();
    if !aligned(x) || !aligned(w) {
        return None;
    }
    // SAFETY: both are contiguous and aligned (checked); no borrow is registered, but the GIL
    // is held from here until the output is returned, so no Python code (in this thread or
    // another) can write to them meanwhile. Native code that writes to an array without the
    // GIL could, but NumPy's own C code (a ufunc with `out=`) does that without registering a
    // borrow either, so registering one would not stop it.
    let (xs, ws) = unsafe { (x.as_slice().ok()?, w.as_slice().ok()?) };
    if let Request::Auto = call.request {
        let plan = Plan::new(&[g.n], &[g.k], 0, call.mode).ok()?;
        if resolve(&call.request, &plan, xs, ws, call.isa, call.threads) != Method::Direct {
            return None;
        }
    }
    // SAFETY: written in full by `correlate_1d_small` before Python sees it; an allocation
    // below GIL_RELEASE_WORK elements does not fail in a working process.
    let out = unsafe { PyArray1::<T>::new(py, g.m, false) };
    {
        // SAFETY: the array is new: nothing else refers to it.
        let slice = unsafe { out.as_slice_mut() }.ok()?;
        // SAFETY: the kernel only writes values to it.
        let slice = unsafe { write_only(slice) };
        correlate_1d_small(call.isa, xs, ws, call.mode, orient, call.threads, slice).ok()?;
    }
    Some(out.into_any())
}

/// The transform length fastconv uses for at least `n` points: the smallest 7-smooth length
/// (an even one when `real`).
#[pyfunction]
#[pyo3(signature = (n, real=true))]
pub fn fft_len(n: usize, real: bool) -> usize {
    if real {
        crate::fft::sizes::fast_real_len(n)
    } else {
        crate::fft::sizes::fast_len(n)
    }
}

/// `(start, output length)` of one axis: the single source of the mode rules for Python code
/// that pads explicitly (boundary modes).
#[pyfunction]
pub fn axis_geometry(n: usize, k: usize, mode: &str) -> PyResult<(isize, usize)> {
    let g = AxisGeometry::new(n, k, Mode::parse(mode)?)?;
    Ok((g.start, g.m))
}

/// A fresh output array's elements as the kernels take them: possibly uninitialised, to be
/// written.
///
/// # Safety
/// Nothing may store an uninitialised value through the returned slice (`MaybeUninit<T>` has
/// `T`'s layout, but `T`'s elements must stay initialised).
unsafe fn write_only<T>(out: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: same layout; the contract above keeps every element initialised.
    unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len()) }
}

/// The plain-Rust arguments of one call.
struct Call {
    request: Request,
    isa: Isa,
    mode: Mode,
    batch_ndim: usize,
    orient: Orientation,
    threads: usize,
}

/// Outputs from this size up are allocated by `numpy.empty` (huge pages, see [`empty_array`]);
/// smaller ones as a Rust `Vec` handed to NumPy, which skips a Python call (~0.3 us, a fifth of
/// a small call's cost). 1 MiB is where the page-fault saving starts to matter (measured with
/// 2-D float64 outputs of 0.5-32 MiB).
const LARGE_OUTPUT_BYTES: usize = 1 << 20;

/// Calls with fewer multiply-adds than this (about 2 us of one core) keep the GIL: releasing
/// it would cost a noticeable fraction of the call, and other threads wait at most that long.
const GIL_RELEASE_WORK: usize = 1 << 16;

impl Call {
    fn run<'py, T>(
        &self,
        py: Python<'py>,
        a: ArrayViewD<'_, T>,
        b: ArrayViewD<'_, T>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: Computable + NpElement,
    {
        let plan = Plan::new(a.shape(), b.shape(), self.batch_ndim, self.mode)?;
        let out_shape = plan.out_shape();
        let len = checked_size(&out_shape)?;
        let out = if len.saturating_mul(std::mem::size_of::<T>()) < LARGE_OUTPUT_BYTES {
            // SAFETY: the array is fully written by `compute` before Python can see it (on an
            // error it is dropped unseen). A NumPy allocation this small (< 1 MiB) does not fail
            // in a working process.
            unsafe { PyArrayDyn::<T>::new(py, IxDyn(&out_shape), false) }
        } else {
            empty_array::<T>(py, &out_shape)?
        };
        {
            let mut out_rw = out
                .try_readwrite()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            let out_slice = out_rw
                .as_slice_mut()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            // SAFETY: the kernels only write values to it.
            let out_slice = unsafe { write_only(out_slice) };
            self.compute(py, &plan, a, b, out_slice)?;
        }
        Ok(out.into_any())
    }

    /// Runs the plan into `out`, with the GIL released unless the call is tiny.
    fn compute<T: Computable>(
        &self,
        py: Python<'_>,
        plan: &Plan,
        a: ArrayViewD<'_, T>,
        b: ArrayViewD<'_, T>,
        out: &mut [MaybeUninit<T>],
    ) -> PyResult<()> {
        let run = || -> Result<(), ConvError> {
            // Non-contiguous, Fortran-order and negative-stride views are copied once into C
            // order here, outside the GIL; contiguous inputs are borrowed as they are.
            let a = c_order(a)?;
            let b = c_order(b)?;
            let (Some(ad), Some(bd)) = (a.as_slice(), b.as_slice()) else {
                return Err(ConvError::value(
                    "internal: standard layout is not contiguous",
                ));
            };
            let x = ArrayRef {
                data: ad,
                shape: a.shape(),
            };
            let w = ArrayRef {
                data: bd,
                shape: b.shape(),
            };
            let method = resolve(&self.request, plan, x.data, w.data, self.isa, self.threads);
            correlate_with(
                &method,
                self.isa,
                plan,
                x,
                w,
                self.orient,
                self.threads,
                out,
            )
        };
        // Releasing and re-taking the GIL costs ~0.1 us: not worth it for calls of a few us.
        let work = plan.work();
        if work < GIL_RELEASE_WORK {
            run()?;
        } else {
            detach_interruptible(py, work >= INTERRUPTIBLE_WORK, run)?;
        }
        Ok(())
    }
}

/// An uninitialised C-order array from `numpy.empty`: NumPy's allocator (which asks the kernel
/// for huge pages on large arrays, so a fresh 32 MB output costs 16 page faults, not 8192)
/// and NumPy's own `MemoryError`/`ValueError` for sizes it cannot allocate.
fn empty_array<'py, T: NpElement>(
    py: Python<'py>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let empty = EMPTY.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("numpy")?.getattr("empty")?.unbind())
    })?;
    let shape = PyTuple::new(py, shape)?;
    let array = empty.bind(py).call1((shape, T::get_dtype(py)))?;
    Ok(array.cast_into::<PyArrayDyn<T>>()?)
}

"""Pure-Python reference implementations of the NumPy/SciPy convolution API.

Every function here is a slow, literal transcription of the definition of a
NumPy or SciPy routine, written as plain loops over Python numbers (``int``,
``float``, ``complex``).  They are the test oracle for the fast paths, so they
reproduce the peers' observable behaviour exactly: output values, shape and
dtype, the order in which arguments are validated and the exception classes
(and, where practical, messages) raised for bad input.

NumPy is used only to convert inputs (``np.asarray``, ``.ravel().tolist()``,
``.shape``, ``.dtype``, ``np.result_type``) and to build the output array at the
end; all arithmetic is done on Python numbers.

Arithmetic model
----------------
* Inputs are first converted to the result dtype (as the peers do), then to
  Python numbers.
* Integer results are computed exactly with Python ints and then wrapped to the
  bit width of the output dtype (two's complement), which is what the peers'
  C accumulators produce.  ``bool`` results are ``sum != 0`` (NumPy's
  ``BOOL_dot`` is a logical OR of ANDs).
* Floating results are accumulated in double precision (complex: Python
  ``complex``) and rounded once to the output dtype.  For float16/float32 and
  complex64 the peers accumulate in lower precision, so they may differ from
  this oracle by rounding error (compare with a tolerance); for float64 and
  complex128 the summation order may differ.

Mode conventions
----------------
All functions are expressed through one helper, :func:`_correlate_window`,
which computes ``out[o] = sum_j x[o + lag + j] * k[j]`` (N-D, per-axis lag);
convolution is correlation with the kernel reversed.  The mode only selects the
window of the full output (see :func:`_span`): ``full`` starts at 0,
``valid`` at ``min(n1, n2) - 1``; the start of ``same`` differs between the
peers and is documented at each call site.
"""

import itertools
import math
import operator

import numpy as np

__all__ = [
    "convolution_matrix",
    "convolve",
    "convolve2d",
    "correlate",
    "correlate2d",
    "correlation_lags",
    "np_convolve",
    "np_correlate",
]

_SCIPY_MODES = {"valid": 0, "same": 1, "full": 2}
_SCIPY_BOUNDARIES = {
    "fill": 0,
    "pad": 0,
    "wrap": 2,
    "circular": 2,
    "symm": 1,
    "symmetric": 1,
    "reflect": 4,
}
_FILL, _SYMM, _WRAP, _REFLECT = 0, 1, 2, 4
_NP_MODES = ("valid", "same", "full")
_INT32_RANGE = range(-(2**31), 2**31)

_MSG_SCIPY_MODE = "Acceptable mode flags are 'valid', 'same', or 'full'."
_MSG_SCIPY_BOUNDARY = (
    "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and 'symmetric' (or 'symm')."
)
_MSG_VALID = "For 'valid' mode, one must be at least as large as the other in every dimension"
_MSG_NP_MODE_INEXACT = "Use one of 'valid', 'same', or 'full' for convolve/correlate mode"
_MSG_NP_MODE_TYPE = "convolve/correlate mode not understood"
_MSG_NP_TOO_DEEP = "object too deep for desired array"
_MSG_NP_TOO_DEEP_SEQ = (
    "setting an array element with a sequence. The requested array would exceed the "
    "maximum number of dimension of 1."
)
_MSG_FILL_CAST = (
    "could not cast `fillvalue` directly to the output type (it was first converted to complex)."
)
_MSG_SCIPY_CRASH = (
    "{name}: boundary 'wrap'/'symm' with an empty in1 and a non-empty output; "
    "scipy.signal divides by zero here (the process dies with SIGFPE)"
)


# --------------------------------------------------------------------------------------
# Conversions in and out
# --------------------------------------------------------------------------------------


def _values(arr, dtype):
    """Return the elements of ``arr`` cast to ``dtype``, as a flat C-order list."""
    return np.asarray(arr, dtype=dtype).ravel().tolist()


def _conj(value):
    """Complex conjugate of a Python number (identity for bool/int/float)."""
    return value.conjugate()


def _wrap(value, dtype):
    """Wrap a Python int to the two's complement range of an integer dtype."""
    bits = 8 * dtype.itemsize
    value &= (1 << bits) - 1
    if dtype.kind == "i" and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _build(values, shape, dtype):
    """Build the output array of ``dtype`` and ``shape`` from exact Python results."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([v != 0 for v in values], dtype=dtype).reshape(shape)
    if dtype.kind in "iu":
        return np.array([_wrap(v, dtype) for v in values], dtype=dtype).reshape(shape)
    wide = np.complex128 if dtype.kind == "c" else np.float64
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array(values, dtype=wide).astype(dtype).reshape(shape)


def _size(shape):
    """Number of elements of an array of ``shape``."""
    return math.prod(shape)


def _shape_str(shape):
    """Format a shape the way NumPy's error messages do, e.g. ``(2,3)``."""
    inner = ",".join(str(n) for n in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


# --------------------------------------------------------------------------------------
# The one loop: full correlation at an arbitrary offset
# --------------------------------------------------------------------------------------


def _flat_position(index, shape):
    """C-order flat position of ``index`` in ``shape``, or None when out of bounds."""
    position = 0
    for i, n in zip(index, shape):
        if not 0 <= i < n:
            return None
        position = position * n + i
    return position


def _zero_sampler(x, shape):
    """Zero padding whose zeros are multiplied too (SciPy's N-D kernel: 0*inf is nan)."""

    def sample(index):
        position = _flat_position(index, shape)
        return 0 if position is None else x[position]

    return sample


def _skip_sampler(x, shape):
    """Out-of-bounds terms are skipped entirely (NumPy's dot over the overlap)."""

    def sample(index):
        position = _flat_position(index, shape)
        return None if position is None else x[position]

    return sample


def _correlate_window(sample, kernel, kernel_shape, lags, out_shape):
    """Correlate at an offset: ``out[o] = sum_j sample(o + lags + j) * kernel[j]``.

    ``kernel`` is a flat C-order list; ``sample`` maps an N-D index of the
    signal to a value, or to None for a term that must be skipped.  Returns the
    flat C-order list of sums (an empty sum is the int 0).
    """
    kernel_indices = list(itertools.product(*(range(n) for n in kernel_shape)))
    out = []
    for o in itertools.product(*(range(n) for n in out_shape)):
        base = [oi + lag for oi, lag in zip(o, lags)]
        acc = 0
        for j, k in zip(kernel_indices, kernel):
            x = sample(tuple(b + ji for b, ji in zip(base, j)))
            if x is not None:
                acc += x * k
        out.append(acc)
    return out


def _span(n1, n2, mode, same_start, same_length):
    """Window ``(start, length)`` of one axis of the full output selected by ``mode``.

    The full output of a signal of length ``n1`` and a kernel of length ``n2``
    has ``n1 + n2 - 1`` points; index ``p`` of it is lag ``p - (n2 - 1)``.
    """
    if mode == "full":
        return 0, n1 + n2 - 1
    if mode == "valid":
        return min(n1, n2) - 1, abs(n1 - n2) + 1
    return same_start, same_length


def _windowed(sample, kernel, kernel_shape, spans):
    """Run :func:`_correlate_window` over per-axis ``(start, length)`` spans."""
    lags = [start - (n2 - 1) for (start, _), n2 in zip(spans, kernel_shape)]
    out_shape = tuple(length for _, length in spans)
    return _correlate_window(sample, kernel, kernel_shape, lags, out_shape), out_shape


# --------------------------------------------------------------------------------------
# numpy.convolve / numpy.correlate
# --------------------------------------------------------------------------------------


def _np_mode(mode):
    """Parse a mode the way NumPy's ``PyArray_CorrelatemodeConverter`` does."""
    if isinstance(mode, str):
        if mode in _NP_MODES:
            return str(mode)
        if mode[:1] in ("v", "V", "s", "S", "f", "F"):
            raise ValueError(_MSG_NP_MODE_INEXACT)
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    if isinstance(mode, (bool, np.bool_)):
        raise TypeError(_MSG_NP_MODE_TYPE)
    try:
        number = operator.index(mode)
    except TypeError:
        raise TypeError(_MSG_NP_MODE_TYPE) from None
    if number not in _INT32_RANGE:
        raise TypeError(_MSG_NP_MODE_TYPE)
    if number not in (0, 1, 2):
        raise ValueError("integer convolve/correlate mode must be 0, 1, or 2")
    return _NP_MODES[number]


def _np_vector(obj):
    """Convert ``obj`` as ``PyArray_FromAny(obj, ..., 1, 1)`` does (1-D or ValueError)."""
    arr = np.asarray(obj)
    if arr.ndim == 0:
        raise ValueError("object of too small depth for desired array")
    if arr.ndim > 1:
        raise ValueError(_MSG_NP_TOO_DEEP if isinstance(obj, np.ndarray) else _MSG_NP_TOO_DEEP_SEQ)
    return arr


def _at_least_1d(obj):
    """``np.array(obj, ndmin=1)``."""
    arr = np.asarray(obj)
    return arr.reshape(1) if arr.ndim == 0 else arr


def np_convolve(a, v, mode="full"):
    """Reference for :func:`numpy.convolve`.

    Parameters
    ----------
    a, v : array_like
        1-D inputs (0-d inputs are promoted to length 1, as NumPy does).
    mode : {'full', 'same', 'valid', 0, 1, 2}, optional
        Output window.  ``'same'`` has the length of the longer input.

    Returns
    -------
    numpy.ndarray
        1-D result of dtype ``np.result_type(a, v)`` (integers wrap around).

    Raises
    ------
    ValueError
        ``a cannot be empty`` / ``v cannot be empty`` (checked before the
        swap and before the mode), bad mode string, inputs with more than one
        dimension (``object too deep for desired array``).
    TypeError
        Mode that is neither a string nor an integer (``bool`` included).

    Notes
    -----
    The inputs are swapped when ``v`` is longer, so ``v`` is the shorter one;
    'same' then starts at index ``(len(v) - 1) // 2`` of the full output.
    """
    a, v = _at_least_1d(a), _at_least_1d(v)
    if len(a) == 0:
        raise ValueError("a cannot be empty")
    if len(v) == 0:
        raise ValueError("v cannot be empty")
    if len(v) > len(a):
        a, v = v, a
    mode = _np_mode(mode)
    if a.ndim > 1 or v.ndim > 1:
        raise ValueError(_MSG_NP_TOO_DEEP)
    dtype = np.result_type(a.dtype, v.dtype)
    x, kernel = _values(a, dtype), _values(v, dtype)[::-1]
    na, nv = len(x), len(kernel)
    spans = [_span(na, nv, mode, (nv - 1) // 2, na)]
    out, shape = _windowed(_skip_sampler(x, (na,)), kernel, (nv,), spans)
    return _build(out, shape, dtype)


def np_correlate(a, v, mode="valid"):
    """Reference for :func:`numpy.correlate`: ``z[k] = sum_n a[n + k] * conj(v[n])``.

    Parameters
    ----------
    a, v : array_like
        1-D inputs (0-d inputs raise, unlike :func:`np_convolve`).
    mode : {'valid', 'same', 'full', 0, 1, 2}, optional
        Output window.  ``'same'`` has the length of the longer input.

    Returns
    -------
    numpy.ndarray
        1-D result of dtype ``np.result_type(a, v)`` (integers wrap around).

    Raises
    ------
    ValueError
        Bad mode string (checked first), non-1-D input, ``first array argument
        cannot be empty`` / ``second array argument cannot be empty``.
    TypeError
        Mode that is neither a string nor an integer (``bool`` included).

    Notes
    -----
    Full lags run from ``-(len(v) - 1)`` to ``len(a) - 1``.  'same' starts at
    index ``(len(v) - 1) // 2`` of the full output when ``len(v) <= len(a)``
    and at ``len(a) // 2`` otherwise (NumPy swaps and reverses internally).
    """
    mode = _np_mode(mode)
    a, v = _np_vector(a), _np_vector(v)
    if a.size == 0:
        raise ValueError("first array argument cannot be empty")
    if v.size == 0:
        raise ValueError("second array argument cannot be empty")
    dtype = np.result_type(a.dtype, v.dtype)
    x, kernel = _values(a, dtype), [_conj(t) for t in _values(v, dtype)]
    na, nv = len(x), len(kernel)
    same_start = (nv - 1) // 2 if nv <= na else na // 2
    spans = [_span(na, nv, mode, same_start, max(na, nv))]
    out, shape = _windowed(_skip_sampler(x, (na,)), kernel, (nv,), spans)
    return _build(out, shape, dtype)


# --------------------------------------------------------------------------------------
# scipy.signal.convolve / scipy.signal.correlate (method='direct')
# --------------------------------------------------------------------------------------


def _scipy_mode(mode):
    """SciPy's ``_modedict[mode]``: KeyError becomes ValueError, unhashable stays TypeError."""
    try:
        return _SCIPY_MODES[mode]
    except KeyError:
        raise ValueError(_MSG_SCIPY_MODE) from None


def _inputs_swap_needed(mode, shape1, shape2):
    """SciPy's ``_inputs_swap_needed``: swap in 'valid' mode when in2 is the larger."""
    if mode != "valid" or not shape1:
        return False
    ok1 = all(n1 >= n2 for n1, n2 in zip(shape1, shape2))
    ok2 = all(n2 >= n1 for n1, n2 in zip(shape1, shape2))
    if not (ok1 or ok2):
        raise ValueError(_MSG_VALID)
    return not ok1


def _np_conv_ok(a1, a2, mode):
    """SciPy's ``_np_conv_ok``: whether the 1-D NumPy fast path is taken."""
    if not a1.ndim == a2.ndim == 1:
        return False
    if mode in ("full", "valid"):
        return True
    return mode == "same" and a1.size >= a2.size


def _scalar_product(a1, a2, conjugate):
    """0-d inputs: ``in1 * in2`` (``in1 * conj(in2)``), a NumPy scalar; mode is not checked."""
    dtype = np.result_type(a1.dtype, a2.dtype)
    x, y = _values(a1, dtype)[0], _values(a2, dtype)[0]
    if conjugate and a2.dtype.kind == "c":
        y = _conj(y)
    return _build([x * y], (), dtype)[()]


def _nd_out_shape(shape1, shape2, mode):
    """Output shape of SciPy's N-D path, raising what its buffer set-up raises."""
    if mode == "valid":
        return tuple(n1 - n2 + 1 for n1, n2 in zip(shape1, shape2))
    padded = tuple(n1 + n2 - 1 for n1, n2 in zip(shape1, shape2))
    if any(n < 0 for n in padded):
        raise ValueError("negative dimensions are not allowed")
    target = tuple(min(n1, p) for n1, p in zip(shape1, padded))
    if any(n1 not in (t, 1) for n1, t in zip(shape1, target)):
        raise ValueError(
            f"could not broadcast input array from shape {_shape_str(shape1)} "
            f"into shape {_shape_str(target)}"
        )
    return shape1 if mode == "same" else padded


def _check_nd_dtype(dtype, message):
    """SciPy's C kernels have no bool or float16 loop."""
    if dtype.kind == "b" or dtype == np.float16:
        raise ValueError(message)


def _scipy_correlate_nd(x, x_shape, y, y_shape, mode, dtype):
    """SciPy's ``_correlateND`` path of ``correlate``; ``y`` is in2 as SciPy sees it.

    Swaps the inputs in 'full' mode when in2 has more elements (and in 'valid'
    mode when needed), correlates with zero padding whose zeros are multiplied,
    then undoes a swap by reversing and conjugating.  'same' starts at index
    ``(n2 - 1) // 2`` of the full output on every axis.
    """
    swapped = (mode == "full" and _size(y_shape) > _size(x_shape)) or _inputs_swap_needed(
        mode, x_shape, y_shape
    )
    if swapped:
        x, x_shape, y, y_shape = y, y_shape, x, x_shape
    _nd_out_shape(x_shape, y_shape, mode)
    _check_nd_dtype(dtype, "Unsupported type")
    spans = [_span(n1, n2, mode, (n2 - 1) // 2, n1) for n1, n2 in zip(x_shape, y_shape)]
    kernel = [_conj(t) for t in y]
    out, shape = _windowed(_zero_sampler(x, x_shape), kernel, y_shape, spans)
    if swapped:
        out = [_conj(t) for t in reversed(out)]
    return _build(out, shape, dtype)


def _nd_inputs(a1, a2):
    """Flat value lists of both inputs in their common dtype."""
    dtype = np.result_type(a1.dtype, a2.dtype)
    return _values(a1, dtype), _values(a2, dtype), dtype


def correlate(in1, in2, mode="full"):
    """Reference for ``scipy.signal.correlate(in1, in2, mode, method='direct')``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions.
    mode : {'full', 'valid', 'same'}, optional
        Output window; 'same' has the shape of ``in1``.

    Returns
    -------
    numpy.ndarray or numpy scalar
        ``z[k] = sum_n in1[n + k] * conj(in2[n])`` of dtype
        ``np.result_type(in1, in2)``.  Two 0-d inputs give the NumPy scalar
        ``in1 * conj(in2)`` (``mode`` is then not validated).

    Raises
    ------
    ValueError
        Different ndim, bad mode, 'valid' with neither input at least as large
        as the other on every axis, empty 1-D inputs (NumPy's messages), the
        N-D path's buffer errors for some empty shapes, and ``Unsupported
        type`` for bool/float16 on the N-D path (any ndim >= 2, or 1-D 'same'
        with ``in1`` shorter than ``in2``).
    TypeError
        Unhashable mode.
    """
    a1, a2 = np.asarray(in1), np.asarray(in2)
    if a1.ndim == a2.ndim == 0:
        return _scalar_product(a1, a2, conjugate=True)
    if a1.ndim != a2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    _scipy_mode(mode)
    if _np_conv_ok(a1, a2, mode):
        return np_correlate(a1, a2, mode)
    x, y, dtype = _nd_inputs(a1, a2)
    return _scipy_correlate_nd(x, a1.shape, y, a2.shape, mode, dtype)


def convolve(in1, in2, mode="full"):
    """Reference for ``scipy.signal.convolve(in1, in2, mode, method='direct')``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions.
    mode : {'full', 'valid', 'same'}, optional
        Output window; 'same' has the shape of ``in1`` and starts at index
        ``(n2 - 1) // 2`` of the full output on every axis.

    Returns
    -------
    numpy.ndarray or numpy scalar
        Dtype ``np.result_type(in1, in2)``; two 0-d inputs give the NumPy
        scalar ``in1 * in2`` (``mode`` is then not validated).

    Raises
    ------
    ValueError
        As :func:`correlate` (the ndim message is ``volume and kernel should
        have the same dimensionality``; the 'valid' size check comes before the
        mode check).
    TypeError
        Unhashable mode.
    """
    a1, a2 = np.asarray(in1), np.asarray(in2)
    if a1.ndim == a2.ndim == 0:
        return _scalar_product(a1, a2, conjugate=False)
    if a1.ndim != a2.ndim:
        raise ValueError("volume and kernel should have the same dimensionality")
    if _inputs_swap_needed(mode, a1.shape, a2.shape):
        a1, a2 = a2, a1
    if _np_conv_ok(a1, a2, mode):
        return np_convolve(a1, a2, mode)
    _scipy_mode(mode)
    x, y, dtype = _nd_inputs(a1, a2)
    # SciPy: correlate(in1, reverse_and_conj(in2)); reversing a flat C-order
    # list reverses every axis.
    y = [_conj(t) for t in reversed(y)]
    return _scipy_correlate_nd(x, a1.shape, y, a2.shape, mode, dtype)


# --------------------------------------------------------------------------------------
# scipy.signal.convolve2d / scipy.signal.correlate2d
# --------------------------------------------------------------------------------------


def _boundary_flag(boundary):
    """SciPy's ``_bvalfromboundary`` (without the shift)."""
    try:
        return _SCIPY_BOUNDARIES[boundary]
    except KeyError:
        raise ValueError(_MSG_SCIPY_BOUNDARY) from None


def _cast_fill(fillvalue, dtype):
    """``PyArray_FromObject(fillvalue, dtype)``: arrays cast 'safe', other objects by value."""
    if isinstance(fillvalue, np.ndarray) and not np.can_cast(fillvalue.dtype, dtype):
        raise TypeError(f"cannot cast {fillvalue.dtype} to {dtype} safely")
    return np.asarray(fillvalue, dtype=dtype)


def _fill_value(fillvalue, dtype):
    """Convert ``fillvalue`` to a Python number of ``dtype`` as ``_convolve2d`` does."""
    try:
        arr = _cast_fill(fillvalue, dtype)
    except (TypeError, ValueError, OverflowError):
        # SciPy retries through complex128 (its error propagates) and then
        # refuses anyway; the cast emits ComplexWarning for real dtypes.
        np.asarray(fillvalue, dtype=np.complex128).astype(dtype)
        raise ValueError(_MSG_FILL_CAST) from None
    if arr.size == 0:
        raise ValueError("`fillvalue` cannot be an empty array.")
    if arr.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element.")
    return arr.ravel().tolist()[0]


def _remap(i, n, flag):
    """Map an out-of-bounds index into ``[0, n)`` for 'wrap' or 'symm'."""
    if flag == _WRAP:
        return i % n
    k = i % (2 * n) if i >= 0 else (-i - 1) % (2 * n)
    return 2 * n - k - 1 if k >= n else k


def _boundary_sampler(x, shape, flag, fill):
    """Signal values with 'fill' (``fill``), 'wrap' or 'symm' outside the bounds."""

    def sample(index):
        position = _flat_position(index, shape)
        if position is not None:
            return x[position]
        if flag == _FILL:
            return fill
        mapped = [_remap(i, n, flag) for i, n in zip(index, shape)]
        return x[_flat_position(mapped, shape)]

    return sample


def _check_scipy_crash(name, shape1, shape2, out_shape, flag):
    """Raise where ``_convolve2d`` would take an index modulo a zero length."""
    if flag == _FILL or _size(out_shape) == 0 or shape2[0] == 0:
        return
    if shape1[0] == 0 or (shape1[1] == 0 and shape2[1] > 0):
        raise ValueError(_MSG_SCIPY_CRASH.format(name=name))


def _out_shape_2d(shape1, shape2, mode):
    """Output shape of ``_convolve2d`` (after the 'valid' swap)."""
    if mode == "same":
        return shape1
    if mode == "valid":
        return tuple(n1 - n2 + 1 for n1, n2 in zip(shape1, shape2))
    shape = tuple(n1 + n2 - 1 for n1, n2 in zip(shape1, shape2))
    if any(n < 0 for n in shape):
        raise ValueError("negative dimensions are not allowed")
    return shape


def _prepare_2d(name, in1, in2, mode, boundary, fillvalue):
    """Validate like ``scipy.signal.{name}``; return the swapped arrays and settings."""
    a1, a2 = np.asarray(in1), np.asarray(in2)
    if not a1.ndim == a2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    swapped = _inputs_swap_needed(mode, a1.shape, a2.shape)
    if swapped:
        a1, a2 = a2, a1
    _scipy_mode(mode)
    flag = _boundary_flag(boundary)
    dtype = np.result_type(a1.dtype, a2.dtype)
    if flag == _REFLECT:
        raise ValueError("Incorrect boundary value.")
    fill = _fill_value(fillvalue, dtype) if flag == _FILL else 0
    out_shape = _out_shape_2d(a1.shape, a2.shape, mode)
    _check_nd_dtype(dtype, "convolve2d not available for this type.")
    _check_scipy_crash(name, a1.shape, a2.shape, out_shape, flag)
    return a1, a2, swapped, flag, fill, dtype


def _run_2d(a1, a2, mode, flag, fill, dtype, kernel, same_start):
    """Correlate ``a1`` with the prepared flat ``kernel`` under the 2-D boundary rules."""
    x = _values(a1, dtype)
    spans = [_span(n1, n2, mode, same_start(n2), n1) for n1, n2 in zip(a1.shape, a2.shape)]
    sampler = _boundary_sampler(x, a1.shape, flag, fill)
    return _windowed(sampler, kernel, a2.shape, spans)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Reference for :func:`scipy.signal.convolve2d`.

    Parameters
    ----------
    in1, in2 : array_like
        2-D inputs.  In 'valid' mode they are swapped when ``in2`` is the
        larger on both axes.
    mode : {'full', 'valid', 'same'}, optional
        Output window; 'same' has the shape of ``in1`` and starts at index
        ``(n2 - 1) // 2`` of the full output on each axis.
    boundary : {'fill', 'pad', 'wrap', 'circular', 'symm', 'symmetric'}, optional
        Values outside ``in1``: ``fillvalue``, periodic, or mirrored with the
        edge repeated (``... 1 0 | 0 1 2 | 2 1 ...``).
    fillvalue : scalar, optional
        Converted to the result dtype (only for 'fill'/'pad').  Python and
        NumPy scalars convert by value (``1.5`` -> 1 for ints), ndarrays only
        by a safe cast; out-of-range or non-castable values raise ValueError.

    Returns
    -------
    numpy.ndarray
        Dtype ``np.result_type(in1, in2)``; integers wrap around.

    Raises
    ------
    ValueError
        Non-2-D input, 'valid' size mismatch, bad mode, bad boundary ('reflect'
        gives ``Incorrect boundary value.``), bad ``fillvalue``, empty axes in
        'full' mode (``negative dimensions are not allowed``), bool/float16
        (``convolve2d not available for this type.``).  Also where SciPy
        crashes (empty ``in1`` with 'wrap'/'symm' and a non-empty output).
    """
    a1, a2, _, flag, fill, dtype = _prepare_2d("convolve2d", in1, in2, mode, boundary, fillvalue)
    kernel = _values(a2, dtype)[::-1]
    out, shape = _run_2d(a1, a2, mode, flag, fill, dtype, kernel, lambda n2: (n2 - 1) // 2)
    return _build(out, shape, dtype)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """Reference for :func:`scipy.signal.correlate2d`.

    Parameters
    ----------
    in1, in2, mode, boundary, fillvalue
        As :func:`convolve2d`.

    Returns
    -------
    numpy.ndarray
        ``z[k] = sum_n in1[n + k] * conj(in2[n])`` of dtype
        ``np.result_type(in1, in2)``.

    Raises
    ------
    ValueError
        As :func:`convolve2d` (with ``correlate2d`` in the 2-D message).

    Notes
    -----
    'same' starts at index ``(n2 - 1) - (n2 - 1) // 2`` (``n2 // 2``) of the
    full output, one later than :func:`correlate` for even ``n2``.  When the
    'valid' swap happens SciPy only reverses the output, without conjugating,
    so complex results are the conjugate of the true correlation.
    """
    a1, a2, swapped, flag, fill, dtype = _prepare_2d(
        "correlate2d", in1, in2, mode, boundary, fillvalue
    )
    kernel = [_conj(t) for t in _values(a2, dtype)]
    out, shape = _run_2d(
        a1, a2, mode, flag, fill, dtype, kernel, lambda n2: (n2 - 1) - (n2 - 1) // 2
    )
    if swapped:
        out = out[::-1]
    return _build(out, shape, dtype)


# --------------------------------------------------------------------------------------
# scipy.linalg.convolution_matrix / scipy.signal.correlation_lags
# --------------------------------------------------------------------------------------


def _pad_width(n):
    """``np.pad`` accepts only integral widths."""
    try:
        return operator.index(n)
    except TypeError:
        raise TypeError("`pad_width` must be of integral type.") from None


def _toeplitz_rows(a, n, mode):
    """Rows of the convolution matrix of the 1-D list ``a``: ``T[i][j] = a[i + off - j]``."""
    m = len(a)
    short = min(n, m) - 1
    off = {"full": 0, "same": short // 2, "valid": short}[mode]
    rows = {"full": m + n - 1, "same": max(m, n), "valid": abs(m - n) + 1}[mode]
    return [[a[i + off - j] if 0 <= i + off - j < m else 0 for j in range(n)] for i in range(rows)]


def convolution_matrix(a, n, mode="full"):
    """Reference for :func:`scipy.linalg.convolution_matrix`.

    Parameters
    ----------
    a : array_like
        Kernel; with more than one dimension, one matrix per 1-D slice along
        the last axis (batched).
    n : int
        Number of columns (length of the vector the matrix multiplies).
    mode : {'full', 'valid', 'same'}, optional
        ``A @ x == numpy.convolve(a, x, mode)`` for a 1-D ``a``.

    Returns
    -------
    numpy.ndarray
        Shape ``a.shape[:-1] + (rows, n)`` with ``rows`` = ``m + n - 1``
        ('full'), ``max(m, n)`` ('same') or ``abs(m - n) + 1`` ('valid');
        dtype of ``a``.

    Raises
    ------
    ValueError
        ``n <= 0``, empty ``a``, bad mode (in that order).
    TypeError
        Non-integral ``n`` (``np.pad``'s message).
    IndexError
        0-d ``a``.
    """
    if n <= 0:
        raise ValueError("n must be a positive integer.")
    arr = np.asarray(a)
    if arr.size == 0:
        raise ValueError("len(a) must be at least 1.")
    if mode not in ("full", "valid", "same"):
        raise ValueError("'mode' argument must be one of ('full', 'valid', 'same')")
    n = _pad_width(n)
    if arr.ndim == 0:
        raise IndexError("too many indices for array: array is 0-dimensional, but 1 were indexed")
    m = arr.shape[-1]
    flat = arr.ravel().tolist()
    matrices = [_toeplitz_rows(flat[i : i + m], n, mode) for i in range(0, len(flat), m)]
    out = [value for matrix in matrices for row in matrix for value in row]
    return _build(out, arr.shape[:-1] + (len(matrices[0]), n), arr.dtype)


def _arange(start, stop):
    """``np.arange(start, stop)`` as a list."""
    return [start + i for i in range(max(0, math.ceil(stop - start)))]


def _as_length(value):
    """Integers (NumPy ones included) become Python ints; anything else is left alone."""
    try:
        return operator.index(value)
    except TypeError:
        return value


def correlation_lags(in1_len, in2_len, mode="full"):
    """Reference for :func:`scipy.signal.correlation_lags`.

    Parameters
    ----------
    in1_len, in2_len : int
        Input lengths.  Floats are accepted like ``np.arange`` does ('same'
        then raises TypeError from slicing, as SciPy does).
    mode : {'full', 'same', 'valid'}, optional
        Which lags.

    Returns
    -------
    numpy.ndarray
        int64 lags (float64 for float lengths).

    Raises
    ------
    ValueError
        ``Mode {mode} is invalid``.

    Notes
    -----
    'same' is centred on the middle of the full lag range (``mid - in1_len // 2``),
    which for odd ``in1_len`` and even ``in2_len`` is one lag later than the
    window :func:`correlate` returns.  NumPy integer lengths are converted to
    Python ints first (SciPy would compute in that integer type, wrapping for
    small unsigned types).
    """
    in1_len, in2_len = _as_length(in1_len), _as_length(in2_len)
    if mode == "full":
        lags = _arange(-in2_len + 1, in1_len)
    elif mode == "same":
        lags = _arange(-in2_len + 1, in1_len)
        mid, bound = len(lags) // 2, in1_len // 2
        lags = lags[mid - bound : mid + bound + in1_len % 2]
    elif mode == "valid":
        bound = in1_len - in2_len
        lags = _arange(0, bound + 1) if bound >= 0 else _arange(bound, 1)
    else:
        raise ValueError(f"Mode {mode} is invalid")
    is_int = isinstance(in1_len, int) and isinstance(in2_len, int)
    return _build(lags, (len(lags),), np.int64 if is_int else np.float64)


# Neural-network references live in their own modules; they are part of this namespace.
from fastconv._reference_nn import *  # noqa: E402, F403
from fastconv._reference_nn import __all__ as _nn_all  # noqa: E402
from fastconv._reference_norm import *  # noqa: E402, F403
from fastconv._reference_norm import __all__ as _norm_all  # noqa: E402
from fastconv._reference_pool import *  # noqa: E402, F403
from fastconv._reference_pool import __all__ as _pool_all  # noqa: E402

__all__ = [*__all__, *_nn_all, *_pool_all, *_norm_all]

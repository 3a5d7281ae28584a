"""Drop-in replacements for the ``scipy.ndimage`` convolution filters.

:func:`correlate`, :func:`convolve`, :func:`correlate1d` and :func:`convolve1d` take SciPy's
arguments and return SciPy's values, output dtypes and exception classes, plus a keyword-only
``workers=`` (threads for this call; ``-1`` means all cores).

How a call runs: the arguments are normalised exactly as ``scipy.ndimage`` does (SciPy's own
checks are ported, in SciPy's order), the input is padded once with :func:`numpy.pad` by the
halo the filter needs (SciPy's boundary modes are ``numpy.pad`` modes: 'reflect' is
'symmetric', 'mirror' is 'reflect', 'nearest' is 'edge', and 'grid-*' are synonyms), and the
Rust core computes a 'valid' correlation of the padded input, choosing a direct or FFT method
by its cost model.

SciPy behaviours reproduced (measured against SciPy 1.17):

* values are computed in float64 (complex128 for complex inputs or weights) and cast to the
  output dtype with C semantics: integer outputs truncate toward zero (2.7 -> 2, -2.7 -> -2)
  and overflow as the C cast does (-1.0 -> 255 in uint8); a ``bool`` output stores the
  ``uint8`` truncation (0.5 -> False; 2.0 is stored as the byte 2). Integer outputs of
  integer data and dyadic weights (integers, halves, quarters, ...) are computed exactly
  (while the sums stay below 2**52), so they equal SciPy's bit for bit;
* ``correlate``/``convolve`` ignore weights with ``|w| <= 2**-52`` (and NaN weights); a
  filter whose border rows are zero never touches the input there (so NaN or infinity under a
  zero border weight does not leak into the output);
* ``correlate1d``/``convolve1d`` treat odd-length weights that are symmetric (antisymmetric)
  to within ``2**-52`` as exactly symmetric (antisymmetric), using the left half;
* ``convolve`` is ``correlate`` with reversed weights and origin ``-origin``, minus one more
  on even-length axes; complex weights are conjugated by ``correlate`` only;
* complex inputs or weights give a complex output (``promote_types(input, complex64)``).

Known deviations: an integer output of a non-exact float computation (weights such as 0.1)
may differ by one from SciPy's where the exact value lies within rounding error of an
integer (the summation order differs); NaN or infinity in the input under an *interior*
zero weight gives NaN where SciPy skips the zero weight; out-of-range float-to-``uint64``
conversions (undefined behaviour in C) follow NumPy's cast. Two SciPy bugs are not
reproduced: its N-D 'reflect'/'grid-mirror' filter reads outside the input once the halo
reaches four input lengths (fastconv extends symmetrically at any distance), and its N-D
filters compute wrong values for inputs with a zero stride (broadcast views), which fastconv
filters like their copies.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterable
from typing import List, Sequence, Tuple

import numpy as np

from fastconv import _core
from fastconv._args import check_workers
from fastconv._direct import correlate_axes

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

try:  # NumPy >= 1.25
    from numpy.exceptions import ComplexWarning
except ImportError:  # pragma: no cover - older NumPy
    from numpy import ComplexWarning

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

_EPS = float(np.finfo(np.float64).eps)
# SciPy's boundary modes as numpy.pad modes. SciPy's filters treat each 'grid-*' mode as its
# plain synonym ('grid-mirror' is 'reflect'), which is verified by the tests.
_PAD_MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}
# Bound on |partial sums| (in units of the weights' dyadic scale) for the exact integer path:
# 2**53 with a factor 2 of margin for the float64 evaluation of the bound itself.
_EXACT_LIMIT = float(2**52)


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------


def correlate(
    input,
    weights,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
    workers: int | None = None,
):
    """Multidimensional correlation, as ``scipy.ndimage.correlate``.

    Parameters
    ----------
    input : array_like
        The input array.
    weights : array_like
        Array of weights, with the same number of dimensions as ``input`` (or ``len(axes)``).
        Complex weights are conjugated (as ``numpy.correlate`` does).
    output : array or dtype, optional
        The array to write into (returned), or the dtype of the output. Default: the input's
        dtype (complex inputs or weights: ``promote_types(input.dtype, complex64)``).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', \
'grid-mirror', 'grid-wrap'}, optional
        How the input extends beyond its borders: 'reflect' (``d c b a | a b c d | d c b a``),
        'constant' (``cval``), 'nearest' (``a a a a | a b c d | d d d d``), 'mirror'
        (``d c b | a b c d | c b a``), 'wrap' (``a b c d | a b c d | a b c d``); the 'grid-*'
        names are synonyms of 'constant', 'reflect' and 'wrap'. Default 'reflect'.
    cval : scalar, optional
        Fill value for ``mode='constant'``. Default 0.0.
    origin : int or sequence of int, optional
        Shift of the filter's centre, per filtered axis. Each must satisfy
        ``-(k // 2) <= origin <= (k - 1) // 2`` for a filter length ``k``. Default 0.
    axes : int or sequence of int, optional
        Axes to filter along (default: all); ``weights`` then has ``len(axes)`` dimensions.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``; -1: all cores).

    Returns
    -------
    numpy.ndarray
        The correlation, of the input's shape (``output`` itself when it is an array).

    Raises
    ------
    RuntimeError
        Weights of the wrong dimensionality, an unknown or sequence ``mode``, an ``output``
        of the wrong shape, unsupported dtypes (float16, extended precision, object, ...).
    ValueError
        An origin outside the filter, invalid or repeated axes, a read-only ``output``, a
        complex ``cval`` with real input and complex weights.
    TypeError
        A non-integer origin, a non-real ``cval`` with real data.
    """
    return _correlate_or_convolve(
        input, weights, output, mode, cval, origin, axes, workers, convolution=False
    )


def convolve(
    input,
    weights,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
    workers: int | None = None,
):
    """Multidimensional convolution, as ``scipy.ndimage.convolve``.

    The correlation with reversed weights: ``origin`` becomes ``-origin``, and one less on
    every axis where the filter has even length (so an even filter is centred one sample
    differently from :func:`correlate`'s).

    Parameters
    ----------
    input : array_like
        The input array.
    weights : array_like
        Array of weights, with the same number of dimensions as ``input`` (or ``len(axes)``).
    output : array or dtype, optional
        The array to write into (returned), or the dtype of the output. Default: the input's
        dtype (complex inputs or weights: ``promote_types(input.dtype, complex64)``).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', \
'grid-mirror', 'grid-wrap'}, optional
        How the input extends beyond its borders (see :func:`correlate`). Default 'reflect'.
    cval : scalar, optional
        Fill value for ``mode='constant'``. Default 0.0.
    origin : int or sequence of int, optional
        Shift of the filter's centre, per filtered axis. Default 0.
    axes : int or sequence of int, optional
        Axes to filter along (default: all); ``weights`` then has ``len(axes)`` dimensions.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``; -1: all cores).

    Returns
    -------
    numpy.ndarray
        The convolution, of the input's shape (``output`` itself when it is an array).

    Raises
    ------
    RuntimeError, ValueError, TypeError
        As :func:`correlate`.
    """
    return _correlate_or_convolve(
        input, weights, output, mode, cval, origin, axes, workers, convolution=True
    )


def correlate1d(
    input,
    weights,
    axis=-1,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    workers: int | None = None,
):
    """One-dimensional correlation along an axis, as ``scipy.ndimage.correlate1d``.

    Parameters
    ----------
    input : array_like
        The input array.
    weights : array_like
        1-D sequence of weights (complex weights are conjugated).
    axis : int, optional
        The axis of ``input`` to correlate along. Default -1.
    output : array or dtype, optional
        The array to write into (returned), or the dtype of the output. Default: the input's
        dtype (complex inputs or weights: ``promote_types(input.dtype, complex64)``).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', \
'grid-mirror', 'grid-wrap'}, optional
        How the input extends beyond its borders (see :func:`correlate`). Default 'reflect'.
    cval : scalar, optional
        Fill value for ``mode='constant'``. Default 0.0.
    origin : int, optional
        Shift of the filter's centre: ``-(k // 2) <= origin <= (k - 1) // 2``. Default 0.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``; -1: all cores).

    Returns
    -------
    numpy.ndarray
        The correlation, of the input's shape (``output`` itself when it is an array).

    Raises
    ------
    RuntimeError
        Weights that are not a non-empty 1-D sequence, an unknown ``mode``, an ``output`` of
        the wrong shape, unsupported dtypes.
    numpy.exceptions.AxisError
        ``axis`` out of range (also for a 0-d input).
    ValueError
        An origin outside the filter, a read-only ``output``.
    TypeError
        A non-integer origin, a non-real ``cval`` with real data.
    """
    return _filter1d(input, weights, axis, output, mode, cval, origin, workers)


def convolve1d(
    input,
    weights,
    axis=-1,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    workers: int | None = None,
):
    """One-dimensional convolution along an axis, as ``scipy.ndimage.convolve1d``.

    The correlation with reversed weights and origin ``-origin`` (one less for even lengths).

    Parameters
    ----------
    input : array_like
        The input array.
    weights : array_like
        1-D sequence of weights.
    axis : int, optional
        The axis of ``input`` to convolve along. Default -1.
    output : array or dtype, optional
        The array to write into (returned), or the dtype of the output. Default: the input's
        dtype (complex inputs or weights: ``promote_types(input.dtype, complex64)``).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-constant', \
'grid-mirror', 'grid-wrap'}, optional
        How the input extends beyond its borders (see :func:`correlate`). Default 'reflect'.
    cval : scalar, optional
        Fill value for ``mode='constant'``. Default 0.0.
    origin : int, optional
        Shift of the filter's centre. Default 0.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``; -1: all cores).

    Returns
    -------
    numpy.ndarray
        The convolution, of the input's shape (``output`` itself when it is an array).

    Raises
    ------
    IndexError
        0-d weights (SciPy reverses them with ``weights[::-1]``).
    RuntimeError, ValueError, TypeError, numpy.exceptions.AxisError
        As :func:`correlate1d`.
    """
    weights = np.asarray(weights)
    weights = weights[::-1]
    origin = -origin
    if not weights.shape[0] & 1:
        origin -= 1
    if weights.dtype.kind == "c":
        weights = weights.conj()  # correlate1d conjugates it back
    return _filter1d(input, weights, axis, output, mode, cval, origin, workers)


# --------------------------------------------------------------------------------------
# SciPy's argument handling (ported from scipy.ndimage._ni_support and _filters)
# --------------------------------------------------------------------------------------


def _normalize_sequence(value, rank: int) -> list:
    """A scalar repeated ``rank`` times, or a sequence of length ``rank``."""
    if not isinstance(value, str) and np.iterable(value):
        normalized = list(value)
        if len(normalized) != rank:
            raise RuntimeError("sequence argument must have length equal to input rank")
        return normalized
    return [value] * rank


def _check_axes(axes, ndim: int) -> Tuple[int, ...]:
    """SciPy's axes normalisation, quirks included (a scalar is not range-checked)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (operator.index(axes),)
    elif isinstance(axes, Iterable):
        for ax in axes:
            axes = tuple(operator.index(a) for a in axes)
            if ax < -ndim or ax > ndim - 1:
                raise ValueError(f"specified axis: {ax} is out of range")
        axes = tuple(ax % ndim if ax < 0 else ax for ax in axes)
    else:
        raise ValueError("axes must be an integer, iterable of integers, or None")
    if len(set(axes)) != len(axes):
        raise ValueError("axes must be unique")
    return axes


def _expand_weights(ndim: int, axes: Sequence[int], weights: np.ndarray) -> np.ndarray:
    """Weights with size-1 dimensions on the axes that are not filtered."""
    if len(axes) < ndim:
        if weights.ndim != len(axes):
            raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) ({len(axes)})")
        weights = np.expand_dims(weights, tuple(ax for ax in range(ndim) if ax not in axes))
    return weights


def _expand_origin(ndim: int, axes: Sequence[int], origin) -> list:
    """One origin per input axis (0 on the axes that are not filtered)."""
    origins = _normalize_sequence(origin, len(axes))
    if len(axes) < ndim:
        expanded = [0] * ndim
        for o, ax in zip(origins, axes):
            expanded[ax] = o
        origins = expanded
    return origins


def _invalid_origin(origin, lenw: int) -> bool:
    return (origin < -(lenw // 2)) or (origin > (lenw - 1) // 2)


def _output_spec(output, input: np.ndarray, complex_output: bool = False):
    """``(array or None, dtype)`` of the output, with SciPy's ``_get_output`` checks.

    ``None`` as the array means a new array is returned.
    """
    shape = input.shape
    if output is None:
        if complex_output:
            return None, np.promote_types(input.dtype, np.complex64)
        return None, np.dtype(input.dtype.name)
    if isinstance(output, (type, np.dtype)):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            dtype = np.promote_types(dtype, np.complex64)
        return None, dtype
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError("output must have complex dtype")
        if not issubclass(dtype.type, np.number):
            raise RuntimeError("output must have numeric dtype")
        return None, dtype
    output = np.asarray(output)
    if output.shape != shape:
        raise RuntimeError("output shape not correct")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError("output must have complex dtype")
    return output, output.dtype


def _real_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of the real part of ``dtype`` (the dtype itself when real)."""
    return np.empty(0, dtype=dtype).real.dtype


def _check_writeable(out: np.ndarray | None) -> None:
    if out is not None and not out.flags.writeable:
        raise ValueError("output array is read-only.")


def _pad_mode(mode) -> str:
    """The ``numpy.pad`` mode of a SciPy boundary mode (RuntimeError for others)."""
    if isinstance(mode, str) and mode in _PAD_MODES:
        return _PAD_MODES[mode]
    raise RuntimeError("boundary mode not supported")


def _real_cval(cval) -> float:
    """``cval`` as the C double SciPy parses it (TypeError for str, complex, None, ...)."""
    if isinstance(cval, np.complexfloating):
        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            ComplexWarning,
            stacklevel=5,
        )
        return float(cval.real)
    if isinstance(cval, (str, bytes, bytearray, complex)) or not hasattr(cval, "__float__"):
        if not hasattr(cval, "__index__") or isinstance(cval, (str, bytes, bytearray)):
            raise TypeError(f"must be real number, not {type(cval).__name__}")
        return float(operator.index(cval))
    return float(cval)


def _origin_int(origin, allow_bool: bool) -> int:
    """An origin as the C int SciPy parses it (TypeError for floats; bools as SciPy)."""
    if isinstance(origin, np.bool_) or (isinstance(origin, bool) and not allow_bool):
        raise TypeError("an integer is required")
    try:
        return operator.index(origin)
    except TypeError:
        raise TypeError(
            f"'{type(origin).__name__}' object cannot be interpreted as an integer"
        ) from None


def _supported(dtype: np.dtype) -> bool:
    """SciPy's C filters handle bool, integers, float32 and float64 (either byte order)."""
    return dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize in (4, 8))


def _check_dtype(dtype: np.dtype) -> None:
    if not _supported(dtype):
        raise RuntimeError("array type not supported")


# --------------------------------------------------------------------------------------
# the N-D filters
# --------------------------------------------------------------------------------------


def _nd_weights(input: np.ndarray, weights, origin, axes, convolution: bool):
    """Real weights expanded to ``input.ndim`` (reversed for convolution) and the origins."""
    axes = _check_axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.float64)
    weights = _expand_weights(input.ndim, axes, weights)
    origins = _expand_origin(input.ndim, axes, origin)
    wshape = [n for n in weights.shape if n > 0]
    if len(wshape) != input.ndim:
        raise RuntimeError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    if convolution:
        weights = weights[(slice(None, None, -1),) * weights.ndim]
        for i in range(len(origins)):
            origins[i] = -origins[i]
            if not weights.shape[i] & 1:
                origins[i] -= 1
    for o, lenw in zip(origins, wshape):
        if _invalid_origin(o, lenw):
            raise ValueError(
                "Invalid origin; origin must satisfy -(weights.shape[k] // 2) <= origin[k] "
                "<= (weights.shape[k]-1) // 2"
            )
    return weights, origins


def _nd_drop_tiny(weights: np.ndarray) -> np.ndarray:
    """SciPy's N-D filter keeps only the weights with ``|w| > DBL_EPSILON`` (NaN dropped)."""
    keep = np.abs(weights) > _EPS
    return weights if keep.all() else np.where(keep, weights, 0.0)


def _correlate_or_convolve(input, weights, output, mode, cval, origin, axes, workers, convolution):
    workers = check_workers(workers)
    input = np.asarray(input)
    weights = np.asarray(weights)
    complex_input = input.dtype.kind == "c"
    complex_weights = weights.dtype.kind == "c"
    if complex_input or complex_weights:
        if complex_weights and not convolution:
            weights = weights.conj()
        out, out_dtype = _output_spec(output, input, complex_output=True)
        part_input, part_cval = _complex_parts(input, cval)
        part_out = None if out is None else out.real
        w_re, origins = _nd_weights(part_input, np.real(weights), origin, axes, convolution)
        pad_mode, _ = _nd_checks(
            part_input, part_out, _real_dtype(out_dtype), mode, part_cval, origins
        )
        w = _nd_drop_tiny(w_re).astype(np.complex128)
        if complex_weights:
            w_im, _ = _nd_weights(part_input, weights.imag, origin, axes, convolution)
            w.imag = _nd_drop_tiny(w_im)
        cval = _complex_cval(cval, complex_input)
    else:
        w, origins = _nd_weights(input, weights, origin, axes, convolution)
        out, out_dtype = _output_spec(output, input)
        pad_mode, cval = _nd_checks(input, out, out_dtype, mode, cval, origins)
        w = _nd_drop_tiny(w)
    origins = [int(o) for o in origins]
    if w.size == 0 or input.size == 0:
        return _finish(np.zeros(input.shape, dtype=np.float64), out, out_dtype)
    result = _filter(input, w, origins, pad_mode, cval, out_dtype, workers, crop=True, axis=None)
    return _finish(result, out, out_dtype)


def _complex_parts(input: np.ndarray, cval):
    """The real-valued input and cval SciPy's first component call validates."""
    if input.dtype.kind == "c":
        return input.real, np.real(cval)
    if np.iscomplexobj(cval):
        raise ValueError("Cannot provide a complex-valued cval when the input is real.")
    return input, cval


def _complex_cval(cval, complex_input: bool) -> complex:
    """The fill value of the complex path (already validated by the first component)."""
    if not complex_input:
        return complex(float(np.real(cval)))
    return complex(float(np.real(cval)), float(np.imag(cval)))


def _nd_checks(input, out, out_dtype, mode, cval, origins) -> Tuple[str, float]:
    """SciPy's checks after the weights, in SciPy's order: ``(pad mode, cval)``."""
    if not isinstance(mode, str) and isinstance(mode, Iterable):
        raise RuntimeError("A sequence of modes is not supported")
    pad_mode = _pad_mode(mode)
    _check_writeable(out)
    cval = _real_cval(cval)
    for o in origins:
        _origin_int(o, allow_bool=False)
    _check_dtype(input.dtype)
    _check_dtype(out_dtype)
    return pad_mode, cval


# --------------------------------------------------------------------------------------
# the 1-D filters
# --------------------------------------------------------------------------------------


def _mirror_symmetric(weights: np.ndarray) -> np.ndarray:
    """SciPy's 1-D filter: odd weights (anti)symmetric within DBL_EPSILON use the left half."""
    k = weights.shape[0]
    if not k & 1 or k == 1:
        return weights
    half = k // 2
    left = weights[:half]
    right_mirrored = weights[half + 1 :][::-1]
    if not np.any(np.abs(right_mirrored - left) > _EPS):
        sign = 1.0
    elif not np.any(np.abs(right_mirrored + left) > _EPS):
        sign = -1.0
    else:
        return weights
    out = weights.copy()
    out[half + 1 :] = sign * left[::-1]
    return out


def _weights_1d(weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or weights.shape[0] < 1:
        raise RuntimeError("no filter weights given")
    return weights


def _checks_1d(input, out, out_dtype, weights, axis, mode, cval, origin):
    """SciPy's checks after the weights (axis, origin, mode, C argument parsing)."""
    axis = normalize_axis_index(axis, input.ndim)
    if _invalid_origin(origin, len(weights)):
        raise ValueError(
            "Invalid origin; origin must satisfy -(len(weights) // 2) <= origin <= "
            "(len(weights)-1) // 2"
        )
    pad_mode = _pad_mode(mode)
    _check_writeable(out)
    cval = _real_cval(cval)
    origin = _origin_int(origin, allow_bool=True)
    if not _supported(input.dtype):
        raise RuntimeError(f"array type {input.dtype!r} not supported")
    _check_dtype(out_dtype)
    return axis, pad_mode, origin, cval


def _filter1d(input, weights, axis, output, mode, cval, origin, workers):
    workers = check_workers(workers)
    input = np.asarray(input)
    weights = np.asarray(weights)
    complex_input = input.dtype.kind == "c"
    complex_weights = weights.dtype.kind == "c"
    if complex_input or complex_weights:
        if complex_weights:
            weights = weights.conj().astype(np.complex128, copy=False)
        out, out_dtype = _output_spec(output, input, complex_output=True)
        part_input, part_cval = _complex_parts(input, cval)
        w_re = _weights_1d(np.real(weights))
        part_out = None if out is None else out.real
        axis, pad_mode, origin, _ = _checks_1d(
            part_input, part_out, _real_dtype(out_dtype), w_re, axis, mode, part_cval, origin
        )
        w = _mirror_symmetric(w_re).astype(np.complex128)
        if complex_weights:
            w.imag = _mirror_symmetric(_weights_1d(weights.imag))
        cval = _complex_cval(cval, complex_input)
    else:
        out, out_dtype = _output_spec(output, input)
        w = _weights_1d(weights)
        axis, pad_mode, origin, cval = _checks_1d(
            input, out, out_dtype, w, axis, mode, cval, origin
        )
        w = _mirror_symmetric(w)
    if input.size == 0:
        return _finish(np.zeros(input.shape, dtype=np.float64), out, out_dtype)
    shape = [1] * input.ndim
    shape[axis] = w.shape[0]
    origins = [0] * input.ndim
    origins[axis] = origin
    result = _filter(
        input, w.reshape(shape), origins, pad_mode, cval, out_dtype, workers, crop=False, axis=axis
    )
    return _finish(result, out, out_dtype)


# --------------------------------------------------------------------------------------
# the computation
# --------------------------------------------------------------------------------------


def _filter(
    input: np.ndarray,
    weights: np.ndarray,
    origins: List[int],
    pad_mode: str,
    cval,
    out_dtype: np.dtype,
    workers: int | None,
    crop: bool,
    axis: int | None,
) -> np.ndarray:
    """The filter output in float64/complex128 (or exact integers) before the final cast.

    ``weights`` has ``input.ndim`` dimensions (size 1 on unfiltered axes); output ``i``
    along an axis with ``k`` weights is ``sum_j w[j] * x_ext[i + j - (k // 2 + origin)]``.
    With ``crop``, the weights shrink to the bounding box of their non-zeros first.
    """
    if input.ndim == 0:
        return _filter(
            input.reshape(1),
            weights.reshape(1),
            [0],
            pad_mode,
            cval,
            out_dtype,
            workers,
            crop,
            None,
        ).reshape(())
    lead = [k // 2 + o for k, o in zip(weights.shape, origins)]
    first = [0] * weights.ndim
    last = [k - 1 for k in weights.shape]
    if crop:
        nonzero = weights != 0
        if not nonzero.all():
            if not nonzero.any():
                return np.zeros(input.shape, dtype=np.float64)
            for d in range(weights.ndim):
                others = tuple(e for e in range(weights.ndim) if e != d)
                hits = np.flatnonzero(nonzero.any(axis=others))
                first[d], last[d] = int(hits[0]), int(hits[-1])
            weights = weights[tuple(slice(a, b + 1) for a, b in zip(first, last))]
    widths = []
    cut = []
    for d, n in enumerate(input.shape):
        before = lead[d] - first[d]
        after = last[d] - lead[d]
        widths.append((max(0, before), max(0, after)))
        start = max(0, -before)
        cut.append(slice(start, start + n + before + after))
    return _padded_correlation(
        input, weights, widths, cut, pad_mode, cval, out_dtype, workers, axis
    )


def _padded_correlation(
    input: np.ndarray,
    weights: np.ndarray,
    widths: List[Tuple[int, int]],
    cut: List[slice],
    pad_mode: str,
    cval,
    out_dtype: np.dtype,
    workers: int | None,
    axis: int | None,
) -> np.ndarray:
    """Pad once, cut to the needed window, and run the core's 'valid' correlation."""
    axes = (axis,) if axis is not None else tuple(range(input.ndim))
    exact = _exact_scale(input, weights, pad_mode, cval, out_dtype)
    scale = None
    if weights.dtype.kind == "c" or input.dtype.kind == "c":
        cdt, method = np.dtype(np.complex128), "auto"
    elif exact is not None and _fft_pays([c.stop - c.start for c in cut], weights.shape, axes):
        # Exact integers through the core's int64 path (its FFT rounds only when exact).
        cdt, method, scale = np.dtype(np.int64), "auto", exact
        weights = np.ldexp(weights, exact).astype(np.int64)
        cval = int(cval) if pad_mode == "constant" else cval
    else:
        # float64; for integer outputs the direct method keeps every output's rounding local
        # (and exact when ``exact`` is set: every partial sum is then representable).
        cdt = np.dtype(np.float64)
        method = "direct" if out_dtype.kind in "biu" else "auto"
    x = input.astype(cdt, copy=False)
    if any(w != (0, 0) for w in widths):
        kwargs = {"constant_values": cval} if pad_mode == "constant" else {}
        x = np.pad(x, widths, mode=pad_mode, **kwargs)
    if any(c.start != 0 or c.stop != n for c, n in zip(cut, x.shape)):
        x = x[tuple(cut)]
    w = np.ascontiguousarray(weights, dtype=cdt)
    result = correlate_axes(
        x, w, "valid", axes, flip=False, conj=False, workers=workers, method=method
    )
    if scale is not None:
        result = np.ldexp(result.astype(np.float64), -scale)
    return result


def _fft_pays(padded_shape: Sequence[int], weights_shape: Sequence[int], axes) -> bool:
    """Whether the core's cost model prefers an FFT method for this 'valid' correlation."""
    shape1 = [int(padded_shape[a]) for a in axes]
    shape2 = [int(weights_shape[a]) for a in axes]
    name, _ = _core.method_costs(shape1, shape2, "valid", "d")
    return name != "direct"


def _exact_scale(input, weights, pad_mode, cval, out_dtype) -> int | None:
    """``j`` such that integer data times ``weights * 2**j`` (integers) is exact, else None.

    Only for integer (or bool) inputs and outputs: there SciPy truncates its float64 result,
    and when every product and partial sum is a multiple of ``2**-j`` below ``2**53 * 2**-j``
    SciPy's float64 arithmetic is exact in any order, so the exact integer result (the
    core's int64 path, FFT included when it rounds exactly) equals SciPy's bit for bit.
    """
    if out_dtype.kind not in "biu" or input.dtype.kind not in "biu" or weights.dtype.kind == "c":
        return None
    if not np.isfinite(weights).all():
        return None
    nonzero = np.abs(weights[weights != 0])
    if nonzero.size == 0:
        return 0
    mantissa, exponent = np.frexp(nonzero)
    digits = np.ldexp(mantissa, 53).astype(np.int64)  # |w| = digits * 2**(exponent - 53)
    trailing = np.log2(digits & -digits).astype(np.int64)  # exact: powers of two
    j = max(0, int(np.max(53 - trailing - exponent)))
    if j > 1074:
        return None
    data_max = float(max(abs(int(input.max())), abs(int(input.min()))))
    if pad_mode == "constant":
        if not (np.isfinite(cval) and cval == int(cval)):
            return None
        data_max = max(data_max, abs(float(cval)))
    bound = data_max * float(np.sum(np.ldexp(nonzero, j)))
    return j if bound < _EXACT_LIMIT else None


def _cast_like_c(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` (float64 or complex128) in ``dtype``, as SciPy's C assignment casts."""
    if values.dtype == dtype:
        return values
    with np.errstate(invalid="ignore", over="ignore"):
        if dtype.kind == "b":  # npy_bool is an unsigned char: the byte is the uint8 cast
            return values.astype(np.uint8).view(np.bool_)
        if dtype.kind == "u" and dtype.itemsize == 4:  # C converts through a 64-bit integer
            return values.astype(np.int64).astype(dtype)
        return values.astype(dtype)


def _finish(result: np.ndarray, out: np.ndarray | None, out_dtype: np.dtype) -> np.ndarray:
    """Cast to the output dtype; write into ``out`` when the caller gave an array."""
    result = _cast_like_c(result, out_dtype)
    if out is None:
        return result
    np.copyto(out, result, casting="unsafe")
    return out

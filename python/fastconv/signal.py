"""Drop-in replacements for ``scipy.signal`` convolution functions.

Same values, output shapes, output dtypes and exception classes as SciPy, plus two keywords
SciPy's direct functions lack: ``axes=`` (convolve along some axes, broadcasting the others)
and ``workers=`` (threads for this call; ``-1`` means all cores).
"""

from __future__ import annotations

import math
import operator
from typing import Optional

import numpy as np

from fastconv import _core
from fastconv._args import (
    AxesArg,
    as_numeric_array,
    check_method,
    check_mode,
    check_workers,
    normalize_axes,
    valid_swap_check,
)
from fastconv._boundary import check_boundary, fill_scalar, padded_for_boundary
from fastconv._convolver import Convolver
from fastconv._direct import correlate_axes, warn_if_not_finite
from fastconv._dtypes import ND_PATH, NUMPY_PATH, TWO_D_PATH, peer_dtype
from fastconv._freq import choose_conv_method, fftconvolve, oaconvolve

__all__ = [
    "Convolver",
    "choose_conv_method",
    "fftconvolve",
    "oaconvolve",
    "convolve",
    "correlate",
    "convolve2d",
    "correlate2d",
    "correlation_lags",
]


def convolve(
    in1,
    in2,
    mode: str = "full",
    method: str = "auto",
    *,
    axes: AxesArg = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Convolve two N-dimensional arrays, as ``scipy.signal.convolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions.
    mode : {'full', 'valid', 'same'}
        Output size: the full convolution, only positions without zero padding (the larger
        input plays the signal), or the size of ``in1`` centred on the full output.
    method : {'auto', 'direct', 'fft'}
        'direct' sums the definition (SIMD); 'fft' multiplies spectra (whole-array transform
        or overlap-save tiles, whichever is cheaper); 'auto' (default) picks the fastest by
        fastconv's cost model, which knows the thread count and dtype, keeps integers exact
        (FFT only where rounding provably recovers the exact integer) and runs direct when an
        input holds NaN or infinity (an FFT would spread them over the whole output).
    axes : int or sequence of int, optional
        Axes to convolve over (default: all). Other axes must be equal or 1 and broadcast.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``; -1: all cores).

    Returns
    -------
    numpy.ndarray
        Output of dtype ``numpy.result_type(in1, in2)`` (two 0-d inputs: their product, a
        NumPy scalar). In 'same' mode with ``axes``, the broadcast axes keep their broadcast
        length (``scipy.signal.fftconvolve`` crops them to ``in1``'s).

    Raises
    ------
    ValueError
        As SciPy's direct method: different ndim, unknown mode or method, 'valid' with
        neither input at least as large on every axis, empty inputs where SciPy refuses them
        (1-D; or a zero-padded buffer that cannot hold ``in1``), bool or float16 inputs on
        SciPy's N-D path (2-D and up, or 1-D 'same' with ``in1`` shorter), non-numeric dtypes;
        bad ``axes`` (as ``fftconvolve``), ``workers`` 0 or below -1.
    TypeError
        Object, timedelta and extended-precision dtypes, which the peers compute (with Python
        objects, or in long double) and fastconv refuses; an unhashable mode; non-integer
        ``workers``.

    Notes
    -----
    As in SciPy, other empty inputs give zeros of SciPy's shape, and on the N-D path the zero
    padding is multiplied: an infinite or NaN kernel tap that falls on it gives NaN (on the
    1-D path, as in NumPy, out-of-range terms are left out).
    """
    if axes is None:
        # The common 1-D call, decided and run in Rust; None for anything else.
        fast = _core.fast_1d(in1, in2, mode, True, False, method, workers)
        if fast is not None:
            return fast
    return _correlate_or_convolve(in1, in2, mode, method, axes, workers, flip=True)


def correlate(
    in1,
    in2,
    mode: str = "full",
    method: str = "auto",
    *,
    axes: AxesArg = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Cross-correlate two N-dimensional arrays, as ``scipy.signal.correlate``.

    ``z[k] = sum_l in1[l + k - K] * conj(in2[l])``: no kernel flip, ``in2`` conjugated.
    Parameters, return value and exceptions as :func:`convolve`.
    """
    if axes is None:
        fast = _core.fast_1d(in1, in2, mode, False, False, method, workers)
        if fast is not None:
            return fast
    return _correlate_or_convolve(in1, in2, mode, method, axes, workers, flip=False)


def _correlate_or_convolve(in1, in2, mode, method, axes, workers, *, flip: bool):
    """Everything but the common 1-D call (which the public functions first offer to
    ``_core.fast_1d``, decided and run in Rust: two non-empty 1-D arrays of one native dtype,
    default axes, no or a positive int ``workers``, a mode string, on SciPy's NumPy path)."""
    name = "convolve" if flip else "correlate"
    workers = check_workers(workers)
    in1 = as_numeric_array(in1, "in1")
    in2 = as_numeric_array(in2, "in2")
    if in1.ndim == in2.ndim == 0:
        # SciPy returns the product (a NumPy scalar) without looking at mode or method.
        return in1 * in2 if flip or in2.dtype.kind != "c" else in1 * in2.conj()
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    mode = check_mode(mode)
    method = check_method(method)
    conv_axes = normalize_axes(axes, in1.ndim)
    _check_broadcast(in1.shape, in2.shape, conv_axes)
    if mode == "valid":
        valid_swap_check(in1.shape, in2.shape, conv_axes)
    s1 = [in1.shape[a] for a in conv_axes]
    s2 = [in2.shape[a] for a in conv_axes]
    # SciPy hands 1-D problems to NumPy where NumPy's output size agrees with its own.
    numpy_path = len(s1) == 1 and (mode != "same" or s1[0] >= s2[0])
    if numpy_path and (s1[0] == 0 or s2[0] == 0):
        which = "in1" if s1[0] == 0 else "in2"
        raise ValueError(f"{name}: {which} cannot be empty along the convolved axis")
    # SciPy's FFT path (fftconvolve, then a cast to the result type) accepts what NumPy's does.
    path = NUMPY_PATH if numpy_path or method == "fft" else ND_PATH
    out_dtype = peer_dtype(in1, in2, path, name)
    if in1.size == 0 or in2.size == 0:
        return _empty_result(in1.shape, in2.shape, mode, conv_axes, out_dtype)
    if method == "fft":
        warn_if_not_finite(in1, in2)
    elif not numpy_path and mode != "valid" and out_dtype.kind in "fc":
        out = _padding_multiplied(in1, in2, mode, conv_axes, out_dtype, flip, workers)
        if out is not None:
            return out
    # Swapping for speed is exact only where the output shape does not depend on the order.
    swap = mode == "full" and axes is None
    return correlate_axes(
        in1,
        in2,
        mode,
        conv_axes,
        flip=flip,
        conj=not flip,
        workers=workers,
        swap_larger=swap,
        method=_CORE_METHOD[method],
    )


# 'fft' runs the cheaper FFT layout (one whole-array transform or overlap-save tiles); 'auto'
# lets the core's cost model choose among direct and both FFT layouts.
_CORE_METHOD = {"auto": "auto", "direct": "direct", "fft": "fft_any"}


def _padding_multiplied(in1, in2, mode, conv_axes, out_dtype, flip, workers):
    """SciPy's N-D result where its zero padding meets an infinity or NaN; else None.

    SciPy's N-D path zero-pads the signal and multiplies the zeros (``0 * inf`` is NaN); the core
    leaves out-of-range taps out, as NumPy does. Where the kernel (in2, or in1 where SciPy swaps
    the inputs in 'full' mode because in2 has more elements) holds a non-finite value, pad the
    signal with explicit zeros and correlate in 'valid' mode.
    """
    s1 = [in1.shape[a] for a in conv_axes]
    s2 = [in2.shape[a] for a in conv_axes]
    swapped = mode == "full" and math.prod(s2) > math.prod(s1)
    signal, kernel = (in2, in1) if swapped else (in1, in2)
    if kernel.dtype.kind not in "fc" or np.isfinite(kernel).all():
        return None
    padded, _ = padded_for_boundary(signal, kernel, mode, "constant", 0, out_dtype, conv_axes)
    out = correlate_axes(
        padded, kernel, "valid", conv_axes, flip=flip, conj=not flip, workers=workers
    )
    if swapped and not flip:
        # SciPy undoes its swap as fastconv does: reverse and conjugate.
        out = np.flip(out, axis=conv_axes)
        out = np.conj(out) if out.dtype.kind == "c" else np.ascontiguousarray(out)
    return out


def _check_broadcast(s1, s2, axes) -> None:
    for d, (p, q) in enumerate(zip(s1, s2)):
        if d not in axes and p != q and p != 1 and q != 1:
            raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")


def _empty_result(s1, s2, mode, conv_axes, dtype) -> np.ndarray:
    """SciPy's N-D result when an input is empty: zeros (empty sums), or SciPy's error.

    Along the convolved axes the shape follows ``scipy.signal.correlate``'s buffers: 'valid'
    (after the swap) gives ``n1 - n2 + 1``; 'full' and 'same' zero-pad ``in1`` (swapped with
    ``in2`` in 'full' mode when ``in2`` has more elements) to ``n1 + n2 - 1``, which fails
    where that is negative or cannot hold ``in1``. Other axes broadcast.
    """
    c1 = [s1[a] for a in conv_axes]
    c2 = [s2[a] for a in conv_axes]
    if 0 not in c1 and 0 not in c2:
        conv = [_core.axis_geometry(n, k, mode)[1] for n, k in zip(c1, c2)]
    else:
        swapped = (mode == "full" and math.prod(c2) > math.prod(c1)) or (
            mode == "valid" and not all(n >= k for n, k in zip(c1, c2))
        )
        if swapped:
            c1, c2 = c2, c1
        if mode == "valid":
            conv = [n - k + 1 for n, k in zip(c1, c2)]
        else:
            padded = [n + k - 1 for n, k in zip(c1, c2)]
            if any(p < 0 for p in padded):
                raise ValueError(
                    f"negative dimensions are not allowed: inputs of shapes {tuple(s1)} and "
                    f"{tuple(s2)} are both empty along an axis in '{mode}' mode"
                )
            if any(n not in (min(n, p), 1) for n, p in zip(c1, padded)):
                raise ValueError(
                    f"could not broadcast input array of shape {tuple(s1)} into the zero-padded "
                    f"buffer in '{mode}' mode: in2 (shape {tuple(s2)}) is empty along an axis"
                )
            conv = padded if mode == "full" else c1
    shape = [max(p, q) if min(p, q) != 0 else 0 for p, q in zip(s1, s2)]
    for a, m in zip(conv_axes, conv):
        shape[a] = m
    return np.zeros(shape, dtype)


def convolve2d(
    in1,
    in2,
    mode: str = "full",
    boundary: str = "fill",
    fillvalue=0,
    *,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Convolve two 2-D arrays, as ``scipy.signal.convolve2d``.

    Parameters
    ----------
    in1, in2 : array_like
        2-D inputs.
    mode : {'full', 'valid', 'same'}
        Output size, as :func:`convolve`.
    boundary : {'fill', 'wrap', 'symm'}
        How ``in1`` is extended beyond its edges: with ``fillvalue``, periodically, or
        mirrored with the edge sample repeated (aliases 'pad', 'circular', 'symmetric').
    fillvalue : scalar
        Value used outside ``in1`` when ``boundary='fill'``.
    workers : int, optional
        Threads for this call.

    Returns
    -------
    numpy.ndarray
        Output of dtype ``numpy.result_type(in1, in2)``; empty inputs give SciPy's shape.

    Raises
    ------
    ValueError
        As SciPy: inputs not 2-D, unknown mode or boundary, 'valid' with neither input at
        least as large on both axes, a ``fillvalue`` with other than one element or that does
        not convert to the output dtype (checked even when unused), bool, float16 and
        non-numeric dtypes; 'wrap' or 'symm' of an empty ``in1`` with a non-empty output
        (SciPy's process dies of SIGFPE there).
    TypeError
        Extended-precision dtypes (SciPy computes them; fastconv refuses), non-integer
        ``workers``; for :func:`correlate2d`, a non-numeric ``in2`` (SciPy conjugates it first).
    """
    return _two_d(in1, in2, mode, boundary, fillvalue, workers, flip=True, name="convolve2d")


def correlate2d(
    in1,
    in2,
    mode: str = "full",
    boundary: str = "fill",
    fillvalue=0,
    *,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Cross-correlate two 2-D arrays, as ``scipy.signal.correlate2d``.

    Note SciPy's centring: in 'same' mode the kernel tap ``(k - 1) // 2`` sits over each output
    sample, unlike :func:`correlate` (tap ``k // 2``); and when 'valid' swaps the inputs the
    result is reversed but not conjugated. fastconv reproduces both. Parameters, return value
    and exceptions as :func:`convolve2d`.
    """
    return _two_d(in1, in2, mode, boundary, fillvalue, workers, flip=False, name="correlate2d")


def _two_d(in1, in2, mode, boundary, fillvalue, workers, *, flip: bool, name: str):
    workers = check_workers(workers)
    in1 = as_numeric_array(in1, "in1")
    in2 = as_numeric_array(in2, "in2")
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    swapped = False
    if mode == "valid":
        valid_swap_check(in1.shape, in2.shape, (0, 1))
        swapped = not (in1.shape[0] >= in2.shape[0] and in1.shape[1] >= in2.shape[1])
        if swapped:
            in1, in2 = in2, in1
    mode = check_mode(mode)
    pad_mode = check_boundary(boundary)
    if not flip and in2.dtype.kind not in "biufcO":
        # SciPy conjugates in2 before anything else looks at the dtypes.
        raise TypeError(f"{name}: cannot conjugate in2 of dtype {in2.dtype} (not numeric)")
    out_dtype = peer_dtype(in1, in2, TWO_D_PATH, name)
    fill = fill_scalar(fillvalue, out_dtype) if pad_mode == "constant" else None
    if in1.size == 0 or in2.size == 0:
        out = _empty_two_d(in1, in2, mode, boundary, fill, out_dtype, workers, flip=flip, name=name)
    else:
        core_mode = "same_low_centre" if (mode == "same" and not flip) else mode
        padded, core_mode = padded_for_boundary(in1, in2, core_mode, pad_mode, fill, out_dtype)
        out = correlate_axes(
            padded, in2, core_mode, (0, 1), flip=flip, conj=not flip, workers=workers
        )
    if swapped and not flip:
        # SciPy reverses the swapped correlation without conjugating it; so does fastconv.
        out = out[::-1, ::-1]
    return out


def _empty_two_d(in1, in2, mode, boundary, fill, out_dtype, workers, *, flip: bool, name: str):
    """SciPy's ``_convolve2d`` result when an input is empty."""
    if mode == "same":
        shape = in1.shape
    elif mode == "valid":
        shape = tuple(n - k + 1 for n, k in zip(in1.shape, in2.shape))
    else:
        shape = tuple(n + k - 1 for n, k in zip(in1.shape, in2.shape))
        if min(shape) < 0:
            raise ValueError(
                f"negative dimensions are not allowed: {name} of shapes {in1.shape} and "
                f"{in2.shape} in 'full' mode"
            )
    (n0, n1), (k0, k1) = in1.shape, in2.shape
    if fill is None and math.prod(shape) and k0 and (n0 == 0 or (n1 == 0 and k1)):
        # SciPy takes an index modulo the empty length here and the process dies (SIGFPE).
        raise ValueError(
            f"{name}: boundary {boundary!r} needs a non-empty in1 (got shapes {in1.shape} and "
            f"{in2.shape})"
        )
    if in2.size == 0 or math.prod(shape) == 0:
        return np.zeros(shape, out_dtype)  # every output is an empty sum
    # Every tap reads the fill value: correlate a block of fill values in 'valid' mode.
    block = np.full([m + k - 1 for m, k in zip(shape, in2.shape)], fill, out_dtype)
    return correlate_axes(block, in2, "valid", (0, 1), flip=flip, conj=not flip, workers=workers)


def correlation_lags(in1_len: int, in2_len: int, mode: str = "full") -> np.ndarray:
    """Lag indices of a 1-D cross-correlation, as ``scipy.signal.correlation_lags``.

    NumPy integer lengths are used as Python ints (SciPy computes in their type, so an
    unsigned ``in2_len`` wraps around in ``-in2_len`` and gives wrong lags).
    """
    in1_len, in2_len = _as_length(in1_len), _as_length(in2_len)
    if mode == "full":
        return np.arange(-in2_len + 1, in1_len)
    if mode == "same":
        full = np.arange(-in2_len + 1, in1_len)
        mid = full.size // 2
        lag_bound = in1_len // 2
        if in1_len % 2 == 0:
            return full[(mid - lag_bound) : (mid + lag_bound)]
        return full[(mid - lag_bound) : (mid + lag_bound) + 1]
    if mode == "valid":
        lag_bound = in1_len - in2_len
        if lag_bound >= 0:
            return np.arange(lag_bound + 1)
        return np.arange(lag_bound, 1)
    raise ValueError(f"Mode {mode} is invalid")


def _as_length(value):
    """An integer (NumPy's included) as a Python int; anything else as given (as SciPy)."""
    try:
        return operator.index(value)
    except TypeError:
        return value

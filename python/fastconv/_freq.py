"""``fftconvolve``, ``oaconvolve`` and ``choose_conv_method`` with SciPy's semantics.

Re-exported by :mod:`fastconv.signal`. The transforms run in Rust (realfft/rustfft); an
axis where either input has length 1 is not transformed but broadcast, as in SciPy.
"""

from __future__ import annotations

import timeit
from typing import Dict, Optional, Tuple, Union

import numpy as np

from fastconv import _core
from fastconv._args import (
    AxesArg,
    as_numeric_array,
    check_mode,
    check_workers,
    normalize_axes,
    valid_swap_check,
)
from fastconv._direct import correlate_axes, warn_if_not_finite
from fastconv._dtypes import check_supported, fft_compute_dtype, result_dtype


def fftconvolve(
    in1, in2, mode: str = "full", axes: AxesArg = None, *, workers: Optional[int] = None
) -> np.ndarray:
    """Convolve two N-D arrays with FFTs, as ``scipy.signal.fftconvolve``.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions.
    mode : {'full', 'valid', 'same'}
        Output size, as :func:`fastconv.signal.convolve`.
    axes : int or sequence of int, optional
        Axes to convolve over (default: all). Other axes must be equal or 1 (broadcast).
    workers : int, optional
        Threads for this call (-1: all cores).

    Returns
    -------
    numpy.ndarray
        Floating result: float64 for integer/bool inputs, float32 for float16/float32,
        complex for complex inputs (SciPy's rules: each input is promoted on its own, then the
        two are). Where every axis has a length-1 side nothing is transformed: SciPy returns the
        broadcast product ``in1 * in2`` in ``numpy.result_type`` (integers stay integers), and
        so does fastconv. fastconv picks the cheaper FFT layout (one
        transform of the whole arrays, or overlap-save tiles); results agree with the direct
        sum within the FFT's rounding error, ``~ eps * log2(N) * ||x|| * ||w||``.
    """
    return _frequency_domain(in1, in2, mode, axes, workers, method="fft_any")


def oaconvolve(
    in1, in2, mode: str = "full", axes: AxesArg = None, *, workers: Optional[int] = None
) -> np.ndarray:
    """Convolve with overlap-save FFT tiles, as ``scipy.signal.oaconvolve``.

    Same parameters and result as :func:`fftconvolve`; the tiles' length is chosen by cost
    (several kernel lengths) and the tiles run in parallel.
    """
    return _frequency_domain(in1, in2, mode, axes, workers, method="oa")


def _frequency_domain(in1, in2, mode, axes, workers, *, method: str) -> np.ndarray:
    in1 = as_numeric_array(in1, "in1")
    in2 = as_numeric_array(in2, "in2")
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if in1.size == 0 or in2.size == 0:
        return np.array([])
    mode = _check_fft_mode(mode)
    workers = check_workers(workers)
    conv_axes = freq_axes(in1.shape, in2.shape, normalize_axes(axes, in1.ndim), axes is None)
    if mode == "valid":
        valid_swap_check(in1.shape, in2.shape, conv_axes)
    out_dtype = fft_result_dtype(in1.dtype, in2.dtype)
    if mode == "same":
        in2 = centre_broadcast_axes(in1.shape, in2, conv_axes)
    if not conv_axes:
        # Every axis has a length-1 side: the convolution is a broadcast product, which SciPy
        # returns as NumPy computes it (``result_type``, no transform, no float conversion).
        return _broadcast_product(in1, in2, mode)
    warn_if_not_finite(in1, in2)
    return correlate_axes(
        in1,
        in2,
        mode,
        conv_axes,
        flip=True,
        conj=False,
        workers=workers,
        method=method,
        out_dtype=out_dtype,
    )


def _check_fft_mode(mode: object) -> str:
    """``check_mode`` with SciPy's class for every bad mode here: its FFT functions and
    ``choose_conv_method`` test membership in a list, so an unhashable mode is a ValueError
    too (not the TypeError of a dict lookup)."""
    try:
        return check_mode(mode)
    except TypeError:
        raise ValueError(
            f"Acceptable mode flags are 'valid', 'same', or 'full'; got {mode!r}"
        ) from None


def fft_result_dtype(dtype1, dtype2) -> np.dtype:
    """SciPy's output dtype for ``fftconvolve``: each input is transformed in its own float
    dtype (bool and integers in float64, float16 in float32) before the two promote, so
    ``int16`` with ``float32`` gives float64, not ``result_type``'s float32.

    Raises as :func:`fastconv._dtypes.check_supported` for dtypes the core cannot compute in.
    """
    dtype1, dtype2 = np.dtype(dtype1), np.dtype(dtype2)
    check_supported(dtype1)
    check_supported(dtype2)
    return np.result_type(fft_compute_dtype(dtype1), fft_compute_dtype(dtype2))


def freq_axes(s1, s2, axes, all_axes: bool):
    """SciPy's ``_init_freq_conv_axes``: drop axes where either input has length 1 (they
    broadcast) and check that the remaining non-convolved axes broadcast."""
    kept = tuple(a for a in axes if s1[a] != 1 and s2[a] != 1)
    for d in range(len(s1)):
        if d not in kept and s1[d] != s2[d] and s1[d] != 1 and s2[d] != 1:
            raise ValueError(f"incompatible shapes for in1 and in2: {tuple(s1)} and {tuple(s2)}")
    return kept


def centre_broadcast_axes(s1, in2: np.ndarray, conv_axes) -> np.ndarray:
    """'same' keeps ``in1``'s shape on every axis: where ``in1`` has length 1 on an axis that is
    not convolved, SciPy's result is the centre sample of the broadcast product, so only
    ``in2``'s centre slice (index ``(len - 1) // 2``) contributes there."""
    index = []
    for d, (p, q) in enumerate(zip(s1, in2.shape)):
        if d not in conv_axes and p == 1 and q > 1:
            c = (q - 1) // 2
            index.append(slice(c, c + 1))
        else:
            index.append(slice(None))
    return in2[tuple(index)]


def _broadcast_product(in1: np.ndarray, in2: np.ndarray, mode: str) -> np.ndarray:
    full = in1 * in2
    if mode == "same":
        start = [(f - s) // 2 for f, s in zip(full.shape, in1.shape)]
        return full[tuple(slice(b, b + s) for b, s in zip(start, in1.shape))].copy()
    return full


def choose_conv_method(
    in1, in2, mode: str = "full", measure: bool = False
) -> Union[str, Tuple[str, Dict[str, float]]]:
    """The faster method for ``convolve``/``correlate``, as ``scipy.signal.choose_conv_method``.

    Returns 'direct' or 'fft' ('fft' covers fastconv's whole-array and overlap-save layouts).
    The decision is fastconv's own cost model, which knows the thread count, the dtype and
    SIMD width of the direct kernel, and overlap-save; it returns 'direct' for inputs holding
    NaN or infinity (an FFT would spread them over the whole output) and for integers whose
    FFT result could round to a wrong integer. With ``measure=True`` both methods are timed
    on these inputs and ``(fastest, {'direct': s, 'fft': s})`` is returned.
    """
    in1 = as_numeric_array(in1, "in1")
    in2 = as_numeric_array(in2, "in2")
    mode = _check_fft_mode(mode)
    if measure:
        from fastconv import signal

        times = {
            m: min(
                timeit.repeat(
                    lambda m=m: signal.convolve(in1, in2, mode, method=m), number=1, repeat=5
                )
            )
            for m in ("fft", "direct")
        }
        return min(times, key=times.get), times
    if in2.ndim == 0 and in1.ndim > 0:
        # SciPy reads in2.shape[0] here (IndexError); its convolve refuses the pair too.
        raise IndexError("in2 is 0-d while in1 is not: in1 and in2 need the same dimensionality")
    if in1.ndim != in2.ndim or in1.ndim == 0 or in1.size == 0 or in2.size == 0:
        return "direct"
    dtype = result_dtype(in1, in2)
    if dtype.kind in "biu":
        from fastconv._direct import _fft_pays, _fft_rounds_exactly

        axes = tuple(range(in1.ndim))
        exact = _fft_rounds_exactly(in1, in2, axes)
        return "fft" if exact and _fft_pays(in1, in2, mode, axes) else "direct"
    cdt = fft_compute_dtype(dtype)
    a = np.asarray(in1, dtype=cdt)
    b = np.asarray(in2, dtype=cdt)
    name, _ = _core.choose_method(a, b, mode)
    return "direct" if name == "direct" else "fft"

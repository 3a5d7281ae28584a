"""The one bridge from the public functions to the Rust core (every method)."""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import numpy as np

from fastconv import _core
from fastconv._dtypes import (
    compute_dtype,
    fft_compute_dtype,
    from_compute,
    result_dtype,
    to_compute,
)

# float32, float64, complex64, complex128: the dtypes the core computes in directly.
_NATIVE_CHARS = "fdFD"
# Methods that compute in floating point (integers are rounded back when they come out exact).
_FFT_METHODS = ("fft", "fft_any", "oa")


def correlate_axes(
    in1: np.ndarray,
    in2: np.ndarray,
    mode: str,
    axes: Sequence[int],
    *,
    flip: bool,
    conj: bool,
    workers: Optional[int],
    swap_larger: bool = False,
    method: str = "direct",
    out_dtype: Optional[np.dtype] = None,
) -> np.ndarray:
    """Correlate (``flip=False``) or convolve (``flip=True``) along ``axes``.

    ``in1`` and ``in2`` have the same ndim; every axis not in ``axes`` broadcasts. The output
    keeps the input's axis order. For ``valid`` mode a kernel longer than the signal gives the
    peers' swapped result (length ``k - n + 1``) directly. Inputs of any layout are accepted:
    the core copies non-C-contiguous inputs once, outside the GIL.

    ``method`` is 'direct', 'fft' (whole-array), 'oa' (overlap-save), 'fft_any' (the cheaper
    FFT layout) or 'auto' (the core's cost model). Integer inputs stay exact: with an FFT
    method they are computed in float64 and rounded, which ``auto`` only does when the
    rounding error bound guarantees the exact integer (else it runs the direct kernel).
    ``out_dtype`` overrides the peer's ``result_type`` (``fftconvolve`` returns floats).

    With ``swap_larger`` set, a kernel with more elements than the signal trades places with
    it (the peers do the same for speed): convolution is commutative, and a correlation comes
    back as the conjugated reverse, ``c_ab[k] = conj(c_ba[-k])``.
    """
    if (
        in1.dtype == in2.dtype
        and in1.dtype.char in _NATIVE_CHARS
        and len(axes) == in1.ndim
        and out_dtype is None
        and not (swap_larger and in2.size > in1.size)
    ):
        # Fast path: same native dtype, every axis convolved (no casts, no transposes).
        is_complex = in1.dtype.kind == "c"
        return _core.correlate(in1, in2, mode, 0, flip, conj and is_complex, workers, None, method)
    if swap_larger and in2.size > in1.size:
        out = correlate_axes(
            in2,
            in1,
            mode,
            axes,
            flip=flip,
            conj=conj,
            workers=workers,
            method=method,
            out_dtype=out_dtype,
        )
        if flip:
            return out
        out = np.flip(out, axis=tuple(axes))
        return np.conj(out) if out.dtype.kind == "c" else np.ascontiguousarray(out)
    peer_dtype = result_dtype(in1, in2)
    out_dtype = peer_dtype if out_dtype is None else np.dtype(out_dtype)
    exact_ints = peer_dtype.kind in "biu"
    if exact_ints and method == "auto":
        method = (
            "fft_any"
            if _fft_rounds_exactly(in1, in2, axes) and _fft_pays(in1, in2, mode, axes)
            else "direct"
        )
    # An FFT computes in the float dtype of the requested output (fftconvolve's float64 for
    # int16 with float32), else in the peer's.
    cdt = (
        fft_compute_dtype(out_dtype if out_dtype.kind in "fc" else peer_dtype)
        if method in _FFT_METHODS
        else compute_dtype(peer_dtype)
    )
    a = to_compute(in1, cdt)
    b = to_compute(in2, cdt)
    batch = [d for d in range(a.ndim) if d not in axes]
    order = batch + list(axes)
    identity = order == list(range(a.ndim))
    if not identity:
        a = np.transpose(a, order)
        b = np.transpose(b, order)
    conj = conj and cdt.kind == "c"
    result = _core.correlate(a, b, mode, len(batch), flip, conj, workers, None, method)
    if not identity:
        result = np.transpose(result, np.argsort(order))
    if exact_ints and result.dtype.kind == "f" and out_dtype.kind in "biu":
        # The exact integer fits int64 (the rounding bound keeps it below 2**53); casting
        # through int64 wraps to narrower dtypes as the peers' integer arithmetic does (a
        # float to int16 cast of an out-of-range value would not).
        result = np.rint(result).astype(np.int64)
    return from_compute(result, out_dtype)


def warn_if_not_finite(*arrays: np.ndarray, stacklevel: int = 4) -> None:
    """Warn (RuntimeWarning) when an FFT is asked to convolve NaN or infinity: the transform
    spreads each one over the whole output, where the direct sum keeps it local."""
    for a in arrays:
        if a.dtype.kind in "fc" and not np.isfinite(a).all():
            warnings.warn(
                "input holds NaN or infinity: an FFT spreads it over the whole output; "
                "method='direct' (or 'auto', which switches to direct) keeps it local",
                RuntimeWarning,
                # By default: warn_if_not_finite <- the private helper <- the public function
                # <- the caller.
                stacklevel=stacklevel,
            )
            return


def _max_abs(a: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(max(abs(int(a.max())), abs(int(a.min()))))


def _fft_rounds_exactly(in1: np.ndarray, in2: np.ndarray, axes: Sequence[int]) -> bool:
    """True when float64 FFT convolution of these integers rounds to the exact result.

    The error of each FFT output is at most ``c * eps * log2(N) * ||x||_2 * ||w||_2`` (the
    standard bound for FFT convolution); with ``||v||_2 <= sqrt(len) * max|v|`` and c = 8 we
    accept only when that bound is below 1/4, so ``rint`` recovers the exact integer. This is
    the check SciPy's chooser lacks (its FFT path returns wrong int64 results well below 2**53).
    """
    n1 = float(np.prod([in1.shape[a] for a in axes]))
    n2 = float(np.prod([in2.shape[a] for a in axes]))
    size = n1 + n2
    bound = 8 * np.finfo(np.float64).eps * np.log2(max(size, 2.0))
    bound *= np.sqrt(n1) * _max_abs(in1) * np.sqrt(n2) * _max_abs(in2)
    return bool(bound < 0.25)


def _fft_pays(in1: np.ndarray, in2: np.ndarray, mode: str, axes: Sequence[int]) -> bool:
    """Ask the cost model (float64 constants, shapes only) whether an FFT method wins."""
    shape1 = [in1.shape[a] for a in axes]
    shape2 = [in2.shape[a] for a in axes]
    name, _ = _core.method_costs(shape1, shape2, mode, "d")
    return name != "direct"

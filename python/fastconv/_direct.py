"""The one bridge from the public functions to the Rust direct kernel."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from fastconv import _core
from fastconv._dtypes import compute_dtype, from_compute, result_dtype, to_compute


# float32, float64, complex64, complex128: the dtypes the core computes in directly.
_NATIVE_CHARS = "fdFD"


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
) -> np.ndarray:
    """Correlate (``flip=False``) or convolve (``flip=True``) along ``axes``.

    ``in1`` and ``in2`` have the same ndim; every axis not in ``axes`` broadcasts. The output
    keeps the input's axis order. For ``valid`` mode a kernel longer than the signal gives the
    peers' swapped result (length ``k - n + 1``) directly. Inputs of any layout are accepted:
    the core copies non-C-contiguous inputs once, outside the GIL.

    With ``swap_larger`` set, a kernel with more elements than the signal trades places with
    it (the peers do the same for speed): convolution is commutative, and a correlation comes
    back as the conjugated reverse, ``c_ab[k] = conj(c_ba[-k])``.
    """
    if (
        in1.dtype == in2.dtype
        and in1.dtype.char in _NATIVE_CHARS
        and len(axes) == in1.ndim
        and not (swap_larger and in2.size > in1.size)
    ):
        # Fast path: same native dtype, every axis convolved (no casts, no transposes).
        return _core.correlate(in1, in2, mode, 0, flip, conj and in1.dtype.kind == "c", workers)
    if swap_larger and in2.size > in1.size:
        out = correlate_axes(in2, in1, mode, axes, flip=flip, conj=conj, workers=workers)
        if flip:
            return out
        out = np.flip(out, axis=tuple(axes))
        return np.conj(out) if out.dtype.kind == "c" else np.ascontiguousarray(out)
    out_dtype = result_dtype(in1, in2)
    cdt = compute_dtype(out_dtype)
    a = to_compute(in1, cdt)
    b = to_compute(in2, cdt)
    batch = [d for d in range(a.ndim) if d not in axes]
    order = batch + list(axes)
    identity = order == list(range(a.ndim))
    if not identity:
        a = np.transpose(a, order)
        b = np.transpose(b, order)
    conj = conj and cdt.kind == "c"
    result = _core.correlate(a, b, mode, len(batch), flip, conj, workers)
    if not identity:
        result = np.transpose(result, np.argsort(order))
    return from_compute(result, out_dtype)

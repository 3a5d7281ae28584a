"""Boundary extension for ``convolve2d``/``correlate2d``: explicit padding, then 'valid'.

Zero fill needs no padding (the core leaves out-of-range taps out). Every other boundary pads
``in1`` once by exactly the halo the output needs, read from the core's own mode geometry, and
runs a 'valid' correlation over the padded array.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from fastconv import _core

# SciPy's names for each boundary, mapped to numpy.pad's modes.
_PAD_MODES = {
    "fill": "constant",
    "pad": "constant",
    "wrap": "wrap",
    "circular": "wrap",
    "symm": "symmetric",
    "symmetric": "symmetric",
}


def fill_scalar(fillvalue: object, dtype: np.dtype) -> np.generic:
    """``fillvalue`` as one element of ``dtype``, with SciPy's checks and messages."""
    arr = np.asarray(fillvalue)
    if arr.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element.")
    value = arr.reshape(()).item()
    if isinstance(value, complex) and dtype.kind != "c":
        if value.imag != 0:
            raise ValueError(
                "could not cast `fillvalue` directly to the output type "
                "(it was first converted to complex)."
            )
        value = value.real
    return np.array(value).astype(dtype)[()]


def padded_for_boundary(
    in1: np.ndarray,
    in2: np.ndarray,
    mode: str,
    boundary: str,
    fillvalue: object,
) -> Tuple[np.ndarray, str]:
    """``(array, core_mode)`` such that a core correlation in ``core_mode`` gives ``mode``
    with ``boundary`` applied to ``in1``."""
    if boundary not in _PAD_MODES:
        raise ValueError(
            "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
            "'symmetric' (or 'symm')."
        )
    pad_mode = _PAD_MODES[boundary]
    out_dtype = np.result_type(in1, in2)
    fill = fill_scalar(fillvalue, out_dtype) if pad_mode == "constant" else 0
    if mode == "valid" or (pad_mode == "constant" and fill == 0):
        return in1, mode
    # The fill value is cast to the output dtype (SciPy's rule), so pad in that dtype.
    in1 = in1.astype(out_dtype, copy=False)
    widths = []
    for n, k in zip(in1.shape, in2.shape):
        start, m = _core.axis_geometry(n, k, mode)
        widths.append((-start, m + start + k - 1 - n))
    if pad_mode == "constant":
        return np.pad(in1, widths, mode="constant", constant_values=fill), "valid"
    return np.pad(in1, widths, mode=pad_mode), "valid"

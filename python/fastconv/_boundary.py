"""Boundary extension for ``convolve2d``/``correlate2d``: explicit padding, then 'valid'.

Zero fill needs no padding (the core leaves out-of-range taps out). Every other boundary pads
``in1`` once by exactly the halo the output needs, read from the core's own mode geometry, and
runs a 'valid' correlation over the padded array.
"""

from __future__ import annotations

from typing import Sequence, Tuple

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


def check_boundary(boundary: object) -> str:
    """The ``numpy.pad`` mode for one of SciPy's boundary names; ValueError (SciPy's) if unknown.

    Raises
    ------
    ValueError
        For any other hashable value ('reflect' included: SciPy names it but refuses it).
    TypeError
        For an unhashable value (SciPy's dict lookup raises it too).
    """
    try:
        hash(boundary)
    except TypeError:
        raise TypeError(
            f"boundary must be a string, got unhashable {type(boundary).__name__}"
        ) from None
    if not isinstance(boundary, str) or boundary not in _PAD_MODES:
        raise ValueError(
            "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
            f"'symmetric' (or 'symm'); got {boundary!r}"
        )
    return _PAD_MODES[boundary]


def fill_scalar(fillvalue: object, dtype: np.dtype) -> np.generic:
    """``fillvalue`` as one element of ``dtype``, converted as SciPy's ``_convolve2d`` does.

    Python scalars convert by value (``2.5`` becomes 2 for integers), NumPy scalars as a C cast
    (a complex one loses its imaginary part, with NumPy's ComplexWarning), arrays only by a safe
    cast. A value that does not convert (a Python complex into a real dtype, NaN or out of
    range into an integer dtype, an unsafe array cast) is a ValueError, as in SciPy, unless it
    cannot even become a complex number, which raises what that conversion raises.
    """
    try:
        if isinstance(fillvalue, np.ndarray) and not np.can_cast(fillvalue.dtype, dtype):
            raise TypeError(f"cannot cast {fillvalue.dtype} to {dtype} safely")
        # NumPy scalars convert with C-cast semantics (and NumPy's warnings), as in SciPy.
        arr = np.asarray(fillvalue, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        np.asarray(fillvalue, dtype=np.complex128)  # SciPy's second try: its errors propagate
        raise ValueError(
            f"could not cast `fillvalue` {fillvalue!r} directly to the output type {dtype} "
            "(it was first converted to complex)."
        ) from None
    if arr.size == 0:
        raise ValueError("`fillvalue` cannot be an empty array.")
    if arr.size != 1:
        raise ValueError(
            f"`fillvalue` must be scalar or an array with one element, got shape {arr.shape}."
        )
    return arr.reshape(())[()]


def padded_for_boundary(
    in1: np.ndarray,
    in2: np.ndarray,
    mode: str,
    pad_mode: str,
    fill: object,
    out_dtype: np.dtype,
    axes: Sequence[int] = (0, 1),
) -> Tuple[np.ndarray, str]:
    """``(array, core_mode)`` such that a core correlation in ``core_mode`` gives ``mode``
    with boundary ``pad_mode`` (from :func:`check_boundary`) applied to ``in1`` along ``axes``.

    ``fill`` is the fill value in ``out_dtype`` (from :func:`fill_scalar`), used when
    ``pad_mode`` is 'constant'. A zero fill is left to the core, which leaves out-of-range taps
    out, unless ``in2`` holds an infinity or NaN: SciPy multiplies its zero padding, and
    ``0 * inf`` is NaN, so the zeros are then padded explicitly.
    """
    if mode == "valid":
        return in1, mode
    if (
        pad_mode == "constant"
        and fill == 0
        and (in2.dtype.kind not in "fc" or np.isfinite(in2).all())
    ):
        return in1, mode
    # The fill value is cast to the output dtype (SciPy's rule), so pad in that dtype.
    in1 = in1.astype(out_dtype, copy=False)
    widths = [(0, 0)] * in1.ndim
    for d in axes:
        n, k = in1.shape[d], in2.shape[d]
        start, m = _core.axis_geometry(n, k, mode)
        widths[d] = (-start, m + start + k - 1 - n)
    if pad_mode == "constant":
        return np.pad(in1, widths, mode="constant", constant_values=fill), "valid"
    return np.pad(in1, widths, mode=pad_mode), "valid"

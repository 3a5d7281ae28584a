"""Dtype resolution: which dtype the core computes in, and which dtype the caller gets back.

The peers (``numpy.convolve``, ``scipy.signal.convolve``) return ``np.result_type(in1, in2)``.
The Rust core computes in float32, float64, complex64, complex128 or int64:

* integers of every width compute as wrapping int64 and are cast back with C semantics, which
  reproduces the peer's wrap-around exactly (two's-complement arithmetic is exact modulo 2**n);
* bool computes as an integer count and returns ``count != 0`` (NumPy's OR of ANDs);
* float16 computes in float32 and rounds once at the end (NumPy accumulates half in float too).
"""

from __future__ import annotations

import numpy as np

_COMPUTE_FOR_KIND = {"b": np.int64, "i": np.int64, "u": np.int64}
_NATIVE = {np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128)}


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The output dtype the peers give for these inputs.

    Raises
    ------
    ValueError
        For strings, bytes, datetimes, timedeltas and structured dtypes (as the peers do).
    TypeError
        For object and extended-precision dtypes, which fastconv does not compute in.
    """
    for a in arrays:
        check_supported(a.dtype)
    return np.result_type(*arrays)


def check_supported(dtype: np.dtype) -> None:
    """Raise the peer's exception class for a dtype fastconv cannot convolve."""
    if dtype.kind in "SUaMmV":
        raise ValueError(f"convolution is not defined for arrays of dtype {dtype}")
    if dtype.kind == "O":
        raise TypeError("object arrays are not supported; convert to a numeric dtype first")
    if dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16):
        raise TypeError(f"{dtype} (extended precision) is not supported; use float64/complex128")


def compute_dtype(out: np.dtype) -> np.dtype:
    """The dtype the Rust core computes in for an output of dtype ``out``."""
    if out.kind in _COMPUTE_FOR_KIND:
        return np.dtype(_COMPUTE_FOR_KIND[out.kind])
    if out == np.float16:
        return np.dtype(np.float32)
    if out in _NATIVE:
        return out
    raise TypeError(f"unsupported dtype {out}")


def to_compute(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` in the compute dtype: a view for same-width integers, else a cast (copy)."""
    if a.dtype == dtype:
        return a
    if dtype == np.int64 and a.dtype.kind in "iu" and a.dtype.itemsize == 8:
        return a.view(np.int64)
    return a.astype(dtype)


def from_compute(result: np.ndarray, out: np.dtype) -> np.ndarray:
    """The core's result in the caller's dtype (no copy when they already agree)."""
    if result.dtype == out:
        return result
    if out == np.bool_:
        return result != 0
    return result.astype(out)

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


# Which peer code path a call follows: NumPy's ``correlate`` (also SciPy's 1-D fast path),
# SciPy's N-D ``_correlateND``, or SciPy's ``_convolve2d``. They refuse dtypes differently.
NUMPY_PATH = "numpy"
ND_PATH = "nd"
TWO_D_PATH = "2d"


def peer_dtype(in1: np.ndarray, in2: np.ndarray, path: str, name: str) -> np.dtype:
    """The output dtype the peer gives for these inputs on ``path``, or the peer's exception.

    The peers promote the two dtypes (NumPy's legacy promotion, so ``str`` with a number is a
    string); where promotion fails NumPy falls back to ``object`` and computes with Python
    objects.

    Raises
    ------
    ValueError
        Where the peer raises ValueError: strings, bytes and datetimes on the NumPy path;
        every non-numeric dtype, and bool and float16 (no C loop), on SciPy's N-D and 2-D paths.
    TypeError
        Where NumPy computes with Python objects (object, timedelta64, mixtures that do not
        promote) or the peer raises TypeError, and for extended precision: fastconv computes
        only in native numeric dtypes (a documented deviation where the peer computes).
    """
    try:
        common = np.promote_types(in1.dtype, in2.dtype)
    except TypeError:
        common = np.dtype(object)
    pair = f"{in1.dtype} and {in2.dtype}"
    if common.kind in "biufc":
        if common.kind in "fc" and common.itemsize > (8 if common.kind == "f" else 16):
            raise TypeError(
                f"{name}: {common} (extended precision) is not supported; "
                "convert to float64 or complex128"
            )
        if path != NUMPY_PATH and common in (np.dtype(np.bool_), np.dtype(np.float16)):
            raise ValueError(
                f"{name}: not available for {common} inputs (SciPy has no {common} loop "
                "here either); convert to an integer or float32 dtype"
            )
        return common
    if path != NUMPY_PATH:
        raise ValueError(f"{name}: not available for arrays of dtype {pair} (not numeric)")
    if common.kind in "SUM":
        raise ValueError(f"{name}: convolution is not defined for arrays of dtype {pair}")
    raise TypeError(
        f"{name}: arrays of dtype {pair} are not supported (NumPy would compute with Python "
        "objects); convert to a numeric dtype first"
    )


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The output dtype the peers give for these (already validated) numeric inputs.

    Raises
    ------
    ValueError
        For strings, bytes, datetimes, timedeltas and structured dtypes.
    TypeError
        For object and extended-precision dtypes, which fastconv does not compute in.
    """
    for a in arrays:
        check_supported(a.dtype)
    return np.result_type(*arrays)


def check_supported(dtype: np.dtype) -> None:
    """Raise for a dtype the core cannot compute in (a last guard; callers use peer_dtype)."""
    if dtype.kind in "SUaMmV":
        raise ValueError(f"convolution is not defined for arrays of dtype {dtype}")
    if dtype.kind == "O":
        raise TypeError("object arrays are not supported; convert to a numeric dtype first")
    if dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16):
        raise TypeError(f"{dtype} (extended precision) is not supported; use float64/complex128")


def compute_dtype(out: np.dtype) -> np.dtype:
    """The dtype the Rust core computes in for an output of dtype ``out`` (native byte
    order: a big-endian input is converted on the way in)."""
    out = out.newbyteorder("=")
    if out.kind in _COMPUTE_FOR_KIND:
        return np.dtype(_COMPUTE_FOR_KIND[out.kind])
    if out == np.float16:
        return np.dtype(np.float32)
    if out in _NATIVE:
        return out
    raise TypeError(f"unsupported dtype {out}")


def fft_compute_dtype(out: np.dtype) -> np.dtype:
    """The float dtype an FFT computes in: float64 for bool and integers (as NumPy's and
    SciPy's FFTs do), float32 for float16, the dtype itself otherwise."""
    if out.kind in "biu":
        return np.dtype(np.float64)
    return compute_dtype(out)


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

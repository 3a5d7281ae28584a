"""Argument checks shared by the public functions (the peers' exception classes and messages)."""

from __future__ import annotations

import operator
from typing import Optional, Sequence, Tuple, Union

import numpy as np

MODES = ("full", "same", "valid")
AxesArg = Union[None, int, Sequence[int]]


def check_mode(mode: object) -> str:
    """Return ``mode`` if it is one of 'full', 'same', 'valid', as SciPy's dict lookup does.

    Raises
    ------
    ValueError
        For any other hashable value.
    TypeError
        For an unhashable value (SciPy's lookup raises it too).
    """
    try:
        hash(mode)
    except TypeError:
        raise TypeError(f"mode must be a string, got unhashable {type(mode).__name__}") from None
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"Acceptable mode flags are 'valid', 'same', or 'full'; got {mode!r}")
    return str(mode)


_NP_INT_MODES = {0: "valid", 1: "same", 2: "full"}


def check_numpy_mode(mode: object) -> str:
    """Parse ``mode`` as ``numpy.convolve`` does: a name or 0/1/2, with NumPy's exceptions.

    Raises
    ------
    ValueError
        Unknown names (including abbreviations NumPy no longer accepts), integers other than
        0, 1, 2.
    TypeError
        Anything that is neither a string nor an integer (bool included), and integers too
        large for a C int.
    """
    if isinstance(mode, str):
        if mode in MODES:
            return str(mode)
        if mode[:1] in ("v", "V", "s", "S", "f", "F"):
            raise ValueError(
                f"Use one of 'valid', 'same', or 'full' for convolve/correlate mode (got {mode!r})"
            )
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    if isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"convolve/correlate mode not understood: {mode!r}")
    try:
        number = operator.index(mode)
    except TypeError:
        raise TypeError(f"convolve/correlate mode not understood: {mode!r}") from None
    if not -(2**31) <= number < 2**31:
        raise TypeError(f"convolve/correlate mode not understood: {mode!r}")
    if number not in _NP_INT_MODES:
        raise ValueError(f"integer convolve/correlate mode must be 0, 1, or 2 (got {number})")
    return _NP_INT_MODES[number]


def check_method(method: object) -> str:
    """Return ``method`` if it is 'auto', 'direct' or 'fft'; else ValueError like SciPy."""
    if isinstance(method, str) and method in ("auto", "direct", "fft"):
        return method
    raise ValueError(f"Acceptable method flags are 'auto', 'direct', or 'fft'; got {method!r}")


def check_workers(workers: object) -> Optional[int]:
    """Validate ``workers``: None, or a positive integer (SciPy's -1 means all cores)."""
    if workers is None:
        return None
    try:
        n = operator.index(workers)
    except TypeError:
        raise TypeError(f"workers must be an integer, got {type(workers).__name__}") from None
    if n == -1:
        from fastconv import _core

        return int(_core.available_cores())
    if n < 1:
        raise ValueError(f"workers must be a positive integer or -1, got {n}")
    return n


def normalize_axes(axes: AxesArg, ndim: int) -> Tuple[int, ...]:
    """Axes as sorted, unique, non-negative ints (``scipy.signal.fftconvolve``'s rules).

    Raises
    ------
    ValueError
        Non-integers, an empty sequence, axes out of range, repeated axes.
    """
    if axes is None:
        return tuple(range(ndim))
    seq = [axes] if np.ndim(axes) == 0 else list(axes)
    try:
        out = [operator.index(a) for a in seq]
    except TypeError:
        raise ValueError(f"axes must be a scalar or iterable of integers, got {axes!r}") from None
    if not out:
        raise ValueError("when provided, axes cannot be empty")
    if any(a >= ndim or a < -ndim for a in out):
        raise ValueError(f"axes {axes!r} exceeds dimensionality of input (ndim={ndim})")
    out = [a % ndim for a in out]
    if len(set(out)) != len(out):
        raise ValueError(f"all axes must be unique, got {axes!r}")
    return tuple(sorted(out))


def valid_swap_check(s1: Sequence[int], s2: Sequence[int], axes: Sequence[int]) -> None:
    """SciPy's 'valid' rule: one input must be at least as large as the other on every axis."""
    ok1 = all(s1[a] >= s2[a] for a in axes)
    ok2 = all(s2[a] >= s1[a] for a in axes)
    if not (ok1 or ok2):
        raise ValueError(
            "For 'valid' mode, one must be at least as large as the other in every dimension"
        )


def as_numeric_array(x: object, name: str) -> np.ndarray:
    """``np.asarray(x)``; a ragged sequence becomes the ValueError NumPy raises."""
    try:
        return np.asarray(x)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None

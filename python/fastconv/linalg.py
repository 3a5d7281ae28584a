"""Drop-in replacement for ``scipy.linalg.convolution_matrix``."""

from __future__ import annotations

import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["convolution_matrix"]


def convolution_matrix(a, n: int, mode: str = "full") -> np.ndarray:
    """The matrix ``A`` with ``A @ x == numpy.convolve(x, a, mode)`` for ``len(x) == n``.

    As ``scipy.linalg.convolution_matrix``: a Toeplitz matrix of shape ``(m, n)`` with
    ``m = n + k - 1`` ('full'), ``max(n, k)`` ('same') or ``max(n, k) - min(n, k) + 1``
    ('valid'); an N-D ``a`` gives one matrix per 1-D slice along its last axis. Each entry is a
    kernel tap or a structural zero: the tied and zero weights of a convolution layer.

    Raises
    ------
    ValueError
        If ``n <= 0``, ``a`` is empty, or ``mode`` is unknown (checked in that order).
    TypeError
        If ``n`` is not an integer.
    IndexError
        If ``a`` is 0-d.
    """
    if n <= 0:
        raise ValueError("n must be a positive integer.")
    a = np.asarray(a)
    if a.size == 0:
        raise ValueError("len(a) must be at least 1.")
    if mode not in ("full", "valid", "same"):
        raise ValueError("'mode' argument must be one of ('full', 'valid', 'same')")
    try:
        # A Python int: NumPy integer scalars would overflow in the size arithmetic below.
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            f"`pad_width` must be of integral type: n={n!r} is not an integer"
        ) from None
    if a.ndim == 0:
        raise IndexError("a must be at least 1-D: a 0-d array has no last axis")
    k = a.shape[-1]
    # Row i of the full matrix is z[i : i + n] reversed, z = [0]*(n-1) + a + [0]*(n-1).
    pad = [(0, 0)] * (a.ndim - 1) + [(n - 1, n - 1)]
    z = np.pad(a, pad)
    full = sliding_window_view(z, n, axis=-1)[..., ::-1]
    shortest = min(n, k) - 1
    first = {"full": 0, "same": shortest // 2, "valid": shortest}[mode]
    rows = {"full": n + k - 1, "same": max(n, k), "valid": max(n, k) - shortest}[mode]
    # A copy: the window view is read-only and shares memory (even when already contiguous);
    # in native byte order, as SciPy returns it.
    window = full[..., first : first + rows, :]
    return np.array(window, dtype=a.dtype.newbyteorder("="), order="C", copy=True)

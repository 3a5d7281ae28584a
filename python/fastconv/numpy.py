"""Drop-in replacements for ``numpy.convolve`` and ``numpy.correlate``.

Same values, shapes, dtypes and exceptions as NumPy (1-D only; the longer input plays the
signal; ``correlate`` defaults to mode 'valid' and conjugates ``v``), plus ``workers=``.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from fastconv._args import check_workers
from fastconv._direct import correlate_axes

__all__ = ["convolve", "correlate"]

_INT_MODES = {0: "valid", 1: "same", 2: "full"}
ModeArg = Union[str, int]


def convolve(a, v, mode: ModeArg = "full", *, workers: Optional[int] = None) -> np.ndarray:
    """Discrete linear convolution of two 1-D sequences, as ``numpy.convolve``.

    Parameters
    ----------
    a, v : array_like
        1-D inputs (scalars count as length 1).
    mode : {'full', 'valid', 'same'} or {2, 0, 1}
        Output length: ``N + M - 1``, ``max(N, M) - min(N, M) + 1`` or ``max(N, M)``.
    workers : int, optional
        Threads for this call (default: ``fastconv.get_num_threads()``).

    Returns
    -------
    numpy.ndarray
        1-D array of dtype ``numpy.result_type(a, v)``.
    """
    a, v, mode = _prepare(a, v, mode)
    workers = check_workers(workers)
    if len(v) > len(a):
        a, v = v, a
    return correlate_axes(a, v, mode, (0,), flip=True, conj=False, workers=workers)


def correlate(a, v, mode: ModeArg = "valid", *, workers: Optional[int] = None) -> np.ndarray:
    """Cross-correlation of two 1-D sequences, as ``numpy.correlate``.

    ``c[k] = sum_n a[n + k] * conj(v[n])``. Parameters as :func:`convolve`; the default mode
    is 'valid'.
    """
    a, v, mode = _prepare(a, v, mode)
    workers = check_workers(workers)
    return correlate_axes(
        a, v, mode, (0,), flip=False, conj=True, workers=workers, swap_larger=True
    )


def _prepare(a, v, mode: ModeArg) -> Tuple[np.ndarray, np.ndarray, str]:
    if not (type(a) is np.ndarray and a.ndim == 1):
        a = np.atleast_1d(np.asarray(a))
    if not (type(v) is np.ndarray and v.ndim == 1):
        v = np.atleast_1d(np.asarray(v))
    if a.ndim > 1 or v.ndim > 1:
        raise ValueError("object too deep for desired array")
    if a.size == 0:
        raise ValueError("a cannot be empty")
    if v.size == 0:
        raise ValueError("v cannot be empty")
    return a, v, _mode_name(mode)


def _mode_name(mode: ModeArg) -> str:
    if isinstance(mode, str):
        if mode in ("full", "same", "valid"):
            return mode
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    try:
        return _INT_MODES[int(mode)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"integer mode must be 0, 1 or 2 (got {mode!r})") from None

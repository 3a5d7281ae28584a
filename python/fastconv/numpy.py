"""Drop-in replacements for ``numpy.convolve`` and ``numpy.correlate``.

Same values, shapes, dtypes and exceptions as NumPy (1-D only; the longer input plays the
signal; ``correlate`` defaults to mode 'valid' and conjugates ``v``), plus ``workers=``.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from fastconv import _core
from fastconv._args import check_numpy_mode, check_workers
from fastconv._direct import correlate_axes
from fastconv._dtypes import NUMPY_PATH, peer_dtype

__all__ = ["convolve", "correlate"]

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

    Raises
    ------
    ValueError
        Empty or multi-dimensional input, unknown mode name or integer, string or datetime
        dtypes (as NumPy).
    TypeError
        A mode that is neither a string nor an integer (as NumPy); object, timedelta and
        extended-precision dtypes, which NumPy computes with Python objects or in long
        double and fastconv refuses.
    """
    fast = _core.fast_1d(a, v, mode, True, True, "auto", workers)
    if fast is not None:
        return fast
    workers = check_workers(workers)
    a = np.atleast_1d(np.asarray(a))
    v = np.atleast_1d(np.asarray(v))
    if len(a) == 0:
        raise ValueError("a cannot be empty")
    if len(v) == 0:
        raise ValueError("v cannot be empty")
    mode = check_numpy_mode(mode)
    _check_1d(a, v)
    if len(v) > len(a):
        a, v = v, a
    peer_dtype(a, v, NUMPY_PATH, "convolve")
    return correlate_axes(a, v, mode, (0,), flip=True, conj=False, workers=workers, method="auto")


def correlate(a, v, mode: ModeArg = "valid", *, workers: Optional[int] = None) -> np.ndarray:
    """Cross-correlation of two 1-D sequences, as ``numpy.correlate``.

    ``c[k] = sum_n a[n + k] * conj(v[n])``. Parameters and exceptions as :func:`convolve`,
    except that the default mode is 'valid' and 0-d inputs are refused (ValueError), as NumPy
    does.
    """
    fast = _core.fast_1d(a, v, mode, False, True, "auto", workers)
    if fast is not None:
        return fast
    workers = check_workers(workers)
    mode = check_numpy_mode(mode)
    a = np.asarray(a)
    v = np.asarray(v)
    if a.ndim == 0 or v.ndim == 0:
        raise ValueError("object of too small depth for desired array: inputs must be 1-D")
    _check_1d(a, v)
    if a.size == 0:
        raise ValueError("first array argument cannot be empty")
    if v.size == 0:
        raise ValueError("second array argument cannot be empty")
    peer_dtype(a, v, NUMPY_PATH, "correlate")
    return correlate_axes(
        a, v, mode, (0,), flip=False, conj=True, workers=workers, swap_larger=True, method="auto"
    )


def _check_1d(a: np.ndarray, v: np.ndarray) -> None:
    if a.ndim > 1 or v.ndim > 1:
        raise ValueError(
            f"object too deep for desired array: inputs must be 1-D, got shapes {a.shape} "
            f"and {v.shape}"
        )

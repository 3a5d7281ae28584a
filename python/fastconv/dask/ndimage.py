"""``scipy.ndimage``-style filters of a dask array with in-memory weights.

:func:`correlate`, :func:`convolve`, :func:`correlate1d` and :func:`convolve1d` take the
arguments of :mod:`fastconv.ndimage` (every boundary mode, ``cval``, ``origin``, ``axes``)
and return lazily what the in-memory function returns. Each chunk is filtered by the
in-memory function with its halo (``k // 2 + origin`` samples before, the rest after, per
axis); on the array's real edges the in-memory function extends the chunk with the
boundary mode itself, which is exact because every chunk holds at least the filter length.
'wrap' reads the other end of the array: a split 'wrap' axis is first extended with the
periodic halo (a concatenation of the two end slices).
"""

from __future__ import annotations

import operator
from typing import Optional

import dask.array as da
import numpy as np

from fastconv import ndimage as _ndimage
from fastconv.dask._engine import AxisPlan, as_dask, crop, halo_map, merged_chunks

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d"]

_WRAP = ("wrap", "grid-wrap")


def correlate(
    input,
    weights,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
    workers: Optional[int] = 1,
) -> da.Array:
    """Multidimensional correlation of a dask array, as :func:`fastconv.ndimage.correlate`.

    Parameters
    ----------
    input : dask.array.Array or array_like
        The input, chunked any way.
    weights : array_like
        The weights, in memory; they enter the task graph once.
    output : dtype, optional
        The output dtype (an output *array* is refused: the result is a dask array).
    mode, cval, origin, axes
        As :func:`fastconv.ndimage.correlate`: every boundary mode ('reflect', 'constant',
        'nearest', 'mirror', 'wrap' and the 'grid-*' synonyms).
    workers : int, optional
        Threads of each chunk's in-memory call (default 1; ``None``: fastconv's default).

    Returns
    -------
    dask.array.Array
        The in-memory function's result, lazily: the input's shape, the same dtype and
        values.

    Raises
    ------
    RuntimeError, ValueError, TypeError
        As :func:`fastconv.ndimage.correlate`, when the graph is built; TypeError for an
        output array.
    """
    return _nd("correlate", input, weights, output, mode, cval, origin, axes, workers)


def convolve(
    input,
    weights,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
    workers: Optional[int] = 1,
) -> da.Array:
    """Multidimensional convolution of a dask array, as :func:`fastconv.ndimage.convolve`
    (reversed weights, origin ``-origin`` and one less on even axes). Parameters, result and
    exceptions as :func:`correlate`."""
    return _nd("convolve", input, weights, output, mode, cval, origin, axes, workers)


def correlate1d(
    input,
    weights,
    axis=-1,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    workers: Optional[int] = 1,
) -> da.Array:
    """One-dimensional correlation along ``axis`` of a dask array, as
    :func:`fastconv.ndimage.correlate1d`. Parameters as :func:`correlate` with ``axis``
    and 1-D ``weights``."""
    return _one_d("correlate1d", input, weights, axis, output, mode, cval, origin, workers)


def convolve1d(
    input,
    weights,
    axis=-1,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    workers: Optional[int] = 1,
) -> da.Array:
    """One-dimensional convolution along ``axis`` of a dask array, as
    :func:`fastconv.ndimage.convolve1d`. Parameters as :func:`correlate1d`."""
    return _one_d("convolve1d", input, weights, axis, output, mode, cval, origin, workers)


# --------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------


def _check_output(output) -> None:
    if isinstance(output, np.ndarray) or (
        output is not None and not isinstance(output, (str, type, np.dtype))
    ):
        raise TypeError("fastconv.dask.ndimage: output must be None or a dtype, not an array")


def _lead(k: int, origin: int, convolution: bool) -> int:
    """Samples before the output a filter of length ``k`` reads (SciPy's origin rules:
    convolution reverses the weights, negates the origin and moves even filters by one)."""
    if convolution:
        origin = -origin - (0 if k & 1 else 1)
    return k // 2 + origin


def _nd(name, input, weights, output, mode, cval, origin, axes, workers) -> da.Array:
    _check_output(output)
    x = as_dask(input)
    w = np.asarray(weights)
    fn = getattr(_ndimage, name)
    kwargs = dict(output=output, mode=mode, cval=cval, origin=origin, axes=axes, workers=workers)
    reach = max(w.shape, default=1) + 1
    proxy = np.zeros(tuple(min(n, reach) for n in x.shape), dtype=x.dtype)
    dtype = np.asarray(fn(proxy, w, **kwargs)).dtype  # every check, and the output dtype
    if x.ndim == 0 or x.size == 0:
        return da.from_array(np.asarray(fn(x.compute(), w, **kwargs)))
    if w.size == 0:
        return halo_map(x, w, {}, _nd_block, dtype, fn=fn, kwargs=kwargs)
    # Filter length and origin per input axis, as scipy.ndimage expands them.
    if axes is None:
        filtered = list(range(x.ndim))
    else:
        seq = [axes] if np.ndim(axes) == 0 else list(axes)
        filtered = [operator.index(a) % x.ndim for a in seq]
    origins = list(origin) if np.iterable(origin) else [origin] * len(filtered)
    if len(filtered) == x.ndim:
        lengths, per_axis = list(w.shape), [operator.index(o) for o in origins]
    else:
        lengths, per_axis = [1] * x.ndim, [0] * x.ndim
        for i, ax in enumerate(filtered):
            lengths[ax], per_axis[ax] = w.shape[i], operator.index(origins[i])
    leads = [_lead(k, o, name == "convolve") for k, o in zip(lengths, per_axis)]
    return _plan_and_map(x, w, lengths, leads, mode, dtype, fn=fn, kwargs=kwargs)


def _one_d(name, input, weights, axis, output, mode, cval, origin, workers) -> da.Array:
    _check_output(output)
    x = as_dask(input)
    w = np.asarray(weights)
    fn = getattr(_ndimage, name)
    kwargs = dict(axis=axis, output=output, mode=mode, cval=cval, origin=origin, workers=workers)
    reach = max(w.shape, default=1) + 1
    proxy = np.zeros(tuple(min(n, reach) for n in x.shape), dtype=x.dtype)
    dtype = np.asarray(fn(proxy, w, **kwargs)).dtype  # every check, and the output dtype
    if x.size == 0:
        return da.from_array(np.asarray(fn(x.compute(), w, **kwargs)))
    ax = operator.index(axis) % x.ndim
    lengths = [1] * x.ndim
    leads = [0] * x.ndim
    lengths[ax] = w.shape[0]
    leads[ax] = _lead(w.shape[0], operator.index(origin), name == "convolve1d")
    return _plan_and_map(x, w, lengths, leads, mode, dtype, fn=fn, kwargs=kwargs)


def _plan_and_map(x, w, lengths, leads, mode, dtype, *, fn, kwargs) -> da.Array:
    """Plans for the filtered axes (a split 'wrap' axis extended with its periodic halo
    first), then the halo engine."""
    plans = {}
    for ax, (k, lead) in enumerate(zip(lengths, leads)):
        if k <= 1:
            continue
        n = x.shape[ax]
        if mode in _WRAP and len(merged_chunks(x.chunks[ax], k)) > 1:
            right = k - 1 - lead
            head = x[(slice(None),) * ax + (slice(n - lead, n),)]
            tail = x[(slice(None),) * ax + (slice(0, right),)]
            x = da.concatenate([head, x, tail], axis=ax)
            plans[ax] = AxisPlan(k=k, start=0, m=n, offset=lead)
        else:
            plans[ax] = AxisPlan(k=k, start=-lead, m=n, offset=lead)
    return halo_map(x, w, plans, _nd_block, dtype, fn=fn, kwargs=kwargs)


def _nd_block(block, weights, windows, native, *, fn, kwargs):
    """One chunk: the in-memory filter of the chunk and its halo, cut to the chunk."""
    return crop(np.asarray(fn(block, weights, **kwargs)), windows)

"""``scipy.signal``-style convolutions of a dask array with an in-memory kernel."""

from __future__ import annotations

import operator
from typing import Callable, Optional

import dask.array as da
import numpy as np

from fastconv import _core
from fastconv import signal as _signal
from fastconv.dask._engine import AxisPlan, as_dask, crop, halo_map

_FFT = ("fftconvolve", "oaconvolve")


def convolve(
    in1,
    in2,
    mode: str = "full",
    method: str = "auto",
    *,
    axes=None,
    workers: Optional[int] = 1,
) -> da.Array:
    """Convolve a dask array with an in-memory kernel, as :func:`fastconv.signal.convolve`.

    Parameters
    ----------
    in1 : dask.array.Array or array_like
        The signal, chunked any way (array-likes are wrapped with ``dask.array.asarray``).
    in2 : array_like
        The kernel, held in memory (a dask array is computed first). It enters the task
        graph once, as one key every chunk task depends on.
    mode : {'full', 'valid', 'same'}
        As ``scipy.signal.convolve`` ('valid' with SciPy's swap rule, 'same' with SciPy's
        centring of even kernels).
    method : {'auto', 'direct', 'fft'}
        The method of each chunk's in-memory call.
    axes : int or sequence of int, optional
        Axes to convolve over (default: all); the others broadcast as in fastconv.
    workers : int, optional
        Threads of each chunk's in-memory call (default 1: dask's workers already run one
        chunk per thread; ``None`` uses ``fastconv.get_num_threads()``).

    Returns
    -------
    dask.array.Array
        Lazily, the in-memory function's result: same shape, dtype and values (within the
        tolerance of a different summation tiling; integers exactly).

    Raises
    ------
    ValueError, TypeError
        As :func:`fastconv.signal.convolve`, raised when the graph is built.

    Notes
    -----
    Chunks along the convolved axes are merged until each holds at least the kernel length
    (an axis shorter than twice the kernel becomes one chunk), then overlapped by exactly the
    halo the kernel needs. In 'valid' mode with a kernel larger than the signal (SciPy's
    swap) the signal is smaller than the in-memory kernel and is taken as one chunk along
    the convolved axes.
    """
    return _dispatch("convolve", in1, in2, mode, axes, workers, method=method)


def correlate(
    in1,
    in2,
    mode: str = "full",
    method: str = "auto",
    *,
    axes=None,
    workers: Optional[int] = 1,
) -> da.Array:
    """Cross-correlate a dask array with an in-memory kernel, as
    :func:`fastconv.signal.correlate` (no flip, ``in2`` conjugated). Parameters, return
    value and exceptions as :func:`convolve`."""
    return _dispatch("correlate", in1, in2, mode, axes, workers, method=method)


def fftconvolve(in1, in2, mode: str = "full", axes=None, *, workers: Optional[int] = 1) -> da.Array:
    """Convolve with FFTs chunk by chunk, as :func:`fastconv.signal.fftconvolve`.

    Same output dtype (floating) and shape rules as the in-memory function, length-1 axes
    broadcast; each chunk is one in-memory ``fftconvolve`` of the chunk and its halo.
    Parameters as :func:`convolve` (no ``method``).
    """
    return _dispatch("fftconvolve", in1, in2, mode, axes, workers)


def oaconvolve(in1, in2, mode: str = "full", axes=None, *, workers: Optional[int] = 1) -> da.Array:
    """Overlap-save FFT convolution chunk by chunk, as :func:`fastconv.signal.oaconvolve`.
    Parameters and result as :func:`fftconvolve`."""
    return _dispatch("oaconvolve", in1, in2, mode, axes, workers)


# --------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------


def _in_memory(name: str) -> Callable:
    return getattr(_signal, name)


def _call(name: str, a, b, mode, axes, workers, method):
    """One in-memory call with the keywords this function takes."""
    fn = _in_memory(name)
    if name in _FFT:
        return fn(a, b, mode, axes, workers=workers)
    return fn(a, b, mode, method, axes=axes, workers=workers)


def _proxy_shape(s1, s2):
    """A small stand-in for ``in1``'s shape that keeps every relation the in-memory function
    looks at (``n >= k``, ``n == k``, ``n == 1``, broadcast compatibility) per axis."""
    if len(s1) != len(s2):
        return tuple(min(n, 1) for n in s1)
    return tuple(min(n, k + 1) for n, k in zip(s1, s2))


def _conv_axes(name: str, s1, s2, axes):
    """The convolved axes: as normalised by fastconv; the FFT functions drop the axes where
    either input has length 1 (those broadcast, as in SciPy)."""
    ndim = len(s1)
    if axes is None:
        conv = tuple(range(ndim))
    else:
        seq = [axes] if np.ndim(axes) == 0 else list(axes)
        conv = tuple(sorted({operator.index(a) % ndim for a in seq}))
    if name in _FFT:
        conv = tuple(a for a in conv if s1[a] != 1 and s2[a] != 1)
    return conv


def _dispatch(name, in1, in2, mode, axes, workers, method="auto") -> da.Array:
    x = as_dask(in1)
    w = np.asarray(in2.compute() if isinstance(in2, da.Array) else in2)
    # Every argument check, and the output dtype, from the in-memory function on a stand-in.
    proxy = np.zeros(_proxy_shape(x.shape, w.shape), dtype=x.dtype)
    probe = np.asarray(_call(name, proxy, w, mode, axes, workers, method))
    if x.ndim == 0 or x.size == 0 or w.size == 0:
        # Nothing to distribute: empty or 0-d, computed in memory.
        x_mem = x.compute()
        return da.from_array(np.asarray(_call(name, x_mem, w, mode, axes, workers, method)))
    conv = _conv_axes(name, x.shape, w.shape, axes)
    # Non-convolved axes: broadcast the signal where the kernel is longer ('same' FFT keeps
    # the signal's length and uses the kernel's centre sample, as SciPy does).
    target = list(x.shape)
    centre = [slice(None)] * w.ndim
    for d in range(x.ndim):
        if d in conv or x.shape[d] != 1 or w.shape[d] == 1:
            continue
        if name in _FFT and mode == "same":
            c = (w.shape[d] - 1) // 2
            centre[d] = slice(c, c + 1)
        else:
            target[d] = w.shape[d]
    w = w[tuple(centre)]
    if tuple(target) != x.shape:
        x = da.broadcast_to(x, tuple(target))
    plans = {}
    for d in conv:
        n, k = x.shape[d], w.shape[d]
        start, m = _core.axis_geometry(n, k, mode)
        plans[d] = AxisPlan(k=k, start=start, m=m, offset=k - 1)
    # 'valid' with the kernel larger (SciPy's swap): the signal is the smaller operand.
    swapped = mode == "valid" and not all(x.shape[d] >= w.shape[d] for d in conv)
    batch = tuple(d for d in range(x.ndim) if d not in conv and w.shape[d] > 1)
    return halo_map(
        x,
        w,
        plans,
        _signal_block,
        probe.dtype,
        kernel_batch_axes=batch,
        single=swapped,
        name=name,
        mode=mode,
        axes=axes,
        workers=workers,
        method=method,
    )


def _signal_block(block, kernel, windows, native, *, name, mode, axes, workers, method):
    """One chunk: the real mode when no convolved axis is split; a 'valid' correlation when
    the chunk's halo is complete; else the 'full' result of the chunk, cropped (the array's
    edges then cut the window, and out-of-range taps are the in-memory function's own)."""
    if native:
        return np.asarray(_call(name, block, kernel, mode, axes, workers, method))
    if all(left == 0 and right == 0 for _, _, _, left, right in windows):
        return np.asarray(_call(name, block, kernel, "valid", axes, workers, method))
    full = np.asarray(_call(name, block, kernel, "full", axes, workers, method))
    return crop(full, windows)

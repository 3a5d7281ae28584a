"""The halo engine: a kernel swept over a chunked dask array, one fastconv call per chunk.

Every convolved axis is described by an :class:`AxisPlan`: output ``i`` (``0 <= i < m``)
reads the input window ``X[i + start : i + start + k]`` (out-of-range positions are the
boundary, which the in-memory function applies itself on the array's real edges). The
engine

1. merges neighbouring chunks along each convolved axis until every chunk holds at least
   ``k`` samples (an axis shorter than ``2 k`` becomes one chunk), so a chunk's halo always
   comes from its immediate neighbours and the edge chunks hold the whole boundary reach;
2. overlaps the chunks by exactly the halo the kernel needs, ``(-start, start + k - 1)``
   samples on the (left, right), with ``dask.array.overlap.overlap(boundary='none')``;
3. maps one task per chunk that calls the in-memory fastconv function on the extended chunk
   and keeps the outputs the chunk owns. The output chunk of input chunk ``[p, q)`` is
   ``[p, q)`` clipped to ``[0, m)``, the last one running to ``m``.

The kernel enters the graph once, as a single key (a ``dask.delayed`` literal) every chunk
task depends on: the distributed scheduler ships it to each worker once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple

import dask
import dask.array as da
import numpy as np
from dask.array.overlap import overlap


@dataclass(frozen=True)
class AxisPlan:
    """One convolved axis: output ``i < m`` reads ``X[i + start : i + start + k]``.

    ``offset`` is where the output ``start`` reads from sits in the result of the per-chunk
    call (``k - 1`` for a 'full' correlation of the chunk, the filter's lead for an
    ``ndimage`` filter of it); ``-(k - 1) <= start <= 0``.
    """

    k: int
    start: int
    m: int
    offset: int


def as_dask(x) -> da.Array:
    """``x`` as a dask array with known chunk sizes (array-likes are wrapped).

    Raises
    ------
    ValueError
        Unknown (NaN) chunk sizes, as left by boolean indexing.
    """
    x = x if isinstance(x, da.Array) else da.asarray(x)
    if any(math.isnan(n) for n in x.shape):
        raise ValueError(
            "fastconv.dask needs known chunk sizes: call x.compute_chunk_sizes() first"
        )
    return x


def merged_chunks(chunks: Sequence[int], minimum: int) -> Tuple[int, ...]:
    """Chunk sizes with neighbours merged until each is at least ``minimum``.

    An axis shorter than ``2 * minimum`` becomes a single chunk; a short remainder joins the
    last chunk. Existing chunk boundaries are kept or removed, never moved, so the rechunk
    only concatenates.
    """
    total = int(sum(chunks))
    if total < 2 * minimum or len(chunks) <= 1:
        return (total,)
    out = []
    acc = 0
    for c in chunks:
        acc += int(c)
        if acc >= minimum:
            out.append(acc)
            acc = 0
    if acc:
        out[-1] += acc
    return tuple(out)


def output_chunks(chunks: Sequence[int], m: int) -> Tuple[int, ...]:
    """Output chunk sizes of an axis split into ``chunks``: chunk ``[p, q)`` owns outputs
    ``[p, q)`` clipped to ``[0, m)``, and the last chunk owns everything up to ``m``."""
    starts = np.concatenate([[0], np.cumsum(chunks)[:-1]]).astype(np.int64)
    ends = np.append(starts[1:], m)
    sizes = np.minimum(ends, m) - np.minimum(starts, m)
    if len(sizes) > 1 and (sizes <= 0).any():
        raise AssertionError(f"fastconv.dask: empty output chunk for chunks {chunks}, m={m}")
    return tuple(int(s) for s in sizes)


def prepare(x: da.Array, plans: Dict[int, AxisPlan], single: bool = False) -> da.Array:
    """``x`` rechunked so every planned axis has chunks of at least ``k`` (or is one chunk;
    every planned axis is one chunk when ``single``)."""
    chunks = list(x.chunks)
    for ax, plan in plans.items():
        chunks[ax] = (x.shape[ax],) if single else merged_chunks(x.chunks[ax], plan.k)
    chunks = tuple(chunks)
    return x if chunks == x.chunks else x.rechunk(chunks)


def halo_map(
    x: da.Array,
    kernel: np.ndarray,
    plans: Dict[int, AxisPlan],
    block_fn: Callable,
    dtype: np.dtype,
    *,
    kernel_batch_axes: Sequence[int] = (),
    single: bool = False,
    **fn_kwargs,
) -> da.Array:
    """Apply ``block_fn`` chunk by chunk with the halo ``plans`` asks for.

    ``block_fn(block, kernel, windows, native, **fn_kwargs)`` gets the extended chunk, the
    kernel (sliced to the chunk along ``kernel_batch_axes``, the non-convolved axes where the
    kernel is as long as ``x``), ``windows`` (per planned axis ``(axis, offset - missing_left,
    length, missing_left, missing_right)``: where the chunk's outputs start in the per-chunk
    result, how many there are, and how much of the window the array's edges cut off), and
    ``native`` (True when no planned axis is split: the in-memory call with the real mode
    then gives the chunk's output directly). With ``single`` every planned axis is one chunk.
    """
    x = prepare(x, plans, single)
    split = {ax for ax in plans if len(x.chunks[ax]) > 1}
    depth = {ax: 0 for ax in range(x.ndim)}
    for ax in split:
        plan = plans[ax]
        depth[ax] = (-plan.start, plan.start + plan.k - 1)
    extended = overlap(x, depth=depth, boundary="none") if split else x
    chunks = list(x.chunks)
    for ax, plan in plans.items():
        chunks[ax] = output_chunks(x.chunks[ax], plan.m) if ax in split else (plan.m,)
    geometry = tuple(
        (ax, plan.k, plan.start, plan.offset, ax in split) for ax, plan in sorted(plans.items())
    )
    dtype = np.dtype(dtype)
    return da.map_blocks(
        _run_block,
        extended,
        dask.delayed(np.asarray(kernel), pure=True),
        chunks=tuple(chunks),
        dtype=dtype,
        meta=np.empty((0,) * x.ndim, dtype=dtype),
        geometry=geometry,
        native=not split,
        block_fn=block_fn,
        kernel_batch_axes=tuple(kernel_batch_axes),
        fn_kwargs=fn_kwargs,
    )


def _run_block(
    block: np.ndarray,
    kernel: np.ndarray,
    *,
    geometry,
    native: bool,
    block_fn: Callable,
    kernel_batch_axes,
    fn_kwargs,
    block_info=None,
):
    """One chunk task: locate the chunk's window, slice the kernel, call ``block_fn``."""
    location = block_info[None]["array-location"]
    block, kernel = aligned(block), aligned(kernel)
    if kernel_batch_axes:
        index = [slice(None)] * kernel.ndim
        for ax in kernel_batch_axes:
            index[ax] = slice(*location[ax])
        kernel = kernel[tuple(index)]
    windows = []
    for ax, k, start, offset, split in geometry:
        lo, hi = location[ax]
        first = max(0, lo + start) if split else 0
        missing_left = first - (lo + start)
        missing_right = (hi + start + k - 1) - (first + block.shape[ax])
        windows.append((ax, offset - missing_left, hi - lo, missing_left, missing_right))
    return block_fn(block, kernel, tuple(windows), native, **fn_kwargs)


def aligned(a: np.ndarray) -> np.ndarray:
    """``a``, or an aligned C-contiguous copy where it is not (the distributed scheduler
    deserialises arrays into unaligned buffers)."""
    return np.require(a, requirements=("C", "A"))


def crop(result: np.ndarray, windows) -> np.ndarray:
    """``result`` cut to the chunk's outputs along the planned axes (a copy when it is a
    smaller view, so the task's result does not pin the larger array)."""
    index = [slice(None)] * result.ndim
    for ax, begin, length, _, _ in windows:
        index[ax] = slice(begin, begin + length)
    index = tuple(index)
    out = result[index]
    return np.ascontiguousarray(out) if out.size < result.size else out

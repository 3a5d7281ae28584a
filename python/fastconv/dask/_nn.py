"""Data-parallel ``conv1d``/``conv2d`` inference: the batch axis split across dask workers."""

from __future__ import annotations

from typing import Optional

import dask
import dask.array as da
import numpy as np

from fastconv.dask._engine import aligned, as_dask


def conv1d(
    input,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    padding_mode: str = "zeros",
    workers: Optional[int] = 1,
) -> da.Array:
    """``fastconv.nn.functional.conv1d`` over a batch chunked across dask workers.

    Parameters
    ----------
    input : dask.array.Array or array_like
        ``(N, C_in, L)``; the batch axis ``N`` keeps its chunks (one task per chunk), the
        channel and length axes are made single chunks.
    weight : array_like
        ``(C_out, C_in / groups, K)``, in memory; enters the graph once (as does ``bias``).
    bias, stride, padding, dilation, groups, padding_mode
        As ``fastconv.nn.functional.conv1d`` (``torch.nn.functional.conv1d`` semantics).
    workers : int, optional
        Threads of each chunk's in-memory call (default 1; ``None``: fastconv's default).

    Returns
    -------
    dask.array.Array
        ``(N, C_out, L_out)``: each batch chunk is ``fastconv.nn.functional.conv1d`` of that
        chunk, so the result equals the in-memory call on the whole batch.

    Raises
    ------
    ValueError
        An input without a batch axis (not 3-D); else what the in-memory function raises
        (checked when the graph is built, on one sample).
    """
    params = dict(
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        workers=workers,
    )
    return _batched("conv1d", 3, input, weight, bias, params)


def conv2d(
    input,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    padding_mode: str = "zeros",
    workers: Optional[int] = 1,
) -> da.Array:
    """``fastconv.nn.functional.conv2d`` over a batch chunked across dask workers.

    ``input`` is ``(N, C_in, H, W)`` with ``N`` chunked (channel and spatial axes are made
    single chunks), ``weight`` ``(C_out, C_in / groups, kH, kW)`` in memory. Returns
    ``(N, C_out, H_out, W_out)``, equal to the in-memory call. Parameters and exceptions as
    :func:`conv1d`.
    """
    params = dict(
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        workers=workers,
    )
    return _batched("conv2d", 4, input, weight, bias, params)


def _functional(name: str):
    from fastconv.nn import functional

    return getattr(functional, name)


def _batched(name, ndim, input, weight, bias, params) -> da.Array:
    x = as_dask(input)
    if x.ndim != ndim:
        raise ValueError(
            f"fastconv.dask.{name}: expected a batched {ndim}-D input (N, C, ...), got shape "
            f"{x.shape}"
        )
    weight = np.asarray(weight)
    bias = None if bias is None else np.asarray(bias)
    # The argument checks, the output dtype and the per-sample shape from one sample.
    sample = _functional(name)(np.zeros((1,) + x.shape[1:], x.dtype), weight, bias, **params)
    sample = np.asarray(sample)
    x = x.rechunk({d: -1 for d in range(1, ndim)})
    return da.map_blocks(
        _nn_block,
        x,
        dask.delayed(weight, pure=True),
        None if bias is None else dask.delayed(bias, pure=True),
        chunks=(x.chunks[0],) + tuple((s,) for s in sample.shape[1:]),
        dtype=sample.dtype,
        meta=np.empty((0,) * ndim, dtype=sample.dtype),
        name_=name,
        params=params,
    )


def _nn_block(block, weight, bias, *, name_, params):
    """One batch chunk through the in-memory layer function (arrays the distributed
    scheduler deserialised can be unaligned: they are copied aligned first)."""
    block, weight = aligned(block), aligned(weight)
    bias = None if bias is None else aligned(bias)
    return np.asarray(_functional(name_)(block, weight, bias, **params))

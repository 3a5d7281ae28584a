"""Hypothesis strategies for the neural-network convolution tests (fastconv.nn.functional).

A *problem* is one convolution call: arrays (drawn by :func:`strategies.arrays`, so every
memory layout and value regime of the other differential tests appears) and torch-style
arguments. Sizes keep the pure-Python reference under ``MAX_MACS`` multiply-adds per call
(each test calls the reference once or twice), so the ci profile stays fast.

Padding is drawn as an int, one int per axis, 'valid', or 'same' (asymmetric when the total
is odd or the stride is above 1); ``pads`` is the resulting (before, after) pair per axis,
which is what the reference takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np
from fastconv import reference as ref
from hypothesis import assume
from hypothesis import strategies as st
from strategies import arrays

MAX_MACS = 20_000
FLOAT_DTYPES = ("float32", "float64")
# Largest kernel side and largest extra input length beyond the smallest valid one, per ndim.
KERNEL_SIDES = {1: 5, 2: 3, 3: 2}
EXTRA_SIDES = {1: 8, 2: 4, 3: 2}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


@dataclass
class ConvProblem:
    """Arrays and arguments of one (transposed) convolution."""

    d: int
    x: np.ndarray
    w: np.ndarray
    b: Optional[np.ndarray]
    stride: Tuple[int, ...]
    padding: object  # what the public function gets
    pads: Tuple[Tuple[int, int], ...]  # what the reference gets
    dilation: Tuple[int, ...]
    groups: int
    unbatched: bool = False
    output_padding: Tuple[int, ...] = ()
    padding_mode: str = "zeros"
    kwargs: dict = field(default_factory=dict)

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    def batched_x(self) -> np.ndarray:
        """The input with its batch axis (the reference takes batched arrays only)."""
        return self.x[None] if self.unbatched else self.x


def _per_axis(draw, d: int, lo: int, hi: int) -> Tuple[int, ...]:
    return tuple(draw(st.integers(lo, hi)) for _ in range(d))


def _spatial_arg(draw, values: Tuple[int, ...]):
    """``values`` as torch accepts it: an int when all are equal (sometimes), else a tuple."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return draw(st.sampled_from([tuple(values), list(values)]))


@st.composite
def channels(draw):
    """``(groups, C_in // groups, C_out // groups)``; a fifth of the draws depthwise."""
    if draw(st.integers(0, 4)) == 0:
        groups = draw(st.integers(2, 4))
        return groups, 1, draw(st.integers(1, 2))
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))


@st.composite
def conv_problems(
    draw,
    ndims=(1, 2, 3),
    dtypes=FLOAT_DTYPES,
    padding_modes=("zeros",),
    allow_same_stride: bool = True,
    max_macs: int = MAX_MACS,
    layouts=None,
) -> ConvProblem:
    """A convolution whose output has at least one element on every axis."""
    d = draw(st.sampled_from(list(ndims)))
    dtype = np.dtype(draw(st.sampled_from(list(dtypes))))
    groups, c_ig, c_og = draw(channels())
    n = draw(st.sampled_from([1, 1, 2, 3]))
    unbatched = n == 1 and draw(st.integers(0, 3)) == 0
    K = _per_axis(draw, d, 1, KERNEL_SIDES[d])
    stride = _per_axis(draw, d, 1, 3)
    dilation = _per_axis(draw, d, 1, 3)
    mode = draw(st.sampled_from(list(padding_modes)))
    kind = draw(st.sampled_from(["int", "axes", "valid", "same"]))
    if kind == "same" and not allow_same_stride:
        stride = (1,) * d
    sym = (draw(st.integers(0, 2)),) * d if kind == "int" else _per_axis(draw, d, 0, 2)
    if kind in ("valid", "same"):
        sym = (0,) * d
    S = []
    for i in range(d):
        reach = dilation[i] * (K[i] - 1) + 1
        least = 1 if kind == "same" else max(1, reach - 2 * sym[i])
        if mode == "reflect":
            least = max(least, sym[i] + 1)
        elif mode == "circular":
            least = max(least, sym[i])
        S.append(least + draw(st.integers(0, EXTRA_SIDES[d])))
    S = tuple(S)
    if kind == "same":
        pads = ref.same_padding(S, K, stride, dilation)
        padding = "same"
        if mode == "reflect":  # 'same' may pad more than an axis can reflect
            assume(all(max(p) < s for p, s in zip(pads, S)))
        elif mode == "circular":
            assume(all(max(p) <= s for p, s in zip(pads, S)))
    elif kind == "valid":
        pads, padding = ((0, 0),) * d, "valid"
    else:
        pads = tuple((p, p) for p in sym)
        padding = sym[0] if kind == "int" and draw(st.booleans()) else _spatial_arg(draw, sym)
    out = [
        (s + a + b - dl * (k - 1) - 1) // st_ + 1
        for s, (a, b), dl, k, st_ in zip(S, pads, dilation, K, stride)
    ]
    assert min(out) >= 1
    macs = n * groups * c_og * math.prod(out) * c_ig * math.prod(K)
    assume(macs <= max_macs)
    kw = {} if layouts is None else {"layouts": layouts}
    x = draw(arrays(dtype, (n, groups * c_ig, *S), **kw))
    w = draw(arrays(dtype, (groups * c_og, c_ig, *K), **kw))
    b = draw(st.none() | arrays(dtype, (groups * c_og,), **kw))
    return ConvProblem(
        d=d,
        x=x[0] if unbatched else x,
        w=w,
        b=b,
        stride=_spatial_arg(draw, stride),
        padding=padding,
        pads=pads,
        dilation=_spatial_arg(draw, dilation),
        groups=groups,
        unbatched=unbatched,
        padding_mode=mode,
    )


@st.composite
def conv_transpose_problems(
    draw, ndims=(1, 2, 3), dtypes=FLOAT_DTYPES, max_macs: int = MAX_MACS
) -> ConvProblem:
    """A transposed convolution (torch's weight layout) with output size at least 1."""
    d = draw(st.sampled_from(list(ndims)))
    dtype = np.dtype(draw(st.sampled_from(list(dtypes))))
    groups, c_ig, c_og = draw(channels())
    n = draw(st.sampled_from([1, 1, 2, 3]))
    unbatched = n == 1 and draw(st.integers(0, 3)) == 0
    K = _per_axis(draw, d, 1, KERNEL_SIDES[d])
    stride = _per_axis(draw, d, 1, 3)
    dilation = _per_axis(draw, d, 1, 3)
    pad = _per_axis(draw, d, 0, 3)
    out_pad = tuple(draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation))
    S = _per_axis(draw, d, 1, 1 + EXTRA_SIDES[d] // 2)
    T = [
        (s - 1) * st_ - 2 * p + dl * (k - 1) + op + 1
        for s, st_, p, dl, k, op in zip(S, stride, pad, dilation, K, out_pad)
    ]
    assume(min(T) >= 1)
    macs = n * groups * c_ig * math.prod(S) * c_og * math.prod(K)
    assume(macs <= max_macs)
    x = draw(arrays(dtype, (n, groups * c_ig, *S)))
    w = draw(arrays(dtype, (groups * c_ig, c_og, *K)))
    b = draw(st.none() | arrays(dtype, (groups * c_og,)))
    return ConvProblem(
        d=d,
        x=x[0] if unbatched else x,
        w=w,
        b=b,
        stride=_spatial_arg(draw, stride),
        padding=_spatial_arg(draw, pad),
        pads=tuple((p, p) for p in pad),
        dilation=_spatial_arg(draw, dilation),
        groups=groups,
        unbatched=unbatched,
        output_padding=_spatial_arg(draw, out_pad),
    )


@st.composite
def block_problems(draw, ndims=(1, 2, 3), dtypes=FLOAT_DTYPES):
    """``(x, kwargs)`` for unfold: ``x`` (N, C, *S) or unbatched, and its block arguments as
    tuples of ``d`` ints (so the number of spatial axes is explicit)."""
    d = draw(st.sampled_from(list(ndims)))
    dtype = np.dtype(draw(st.sampled_from(list(dtypes))))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    K = _per_axis(draw, d, 1, KERNEL_SIDES[d])
    stride = _per_axis(draw, d, 1, 3)
    dilation = _per_axis(draw, d, 1, 3)
    pad = _per_axis(draw, d, 0, 2)
    S = tuple(
        max(1, dl * (k - 1) + 1 - 2 * p) + draw(st.integers(0, EXTRA_SIDES[d]))
        for k, dl, p in zip(K, dilation, pad)
    )
    unbatched = draw(st.integers(0, 3)) == 0
    x = draw(arrays(dtype, (c, *S) if unbatched else (n, c, *S)))
    kwargs = dict(kernel_size=K, dilation=dilation, padding=pad, stride=stride)
    return x, kwargs

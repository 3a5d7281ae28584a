"""Pure-Python references for neural-network convolution (see fastconv.reference).

Slow, literal transcriptions of the definitions of torch.nn.functional's convolution family
(cross-correlation layers), written as plain loops over Python floats. They are the oracle of
``fastconv.nn.functional`` and of the Rust engine behind it.

Layout and parameters
---------------------
* ``input`` is batched, ``(N, C_in, *S)`` with 1 to 3 spatial axes (no unbatched form here);
* a convolution weight is ``(C_out, C_in // groups, *K)``; a transposed convolution's weight
  is torch's ``(C_in, C_out // groups, *K)``;
* ``stride``, ``dilation``, ``output_padding``: an int (every axis) or one int per axis;
* ``padding``: an int, one int per axis (symmetric), or one ``(before, after)`` pair per axis
  (zeros). The transposed convolution takes symmetric padding only (torch's).

Output spatial size of a convolution: ``O = (S + before + after - dilation*(K-1) - 1) // stride
+ 1``; output ``o`` of channel ``co`` in group ``g = co // (C_out // groups)`` is ::

    bias[co] + sum_{ci < C_in/groups, k < K} x[n, g*C_in/groups + ci, o*stride - before + k*dil]
                                             * w[co, ci, k]

where positions outside ``[0, S)`` read zero. The gradients are the same sum read the other
way: ``grad_input`` scatters ``grad_output[n, co, o] * w[co, ci, k]`` onto the input position
each term read, ``grad_weight[co, ci, k]`` sums ``grad_output[n, co, o] * x[...]`` over every
``(n, o)`` where that tied weight was used, ``grad_bias[co]`` sums ``grad_output[n, co, o]``.

Arithmetic
----------
Values are converted to Python floats (exact), accumulated in double precision and rounded once
to the dtype of the first array argument. With ``with_scale=True`` the functions that sum
products also return, per output element, the float64 sum of the absolute values of its terms
(the scale of the rounding-error bound the tests use).
"""

from __future__ import annotations

import itertools
import math
from typing import List, Sequence, Tuple

import numpy as np

__all__ = [
    "conv_nd",
    "conv_nd_grad_bias",
    "conv_nd_grad_input",
    "conv_nd_grad_weight",
    "conv_transpose_nd",
    "conv_transpose_nd_grad_input",
    "conv_transpose_nd_grad_weight",
    "fold_nd",
    "pad_nd",
    "pad_nd_adjoint",
    "same_padding",
    "unfold_nd",
]


# ---------------------------------------------------------------------------------------------
# helpers: parameters, flat indexing
# ---------------------------------------------------------------------------------------------


def _ints(value, d: int, name: str) -> Tuple[int, ...]:
    """An int or a sequence of ``d`` ints as a tuple of ``d`` ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    out = tuple(int(v) for v in value)
    if len(out) != d:
        raise ValueError(f"{name} must have {d} entries, got {value!r}")
    return out


def _pairs(padding, d: int) -> Tuple[Tuple[int, int], ...]:
    """``padding`` (int, ints per axis, or (before, after) pairs per axis) as pairs."""
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * d
    items = list(padding)
    if len(items) != d:
        raise ValueError(f"padding must have {d} entries, got {padding!r}")
    out = []
    for p in items:
        if isinstance(p, (int, np.integer)):
            out.append((int(p), int(p)))
        else:
            before, after = p
            out.append((int(before), int(after)))
    return tuple(out)


def _strides(shape: Sequence[int]) -> List[int]:
    """C-order element strides of ``shape``."""
    out = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        out[i] = out[i + 1] * shape[i + 1]
    return out


def _flat(a) -> Tuple[list, Tuple[int, ...]]:
    """The elements of ``a`` as a flat list of Python floats (C order) and its shape."""
    a = np.asarray(a)
    return [float(v) for v in a.ravel().tolist()], a.shape


def _offset(index: Sequence[int], strides: Sequence[int]) -> int:
    return sum(i * s for i, s in zip(index, strides))


def _build(values: list, shape, dtype) -> np.ndarray:
    """Round ``values`` (Python floats, C order) once to ``dtype``."""
    return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


def _out_sizes(S, K, stride, pads, dilation) -> Tuple[int, ...]:
    return tuple(
        (S[i] + pads[i][0] + pads[i][1] - dilation[i] * (K[i] - 1) - 1) // stride[i] + 1
        for i in range(len(S))
    )


def _grid(sizes: Sequence[int]):
    """Every index tuple of a box of ``sizes`` (C order)."""
    return itertools.product(*(range(n) for n in sizes))


def _source(o, k, stride, pads, dilation, S):
    """Input position read by output ``o`` and tap ``k``, or None when it is padding."""
    pos = []
    for i in range(len(S)):
        p = o[i] * stride[i] - pads[i][0] + k[i] * dilation[i]
        if p < 0 or p >= S[i]:
            return None
        pos.append(p)
    return pos


def _geometry(input_shape, weight_shape, stride, padding, dilation, groups):
    """Shapes and per-axis parameters of a convolution, checked."""
    N, C_in, *S = input_shape
    C_out, C_g, *K = weight_shape
    d = len(S)
    if not 1 <= d <= 3 or len(K) != d:
        raise ValueError(f"bad shapes: input {tuple(input_shape)}, weight {tuple(weight_shape)}")
    stride = _ints(stride, d, "stride")
    dilation = _ints(dilation, d, "dilation")
    pads = _pairs(padding, d)
    if groups < 1 or C_in != C_g * groups or C_out % groups:
        raise ValueError(f"channels {C_in} -> {C_out} do not fit groups={groups}")
    OUT = _out_sizes(S, K, stride, pads, dilation)
    if any(o < 1 for o in OUT):
        raise ValueError(f"output size {OUT} is not positive")
    return N, C_in, tuple(S), C_out, C_g, tuple(K), stride, pads, dilation, OUT


def same_padding(S, K, stride=1, dilation=1) -> Tuple[Tuple[int, int], ...]:
    """The (before, after) pairs of 'same' padding: TensorFlow/JAX's rule.

    Total padding ``max((ceil(S/s) - 1)*s + d*(K - 1) + 1 - S, 0)`` per axis, the odd one
    after (so ``O = ceil(S/s)``); with stride 1 that is torch's ``padding='same'``.
    """
    d = len(S)
    stride, dilation = _ints(stride, d, "stride"), _ints(dilation, d, "dilation")
    out = []
    for n, k, s, dl in zip(S, K, stride, dilation):
        total = max((-(-n // s) - 1) * s + dl * (k - 1) + 1 - n, 0)
        out.append((total // 2, total - total // 2))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# convolution and its gradients
# ---------------------------------------------------------------------------------------------


def conv_nd(
    input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, with_scale=False
):
    """Cross-correlation layer forward pass (torch.nn.functional.conv{1,2,3}d), batched.

    Returns ``(N, C_out, *OUT)`` in ``input``'s dtype; with ``with_scale`` also the float64
    sum of ``|term|`` per output (bias included).
    """
    x, x_shape = _flat(input)
    w, w_shape = _flat(weight)
    b = _flat(bias)[0] if bias is not None else None
    N, C_in, S, C_out, C_g, K, stride, pads, dilation, OUT = _geometry(
        x_shape, w_shape, stride, padding, dilation, groups
    )
    xs, ws = _strides(x_shape), _strides(w_shape)
    per_group = C_out // groups
    out, scale = [], []
    for n in range(N):
        for co in range(C_out):
            g = co // per_group
            for o in _grid(OUT):
                acc = b[co] if b is not None else 0.0
                mag = abs(acc)
                for ci in range(C_g):
                    c = g * C_g + ci
                    for k in _grid(K):
                        pos = _source(o, k, stride, pads, dilation, S)
                        if pos is None:
                            continue
                        term = x[_offset((n, c, *pos), xs)] * w[_offset((co, ci, *k), ws)]
                        acc += term
                        mag += abs(term)
                out.append(acc)
                scale.append(mag)
    shape = (N, C_out, *OUT)
    result = _build(out, shape, np.asarray(input).dtype)
    return (result, np.array(scale).reshape(shape)) if with_scale else result


def conv_nd_grad_input(
    grad_output,
    weight,
    input_size,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    with_scale=False,
):
    """Gradient of :func:`conv_nd` with respect to its input, ``(N, C_in, *input_size)``.

    The scatter from the definition: every term ``x[n, c, pos] * w[co, ci, k]`` of output
    ``(n, co, o)`` sends ``grad_output[n, co, o] * w[co, ci, k]`` back to ``x[n, c, pos]``.
    """
    go, go_shape = _flat(grad_output)
    w, w_shape = _flat(weight)
    N, C_out = go_shape[:2]
    C_g = w_shape[1]
    S = tuple(int(s) for s in input_size)
    C_in = C_g * groups
    _, _, S, C_out_w, _, K, stride, pads, dilation, OUT = _geometry(
        (N, C_in, *S), w_shape, stride, padding, dilation, groups
    )
    if tuple(go_shape) != (N, C_out_w, *OUT):
        raise ValueError(f"grad_output shape {tuple(go_shape)} != {(N, C_out_w, *OUT)}")
    gs, ws = _strides(go_shape), _strides(w_shape)
    shape = (N, C_in, *S)
    xs = _strides(shape)
    out = [0.0] * math.prod(shape)
    scale = [0.0] * len(out)
    per_group = C_out // groups
    for n in range(N):
        for co in range(C_out):
            g = co // per_group
            for o in _grid(OUT):
                gval = go[_offset((n, co, *o), gs)]
                for ci in range(C_g):
                    c = g * C_g + ci
                    for k in _grid(K):
                        pos = _source(o, k, stride, pads, dilation, S)
                        if pos is None:
                            continue
                        term = gval * w[_offset((co, ci, *k), ws)]
                        at = _offset((n, c, *pos), xs)
                        out[at] += term
                        scale[at] += abs(term)
    result = _build(out, shape, np.asarray(grad_output).dtype)
    return (result, np.array(scale).reshape(shape)) if with_scale else result


def conv_nd_grad_weight(
    grad_output,
    input,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    with_scale=False,
):
    """Gradient of :func:`conv_nd` with respect to its weight, ``(C_out, C_in/groups, *K)``.

    Each tied weight's gradient is the sum, over every batch element and output position
    where it was used, of ``grad_output[n, co, o] * x[n, c, pos]``.
    """
    go, go_shape = _flat(grad_output)
    x, x_shape = _flat(input)
    C_out = go_shape[1]
    C_in = x_shape[1]
    if groups < 1 or C_in % groups:
        raise ValueError(f"C_in={C_in} does not fit groups={groups}")
    C_g = C_in // groups
    K = tuple(int(k) for k in kernel_size)
    w_shape = (C_out, C_g, *K)
    N, _, S, _, _, K, stride, pads, dilation, OUT = _geometry(
        x_shape, w_shape, stride, padding, dilation, groups
    )
    if tuple(go_shape) != (N, C_out, *OUT):
        raise ValueError(f"grad_output shape {tuple(go_shape)} != {(N, C_out, *OUT)}")
    gs, xs, ws = _strides(go_shape), _strides(x_shape), _strides(w_shape)
    out = [0.0] * math.prod(w_shape)
    scale = [0.0] * len(out)
    per_group = C_out // groups
    for n in range(N):
        for co in range(C_out):
            g = co // per_group
            for o in _grid(OUT):
                gval = go[_offset((n, co, *o), gs)]
                for ci in range(C_g):
                    c = g * C_g + ci
                    for k in _grid(K):
                        pos = _source(o, k, stride, pads, dilation, S)
                        if pos is None:
                            continue
                        term = gval * x[_offset((n, c, *pos), xs)]
                        at = _offset((co, ci, *k), ws)
                        out[at] += term
                        scale[at] += abs(term)
    result = _build(out, w_shape, np.asarray(grad_output).dtype)
    return (result, np.array(scale).reshape(w_shape)) if with_scale else result


def conv_nd_grad_bias(grad_output, *, with_scale=False):
    """Gradient with respect to the bias: ``grad_output`` summed over batch and space."""
    go, go_shape = _flat(grad_output)
    N, C = go_shape[:2]
    OUT = go_shape[2:]
    gs = _strides(go_shape)
    out, scale = [], []
    for c in range(C):
        acc = mag = 0.0
        for n in range(N):
            for o in _grid(OUT):
                v = go[_offset((n, c, *o), gs)]
                acc += v
                mag += abs(v)
        out.append(acc)
        scale.append(mag)
    result = _build(out, (C,), np.asarray(grad_output).dtype)
    return (result, np.array(scale)) if with_scale else result


def _transpose_geometry(x_shape, w_shape, stride, padding, output_padding, groups, dilation):
    """Shapes and per-axis parameters of a transposed convolution, checked."""
    N, C_in, *S = x_shape
    C_in_w, C_og, *K = w_shape
    d = len(S)
    stride = _ints(stride, d, "stride")
    dilation = _ints(dilation, d, "dilation")
    pad = _ints(padding, d, "padding")
    out_pad = _ints(output_padding, d, "output_padding")
    if groups < 1 or C_in != C_in_w or C_in % groups:
        raise ValueError(f"channels {C_in} (weight {C_in_w}) do not fit groups={groups}")
    T = tuple(
        (S[i] - 1) * stride[i] - 2 * pad[i] + dilation[i] * (K[i] - 1) + out_pad[i] + 1
        for i in range(d)
    )
    if any(t < 1 for t in T):
        raise ValueError(f"output size {T} is not positive")
    return N, C_in, tuple(S), C_og, tuple(K), stride, pad, dilation, T


def _transpose_terms(x_shape, w_shape, out_shape, stride, pad, dilation, groups):
    """Every term of a transposed convolution: ``(input, weight, output)`` flat offsets such
    that ``out[output] += x[input] * w[weight]`` (the scatter from the definition)."""
    N, C_in, *S = x_shape
    _, C_og, *K = w_shape
    T = out_shape[2:]
    d = len(S)
    C_ig = C_in // groups
    xs, ws, os_ = _strides(x_shape), _strides(w_shape), _strides(out_shape)
    for n in range(N):
        for ci in range(C_in):
            g = ci // C_ig
            for i in _grid(S):
                at_x = _offset((n, ci, *i), xs)
                for col in range(C_og):
                    co = g * C_og + col
                    for k in _grid(K):
                        pos = [i[a] * stride[a] - pad[a] + k[a] * dilation[a] for a in range(d)]
                        if any(p < 0 or p >= T[a] for a, p in enumerate(pos)):
                            continue
                        yield at_x, _offset((ci, col, *k), ws), _offset((n, co, *pos), os_)


def conv_transpose_nd(
    input,
    weight,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
    *,
    with_scale=False,
):
    """Transposed convolution (torch.nn.functional.conv_transpose{1,2,3}d), batched.

    ``weight`` is ``(C_in, C_out // groups, *K)``. Output size per axis ``(S - 1)*stride
    - 2*padding + dilation*(K - 1) + output_padding + 1``; input position ``i`` of channel
    ``ci`` (group ``g``) sends ``x[n, ci, i] * w[ci, co_l, k]`` to output channel
    ``g*C_out/groups + co_l`` at position ``i*stride - padding + k*dilation`` when that lies
    inside the output.
    """
    x, x_shape = _flat(input)
    w, w_shape = _flat(weight)
    b = _flat(bias)[0] if bias is not None else None
    N, _, _, C_og, _, stride, pad, dilation, T = _transpose_geometry(
        x_shape, w_shape, stride, padding, output_padding, groups, dilation
    )
    C_out = C_og * groups
    shape = (N, C_out, *T)
    plane = math.prod(T)
    out = [0.0] * math.prod(shape)
    scale = [0.0] * len(out)
    if b is not None:
        for at in range(len(out)):
            co = (at // plane) % C_out
            out[at] = b[co]
            scale[at] = abs(b[co])
    for at_x, at_w, at in _transpose_terms(x_shape, w_shape, shape, stride, pad, dilation, groups):
        term = x[at_x] * w[at_w]
        out[at] += term
        scale[at] += abs(term)
    result = _build(out, shape, np.asarray(input).dtype)
    return (result, np.array(scale).reshape(shape)) if with_scale else result


def conv_transpose_nd_grad_input(
    grad_output,
    weight,
    input_size,
    stride=1,
    padding=0,
    groups=1,
    dilation=1,
    *,
    with_scale=False,
):
    """Gradient of :func:`conv_transpose_nd` with respect to its input, ``(N, C_in, *S)``:
    every term ``x[i] * w[k]`` of output ``pos`` sends ``grad_output[pos] * w[k]`` back to
    ``x[i]``. The output size is ``grad_output``'s (``output_padding`` only set it)."""
    go, go_shape = _flat(grad_output)
    w, w_shape = _flat(weight)
    d = len(go_shape) - 2
    stride = _ints(stride, d, "stride")
    dilation = _ints(dilation, d, "dilation")
    pad = _ints(padding, d, "padding")
    x_shape = (go_shape[0], w_shape[0], *(int(s) for s in input_size))
    if go_shape[1] != w_shape[1] * groups or w_shape[0] % groups:
        raise ValueError(f"grad_output {tuple(go_shape)} does not fit weight {w_shape}")
    out = [0.0] * math.prod(x_shape)
    scale = [0.0] * len(out)
    for at_x, at_w, at in _transpose_terms(
        x_shape, w_shape, go_shape, stride, pad, dilation, groups
    ):
        term = go[at] * w[at_w]
        out[at_x] += term
        scale[at_x] += abs(term)
    result = _build(out, x_shape, np.asarray(grad_output).dtype)
    return (result, np.array(scale).reshape(x_shape)) if with_scale else result


def conv_transpose_nd_grad_weight(
    grad_output,
    input,
    kernel_size,
    stride=1,
    padding=0,
    groups=1,
    dilation=1,
    *,
    with_scale=False,
):
    """Gradient of :func:`conv_transpose_nd` with respect to its weight,
    ``(C_in, C_out // groups, *K)``: for each tied weight the sum of ``x[i] *
    grad_output[pos]`` over every term that used it."""
    go, go_shape = _flat(grad_output)
    x, x_shape = _flat(input)
    d = len(go_shape) - 2
    stride = _ints(stride, d, "stride")
    dilation = _ints(dilation, d, "dilation")
    pad = _ints(padding, d, "padding")
    if go_shape[1] % groups or x_shape[1] % groups:
        raise ValueError(f"channels of {tuple(go_shape)}, {tuple(x_shape)} do not fit groups")
    w_shape = (x_shape[1], go_shape[1] // groups, *(int(k) for k in kernel_size))
    out = [0.0] * math.prod(w_shape)
    scale = [0.0] * len(out)
    for at_x, at_w, at in _transpose_terms(
        x_shape, w_shape, go_shape, stride, pad, dilation, groups
    ):
        term = go[at] * x[at_x]
        out[at_w] += term
        scale[at_w] += abs(term)
    result = _build(out, w_shape, np.asarray(grad_output).dtype)
    return (result, np.array(scale).reshape(w_shape)) if with_scale else result


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------


def _block_geometry(S, kernel_size, dilation, padding, stride):
    d = len(S)
    K = _ints(kernel_size, d, "kernel_size")
    dilation = _ints(dilation, d, "dilation")
    pads = _pairs(padding, d)
    stride = _ints(stride, d, "stride")
    OUT = _out_sizes(S, K, stride, pads, dilation)
    if any(o < 1 for o in OUT):
        raise ValueError(f"number of blocks {OUT} is not positive")
    return K, dilation, pads, stride, OUT


def unfold_nd(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col (torch.nn.functional.unfold, any of 1 to 3 spatial axes), batched.

    ``(N, C, *S) -> (N, C * prod(K), L)``: row ``c * prod(K) + flat(k)``, column ``flat(o)``
    (C order over the block grid ``O``) holds ``x[n, c, o*stride - before + k*dilation]``,
    zero where that is padding.
    """
    x, x_shape = _flat(input)
    N, C, *S = x_shape
    K, dilation, pads, stride, OUT = _block_geometry(S, kernel_size, dilation, padding, stride)
    xs = _strides(x_shape)
    rows, L = C * math.prod(K), math.prod(OUT)
    out = [0.0] * (N * rows * L)
    for n in range(N):
        for c in range(C):
            for kf, k in enumerate(_grid(K)):
                row = c * math.prod(K) + kf
                for of, o in enumerate(_grid(OUT)):
                    pos = _source(o, k, stride, pads, dilation, S)
                    if pos is not None:
                        out[(n * rows + row) * L + of] = x[_offset((n, c, *pos), xs)]
    return _build(out, (N, rows, L), np.asarray(input).dtype)


def fold_nd(input, output_size, kernel_size, dilation=1, padding=0, stride=1, *, with_scale=False):
    """col2im (torch.nn.functional.fold, any of 1 to 3 spatial axes), batched.

    ``(N, C * prod(K), L) -> (N, C, *output_size)``: the adjoint of :func:`unfold_nd`, every
    column entry added to the image position it was read from (overlaps sum).
    """
    cols, c_shape = _flat(input)
    N, rows, L = c_shape
    S = tuple(int(s) for s in output_size)
    K, dilation, pads, stride, OUT = _block_geometry(S, kernel_size, dilation, padding, stride)
    kk = math.prod(K)
    if rows % kk or L != math.prod(OUT):
        raise ValueError(f"columns shape {tuple(c_shape)} does not fit K={K}, blocks={OUT}")
    C = rows // kk
    shape = (N, C, *S)
    xs = _strides(shape)
    out = [0.0] * math.prod(shape)
    scale = [0.0] * len(out)
    for n in range(N):
        for c in range(C):
            for kf, k in enumerate(_grid(K)):
                row = c * kk + kf
                for of, o in enumerate(_grid(OUT)):
                    pos = _source(o, k, stride, pads, dilation, S)
                    if pos is not None:
                        v = cols[(n * rows + row) * L + of]
                        at = _offset((n, c, *pos), xs)
                        out[at] += v
                        scale[at] += abs(v)
    result = _build(out, shape, np.asarray(input).dtype)
    return (result, np.array(scale).reshape(shape)) if with_scale else result


# ---------------------------------------------------------------------------------------------
# padding modes (torch.nn.functional.pad / nn.ConvNd(padding_mode=...))
# ---------------------------------------------------------------------------------------------


def _pad_source(i: int, before: int, n: int, mode: str) -> int:
    """Index into an axis of length ``n`` that padded position ``i`` copies."""
    j = i - before
    if mode == "replicate":
        return min(max(j, 0), n - 1)
    if mode == "circular":
        return j % n
    if mode == "reflect":  # mirror about the first and last element, which are not repeated
        if j < 0:
            j = -j
        if j >= n:
            j = 2 * (n - 1) - j
        if not 0 <= j < n:
            raise ValueError("reflect padding must be smaller than the axis")
        return j
    raise ValueError(f"unknown padding mode {mode!r}")


def pad_nd(input, padding, mode):
    """Pad the trailing ``len(padding)`` axes of ``input`` (leading axes: batch, channel).

    ``padding`` holds one ``(before, after)`` pair per padded axis; ``mode`` is 'zeros',
    'reflect', 'replicate' or 'circular' (torch's ``padding_mode`` names; numpy's 'constant',
    'reflect', 'edge', 'wrap'). Reflect needs ``before, after < n`` and circular
    ``before, after <= n`` (torch's limits).
    """
    x, shape = _flat(input)
    d = len(padding)
    lead, S = tuple(shape[: len(shape) - d]), tuple(shape[len(shape) - d :])
    pads = _pairs(padding, d)
    P = tuple(S[i] + pads[i][0] + pads[i][1] for i in range(d))
    xs = _strides(shape)
    out = []
    for li in _grid(lead):
        for p in _grid(P):
            if mode == "zeros":
                src = [p[i] - pads[i][0] for i in range(d)]
                inside = all(0 <= src[i] < S[i] for i in range(d))
                out.append(x[_offset((*li, *src), xs)] if inside else 0.0)
            else:
                src = [_pad_source(p[i], pads[i][0], S[i], mode) for i in range(d)]
                out.append(x[_offset((*li, *src), xs)])
    return _build(out, lead + P, np.asarray(input).dtype)


def pad_nd_adjoint(grad, input_size, padding, mode):
    """The adjoint of :func:`pad_nd`: every padded element's gradient added to the input
    element it copies; ``input_size`` is the unpadded spatial shape."""
    g, shape = _flat(grad)
    d = len(padding)
    lead = tuple(shape[: len(shape) - d])
    S = tuple(int(s) for s in input_size)
    pads = _pairs(padding, d)
    P = tuple(shape[len(shape) - d :])
    out_shape = lead + S
    os_ = _strides(out_shape)
    out = [0.0] * math.prod(out_shape)
    flat = 0
    for li in _grid(lead):
        for p in _grid(P):
            v = g[flat]
            flat += 1
            if mode == "zeros":
                src = [p[i] - pads[i][0] for i in range(d)]
                if not all(0 <= src[i] < S[i] for i in range(d)):
                    continue
            else:
                src = [_pad_source(p[i], pads[i][0], S[i], mode) for i in range(d)]
            out[_offset((*li, *src), os_)] += v
    return _build(out, out_shape, np.asarray(grad).dtype)

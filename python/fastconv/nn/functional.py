"""Neural-network convolution with torch.nn.functional semantics on NumPy arrays.

Every function takes and returns NumPy arrays laid out as torch's tensors: ``(N, C, *S)`` with
1 to 3 spatial axes (NCL, NCHW, NCDHW) or the unbatched ``(C, *S)`` torch also accepts, and
returns what the torch function of the same name returns (the backward functions return what
autograd computes). The work is done by the Rust engine (``fastconv._core``); this module
normalises arguments, pads for ``padding_mode`` and dispatches.

Common rules
------------
* dtypes: float32 and float64, all arrays of one dtype; nothing is cast. Any other dtype
  (integers, bool, float16, complex) raises :class:`ConvDtypeError`, a ``TypeError`` (torch
  computes integer convolutions on the CPU; fastconv does not).
* ``stride``, ``dilation``, ``padding``, ``output_padding``, ``kernel_size``: an int (every
  spatial axis) or a sequence of one int per spatial axis.
* Shape and argument errors (wrong channel count, groups not dividing the channels, an output
  size below 1, the wrong ndim, non-positive stride or dilation, negative padding, unknown
  padding strings or modes) raise :class:`ConvArgumentError`, which is both a ``ValueError``
  (NumPy's class for bad arguments) and a ``RuntimeError`` (torch's), so code written for
  either catches it.
* Inputs of any memory layout (Fortran order, strided views, negative strides, lists) are
  accepted; ``out=`` must be a C-contiguous writeable array of the result's shape and dtype,
  not overlapping an input, and is returned.
* ``workers``: threads for this call (None: the process default, -1: every core, as on every
  fastconv function). Results are bitwise identical for every thread count.
"""

from __future__ import annotations

import math
import operator
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastconv import _core
from fastconv._args import check_workers

__all__ = [
    "ConvArgumentError",
    "ConvDtypeError",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv3d",
    "conv3d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "conv_transpose3d",
    "conv_transpose3d_backward",
    "fold",
    "unfold",
]

IntArg = Union[int, Sequence[int]]
PaddingArg = Union[int, Sequence[int], str]
Grads = Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]


class ConvArgumentError(ValueError, RuntimeError):
    """A shape or argument the convolution cannot take (torch raises RuntimeError for these)."""


class ConvDtypeError(TypeError, RuntimeError):
    """An array dtype other than float32/float64, or arrays of different dtypes."""


_PADDING_MODES = {"zeros": None, "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# ---------------------------------------------------------------------------------------------
# argument normalisation
# ---------------------------------------------------------------------------------------------


def _float_array(a: object, name: str, fname: str) -> np.ndarray:
    """``np.asarray(a)``, checked to be float32 or float64 (either byte order: a big-endian
    array is converted to native order, its values unchanged)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in (np.float32, np.float64):
        raise ConvDtypeError(
            f"{fname}: {name} must be float32 or float64, got dtype {arr.dtype} "
            "(fastconv casts nothing; convert it first)"
        )
    return arr


def _same_dtype(dtype: np.dtype, arr: np.ndarray, name: str, fname: str) -> None:
    if arr.dtype != dtype:
        raise ConvDtypeError(
            f"{fname}: {name} has dtype {arr.dtype} but input has dtype {dtype}; "
            "all arrays must share one dtype"
        )


def _ints(value: object, d: int, name: str, fname: str, minimum: int) -> Tuple[int, ...]:
    """An int or a sequence of ``d`` ints as a ``d``-tuple, each at least ``minimum``."""
    if isinstance(value, str):
        raise TypeError(f"{fname}: {name} must be an int or a sequence of {d} ints, got {value!r}")
    try:
        items = [operator.index(value)] * d
    except TypeError:
        try:
            items = [operator.index(v) for v in value]  # type: ignore[union-attr]
        except TypeError:
            raise TypeError(
                f"{fname}: {name} must be an int or a sequence of {d} ints, got {value!r}"
            ) from None
    if len(items) != d:
        raise ConvArgumentError(
            f"{fname}: expected {name} to be a single integer value or a list of {d} values to "
            f"match the convolution dimensions, but got {name}={list(items)}"
        )
    if any(v < minimum for v in items):
        what = "positive" if minimum == 1 else "non-negative"
        raise ConvArgumentError(f"{fname}: {name} must be {what}, got {name}={list(items)}")
    return tuple(items)


def _groups(groups: object, fname: str) -> int:
    try:
        g = operator.index(groups)
    except TypeError:
        raise TypeError(f"{fname}: groups must be an int, got {groups!r}") from None
    if g < 1:
        raise ConvArgumentError(f"{fname}: groups must be positive, got groups={g}")
    return g


def _output_mask(mask: object, fname: str) -> Tuple[bool, bool, bool]:
    items = tuple(bool(m) for m in mask)  # type: ignore[union-attr]
    if len(items) != 3:
        raise ConvArgumentError(
            f"{fname}: output_mask must hold 3 booleans (input, weight, bias), got {mask!r}"
        )
    return items  # type: ignore[return-value]


def _padding_mode(mode: object, fname: str) -> Optional[str]:
    """The np.pad mode for a torch ``padding_mode`` (None for zeros)."""
    if not isinstance(mode, str) or mode not in _PADDING_MODES:
        raise ConvArgumentError(
            f"{fname}: padding_mode must be one of 'zeros', 'reflect', 'replicate' or "
            f"'circular', got padding_mode={mode!r}"
        )
    return _PADDING_MODES[mode]


def _batched(x: np.ndarray, d: int, name: str, fname: str) -> Tuple[np.ndarray, bool]:
    """``x`` with a batch axis (added when ``x`` is unbatched), and whether it was added."""
    if x.ndim == d + 2:
        return x, False
    if x.ndim == d + 1:
        return x[None], True
    raise ConvArgumentError(
        f"{fname}: expected {d + 1}D (unbatched) or {d + 2}D (batched) {name}, but got {name} "
        f"of shape {list(x.shape)}"
    )


def _conv_padding(padding, S, K, stride, dilation, fname) -> Tuple[Tuple[int, int], ...]:
    """(before, after) per axis for an int / ints / 'valid' / 'same' ``padding``."""
    d = len(S)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            pads = []
            for n, k, s, dl in zip(S, K, stride, dilation):
                total = max((-(-n // s) - 1) * s + dl * (k - 1) + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ConvArgumentError(
            f"{fname}: invalid padding string {padding!r} (expected 'valid' or 'same')"
        )
    return tuple((p, p) for p in _ints(padding, d, "padding", fname, 0))


def _spatial_out(S, K, stride, pads, dilation, fname: str, name: str = "input"):
    """Output spatial sizes; ConvArgumentError when one is below 1."""
    OUT = tuple(
        (n + a + b - dl * (k - 1) - 1) // s + 1
        for n, k, s, (a, b), dl in zip(S, K, stride, pads, dilation)
    )
    if any(o < 1 for o in OUT):
        padded = tuple(n + a + b for n, (a, b) in zip(S, pads))
        dk = tuple(dl * (k - 1) + 1 for k, dl in zip(K, dilation))
        raise ConvArgumentError(
            f"{fname}: calculated padded {name} size per channel {padded} is smaller than the "
            f"dilated kernel size {dk}: the output size {OUT} would be below 1"
        )
    return OUT


def _check_out(out: object, shape, dtype, fname: str, *inputs: np.ndarray) -> np.ndarray:
    """Validate an ``out=`` buffer: ndarray, dtype, shape, C-contiguous, writeable, disjoint."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise ConvDtypeError(f"{fname}: out has dtype {out.dtype}, the result has dtype {dtype}")
    if out.shape != tuple(shape):
        raise ConvArgumentError(
            f"{fname}: out has shape {out.shape}, the result has shape {tuple(shape)}"
        )
    if not out.flags.c_contiguous:
        raise ConvArgumentError(f"{fname}: out must be C-contiguous")
    if not out.flags.writeable:
        raise ConvArgumentError(f"{fname}: out is read-only")
    if any(a is not None and np.may_share_memory(out, a) for a in inputs):
        raise ConvArgumentError(f"{fname}: out must not overlap an input")
    return out


def _c(a: np.ndarray) -> np.ndarray:
    """C-contiguous and aligned (the engine borrows the buffer as is; arrays unpickled from a
    byte stream, as dask.distributed does, can be unaligned)."""
    return np.require(a, requirements=("C", "A"))


def _sum_bias(g: np.ndarray) -> np.ndarray:
    """``g`` (N, C, *OUT) summed over every axis but the channel (accumulated in float64)."""
    if g.ndim >= 2 and g.flags.c_contiguous and g.dtype in (np.float32, np.float64):
        return _core.channel_sums(g)
    axes = (0, *range(2, g.ndim))
    return g.sum(axis=axes, dtype=np.float64).astype(g.dtype)


def _axis(ndim: int, axis: int, sl: slice) -> tuple:
    index = [slice(None)] * ndim
    index[axis] = sl
    return tuple(index)


def _pad_input(x: np.ndarray, pads, np_mode: str, mode_name: str, fname: str) -> np.ndarray:
    """np.pad of the spatial axes of ``x`` (N, C, *S), with torch's limits on the pad sizes."""
    S = x.shape[2:]
    for i, (n, (a, b)) in enumerate(zip(S, pads)):
        if np_mode == "reflect" and max(a, b) >= n:
            raise ConvArgumentError(
                f"{fname}: reflect padding ({a}, {b}) of spatial axis {i} must be smaller than "
                f"its size {n} (padding_mode='reflect')"
            )
        if np_mode == "wrap" and max(a, b) > n:
            raise ConvArgumentError(
                f"{fname}: circular padding ({a}, {b}) of spatial axis {i} wraps around more "
                f"than once (size {n}, padding_mode='circular')"
            )
    return np.pad(x, ((0, 0), (0, 0), *pads), mode=np_mode)


def _pad_adjoint(g: np.ndarray, S, pads, np_mode: str) -> np.ndarray:
    """The adjoint of :func:`_pad_input`: the gradient of the padded array folded back onto
    the original one (every padded copy's gradient added to the element it copies)."""
    for i, (n, (a, b)) in enumerate(zip(S, pads)):
        ax = 2 + i
        nd = g.ndim
        core = g[_axis(nd, ax, slice(a, a + n))].copy()
        before = g[_axis(nd, ax, slice(0, a))]
        after = g[_axis(nd, ax, slice(a + n, a + n + b))]
        if np_mode == "edge":
            core[_axis(nd, ax, slice(0, 1))] += before.sum(axis=ax, keepdims=True)
            core[_axis(nd, ax, slice(n - 1, n))] += after.sum(axis=ax, keepdims=True)
        elif np_mode == "reflect":  # padded[a - 1 - j] copies x[1 + j]; padded[a+n+j], x[n-2-j]
            core[_axis(nd, ax, slice(1, a + 1))] += np.flip(before, axis=ax)
            core[_axis(nd, ax, slice(n - 1 - b, n - 1))] += np.flip(after, axis=ax)
        else:  # wrap: padded[j] copies x[n - a + j]; padded[a + n + j], x[j]
            core[_axis(nd, ax, slice(n - a, n))] += before
            core[_axis(nd, ax, slice(0, b))] += after
        g = core
    return g


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------


def _conv_setup(d, fname, input, weight, stride, padding, dilation, groups, padding_mode):
    """Checked arrays and geometry shared by the forward and backward passes."""
    x = _float_array(input, "input", fname)
    w = _float_array(weight, "weight", fname)
    _same_dtype(x.dtype, w, "weight", fname)
    xb, unbatched = _batched(x, d, "input", fname)
    if w.ndim != d + 2:
        raise ConvArgumentError(
            f"{fname}: expected weight of {d + 2} dimensions (C_out, C_in/groups, *kernel), "
            f"got weight of shape {list(w.shape)}"
        )
    stride = _ints(stride, d, "stride", fname, 1)
    dilation = _ints(dilation, d, "dilation", fname, 1)
    groups = _groups(groups, fname)
    np_mode = _padding_mode(padding_mode, fname)
    N, C_in, *S = xb.shape
    C_out, C_g, *K = w.shape
    if C_out < 1:  # torch's check: a convolution has at least one output channel
        raise ConvArgumentError(
            f"{fname}: given groups={groups}, expected weight to be at least 1 at dimension 0 "
            f"(the output channels), but got weight of shape {list(w.shape)}"
        )
    if any(k < 1 for k in K):
        raise ConvArgumentError(f"{fname}: kernel size must be positive, got weight {w.shape}")
    if C_out % groups:
        raise ConvArgumentError(
            f"{fname}: given groups={groups}, expected weight's output channels (dimension 0) "
            f"to be divisible by groups, but got weight of shape {list(w.shape)}"
        )
    if C_g * groups != C_in:
        raise ConvArgumentError(
            f"{fname}: given groups={groups}, weight of shape {list(w.shape)}, expected input "
            f"of shape {list(x.shape)} to have {C_g * groups} channels, but got {C_in} channels"
        )
    pads = _conv_padding(padding, tuple(S), tuple(K), stride, dilation, fname)
    return xb, unbatched, w, tuple(S), tuple(K), stride, pads, dilation, groups, np_mode


def _conv(
    d, fname, input, weight, bias, stride, padding, dilation, groups, padding_mode, out, workers
):
    xb, unbatched, w, S, K, stride, pads, dilation, groups, np_mode = _conv_setup(
        d, fname, input, weight, stride, padding, dilation, groups, padding_mode
    )
    workers = check_workers(workers)
    N, C_out = xb.shape[0], w.shape[0]
    b = None
    if bias is not None:
        b = _float_array(bias, "bias", fname)
        _same_dtype(xb.dtype, b, "bias", fname)
        if b.shape != (C_out,):
            raise ConvArgumentError(
                f"{fname}: given weight of shape {list(w.shape)}, expected bias to be "
                f"1-dimensional with {C_out} elements, but got bias of shape {list(b.shape)}"
            )
    OUT = _spatial_out(S, K, stride, pads, dilation, fname)
    shape = (N, C_out, *OUT)
    if out is not None:
        _check_out(out, shape[1:] if unbatched else shape, xb.dtype, fname, xb, w, b)
    if np_mode is not None and N * xb.shape[1] > 0:
        xb = _pad_input(xb, pads, np_mode, padding_mode, fname)
        pads = ((0, 0),) * d
    target = None if out is None else (out[None] if unbatched else out)
    if 0 in (N, xb.shape[1], C_out):  # nothing for the engine to sum: zeros (+ bias)
        result = np.zeros(shape, xb.dtype) if target is None else target
        result[...] = 0 if b is None else b.reshape((C_out,) + (1,) * d)
    else:
        result = _core.conv_forward(
            _c(xb),
            _c(w),
            None if b is None else _c(b),
            stride,
            pads,
            dilation,
            groups,
            out=target,
            workers=workers,
        )
    if out is not None:
        return out
    return result[0] if unbatched else result


def _conv_backward(
    d,
    fname,
    grad_output,
    input,
    weight,
    stride,
    padding,
    dilation,
    groups,
    padding_mode,
    output_mask,
    workers,
) -> Grads:
    xb, unbatched, w, S, K, stride, pads, dilation, groups, np_mode = _conv_setup(
        d, fname, input, weight, stride, padding, dilation, groups, padding_mode
    )
    workers = check_workers(workers)
    mask = _output_mask(output_mask, fname)
    g = _float_array(grad_output, "grad_output", fname)
    _same_dtype(xb.dtype, g, "grad_output", fname)
    OUT = _spatial_out(S, K, stride, pads, dilation, fname)
    N, C_in = xb.shape[:2]
    C_out = w.shape[0]
    want = (C_out, *OUT) if unbatched else (N, C_out, *OUT)
    if g.shape != want:
        raise ConvArgumentError(
            f"{fname}: expected grad_output of shape {list(want)}, got {list(g.shape)}"
        )
    gb = _c(g[None] if unbatched else g)
    empty = 0 in (N, C_in, C_out)
    padded = np_mode is not None and not empty
    P = tuple(n + a + b for n, (a, b) in zip(S, pads)) if padded else S
    engine_pads = ((0, 0),) * d if padded else pads
    grad_input = grad_weight = grad_bias = None
    if mask[0]:
        if empty:
            grad_input = np.zeros(xb.shape, xb.dtype)
        else:
            grad_input = _core.conv_grad_input(
                gb, _c(w), P, stride, engine_pads, dilation, groups, workers=workers
            )
            if padded:
                grad_input = _pad_adjoint(grad_input, S, pads, np_mode)
        if unbatched:
            grad_input = grad_input[0]
    if mask[1]:
        if empty:
            grad_weight = np.zeros(w.shape, w.dtype)
        else:
            xin = _pad_input(xb, pads, np_mode, padding_mode, fname) if padded else xb
            # With the bias gradient too, summed from grad_output in the same pass.
            res = _core.conv_grad_weight(
                gb,
                _c(xin),
                K,
                stride,
                engine_pads,
                dilation,
                groups,
                workers=workers,
                with_bias=mask[2],
            )
            grad_weight, grad_bias = res if mask[2] else (res, None)
    if mask[2] and grad_bias is None:
        grad_bias = _sum_bias(gb)
    return grad_input, grad_weight, grad_bias


_CONV_DOC = """{d}-D convolution layer forward pass (cross-correlation), as
    ``torch.nn.functional.conv{d}d``.

    Parameters
    ----------
    input : array_like, float32 or float64
        ``(N, C_in, {S})`` or unbatched ``(C_in, {S})``.
    weight : array_like
        ``(C_out, C_in // groups, {K})``, same dtype as ``input``.
    bias : array_like, optional
        ``(C_out,)``, same dtype.
    stride, dilation : int or sequence of {d} ints
        Positive.
    padding : int, sequence of {d} ints, 'valid' or 'same'
        Symmetric zero (or ``padding_mode``) padding per spatial axis. 'same' gives
        ``ceil(S / stride)`` outputs with TensorFlow/JAX's padding (total
        ``max((ceil(S/s) - 1)*s + d*(K - 1) + 1 - S, 0)``, the odd one after); with stride 1
        that is exactly torch's 'same', which torch refuses for stride > 1.
    groups : int
        Divides ``C_in`` and ``C_out``; ``groups == C_in`` is a depthwise convolution.
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        As ``torch.nn.Conv{d}d(padding_mode=...)`` (torch's functional form has none): the
        input is padded with np.pad (modes 'reflect', 'edge', 'wrap') and then convolved
        without padding. Reflect padding must be smaller than the axis, circular padding at
        most the axis (torch's limits).
    out : ndarray, optional
        C-contiguous buffer of the result's shape and dtype; returned.
    workers : int, optional
        Threads for this call (-1: all cores).

    Returns
    -------
    ndarray
        ``(N, C_out, {OUT})`` (unbatched: ``(C_out, {OUT})``), input's dtype, with
        ``O = (S + 2*padding - dilation*(K - 1) - 1) // stride + 1``.

    Raises
    ------
    ConvDtypeError
        (TypeError) a dtype other than float32/float64, or arrays of different dtypes.
    ConvArgumentError
        (ValueError and RuntimeError) wrong ndim or channel count, groups not dividing the
        channels, an output size below 1, bad stride/dilation/padding/padding_mode, bad ``out``.
    """

_CONV_BACKWARD_DOC = """Gradients of :func:`conv{d}d`: ``(grad_input, grad_weight, grad_bias)``.

    What torch's autograd (``torch.ops.aten.convolution_backward``) computes for
    ``conv{d}d(input, weight, bias, stride, padding, dilation, groups)`` given the gradient
    of the loss with respect to its output. Arguments as :func:`conv{d}d`.

    Parameters
    ----------
    grad_output : array_like
        Shape of :func:`conv{d}d`'s output, same dtype as ``input``.
    output_mask : three bools
        Which of (grad_input, grad_weight, grad_bias) to compute; the others are returned as
        None and not computed.

    Returns
    -------
    grad_input : ndarray or None
        Shape of ``input``. With a non-zero ``padding_mode`` the padded input's gradient is
        folded back onto ``input`` (the adjoint of the padding).
    grad_weight : ndarray or None
        Shape of ``weight``: for every tied weight, the sum over the batch and every output
        position that used it.
    grad_bias : ndarray or None
        ``(C_out,)``: ``grad_output`` summed over batch and spatial axes (in float64, rounded
        once).

    Raises
    ------
    ConvDtypeError, ConvArgumentError
        As :func:`conv{d}d`; also when ``grad_output`` has the wrong shape.
    """


def conv1d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv(
        1,
        "conv1d",
        input,
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        out,
        workers,
    )


def conv2d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv(
        2,
        "conv2d",
        input,
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        out,
        workers,
    )


def conv3d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv(
        3,
        "conv3d",
        input,
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        out,
        workers,
    )


def conv1d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_backward(
        1,
        "conv1d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        output_mask,
        workers,
    )


def conv2d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_backward(
        2,
        "conv2d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        output_mask,
        workers,
    )


def conv3d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    dilation: IntArg = 1,
    groups: int = 1,
    *,
    padding_mode: str = "zeros",
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_backward(
        3,
        "conv3d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        dilation,
        groups,
        padding_mode,
        output_mask,
        workers,
    )


# ---------------------------------------------------------------------------------------------
# transposed convolution
# ---------------------------------------------------------------------------------------------


def _transpose_setup(d, fname, input, weight, stride, padding, output_padding, groups, dilation):
    """Checked arrays and the engine geometry of a transposed convolution.

    The forward pass is the convolution's input gradient with ``weight`` read as a conv
    weight ``(C_out_conv = C_in, C_in_conv / groups = C_out / groups, *K)``. Per axis the
    engine computes ``M`` output positions with padding ``(p, after)`` chosen so the
    convolution of ``M`` positions has exactly ``S`` outputs; ``M`` is the full output size
    ``T`` except when ``output_padding > padding``: then the last ``output_padding - padding``
    positions receive no term and are zero-extended (``extend``).
    """
    x = _float_array(input, "input", fname)
    w = _float_array(weight, "weight", fname)
    _same_dtype(x.dtype, w, "weight", fname)
    xb, unbatched = _batched(x, d, "input", fname)
    if w.ndim != d + 2:
        raise ConvArgumentError(
            f"{fname}: expected weight of {d + 2} dimensions (C_in, C_out/groups, *kernel), "
            f"got weight of shape {list(w.shape)}"
        )
    stride = _ints(stride, d, "stride", fname, 1)
    dilation = _ints(dilation, d, "dilation", fname, 1)
    pad = _ints(padding, d, "padding", fname, 0)
    out_pad = _ints(output_padding, d, "output_padding", fname, 0)
    groups = _groups(groups, fname)
    N, C_in, *S = xb.shape
    C_in_w, C_og, *K = w.shape
    if 0 in S and 0 not in (N, C_in):  # torch: only a zero batch or channel count may be empty
        raise ConvArgumentError(
            f"{fname}: expected input with non-zero spatial sizes (only zero batch or zero "
            f"channel inputs may be empty), but got input size 0 on a spatial axis: input of "
            f"shape {list(x.shape)}"
        )
    if any(k < 1 for k in K):
        raise ConvArgumentError(f"{fname}: kernel size must be positive, got weight {w.shape}")
    if C_in_w % groups:
        raise ConvArgumentError(
            f"{fname}: given groups={groups}, expected weight's input channels (dimension 0) to "
            f"be divisible by groups, but got weight of shape {list(w.shape)}"
        )
    if C_in != C_in_w:
        raise ConvArgumentError(
            f"{fname}: given transposed weight of shape {list(w.shape)}, expected input of "
            f"shape {list(x.shape)} to have {C_in_w} channels, but got {C_in} channels"
        )
    for op, s, dl in zip(out_pad, stride, dilation):
        if op >= s and op >= dl:
            raise ConvArgumentError(
                f"{fname}: output padding must be smaller than either stride or dilation, but "
                f"got output_padding={list(out_pad)}, stride={list(stride)}, "
                f"dilation={list(dilation)}"
            )
    T = tuple(
        (n - 1) * s - 2 * p + dl * (k - 1) + op + 1
        for n, k, s, p, op, dl in zip(S, K, stride, pad, out_pad, dilation)
    )
    if any(t < 1 for t in T):
        raise ConvArgumentError(
            f"{fname}: the output size {T} of input {list(x.shape)} with weight "
            f"{list(w.shape)}, stride={list(stride)}, padding={list(pad)}, "
            f"output_padding={list(out_pad)}, dilation={list(dilation)} is below 1"
        )
    M, pads, extend = [], [], []
    for t, p, op in zip(T, pad, out_pad):
        if op <= p:
            M.append(t)
            pads.append((p, p - op))
            extend.append(0)
        else:
            M.append(t - (op - p))
            pads.append((p, 0))
            extend.append(op - p)
    geometry = (tuple(S), tuple(K), stride, tuple(pads), dilation, groups, T, tuple(M), extend)
    return xb, unbatched, w, geometry


def _conv_transpose(
    d, fname, input, weight, bias, stride, padding, output_padding, groups, dilation, out, workers
) -> np.ndarray:
    xb, unbatched, w, geo = _transpose_setup(
        d, fname, input, weight, stride, padding, output_padding, groups, dilation
    )
    S, K, stride, pads, dilation, groups, T, M, extend = geo
    workers = check_workers(workers)
    N = xb.shape[0]
    C_out = w.shape[1] * groups
    b = None
    if bias is not None:
        b = _float_array(bias, "bias", fname)
        _same_dtype(xb.dtype, b, "bias", fname)
        if b.shape != (C_out,):
            raise ConvArgumentError(
                f"{fname}: given transposed weight of shape {list(w.shape)} and groups={groups},"
                f" expected bias to be 1-dimensional with {C_out} elements, but got bias of "
                f"shape {list(b.shape)}"
            )
    shape = (N, C_out, *T)
    if out is not None:
        _check_out(out, shape[1:] if unbatched else shape, xb.dtype, fname, xb, w, b)
    target = None if out is None else (out[None] if unbatched else out)
    direct = not any(extend) and 0 not in (N, xb.shape[1], C_out)
    if direct:
        result = _core.conv_grad_input(
            _c(xb), _c(w), M, stride, pads, dilation, groups, out=target, workers=workers
        )
    else:
        result = np.zeros(shape, xb.dtype) if target is None else target
        result[...] = 0
        if min(M) >= 1 and 0 not in (N, xb.shape[1], C_out):
            part = _core.conv_grad_input(
                _c(xb), _c(w), M, stride, pads, dilation, groups, workers=workers
            )
            result[(slice(None), slice(None), *(slice(0, m) for m in M))] = part
    if b is not None:
        result += b.reshape((C_out,) + (1,) * d)
    if out is not None:
        return out
    return result[0] if unbatched else result


def _conv_transpose_backward(
    d,
    fname,
    grad_output,
    input,
    weight,
    stride,
    padding,
    output_padding,
    groups,
    dilation,
    output_mask,
    workers,
) -> Grads:
    xb, unbatched, w, geo = _transpose_setup(
        d, fname, input, weight, stride, padding, output_padding, groups, dilation
    )
    S, K, stride, pads, dilation, groups, T, M, extend = geo
    workers = check_workers(workers)
    mask = _output_mask(output_mask, fname)
    g = _float_array(grad_output, "grad_output", fname)
    _same_dtype(xb.dtype, g, "grad_output", fname)
    N, C_in = xb.shape[:2]
    C_out = w.shape[1] * groups
    want = (C_out, *T) if unbatched else (N, C_out, *T)
    if g.shape != want:
        raise ConvArgumentError(
            f"{fname}: expected grad_output of shape {list(want)}, got {list(g.shape)}"
        )
    gb = _c(g[None] if unbatched else g)
    live = min(M) >= 1 and 0 not in (N, C_in, C_out)
    if live:  # the positions the forward pass wrote (the rest only ever held zeros)
        used = _c(gb[(slice(None), slice(None), *(slice(0, m) for m in M))])
    grad_input = grad_weight = grad_bias = None
    if mask[0]:
        if live:
            grad_input = _core.conv_forward(
                used, _c(w), None, stride, pads, dilation, groups, workers=workers
            )
        else:
            grad_input = np.zeros(xb.shape, xb.dtype)
        if unbatched:
            grad_input = grad_input[0]
    if mask[1]:
        if live:
            grad_weight = _core.conv_grad_weight(
                _c(xb), used, K, stride, pads, dilation, groups, workers=workers
            )
        else:
            grad_weight = np.zeros(w.shape, w.dtype)
    if mask[2]:
        grad_bias = _sum_bias(gb)
    return grad_input, grad_weight, grad_bias


_TRANSPOSE_DOC = """{d}-D transposed convolution, as ``torch.nn.functional.conv_transpose{d}d``.

    The adjoint of :func:`conv{d}d` with respect to its input (sometimes called
    deconvolution): every input element scatters ``x * weight`` onto the output.

    Parameters
    ----------
    input : array_like, float32 or float64
        ``(N, C_in, {S})`` or unbatched ``(C_in, {S})``.
    weight : array_like
        torch's layout ``(C_in, C_out // groups, {K})``, same dtype.
    bias : array_like, optional
        ``(C_out,)``, same dtype.
    stride, dilation : int or sequence of {d} ints
        Positive.
    padding : int or sequence of {d} ints
        Non-negative: ``padding`` positions are cut from both ends of the full output, whose
        size is then ``(S - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1``
        (at least 1).
    output_padding : int or sequence of {d} ints
        Extra size on the high side; smaller than the stride or the dilation (torch's rule).
    groups : int
        Divides ``C_in``.
    out : ndarray, optional
        C-contiguous buffer of the result's shape and dtype; returned.
    workers : int, optional
        Threads for this call (-1: all cores).

    Returns
    -------
    ndarray
        ``(N, C_out, {OUT})`` (unbatched: ``(C_out, {OUT})``), input's dtype.

    Raises
    ------
    ConvDtypeError
        (TypeError) a dtype other than float32/float64, or arrays of different dtypes.
    ConvArgumentError
        (ValueError and RuntimeError) wrong ndim or channel count, groups not dividing the
        channels, an output size below 1, output_padding too large, bad arguments or ``out``.
    """

_TRANSPOSE_BACKWARD_DOC = """Gradients of :func:`conv_transpose{d}d`:
    ``(grad_input, grad_weight, grad_bias)``.

    What torch's autograd computes for ``conv_transpose{d}d(input, weight, bias, stride,
    padding, output_padding, groups, dilation)`` given the gradient of the loss with respect to
    its output (``grad_output``, the output's shape): ``grad_input`` is the convolution of
    ``grad_output`` with ``weight``, ``grad_weight`` the convolution weight gradient with the
    roles of input and output swapped, ``grad_bias`` the sum over batch and spatial axes.
    Arguments as :func:`conv_transpose{d}d`; ``output_mask`` (three bools) selects which are
    computed, the others are returned as None.

    Raises
    ------
    ConvDtypeError, ConvArgumentError
        As :func:`conv_transpose{d}d`; also when ``grad_output`` has the wrong shape.
    """


def conv_transpose1d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv_transpose(
        1,
        "conv_transpose1d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        out,
        workers,
    )


def conv_transpose2d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv_transpose(
        2,
        "conv_transpose2d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        out,
        workers,
    )


def conv_transpose3d(
    input,
    weight,
    bias=None,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> np.ndarray:
    return _conv_transpose(
        3,
        "conv_transpose3d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        out,
        workers,
    )


def conv_transpose1d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_transpose_backward(
        1,
        "conv_transpose1d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_mask,
        workers,
    )


def conv_transpose2d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_transpose_backward(
        2,
        "conv_transpose2d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_mask,
        workers,
    )


def conv_transpose3d_backward(
    grad_output,
    input,
    weight,
    stride: IntArg = 1,
    padding: IntArg = 0,
    output_padding: IntArg = 0,
    groups: int = 1,
    dilation: IntArg = 1,
    *,
    output_mask: Sequence[bool] = (True, True, True),
    workers: Optional[int] = None,
) -> Grads:
    return _conv_transpose_backward(
        3,
        "conv_transpose3d_backward",
        grad_output,
        input,
        weight,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_mask,
        workers,
    )


_SPATIAL = {
    1: ("L", "K", "L_out"),
    2: ("H, W", "kH, kW", "H_out, W_out"),
    3: ("D, H, W", "kD, kH, kW", "D_out, H_out, W_out"),
}
for _d, (_s, _k, _o) in _SPATIAL.items():
    _fmt = dict(d=_d, S=_s, K=_k, OUT=_o)
    globals()[f"conv{_d}d"].__doc__ = _CONV_DOC.format(**_fmt)
    globals()[f"conv{_d}d_backward"].__doc__ = _CONV_BACKWARD_DOC.format(**_fmt)
    globals()[f"conv_transpose{_d}d"].__doc__ = _TRANSPOSE_DOC.format(**_fmt)
    globals()[f"conv_transpose{_d}d_backward"].__doc__ = _TRANSPOSE_BACKWARD_DOC.format(**_fmt)
del _d, _s, _k, _o, _fmt


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------


def _block_ndim(fname: str, **args) -> int:
    """The number of spatial axes: the length of the sequence arguments (which must agree),
    2 when every one is an int (torch's 2-D functions)."""
    lengths = {}
    for name, value in args.items():
        if not isinstance(value, str) and np.ndim(value) == 1:
            lengths[name] = len(value)
    if not lengths:
        return 2
    if len(set(lengths.values())) > 1 or not 1 <= min(lengths.values()) <= 3:
        raise ConvArgumentError(
            f"{fname}: the sequence arguments must all have 1, 2 or 3 entries (one per spatial "
            f"axis), got lengths {lengths}"
        )
    return next(iter(lengths.values()))


def unfold(
    input,
    kernel_size: IntArg,
    dilation: IntArg = 1,
    padding: IntArg = 0,
    stride: IntArg = 1,
    *,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Extract sliding local blocks (im2col), as ``torch.nn.functional.unfold``.

    ``(N, C, *S)`` -> ``(N, C * prod(K), L)`` with ``L = prod(O)``, ``O = (S + 2*padding -
    dilation*(K - 1) - 1) // stride + 1``; row ``c * prod(K) + k`` (``k`` the flat kernel
    offset, C order) and column ``l`` (flat block index, C order) hold the input element block
    ``l`` reads at offset ``k``, zero in the padding. Unbatched ``(C, *S)`` gives
    ``(C * prod(K), L)``.

    Deviation from torch, which has the 2-D form only: 1 and 3 spatial axes too. The number
    of spatial axes is the length of the sequence arguments (``kernel_size=(3,)`` is 1-D,
    ``(3, 3, 3)`` 3-D); when every argument is an int it is 2, as in torch.

    Parameters
    ----------
    input : array_like, float32 or float64
        ``(N, C, *S)`` or ``(C, *S)``.
    kernel_size, dilation, stride : int or sequence of ints
        Positive.
    padding : int or sequence of ints
        Non-negative, zeros on both sides.
    workers : int, optional
        Threads for this call (-1: all cores).

    Raises
    ------
    ConvDtypeError
        (TypeError) a dtype other than float32/float64.
    ConvArgumentError
        (ValueError and RuntimeError) wrong ndim, a block count below 1, bad arguments.
    """
    fname = "unfold"
    d = _block_ndim(
        fname, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )
    x = _float_array(input, "input", fname)
    xb, unbatched = _batched(x, d, "input", fname)
    K = _ints(kernel_size, d, "kernel_size", fname, 1)
    dilation = _ints(dilation, d, "dilation", fname, 1)
    pads = tuple((p, p) for p in _ints(padding, d, "padding", fname, 0))
    stride = _ints(stride, d, "stride", fname, 1)
    workers = check_workers(workers)
    S = xb.shape[2:]
    OUT = tuple(
        (n + 2 * a - dl * (k - 1) - 1) // s + 1
        for n, k, s, (a, _), dl in zip(S, K, stride, pads, dilation)
    )
    if any(o < 1 for o in OUT):
        raise ConvArgumentError(
            f"{fname}: given input with spatial size {tuple(S)}, kernel_size={K}, "
            f"dilation={dilation}, padding={tuple(p for p, _ in pads)}, calculated shape of "
            f"the array of sliding blocks as {OUT}, but its components must be at least one"
        )
    N, C = xb.shape[:2]
    if N * C == 0:
        result = np.zeros((N, C * math.prod(K), math.prod(OUT)), xb.dtype)
    else:
        result = _core.unfold(_c(xb), K, stride, pads, dilation, workers=workers)
    return result[0] if unbatched else result


def fold(
    input,
    output_size: IntArg,
    kernel_size: IntArg,
    dilation: IntArg = 1,
    padding: IntArg = 0,
    stride: IntArg = 1,
    *,
    workers: Optional[int] = None,
) -> np.ndarray:
    """Combine sliding local blocks into an array (col2im), as ``torch.nn.functional.fold``.

    The adjoint of :func:`unfold`: ``(N, C * prod(K), L)`` -> ``(N, C, *output_size)``,
    every column entry added to the element it would have been read from (overlapping
    blocks sum, padding positions are dropped). Unbatched ``(C * prod(K), L)`` gives
    ``(C, *output_size)``.

    Deviation from torch, which has the 2-D form only: 1 and 3 spatial axes too, the number
    of spatial axes being the length of the sequence arguments (2 when all are ints).

    Parameters
    ----------
    input : array_like, float32 or float64
        ``(N, C * prod(K), L)`` or ``(C * prod(K), L)``; ``L`` must be the number of blocks.
    output_size : int or sequence of ints
        Spatial shape of the result.
    kernel_size, dilation, padding, stride
        As :func:`unfold`.
    workers : int, optional
        Threads for this call (-1: all cores).

    Raises
    ------
    ConvDtypeError
        (TypeError) a dtype other than float32/float64.
    ConvArgumentError
        (ValueError and RuntimeError) wrong ndim, rows not a multiple of ``prod(K)``, ``L``
        not the number of blocks, a block count below 1, bad arguments.
    """
    fname = "fold"
    d = _block_ndim(
        fname,
        output_size=output_size,
        kernel_size=kernel_size,
        dilation=dilation,
        padding=padding,
        stride=stride,
    )
    cols = _float_array(input, "input", fname)
    if cols.ndim not in (2, 3):
        raise ConvArgumentError(
            f"{fname}: expected 2D (unbatched) or 3D (batched) input, but got input of shape "
            f"{list(cols.shape)}"
        )
    unbatched = cols.ndim == 2
    cb = cols[None] if unbatched else cols
    S = _ints(output_size, d, "output_size", fname, 1)
    K = _ints(kernel_size, d, "kernel_size", fname, 1)
    dilation = _ints(dilation, d, "dilation", fname, 1)
    pads = tuple((p, p) for p in _ints(padding, d, "padding", fname, 0))
    stride = _ints(stride, d, "stride", fname, 1)
    workers = check_workers(workers)
    OUT = tuple(
        (n + 2 * a - dl * (k - 1) - 1) // s + 1
        for n, k, s, (a, _), dl in zip(S, K, stride, pads, dilation)
    )
    if any(o < 1 for o in OUT):
        raise ConvArgumentError(
            f"{fname}: given output_size={S}, kernel_size={K}, dilation={dilation}, "
            f"padding={tuple(p for p, _ in pads)}, stride={stride}, calculated shape of the "
            f"array of sliding blocks as {OUT}, but its components must be at least one"
        )
    N, rows, L = cb.shape
    kk = math.prod(K)
    if rows % kk:
        raise ConvArgumentError(
            f"{fname}: expected size of input's dimension {cols.ndim - 2} to be divisible by "
            f"the product of kernel_size {kk}, but got input of shape {list(cols.shape)}"
        )
    if L != math.prod(OUT):
        raise ConvArgumentError(
            f"{fname}: given output_size={S}, kernel_size={K}, dilation={dilation}, "
            f"padding={tuple(p for p, _ in pads)}, stride={stride}, expected size of input's "
            f"dimension {cols.ndim - 1} to match the calculated number of sliding blocks "
            f"{math.prod(OUT)}, but got {L}"
        )
    if N * rows == 0:
        result = np.zeros((N, rows // kk, *S), cb.dtype)
    else:
        result = _core.fold(_c(cb), S, K, stride, pads, dilation, workers=workers)
    return result[0] if unbatched else result


from fastconv.nn._norm import __all__ as _norm_all  # noqa: E402
from fastconv.nn._pooling import __all__ as _pooling_all  # noqa: E402

__all__ += _pooling_all
__all__ += _norm_all
from fastconv.nn._norm import *  # noqa: E402, F403  (batch normalisation too)
from fastconv.nn._pooling import *  # noqa: E402, F403  (pooling lives in its own module)

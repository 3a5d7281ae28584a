"""Pooling layers' functional forms and the element-wise pieces of a small CNN.

``torch.nn.functional`` semantics on NumPy arrays (float32 and float64; other dtypes raise
``TypeError``):

* max and average pooling over 1 to 3 spatial axes (``(N, C, *S)`` or unbatched ``(C, *S)``),
  with their backward passes, computed by the Rust core (``_core.max_pool_forward`` and
  friends; threads over ``(n, c)`` planes, bitwise identical for every thread count);
* adaptive average pooling (NumPy: a reshape-and-mean when the output divides the input, else
  one averaging matrix per axis);
* activations, softmax, dropout and losses with their gradients, vectorised in NumPy.

Argument problems raise :class:`PoolArgumentError`, a subclass of both ``ValueError`` (NumPy's
class for bad values) and ``RuntimeError`` (torch's), with a message naming the argument;
a softmax ``dim`` out of range raises :class:`PoolDimError`, also an ``IndexError`` (torch's).
The element-wise functions and losses allocate their result before computing: one that cannot
be allocated (say a zero-stride view of a huge shape as the input) raises ``MemoryError`` at
once.

Beyond torch: every pooling function takes a keyword-only ``workers`` (threads for this call;
``-1`` means all cores), and ``dropout`` can return its scaled mask (``return_mask=True``),
which is its gradient factor.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastconv import _core
from fastconv._args import check_workers

__all__ = [
    "PoolArgumentError",
    "PoolDimError",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool1d_backward",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "avg_pool1d",
    "avg_pool1d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_pool3d",
    "avg_pool3d_backward",
    "cross_entropy",
    "cross_entropy_backward",
    "dropout",
    "gelu",
    "gelu_backward",
    "log_softmax",
    "max_pool1d",
    "max_pool1d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool3d",
    "max_pool3d_backward",
    "mse_loss",
    "mse_loss_backward",
    "relu",
    "relu_backward",
    "softmax",
    "tanh",
    "tanh_backward",
]

IntOrTuple = Union[int, Sequence[int]]


class PoolArgumentError(ValueError, RuntimeError):
    """A bad shape or argument value (torch raises ``RuntimeError``, NumPy ``ValueError``)."""


class PoolDimError(PoolArgumentError, IndexError):
    """A ``dim`` out of range: torch raises ``IndexError``; also a :class:`PoolArgumentError`
    (what fastconv raised before), so code catching either keeps working."""


# --------------------------------------------------------------------------------------------
# argument handling
# --------------------------------------------------------------------------------------------


def _engine_array(a: np.ndarray) -> np.ndarray:
    """C-contiguous, aligned and in native byte order: the engine borrows the buffer as is
    (arrays unpickled from a byte stream, as dask.distributed does, can be unaligned)."""
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.require(a, requirements=("C", "A"))


def _float_array(x: object, name: str) -> np.ndarray:
    """``x`` as a float32/float64 array (``TypeError`` for any other dtype)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))  # big-endian: same values, native order
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    return arr


def _empty(shape: Tuple[int, ...], dtype, fname: str) -> np.ndarray:
    """``np.empty(shape, dtype)``: a result's buffer, allocated before any work so that a result
    that cannot exist (a zero-stride view of a huge shape as the input) fails at once with
    ``MemoryError`` instead of after a reduction over every element of the view."""
    try:
        return np.empty(shape, dtype)
    except (MemoryError, ValueError) as err:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        raise MemoryError(
            f"{fname}: cannot allocate the result of shape {tuple(shape)} ({nbytes} bytes)"
        ) from err


def _result_like(g: np.ndarray, x: np.ndarray, fname: str, xname: str, dtype=None) -> np.ndarray:
    """The (uninitialised) result of an element-wise backward pass of ``grad_output`` ``g``
    and ``x``: their broadcast shape, ``dtype`` or their promoted dtype (see :func:`_empty`)."""
    try:
        shape = np.broadcast_shapes(g.shape, x.shape)
    except ValueError:
        raise PoolArgumentError(
            f"{fname}: grad_output {g.shape} and {xname} {x.shape} do not broadcast"
        ) from None
    return _empty(shape, np.result_type(g.dtype, x.dtype) if dtype is None else dtype, fname)


def _int(value: object, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def _per_axis(value: object, name: str, nd: int, fname: str) -> Tuple[int, ...]:
    """An int or a sequence of 1 or ``nd`` ints as ``nd`` ints (torch's rule)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [_int(v, name) for v in value]
        if len(items) == 1:
            items = items * nd
        if len(items) != nd:
            raise PoolArgumentError(
                f"{fname}: {name} must either be a single int, or a tuple of {nd} ints, "
                f"got {tuple(value)}"
            )
        return tuple(items)
    return (_int(value, name),) * nd


def _batched(
    x: np.ndarray, nd: int, fname: str, name: str = "input", allow_empty: bool = False
) -> Tuple[np.ndarray, bool]:
    """``x`` as ``(N, C, *S)`` and whether it was unbatched ``(C, *S)``; zero sizes other
    than the batch's are errors unless ``allow_empty``."""
    if x.ndim == nd + 1:
        x = x[None]
        unbatched = True
    elif x.ndim == nd + 2:
        unbatched = False
    else:
        raise PoolArgumentError(
            f"{fname}: expected {name} of {nd + 1} (unbatched) or {nd + 2} (batched) "
            f"dimensions, got shape {x.shape}"
        )
    if not allow_empty and 0 in x.shape[1:]:
        raise PoolArgumentError(
            f"{fname}: expected {name} with non-zero sizes except the batch axis, got shape "
            f"{x.shape[1:] if unbatched else x.shape}"
        )
    return x, unbatched


def _window(
    fname: str,
    nd: int,
    kernel_size: object,
    stride: object,
    padding: object,
    dilation: object = 1,
) -> Tuple[Tuple[int, ...], ...]:
    """Checked ``(kernel, stride, padding, dilation)``, one int per spatial axis each."""
    k = _per_axis(kernel_size, "kernel_size", nd, fname)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        s = k
    else:
        s = _per_axis(stride, "stride", nd, fname)
    p = _per_axis(padding, "padding", nd, fname)
    d = _per_axis(dilation, "dilation", nd, fname)
    for name, values in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if min(values) <= 0:
            raise PoolArgumentError(f"{fname}: {name} must be greater than zero, got {values}")
    if min(p) < 0:
        raise PoolArgumentError(f"{fname}: padding must be non-negative, got {p}")
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise PoolArgumentError(
            f"{fname}: padding should be at most half of kernel_size, got padding={p} and "
            f"kernel_size={k}"
        )
    return k, s, p, d


def _divisor(divisor_override: object) -> Optional[int]:
    if divisor_override is None:
        return None
    d = _int(divisor_override, "divisor_override")
    if d == 0:
        raise PoolArgumentError("divisor_override must be non-zero")
    return d


def _core_call(fn, *args):
    """Runs a core function, turning its ``ValueError`` into :class:`PoolArgumentError`."""
    try:
        return fn(*args)
    except PoolArgumentError:
        raise
    except ValueError as err:
        raise PoolArgumentError(str(err)) from None


def _input_shape(
    input_shape: object, grad: np.ndarray, nd: int, fname: str, allow_empty: bool = False
) -> Tuple[np.ndarray, bool, Tuple[int, ...]]:
    """Batched ``grad``, whether unbatched, and the checked spatial input size."""
    shape = tuple(_int(v, "input_shape") for v in input_shape)
    g, unbatched = _batched(grad, nd, fname, "grad_output", allow_empty)
    if len(shape) != grad.ndim:
        raise PoolArgumentError(
            f"{fname}: input_shape must have {grad.ndim} entries like grad_output, got {shape}"
        )
    lead = 1 if unbatched else 2
    if shape[:lead] != grad.shape[:lead]:
        raise PoolArgumentError(
            f"{fname}: input_shape {shape} and grad_output {grad.shape} disagree on the "
            "batch/channel sizes"
        )
    spatial = shape[lead:]
    if min(spatial) <= 0:
        raise PoolArgumentError(f"{fname}: input_shape must be positive, got {shape}")
    return g, unbatched, spatial


# --------------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------------


def _max_pool(
    nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, workers
):
    fname = f"max_pool{nd}d"
    x, unbatched = _batched(_float_array(input, "input"), nd, fname)
    k, s, p, d = _window(fname, nd, kernel_size, stride, padding, dilation)
    workers = check_workers(workers)
    out, idx = _core_call(
        _core.max_pool_forward, _engine_array(x), k, s, p, d, bool(ceil_mode), workers
    )
    if unbatched:
        out, idx = out[0], idx[0]
    return (out, idx) if return_indices else out


def max_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
    *,
    workers=None,
):
    """1-D max pooling of ``(N, C, L)`` or ``(C, L)``: the output, and with
    ``return_indices`` also the index of each chosen element along ``L`` (int64).

    A NaN in a window makes its output NaN; otherwise the first maximum is chosen."""
    return _max_pool(
        1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, workers
    )


def max_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
    *,
    workers=None,
):
    """2-D max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; indices are flat in ``H * W``."""
    return _max_pool(
        2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, workers
    )


def max_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    return_indices=False,
    *,
    workers=None,
):
    """3-D max pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``; indices are flat in
    ``D * H * W``."""
    return _max_pool(
        3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, workers
    )


def _max_pool_backward(nd, grad_output, indices, input_shape, workers):
    fname = f"max_pool{nd}d_backward"
    grad = _float_array(grad_output, "grad_output")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fname}: indices must have an integer dtype, got {idx.dtype}")
    if idx.shape != grad.shape:
        raise PoolArgumentError(
            f"{fname}: indices has shape {idx.shape}, grad_output {grad.shape}: they must match"
        )
    g, unbatched, spatial = _input_shape(input_shape, grad, nd, fname)
    # The forward pass only produces indices into the plane (every window holds at least one
    # input element): a negative index is not one of its indices (torch's -1 marks a window
    # without one, which the forward cannot produce), so it is refused, not skipped.
    # (An unsigned index beyond int64 would wrap to a negative one in the conversion below.)
    if idx.size:
        plane = math.prod(spatial)
        bad = idx.min() if idx.dtype.kind == "i" else idx.max()
        if bad < 0 or (idx.dtype.kind == "u" and bad >= plane):
            raise PoolArgumentError(
                f"{fname}: indices holds {int(bad)}: indices must be flat positions in the "
                f"input plane, in range [0, {plane})"
            )
    ib = idx[None] if unbatched else idx
    workers = check_workers(workers)
    out = _core_call(
        _core.max_pool_backward,
        _engine_array(g),
        np.require(ib, np.int64, ("C", "A")),
        spatial,
        workers,
    )
    return out[0] if unbatched else out


def max_pool1d_backward(grad_output, indices, input_shape, *, workers=None):
    """Gradient of :func:`max_pool1d` with respect to its input (of shape ``input_shape``):
    ``grad_output`` added to the elements ``indices`` names."""
    return _max_pool_backward(1, grad_output, indices, input_shape, workers)


def max_pool2d_backward(grad_output, indices, input_shape, *, workers=None):
    """Gradient of :func:`max_pool2d` with respect to its input (of shape ``input_shape``)."""
    return _max_pool_backward(2, grad_output, indices, input_shape, workers)


def max_pool3d_backward(grad_output, indices, input_shape, *, workers=None):
    """Gradient of :func:`max_pool3d` with respect to its input (of shape ``input_shape``)."""
    return _max_pool_backward(3, grad_output, indices, input_shape, workers)


# --------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------


def _check_avg3d(fname, spatial, k):
    # torch's avg_pool3d (only) wants the unpadded input at least as large as the kernel.
    if any(n < ki for n, ki in zip(spatial, k)):
        raise PoolArgumentError(
            f"{fname}: input image {tuple(spatial)} smaller than kernel_size {tuple(k)}"
        )


def _avg_pool(
    nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, workers
):
    fname = f"avg_pool{nd}d"
    x, unbatched = _batched(_float_array(input, "input"), nd, fname)
    k, s, p, _ = _window(fname, nd, kernel_size, stride, padding)
    div = _divisor(divisor_override)
    if nd == 3:
        _check_avg3d(fname, x.shape[2:], k)
    workers = check_workers(workers)
    out = _core_call(
        _core.avg_pool_forward,
        _engine_array(x),
        k,
        s,
        p,
        bool(ceil_mode),
        bool(count_include_pad),
        div,
        workers,
    )
    return out[0] if unbatched else out


def avg_pool1d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    *,
    workers=None,
):
    """1-D average pooling of ``(N, C, L)`` or ``(C, L)``; the divisor counts the padding
    when ``count_include_pad``."""
    return _avg_pool(
        1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, workers
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    workers=None,
):
    """2-D average pooling of ``(N, C, H, W)`` or ``(C, H, W)``; ``divisor_override``
    replaces the element count as the divisor."""
    return _avg_pool(
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        workers,
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    workers=None,
):
    """3-D average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _avg_pool(
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        workers,
    )


def _avg_pool_backward(
    nd,
    grad_output,
    input_shape,
    kernel_size,
    stride,
    padding,
    ceil_mode,
    count_include_pad,
    divisor_override,
    workers,
):
    fname = f"avg_pool{nd}d_backward"
    grad = _float_array(grad_output, "grad_output")
    g, unbatched, spatial = _input_shape(input_shape, grad, nd, fname)
    k, s, p, _ = _window(fname, nd, kernel_size, stride, padding)
    div = _divisor(divisor_override)
    if nd == 3:
        _check_avg3d(fname, spatial, k)
    workers = check_workers(workers)
    out = _core_call(
        _core.avg_pool_backward,
        _engine_array(g),
        spatial,
        k,
        s,
        p,
        bool(ceil_mode),
        bool(count_include_pad),
        div,
        workers,
    )
    return out[0] if unbatched else out


def avg_pool1d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    workers=None,
):
    """Gradient of :func:`avg_pool1d` with respect to its input (of shape ``input_shape``)."""
    return _avg_pool_backward(
        1,
        grad_output,
        input_shape,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        workers,
    )


def avg_pool2d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    workers=None,
):
    """Gradient of :func:`avg_pool2d` with respect to its input (of shape ``input_shape``)."""
    return _avg_pool_backward(
        2,
        grad_output,
        input_shape,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        workers,
    )


def avg_pool3d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
    *,
    workers=None,
):
    """Gradient of :func:`avg_pool3d` with respect to its input (of shape ``input_shape``)."""
    return _avg_pool_backward(
        3,
        grad_output,
        input_shape,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        workers,
    )


# --------------------------------------------------------------------------------------------
# adaptive average pooling
# --------------------------------------------------------------------------------------------


def _adaptive_matrix(n: int, m: int, dtype) -> np.ndarray:
    """The (m, n) matrix averaging input ``[floor(i n / m), ceil((i + 1) n / m))`` into
    output ``i`` (torch's start/end rule)."""
    i = np.arange(m)
    start = (i * n) // m
    end = -((-(i + 1) * n) // m)
    j = np.arange(n)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_sizes(output_size, spatial, nd, fname):
    if isinstance(output_size, (list, tuple)):
        sizes = list(output_size)
        if len(sizes) == 1:
            sizes = sizes * nd
        if len(sizes) != nd:
            raise PoolArgumentError(f"{fname}: output_size must have {nd} entries, got {sizes}")
    else:
        sizes = [output_size] * nd
    out = []
    for v, n in zip(sizes, spatial):
        m = n if v is None else _int(v, "output_size")
        if m < 0:
            raise PoolArgumentError(f"{fname}: output_size must be non-negative, got {sizes}")
        out.append(m)
    return tuple(out)


def _adaptive_axis(x: np.ndarray, axis: int, m: int, backward_to: Optional[int] = None):
    """Forward: average axis ``axis`` of ``x`` down to ``m``. Backward (``backward_to`` the
    input length ``n``): the transpose, spreading ``x``'s axis of length ``m`` over ``n``."""
    n = x.shape[axis] if backward_to is None else backward_to
    if m > 0 and n % m == 0:
        r = n // m
        if backward_to is None:
            shape = x.shape[:axis] + (m, r) + x.shape[axis + 1 :]
            return x.reshape(shape).mean(axis=axis + 1, dtype=x.dtype)
        return np.repeat(x / x.dtype.type(r), r, axis=axis)
    a = _adaptive_matrix(n, m, x.dtype)
    if backward_to is not None:
        a = a.T
    return np.moveaxis(np.tensordot(a, x, axes=([1], [axis])), 0, axis)


def _adaptive(nd, input, output_size):
    fname = f"adaptive_avg_pool{nd}d"
    x, unbatched = _batched(_float_array(input, "input"), nd, fname)
    sizes = _adaptive_sizes(output_size, x.shape[2:], nd, fname)
    for a, m in enumerate(sizes):
        x = _adaptive_axis(x, 2 + a, m)
    x = _engine_array(x)
    return x[0] if unbatched else x


def _adaptive_backward(nd, grad_output, input_shape):
    fname = f"adaptive_avg_pool{nd}d_backward"
    grad = _float_array(grad_output, "grad_output")
    g, unbatched, spatial = _input_shape(input_shape, grad, nd, fname, allow_empty=True)
    for a, n in enumerate(spatial):
        g = _adaptive_axis(g, 2 + a, g.shape[2 + a], backward_to=n)
    g = _engine_array(g)
    return g[0] if unbatched else g


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling of ``(N, C, L)`` or ``(C, L)`` to ``output_size`` outputs."""
    return _adaptive(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling of ``(N, C, H, W)`` or ``(C, H, W)`` to ``output_size`` (an
    int or a pair; ``None`` keeps that axis' size)."""
    return _adaptive(2, input, output_size)


def adaptive_avg_pool1d_backward(grad_output, input_shape):
    """Gradient of :func:`adaptive_avg_pool1d` with respect to its input."""
    return _adaptive_backward(1, grad_output, input_shape)


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """Gradient of :func:`adaptive_avg_pool2d` with respect to its input."""
    return _adaptive_backward(2, grad_output, input_shape)


# --------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------


def relu(input, inplace=False):
    """``max(x, 0)``; NaN stays NaN. ``inplace`` writes into ``input``."""
    x = _float_array(input, "input")
    return np.maximum(x, 0, out=x if inplace else _empty(x.shape, x.dtype, "relu"))


def relu_backward(grad_output, input):
    """Gradient of :func:`relu`: ``grad_output`` where ``input > 0`` (or is NaN, as torch's
    ``threshold_backward``), else 0. ``input`` may also be relu's output."""
    g = _float_array(grad_output, "grad_output")
    x = _float_array(input, "input")
    out = _result_like(g, x, "relu_backward", "input", g.dtype)
    np.copyto(out, g)
    np.copyto(out, g.dtype.type(0), where=x <= 0)
    return out


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_BETA = math.sqrt(2.0 / math.pi)
_TANH_KAPPA = 0.044715


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise (SciPy's ufunc: SciPy is a dependency)."""
    from scipy.special import erf

    return erf(x)


def _check_approximate(approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise PoolArgumentError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(input, approximate="none"):
    """``x * Phi(x)`` (torch's erf form), or its tanh approximation (``approximate='tanh'``)."""
    _check_approximate(approximate)
    x = _float_array(input, "input")
    out = _empty(x.shape, x.dtype, "gelu")
    t = x.dtype.type
    if approximate == "tanh":
        inner = t(_TANH_BETA) * (x + t(_TANH_KAPPA) * x * x * x)
        return np.multiply(t(0.5) * x, t(1) + np.tanh(inner), out=out)
    return np.multiply(x * t(0.5), t(1) + _erf(x * t(_SQRT_HALF)), out=out)


def gelu_backward(grad_output, input, approximate="none"):
    """Gradient of :func:`gelu` with respect to its input (torch's formulas)."""
    _check_approximate(approximate)
    g = _float_array(grad_output, "grad_output")
    x = _float_array(input, "input")
    out = _result_like(g, x, "gelu_backward", "input")
    t = x.dtype.type
    if approximate == "tanh":
        x_sq = x * x
        inner = t(_TANH_BETA) * (x + t(_TANH_KAPPA) * x_sq * x)
        tanh_inner = np.tanh(inner)
        left = t(0.5) * x
        right = t(1) + tanh_inner
        left_derivative = t(0.5) * right
        right_derivative = (
            left
            * (t(1) - tanh_inner * tanh_inner)
            * t(_TANH_BETA)
            * (t(1) + t(3 * _TANH_KAPPA) * x_sq)
        )
        return np.multiply(g, left_derivative + right_derivative, out=out)
    cdf = t(0.5) * (t(1) + _erf(x * t(_SQRT_HALF)))
    pdf = np.exp(t(-0.5) * x * x) * t(_INV_SQRT_2PI)
    return np.multiply(g, cdf + x * pdf, out=out)


def tanh(input):
    """Element-wise hyperbolic tangent."""
    x = _float_array(input, "input")
    return np.tanh(x, out=_empty(x.shape, x.dtype, "tanh"))


def tanh_backward(grad_output, output):
    """Gradient of :func:`tanh` from its output ``y``: ``grad_output * (1 - y**2)``."""
    g = _float_array(grad_output, "grad_output")
    y = _float_array(output, "output")
    out = _result_like(g, y, "tanh_backward", "output")
    return np.multiply(g, y.dtype.type(1) - y * y, out=out)


def dropout(input, p=0.5, training=True, rng=None, *, return_mask=False):
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``.

    ``rng`` is a ``numpy.random.Generator``, a seed, or None (a fresh generator). Not
    ``training`` or ``p == 0``: ``input`` itself is returned. With ``return_mask`` the result
    is ``(output, mask)`` where ``mask`` (0 or ``1 / (1 - p)``) is also the gradient factor:
    ``grad_input = grad_output * mask``.
    """
    x = _float_array(input, "input")
    p = _probability(p)
    if not 0.0 <= p <= 1.0:
        raise PoolArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or x.size == 0:
        return (x, np.ones_like(x)) if return_mask else x
    out = _empty(x.shape, x.dtype, "dropout")
    if p == 1.0:
        mask = np.zeros_like(x)
    else:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        keep = gen.random(x.shape) >= p
        mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    np.multiply(x, mask, out=out)
    return (out, mask) if return_mask else out


def _probability(p: object) -> float:
    """``p`` as a float: a real number (torch raises ``TypeError`` for anything else, a
    numeric string included)."""
    if isinstance(p, (str, bytes)):
        raise TypeError(f"dropout: p must be a float, got {type(p).__name__} {p!r}")
    try:
        return float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"dropout: p must be a float, got {type(p).__name__} {p!r}") from None


# --------------------------------------------------------------------------------------------
# softmax and losses
# --------------------------------------------------------------------------------------------


def _softmax_dim(x: np.ndarray, dim: Optional[int], name: str) -> int:
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. Change the call to "
            "include dim=X as an argument.",
            stacklevel=3,
        )
        dim = 0 if x.ndim in (0, 1, 3) else 1
    dim = _int(dim, "dim")
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise PoolDimError(
            f"{name}: dim {dim} is out of range for an array of {x.ndim} dims (expected to be "
            f"in range of [{-nd}, {nd - 1}])"
        )
    return dim % nd


def _softmax_input(input, dim, dtype, name):
    if dtype is not None:
        arr = np.asarray(input)
        if arr.dtype.kind not in "fiu":  # astype would parse strings, truncate complex
            raise TypeError(f"{name}: input must be a real array, got dtype {arr.dtype}")
        input = arr.astype(dtype)
    x = _float_array(input, "input")
    return x, _softmax_dim(x, dim, name)


def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed as ``exp(x - max)``). A ``dim`` out
    of range raises :class:`PoolDimError` (an ``IndexError``, as torch's)."""
    x, dim = _softmax_input(input, dim, dtype, "softmax")
    if x.ndim == 0:
        return np.exp(x - x)
    out = _empty(x.shape, x.dtype, "softmax")  # before the reductions over ``x``
    np.subtract(x, np.max(x, axis=dim, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= np.sum(out, axis=dim, keepdims=True)
    return out


def log_softmax(input, dim=None, dtype=None):
    """``x - log(sum(exp(x)))`` along ``dim``, computed stably (``x - max`` first: a ``-inf``
    entry gives ``-inf``, the others stay finite)."""
    x, dim = _softmax_input(input, dim, dtype, "log_softmax")
    if x.ndim == 0:
        return x - x
    out = _empty(x.shape, x.dtype, "log_softmax")  # before the reductions over ``x``
    np.subtract(x, np.max(x, axis=dim, keepdims=True), out=out)
    out -= np.log(np.sum(np.exp(out), axis=dim, keepdims=True))
    return out


_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise PoolArgumentError(f"{reduction} is not a valid value for reduction")


def _ce_terms(input, target, weight, ignore_index, reduction, label_smoothing):
    """The pieces both cross-entropy passes need, class axis moved last:
    ``(x, cdim, logp, a, denom, terms)`` with ``loss_i = -sum_c a_ic logp_ic`` over the terms
    torch computes (``terms``, a boolean mask; None: every class), and the mean's
    denominator.

    With class-index targets torch's loss reads the target's log-probability only (plus every
    class's with ``label_smoothing``, and nothing of an ignored sample): a ``-inf`` logit of
    another class gives ``logp = -inf`` and ``a = 0`` there, whose product (NaN) is no term.
    With probability targets every class is a term, as in torch."""
    _check_reduction(reduction)
    x = _float_array(input, "input")
    if x.ndim == 0:
        raise PoolArgumentError("cross_entropy: input must have at least one dimension")
    cdim = 1 if x.ndim >= 2 else 0
    ncls = x.shape[cdim]
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise PoolArgumentError(
            f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )
    xl = np.moveaxis(x, cdim, -1)
    t = x.dtype.type
    if weight is not None:
        w = _float_array(weight, "weight").astype(x.dtype, copy=False)
        if w.shape != (ncls,):
            raise PoolArgumentError(
                f"weight must be 1-D with {ncls} entries (one per class), got shape {w.shape}"
            )
    logp = log_softmax(xl, dim=-1)  # (first: it refuses a result that cannot be allocated)
    if weight is None:
        w = np.ones(ncls, dtype=x.dtype)
    tgt = np.asarray(target)
    if tgt.dtype.kind in "fc":  # class probabilities
        if tgt.shape != x.shape:
            raise PoolArgumentError(
                f"cross_entropy: probability target shape {tgt.shape} must equal the input "
                f"shape {x.shape}"
            )
        tl = np.moveaxis(tgt.astype(x.dtype, copy=False), cdim, -1)
        if eps > 0:
            tl = tl * t(1 - eps) + t(eps / ncls)
        a = w * tl
        denom = t(max(xl.size // max(ncls, 1), 0))
        return x, cdim, logp, a, denom, None
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices or floats, got {tgt.dtype}")
    want = x.shape[:cdim] + x.shape[cdim + 1 :]
    if tgt.shape != want:
        raise PoolArgumentError(
            f"cross_entropy: expected target of shape {want} for input of shape {x.shape}, got "
            f"{tgt.shape}"
        )
    tgt = tgt.astype(np.int64, copy=False)
    valid = tgt != ignore_index
    bad = valid & ((tgt < 0) | (tgt >= ncls))
    if bad.any():
        raise IndexError(f"Target {int(tgt[bad].flat[0])} is out of bounds.")
    tc = np.where(valid, tgt, 0)
    wt = w[tc] * valid
    a = np.zeros_like(logp)
    np.put_along_axis(a, tc[..., None], (t(1 - eps) * wt)[..., None], axis=-1)
    terms = np.zeros(logp.shape, dtype=bool)
    np.put_along_axis(terms, tc[..., None], valid[..., None], axis=-1)
    if eps > 0:
        a += t(eps / ncls) * w * valid[..., None]
        terms |= valid[..., None]
    denom = wt.sum(dtype=x.dtype)
    return x, cdim, logp, a, denom, terms


def cross_entropy(
    input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0
):
    """Cross entropy between ``input`` logits (``(C,)``, ``(N, C)`` or ``(N, C, *d)``) and
    ``target`` class indices (integers; ``ignore_index`` entries are skipped) or class
    probabilities (floats, the input's shape), with optional class ``weight`` and
    ``label_smoothing`` (torch's rules: a weighted mean divides by the targets' total weight).
    Returns a NumPy scalar, or per-sample losses for ``reduction='none'``."""
    x, _, logp, a, denom, terms = _ce_terms(
        input, target, weight, ignore_index, reduction, label_smoothing
    )
    if terms is None:
        products = a * logp
    else:  # (-0.0: what ``0 * logp`` gave where it is no term, so the sums keep their bits)
        products = np.full(logp.shape, -0.0, dtype=logp.dtype)
        with np.errstate(invalid="ignore"):  # a zero-weight -inf target: NaN, as torch's
            np.multiply(a, logp, out=products, where=terms)
    per_sample = -np.sum(products, axis=-1)
    if reduction == "none":
        return per_sample
    total = np.sum(per_sample, dtype=x.dtype)
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):
        return x.dtype.type(total / denom)


def cross_entropy_backward(
    grad_output,
    input,
    target,
    weight=None,
    *,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    """Gradient of :func:`cross_entropy` with respect to ``input`` (same arguments;
    ``grad_output`` is a scalar, or per-sample for ``reduction='none'``):
    ``(sum_c a_ic) softmax_i - a_i`` scaled by the reduction."""
    x, cdim, logp, a, denom, _ = _ce_terms(
        input, target, weight, ignore_index, reduction, label_smoothing
    )
    g = np.asarray(grad_output, dtype=x.dtype)
    grad = np.sum(a, axis=-1, keepdims=True) * np.exp(logp) - a
    if reduction == "none":
        if g.shape != logp.shape[:-1]:
            raise PoolArgumentError(
                f"grad_output must have the per-sample shape {logp.shape[:-1]}, got {g.shape}"
            )
        grad = grad * g[..., None]
    else:
        if g.size != 1:
            raise PoolArgumentError(f"grad_output must be a scalar, got shape {g.shape}")
        scale = g.reshape(()) if reduction == "sum" else g.reshape(()) / denom
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = grad * scale
    return np.ascontiguousarray(np.moveaxis(grad, -1, cdim))


def _mse_inputs(input, target, reduction):
    _check_reduction(reduction)
    x = _float_array(input, "input")
    y = np.asarray(target)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"target must be numeric, got {y.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise PoolArgumentError(
            f"mse_loss: input {x.shape} and target {y.shape} do not broadcast"
        ) from None
    return x, y.astype(x.dtype, copy=False), shape


def mse_loss(input, target, reduction="mean"):
    """Mean (or summed, or element-wise) squared error; shapes broadcast as in torch."""
    x, y, shape = _mse_inputs(input, target, reduction)
    sq = _empty(shape, x.dtype, "mse_loss")
    np.square(np.subtract(x, y, out=sq), out=sq)
    if reduction == "none":
        return sq
    total = np.sum(sq, dtype=x.dtype)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore"):
        return x.dtype.type(total / x.dtype.type(sq.size))


def mse_loss_backward(grad_output, input, target, reduction="mean"):
    """Gradient of :func:`mse_loss` with respect to ``input`` (summed over broadcast axes)."""
    x, y, shape = _mse_inputs(input, target, reduction)
    g = np.asarray(grad_output, dtype=x.dtype)
    grad = _empty(shape, x.dtype, "mse_loss_backward")
    np.multiply(x.dtype.type(2), np.subtract(x, y, out=grad), out=grad)
    if reduction == "mean":
        grad = grad * (g / x.dtype.type(max(math.prod(shape), 1)))
    else:
        grad = grad * g
    grad = np.broadcast_to(grad, shape)
    extra = len(shape) - x.ndim
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(x.shape) if n == 1 and shape[extra + i] != 1
    )
    if axes:
        grad = np.sum(grad, axis=axes, dtype=x.dtype).reshape(x.shape)
    return np.ascontiguousarray(grad)

"""Batch normalisation's functional forms (``torch.nn.functional.batch_norm`` semantics).

Inputs are ``(N, C)`` or ``(N, C, *S)`` float32/float64 NumPy arrays (other dtypes raise
``TypeError``); statistics are per channel (dimension 1) over every other axis. The work is
done by the Rust core (``_core.batch_norm_forward`` / ``_core.batch_norm_backward``):
per-channel sums in float64 for both dtypes, a two-pass variance, threads over channels
above a work threshold, results bitwise identical for every thread count.

* :func:`batch_norm` normalises with the batch statistics (``training=True``; the biased
  variance) or the running ones, and in training updates ``running_mean``/``running_var`` in
  place as torch does: ``running = (1 - momentum) running + momentum batch``, with the
  *unbiased* batch variance. ``return_stats=True`` also returns the ``save_mean`` and
  ``save_invstd`` (``1 / sqrt(var + eps)``) that :func:`batch_norm_backward` takes; in
  evaluation those are the running mean and ``1 / sqrt(running_var + eps)``.
* :func:`batch_norm_backward` is torch's ``native_batch_norm_backward``: with ``xhat = (x -
  mean) invstd``, training gives ``dx = w invstd (g - mean(g) - xhat mean(g xhat))``,
  evaluation ``dx = g w invstd``; ``dw = sum(g xhat)``, ``db = sum(g)``.

Beyond torch (keyword-only): ``relu=True`` fuses a following ReLU into the forward pass
(``max(bn(x), 0)``); pass that output as ``relu_output`` to the backward pass, which then
zeroes the gradient where it is ``<= 0`` (torch's ``threshold_backward``). ``out=`` writes
the result into a preallocated C-contiguous array of the input's shape and dtype, and
``workers`` sets the threads for the call (``-1``: all cores).

Argument problems raise :class:`NormArgumentError`, a subclass of both ``ValueError`` and
``RuntimeError`` (torch raises one or the other), with torch's message where torch has one.
Nothing is cast: weight, bias, the saved statistics, ``grad_output`` and ``relu_output``
must have the input's dtype, float32 or float64 (either byte order), else
:class:`NormDtypeError` (a ``TypeError`` and, as torch's "mixed dtype" error, a
``RuntimeError``). The running statistics may be float32 or float64 whatever the input's
dtype (converted, and in training written back; torch wants the input's dtype there too);
any other dtype (integers, float16) raises :class:`NormDtypeError`. Any memory layout is
accepted (copied where the core needs a C-contiguous, aligned array).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from fastconv import _core
from fastconv._args import check_workers

__all__ = [
    "NormArgumentError",
    "NormDtypeError",
    "batch_norm",
    "batch_norm_backward",
]

_Grads = Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]


class NormArgumentError(ValueError, RuntimeError):
    """A bad shape or argument (torch raises ``RuntimeError`` or ``ValueError``)."""


class NormDtypeError(TypeError, RuntimeError):
    """An array dtype other than float32/float64, or not the input's (torch raises
    ``RuntimeError``: "mixed dtype")."""


def _native(arr: np.ndarray) -> np.ndarray:
    """``arr`` in native byte order (a big-endian float array converted, values unchanged)."""
    if arr.dtype.kind == "f" and not arr.dtype.isnative:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _check_dtype(arr: np.ndarray, name: str, dtype: np.dtype, running: bool = False) -> None:
    """``NormDtypeError`` unless ``arr`` has the input's ``dtype`` (in either byte order), or,
    for ``running`` statistics, float32 or float64 (they are converted: a documented
    deviation from torch, which wants the input's dtype there too)."""
    got = arr.dtype.newbyteorder("=") if arr.dtype.kind == "f" else arr.dtype
    if running and got != dtype and got in (np.float32, np.float64):
        return
    if running and got != dtype:
        raise NormDtypeError(
            f"batch_norm: {name} must have dtype float32 or float64 (that of the input, "
            f"{dtype}, or the other, converted), got {arr.dtype}"
        )
    if got != dtype:
        raise NormDtypeError(
            f"batch_norm: {name} has dtype {arr.dtype} but input has dtype {dtype}: every "
            "array must have the input's dtype (fastconv casts nothing; convert it first)"
        )


def _input(x: object, name: str) -> np.ndarray:
    """``x`` as a C-contiguous, aligned, native float32/float64 array of at least 2-D."""
    arr = _native(np.asarray(x))
    if arr.dtype != np.float32 and arr.dtype != np.float64:
        raise NormDtypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    if arr.ndim < 2:
        raise NormArgumentError(
            f"batch_norm: expected {name} of at least 2 dimensions (N, C, *S), got shape "
            f"{arr.shape}"
        )
    return np.require(arr, requirements=("C", "A"))


def _per_channel(
    v: object, name: str, c: int, dtype: np.dtype, running: bool = False
) -> Optional[np.ndarray]:
    """A per-channel array (``None`` stays ``None``) of ``c`` elements and the input's
    ``dtype`` (see :func:`_check_dtype`) as a 1-D C-contiguous, aligned array of ``dtype`` (a
    copy when it is not one)."""
    if v is None:
        return None
    arr = np.asarray(v)
    if arr.size != c:
        raise NormArgumentError(f"{name} should contain {c} elements not {arr.size}")
    _check_dtype(arr, name, dtype, running)
    arr = arr.reshape(c)
    if arr.dtype != dtype:  # big-endian, or running statistics of the other float dtype
        arr = arr.astype(dtype)
    return np.require(arr, requirements=("C", "A"))


def _running(v: object, name: str, c: int, dtype: np.dtype) -> Tuple[np.ndarray, np.ndarray]:
    """``(array the core updates, caller's array)``: the same array when it already has the
    input's dtype and is C-contiguous and writeable, else a converted copy to write back."""
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (it is updated in place), got {type(v)}")
    if v.size != c:
        raise NormArgumentError(f"{name} should contain {c} elements not {v.size}")
    _check_dtype(v, name, dtype, running=True)
    if not v.flags.writeable:
        raise NormArgumentError(f"{name} must be writeable: training updates it in place")
    if v.dtype == dtype and v.ndim == 1 and v.flags.c_contiguous and v.flags.aligned:
        return v, v
    # a converted copy the core updates, written back after the call
    return np.array(v.reshape(c), dtype=dtype, order="C"), v


def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    *,
    return_stats: bool = False,
    relu: bool = False,
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batch normalisation per channel (dimension 1) of ``input`` (N, C, *S).

    ``training=True`` normalises with the batch mean and biased variance and updates
    ``running_mean``/``running_var`` in place (when given: both or neither) with ``momentum``
    and the unbiased variance; ``training=False`` normalises with the running statistics.
    ``weight``/``bias`` (C elements, default 1 and 0) scale and shift the result.

    With ``return_stats`` returns ``(output, save_mean, save_invstd)`` for
    :func:`batch_norm_backward`. ``relu=True`` returns ``max(bn(x), 0)``.
    """
    x = _input(input, "input")
    shape = x.shape
    c = shape[1]
    dt = x.dtype
    training = bool(training)
    momentum, eps = float(momentum), float(eps)
    if not eps >= 0.0:  # (NaN too: it would make every output NaN)
        raise NormArgumentError(f"batch_norm eps must be non-negative, but got {eps}")
    workers = check_workers(workers)
    per_channel = math.prod(shape) // c if c else 0
    if training and per_channel == 1:
        raise NormArgumentError(
            f"Expected more than 1 value per channel when training, got input size {shape}"
        )
    if (running_mean is None) != (running_var is None):
        raise NormArgumentError("running_mean and running_var must both be given or both None")
    if not training and running_mean is None:
        raise NormArgumentError("running_mean must be defined in evaluation mode")
    w = _per_channel(weight, "weight", c, dt)
    b = _per_channel(bias, "bias", c, dt)
    if running_mean is None:
        rm = rv = rm_user = rv_user = None
    elif training:
        rm, rm_user = _running(running_mean, "running_mean", c, dt)
        rv, rv_user = _running(running_var, "running_var", c, dt)
    else:
        rm = _per_channel(running_mean, "running_mean", c, dt, running=True)
        rv = _per_channel(running_var, "running_var", c, dt, running=True)
        rm_user = rv_user = None
    if c == 0 or (training and per_channel == 0):
        # Nothing to normalise: an empty result, running statistics untouched (torch's rule).
        y = np.empty(shape, dt) if out is None else out
        zeros = np.zeros(c, dt)
        return (y, zeros, zeros.copy()) if return_stats else y
    y, mean, invstd = _core.batch_norm_forward(
        x, w, b, rm, rv, training, momentum, eps, relu=bool(relu), out=out, workers=workers
    )
    for core, user in ((rm, rm_user), (rv, rv_user)):
        if user is not None and core is not user:
            np.copyto(user, core.reshape(user.shape), casting="same_kind")
    return (y, mean, invstd) if return_stats else y


def batch_norm_backward(
    grad_output,
    input,
    weight,
    save_mean,
    save_invstd,
    training: bool,
    output_mask: Sequence[bool] = (True, True, True),
    *,
    relu_output=None,
    out: Optional[np.ndarray] = None,
    workers: Optional[int] = None,
) -> _Grads:
    """``(grad_input, grad_weight, grad_bias)`` of :func:`batch_norm` (``None`` where
    ``output_mask`` is False), torch's ``native_batch_norm_backward``.

    ``save_mean``/``save_invstd`` are what ``batch_norm(..., return_stats=True)`` returned
    (in evaluation: the running mean and ``1 / sqrt(running_var + eps)``). ``relu_output``
    is the output of a ``relu=True`` forward call: the gradient is zeroed where it is ``<= 0``.
    """
    x = _input(input, "input")
    g = _input(grad_output, "grad_output")
    dt = x.dtype
    _check_dtype(g, "grad_output", dt)
    if g.shape != x.shape:
        raise NormArgumentError(
            f"batch_norm_backward: grad_output has shape {g.shape}, input has shape {x.shape}"
        )
    mask = tuple(bool(m) for m in output_mask)
    if len(mask) != 3:
        raise NormArgumentError(f"output_mask must have 3 entries, got {len(mask)}")
    c = x.shape[1]
    w = _per_channel(weight, "weight", c, dt)
    mean = _per_channel(save_mean, "save_mean", c, dt)
    invstd = _per_channel(save_invstd, "save_invstd", c, dt)
    if mean is None or invstd is None:
        raise NormArgumentError("batch_norm_backward needs save_mean and save_invstd")
    y = None
    if relu_output is not None:
        y = _native(np.asarray(relu_output))
        _check_dtype(y, "relu_output", dt)
        y = np.require(y, requirements=("C", "A"))
        if y.shape != x.shape:
            raise NormArgumentError(
                f"batch_norm_backward: relu_output has shape {y.shape}, input has shape {x.shape}"
            )
    workers = check_workers(workers)
    if c == 0:
        gi = (np.zeros(x.shape, dt) if out is None else out) if mask[0] else None
        return gi, (np.zeros(0, dt) if mask[1] else None), (np.zeros(0, dt) if mask[2] else None)
    return _core.batch_norm_backward(
        g, x, mean, invstd, w, bool(training), mask, relu_output=y, out=out, workers=workers
    )

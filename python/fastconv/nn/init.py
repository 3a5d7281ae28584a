"""Parameter initialisation (torch's defaults) and the seeded random generator of fastconv.nn.

Every random draw in ``fastconv.nn`` (initialisation, dropout masks, shuffling when no
generator is passed) comes from one :class:`numpy.random.Generator`, reset by
:func:`manual_seed`, so a run is reproducible from its seed.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

__all__ = [
    "manual_seed",
    "get_rng",
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "uniform_",
    "normal_",
    "zeros_",
    "ones_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "xavier_uniform_",
]

_STATE = {"rng": np.random.default_rng()}


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the generator behind every default random draw of ``fastconv.nn``; returns it."""
    _STATE["rng"] = np.random.default_rng(seed)
    return _STATE["rng"]


def get_rng(rng: Optional[np.random.Generator] = None) -> np.random.Generator:
    """``rng`` if given, otherwise the generator seeded by :func:`manual_seed`."""
    return _STATE["rng"] if rng is None else rng


def calculate_fan_in_and_fan_out(array: np.ndarray) -> Tuple[int, int]:
    """torch's fans of a weight (out, in, *kernel): (in * prod(kernel), out * prod(kernel))."""
    if array.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a weight with at least 2 dimensions, got shape {array.shape}"
        )
    receptive = math.prod(array.shape[2:])
    return array.shape[1] * receptive, array.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """torch.nn.init.calculate_gain for 'linear', 'conv*', 'sigmoid', 'tanh', 'relu',
    'leaky_relu' (negative slope ``param``, default 0.01) and 'selu'."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def uniform_(
    array: np.ndarray, a: float = 0.0, b: float = 1.0, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """Fill ``array`` in place with U(a, b); returns it."""
    array[...] = get_rng(rng).uniform(a, b, size=array.shape)
    return array


def normal_(
    array: np.ndarray,
    mean: float = 0.0,
    std: float = 1.0,
    rng: Optional[np.random.Generator] = None,
) -> np.ndarray:
    """Fill ``array`` in place with N(mean, std^2); returns it."""
    array[...] = get_rng(rng).normal(mean, std, size=array.shape)
    return array


def zeros_(array: np.ndarray) -> np.ndarray:
    """Fill ``array`` with zeros in place; returns it."""
    array[...] = 0
    return array


def ones_(array: np.ndarray) -> np.ndarray:
    """Fill ``array`` with ones in place; returns it."""
    array[...] = 1
    return array


def _fan(array: np.ndarray, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(
    array: np.ndarray,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Optional[np.random.Generator] = None,
) -> np.ndarray:
    """He uniform init, U(-bound, bound) with bound = gain * sqrt(3 / fan). With
    ``a=sqrt(5)`` this is torch's default for Conv and Linear weights."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(array, -bound, bound, rng)


def kaiming_normal_(
    array: np.ndarray,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Optional[np.random.Generator] = None,
) -> np.ndarray:
    """He normal init, N(0, (gain / sqrt(fan))^2)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array, mode))
    return normal_(array, 0.0, std, rng)


def xavier_uniform_(
    array: np.ndarray, gain: float = 1.0, rng: Optional[np.random.Generator] = None
) -> np.ndarray:
    """Glorot uniform init, U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(array, -bound, bound, rng)


def default_layer_init_(
    weight: np.ndarray, bias: Optional[np.ndarray], rng: Optional[np.random.Generator] = None
) -> None:
    """torch's ``reset_parameters`` of Conv and Linear: kaiming_uniform_(a=sqrt(5)) weights,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases."""
    rng = get_rng(rng)
    kaiming_uniform_(weight, a=math.sqrt(5.0), rng=rng)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, rng)

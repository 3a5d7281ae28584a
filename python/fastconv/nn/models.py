"""Named models for the training command: ``cnn1d`` (MNIST-1D) and ``cnn2d`` (8x8 digits).

Both are conv -> BatchNorm -> activation (ReLU by default, or GELU) stacks with max
pooling, global average pooling and a linear classifier; ``fastconv._bench.train_bench``
builds the same layers in PyTorch. A ReLU is fused into the BatchNorm before it
(:meth:`~fastconv.nn.modules._BatchNorm.fuse_relu`; a pass-through module keeps its place).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

from fastconv.nn.modules import (
    GELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool1d,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    _BatchNorm,
)

__all__ = ["cnn1d", "cnn2d", "MODELS", "build_model"]


ACTIVATIONS = {"relu": ReLU, "gelu": GELU}


def _act(name: str) -> Module:
    """A new activation layer by name."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None


def _norm_act(bn: _BatchNorm, act: str) -> List[Module]:
    """``[bn, activation]``; a ReLU is fused into the batch normalisation (same layout and
    state dict, one pass fewer over the activations)."""
    if act == "relu":
        return [bn, bn.fuse_relu()]
    return [bn, _act(act)]


def _block1d(c_in: int, c_out: int, k: int, act: str, rng) -> List[Module]:
    conv = Conv1d(c_in, c_out, k, padding=k // 2, bias=False, rng=rng)
    return [conv, *_norm_act(BatchNorm1d(c_out), act)]


def _block2d(c_in: int, c_out: int, act: str, rng) -> List[Module]:
    conv = Conv2d(c_in, c_out, 3, padding=1, bias=False, rng=rng)
    return [conv, *_norm_act(BatchNorm2d(c_out), act)]


def cnn1d(
    width: int = 32,
    num_classes: int = 10,
    activation: str = "relu",
    *,
    rng: Optional[np.random.Generator] = None,
) -> Sequential:
    """1-D CNN for (N, 1, 40) signals: five conv-BN-activation blocks (k5, k5, pool, k3, k3, pool,
    k3; ``width``, ``width``, ``2 width``, ``2 width``, ``2 width`` channels), global average
    pooling, linear classifier. 37k parameters at width 32."""
    w, act = width, activation
    return Sequential(
        *_block1d(1, w, 5, act, rng),
        *_block1d(w, w, 5, act, rng),
        MaxPool1d(2),
        *_block1d(w, 2 * w, 3, act, rng),
        *_block1d(2 * w, 2 * w, 3, act, rng),
        MaxPool1d(2),
        *_block1d(2 * w, 2 * w, 3, act, rng),
        AdaptiveAvgPool1d(1),
        Flatten(),
        Linear(2 * w, num_classes, rng=rng),
    )


def cnn2d(
    width: int = 32,
    num_classes: int = 10,
    activation: str = "relu",
    *,
    rng: Optional[np.random.Generator] = None,
) -> Sequential:
    """2-D CNN for (N, 1, 8, 8) images: conv-BN-activation x2 (``width``), 2x2 max pooling,
    conv-BN-activation (``2 width``), global average pooling, linear classifier."""
    w, act = width, activation
    return Sequential(
        *_block2d(1, w, act, rng),
        *_block2d(w, w, act, rng),
        MaxPool2d(2),
        *_block2d(w, 2 * w, act, rng),
        AdaptiveAvgPool2d(1),
        Flatten(),
        Linear(2 * w, num_classes, rng=rng),
    )


MODELS: Dict[str, Callable[..., Sequential]] = {"cnn1d": cnn1d, "cnn2d": cnn2d}


def build_model(name: str, **kwargs) -> Sequential:
    """A named model ('cnn1d' or 'cnn2d'); keyword arguments go to its builder."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None
    return builder(**kwargs)

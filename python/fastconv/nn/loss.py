"""Losses with an explicit backward: :class:`CrossEntropyLoss` and :class:`MSELoss`.

``loss = criterion(output, target)`` returns a Python float and keeps what
``criterion.backward()`` needs; ``backward(grad=1.0)`` returns the gradient with respect to
``output`` (float32, same shape).

Argument and shape errors raise :class:`~fastconv.nn.modules.LayerArgumentError` (a
``ValueError`` and a ``RuntimeError``, as the layers'); logits/outputs must be float arrays
and targets numeric (:class:`~fastconv.nn.modules.LayerDtypeError` otherwise: nothing is
parsed from strings).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from fastconv.nn.modules import DTYPE, LayerArgumentError, LayerDtypeError, Module

__all__ = ["CrossEntropyLoss", "MSELoss", "log_softmax"]

_REDUCTIONS = ("mean", "sum")


def log_softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """log(softmax(x)) along ``axis``, computed stably (max subtracted)."""
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _check_kind(a: np.ndarray, loss: str, name: str, kinds: str, want: str) -> None:
    """``LayerDtypeError`` unless ``a``'s dtype kind is one of ``kinds``."""
    if a.dtype.kind not in kinds:
        raise LayerDtypeError(f"{loss}: {name} must be {want}, got dtype {a.dtype}")


class CrossEntropyLoss(Module):
    """torch.nn.CrossEntropyLoss for logits (N, C) and integer class targets (N,).

    ``label_smoothing`` mixes the one-hot target with the uniform distribution;
    ``reduction`` is 'mean' (default) or 'sum'.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise LayerArgumentError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise LayerArgumentError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:  # type: ignore[override]
        """Mean (or sum) over the batch of -log softmax(logits)[target]."""
        logits = np.asarray(logits)
        target = np.asarray(target)
        _check_kind(logits, "CrossEntropyLoss", "logits", "f", "a float array")
        if logits.ndim != 2:
            raise LayerArgumentError(
                f"CrossEntropyLoss expects logits of shape (N, C), got {tuple(logits.shape)}"
            )
        if target.shape != logits.shape[:1] or not np.issubdtype(target.dtype, np.integer):
            raise LayerArgumentError(
                f"CrossEntropyLoss expects integer targets of shape ({logits.shape[0]},), got "
                f"{target.dtype} of shape {tuple(target.shape)}"
            )
        n, c = logits.shape
        if n and (target.min() < 0 or target.max() >= c):
            raise LayerArgumentError(
                f"targets must be in [0, {c}), got [{target.min()}, {target.max()}]"
            )
        logp = log_softmax(logits.astype(DTYPE, copy=False), axis=1)
        rows = np.arange(n)
        nll = -logp[rows, target]
        if self.label_smoothing:
            eps = self.label_smoothing
            nll = (1 - eps) * nll - (eps / c) * logp.sum(axis=1)
        self._logp, self._target = logp, target
        total = float(nll.sum(dtype=np.float64))
        return total / n if (self.reduction == "mean" and n) else total

    def backward(self, grad: float = 1.0) -> np.ndarray:  # type: ignore[override]
        """d loss / d logits = (softmax - smoothed one-hot) * grad (/ N for 'mean')."""
        logp, target = self._logp, self._target
        n, c = logp.shape
        g = np.exp(logp)
        eps = self.label_smoothing
        if eps:
            g -= eps / c
        g[np.arange(n), target] -= 1.0 - eps
        scale = grad / n if (self.reduction == "mean" and n) else grad
        g *= DTYPE(scale)
        return g


class MSELoss(Module):
    """torch.nn.MSELoss: mean (or sum) of squared differences."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise LayerArgumentError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._diff: Optional[np.ndarray] = None

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:  # type: ignore[override]
        """sum((output - target)^2) / (size for 'mean')."""
        output, target = np.asarray(output), np.asarray(target)
        _check_kind(output, "MSELoss", "output", "f", "a float array")
        _check_kind(target, "MSELoss", "target", "fiub", "a numeric array")
        output = np.asarray(output, dtype=DTYPE)
        target = np.asarray(target, dtype=DTYPE)
        if output.shape != target.shape:
            raise LayerArgumentError(
                f"MSELoss expects output and target of the same shape, got "
                f"{tuple(output.shape)} and {tuple(target.shape)}"
            )
        self._diff = output - target
        total = float(np.dot(self._diff.ravel(), self._diff.ravel()))
        return total / self._diff.size if (self.reduction == "mean" and self._diff.size) else total

    def backward(self, grad: float = 1.0) -> np.ndarray:  # type: ignore[override]
        """2 (output - target) * grad (/ size for 'mean')."""
        d = self._diff
        scale = 2.0 * grad / d.size if (self.reduction == "mean" and d.size) else 2.0 * grad
        return d * DTYPE(scale)

"""Learning-rate schedules (torch's closed forms): :class:`StepLR`, :class:`CosineAnnealingLR`.

Call ``scheduler.step()`` after ``optimizer.step()``; the unit (epoch or batch) is whatever
you step it by. The schedule sets ``optimizer.lr``.
"""

from __future__ import annotations

import math

from fastconv.nn.optim import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]


class LRScheduler:
    """Base class: ``lr = get_lr(t)`` after ``t`` calls of :meth:`step`."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.initial_lr
        self.last_step = 0
        optimizer.lr = self.get_lr(0)

    def get_lr(self, t: int) -> float:
        """The learning rate after ``t`` steps."""
        raise NotImplementedError

    def step(self) -> float:
        """Advance one unit and set the optimiser's learning rate; returns it."""
        self.last_step += 1
        self.optimizer.lr = self.get_lr(self.last_step)
        return self.optimizer.lr


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def get_lr(self, t: int) -> float:
        """base_lr * gamma ** (t // step_size)."""
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Cosine from the base rate down to ``eta_min`` over ``T_max`` steps (then held)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        if T_max < 1:
            raise ValueError(f"T_max must be >= 1, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def get_lr(self, t: int) -> float:
        """eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2."""
        t = min(t, self.T_max)
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
        )

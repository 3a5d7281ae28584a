"""Optimisers with torch's update rules: :class:`SGD`, :class:`Adam`, :class:`AdamW`.

An optimiser gathers its parameters into one flat float32 buffer (and their gradients into
another) and rebinds every ``Parameter.data``/``.grad`` to views of them, so one step is a
handful of NumPy operations over the whole model instead of a few per parameter, and
allocates nothing. The values are unchanged by the gathering.
"""

from __future__ import annotations

from typing import Iterable, List

import numpy as np

from fastconv import _core
from fastconv.nn.modules import DTYPE, Parameter

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Base class: ``params`` (an iterable of :class:`Parameter`), learning rate ``lr``.

    ``lr`` is a plain attribute; schedules (``fastconv.nn.schedule``) set it.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params: List[Parameter] = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if any(not isinstance(p, Parameter) for p in self.params):
            raise TypeError("optimizer parameters must be fastconv.nn.Parameter objects")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter appears more than once")
        if lr < 0:
            raise ValueError(f"invalid learning rate {lr}")
        self.lr = float(lr)
        self.initial_lr = float(lr)
        self.step_count = 0
        total = sum(p.size for p in self.params)
        self.data = np.empty(total, DTYPE)
        self.grad = np.zeros(total, DTYPE)
        offset = 0
        for p in self.params:
            size, shape = p.size, p.shape
            self.data[offset : offset + size] = p.data.ravel()
            self.grad[offset : offset + size] = p.grad.ravel()
            p.data = self.data[offset : offset + size].reshape(shape)
            p.grad = self.grad[offset : offset + size].reshape(shape)
            offset += size
        self._tmp = np.empty(total, DTYPE)

    def zero_grad(self) -> None:
        """Set every gradient to zero."""
        self.grad.fill(0)

    def step(self) -> None:
        """One update from the current gradients."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The optimiser's state (step count, lr and moment buffers), arrays copied."""
        return {"step_count": self.step_count, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.step_count = int(state["step_count"])
        self.lr = float(state["lr"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, weight decay and Nesterov
    momentum, as torch.optim.SGD (the momentum buffer starts as the first gradient)."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError("momentum and weight_decay must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        self.buf = np.zeros_like(self.data) if momentum else None

    def step(self) -> None:
        """p -= lr * (momentum-filtered) (grad + weight_decay * p)."""
        g = self.grad
        if self.weight_decay:
            g = self._tmp
            np.multiply(self.data, DTYPE(self.weight_decay), out=g)
            g += self.grad
        if self.buf is not None:
            if self.step_count == 0:
                np.copyto(self.buf, g)
            else:
                self.buf *= DTYPE(self.momentum)
                self.buf += DTYPE(1.0 - self.dampening) * g if self.dampening else g
            if self.nesterov:
                if g is self.grad:
                    g = self._tmp
                    np.copyto(g, self.grad)
                g += DTYPE(self.momentum) * self.buf
            else:
                g = self.buf
        if g is self._tmp:
            g *= DTYPE(self.lr)
            self.data -= g
        else:
            np.multiply(g, DTYPE(self.lr), out=self._tmp)
            self.data -= self._tmp
        self.step_count += 1

    def state_dict(self) -> dict:
        """Step count, lr and the momentum buffer."""
        state = super().state_dict()
        if self.buf is not None:
            state["momentum_buffer"] = self.buf.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        if self.buf is not None:
            np.copyto(self.buf, state["momentum_buffer"])


class Adam(Optimizer):
    """Adam (torch.optim.Adam): weight decay added to the gradient (L2 penalty).

    ``decoupled`` (used by :class:`AdamW`) shrinks the weights directly instead.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        decoupled: bool = False,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError("eps and weight_decay must be >= 0")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.decoupled = bool(decoupled)
        self.exp_avg = np.zeros_like(self.data)
        self.exp_avg_sq = np.zeros_like(self.data)

    def step(self) -> None:
        """One Adam update (torch's formula: bias corrections folded into the step), in one
        fused pass over the flat buffers (``fastconv._core.adam_step``: per element
        ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
        ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``, each operation
        rounded to float32 once)."""
        self.step_count += 1
        b1, b2 = self.betas
        _core.adam_step(
            self.data,
            self.grad,
            self.exp_avg,
            self.exp_avg_sq,
            self.lr,
            b1,
            b2,
            self.eps,
            self.weight_decay,
            self.decoupled,
            self.step_count,
        )

    def state_dict(self) -> dict:
        """Step count, lr and both moment buffers."""
        state = super().state_dict()
        state["exp_avg"] = self.exp_avg.copy()
        state["exp_avg_sq"] = self.exp_avg_sq.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        super().load_state_dict(state)
        np.copyto(self.exp_avg, state["exp_avg"])
        np.copyto(self.exp_avg_sq, state["exp_avg_sq"])


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): decoupled weight decay, default 0.01."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, decoupled=True)

"""Layers: a torch-like :class:`Module` with an explicit ``backward``, over fastconv.nn.functional.

Each layer's ``forward(x)`` keeps what its ``backward(grad_output)`` needs; ``backward``
adds the parameter gradients into the preallocated ``Parameter.grad`` buffers and returns
the gradient with respect to the input. Everything is float32.

Inputs (as torch's layers, which raise ``RuntimeError`` for a dtype mismatch):

* layers with parameters (:class:`Linear`, :class:`Conv1d`/:class:`Conv2d`,
  :class:`BatchNorm1d`/:class:`BatchNorm2d`) take float32 inputs only: float64 (their
  parameters are float32) and any other dtype raise :class:`LayerDtypeError`;
* the others (activations, pooling, :class:`Dropout`) take float32 or float64, computing in
  float32 (a float64 input is converted); other dtypes (integers, bool, float16, complex,
  strings, objects) raise :class:`LayerDtypeError`. Nothing is parsed or cast otherwise.
* A big-endian float32 input is accepted (converted to native order, values unchanged).

Argument and shape errors raise :class:`LayerArgumentError`, a ``ValueError`` and a
``RuntimeError`` (torch raises RuntimeError for most of them and ValueError for some
constructor arguments), as ``fastconv.nn.functional``'s ``ConvArgumentError`` and its peers.

Buffer reuse: in training mode a layer writes its output (and its input gradient, where it
computes one itself) into arrays it keeps between calls, so a training step does not
allocate them again. The array a layer returned is therefore overwritten by that layer's
next call in training mode; copy it to keep it. In evaluation mode every call returns a new
array.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from fastconv import _core
from fastconv.nn import functional as F
from fastconv.nn import init
from fastconv.nn._pooling import _core_call

__all__ = [
    "LayerArgumentError",
    "LayerDtypeError",
    "Parameter",
    "Module",
    "Sequential",
    "Identity",
    "Linear",
    "Conv1d",
    "Conv2d",
    "ReLU",
    "GELU",
    "Tanh",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Dropout",
    "BatchNorm1d",
    "BatchNorm2d",
]

DTYPE = np.float32
_IntOrTuple = Union[int, Sequence[int]]


class LayerArgumentError(ValueError, RuntimeError):
    """A bad layer argument or input shape (torch raises ``RuntimeError``, or ``ValueError``
    for some constructor arguments; NumPy code expects ``ValueError``)."""


class LayerDtypeError(TypeError, RuntimeError):
    """An input dtype a layer does not take (torch raises ``RuntimeError`` for a mismatch with
    the parameters' dtype)."""


def _input_dtype(x: object, layer: Module, exact: bool) -> np.ndarray:
    """``x`` as a float32 array: float32 only when ``exact`` (a layer with float32
    parameters), else float32 or float64 (converted); ``LayerDtypeError`` for anything else."""
    x = np.asarray(x)
    dt = x.dtype
    if dt == DTYPE:
        return x
    native = dt.newbyteorder("=") if dt.kind == "f" else dt
    if native == DTYPE or (native == np.float64 and not exact):
        return x.astype(DTYPE)
    name = type(layer).__name__
    if native == np.float64:
        raise LayerDtypeError(
            f"{name}: input has dtype {dt} but the layer's parameters are float32 (torch raises "
            "for this mismatch too): convert the input with x.astype(np.float32)"
        )
    want = "float32" if exact else "float32 or float64"
    raise LayerDtypeError(
        f"{name}: input must have dtype {want}, got dtype {dt} (layers cast nothing else)"
    )


class Parameter:
    """A trainable float32 array ``data`` and its gradient buffer ``grad`` (same shape).

    Layers add into ``grad`` in ``backward``; optimisers read it and update ``data`` in place
    (an optimiser may rebind both to views of one flat buffer; layers always read the
    attributes afresh, never keep the arrays).
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data, dtype=DTYPE)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> Tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape})"


def _engine_ready(a: np.ndarray) -> bool:
    """Whether the engine can borrow ``a`` as a layer's float32 operand as it is."""
    flags = a.flags
    return a.dtype == DTYPE and flags.c_contiguous and flags.aligned


def _as_input(
    x: np.ndarray, layer: Module, ndim: Union[int, Tuple[int, ...]], exact: bool = True
) -> np.ndarray:
    """C-contiguous, aligned float32 view/copy of ``x`` (see :func:`_input_dtype`), with a
    clear error for a wrong rank."""
    x = _input_dtype(x, layer, exact)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise LayerArgumentError(
            f"{type(layer).__name__} expects a {want} input, got shape {tuple(x.shape)}"
        )
    return np.require(x, requirements=("C", "A"))


class Module:
    """Base class: parameters, sub-modules and buffers registered by attribute assignment.

    Subclasses implement ``forward(x)`` and ``backward(grad_output)``. ``module(x)`` calls
    ``forward``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_scratch", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "needs_input_grad", True)

    def __setattr__(self, name: str, value: object) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"call Module.__init__() in {type(self).__name__}.__init__ before assigning"
            )
        if name in d["_buffers"] and not isinstance(value, (Parameter, Module)):
            d["_buffers"][name] = value  # e.g. ``self.running_mean *= m`` rebinds the buffer
        elif (
            isinstance(value, (Parameter, Module))
            or name in d["_parameters"]
            or name in d["_modules"]
            or name in d["_buffers"]
        ):
            for registry in (d["_parameters"], d["_modules"], d["_buffers"]):
                registry.pop(name, None)
            if isinstance(value, Parameter):
                d["_parameters"][name] = value
            elif isinstance(value, Module):
                d["_modules"][name] = value
        d[name] = value

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Register a non-trainable array (e.g. running statistics) saved in the state dict."""
        object.__setattr__(self, name, array)
        self._buffers[name] = array

    # -- computation ---------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output, keeping what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> Optional[np.ndarray]:
        """Add parameter gradients into ``.grad``; return the gradient w.r.t. the input."""
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _buffer(self, key: str, shape: Tuple[int, ...], dtype=DTYPE) -> np.ndarray:
        """An uninitialised array of ``shape``: kept and reused in training mode."""
        if not self.training:
            return np.empty(shape, dtype)
        buf = self._scratch.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype)
            self._scratch[key] = buf
        return buf

    def set_needs_input_grad(self, flag: bool) -> None:
        """Whether ``backward`` must compute the input gradient (False for a first layer)."""
        object.__setattr__(self, "needs_input_grad", bool(flag))

    # -- traversal -----------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[Tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Parameter]]:
        """Every parameter with its dotted name (``0.weight``, ``3.bias``, ...)."""
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> Iterator[Parameter]:
        """Every trainable :class:`Parameter`."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, np.ndarray]]:
        """Every registered buffer with its dotted name."""
        for mod_name, m in self.named_modules(prefix):
            for name in m._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(m, name)

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.size for p in self.parameters())

    # -- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (batch statistics, dropout on, buffer reuse); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode (running statistics, dropout off); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter gradient to zero (in place)."""
        for p in self.parameters():
            p.grad.fill(0)

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by dotted name (torch's names)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data.copy()
        for name, b in self.named_buffers():
            state[name] = np.array(b, copy=True)
        return state

    def load_state_dict(self, state: Dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers in place; shapes must match.

        With ``strict`` (default) missing or unexpected keys raise ``KeyError``.
        """
        targets: Dict[str, np.ndarray] = {n: p.data for n, p in self.named_parameters()}
        targets.update(dict(self.named_buffers()))
        if strict:
            missing = sorted(set(targets) - set(state))
            unexpected = sorted(set(state) - set(targets))
            if missing or unexpected:
                raise KeyError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        for name, value in state.items():
            if name not in targets:
                continue
            value = np.asarray(value)
            if value.shape != targets[name].shape:
                raise LayerArgumentError(
                    f"shape mismatch for {name!r}: model has {targets[name].shape}, "
                    f"state dict has {value.shape}"
                )
            np.copyto(targets[name], value, casting="same_kind")

    def save(self, path) -> None:
        """Write :meth:`state_dict` to an ``.npz`` file."""
        np.savez(path, **self.state_dict())

    def load(self, path) -> Module:
        """Load an ``.npz`` file written by :meth:`save`; returns self."""
        with np.load(path) as data:
            self.load_state_dict({k: data[k] for k in data.files})
        return self

    # -- display -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """Arguments shown in ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, m in self._modules.items():
                lines.append("  (" + name + "): " + repr(m).replace("\n", "\n  "))
            lines.append(")")
            return "\n".join(lines)
        return lines[0] + ")"


class Sequential(Module):
    """Modules applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, got {type(m).__name__} at {i}")
            setattr(self, str(i), m)
        object.__setattr__(self, "_layers", list(modules))
        object.__setattr__(self, "_reversed", list(reversed(modules)))

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns self."""
        setattr(self, str(len(self._layers)), module)
        self._layers.append(module)
        self._reversed.insert(0, module)
        return self

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, i: int) -> Module:
        return self._layers[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)

    def set_needs_input_grad(self, flag: bool) -> None:
        """Propagates to the first layer (the others always need their input gradient)."""
        super().set_needs_input_grad(flag)
        if self._layers:
            self._layers[0].set_needs_input_grad(flag)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply each module in turn."""
        for m in self._layers:
            x = m.forward(x)
        return x

    def backward(self, grad_output: np.ndarray) -> Optional[np.ndarray]:
        """Backward through each module in reverse order."""
        g = grad_output
        for m in self._reversed:
            g = m.backward(g)
        return g


class Identity(Module):
    """Returns its input."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x."""
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output."""
        return grad_output


# ----------------------------------------------------------------------------------------
# Linear and convolution
# ----------------------------------------------------------------------------------------


def _positive(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise LayerArgumentError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class Linear(Module):
    """y = x @ weight.T + bias on the last axis; weight (out_features, in_features)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: Optional[np.random.Generator] = None,
    ) -> None:
        super().__init__()
        self.in_features = _positive("in_features", in_features)
        self.out_features = _positive("out_features", out_features)
        self.weight = Parameter(np.empty((out_features, in_features), DTYPE))
        self.bias = Parameter(np.empty(out_features, DTYPE)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: Optional[np.random.Generator] = None) -> None:
        """torch's default initialisation."""
        init.default_layer_init_(
            self.weight.data, None if self.bias is None else self.bias.data, rng
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x @ W.T + b."""
        x = _input_dtype(x, self, exact=True)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise LayerArgumentError(
                f"Linear expects an input with last dimension in_features={self.in_features}, "
                f"got shape {tuple(x.shape)}"
            )
        x2 = _as_input(x.reshape(-1, self.in_features), self, 2)
        self._x = x2
        self._shape = x.shape
        y = self._buffer("y", (x2.shape[0], self.out_features))
        np.matmul(x2, self.weight.data.T, out=y)
        if self.bias is not None:
            y += self.bias.data
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, grad_output: np.ndarray) -> Optional[np.ndarray]:
        """dW += g.T @ x, db += sum(g), returns g @ W."""
        g = np.asarray(grad_output, dtype=DTYPE).reshape(-1, self.out_features)
        self.weight.grad += g.T @ self._x
        if self.bias is not None:
            self.bias.grad += g.sum(axis=0)
        if not self.needs_input_grad:
            return None
        gi = self._buffer("gi", self._x.shape)
        np.matmul(g, self.weight.data, out=gi)
        return gi.reshape(self._shape)


def _ntuple(name: str, value: _IntOrTuple, n: int, minimum: int) -> Tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in value
    ):
        raise LayerArgumentError(
            f"{name} must be an int >= {minimum} or {n} of them, got {value!r}"
        )
    return tuple(int(v) for v in value)


class _ConvNd(Module):
    _nd = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _IntOrTuple,
        stride: _IntOrTuple = 1,
        padding: Union[str, _IntOrTuple] = 0,
        dilation: _IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rng: Optional[np.random.Generator] = None,
    ) -> None:
        super().__init__()
        nd = self._nd
        self.in_channels = _positive("in_channels", in_channels)
        self.out_channels = _positive("out_channels", out_channels)
        self.groups = _positive("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise LayerArgumentError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                f"divisible by groups ({groups})"
            )
        self.kernel_size = _ntuple("kernel_size", kernel_size, nd, 1)
        self.stride = _ntuple("stride", stride, nd, 1)
        self.dilation = _ntuple("dilation", dilation, nd, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise LayerArgumentError(
                    f"padding must be 'same', 'valid' or ints, got {padding!r}"
                )
            self.padding = padding
        else:
            self.padding = _ntuple("padding", padding, nd, 0)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise LayerArgumentError(f"unknown padding_mode {padding_mode!r}")
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, DTYPE))
        self.bias = Parameter(np.empty(out_channels, DTYPE)) if bias else None
        self.reset_parameters(rng)
        name = f"conv{nd}d"
        self._fwd = getattr(F, name)
        self._bwd = getattr(F, name + "_backward")
        # keyword arguments once, so a call does not rebuild them
        self._mode_kw = {} if padding_mode == "zeros" else {"padding_mode": padding_mode}
        # engine padding per input spatial shape (see _engine_pads)
        object.__setattr__(self, "_pads", {})

    def reset_parameters(self, rng: Optional[np.random.Generator] = None) -> None:
        """torch's default initialisation (kaiming_uniform a=sqrt(5), uniform bias)."""
        init.default_layer_init_(
            self.weight.data, None if self.bias is None else self.bias.data, rng
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}"
        )
        if any(d != 1 for d in self.dilation):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _out_shape(self, x_shape: Tuple[int, ...]) -> Tuple[int, ...]:
        spatial = []
        for i in range(self._nd):
            size, k, s, d = x_shape[2 + i], self.kernel_size[i], self.stride[i], self.dilation[i]
            if self.padding == "same":
                spatial.append(-(-size // s))
                continue
            p = 0 if self.padding == "valid" else self.padding[i]
            o = (size + 2 * p - d * (k - 1) - 1) // s + 1
            if o < 1:
                raise LayerArgumentError(
                    f"{type(self).__name__}: input spatial shape {x_shape[2:]} is too small "
                    f"for kernel_size={self.kernel_size}, dilation={self.dilation}, "
                    f"padding={self.padding}"
                )
            spatial.append(o)
        return (x_shape[0], self.out_channels) + tuple(spatial)

    def _engine_pads(self, x: np.ndarray):
        """The engine's ``((before, after), ...)`` padding for ``x`` when the layer can call
        the engine directly (zero padding, a non-empty batch, a float32 C-contiguous
        weight: the checks of ``nn.functional`` then all hold), else None. Cached per input
        spatial shape, so a training step skips the functional layer's argument checks."""
        if self.padding_mode != "zeros" or x.shape[0] == 0 or not _engine_ready(self.weight.data):
            return None
        spatial = x.shape[2:]
        pads = self._pads.get(spatial)
        if pads is None:
            name = type(self).__name__
            pads = F._conv_padding(
                self.padding, spatial, self.kernel_size, self.stride, self.dilation, name
            )
            self._pads[spatial] = pads
        return pads

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Cross-correlation of ``x`` (N, C_in, *S) with the weight, plus the bias."""
        x = _as_input(x, self, self._nd + 2)
        if x.shape[1] != self.in_channels:
            raise LayerArgumentError(
                f"{type(self).__name__} expects {self.in_channels} input channels, got input "
                f"of shape {tuple(x.shape)}"
            )
        out = self._buffer("y", self._out_shape(x.shape))
        self._x = x
        b = None if self.bias is None else self.bias.data
        pads = self._engine_pads(x)
        if pads is not None and (b is None or _engine_ready(b)):
            return _core.conv_forward(
                x, self.weight.data, b, self.stride, pads, self.dilation, self.groups, out=out
            )
        return self._fwd(
            x,
            self.weight.data,
            b,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            out=out,
            **self._mode_kw,
        )

    def backward(self, grad_output: np.ndarray) -> Optional[np.ndarray]:
        """Weight and bias gradients into ``.grad``; returns the input gradient."""
        g = grad_output
        if g.dtype != DTYPE or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g, dtype=DTYPE)
        has_bias = self.bias is not None
        x = self._x
        pads = self._engine_pads(x)
        if pads is not None and g.shape == self._out_shape(x.shape):
            w, geometry = self.weight.data, (self.stride, pads, self.dilation, self.groups)
            gi = None
            if self.needs_input_grad:
                gi = _core.conv_grad_input(g, w, x.shape[2:], *geometry)
            gw = _core.conv_grad_weight(g, x, self.kernel_size, *geometry, with_bias=has_bias)
            if has_bias:
                gw, gbias = gw
                self.bias.grad += gbias
            self.weight.grad += gw
            return gi
        gi, gw, gb = self._bwd(
            g,
            self._x,
            self.weight.data,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            padding_mode=self.padding_mode,
            output_mask=(self.needs_input_grad, True, has_bias),
        )
        self.weight.grad += gw
        if has_bias:
            self.bias.grad += gb
        return gi


class Conv1d(_ConvNd):
    """1-D convolution layer (torch.nn.Conv1d): input (N, C_in, L), weight (C_out, C_in/g, K)."""

    _nd = 1


class Conv2d(_ConvNd):
    """2-D convolution layer (torch.nn.Conv2d): input (N, C_in, H, W)."""

    _nd = 2


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """max(x, 0)."""
        x = _input_dtype(x, self, exact=False)
        y = self._buffer("y", x.shape)
        np.maximum(x, 0, out=y)
        self._y = y
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad where the output is positive, 0 elsewhere."""
        mask = self._buffer("mask", self._y.shape, np.bool_)
        np.greater(self._y, 0, out=mask)
        gi = self._buffer("gi", self._y.shape)
        np.multiply(grad_output, mask, out=gi)
        return gi


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """tanh(x)."""
        x = _input_dtype(x, self, exact=False)
        y = self._buffer("y", x.shape)
        np.tanh(x, out=y)
        self._y = y
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad * (1 - tanh(x)^2)."""
        gi = self._buffer("gi", self._y.shape)
        np.multiply(self._y, self._y, out=gi)
        np.subtract(1, gi, out=gi)
        gi *= grad_output
        return gi


class GELU(Module):
    """Exact GELU, x * Phi(x) (torch's default)."""

    def __init__(self) -> None:
        super().__init__()
        self._fwd = F.gelu
        self._bwd = F.gelu_backward

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x * Phi(x)."""
        x = _input_dtype(x, self, exact=False)
        self._x = x
        return self._fwd(x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad * (Phi(x) + x phi(x))."""
        return self._bwd(grad_output, self._x)


# ----------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------


class _MaxPoolNd(Module):
    _nd = 0

    def __init__(
        self,
        kernel_size: _IntOrTuple,
        stride: Optional[_IntOrTuple] = None,
        padding: _IntOrTuple = 0,
        dilation: _IntOrTuple = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        nd = self._nd
        self.kernel_size = _ntuple("kernel_size", kernel_size, nd, 1)
        self.stride = self.kernel_size if stride is None else _ntuple("stride", stride, nd, 1)
        self.padding = _ntuple("padding", padding, nd, 0)
        self.dilation = _ntuple("dilation", dilation, nd, 1)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise LayerArgumentError(
                f"padding {self.padding} must be at most half of kernel_size {self.kernel_size}"
            )
        self.ceil_mode = bool(ceil_mode)
        self._fwd = getattr(F, f"max_pool{nd}d")
        self._bwd = getattr(F, f"max_pool{nd}d_backward")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Window maxima; remembers where each came from."""
        x = _as_input(x, self, (self._nd + 1, self._nd + 2), exact=False)
        if x.ndim == self._nd + 1:  # unbatched (C, *S)
            return self.forward(x[None])[0]
        self._shape = x.shape
        if x.dtype == DTYPE and x.size:
            # The layer's arguments were checked once, in __init__: straight to the engine
            # (it checks the window against the input and raises ValueError).
            y, self._idx = _core_call(
                _core.max_pool_forward,
                x,
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
                self.ceil_mode,
                None,
            )
            return y
        y, self._idx = self._fwd(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=True,
        )
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Scatter the gradient to the chosen elements."""
        g = np.ascontiguousarray(grad_output, dtype=DTYPE)
        if g.ndim == self._nd + 1:
            return self._bwd(g[None], self._idx, self._shape)[0]
        if g.shape == self._idx.shape and g.flags.aligned:
            # indices from this layer's forward pass: valid by construction
            return _core_call(_core.max_pool_backward, g, self._idx, self._shape[2:], None)
        return self._bwd(g, self._idx, self._shape)


class MaxPool1d(_MaxPoolNd):
    """torch.nn.MaxPool1d (stride defaults to kernel_size)."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """torch.nn.MaxPool2d (stride defaults to kernel_size)."""

    _nd = 2


class _AvgPoolNd(Module):
    _nd = 0

    def __init__(
        self,
        kernel_size: _IntOrTuple,
        stride: Optional[_IntOrTuple] = None,
        padding: _IntOrTuple = 0,
    ) -> None:
        super().__init__()
        nd = self._nd
        self.kernel_size = _ntuple("kernel_size", kernel_size, nd, 1)
        self.stride = self.kernel_size if stride is None else _ntuple("stride", stride, nd, 1)
        self.padding = _ntuple("padding", padding, nd, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise LayerArgumentError(
                f"padding {self.padding} must be at most half of kernel_size {self.kernel_size}"
            )
        self._fwd = getattr(F, f"avg_pool{nd}d")
        self._bwd = getattr(F, f"avg_pool{nd}d_backward")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Window means (zero padding counted, torch's default)."""
        x = _as_input(x, self, self._nd + 2, exact=False)
        self._shape = x.shape
        return self._fwd(x, self.kernel_size, self.stride, self.padding)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Spread each gradient evenly over its window."""
        g = np.ascontiguousarray(grad_output, dtype=DTYPE)
        return self._bwd(g, self._shape, self.kernel_size, self.stride, self.padding)


class AvgPool1d(_AvgPoolNd):
    """torch.nn.AvgPool1d (count_include_pad=True, floor mode)."""

    _nd = 1


class AvgPool2d(_AvgPoolNd):
    """torch.nn.AvgPool2d (count_include_pad=True, floor mode)."""

    _nd = 2


class _AdaptiveAvgPoolNd(Module):
    _nd = 0

    def __init__(self, output_size: _IntOrTuple = 1) -> None:
        super().__init__()
        self.output_size = _ntuple("output_size", output_size, self._nd, 1)
        self._axes = tuple(range(2, 2 + self._nd))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Mean over equal windows covering the input (global mean for output_size 1)."""
        x = _as_input(x, self, self._nd + 2, exact=False)
        self._shape = x.shape
        spatial = x.shape[2:]
        if all(o == 1 for o in self.output_size):
            self._plan = None
            y = self._buffer("y", x.shape[:2] + (1,) * self._nd)
            rows, length = x.shape[0] * x.shape[1], math.prod(spatial)
            if x.dtype != DTYPE or rows == 0:
                return np.mean(x, axis=self._axes, keepdims=True, out=y)
            # Row sums as a matrix-vector product (a tenth of the time np.mean takes on
            # short rows), then the division, as a mean is defined.
            ones = self._scratch.get("ones")
            if ones is None or ones.shape != (length,):
                ones = self._scratch["ones"] = np.ones(length, DTYPE)
            np.matmul(x.reshape(rows, length), ones, out=y.reshape(rows))
            y /= length
            return y
        if any(s % o for s, o in zip(spatial, self.output_size)):
            raise LayerArgumentError(
                f"{type(self).__name__}: input spatial shape {spatial} must be a multiple of "
                f"output_size {self.output_size}"
            )
        k = tuple(s // o for s, o in zip(spatial, self.output_size))
        self._plan = k
        # equal windows: a reshape and a mean, no copies
        shape = x.shape[:2]
        for o, kk in zip(self.output_size, k):
            shape += (o, kk)
        axes = tuple(3 + 2 * i for i in range(self._nd))
        return x.reshape(shape).mean(axis=axes)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Spread each gradient evenly over its window."""
        g = np.asarray(grad_output, dtype=DTYPE)
        gi = self._buffer("gi", self._shape)
        if self._plan is None:
            count = math.prod(self._shape[2:])
            np.multiply(g, DTYPE(1.0 / count), out=gi)  # broadcasts over the window
            return gi
        k = self._plan
        shape = self._shape[:2]
        bshape = self._shape[:2]
        for o, kk in zip(self.output_size, k):
            shape += (o, kk)
            bshape += (o, 1)
        np.multiply(g.reshape(bshape), DTYPE(1.0 / math.prod(k)), out=gi.reshape(shape))
        return gi


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """torch.nn.AdaptiveAvgPool1d for output sizes dividing the input (1: global pooling)."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """torch.nn.AdaptiveAvgPool2d for output sizes dividing the input (1: global pooling)."""

    _nd = 2


# ----------------------------------------------------------------------------------------
# Shape, regularisation, normalisation
# ----------------------------------------------------------------------------------------


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (a view)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reshape."""
        x = np.asarray(x)
        self._shape = x.shape
        nd = x.ndim
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if s > e:
            raise LayerArgumentError(
                f"Flatten: start_dim {self.start_dim} after end_dim {self.end_dim} for a "
                f"{nd}-D input"
            )
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1 :])

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Reshape back."""
        return np.asarray(grad_output).reshape(self._shape)


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p).

    Masks come from ``rng`` if given, otherwise from :func:`fastconv.nn.init.manual_seed`'s
    generator.
    """

    def __init__(self, p: float = 0.5, *, rng: Optional[np.random.Generator] = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise LayerArgumentError(f"dropout probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = rng

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x * mask / (1 - p) in training, x in evaluation."""
        x = _input_dtype(x, self, exact=False)
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        u = self._buffer("u", x.shape)
        init.get_rng(self.rng).random(dtype=DTYPE, out=u)
        mask = self._buffer("mask", x.shape)
        np.greater_equal(u, self.p, out=mask, casting="unsafe")
        mask *= DTYPE(1.0 / (1.0 - self.p))
        self._mask = mask
        y = self._buffer("y", x.shape)
        np.multiply(x, mask, out=y)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad * mask / (1 - p)."""
        if self._mask is None:
            return grad_output
        gi = self._buffer("gi", self._mask.shape)
        np.multiply(grad_output, self._mask, out=gi)
        return gi


class _BatchNorm(Module):
    """Batch normalisation over dimension 1 (torch's ``_BatchNorm``), computed by the Rust core
    (:func:`fastconv.nn.functional.batch_norm`): batch statistics in training (the running
    ones updated with ``momentum`` and the unbiased variance), running statistics in
    evaluation unless ``track_running_stats=False``.

    :meth:`fuse_relu` makes the layer output ``max(bn(x), 0)`` itself (one pass instead of
    two, and the ReLU's gradient applied inside the backward pass); the module it returns
    takes the ReLU's place in a model and passes values and gradients through unchanged.
    """

    _ndims: Tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = _positive("num_features", num_features)
        self.eps = float(eps)
        if not self.eps >= 0.0:
            raise LayerArgumentError(f"batch_norm eps must be non-negative, but got {eps}")
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.relu = False
        if affine:
            self.weight = Parameter(np.ones(num_features, DTYPE))
            self.bias = Parameter(np.zeros(num_features, DTYPE))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, DTYPE))
            self.register_buffer("running_var", np.ones(num_features, DTYPE))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def extra_repr(self) -> str:
        fused = ", fused ReLU" if self.relu else ""
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}{fused}"

    def fuse_relu(self) -> FusedReLU:
        """Apply a ReLU after the normalisation in this layer; returns the pass-through module
        that stands where the ReLU layer was (so models keep their layout)."""
        self.relu = True
        return FusedReLU()

    def _stat(self, name: str) -> np.ndarray:
        """A running-statistics buffer as a C-contiguous float32 array (rebound if not)."""
        a = getattr(self, name)
        if not (isinstance(a, np.ndarray) and a.dtype == DTYPE and a.flags.c_contiguous):
            a = np.ascontiguousarray(a, dtype=DTYPE).reshape(self.num_features)
            setattr(self, name, a)
        return a

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise per channel (batch statistics in training, running ones in evaluation)."""
        x = _as_input(x, self, self._ndims)
        if x.shape[1] != self.num_features:
            raise LayerArgumentError(
                f"{type(self).__name__} expects {self.num_features} channels (dimension 1), "
                f"got input of shape {tuple(x.shape)}"
            )
        use_batch = self.training or not self.track_running_stats
        if use_batch and x.size // self.num_features < 2:
            raise LayerArgumentError(
                f"{type(self).__name__} needs more than one value per channel in "
                f"training, got input of shape {tuple(x.shape)}"
            )
        running = self.track_running_stats and (self.training or not use_batch)
        rm = self._stat("running_mean") if running else None
        rv = self._stat("running_var") if running else None
        w, b = (self.weight.data, self.bias.data) if self.affine else (None, None)
        y = self._buffer("y", x.shape)
        _, mean, invstd = _core.batch_norm_forward(
            x, w, b, rm, rv, use_batch, self.momentum, self.eps, relu=self.relu, out=y
        )
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
        self._saved = (x, y, mean, invstd, use_batch)
        return y

    def backward(self, grad_output: np.ndarray) -> Optional[np.ndarray]:
        """Gradient through the batch statistics (training mode) or the affine map."""
        x, y, mean, invstd, use_batch = self._saved
        g = grad_output
        if (
            not (isinstance(g, np.ndarray) and g.dtype == DTYPE and g.flags.c_contiguous)
            or g.shape != x.shape
        ):
            g = np.ascontiguousarray(g, dtype=DTYPE).reshape(x.shape)
        want_gi = self.needs_input_grad
        gi = self._buffer("gi", x.shape) if want_gi else None
        _, gw, gb = _core.batch_norm_backward(
            g,
            x,
            mean,
            invstd,
            self.weight.data if self.affine else None,
            use_batch,
            (want_gi, self.affine, self.affine),
            relu_output=y if self.relu else None,
            out=gi,
        )
        if self.affine:
            self.weight.grad += gw
            self.bias.grad += gb
        return gi


class FusedReLU(Module):
    """Stands where a ReLU was fused into the preceding batch normalisation
    (:meth:`_BatchNorm.fuse_relu`): values and gradients pass through unchanged, since that
    layer already applies ``max(y, 0)`` and its gradient mask."""

    def extra_repr(self) -> str:
        return "fused into the preceding BatchNorm"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` (already ``max(bn(x), 0)``)."""
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """``grad_output`` (the batch normalisation applies the ReLU's mask)."""
        return grad_output


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d over (N, C) or (N, C, L) inputs."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d over (N, C, H, W) inputs."""

    _ndims = (4,)

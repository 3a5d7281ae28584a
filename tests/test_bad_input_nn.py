"""The bad-input battery (issue 6) for ``fastconv.nn.functional``, the layers of
``fastconv.nn`` and ``fastconv.dask``.

Every case is one call with one awkward input or argument and an expectation:

* ``Raise(cls, match)``: fastconv raises ``cls`` (torch's class: ``(RuntimeError,
  ValueError)`` where torch raises RuntimeError, since fastconv's ``*ArgumentError`` classes
  derive from both) with a message matching ``match`` (it names the argument);
* ``Same(ref)``: fastconv computes the same values as on ``ref`` (native, aligned,
  contiguous copies of the same arrays);
* ``Ok(check)``: fastconv computes and ``check`` holds (NaN propagates, empty shapes).

``test_fastconv`` checks every case (no torch needed: CI has none). ``test_torch`` re-runs the
cases whose function has a torch peer against torch (skipped without torch): where torch
raises, fastconv raises an instance of torch's class; where torch computes, fastconv computes
the same values (NaN where torch has NaN). Cases about fastconv-only arguments (``out=``,
``workers``, ``padding_mode`` of the functional forms) and dtypes fastconv documents as refused
(it casts nothing; torch computes integer convolutions) have no torch comparison.

Huge shapes (zero-stride views, so the test allocates nothing large) run in a forked child
and must raise MemoryError or ValueError.

``python tests/test_bad_input_nn.py`` prints the number of cases per public function.
"""

from __future__ import annotations

# B023: the cases are built by factories, ``(lambda f: lambda: f(...))(f)``, which bind each
# loop variable as a parameter; ruff cannot see that the inner name is the parameter.
# ruff: noqa: B023
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import fastconv.nn as fnn
import fastconv.nn.functional as F
import numpy as np
import pytest
from battery_util import LAYOUTS, huge, readonly, run_in_child

ARG = (RuntimeError, ValueError)  # torch: RuntimeError; fastconv: *ArgumentError (both)
NDIM = r"dim|shape|expected|D\b"
DTYPE = r"dtype|float32|float64"


# --------------------------------------------------------------------------------------
# Expectations and cases
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raise:
    cls: Any
    match: str


@dataclass(frozen=True)
class Same:
    ref: Callable[[], tuple]  # () -> (args, kwargs) with native, contiguous arrays


@dataclass(frozen=True)
class Ok:
    check: Callable[[Any], None]


@dataclass(frozen=True)
class Case:
    fn: str
    cid: str
    build: Callable[[], tuple]  # () -> (args, kwargs)
    expect: Any
    torch: bool = True  # compared with the torch peer (when the function has one)

    def __repr__(self) -> str:
        return f"{self.fn}-{self.cid}"


# Known failures (reported with repros): "test:case id" -> reason. Strict xfails: a fix
# makes the test pass and the entry must go.
KNOWN_FAILURES: dict[str, str] = {}

# Cases where torch's class is an artefact of its implementation, or torch does not check
# (fastconv's class is its documented one): no torch comparison.
TORCH_DEVIATIONS = {
    "AvgPool2d-forward-ndim": "torch: IndexError from a dimension lookup",
    "unfold-ndim-2d": "torch: IndexError from a dimension lookup; fastconv: ConvArgumentError",
    "unfold-0d": "torch: IndexError from a dimension lookup",
    "avg_pool2d-ndim-2d": "torch: IndexError from a dimension lookup",
    "avg_pool2d-0d": "torch: IndexError from a dimension lookup",
    "avg_pool2d_backward-input_shape-len": "torch: IndexError from a dimension lookup",
    "batch_norm_backward-grad-shape": "torch's native_batch_norm_backward does not check",
    "batch_norm_backward-mean-shape": "torch's native_batch_norm_backward does not check",
    "batch_norm_backward-ndim-1d": "torch's native_batch_norm_backward does not check",
    "batch_norm_backward-0d": "torch's native_batch_norm_backward does not check",
    "cross_entropy-label_smoothing-neg": "torch computes with a negative smoothing",
    "unfold-kernel-3-values": "fastconv's unfold is N-d: (2, 3, 5, 5) is an unbatched 3-D input",
}


def _mark(case, test: str, ident: Optional[str] = None):
    ident = ident or repr(case)
    reason = KNOWN_FAILURES.get(f"{test}:{ident}")
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(*(case if isinstance(case, tuple) else (case,)), id=ident, marks=marks)


def _outcome(call, args, kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return "raise", exc


def _arrays(result) -> list:
    """The result as a list of numpy arrays (None kept)."""
    if isinstance(result, (tuple, list)):
        items = list(result)
    else:
        items = [result]
    out = []
    for r in items:
        if r is None:
            out.append(None)
        elif hasattr(r, "detach"):
            out.append(r.detach().numpy())
        else:
            out.append(np.asarray(r))
    return out


def assert_same(got, want, name: str, exact: bool = False) -> None:
    got, want = _arrays(got), _arrays(want)
    assert len(got) == len(want), f"{name}: {len(got)} results, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None or g is None:
            assert g is None and w is None, f"{name}[{i}]: {g!r} vs {w!r}"
            continue
        assert g.shape == w.shape, f"{name}[{i}]: shape {g.shape} != {w.shape}"
        if exact:
            assert g.dtype == w.dtype, f"{name}[{i}]: dtype {g.dtype} != {w.dtype}"
            np.testing.assert_array_equal(g, w, err_msg=name)
        elif g.dtype.kind == "f" or w.dtype.kind == "f":
            rtol = 1e-4 if np.float32 in (g.dtype, w.dtype) else 1e-9
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True, err_msg=name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


# --------------------------------------------------------------------------------------
# The functions: good inputs, the float array arguments and the torch peers
# --------------------------------------------------------------------------------------


def val(shape, dtype=np.float64, seed=0):
    """Deterministic values in [-1.5, 1.5) without ties (max pooling picks one maximum)."""
    n = int(np.prod(shape))
    v = (np.random.default_rng(seed).permutation(max(n, 1))[:n] / max(n, 1)) * 3 - 1.5
    return v.reshape(shape).astype(dtype)


def _t(v):
    """numpy -> torch (a copy: torch must not write into the test's arrays)."""
    import torch

    if isinstance(v, (np.ndarray, np.generic)):
        return torch.tensor(np.array(v))
    return v


def _tl(v, d):
    return [v] * d if isinstance(v, int) else list(v)


def _tf():
    import torch

    return torch.nn.functional


def _aten():
    import torch

    return torch.ops.aten


@dataclass
class Spec:
    """A public function: good inputs (``make``), the positions of its float array
    arguments, its torch peer (numpy arrays in, torch out) and what it accepts."""

    name: str
    make: Callable[[], tuple]
    floats: tuple = (0,)
    peer: Optional[Callable] = None
    nd: Optional[int] = None  # spatial dims (None: any ndim is fine)
    ndim_bad: tuple = ()  # shapes of argument 0 with a wrong ndim
    zero_d_ok: bool = False  # 0-d / scalar argument 0 computes
    workers: bool = False
    out: bool = False
    peer_values: bool = True  # torch's values are comparable (not dropout)
    extra: list = field(default_factory=list)  # more cases: (cid, build, expect, torch)

    @property
    def fast(self):
        return getattr(F, self.name)


SPECS: dict[str, Spec] = {}


def spec(**kw) -> Spec:
    s = Spec(**kw)
    SPECS[s.name] = s
    return s


def _args(*arrays, **kw):
    return lambda: (arrays, kw)


def _with_kw(s: Spec, **over):
    def build():
        args, kw = s.make()
        return args, {**kw, **over}

    return build


def _with_arg(s: Spec, i: int, value_fn):
    def build():
        args, kw = s.make()
        args = list(args)
        args[i] = value_fn(args[i])
        return tuple(args), kw

    return build


# --- convolutions -------------------------------------------------------------------------


def _conv_make(d):
    # groups 2: C_in 4, C_out 6
    return lambda: (
        (val((2, 4) + (5,) * d), val((6, 2) + (3,) * d, seed=1), val((6,), seed=2)),
        {"padding": 1, "groups": 2},
    )


def _conv_peer(d):
    def peer(x, w, b=None, **kw):
        kw = {k: v for k, v in kw.items() if k not in ("workers", "out")}
        return getattr(_tf(), f"conv{d}d")(_t(x), _t(w), _t(b), **kw)

    return peer


def _conv_bwd_make(d):
    return lambda: (
        (val((2, 6) + (5,) * d, seed=3), val((2, 4) + (5,) * d), val((6, 2) + (3,) * d, seed=1)),
        {"padding": 1, "groups": 2},
    )


def _conv_bwd_peer(d, transposed):
    def peer(g, x, w, stride=1, padding=0, dilation=1, groups=1, output_padding=0, **kw):
        mask = list(kw.get("output_mask", (True, True, True)))
        c_out = w.shape[1] * groups if transposed else w.shape[0]
        return _aten().convolution_backward(
            _t(g),
            _t(x),
            _t(w),
            [c_out],
            _tl(stride, d),
            _tl(padding, d),
            _tl(dilation, d),
            transposed,
            _tl(output_padding, d),
            groups,
            mask,
        )

    return peer


def _tconv_make(d):
    # groups 2: C_in 4, weight (C_in, C_out/groups, K): C_out 6; output 5 + 3 - 1 = 7
    return lambda: (
        (val((2, 4) + (5,) * d), val((4, 3) + (3,) * d, seed=1), val((6,), seed=2)),
        {"groups": 2},
    )


def _tconv_peer(d):
    def peer(x, w, b=None, **kw):
        kw = {k: v for k, v in kw.items() if k not in ("workers", "out")}
        return getattr(_tf(), f"conv_transpose{d}d")(_t(x), _t(w), _t(b), **kw)

    return peer


def _tconv_bwd_make(d):
    return lambda: (
        (val((2, 6) + (7,) * d, seed=3), val((2, 4) + (5,) * d), val((4, 3) + (3,) * d, seed=1)),
        {"groups": 2},
    )


for _d in (1, 2, 3):
    _ndim_bad = ((5,) * _d, (1, 2, 4) + (5,) * _d)
    spec(
        name=f"conv{_d}d",
        make=_conv_make(_d),
        floats=(0, 1, 2),
        peer=_conv_peer(_d),
        nd=_d,
        ndim_bad=_ndim_bad,
        workers=True,
        out=True,
    )
    spec(
        name=f"conv{_d}d_backward",
        make=_conv_bwd_make(_d),
        floats=(0, 1, 2),
        peer=_conv_bwd_peer(_d, False),
        nd=_d,
        ndim_bad=((6,) + (5,) * (_d - 1), (1, 2, 6) + (5,) * _d),
        workers=True,
    )
    spec(
        name=f"conv_transpose{_d}d",
        make=_tconv_make(_d),
        floats=(0, 1, 2),
        peer=_tconv_peer(_d),
        nd=_d,
        ndim_bad=_ndim_bad,
        workers=True,
        out=True,
    )
    spec(
        name=f"conv_transpose{_d}d_backward",
        make=_tconv_bwd_make(_d),
        floats=(0, 1, 2),
        peer=_conv_bwd_peer(_d, True),
        nd=_d,
        ndim_bad=((6,) + (7,) * (_d - 1), (1, 2, 6) + (7,) * _d),
        workers=True,
    )

spec(
    name="unfold",
    make=lambda: ((val((2, 3, 5, 5)),), {"kernel_size": 2}),
    peer=lambda x, **kw: _tf().unfold(_t(x), **{k: v for k, v in kw.items() if k != "workers"}),
    nd=2,
    ndim_bad=((5, 5), (1, 2, 3, 5, 5)),
    workers=True,
)
spec(
    name="fold",
    make=lambda: ((val((2, 12, 16)),), {"output_size": 5, "kernel_size": 2}),
    peer=lambda x, **kw: _tf().fold(_t(x), **{k: v for k, v in kw.items() if k != "workers"}),
    nd=2,
    ndim_bad=((12,), (1, 2, 12, 16)),
    workers=True,
)

# --- pooling ------------------------------------------------------------------------------


def _pool_peer(name):
    def peer(x, *args, **kw):
        kw = {k: v for k, v in kw.items() if k != "workers"}
        return getattr(_tf(), name)(_t(x), *args, **kw)

    return peer


def _grad_peer(forward, shape_arg=True):
    """torch's gradient of ``forward`` with respect to its first input, by autograd:
    ``peer(grad_output, input_or_shape, *rest, **kw)``."""

    def peer(g, x, *rest, **kw):
        import torch

        kw = {k: v for k, v in kw.items() if k != "workers"}
        g = _t(g)
        if shape_arg:
            xt = torch.zeros(tuple(x), dtype=g.dtype, requires_grad=True)
        else:
            xt = _t(x).detach().clone().requires_grad_()
        y = forward()(xt, *[_t(r) for r in rest], **kw)
        y.backward(g)
        return xt.grad

    return peer


for _d in (1, 2, 3):
    _x = (2, 3) + (6,) * _d
    _ndim_bad = ((6,) * _d, (1, 2, 3) + (6,) * _d)
    spec(
        name=f"max_pool{_d}d",
        make=(lambda x: lambda: ((val(x),), {"kernel_size": 2}))(_x),
        peer=_pool_peer(f"max_pool{_d}d"),
        nd=_d,
        ndim_bad=_ndim_bad,
        workers=True,
    )
    spec(
        name=f"avg_pool{_d}d",
        make=(lambda x: lambda: ((val(x),), {"kernel_size": 2}))(_x),
        peer=_pool_peer(f"avg_pool{_d}d"),
        nd=_d,
        ndim_bad=_ndim_bad,
        workers=True,
    )

    def _mp_bwd(d=_d, x=_x):
        out, idx = getattr(F, f"max_pool{d}d")(val(x), 2, return_indices=True)
        return (val(out.shape, seed=4), idx, x), {}

    spec(
        name=f"max_pool{_d}d_backward",
        make=_mp_bwd,
        nd=_d,
        ndim_bad=((3,) * _d, (1, 2, 3) + (3,) * _d),
        workers=True,
    )
    spec(
        name=f"avg_pool{_d}d_backward",
        make=(lambda x: lambda: ((val((2, 3) + (3,) * len(x[2:]), seed=4), x), {"kernel_size": 2}))(
            _x
        ),
        peer=(lambda d: _grad_peer(lambda: getattr(_tf(), f"avg_pool{d}d")))(_d),
        nd=_d,
        ndim_bad=((3,) * _d, (1, 2, 3) + (3,) * _d),
        workers=True,
    )

for _d in (1, 2):
    _x = (2, 3) + (6,) * _d
    spec(
        name=f"adaptive_avg_pool{_d}d",
        make=(lambda x: lambda: ((val(x), 3), {}))(_x),
        peer=_pool_peer(f"adaptive_avg_pool{_d}d"),
        nd=_d,
        ndim_bad=((6,) * _d, (1, 2, 3) + (6,) * _d),
    )

    def _adaptive_bwd_peer(g, shape, d=_d):
        return _grad_peer(lambda: getattr(_tf(), f"adaptive_avg_pool{d}d"))(
            g, shape, tuple(np.shape(g)[-d:])
        )

    spec(
        name=f"adaptive_avg_pool{_d}d_backward",
        make=(lambda x: lambda: ((val((2, 3) + (3,) * len(x[2:]), seed=4), x), {}))(_x),
        peer=_adaptive_bwd_peer,
        nd=_d,
        ndim_bad=((3,) * _d, (1, 2, 3) + (3,) * _d),
    )

# --- element-wise, softmax, losses ------------------------------------------------------------

X = (3, 4)
spec(name="relu", make=_args(val(X)), peer=lambda x: _tf().relu(_t(x)), zero_d_ok=True)
spec(
    name="relu_backward",
    make=_args(val(X, seed=4), val(X)),
    floats=(0, 1),
    peer=lambda g, x: _aten().threshold_backward(_t(g), _t(x), 0),
    zero_d_ok=True,
)
spec(
    name="gelu",
    make=_args(val(X)),
    peer=lambda x, approximate="none": _tf().gelu(_t(x), approximate=approximate),
    zero_d_ok=True,
)
spec(
    name="gelu_backward",
    make=_args(val(X, seed=4), val(X)),
    floats=(0, 1),
    peer=lambda g, x, approximate="none": _aten().gelu_backward(
        _t(g), _t(x), approximate=approximate
    ),
    zero_d_ok=True,
)
spec(name="tanh", make=_args(val(X)), peer=lambda x: _t(x).tanh(), zero_d_ok=True)
spec(
    name="tanh_backward",
    make=_args(val(X, seed=4), np.tanh(val(X))),
    floats=(0, 1),
    peer=lambda g, y: _aten().tanh_backward(_t(g), _t(y)),
    zero_d_ok=True,
)
spec(
    name="dropout",
    make=lambda: ((val(X), 0.5, True, np.random.default_rng(7)), {}),
    peer=lambda x, p=0.5, training=True, rng=None: _tf().dropout(_t(x), p, training),
    zero_d_ok=True,
    peer_values=False,
)
spec(
    name="softmax",
    make=_args(val(X), dim=1),
    peer=lambda x, dim=None: _tf().softmax(_t(x), dim),
    zero_d_ok=True,
)
spec(
    name="log_softmax",
    make=_args(val(X), dim=1),
    peer=lambda x, dim=None: _tf().log_softmax(_t(x), dim),
    zero_d_ok=True,
)
TARGET = np.array([0, 3, 1])


def _ce_peer(x, target, weight=None, **kw):
    return _tf().cross_entropy(_t(x), _t(target), _t(weight), **kw)


spec(
    name="cross_entropy",
    make=lambda: ((val(X), TARGET.copy()), {}),
    peer=_ce_peer,
    ndim_bad=(),
)
spec(
    name="cross_entropy_backward",
    make=lambda: ((np.float64(0.7), val(X), TARGET.copy()), {}),
    floats=(1,),
    peer=_grad_peer(lambda: _ce_peer_t, shape_arg=False),
)


def _ce_peer_t(x, target, weight=None, **kw):
    return _tf().cross_entropy(x, target, weight, **kw)


spec(
    name="mse_loss",
    make=_args(val(X), val(X, seed=5)),
    floats=(0, 1),
    peer=lambda x, y, reduction="mean": _tf().mse_loss(_t(x), _t(y), reduction=reduction),
    zero_d_ok=True,
)
spec(
    name="mse_loss_backward",
    make=_args(np.float64(0.5), val(X), val(X, seed=5)),
    floats=(1, 2),
    peer=_grad_peer(lambda: _tf().mse_loss, shape_arg=False),
)

# --- batch norm -----------------------------------------------------------------------------

C = 3


def _bn_make():
    return (
        val((4, C, 5)),
        val((C,), seed=1) * 0.1,
        np.abs(val((C,), seed=2)) + 0.5,
        val((C,), seed=3),
        val((C,), seed=4),
    ), {"training": False}


def _bn_peer(x, rm, rv, w=None, b=None, training=False, momentum=0.1, eps=1e-5, **kw):
    return _tf().batch_norm(_t(x), _t(rm), _t(rv), _t(w), _t(b), training, momentum, eps)


spec(
    name="batch_norm",
    make=_bn_make,
    floats=(0, 1, 2, 3, 4),
    peer=_bn_peer,
    ndim_bad=((C,),),
    workers=True,
    out=True,
)


def _bnb_make():
    x = val((4, C, 5))
    mean = x.mean(axis=(0, 2))
    invstd = 1 / np.sqrt(x.var(axis=(0, 2)) + 1e-5)
    return (val((4, C, 5), seed=6), x, val((C,), seed=3), mean, invstd, True), {}


def _bnb_peer(g, x, w, mean, invstd, training, output_mask=(True, True, True), **kw):
    return _aten().native_batch_norm_backward(
        _t(g), _t(x), _t(w), None, None, _t(mean), _t(invstd), training, 1e-5, list(output_mask)
    )


spec(
    name="batch_norm_backward",
    make=_bnb_make,
    floats=(0, 1, 2, 3, 4),
    peer=_bnb_peer,
    ndim_bad=((C,),),
    workers=True,
    out=True,
)

FUNCTIONS = [n for n in F.__all__ if not n.endswith("Error")]
assert sorted(SPECS) == sorted(FUNCTIONS), set(FUNCTIONS) ^ set(SPECS)


# --------------------------------------------------------------------------------------
# Generic case families
# --------------------------------------------------------------------------------------

CASES: list[Case] = []


def add(fn, cid, build, expect, torch=True):
    CASES.append(Case(fn, cid, build, expect, torch))


def _nonfinite(res):
    arrays = [a for a in _arrays(res) if a is not None and a.dtype.kind == "f"]
    assert any(not np.isfinite(a).all() for a in arrays), "NaN/inf did not propagate"


def _no_check(res):
    """Computing without raising (or crashing) is the check; the values are torch's."""


def _finite(res):
    for a in _arrays(res):
        assert a is None or np.isfinite(a).all(), f"non-finite result {a}"


def _ninf_at(a, index):
    a = a.copy()
    a[index] = -np.inf
    return a


def _shape_check(want):
    def check(res):
        got = _arrays(res)[0]
        assert got.shape == tuple(want), f"shape {got.shape} != {want}"

    return check


# NumPy-vectorised functions whose second array promotes with the first (as NumPy does):
# float32 with float64 computes in float64.
PROMOTING = {"relu_backward", "gelu_backward", "tanh_backward", "mse_loss", "mse_loss_backward"}
BAD_DTYPES = ["object", "U3", "datetime64[s]", "int32", "int64", "bool", "float16", "complex128"]

for s in SPECS.values():
    # dtypes: each float argument in turn (TypeError; torch: documented deviation)
    for i in s.floats:
        for dt in BAD_DTYPES:
            target = s.name.startswith("mse_loss") and i == s.floats[-1]
            if target and dt in ("int32", "int64", "bool", "float16"):
                expect = Ok(_no_check)  # a numeric target is promoted, as torch
            else:
                expect = Raise(TypeError, "target|numeric" if target else DTYPE)
            add(
                s.name,
                f"dtype-{dt}-arg{i}",
                _with_arg(s, i, lambda a, dt=dt: np.asarray(a).astype(dt)),
                expect,
                torch=False,
            )
    # mixed float32/float64
    if len(s.floats) > 1:
        i = s.floats[-1]
        add(
            s.name,
            f"mixed-f32-arg{i}",
            _with_arg(s, i, lambda a: np.asarray(a, np.float32)),
            Ok(_no_check) if s.name in PROMOTING else Raise(TypeError, DTYPE),
            torch=False,
        )
    # float32 everywhere computes (as float64, within float32 rounding)
    # layouts: same values as the native contiguous copies
    for i in s.floats:
        for lay, f in LAYOUTS.items():
            add(s.name, f"{lay}-arg{i}", _with_arg(s, i, f), Same(s.make), torch=False)
    # NaN / inf in argument 0's first float
    i0 = s.floats[0]

    def _put(v, pos=1):
        def f(a):
            a = np.array(a, dtype=np.float64)
            a.flat[pos % max(a.size, 1)] = v
            return a

        return f

    if s.name not in ("relu_backward", "dropout"):
        for name, v in (("nan", np.nan), ("inf", np.inf), ("ninf", -np.inf)):
            check = _nonfinite if name == "nan" else _no_check
            add(s.name, f"{name}-arg{i0}", _with_arg(s, i0, _put(v)), Ok(check))
    # wrong ndim
    for shape in s.ndim_bad:
        add(
            s.name,
            f"ndim-{len(shape)}d",
            _with_arg(s, 0, lambda a, shape=shape: val(shape)),
            Raise(ARG, NDIM),
        )
    # 0-d, Python scalar, lists
    if s.zero_d_ok:
        over = {"dim": 0} if "softmax" in s.name else {}
        add(
            s.name,
            "0d",
            _with_kw(
                Spec(s.name, _with_arg(s, 0, lambda a: np.float64(0.5) * np.ones(()))), **over
            ),
            Ok(_no_check),
        )
    elif s.nd is not None or s.name.startswith("batch_norm"):
        add(s.name, "0d", _with_arg(s, 0, lambda a: np.ones(())), Raise(ARG, NDIM))
        add(s.name, "scalar", _with_arg(s, 0, lambda a: 1.5), Raise(ARG, NDIM), torch=False)
    add(
        s.name,
        "list-arg0",
        _with_arg(s, 0, lambda a: np.asarray(a).tolist()),
        Same(s.make),
        torch=False,
    )
    if s.nd is not None or s.name.startswith("batch_norm"):
        add(
            s.name,
            "ragged-list",
            _with_arg(s, 0, lambda a: [[1.0, 2.0], [3.0]]),
            Raise(ValueError, r"inhomogeneous|sequence|shape"),
            torch=False,
        )
    # workers
    if s.workers:
        for w, cls in (("0", 0), ("-2", -2), ("-100", -100)):
            add(
                s.name, f"workers{w}", _with_kw(s, workers=cls), Raise(ValueError, "workers"), False
            )
        add(s.name, "workers-float", _with_kw(s, workers=1.5), Raise(TypeError, "workers"), False)
        add(s.name, "workers-str", _with_kw(s, workers="2"), Raise(TypeError, "workers"), False)


# --- out= -----------------------------------------------------------------------------------


def _out_cases(s: Spec):
    args, kw = s.make()
    res = _arrays(s.fast(*args, **kw))[0]
    shape, dtype = res.shape, res.dtype

    def with_out(make_out):
        def build():
            a, k = s.make()
            return a, {**k, "out": make_out(a)}

        return build

    def overlap(a):
        base = np.empty(a[0].size + int(np.prod(shape)))
        x = base[: a[0].size].reshape(a[0].shape)
        x[...] = a[0]
        a = list(a)
        a[0] = x
        return base[a[0].size - 1 : a[0].size - 1 + int(np.prod(shape))].reshape(shape), a

    def build_overlap():
        a, k = s.make()
        out, a = overlap(a)
        return tuple(a), {**k, "out": out}

    add(
        s.name,
        "out-shape",
        with_out(lambda a: np.empty((1,) + shape, dtype)),
        Raise(ARG, "out|shape"),
        False,
    )
    add(
        s.name,
        "out-dtype",
        with_out(lambda a: np.empty(shape, np.float32)),
        Raise(TypeError, "out|dtype"),
        False,
    )
    add(
        s.name,
        "out-int",
        with_out(lambda a: np.empty(shape, np.int64)),
        Raise(TypeError, "out|dtype"),
        False,
    )
    add(
        s.name,
        "out-list",
        with_out(lambda a: np.zeros(shape).tolist()),
        Raise(TypeError, "out"),
        False,
    )
    add(
        s.name,
        "out-strided",
        with_out(lambda a: np.empty(shape[:-1] + (2 * shape[-1],), dtype)[..., ::2]),
        Raise(ARG, "out|contiguous"),
        False,
    )
    add(
        s.name,
        "out-fortran",
        with_out(lambda a: np.asfortranarray(np.empty(shape, dtype))),
        Raise(ARG, "out|contiguous"),
        False,
    )
    add(
        s.name,
        "out-read-only",
        with_out(lambda a: readonly(np.empty(shape, dtype))),
        Raise(ARG, "out|read-only|writ"),
        False,
    )
    add(s.name, "out-overlaps-input", build_overlap, Raise(ARG, "out|overlap"), False)

    add(s.name, "out-good", lambda: ((), {}), Ok(lambda r: None), False)


for s in SPECS.values():
    if s.out and s.name != "batch_norm_backward":
        _out_cases(s)


# --------------------------------------------------------------------------------------
# Function-specific cases: arguments out of range, zero sizes
# --------------------------------------------------------------------------------------


def arg_cases(name, cases, torch=True):
    s = SPECS[name]
    for cid, over, expect in cases:
        add(name, cid, _with_kw(s, **over), expect, torch)


def zero_cases(name, cases):
    for cid, build, expect in cases:
        add(name, cid, build, expect)


for d in (1, 2, 3):
    for base in (f"conv{d}d", f"conv{d}d_backward"):
        arg_cases(
            base,
            [
                ("stride0", {"stride": 0}, Raise(ARG, "stride")),
                ("stride-neg", {"stride": -1}, Raise(ARG, "stride")),
                ("stride-too-many", {"stride": (1,) * (d + 1)}, Raise(ARG, "stride")),
                ("stride-float", {"stride": 1.5}, Raise(TypeError, "stride")),
                ("dilation0", {"dilation": 0}, Raise(ARG, "dilation")),
                ("dilation-neg", {"dilation": -2}, Raise(ARG, "dilation")),
                ("dilation-too-large", {"dilation": 10}, Raise(ARG, "size|kernel|dilat")),
                ("padding-neg", {"padding": -1}, Raise(ARG, "padding")),
                ("groups0", {"groups": 0}, Raise(ARG, "groups")),
                ("groups-neg", {"groups": -1}, Raise(ARG, "groups")),
                ("groups-not-dividing", {"groups": 3}, Raise(ARG, "groups|channels")),
                ("groups-too-large", {"groups": 8}, Raise(ARG, "groups|channels")),
                ("groups1-channels", {"groups": 1}, Raise(ARG, "channels|groups")),
            ],
        )
        arg_cases(
            base,
            [
                ("padding-bogus", {"padding": "bogus"}, Raise(ARG, "padding")),
                ("padding_mode-bogus", {"padding_mode": "bogus"}, Raise(ARG, "padding_mode")),
            ],
            torch=False,
        )
    for base in (f"conv{d}d",):
        arg_cases(
            base,
            [
                ("padding-upper", {"padding": "SAME"}, Raise(ARG, "padding")),
                ("padding_mode-bogus", {"padding_mode": "bogus"}, Raise(ARG, "padding_mode")),
                ("padding_mode-none", {"padding_mode": None}, Raise(ARG, "padding_mode")),
                (
                    "reflect-too-wide",
                    {"padding_mode": "reflect", "padding": 5},
                    Raise(ARG, "padding|reflect"),
                ),
                (
                    "circular-too-wide",
                    {"padding_mode": "circular", "padding": 6},
                    Raise(ARG, "padding|circular"),
                ),
            ],
            torch=False,
        )
    s = SPECS[f"conv{d}d"]
    zero_cases(
        s.name,
        [
            (
                "batch0",
                _args(val((0, 4) + (5,) * d), val((6, 2) + (3,) * d), groups=2),
                Ok(_shape_check((0, 6) + (3,) * d)),
            ),
            (
                "cout0",
                _args(val((2, 4) + (5,) * d), val((0, 4) + (3,) * d)),
                Raise(ARG, "weight|channels"),
            ),
            (
                "spatial0",
                _args(val((2, 4) + (0,) * d), val((6, 4) + (3,) * d)),
                Raise(ARG, "size|kernel"),
            ),
            (
                "kernel0",
                _args(val((2, 4) + (5,) * d), val((6, 4) + (0,) * d)),
                Raise(ARG, "kernel|weight"),
            ),
            (
                "weight-ndim",
                _args(val((2, 4) + (5,) * d), val((6, 4) + (3,) * (d + 1))),
                Raise(ARG, "weight"),
            ),
            (
                "bias-shape",
                _args(val((2, 4) + (5,) * d), val((6, 4) + (3,) * d), val((5,))),
                Raise(ARG, "bias"),
            ),
            (
                "kernel-larger",
                _args(val((2, 4) + (2,) * d), val((6, 4) + (3,) * d)),
                Raise(ARG, "size|kernel"),
            ),
            (
                "unbatched",
                _args(val((4,) + (5,) * d), val((6, 4) + (3,) * d)),
                Ok(_shape_check((6,) + (3,) * d)),
            ),
        ],
    )
    zero_cases(
        f"conv{d}d_backward",
        [
            (
                "grad-shape",
                _args(
                    val((2, 6) + (4,) * d),
                    val((2, 4) + (5,) * d),
                    val((6, 2) + (3,) * d),
                    padding=1,
                    groups=2,
                ),
                Raise(ARG, "grad_output"),
            ),
            (
                "output_mask-2",
                _args(
                    val((2, 6) + (5,) * d),
                    val((2, 4) + (5,) * d),
                    val((6, 2) + (3,) * d),
                    padding=1,
                    groups=2,
                    output_mask=(True, True),
                ),
                Raise(ARG, "output_mask"),
            ),
            (
                "batch0",
                _args(
                    val((0, 6) + (5,) * d),
                    val((0, 4) + (5,) * d),
                    val((6, 2) + (3,) * d),
                    padding=1,
                    groups=2,
                ),
                Ok(lambda r: None),
            ),
        ],
    )
    for base in (f"conv_transpose{d}d", f"conv_transpose{d}d_backward"):
        arg_cases(
            base,
            [
                ("stride0", {"stride": 0}, Raise(ARG, "stride")),
                ("stride-neg", {"stride": -1}, Raise(ARG, "stride")),
                ("dilation0", {"dilation": 0}, Raise(ARG, "dilation")),
                ("padding-neg", {"padding": -1}, Raise(ARG, "padding")),
                ("padding-too-large", {"padding": 4}, Raise(ARG, "size|padding|output")),
                (
                    "output_padding-neg",
                    {"output_padding": -1},
                    Raise(ARG, "output_padding|padding"),
                ),
                (
                    "output_padding-eq-stride",
                    {"output_padding": 1},
                    Raise(ARG, "output_padding|padding"),
                ),
                (
                    "output_padding-too-large",
                    {"stride": 2, "output_padding": 2},
                    Raise(ARG, "output_padding|padding"),
                ),
                ("groups0", {"groups": 0}, Raise(ARG, "groups")),
                ("groups-not-dividing", {"groups": 3}, Raise(ARG, "groups|channels")),
            ],
        )
        arg_cases(
            base,
            [("padding-str", {"padding": "same"}, Raise(TypeError, "padding"))],
            torch=False,
        )
    zero_cases(
        f"conv_transpose{d}d",
        [
            (
                "batch0",
                _args(val((0, 4) + (5,) * d), val((4, 3) + (3,) * d), groups=2),
                Ok(_shape_check((0, 6) + (7,) * d)),
            ),
            (
                "spatial0",
                _args(val((2, 4) + (0,) * d), val((4, 3) + (3,) * d)),
                Raise(ARG, r"input size 0|empty|zero"),
            ),
            (
                "weight-channels",
                _args(val((2, 4) + (5,) * d), val((3, 3) + (3,) * d)),
                Raise(ARG, "weight|channels"),
            ),
            (
                "bias-shape",
                _args(val((2, 4) + (5,) * d), val((4, 3) + (3,) * d), val((4,))),
                Raise(ARG, "bias"),
            ),
        ],
    )

UNFOLD_ARGS = [
    ("kernel0", {"kernel_size": 0}, Raise(ARG, "kernel")),
    ("kernel-neg", {"kernel_size": -2}, Raise(ARG, "kernel")),
    ("kernel-too-large", {"kernel_size": 9}, Raise(ARG, "kernel|size|block")),
    ("stride0", {"stride": 0}, Raise(ARG, "stride")),
    ("dilation0", {"dilation": 0}, Raise(ARG, "dilation")),
    ("padding-neg", {"padding": -1}, Raise(ARG, "padding")),
    ("kernel-3-values", {"kernel_size": (2, 2, 2)}, Raise(ARG, "kernel")),
]
# (fastconv's unfold is N-d: with 3 kernel sizes, (2, 3, 5, 5) is an unbatched 3-D input)
arg_cases(
    "unfold",
    [(c, kw, Ok(_no_check) if c == "kernel-3-values" else e) for c, kw, e in UNFOLD_ARGS],
)
arg_cases(
    "fold",
    UNFOLD_ARGS[:2]
    + UNFOLD_ARGS[3:]
    + [
        ("output_size0", {"output_size": 0}, Raise(ARG, "output_size|size|block")),
        ("output_size-mismatch", {"output_size": 6}, Raise(ARG, "block|size|output")),
        ("kernel-mismatch", {"kernel_size": 3}, Raise(ARG, "kernel|block|size")),
    ],
)
zero_cases(
    "fold",
    [
        (
            "channels-not-divisible",
            _args(val((2, 11, 16)), output_size=5, kernel_size=2),
            Raise(ARG, "kernel|size|divisible|channel"),
        )
    ],
)
zero_cases(
    "unfold", [("batch0", _args(val((0, 3, 5, 5)), kernel_size=2), Ok(_shape_check((0, 12, 16))))]
)

for d in (1, 2, 3):
    for kind in ("max", "avg"):
        name = f"{kind}_pool{d}d"
        cases = [
            ("kernel0", {"kernel_size": 0}, Raise(ARG, "kernel")),
            ("kernel-neg", {"kernel_size": -1}, Raise(ARG, "kernel")),
            ("kernel-too-large", {"kernel_size": 7}, Raise(ARG, "size|kernel|output")),
            ("stride0", {"stride": 0}, Raise(ARG, "stride")),
            ("stride-neg", {"stride": -1}, Raise(ARG, "stride")),
            ("padding-neg", {"padding": -1}, Raise(ARG, "padding")),
            ("padding-over-half", {"padding": 2}, Raise(ARG, "padding")),
            ("kernel-too-many", {"kernel_size": (2,) * (d + 1)}, Raise(ARG, "kernel")),
            ("kernel-float", {"kernel_size": 2.0}, Raise(TypeError, "kernel")),
            ("kernel-str", {"kernel_size": "2"}, Raise(TypeError, "kernel")),
        ]
        if kind == "max":
            cases += [
                ("dilation0", {"dilation": 0}, Raise(ARG, "dilation")),
                ("dilation-too-large", {"dilation": 6}, Raise(ARG, "size|dilation|output")),
            ]
        elif d > 1:
            cases += [("divisor0", {"divisor_override": 0}, Raise(ARG, "divisor"))]
        arg_cases(name, cases)
        zero_cases(
            name,
            [
                ("batch0", _args(val((0, 3) + (6,) * d), 2), Ok(_shape_check((0, 3) + (3,) * d))),
                (
                    "channels0",
                    _args(val((2, 0) + (6,) * d), 2),
                    Raise(ARG, "size|shape|zero|channel"),
                ),
                ("spatial0", _args(val((2, 3) + (0,) * d), 2), Raise(ARG, "size|shape|zero")),
            ],
        )
        bname = f"{kind}_pool{d}d_backward"
        if kind == "avg":
            arg_cases(
                bname,
                [
                    ("kernel0", {"kernel_size": 0}, Raise(ARG, "kernel")),
                    ("stride0", {"stride": 0}, Raise(ARG, "stride")),
                    ("padding-over-half", {"padding": 2}, Raise(ARG, "padding")),
                ],
            )
        x = (2, 3) + (6,) * d
        zero_cases(
            bname,
            [
                (
                    "input_shape-len",
                    (lambda s: lambda: (tuple(list(s.make()[0][:-1]) + [(2, 3)]), s.make()[1]))(
                        SPECS[bname]
                    )
                    if kind == "max"
                    else _args(val((2, 3) + (3,) * d), (2, 3), kernel_size=2),
                    Raise(ARG, "input_shape"),
                ),
                (
                    "input_shape-channels",
                    (lambda s, x: lambda: (tuple(list(s.make()[0][:-1]) + [(2, 4) + x[2:]]), {}))(
                        SPECS[bname], x
                    )
                    if kind == "max"
                    else _args(val((2, 3) + (3,) * d), (2, 4) + x[2:], kernel_size=2),
                    Raise(ARG, "input_shape|channel"),
                ),
            ],
        )
        if kind == "max":
            zero_cases(
                bname,
                [
                    (
                        "indices-float",
                        (
                            lambda s: (
                                lambda: (
                                    (s.make()[0][0], s.make()[0][1].astype(float), s.make()[0][2]),
                                    {},
                                )
                            )
                        )(SPECS[bname]),
                        Raise(TypeError, "indices"),
                    ),
                    (
                        "indices-out-of-range",
                        (
                            lambda s: (
                                lambda: (
                                    (s.make()[0][0], s.make()[0][1] + 10**6, s.make()[0][2]),
                                    {},
                                )
                            )
                        )(SPECS[bname]),
                        Raise(ARG, "ind|range|bound"),
                    ),
                    (
                        "indices-negative",
                        (
                            lambda s: (
                                lambda: (
                                    (s.make()[0][0], s.make()[0][1] * 0 - 1, s.make()[0][2]),
                                    {},
                                )
                            )
                        )(SPECS[bname]),
                        Raise(ARG, "ind|range|bound"),
                    ),
                    (
                        "indices-shape",
                        (
                            lambda s: (
                                lambda: ((s.make()[0][0], s.make()[0][1][:1], s.make()[0][2]), {})
                            )
                        )(SPECS[bname]),
                        Raise(ARG, "ind|shape"),
                    ),
                ],
            )
for d in (1, 2):
    name = f"adaptive_avg_pool{d}d"
    zero_cases(
        name,
        [
            ("output_size-neg", _args(val((2, 3) + (6,) * d), -1), Raise(ARG, "output_size")),
            (
                "output_size-too-many",
                _args(val((2, 3) + (6,) * d), (3,) * (d + 1)),
                Raise(ARG, "output_size"),
            ),
            ("output_size0", _args(val((2, 3) + (6,) * d), 0), Ok(_shape_check((2, 3) + (0,) * d))),
            (
                "output_size-larger",
                _args(val((2, 3) + (6,) * d), 8),
                Ok(_shape_check((2, 3) + (8,) * d)),
            ),
            ("batch0", _args(val((0, 3) + (6,) * d), 3), Ok(_shape_check((0, 3) + (3,) * d))),
            ("spatial0", _args(val((2, 3) + (0,) * d), 3), Raise(ARG, "size|shape|zero|input")),
        ],
    )
    zero_cases(
        f"{name}_backward",
        [
            ("input_shape-len", _args(val((2, 3) + (3,) * d), (2, 3)), Raise(ARG, "input_shape")),
            (
                "input_shape-zero",
                _args(val((2, 3) + (3,) * d), (2, 3) + (0,) * d),
                Raise(ARG, "input_shape"),
            ),
        ],
    )

for cid, p in (("p-neg", -0.1), ("p-above-1", 1.5), ("p-nan", float("nan"))):
    add(
        "dropout", cid, (lambda p: lambda: ((val(X), p), {}))(p), Raise(ValueError, "probability|p")
    )
add("dropout", "p-str", lambda: ((val(X), "x"), {}), Raise(TypeError, "float|p"))
add(
    "dropout",
    "p1-zeros",
    lambda: ((val(X), 1.0), {}),
    Ok(lambda r: np.testing.assert_array_equal(r, 0)),
)
for name in ("softmax", "log_softmax"):
    zero_cases(
        name,
        [
            ("dim-out-of-range", _args(val(X), dim=2), Raise(IndexError, "dim")),
            ("dim-neg-out-of-range", _args(val(X), dim=-3), Raise(IndexError, "dim")),
            ("dim-float", _args(val(X), dim=1.0), Raise(TypeError, "dim")),
            ("empty", _args(val((0, 4)), dim=1), Ok(_shape_check((0, 4)))),
            ("all-inf-row", _args(np.full(X, -np.inf), dim=1), Ok(_nonfinite)),
        ],
    )
for name in ("gelu", "gelu_backward"):
    s = SPECS[name]
    arg_cases(name, [("approximate-bogus", {"approximate": "bogus"}, Raise(ARG, "approximate"))])
zero_cases(
    "cross_entropy",
    [
        (
            "target-out-of-range",
            _args(val(X), np.array([0, 4, 1])),
            Raise(IndexError, "[Tt]arget|bound"),
        ),
        (
            "target-negative",
            _args(val(X), np.array([0, -2, 1])),
            Raise(IndexError, "[Tt]arget|bound"),
        ),
        (
            "target-shape",
            _args(val(X), np.array([0, 1])),
            Raise(ValueError, "target|batch|size|shape"),
        ),
        ("target-float-shape", _args(val(X), val((3, 5))), Raise(ARG, "target|shape|size")),
        ("target-str", _args(val(X), np.array(["a", "b", "c"])), Raise(TypeError, "target")),
        ("input-0d", _args(np.float64(1.0), np.array(0)), Raise(ARG, "dim|input")),
        (
            "reduction-bogus",
            _args(val(X), TARGET, reduction="bogus"),
            Raise(ValueError, "reduction"),
        ),
        ("weight-shape", _args(val(X), TARGET, val((3,))), Raise(ARG, "weight")),
        (
            "label_smoothing-neg",
            _args(val(X), TARGET, label_smoothing=-0.1),
            Raise(ARG, "label_smoothing|smoothing"),
        ),
        (
            "label_smoothing-2",
            _args(val(X), TARGET, label_smoothing=2.0),
            Raise(ARG, "label_smoothing|smoothing"),
        ),
        ("empty-batch", _args(val((0, 4)), np.zeros(0, np.int64)), Ok(_nonfinite)),
        ("ninf-non-target", _args(_ninf_at(val(X), (0, 1)), TARGET), Ok(_finite)),
        ("all-ignored", _args(val(X), np.full(3, -100)), Ok(_nonfinite)),
    ],
)
zero_cases(
    "cross_entropy_backward",
    [
        ("grad-shape", _args(val((2,)), val(X), TARGET), Raise(ARG, "grad_output")),
        (
            "target-out-of-range",
            _args(np.float64(1.0), val(X), np.array([0, 4, 1])),
            Raise(IndexError, "[Tt]arget|bound"),
        ),
        (
            "reduction-bogus",
            _args(np.float64(1.0), val(X), TARGET, reduction="bogus"),
            Raise(ValueError, "reduction"),
        ),
    ],
)
zero_cases(
    "mse_loss",
    [
        (
            "shape-mismatch",
            _args(val(X), val((3, 5))),
            Raise(RuntimeError, "size|shape|broadcast|target"),
        ),
        (
            "reduction-bogus",
            _args(val(X), val(X), reduction="bogus"),
            Raise(ValueError, "reduction"),
        ),
        ("empty-mean", _args(val((0, 4)), val((0, 4))), Ok(_nonfinite)),
        (
            "empty-sum",
            _args(val((0, 4)), val((0, 4)), reduction="sum"),
            Ok(lambda r: np.testing.assert_array_equal(r, 0)),
        ),
    ],
)
zero_cases(
    "mse_loss_backward",
    [
        (
            "shape-mismatch",
            _args(np.float64(1.0), val(X), val((3, 5))),
            Raise(RuntimeError, "size|shape|broadcast|target"),
        ),
        (
            "reduction-bogus",
            _args(np.float64(1.0), val(X), val(X), reduction="bogus"),
            Raise(ValueError, "reduction"),
        ),
    ],
)
zero_cases(
    "batch_norm",
    [
        (
            "mean-shape",
            _args(val((4, C, 5)), val((C + 1,)), np.ones(C)),
            Raise(ARG, "running_mean|mean|shape"),
        ),
        (
            "var-shape",
            _args(val((4, C, 5)), np.zeros(C), np.ones(C + 1)),
            Raise(ARG, "running_var|var|shape"),
        ),
        (
            "weight-shape",
            _args(val((4, C, 5)), np.zeros(C), np.ones(C), np.ones(2)),
            Raise(ARG, "weight|shape"),
        ),
        (
            "bias-shape",
            _args(val((4, C, 5)), np.zeros(C), np.ones(C), np.ones(C), np.ones(2)),
            Raise(ARG, "bias|shape"),
        ),
        (
            "training-one-value",
            _args(val((1, C)), np.zeros(C), np.ones(C), training=True),
            Raise(ValueError, "value|channel|training|size"),
        ),
        (
            "batch0-eval",
            _args(val((0, C, 5)), np.zeros(C), np.ones(C)),
            Ok(_shape_check((0, C, 5))),
        ),
        (
            "training-nan",
            _args(val((4, C, 5)), np.zeros(C), np.ones(C), training=True),
            Ok(lambda r: None),
        ),
        (
            "eps-neg",
            _args(val((4, C, 5)), np.zeros(C), np.zeros(C), eps=-1.0),
            Raise(ValueError, "eps"),
        ),
    ],
)
zero_cases(
    "batch_norm_backward",
    [
        (
            "grad-shape",
            lambda: ((val((4, C, 4)),) + _bnb_make()[0][1:], {}),
            Raise(ARG, "grad_output|shape"),
        ),
        (
            "mean-shape",
            lambda: (_bnb_make()[0][:3] + (np.zeros(C + 1),) + _bnb_make()[0][4:], {}),
            Raise(ARG, "mean|shape"),
        ),
        (
            "output_mask-2",
            lambda: (_bnb_make()[0], {"output_mask": (True, True)}),
            Raise(ARG, "output_mask"),
        ),
    ],
)


# --- huge shapes ---------------------------------------------------------------------------

BIG = 2**62


def _huge_cases():
    """(function, id, call): each output is far beyond any address space."""
    x1, w1 = val((1, 1, 4)), val((1, 1, 2))
    return [
        ("conv1d", "padding", lambda: F.conv1d(x1, w1, padding=BIG)),
        ("conv1d", "input-view", lambda: F.conv1d(huge((2**29, 1, 2**30)), w1)),
        ("conv1d", "cout-view", lambda: F.conv1d(val((2**20, 1, 2)), huge((2**40, 1, 1)))),
        (
            "conv2d",
            "padding",
            lambda: F.conv2d(val((1, 1, 2, 2)), val((1, 1, 1, 1)), padding=2**31),
        ),
        (
            "conv3d",
            "padding",
            lambda: F.conv3d(val((1, 1, 2, 2, 2)), val((1, 1, 1, 1, 1)), padding=2**21),
        ),
        (
            "conv1d_backward",
            "padding",
            lambda: F.conv1d_backward(val((1, 1, 5)), x1, w1, padding=BIG),
        ),
        ("conv_transpose1d", "stride", lambda: F.conv_transpose1d(x1, w1, stride=BIG)),
        (
            "conv_transpose2d",
            "stride",
            lambda: F.conv_transpose2d(val((1, 1, 2, 2)), val((1, 1, 1, 1)), stride=2**32),
        ),
        (
            "conv_transpose3d",
            "dilation",
            lambda: F.conv_transpose3d(val((1, 1, 2, 2, 2)), val((1, 1, 2, 2, 2)), dilation=2**22),
        ),
        (
            "conv_transpose1d_backward",
            "stride",
            lambda: F.conv_transpose1d_backward(val((1, 1, 5)), x1, w1, stride=BIG),
        ),
        ("unfold", "padding", lambda: F.unfold(val((1, 1, 2, 2)), 1, padding=2**31)),
        (
            "fold",
            "output_size",
            lambda: F.fold(val((1, 1, 1)), (2**40, 2**40), 1, padding=0, stride=2**40),
        ),
        ("max_pool1d", "input-view", lambda: F.max_pool1d(huge((2**29, 2, 2**30)), 1)),
        ("avg_pool2d", "input-view", lambda: F.avg_pool2d(huge((2**19, 2, 2**20, 2**20)), 1)),
        (
            "max_pool1d_backward",
            "input_shape",
            lambda: F.max_pool1d_backward(
                val((1, 1, 1)), np.zeros((1, 1, 1), np.int64), (1, 1, BIG)
            ),
        ),
        (
            "avg_pool1d_backward",
            "input_shape",
            lambda: F.avg_pool1d_backward(val((1, 1, 1)), (1, 1, BIG), 2),
        ),
        ("adaptive_avg_pool1d", "output_size", lambda: F.adaptive_avg_pool1d(val((1, 1, 4)), BIG)),
        (
            "adaptive_avg_pool2d",
            "output_size",
            lambda: F.adaptive_avg_pool2d(val((1, 1, 4, 4)), 2**40),
        ),
        (
            "adaptive_avg_pool1d_backward",
            "input_shape",
            lambda: F.adaptive_avg_pool1d_backward(val((1, 1, 1)), (1, 1, BIG)),
        ),
        ("relu", "input-view", lambda: F.relu(huge((2**29, 2**30)))),
        ("softmax", "input-view", lambda: F.softmax(huge((2**29, 2**30)), dim=1)),
        (
            "batch_norm",
            "input-view",
            lambda: F.batch_norm(huge((2**29, 2, 2**29)), np.zeros(2), np.ones(2)),
        ),
    ]


HUGE = _huge_cases()


# --------------------------------------------------------------------------------------
# Layers of fastconv.nn
# --------------------------------------------------------------------------------------


def _layer_cases():
    """(layer, id, fastconv call, torch call or None, expect)."""
    out = []

    def L(layer, cid, make_fast, make_torch, expect):
        out.append((layer, cid, make_fast, make_torch, expect))

    def nn_t():
        import torch

        return torch.nn

    def tt(x):
        return _t(np.asarray(x, np.float32))

    x1, x2 = val((2, 4, 8), np.float32), val((2, 4, 6, 6), np.float32)
    for name, x in (("Conv1d", x1), ("Conv2d", x2)):
        for cid, args, kw, exp in (
            ("in_channels0", (0, 6, 3), {}, Raise(ARG, "in_channels|channels")),
            ("out_channels-neg", (4, -1, 3), {}, Raise(ARG, "out_channels|channels")),
            ("kernel0", (4, 6, 0), {}, Raise(ARG, "kernel")),
            ("stride0", (4, 6, 3), {"stride": 0}, Raise(ARG, "stride")),
            ("padding-neg", (4, 6, 3), {"padding": -1}, Raise(ARG, "padding")),
            ("groups-not-dividing", (4, 6, 3), {"groups": 3}, Raise(ARG, "groups|channels")),
            ("groups0", (4, 6, 3), {"groups": 0}, Raise(ARG, "groups")),
            (
                "padding_mode-bogus",
                (4, 6, 3),
                {"padding_mode": "bogus"},
                Raise(ValueError, "padding_mode"),
            ),
            ("padding-bogus", (4, 6, 3), {"padding": "bogus"}, Raise(ValueError, "padding")),
        ):
            L(
                name,
                cid,
                (lambda n, a, k: lambda: getattr(fnn, n)(*a, **k))(name, args, kw),
                # (torch checks some arguments at the first forward call only)
                (lambda n, a, k, x: lambda: getattr(nn_t(), n)(*a, **k)(tt(x)))(name, args, kw, x),
                exp,
            )
        for cid, xs, exp in (
            ("forward-channels", x[:, :3], Raise(ARG, "channel|shape|expected")),
            ("forward-ndim", x[0, 0], Raise(ARG, NDIM)),
            ("forward-ndim-high", x[None], Raise(ARG, NDIM)),
            ("forward-too-small", x[..., :2], Raise(ARG, "size|kernel")),
        ):
            L(
                name,
                cid,
                (lambda n, xs: lambda: getattr(fnn, n)(4, 6, 3)(xs))(name, xs),
                (lambda n, xs: lambda: getattr(nn_t(), n)(4, 6, 3)(tt(xs)))(name, xs),
                exp,
            )
    for cid, args, xs, exp in (
        ("in_features-neg", (-1, 3), None, Raise(ARG, "features|in_features|negative|dim")),
        ("forward-features", (5, 3), val((2, 4), np.float32), Raise(ARG, "shape|features|mat")),
        (
            "forward-0d",
            (5, 3),
            np.float32(1.0) * np.ones((), np.float32),
            Raise(ARG, "shape|features|dim|mat"),
        ),
    ):
        L(
            "Linear",
            cid,
            (lambda a, xs: lambda: fnn.Linear(*a) if xs is None else fnn.Linear(*a)(xs))(args, xs),
            (lambda a, xs: lambda: nn_t().Linear(*a) if xs is None else nn_t().Linear(*a)(tt(xs)))(
                args, xs
            ),
            exp,
        )
    for name, good, bad in (
        ("BatchNorm1d", val((4, 3), np.float32), val((4, 2, 5), np.float32)),
        ("BatchNorm2d", val((4, 3, 2, 2), np.float32), val((4, 3, 5), np.float32)),
    ):
        L(
            name,
            "num_features-neg",
            (lambda n: lambda: getattr(fnn, n)(-1))(name),
            (lambda n: lambda: getattr(nn_t(), n)(-1))(name),
            Raise(ARG, "num_features|features|negative|dim"),
        )
        L(
            name,
            "forward-channels",
            (
                lambda n: (
                    lambda: getattr(fnn, n)(3)(
                        val((4, 2) + (5,) * (n[-2] == "2" and 2 or 1), np.float32)
                    )
                )
            )(name),
            (
                lambda n: (
                    lambda: getattr(nn_t(), n)(3)(
                        tt(val((4, 2) + (5,) * (n[-2] == "2" and 2 or 1)))
                    )
                )
            )(name),
            Raise(ARG, "channel|features|running|shape|size"),
        )
        L(
            name,
            "forward-ndim",
            (lambda n, b: lambda: getattr(fnn, n)(3)(b))(name, bad),
            (lambda n, b: lambda: getattr(nn_t(), n)(3)(tt(b)))(name, bad),
            Raise(ValueError, NDIM),
        )
        L(
            name,
            "training-one-value",
            (
                lambda n, g: (
                    lambda: getattr(fnn, n)(3)(
                        g[(slice(1), slice(None)) + (slice(1),) * (g.ndim - 2)]
                    )
                )
            )(name, good),
            (
                lambda n, g: (
                    lambda: getattr(nn_t(), n)(3)(
                        tt(g[(slice(1), slice(None)) + (slice(1),) * (g.ndim - 2)])
                    )
                )
            )(name, good),
            Raise(ValueError, "value|channel|training|size"),
        )
    for name, x in (("MaxPool1d", x1), ("MaxPool2d", x2), ("AvgPool1d", x1), ("AvgPool2d", x2)):
        for cid, kw, xs, exp in (
            ("kernel0", {"kernel_size": 0}, x, Raise(ARG, "kernel")),
            ("stride-neg", {"kernel_size": 2, "stride": -1}, x, Raise(ARG, "stride")),
            ("padding-over-half", {"kernel_size": 2, "padding": 2}, x, Raise(ARG, "padding")),
            (
                "forward-ndim",
                {"kernel_size": 2},
                x[0, 0, :1] if x.ndim == 3 else x[0, 0],
                Raise(ARG, NDIM),
            ),
            ("forward-too-small", {"kernel_size": 20}, x, Raise(ARG, "size|kernel|output")),
        ):
            L(
                name,
                cid,
                (lambda n, k, xs: lambda: getattr(fnn, n)(**k)(xs))(name, kw, xs),
                (lambda n, k, xs: lambda: getattr(nn_t(), n)(**k)(tt(xs)))(name, kw, xs),
                exp,
            )

    def seq(mod):
        return mod.Sequential(mod.Conv1d(4, 6, 3), mod.ReLU(), mod.Flatten(), mod.Linear(36, 2))

    for cid, xs, exp in (
        ("forward-length", val((2, 4, 9), np.float32), Raise(ARG, "shape|features|mat")),
        ("forward-channels", val((2, 5, 8), np.float32), Raise(ARG, "channel|shape|expected")),
        ("forward-ndim", val((2, 2, 4, 8), np.float32), Raise(ARG, NDIM)),
    ):
        L(
            "Sequential",
            cid,
            (lambda xs: lambda: seq(fnn)(xs))(xs),
            (lambda xs: lambda: seq(nn_t())(tt(xs)))(xs),
            exp,
        )
    L(
        "Sequential",
        "forward-int",
        lambda: seq(fnn)(np.ones((2, 4, 8), np.int32)),
        None,
        Raise(TypeError, DTYPE),
    )
    L(
        "Sequential",
        "forward-str",
        lambda: seq(fnn)(np.ones((2, 4, 8)).astype("U3")),
        None,
        Raise(TypeError, DTYPE),
    )
    return out


LAYER_CASES = _layer_cases()


# --------------------------------------------------------------------------------------
# fastconv.dask
# --------------------------------------------------------------------------------------


def _dask_cases():
    """(function, id, call returning a dask array or raising, expect)."""
    import dask.array as da
    import fastconv.dask as fd

    out = []
    a1 = np.arange(20.0) % 7 - 3
    b1 = np.array([1.0, -2.0, 0.5])
    a2 = (np.arange(48.0).reshape(6, 8) % 5) - 2
    b2 = np.ones((2, 3))
    d1 = da.from_array(a1, chunks=7)
    d2 = da.from_array(a2, chunks=(3, 4))
    xn = val((4, 4, 10))
    wn = val((6, 2, 3), seed=1)
    dx = da.from_array(xn, chunks=(2, 4, 10))

    def D(name, cid, call, expect):
        out.append((name, cid, call, expect))

    for name in ("convolve", "correlate", "fftconvolve", "oaconvolve"):
        f = getattr(fd, name)
        sig = getattr(__import__("scipy.signal").signal, name)
        D(name, "numpy-input", (lambda f: lambda: f(a1, b1))(f), Same2(lambda sig=sig: sig(a1, b1)))
        D(
            name,
            "dask-kernel",
            (lambda f: lambda: f(d1, da.from_array(b1)))(f),
            Same2(lambda sig=sig: sig(a1, b1)),
        )
        D(
            name,
            "list-input",
            (lambda f: lambda: f(a1.tolist(), b1))(f),
            Same2(lambda sig=sig: sig(a1, b1)),
        )
        D(
            name,
            "ndim-mismatch",
            (lambda f: lambda: f(d2, b1))(f),
            Raise(ValueError, r"dimension|ndim|rank|shape"),
        )
        D(name, "mode-bogus", (lambda f: lambda: f(d1, b1, "bogus"))(f), Raise(ValueError, "mode"))
        D(name, "mode-none", (lambda f: lambda: f(d1, b1, None))(f), Raise(ValueError, "mode"))
        D(
            name,
            "valid-smaller",
            (lambda f: lambda: f(da.from_array(b1), a1, "valid"))(f),
            Ok(lambda r: None),
        )
        D(
            name,
            "object",
            (lambda f: lambda: f(d1.astype(object), b1))(f),
            Raise(TypeError, "object|dtype|supported"),
        )
        D(
            name,
            "str-kernel",
            (lambda f: lambda: f(d1, b1.astype("U3")))(f),
            Raise((TypeError, ValueError), "dtype|numeric|supported"),
        )
        D(
            name,
            "empty-kernel",
            (lambda f: lambda: f(d1, np.ones(0)))(f),
            Raise(ValueError, "in2|empty")
            if "fft" not in name and "oa" not in name
            else Ok(_no_check),
        )
        D(
            name,
            "workers0",
            (lambda f: lambda: f(d1, b1, workers=0))(f),
            Raise(ValueError, "workers"),
        )
        D(
            name,
            "workers-2",
            (lambda f: lambda: f(d1, b1, workers=-2))(f),
            Raise(ValueError, "workers"),
        )
        D(
            name,
            "axes-out",
            (lambda f: lambda: f(d2, b2, axes=5))(f),
            Raise(ValueError, "axes|axis|exceed"),
        )
        D(
            name,
            "nan",
            (lambda f: lambda: f(da.from_array(np.where(a1 == 0, np.nan, a1), chunks=7), b1))(f),
            Ok(_nonfinite),
        )
        D(
            name,
            "big-endian",
            (lambda f: lambda: f(da.from_array(a1.astype(">f8"), chunks=7), b1))(f),
            Same2(lambda sig=sig: sig(a1, b1)),
        )
    for name in ("convolve", "correlate"):
        f = getattr(fd, name)
        D(
            name,
            "method-bogus",
            (lambda f: lambda: f(d1, b1, "full", "bogus"))(f),
            Raise(ValueError, "method"),
        )
    for name in ("convolve", "correlate", "convolve1d", "correlate1d"):
        f = getattr(fd.ndimage, name)
        nd = name.endswith("1d")
        w = b1 if nd else b2
        sn = getattr(__import__("scipy.ndimage").ndimage, name)
        n = f"ndimage.{name}"
        D(
            n,
            "numpy-input",
            (lambda f, w: lambda: f(a2, w))(f, w),
            Same2(lambda sn=sn, w=w: sn(a2, w)),
        )
        D(
            n,
            "weights-ndim",
            (lambda f, w: lambda: f(d2, np.ones((2, 2, 2))))(f, w),
            Raise((ValueError, RuntimeError), r"weights|dimension|shape|ndim"),
        )
        D(
            n,
            "mode-bogus",
            (lambda f, w: lambda: f(d2, w, mode="bogus"))(f, w),
            Raise((ValueError, RuntimeError), "mode|boundary"),
        )
        D(
            n,
            "output-array",
            (lambda f, w: lambda: f(d2, w, output=np.empty(a2.shape)))(f, w),
            Raise(TypeError, "output"),
        )
        D(
            n,
            "output-str-dtype",
            (lambda f, w: lambda: f(d2, w, output="U3"))(f, w),
            Raise((TypeError, RuntimeError, ValueError), "output|dtype|type"),
        )
        D(
            n,
            "object",
            (lambda f, w: lambda: f(d2.astype(object), w))(f, w),
            # (SciPy's class: RuntimeError "array type not supported")
            Raise((TypeError, RuntimeError), "object|dtype|supported|type"),
        )
        D(
            n,
            "workers0",
            (lambda f, w: lambda: f(d2, w, workers=0))(f, w),
            Raise(ValueError, "workers"),
        )
        D(
            n,
            "origin-big",
            (lambda f, w: lambda: f(d2, w, origin=10))(f, w),
            Raise(ValueError, "origin"),
        )
        D(
            n,
            "empty-weights",
            (lambda f, w: lambda: f(d2, np.ones((0,) * w.ndim)))(f, w),
            Raise((ValueError, RuntimeError), "weights|empty|size|zero|filter"),
        )
        D(
            n,
            "nan",
            (
                lambda f, w: (
                    lambda: f(
                        da.from_array(np.where(a2 == 0, np.nan, a2), chunks=(3, 4)),
                        w,
                        mode="constant",
                    )
                )
            )(f, w),
            Ok(_nonfinite),
        )
    for name, x, w in (
        ("conv1d", dx, wn),
        (
            "conv2d",
            da.from_array(val((4, 4, 6, 6)), chunks=(2, 4, 6, 6)),
            val((6, 2, 3, 3), seed=1),
        ),
    ):
        f = getattr(fd, name)
        tf = getattr(F, name)
        xn_ = x.compute()
        D(
            name,
            "numpy-input",
            (lambda f, x, w: lambda: f(x.compute(), w, groups=2))(f, x, w),
            Same2(lambda tf=tf, xn_=xn_, w=w: tf(xn_, w, groups=2)),
        )
        D(
            name,
            "ndim-unbatched",
            (lambda f, x, w: lambda: f(x[0], w, groups=2))(f, x, w),
            Raise(ValueError, NDIM),
        )
        D(
            name,
            "groups-not-dividing",
            (lambda f, x, w: lambda: f(x, w, groups=3))(f, x, w),
            Raise(ARG, "groups|channels"),
        )
        D(
            name,
            "groups0",
            (lambda f, x, w: lambda: f(x, w, groups=0))(f, x, w),
            Raise(ARG, "groups"),
        )
        D(
            name,
            "channels",
            (lambda f, x, w: lambda: f(x[:, :3], w, groups=2))(f, x, w),
            Raise(ARG, "channel|groups"),
        )
        D(
            name,
            "stride0",
            (lambda f, x, w: lambda: f(x, w, stride=0, groups=2))(f, x, w),
            Raise(ARG, "stride"),
        )
        D(
            name,
            "padding-bogus",
            (lambda f, x, w: lambda: f(x, w, padding="bogus", groups=2))(f, x, w),
            Raise(ARG, "padding"),
        )
        D(
            name,
            "padding_mode-bogus",
            (lambda f, x, w: lambda: f(x, w, groups=2, padding_mode="bogus"))(f, x, w),
            Raise(ARG, "padding_mode"),
        )
        D(
            name,
            "int-input",
            (lambda f, x, w: lambda: f(x.astype(np.int32), w, groups=2))(f, x, w),
            Raise(TypeError, DTYPE),
        )
        D(
            name,
            "weight-int",
            (lambda f, x, w: lambda: f(x, w.astype(np.int64), groups=2))(f, x, w),
            Raise(TypeError, DTYPE),
        )
        D(
            name,
            "workers0",
            (lambda f, x, w: lambda: f(x, w, groups=2, workers=0))(f, x, w),
            Raise(ValueError, "workers"),
        )
        D(
            name,
            "batch0",
            (lambda f, x, w: lambda: f(x[:0], w, groups=2))(f, x, w),
            Ok(lambda r: None),
        )
        D(
            name,
            "nan",
            (lambda f, x, w: lambda: f(x * np.nan, w, groups=2))(f, x, w),
            Ok(_nonfinite),
        )
    return out


@dataclass(frozen=True)
class Same2:
    """The computed dask array equals ``want()``."""

    want: Callable[[], Any]


DASK_CASES = _dask_cases()


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------


def _check_raise(name, exc, expect: Raise) -> None:
    assert isinstance(exc, expect.cls), (
        f"{name}: expected {expect.cls}, got {type(exc).__name__}: {exc}"
    )
    assert re.search(expect.match, str(exc)), (
        f"{name}: message {str(exc)!r} does not name the argument ({expect.match!r})"
    )


@pytest.mark.parametrize("case", [_mark(c, "fastconv") for c in CASES])
def test_fastconv(case: Case):
    args, kwargs = case.build()
    fast = SPECS[case.fn].fast
    if case.cid == "out-good":
        a, k = SPECS[case.fn].make()
        want = fast(*a, **k)
        out = np.full(_arrays(want)[0].shape, np.nan, _arrays(want)[0].dtype)
        got = fast(*a, **k, out=out)
        assert (got[0] if isinstance(got, tuple) else got) is out
        assert_same(got, want, repr(case), exact=True)
        return
    kind, value = _outcome(fast, args, kwargs)
    expect = case.expect
    if isinstance(expect, Raise):
        assert kind == "raise", f"{case!r}: expected {expect.cls}, returned {value!r}"[:600]
        _check_raise(repr(case), value, expect)
        return
    assert kind == "ok", f"{case!r}: raised {type(value).__name__}: {value}"
    if isinstance(expect, Same):
        ra, rk = expect.ref()
        assert_same(value, fast(*ra, **rk), repr(case), exact=True)
    else:
        expect.check(value)


TORCH_CASES = [
    c for c in CASES if c.torch and SPECS[c.fn].peer is not None and repr(c) not in TORCH_DEVIATIONS
]


@pytest.mark.parametrize("case", [_mark(c, "torch") for c in TORCH_CASES])
def test_torch(case: Case):
    pytest.importorskip("torch")
    s = SPECS[case.fn]
    args, kwargs = case.build()
    peer_kind, peer_value = _outcome(s.peer, args, kwargs)
    args, kwargs = case.build()
    kind, value = _outcome(s.fast, args, kwargs)
    if peer_kind == "raise":
        assert kind == "raise", (
            f"{case!r}: torch raises {type(peer_value).__name__}({peer_value}), fastconv "
            f"returned {value!r}"
        )[:800]
        assert isinstance(value, type(peer_value)), (
            f"{case!r}: torch raises {type(peer_value).__name__}({peer_value}), fastconv "
            f"raises {type(value).__name__}({value})"
        )
        return
    assert kind == "ok", (
        f"{case!r}: torch computes, fastconv raises {type(value).__name__}: {value}"
    )
    if not s.peer_values:
        return
    if case.cid.split("-")[0] in ("nan", "inf", "ninf"):
        assert_nonfinite_like(value, peer_value, repr(case))
    else:
        assert_same(value, peer_value, repr(case))


def assert_nonfinite_like(got, want, name: str) -> None:
    """NaN/inf propagate as torch's: every non-finite output of fastconv is non-finite in
    torch (the same infinity or NaN), and where both are finite the values agree. torch's
    convolution backward passes may spread a NaN further than the direct sum does (their
    GEMM-based kernels multiply it by zeros): that is not required of fastconv."""
    got, want = _arrays(got), _arrays(want)
    assert len(got) == len(want), name
    for g, w in zip(got, want):
        if g is None or w is None:
            assert g is None and w is None, name
            continue
        assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
        bad = ~np.isfinite(g)
        assert (~np.isfinite(w[bad])).all(), f"{name}: non-finite where torch is finite"
        inf = np.isinf(g)
        assert (g[inf] == w[inf]).all() or np.isnan(w[inf]).all(), f"{name}: inf mismatch"
        both = np.isfinite(g) & np.isfinite(w)
        np.testing.assert_allclose(g[both], w[both], rtol=1e-6, atol=1e-9, err_msg=name)
        assert (~np.isfinite(w)).sum() >= bad.sum(), name


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize(("fn", "cid", "call"), [_mark(h, "huge", f"{h[0]}-{h[1]}") for h in HUGE])
def test_huge_output_refused_before_allocating(fn, cid, call):
    result = run_in_child(call, timeout=5)
    assert result[0] == "raise", f"{fn}-{cid}: {result}"
    assert {"MemoryError", "ValueError"} & set(result[3]), f"{fn}-{cid}: {result}"


@pytest.mark.parametrize(
    ("layer", "cid", "fast", "peer", "expect"),
    [_mark(c, "layers", f"{c[0]}-{c[1]}") for c in LAYER_CASES],
)
def test_layers(layer, cid, fast, peer, expect):
    kind, value = _outcome(fast, (), {})
    assert kind == "raise", f"{layer}-{cid}: expected {expect.cls}, returned {value!r}"[:400]
    _check_raise(f"{layer}-{cid}", value, expect)


@pytest.mark.parametrize(
    ("layer", "cid", "fast", "peer", "expect"),
    [
        _mark(c, "layers_torch", f"{c[0]}-{c[1]}")
        for c in LAYER_CASES
        if c[3] is not None and f"{c[0]}-{c[1]}" not in TORCH_DEVIATIONS
    ],
)
def test_layers_torch(layer, cid, fast, peer, expect):
    pytest.importorskip("torch")
    peer_kind, peer_value = _outcome(peer, (), {})
    kind, value = _outcome(fast, (), {})
    assert peer_kind == "raise", f"{layer}-{cid}: torch computes {peer_value!r}"[:300]
    assert kind == "raise" and isinstance(value, type(peer_value)), (
        f"{layer}-{cid}: torch raises {type(peer_value).__name__}({peer_value}), fastconv "
        f"{kind} {type(value).__name__}({value})"
    )


@pytest.fixture
def synchronous():
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.mark.parametrize(
    ("fn", "cid", "call", "expect"),
    [pytest.param(*c, id=f"dask.{c[0]}-{c[1]}") for c in DASK_CASES],
)
def test_dask(fn, cid, call, expect, synchronous):
    """Argument errors at graph construction or at compute(): either is fine, as long as
    the class and the message are right."""

    def run():
        return np.asarray(call().compute())

    kind, value = _outcome(run, (), {})
    name = f"dask.{fn}-{cid}"
    if isinstance(expect, Raise):
        assert kind == "raise", f"{name}: expected {expect.cls}, returned {value!r}"[:400]
        _check_raise(name, value, expect)
        return
    assert kind == "ok", f"{name}: raised {type(value).__name__}: {value}"
    if isinstance(expect, Same2):
        assert_same(value, expect.want(), name)
    else:
        expect.check(value)


# --------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------


def counts() -> dict:
    from collections import Counter

    n: Counter = Counter()
    for c in CASES:
        n[f"nn.functional.{c.fn}"] += 1
    for c in TORCH_CASES:
        n[f"nn.functional.{c.fn} (vs torch)"] += 0  # the same cases, compared again
    for h in HUGE:
        n[f"nn.functional.{h[0]}"] += 1
    for c in LAYER_CASES:
        n[f"nn.{c[0]}"] += 1
    for c in DASK_CASES:
        n[f"dask.{c[0]}"] += 1
    return {k: v for k, v in n.items() if v}


if __name__ == "__main__":
    result = counts()
    print("bad-input cases per public function (tests/test_bad_input_nn.py):")
    for name, k in sorted(result.items()):
        print(f"  {name:45s} {k:5d}")
    print(f"  {'total':45s} {sum(result.values()):5d}")
    print(f"  (of the nn.functional cases, {len(TORCH_CASES)} are also compared with torch)")
    sys.exit(0)

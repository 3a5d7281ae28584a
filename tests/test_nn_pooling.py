"""Pooling (fastconv.nn.functional): differential tests against the pure-Python references and
against torch (when installed), finite-difference checks of the gradients, errors, thread-count
determinism and memory layouts; plus the NumPy element-wise functions (activations, softmax,
dropout, losses) against torch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from fastconv import _core
from fastconv import reference as R
from fastconv.nn import functional as F
from fastconv.nn.functional import PoolArgumentError
from hypothesis import given
from hypothesis import strategies as st

FLOATS = (np.float32, np.float64)
SIDES = {1: 10, 2: 6, 3: 4}


# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


@st.composite
def pool_cases(draw, kind: str):
    """A pooling call: ``dict(nd, x, k, s, p, d, ceil, stride_arg, unbatched, ...)``.

    Values are small integers (many ties: the first-maximum rule is exercised) or continuous;
    max pooling cases sometimes hold NaN and infinities."""
    nd = draw(st.sampled_from([1, 2, 3]))
    kmax = 4 if nd < 3 else 3
    k = tuple(draw(st.integers(1, kmax)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    d = tuple(draw(st.integers(1, 3)) for _ in range(nd)) if kind == "max" else (1,) * nd
    ceil = draw(st.booleans())
    sizes = []
    for ki, pi, di in zip(k, p, d):
        lo = max(1, di * (ki - 1) + 1 - 2 * pi)
        if kind == "avg" and nd == 3:
            lo = max(lo, ki)  # torch's avg_pool3d wants the unpadded input >= the kernel
        sizes.append(draw(st.integers(lo, max(lo, SIDES[nd]))))
    unbatched = draw(st.booleans())
    n = 1 if unbatched else draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    dtype = np.dtype(draw(st.sampled_from(FLOATS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (n, c, *sizes)
    if draw(st.booleans()):
        x = rng.integers(-3, 4, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    if kind == "max" and draw(st.integers(0, 4)) == 0:
        hit = rng.random(shape) < 0.2
        x[hit] = np.array([np.nan, np.inf, -np.inf], dtype=dtype)[rng.integers(0, 3, hit.sum())]
    case = dict(
        nd=nd,
        x=x,
        k=k,
        s=s,
        p=p,
        d=d,
        ceil=ceil,
        stride_arg=None if s == k and draw(st.booleans()) else s,
        unbatched=unbatched,
        count_include_pad=draw(st.booleans()),
        divisor=draw(st.one_of(st.none(), st.integers(-5, 9).filter(bool))) if nd > 1 else None,
        grad_seed=draw(st.integers(0, 2**32 - 1)),
    )
    return case


def _eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def _fn(kind, nd, backward=False):
    return getattr(F, f"{kind}_pool{nd}d" + ("_backward" if backward else ""))


def _max_call(c, x=None):
    x = c["x"] if x is None else x
    xin = x[0] if c["unbatched"] else x
    out, idx = _fn("max", c["nd"])(
        xin, c["k"], c["stride_arg"], c["p"], c["d"], c["ceil"], return_indices=True
    )
    if c["unbatched"]:
        out, idx = out[None], idx[None]
    return out, idx


def _avg_kwargs(c):
    kw = dict(ceil_mode=c["ceil"], count_include_pad=c["count_include_pad"])
    if c["nd"] > 1:
        kw["divisor_override"] = c["divisor"]
    return kw


def _avg_call(c, x=None):
    x = c["x"] if x is None else x
    xin = x[0] if c["unbatched"] else x
    out = _fn("avg", c["nd"])(xin, c["k"], c["stride_arg"], c["p"], **_avg_kwargs(c))
    return out[None] if c["unbatched"] else out


def _avg_backward(c, g):
    shape = c["x"].shape[1:] if c["unbatched"] else c["x"].shape
    gin = g[0] if c["unbatched"] else g
    out = _fn("avg", c["nd"], backward=True)(
        gin, shape, c["k"], c["stride_arg"], c["p"], c["ceil"], c["count_include_pad"],
        c["divisor"],
    )  # fmt: skip
    return out[None] if c["unbatched"] else out


def _max_backward(c, g, idx):
    shape = c["x"].shape[1:] if c["unbatched"] else c["x"].shape
    if c["unbatched"]:
        return _fn("max", c["nd"], backward=True)(g[0], idx[0], shape)[None]
    return _fn("max", c["nd"], backward=True)(g, idx, shape)


def _grad(c, shape, dtype):
    return np.random.default_rng(c["grad_seed"]).standard_normal(shape).astype(dtype)


def _assert_close_sum(got, want, scale, dtype, terms):
    """``|got - want| <= 8 eps terms scale`` elementwise (a recursive sum's error bound)."""
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = 8 * _eps(dtype) * max(terms, 1) * scale + 1e-300
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(diff <= tol), (diff.max(), tol)


# --------------------------------------------------------------------------------------------
# differential tests against the references
# --------------------------------------------------------------------------------------------


@given(pool_cases("max"))
def test_max_pool_matches_reference(c):
    out, idx = _max_call(c)
    want, want_idx = R.max_pool_nd(c["x"], c["k"], c["s"], c["p"], c["d"], c["ceil"])
    assert out.dtype == c["x"].dtype and idx.dtype == np.int64
    assert np.array_equal(out, want, equal_nan=True)
    assert np.array_equal(idx, want_idx)
    plane = math.prod(c["x"].shape[2:])
    if idx.min() < 0 or idx.max() >= plane:  # a window with no input tap (torch's index)
        return
    g = _grad(c, out.shape, out.dtype)
    got = _max_backward(c, g, idx)
    ref = R.max_pool_nd_backward(g, idx, c["x"].shape)
    _assert_close_sum(got, ref, np.abs(g).max(initial=0), g.dtype, out[0, 0].size)


@given(pool_cases("avg"))
def test_avg_pool_matches_reference(c):
    out = _avg_call(c)
    want = R.avg_pool_nd(
        c["x"], c["k"], c["s"], c["p"], c["ceil"], c["count_include_pad"], c["divisor"]
    )
    kvol = math.prod(c["k"])
    assert out.dtype == c["x"].dtype
    _assert_close_sum(out, want, np.abs(c["x"]).max(), c["x"].dtype, kvol)
    g = _grad(c, out.shape, out.dtype)
    got = _avg_backward(c, g)
    ref = R.avg_pool_nd_backward(
        g, c["x"].shape, c["k"], c["s"], c["p"], c["ceil"], c["count_include_pad"], c["divisor"]
    )
    _assert_close_sum(got, ref, np.abs(g).max(), g.dtype, out[0, 0].size)


@st.composite
def adaptive_cases(draw):
    nd = draw(st.sampled_from([1, 2]))
    sizes = tuple(draw(st.integers(1, SIDES[nd] + 3)) for _ in range(nd))
    out = tuple(draw(st.integers(1, 2 * n)) for n in sizes)
    unbatched = draw(st.booleans())
    shape = (1 if unbatched else draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes)
    dtype = draw(st.sampled_from(FLOATS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return nd, rng.standard_normal(shape).astype(dtype), out, unbatched


@given(adaptive_cases())
def test_adaptive_avg_pool_matches_reference(case):
    nd, x, out_size, unbatched = case
    fn = getattr(F, f"adaptive_avg_pool{nd}d")
    bwd = getattr(F, f"adaptive_avg_pool{nd}d_backward")
    size_arg = out_size[0] if nd == 1 else out_size
    got = fn(x[0], size_arg)[None] if unbatched else fn(x, size_arg)
    want = R.adaptive_avg_pool_nd(x, out_size)
    _assert_close_sum(got, want, np.abs(x).max(), x.dtype, x[0, 0].size)
    g = np.random.default_rng(1).standard_normal(got.shape).astype(x.dtype)
    gi = bwd(g[0], x.shape[1:])[None] if unbatched else bwd(g, x.shape)
    ref = R.adaptive_avg_pool_nd_backward(g, x.shape)
    _assert_close_sum(gi, ref, np.abs(g).max(), x.dtype, g[0, 0].size)


# --------------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------------


def _directional(f, x, v, h):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


@given(pool_cases("avg"))
def test_avg_pool_backward_finite_difference(c):
    x = c["x"].astype(np.float64)
    c = dict(c, x=x)
    g = _grad(c, _avg_call(c).shape, np.float64)
    v = np.random.default_rng(c["grad_seed"] + 1).standard_normal(x.shape)
    numeric = _directional(lambda z: float(np.sum(_avg_call(c, z) * g)), x, v, 1e-3)
    analytic = float(np.sum(_avg_backward(c, g) * v))
    assert analytic == pytest.approx(numeric, rel=1e-7, abs=1e-9)


@given(pool_cases("max"))
def test_max_pool_backward_finite_difference(c):
    # Distinct values at least 1 apart: a step of 1e-4 never changes which element wins.
    x = np.random.default_rng(c["grad_seed"]).permutation(c["x"].size).astype(np.float64)
    x = x.reshape(c["x"].shape)
    c = dict(c, x=x)
    out, idx = _max_call(c)
    if not np.all(np.isfinite(out)):
        return  # a window without input taps: -inf, no gradient
    g = _grad(c, out.shape, np.float64)
    v = np.random.default_rng(c["grad_seed"] + 1).standard_normal(x.shape)
    numeric = _directional(lambda z: float(np.sum(_max_call(c, z)[0] * g)), x, v, 1e-4)
    analytic = float(np.sum(_max_backward(c, g, idx) * v))
    assert analytic == pytest.approx(numeric, rel=1e-7, abs=1e-9)


# --------------------------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------------------------


@given(pool_cases("max"))
def test_max_pool_matches_torch(c):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    out, idx = _max_call(c)
    xt = torch.from_numpy(c["x"]).requires_grad_()
    fn = getattr(tf, f"max_pool{c['nd']}d")
    to, ti = fn(xt, c["k"], c["stride_arg"], c["p"], c["d"], c["ceil"], return_indices=True)
    assert np.array_equal(out, to.detach().numpy(), equal_nan=True)
    assert np.array_equal(idx, ti.numpy())
    plane = math.prod(c["x"].shape[2:])
    if idx.min() < 0 or idx.max() >= plane:
        return
    g = _grad(c, out.shape, out.dtype)
    to.backward(torch.from_numpy(g))
    got = _max_backward(c, g, idx)
    want = xt.grad.numpy()
    _assert_close_sum(got, want, np.abs(g).max(initial=0), g.dtype, out[0, 0].size)


@given(pool_cases("avg"))
def test_avg_pool_matches_torch(c):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    out = _avg_call(c)
    xt = torch.from_numpy(c["x"]).requires_grad_()
    fn = getattr(tf, f"avg_pool{c['nd']}d")
    kw = _avg_kwargs(c)
    to = fn(xt, c["k"], c["stride_arg"], c["p"], **kw)
    # Same loops and summation order as ATen's CPU kernel: equal to the bit.
    assert np.array_equal(out, to.detach().numpy())
    g = _grad(c, out.shape, out.dtype)
    to.backward(torch.from_numpy(g))
    _assert_close_sum(
        _avg_backward(c, g), xt.grad.numpy(), np.abs(g).max(), g.dtype, out[0, 0].size
    )


@given(adaptive_cases())
def test_adaptive_avg_pool_matches_torch(case):
    torch = pytest.importorskip("torch")
    nd, x, out_size, _ = case
    xt = torch.from_numpy(x).requires_grad_()
    to = getattr(torch.nn.functional, f"adaptive_avg_pool{nd}d")(xt, out_size)
    got = getattr(F, f"adaptive_avg_pool{nd}d")(x, out_size)
    _assert_close_sum(got, to.detach().numpy(), np.abs(x).max(), x.dtype, x[0, 0].size)
    g = np.random.default_rng(2).standard_normal(got.shape).astype(x.dtype)
    to.backward(torch.from_numpy(g))
    gi = getattr(F, f"adaptive_avg_pool{nd}d_backward")(g, x.shape)
    _assert_close_sum(gi, xt.grad.numpy(), np.abs(g).max(), x.dtype, g[0, 0].size)


def test_nan_index_and_first_maximum_like_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[np.nan, 1, np.nan, 2, 5, 5, -np.inf, -np.inf]]], dtype=np.float32)
    out, idx = F.max_pool1d(x, 4, return_indices=True)
    to, ti = torch.nn.functional.max_pool1d(torch.from_numpy(x), 4, return_indices=True)
    assert np.array_equal(out, to.numpy(), equal_nan=True)
    assert idx.tolist() == ti.tolist() == [[[2, 4]]]


@given(
    st.sampled_from(["float32", "float64"]),
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(0, 2**32 - 1),
)
def test_max_pool_2x2_stride_2_takes_the_first_maximum_and_nans(dtype, n, h, w, seed):
    """The 2x2, stride-2 plane kernel (the common layer) against the reference: ties, -0 and
    +0, -inf and NaN in every position of the window, odd sizes (a last row and column that
    no window reads)."""
    rng = np.random.default_rng(seed)
    values = np.array([0.0, -0.0, 1.0, 1.0, -1.0, -np.inf, np.inf, np.nan], dtype=dtype)
    x = values[rng.integers(0, len(values), (n, 2, max(h, 2), max(w, 2)))]
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    want, want_idx = R.max_pool_nd(x, (2, 2), (2, 2), (0, 0), (1, 1))
    assert np.array_equal(out, want, equal_nan=True)
    assert np.array_equal(np.signbit(out), np.signbit(want))
    assert np.array_equal(idx, want_idx)


@given(
    st.sampled_from(["float32", "float64"]),
    st.integers(1, 3),
    st.sampled_from([(32, 2), (16, 4), (8, 8), (16, 8), (4, 16), (2, 32), (6, 32), (4, 24)]),
    st.booleans(),
    st.sampled_from([0.0, 0.01, 0.2]),
    st.integers(0, 2**32 - 1),
)
def test_max_pool_2x2_sixteen_window_blocks(dtype, n, hw, odd_row, nan_rate, seed):
    """Plane shapes whose outputs fill blocks of sixteen windows (rows 1, 2, 4, 8 or 16
    windows wide: the vector kernel's case, and 24 wide, which is not), with an unread last
    row or not, ties, signed zeros, infinities and NaN in some blocks and not in others."""
    rng = np.random.default_rng(seed)
    h, w = hw[0] + odd_row, hw[1]
    values = np.array([0.0, -0.0, 1.0, 1.0, -1.0, -np.inf, np.inf, 2.5], dtype=dtype)
    x = values[rng.integers(0, len(values), (n, 3, h, w))]
    x[rng.random(x.shape) < nan_rate] = np.nan
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    want, want_idx = R.max_pool_nd(x, (2, 2), (2, 2), (0, 0), (1, 1))
    assert np.array_equal(out, want, equal_nan=True)
    assert np.array_equal(np.signbit(out), np.signbit(want))
    assert np.array_equal(idx, want_idx)


# --------------------------------------------------------------------------------------------
# element-wise functions and losses against torch
# --------------------------------------------------------------------------------------------


@st.composite
def float_arrays(draw, max_dims=4):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=max_dims)))
    dtype = draw(st.sampled_from(FLOATS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 4.0, 30.0]))
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _rtol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-12


@given(float_arrays(), st.sampled_from(["relu", "tanh", "gelu_none", "gelu_tanh"]))
def test_activations_match_torch(x, name):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    xt = torch.from_numpy(x).requires_grad_()
    g = np.random.default_rng(3).standard_normal(x.shape).astype(x.dtype)
    if name == "relu":
        got, to = F.relu(x), tf.relu(xt)
        gi = F.relu_backward(g, x)
    elif name == "tanh":
        got, to = F.tanh(x), torch.tanh(xt)
        gi = F.tanh_backward(g, got)
    else:
        approx = name.split("_")[1]
        got, to = F.gelu(x, approximate=approx), tf.gelu(xt, approximate=approx)
        gi = F.gelu_backward(g, x, approximate=approx)
    to.backward(torch.from_numpy(g))
    tol = _rtol(x.dtype)
    assert got.dtype == x.dtype and gi.dtype == x.dtype
    np.testing.assert_allclose(got, to.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=tol, atol=tol * np.abs(g).max())


@given(float_arrays(), st.data())
def test_softmax_matches_torch(x, data):
    torch = pytest.importorskip("torch")
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    xt = torch.from_numpy(x)
    tol = _rtol(x.dtype)
    np.testing.assert_allclose(F.softmax(x, dim), torch.softmax(xt, dim).numpy(), rtol=tol,
                               atol=tol)  # fmt: skip
    np.testing.assert_allclose(
        F.log_softmax(x, dim), torch.log_softmax(xt, dim).numpy(), rtol=tol, atol=tol * 10
    )


@st.composite
def ce_cases(draw):
    ncls = draw(st.integers(1, 6))
    lead = draw(st.sampled_from([(), (3,), (2, 3), (2, 2, 3)]))
    shape = (ncls,) if lead == () else (lead[0], ncls, *lead[1:])
    dtype = draw(st.sampled_from(FLOATS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    tshape = lead[:1] + lead[1:]
    if draw(st.booleans()):
        target = rng.integers(0, ncls, tshape)
        if draw(st.booleans()) and target.size > 1:
            target.flat[0] = -100  # ignored
    else:
        target = rng.random(shape).astype(dtype)
        target /= target.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    weight = rng.random(ncls).astype(dtype) + 0.5 if draw(st.booleans()) else None
    return dict(
        x=x,
        target=target,
        weight=weight,
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.5])),
    )


@given(ce_cases())
def test_cross_entropy_matches_torch(c):
    torch = pytest.importorskip("torch")
    x = c["x"]
    kw = dict(reduction=c["reduction"], label_smoothing=c["label_smoothing"])
    xt = torch.from_numpy(x).requires_grad_()
    wt = None if c["weight"] is None else torch.from_numpy(c["weight"])
    to = torch.nn.functional.cross_entropy(xt, torch.from_numpy(c["target"]), wt, **kw)
    got = F.cross_entropy(x, c["target"], c["weight"], **kw)
    tol = 1e-4 if x.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, to.detach().numpy(), rtol=tol, atol=tol)
    assert np.asarray(got).dtype == x.dtype
    g = np.random.default_rng(4).standard_normal(np.shape(got)).astype(x.dtype)
    to.backward(torch.from_numpy(np.asarray(g)))
    gi = F.cross_entropy_backward(g, x, c["target"], c["weight"], **kw)
    assert gi.shape == x.shape and gi.dtype == x.dtype
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=tol, atol=tol)


@given(float_arrays(), st.sampled_from(["mean", "sum", "none"]), st.booleans())
def test_mse_loss_matches_torch(x, reduction, broadcast):
    torch = pytest.importorskip("torch")
    y = np.random.default_rng(5).standard_normal(x.shape[-1:] if broadcast else x.shape)
    y = y.astype(x.dtype)
    xt = torch.from_numpy(x).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when the shapes broadcast
        to = torch.nn.functional.mse_loss(xt, torch.from_numpy(y), reduction=reduction)
    got = F.mse_loss(x, y, reduction)
    tol = _rtol(x.dtype) * 10
    np.testing.assert_allclose(got, to.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(6).standard_normal(np.shape(got)).astype(x.dtype)
    to.backward(torch.from_numpy(np.asarray(g)))
    gi = F.mse_loss_backward(g, x, y, reduction)
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=tol, atol=tol)


def test_dropout():
    x = np.ones((200, 200), dtype=np.float32)
    out, mask = F.dropout(x, 0.25, True, np.random.default_rng(0), return_mask=True)
    assert out.dtype == np.float32
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    assert np.allclose(out[kept], 1 / 0.75)
    assert np.array_equal(out, x * mask)
    a = F.dropout(x, 0.5, True, 7)
    assert np.array_equal(a, F.dropout(x, 0.5, True, 7))  # a seed reproduces the mask
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).any()
    with pytest.raises(ValueError):
        F.dropout(x, 1.5)


def test_relu_keeps_nan_and_passes_its_gradient_like_torch():
    x = np.array([np.nan, -1.0, 0.0, 2.0])
    assert np.isnan(F.relu(x)[0])
    assert F.relu_backward(np.ones(4), x).tolist() == [1.0, 0.0, 0.0, 1.0]


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda x: F.max_pool2d(x, 3, padding=2), "padding"),
        (lambda x: F.max_pool2d(x, 0), "kernel_size"),
        (lambda x: F.max_pool2d(x, 2, stride=0), "stride"),
        (lambda x: F.max_pool2d(x, 2, dilation=0), "dilation"),
        (lambda x: F.max_pool2d(x, 2, padding=-1), "padding"),
        (lambda x: F.max_pool2d(x, (2, 2, 2)), "kernel_size"),
        (lambda x: F.max_pool2d(x, 9), "output size"),
        (lambda x: F.max_pool2d(x[0, 0], 2), "dimensions"),
        (lambda x: F.max_pool1d(x, 2), "dimensions"),
        (lambda x: F.max_pool2d(x[:, :0], 2), "non-zero"),
        (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
        (lambda x: F.avg_pool3d(x[:, None], (1, 6, 2)), "smaller than kernel_size"),
        (lambda x: F.avg_pool2d_backward(x, (2, 3, 9, 9), 2), "spatial shape"),
        (lambda x: F.avg_pool2d_backward(x, (2, 4, 8, 8), 2), "batch/channel"),
        (lambda x: F.max_pool2d_backward(x, np.full(x.shape, 99), x.shape), "indices"),
        (lambda x: F.max_pool2d_backward(x, np.zeros((1, 1), np.int64), x.shape), "indices"),
        (lambda x: F.cross_entropy(x[:, :, 0, 0], np.zeros(2, int), reduction="avg"), "reduction"),
        (lambda x: F.cross_entropy(x[:, :, 0, 0], np.zeros(2, int), label_smoothing=2), "label"),
        (lambda x: F.cross_entropy(x[:, :, 0, 0], np.zeros(3, int)), "target"),
        (lambda x: F.gelu(x, approximate="erf"), "approximate"),
        (lambda x: F.softmax(x, 4), "dim"),
    ],
)
def test_argument_errors_name_the_argument(call, word):
    x = np.zeros((2, 3, 5, 5), dtype=np.float32)
    with pytest.raises(PoolArgumentError, match=word) as info:
        call(x)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex64, bool])
def test_bad_dtypes_are_type_errors(dtype):
    x = np.zeros((1, 2, 4, 4), dtype=dtype)
    for call in (
        lambda: F.max_pool2d(x, 2),
        lambda: F.avg_pool2d(x, 2),
        lambda: F.adaptive_avg_pool2d(x, 2),
        lambda: F.relu(x),
        lambda: _core.max_pool_forward(x, [2, 2], [2, 2], [0, 0], [1, 1], False),
        lambda: _core.avg_pool_forward(x, [2, 2], [2, 2], [0, 0], False, True, None),
    ):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(TypeError):
        F.max_pool2d([[[1, 2]]], 1)  # an integer list


def test_core_rejects_bad_arguments_without_panicking():
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    with pytest.raises(TypeError, match="C-contiguous"):
        _core.max_pool_forward(x[..., ::2], [1, 1], [1, 1], [0, 0], [1, 1], False)
    with pytest.raises(ValueError):
        _core.max_pool_forward(x, [2], [2], [0], [1], False)
    with pytest.raises(ValueError):
        _core.max_pool_forward(x, [2, -2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(ValueError):
        _core.max_pool_forward(x, [2**62, 2], [1, 1], [0, 0], [1, 1], False)
    with pytest.raises(ValueError):
        _core.max_pool_forward(x[0, 0], [2], [2], [0], [1], False)
    with pytest.raises(ValueError):
        _core.max_pool_backward(x, np.full(x.shape, -5, np.int64), [4, 4])
    with pytest.raises(ValueError):
        _core.max_pool_backward(x, np.zeros(x.shape, np.int64), [4, 0])
    with pytest.raises(ValueError):
        _core.avg_pool_backward(x, [4, 4], [2, 2], [2, 2], [0, 0], False, True, None)
    with pytest.raises(ValueError):
        _core.avg_pool_forward(x, [2, 2], [2, 2], [0, 0], False, True, 0)
    with pytest.raises(ValueError):
        _core.max_pool_forward(x, [2, 2], [2, 2], [0, 0], [1, 1], False, workers=0)


def test_target_out_of_range_is_an_index_error_like_torch():
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


# --------------------------------------------------------------------------------------------
# shapes, layouts, threads
# --------------------------------------------------------------------------------------------


def test_empty_batch_and_output_size_one():
    x = np.zeros((0, 3, 6, 6), dtype=np.float32)
    assert F.max_pool2d(x, 2).shape == (0, 3, 3, 3)
    assert F.avg_pool2d_backward(F.avg_pool2d(x, 2), x.shape, 2).shape == x.shape
    y = np.arange(2 * 5, dtype=np.float64).reshape(1, 2, 5)
    assert F.max_pool1d(y, 5).tolist() == [[[4.0], [9.0]]]
    assert F.avg_pool1d(y, 5).tolist() == [[[2.0], [7.0]]]
    assert F.adaptive_avg_pool1d(y, 1).tolist() == [[[2.0], [7.0]]]


@pytest.mark.parametrize("layout", ["F", "step", "neg"])
def test_non_contiguous_inputs(layout):
    rng = np.random.default_rng(8)
    base = rng.standard_normal((2, 3, 9, 10)).astype(np.float32)
    if layout == "F":
        x = np.asfortranarray(base)
    elif layout == "step":
        big = np.zeros((4, 6, 18, 20), np.float32)
        big[::2, ::2, ::2, ::2] = base
        x = big[::2, ::2, ::2, ::2]
    else:
        x = np.flip(np.flip(base).copy())
    assert not x.flags.c_contiguous
    o1, i1 = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    o2, i2 = F.max_pool2d(base, 3, 2, 1, return_indices=True)
    assert np.array_equal(o1, o2) and np.array_equal(i1, i2)
    assert np.array_equal(F.avg_pool2d(x, 3, 2, 1), F.avg_pool2d(base, 3, 2, 1))
    g = np.asfortranarray(rng.standard_normal(o1.shape).astype(np.float32))
    assert np.array_equal(
        F.max_pool2d_backward(g, i1.T.copy().T, x.shape),
        F.max_pool2d_backward(np.ascontiguousarray(g), i1, x.shape),
    )
    assert np.array_equal(
        F.avg_pool2d_backward(g, x.shape, 3, 2, 1),
        F.avg_pool2d_backward(np.ascontiguousarray(g), x.shape, 3, 2, 1),
    )
    assert np.array_equal(F.adaptive_avg_pool2d(x, (4, 3)), F.adaptive_avg_pool2d(base, (4, 3)))


@pytest.mark.parametrize("dtype", FLOATS)
def test_bitwise_identical_for_every_thread_count(dtype):
    # Large enough to pass the work threshold, so more than one thread runs.
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 8, 33, 31)).astype(dtype)
    kw = dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)
    ref_out, ref_idx = F.max_pool2d(x, return_indices=True, workers=1, **kw)
    ref_avg = F.avg_pool2d(x, count_include_pad=False, workers=1, **kw)
    ref_mb = F.max_pool2d_backward(ref_out, ref_idx, x.shape, workers=1)
    ref_ab = F.avg_pool2d_backward(ref_avg, x.shape, count_include_pad=False, workers=1, **kw)
    for workers in (2, 3, -1):
        out, idx = F.max_pool2d(x, return_indices=True, workers=workers, **kw)
        assert out.tobytes() == ref_out.tobytes() and np.array_equal(idx, ref_idx)
        avg = F.avg_pool2d(x, count_include_pad=False, workers=workers, **kw)
        assert avg.tobytes() == ref_avg.tobytes()
        mb = F.max_pool2d_backward(ref_out, ref_idx, x.shape, workers=workers)
        assert mb.tobytes() == ref_mb.tobytes()
        ab = F.avg_pool2d_backward(ref_avg, x.shape, count_include_pad=False, workers=workers, **kw)
        assert ab.tobytes() == ref_ab.tobytes()

"""Batch normalisation (fastconv.nn.functional.batch_norm and its backward, and the
BatchNorm layers): differential tests against the pure-Python references (from the
definitions), finite differences, torch (when installed), running-statistics updates,
thread-count and instruction-set determinism, the fused ReLU, and errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from fastconv import _core, nn
from fastconv import reference as R
from fastconv.nn import functional as F
from fastconv.nn.functional import NormArgumentError
from hypothesis import given
from hypothesis import strategies as st

FLOATS = (np.float32, np.float64)


def _tol(dtype) -> float:
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-11


def _close(got, want, dtype, scale=None):
    """``got`` equals ``want`` to a tolerance relative to the larger of 1 and ``want``'s size."""
    want = np.asarray(want)
    s = max(1.0, float(np.max(np.abs(want)))) if scale is None and want.size else 1.0
    t = _tol(dtype) * (s if scale is None else scale)
    np.testing.assert_allclose(np.asarray(got, np.float64), want.astype(np.float64), atol=t, rtol=t)


# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


@st.composite
def bn_cases(draw, max_per_channel: int = 48):
    """``dict(x, w, b, rm, rv, training, momentum, eps, relu, dtype)``: (N, C), (N, C, L) or
    (N, C, H, W), batch 1 with spatial axes among them; values continuous (with an offset)
    or small integers (ties and constant channels)."""
    nd = draw(st.sampled_from([0, 1, 2]))
    c = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    n = draw(st.integers(1, 4))
    inner = int(np.prod(spatial)) if spatial else 1
    training = draw(st.booleans())
    if training and n * inner < 2:
        n = 2
    if n * inner > max_per_channel:
        n = max(1, max_per_channel // inner)
        if training and n * inner < 2:
            n = 2
    dtype = np.dtype(draw(st.sampled_from(FLOATS)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (n, c, *spatial)
    if draw(st.booleans()):
        x = rng.integers(-3, 4, shape).astype(dtype)
    else:
        x = (rng.standard_normal(shape) * rng.uniform(0.3, 3) + rng.uniform(-3, 3)).astype(dtype)
    affine = draw(st.booleans())
    w = rng.uniform(-2, 2, c).astype(dtype) if affine else None
    b = rng.uniform(-1, 1, c).astype(dtype) if affine else None
    tracked = draw(st.booleans()) or not training
    rm = rng.uniform(-1, 1, c).astype(dtype) if tracked else None
    rv = rng.uniform(0.2, 2, c).astype(dtype) if tracked else None
    return dict(
        x=x,
        w=w,
        b=b,
        rm=rm,
        rv=rv,
        training=training,
        momentum=draw(st.sampled_from([0.1, 0.5, 1.0, 0.0])),
        eps=draw(st.sampled_from([1e-5, 1e-3, 0.5])),
        relu=draw(st.booleans()),
        dtype=dtype,
    )


def _forward(case, **kw):
    rm = None if case["rm"] is None else case["rm"].copy()
    rv = None if case["rv"] is None else case["rv"].copy()
    y, mean, invstd = F.batch_norm(
        case["x"],
        rm,
        rv,
        case["w"],
        case["b"],
        training=case["training"],
        momentum=case["momentum"],
        eps=case["eps"],
        return_stats=True,
        relu=case["relu"],
        **kw,
    )
    return y, mean, invstd, rm, rv


def _reference(case):
    return R.batch_norm_nd(
        case["x"],
        case["rm"],
        case["rv"],
        case["w"],
        case["b"],
        training=case["training"],
        momentum=case["momentum"],
        eps=case["eps"],
        relu=case["relu"],
    )


# --------------------------------------------------------------------------------------------
# against the references
# --------------------------------------------------------------------------------------------


@given(bn_cases())
def test_forward_matches_reference(case):
    got = _forward(case)
    want = _reference(case)
    dt = case["dtype"]
    for g, w in zip(got, want):
        if w is None:
            assert g is None
            continue
        assert g.dtype == dt and g.shape == w.shape
        _close(g, w, dt)


@given(bn_cases(max_per_channel=24), st.data())
def test_backward_matches_reference(case, data):
    dt = case["dtype"]
    y, mean, invstd, _, _ = _forward(case)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g = rng.standard_normal(case["x"].shape).astype(dt)
    ro = y if case["relu"] else None
    mask = data.draw(st.tuples(st.booleans(), st.booleans(), st.booleans()))
    got = F.batch_norm_backward(
        g, case["x"], case["w"], mean, invstd, case["training"], mask, relu_output=ro
    )
    want = R.batch_norm_nd_backward(g, case["x"], case["w"], mean, invstd, case["training"], ro)
    for m, a, b in zip(mask, got, want):
        if not m:
            assert a is None
            continue
        assert a.dtype == dt and a.shape == b.shape
        # Scale: the gradient's size before the cancellations of the training formula.
        scale = max(1.0, float(np.max(np.abs(invstd)))) * max(1.0, float(np.abs(g).sum()))
        _close(a, b, dt, scale=scale)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 2, 5), (1, 2, 3, 3)])
@pytest.mark.parametrize("relu", [False, True])
def test_backward_finite_differences(training, shape, relu):
    """The analytic gradients of L = sum(g * bn(x)) against central differences (float64)."""
    rng = np.random.default_rng(7)
    c = shape[1]
    x = rng.standard_normal(shape) * 1.5 + 0.5
    w, b = rng.uniform(0.5, 2, c), rng.uniform(-0.5, 0.5, c)
    rm, rv = rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c)
    g = rng.standard_normal(shape)

    def loss(x_, w_, b_):
        y = F.batch_norm(x_, rm.copy(), rv.copy(), w_, b_, training=training, relu=relu)
        return float((g * y).sum())

    y, mean, invstd = F.batch_norm(
        x, rm.copy(), rv.copy(), w, b, training=training, return_stats=True, relu=relu
    )
    if relu:  # no kink within the differences' reach
        pre = F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training)
        assert np.min(np.abs(pre)) > 1e-4 and (y == 0).any()
    gi, gw, gb = F.batch_norm_backward(
        g, x, w, mean, invstd, training, relu_output=y if relu else None
    )
    h = 1e-6
    for arr, grad in ((x, gi), (w, gw), (b, gb)):
        num = np.zeros_like(arr)
        for i in np.ndindex(*arr.shape):
            old = arr[i]
            arr[i] = old + h
            up = loss(x, w, b)
            arr[i] = old - h
            down = loss(x, w, b)
            arr[i] = old
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# against torch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(8, 4), (4, 3, 10), (1, 2, 5, 7), (6, 5, 4, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_matches_torch(dtype, shape, training):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(3)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w, b = rng.uniform(-2, 2, c).astype(dtype), rng.uniform(-1, 1, c).astype(dtype)
    rm, rv = rng.uniform(-1, 1, c).astype(dtype), rng.uniform(0.5, 2, c).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    ty = tF.batch_norm(tx, trm, trv, tw, tb, training=training, momentum=0.3, eps=1e-4)
    ty.backward(torch.tensor(g))
    y, mean, invstd = F.batch_norm(
        x, rm, rv, w, b, training=training, momentum=0.3, eps=1e-4, return_stats=True
    )
    gi, gw, gb = F.batch_norm_backward(g, x, w, mean, invstd, training)
    for got, want in (
        (y, ty),
        (rm, trm),
        (rv, trv),
        (gi, tx.grad),
        (gw, tw.grad),
        (gb, tb.grad),
    ):
        _close(got, want.detach().numpy(), dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_running_stats_follow_torch_over_steps(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    layer = torch.nn.BatchNorm2d(3, momentum=0.2).to(getattr(torch, np.dtype(dtype).name))
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    for _ in range(4):
        x = (rng.standard_normal((4, 3, 3, 2)) * 2 + 1).astype(dtype)
        layer(torch.tensor(x))
        F.batch_norm(x, rm, rv, training=True, momentum=0.2)
    _close(rm, layer.running_mean.numpy(), dtype)
    _close(rv, layer.running_var.numpy(), dtype)


def test_fused_relu_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.uniform(0.5, 2, 3).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    ty = torch.relu(torch.nn.functional.batch_norm(tx, None, None, tw, tb, training=True))
    ty.backward(torch.tensor(g))
    y, mean, invstd = F.batch_norm(x, None, None, w, b, True, relu=True, return_stats=True)
    assert (y == 0).any() and (y > 0).any()
    gi, gw, gb = F.batch_norm_backward(g, x, w, mean, invstd, True, relu_output=y)
    for got, want in ((y, ty), (gi, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        _close(got, want.detach().numpy(), np.float32)


# --------------------------------------------------------------------------------------------
# determinism, layouts, buffers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_thread_count_determinism(dtype):
    """Above the parallel threshold every thread count gives bitwise the same results."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((6, 16, 100, 110)) + 2).astype(dtype)  # 1.06M elements
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.uniform(-2, 2, 16).astype(dtype), rng.uniform(-1, 1, 16).astype(dtype)
    results = []
    for workers in (1, 2, 3):
        rm, rv = np.zeros(16, dtype), np.ones(16, dtype)
        y, m, s = F.batch_norm(x, rm, rv, w, b, True, return_stats=True, workers=workers)
        grads = F.batch_norm_backward(g, x, w, m, s, True, relu_output=None, workers=workers)
        results.append((y, m, s, rm, rv, *grads))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_array_equal(a, b_)


def test_isa_determinism():
    """The scalar build of the kernels gives bitwise the results of the SIMD one."""
    code = (
        "import numpy as np, sys; from fastconv.nn import functional as F;"
        "r = np.random.default_rng(2); x = r.standard_normal((5, 3, 37)).astype(np.float32);"
        "g = r.standard_normal(x.shape).astype(np.float32);"
        "y, m, s = F.batch_norm(x, None, None, None, None, True, relu=True, return_stats=True);"
        "gi = F.batch_norm_backward(g, x, None, m, s, True, relu_output=y)[0];"
        "sys.stdout.buffer.write(np.concatenate([y.ravel(), m, s, gi.ravel()]).tobytes())"
    )
    outs = []
    for isa in ("scalar", "avx512"):
        env = dict(os.environ, FASTCONV_ISA=isa)
        outs.append(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, check=True
            ).stdout
        )
    assert outs[0] == outs[1] and len(outs[0]) > 0


def test_layouts_and_out_buffers():
    rng = np.random.default_rng(4)
    base = rng.standard_normal((3, 4, 6)).astype(np.float64)
    x = base[:, :, ::2]  # not contiguous
    big_endian = np.ascontiguousarray(x).astype(">f8")
    want = F.batch_norm(np.ascontiguousarray(x), None, None, training=True)
    np.testing.assert_array_equal(F.batch_norm(x, None, None, training=True), want)
    np.testing.assert_array_equal(F.batch_norm(big_endian, None, None, training=True), want)
    out = np.empty_like(want)
    y = F.batch_norm(x, None, None, training=True, out=out)
    assert y is out
    np.testing.assert_array_equal(out, want)
    # running statistics of another dtype are updated through a converted copy
    rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
    F.batch_norm(x, rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rm, x.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(rv, x.var(axis=(0, 2), ddof=1), rtol=1e-6)


def test_empty_batch_leaves_running_stats():
    rm, rv = np.full(3, 0.5), np.full(3, 2.0)
    y = F.batch_norm(np.zeros((0, 3, 4)), rm, rv, training=True)
    assert y.shape == (0, 3, 4)
    np.testing.assert_array_equal(rm, 0.5)
    np.testing.assert_array_equal(rv, 2.0)
    gi, gw, gb = F.batch_norm_backward(
        np.zeros((0, 3, 4)), np.zeros((0, 3, 4)), None, np.zeros(3), np.ones(3), True
    )
    assert gi.shape == (0, 3, 4)
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def _bad_calls():
    x = np.zeros((4, 3, 2), np.float32)
    z3 = np.zeros(3, np.float32)
    return [
        (lambda: F.batch_norm(x, np.zeros(2, np.float32), np.ones(2, np.float32)), "3 elements"),
        (lambda: F.batch_norm(x, None, None, training=False), "evaluation mode"),
        (lambda: F.batch_norm(x, z3, None, training=True), "both"),
        (lambda: F.batch_norm(x, None, None, np.ones(2), training=True), "weight should"),
        (lambda: F.batch_norm(x, None, None, None, np.ones(4), training=True), "bias should"),
        (lambda: F.batch_norm(np.zeros((1, 3)), None, None, training=True), "more than 1 value"),
        (lambda: F.batch_norm(np.zeros(3), z3, z3), "at least 2 dimensions"),
        (lambda: F.batch_norm_backward(x[:2], x, None, z3, z3, True), "grad_output has shape"),
        (lambda: F.batch_norm_backward(x, x, None, z3[:2], z3, True), "save_mean should"),
        (lambda: F.batch_norm_backward(x, x, None, z3, z3, True, (True, True)), "3 entries"),
    ]


@pytest.mark.parametrize("call, match", _bad_calls())
def test_argument_errors(call, match):
    with pytest.raises(NormArgumentError, match=match) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)


def test_type_and_buffer_errors():
    x = np.zeros((4, 3, 2), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.batch_norm(x.astype(np.int32), None, None, training=True)
    with pytest.raises(ValueError, match="out has shape"):
        F.batch_norm(x, None, None, training=True, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        F.batch_norm(x, None, None, training=True, out=np.empty(x.shape, np.float64))
    with pytest.raises(ValueError, match="overlap"):
        F.batch_norm(x, None, None, training=True, out=x)
    # the core's own checks, reached without the Python layer
    with pytest.raises(ValueError, match="should contain 3 elements"):
        _core.batch_norm_forward(x, np.ones(2, np.float32), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(TypeError, match="input's dtype"):
        _core.batch_norm_forward(x, np.ones(3), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="at least one channel"):
        _core.batch_norm_forward(np.zeros((2, 0)), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="at least one value"):
        _core.batch_norm_forward(np.zeros((0, 2)), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="workers"):
        _core.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5, workers=0)


# --------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_layer_fused_relu_equals_separate_relu(training):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    plain = nn.Sequential(nn.BatchNorm2d(3), nn.ReLU())
    bn = nn.BatchNorm2d(3)
    fused = nn.Sequential(bn, bn.fuse_relu())
    for m in (plain, fused):
        m[0].weight.data[...] = [1.5, -0.5, 2.0]
        m[0].bias.data[...] = 0.25
        m.train(training)
    assert list(plain.state_dict()) == list(fused.state_dict())
    y1, y2 = plain(x).copy(), fused(x).copy()
    np.testing.assert_allclose(y1, y2, rtol=1e-6, atol=1e-6)
    g1, g2 = plain.backward(g).copy(), fused.backward(g).copy()
    np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain[0].weight.grad, fused[0].weight.grad, rtol=1e-5, atol=1e-5)
    for k, v in plain.state_dict().items():
        np.testing.assert_allclose(v, fused.state_dict()[k], rtol=1e-6, err_msg=k)


def test_layer_reuses_buffers_in_training_and_not_in_eval():
    layer = nn.BatchNorm1d(3)
    x = np.random.default_rng(0).standard_normal((4, 3, 6)).astype(np.float32)
    y1 = layer(x)
    g1 = layer.backward(np.ones_like(x))
    assert layer(x) is y1 and layer.backward(np.ones_like(x)) is g1
    assert int(layer.num_batches_tracked) == 2
    layer.eval()
    assert layer(x) is not layer(x)
    assert int(layer.num_batches_tracked) == 2


def test_named_models_fuse_relu_and_keep_their_state_dict():
    from fastconv.nn.models import build_model
    from fastconv.nn.modules import FusedReLU, _BatchNorm

    for name in ("cnn1d", "cnn2d"):
        relu = build_model(name)
        gelu = build_model(name, activation="gelu")
        assert list(relu.state_dict()) == list(gelu.state_dict())
        bns = [m for m in relu if isinstance(m, _BatchNorm)]
        assert bns and all(m.relu for m in bns)
        layers = list(relu)
        for i, m in enumerate(layers):
            if isinstance(m, _BatchNorm):
                assert isinstance(layers[i + 1], FusedReLU)
        assert not any(m.relu for m in gelu if isinstance(m, _BatchNorm))


# --------------------------------------------------------------------------------------------
# channel sums (the convolution's bias gradient)
# --------------------------------------------------------------------------------------------


@given(
    shape=st.lists(st.integers(0, 40), min_size=2, max_size=4).map(tuple),
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 2**32 - 1),
)
def test_channel_sums_match_numpy_in_float64(shape, dtype, seed):
    """Rows of every length (the 16/8/4/1 pieces), empty batches and planes; the sum is
    accumulated in float64 like ``np.sum(dtype=float64)`` and identical for any thread count."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    got = _core.channel_sums(x)
    assert got.dtype == x.dtype and got.shape == (shape[1],)
    axes = (0, *range(2, x.ndim))
    want = x.sum(axis=axes, dtype=np.float64)
    scale = np.abs(x).sum(axis=axes, dtype=np.float64) + 1.0
    np.testing.assert_array_less(np.abs(got - want), scale * 4 * np.finfo(dtype).eps)
    for workers in (1, 2, 3):
        np.testing.assert_array_equal(_core.channel_sums(x, workers=workers), got)
    np.testing.assert_array_equal(F._sum_bias(x), got)


def test_channel_sums_reject_bad_input():
    with pytest.raises(TypeError):
        _core.channel_sums(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError):
        _core.channel_sums(np.ones(3, np.float32))

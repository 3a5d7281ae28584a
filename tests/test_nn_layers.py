"""fastconv.nn layers: backward against central finite differences and the references.

Every layer's ``backward`` (input and parameter gradients) is checked against central
differences of ``sum(layer(x) * g)`` for a random ``g``; convolution and pooling layers are
also checked against the pure-Python definitions in ``fastconv.reference``. Optimisers,
schedules, state dicts, bad shapes and seeding are tested at the end.
"""

import math

import numpy as np
import pytest
from fastconv import nn
from fastconv import reference as R

F32 = np.float32


def _rand(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(F32)


def _distinct(shape, seed=0):
    """Values at least 0.05 apart (max pooling and ReLU have no ties or kinks nearby)."""
    n = int(np.prod(shape))
    vals = (np.random.default_rng(seed).permutation(n) - n / 2 + 0.5) * 0.05
    return vals.reshape(shape).astype(F32)


def _numeric(f, arr, eps):
    """Central differences of the scalar ``f()`` with respect to each element of ``arr``."""
    grad = np.zeros(arr.shape, np.float64)
    for idx in np.ndindex(*arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = f()
        arr[idx] = old - eps
        down = f()
        arr[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


def check_grads(layer, x, eps=1e-2, atol=2e-3, rtol=2e-2, reseed=None):
    """Analytic input and parameter gradients of ``layer`` match central differences."""
    x = np.array(x, dtype=F32)
    if reseed:
        reseed()
    y = np.array(layer(x))
    g = _rand(y.shape, seed=99)
    layer.zero_grad()
    gi = np.array(layer.backward(g), dtype=np.float64)

    def loss():
        if reseed:
            reseed()
        return float(np.sum(np.asarray(layer(x), np.float64) * g))

    np.testing.assert_allclose(gi, _numeric(loss, x, eps), atol=atol, rtol=rtol)
    for name, p in layer.named_parameters():
        analytic = p.grad.astype(np.float64).copy()
        numeric = _numeric(loss, p.data, eps)
        np.testing.assert_allclose(analytic, numeric, atol=atol, rtol=rtol, err_msg=name)
    return y, gi


# -------------------------------------------------------------------------------------------
# finite differences, layer by layer
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_grads(bias):
    nn.manual_seed(0)
    check_grads(nn.Linear(5, 3, bias=bias), _rand((4, 5)))


def test_linear_batched_leading_dims():
    nn.manual_seed(0)
    check_grads(nn.Linear(4, 2), _rand((2, 3, 4)))


CONV1D_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=5, padding=2, bias=False),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, dilation=2, padding=1),
    dict(kernel_size=3, groups=2, padding="same"),
]


@pytest.mark.parametrize("kw", CONV1D_CASES)
def test_conv1d_grads_and_reference(kw):
    nn.manual_seed(1)
    layer = nn.Conv1d(2, 4, **kw)
    x = _rand((2, 2, 9))
    y, gi = check_grads(layer, x)
    w = layer.weight.data
    b = None if layer.bias is None else layer.bias.data
    pad = kw.get("padding", 0)
    if pad == "same":
        pad = R.same_padding((9,), w.shape[2:], 1, kw.get("dilation", 1))
    geo = dict(
        stride=kw.get("stride", 1),
        padding=pad,
        dilation=kw.get("dilation", 1),
        groups=kw.get("groups", 1),
    )
    np.testing.assert_allclose(y, R.conv_nd(x, w, b, **geo), rtol=1e-5, atol=1e-5)
    g = _rand(y.shape, seed=99)
    np.testing.assert_allclose(
        gi, R.conv_nd_grad_input(g, w, x.shape[2:], **geo), rtol=1e-5, atol=1e-5
    )
    layer.zero_grad()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(
        layer.weight.grad, R.conv_nd_grad_weight(g, x, w.shape[2:], **geo), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "kw", [dict(kernel_size=3, padding=1), dict(kernel_size=(2, 3), stride=(2, 1), bias=False)]
)
def test_conv2d_grads_and_reference(kw):
    nn.manual_seed(2)
    layer = nn.Conv2d(2, 3, **kw)
    x = _rand((2, 2, 5, 4))
    y, gi = check_grads(layer, x)
    b = None if layer.bias is None else layer.bias.data
    geo = dict(stride=kw.get("stride", 1), padding=kw.get("padding", 0))
    np.testing.assert_allclose(y, R.conv_nd(x, layer.weight.data, b, **geo), atol=1e-5)


def test_conv_first_layer_skips_input_grad():
    nn.manual_seed(0)
    layer = nn.Conv1d(1, 2, 3)
    layer.set_needs_input_grad(False)
    layer(_rand((2, 1, 6)))
    assert layer.backward(_rand((2, 2, 4))) is None
    assert np.any(layer.weight.grad != 0)


@pytest.mark.parametrize("cls", [nn.ReLU, nn.Tanh, nn.GELU])
def test_activation_grads(cls):
    x = _distinct((2, 3, 5))
    check_grads(cls(), x, eps=1e-3, atol=1e-3)


def test_activation_values():
    x = _distinct((2, 3, 4))
    np.testing.assert_array_equal(nn.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x), rtol=1e-6)
    from math import erf

    gelu = np.array([v * 0.5 * (1 + erf(v / np.sqrt(2))) for v in x.ravel().tolist()])
    np.testing.assert_allclose(nn.GELU()(x).ravel(), gelu, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "cls, shape, kw",
    [
        (nn.MaxPool1d, (2, 3, 9), dict(kernel_size=2)),
        (nn.MaxPool1d, (2, 2, 9), dict(kernel_size=3, stride=2, padding=1)),
        (nn.MaxPool2d, (2, 2, 6, 5), dict(kernel_size=2)),
    ],
)
def test_max_pool_grads_and_reference(cls, shape, kw):
    x = _distinct(shape)
    layer = cls(**kw)
    y, gi = check_grads(layer, x, eps=1e-3, atol=1e-3)
    nd = len(shape) - 2
    k = kw["kernel_size"]
    ref, idx = R.max_pool_nd(
        x, (k,) * nd, (kw.get("stride", k),) * nd, (kw.get("padding", 0),) * nd, (1,) * nd
    )
    np.testing.assert_array_equal(y, ref)
    g = _rand(y.shape, seed=99)
    np.testing.assert_allclose(gi, R.max_pool_nd_backward(g, idx, shape), rtol=1e-6)


@pytest.mark.parametrize(
    "cls, shape, kw",
    [
        (nn.AvgPool1d, (2, 3, 8), dict(kernel_size=2)),
        (nn.AvgPool1d, (2, 2, 9), dict(kernel_size=3, stride=2, padding=1)),
        (nn.AvgPool2d, (2, 2, 6, 4), dict(kernel_size=2)),
    ],
)
def test_avg_pool_grads_and_reference(cls, shape, kw):
    x = _rand(shape)
    layer = cls(**kw)
    y, gi = check_grads(layer, x)
    nd = len(shape) - 2
    k = kw["kernel_size"]
    geo = ((k,) * nd, (kw.get("stride", k),) * nd, (kw.get("padding", 0),) * nd)
    np.testing.assert_allclose(y, R.avg_pool_nd(x, *geo), rtol=1e-6, atol=1e-7)
    g = _rand(y.shape, seed=99)
    np.testing.assert_allclose(gi, R.avg_pool_nd_backward(g, shape, *geo), rtol=1e-6)


@pytest.mark.parametrize(
    "cls, shape, out",
    [
        (nn.AdaptiveAvgPool1d, (2, 3, 8), 1),
        (nn.AdaptiveAvgPool1d, (2, 3, 8), 4),
        (nn.AdaptiveAvgPool2d, (2, 2, 4, 6), 1),
        (nn.AdaptiveAvgPool2d, (2, 2, 4, 6), (2, 3)),
    ],
)
def test_adaptive_avg_pool_grads_and_reference(cls, shape, out):
    x = _rand(shape)
    layer = cls(out)
    y, gi = check_grads(layer, x)
    nd = len(shape) - 2
    osz = (out,) * nd if isinstance(out, int) else out
    np.testing.assert_allclose(y, R.adaptive_avg_pool_nd(x, osz), rtol=1e-6, atol=1e-7)
    g = _rand(y.shape, seed=99)
    np.testing.assert_allclose(gi, R.adaptive_avg_pool_nd_backward(g, shape), rtol=1e-6)


def test_flatten_grads():
    y, _ = check_grads(nn.Flatten(), _rand((2, 3, 4)))
    assert y.shape == (2, 12)
    assert nn.Flatten(0, 1)(_rand((2, 3, 4))).shape == (6, 4)


def test_dropout_grads_and_modes():
    layer = nn.Dropout(0.4)
    x = _rand((4, 50))

    def reseed():
        layer.rng = np.random.default_rng(5)

    y, _ = check_grads(layer, x, reseed=reseed)
    zero = y == 0
    assert 0.2 < zero.mean() < 0.6
    np.testing.assert_allclose(y[~zero], x[~zero] / 0.6, rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)


@pytest.mark.parametrize(
    "cls, shape",
    [(nn.BatchNorm1d, (4, 3)), (nn.BatchNorm1d, (3, 2, 5)), (nn.BatchNorm2d, (3, 2, 3, 2))],
)
def test_batchnorm_grads_train_and_eval(cls, shape):
    layer = cls(shape[1])
    layer.weight.data[...] = [1.5, -0.5, 2.0][: shape[1]]
    layer.bias.data[...] = 0.25
    x = _rand(shape, scale=2.0) + 1.0
    y, _ = check_grads(layer, x)
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0.25, atol=1e-5)
    assert int(layer.num_batches_tracked) > 0
    layer.eval()
    check_grads(layer, x)


def test_batchnorm_running_stats_match_torch_rule():
    layer = nn.BatchNorm1d(2, momentum=0.5)
    x = _rand((6, 2, 4))
    layer(x)
    m = x.mean(axis=(0, 2))
    v = x.var(axis=(0, 2), ddof=1)
    np.testing.assert_allclose(layer.running_mean, 0.5 * m, rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, 0.5 + 0.5 * v, rtol=1e-5)


def test_sequential_grads():
    nn.manual_seed(3)
    model = nn.Sequential(
        nn.Conv1d(2, 3, 3, padding=1),
        nn.BatchNorm1d(3),
        nn.GELU(),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(9, 2),
    )
    check_grads(model, _rand((3, 2, 6)), eps=3e-3, atol=3e-3)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_grads(smoothing):
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    logits = _rand((5, 4), scale=2.0)
    target = np.array([0, 3, 1, 1, 2])
    loss = loss_fn(logits, target)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = -((1 - smoothing) * logp[np.arange(5), target] + smoothing / 4 * logp.sum(1)).mean()
    assert loss == pytest.approx(want, rel=1e-5)
    g = loss_fn.backward()
    num = _numeric(lambda: loss_fn(logits, target), logits, 1e-2)
    np.testing.assert_allclose(g, num, atol=1e-3, rtol=1e-2)


def test_mse_grads():
    loss_fn = nn.MSELoss()
    out, target = _rand((3, 4)), _rand((3, 4), seed=1)
    assert loss_fn(out, target) == pytest.approx(float(np.mean((out - target) ** 2)), rel=1e-5)
    g = loss_fn.backward()
    np.testing.assert_allclose(g, _numeric(lambda: loss_fn(out, target), out, 1e-2), atol=1e-3)


# -------------------------------------------------------------------------------------------
# against torch (optional)
# -------------------------------------------------------------------------------------------


def test_cnn1d_matches_torch():
    torch = pytest.importorskip("torch")
    from fastconv._bench.train_bench import torch_model

    nn.manual_seed(0)
    ours = nn.cnn1d(width=4)
    theirs = torch_model("cnn1d", width=4)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = _rand((6, 1, 40))
    y = np.array([1, 2, 3, 4, 5, 6])
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(ours(x), y)
    ours.backward(loss_fn.backward())
    tx = torch.from_numpy(x)
    tl = torch.nn.functional.cross_entropy(theirs(tx), torch.from_numpy(y))
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-4)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name)


# -------------------------------------------------------------------------------------------
# optimisers and schedules
# -------------------------------------------------------------------------------------------


def _torch_opt_trajectory(torch, make, steps=5):
    w0 = _rand((3, 4))
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = make(torch.optim, [p])
    for i in range(steps):
        opt.zero_grad()
        p.grad = torch.from_numpy(_rand((3, 4), seed=10 + i))
        opt.step()
    return w0, p.detach().numpy()


@pytest.mark.parametrize(
    "name, kw",
    [
        ("SGD", dict(lr=0.1)),
        ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.3)),
        ("Adam", dict(lr=0.01)),
        ("Adam", dict(lr=0.01, weight_decay=0.1)),
        ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ],
)
def test_optimizers_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    w0, want = _torch_opt_trajectory(torch, lambda o, ps: getattr(o, name)(ps, **kw))
    p = nn.Parameter(w0.copy())
    opt = getattr(nn, name)([p], **kw)
    for i in range(5):
        opt.zero_grad()
        p.grad += _rand((3, 4), seed=10 + i)
        opt.step()
    np.testing.assert_allclose(p.data, want, rtol=1e-5, atol=1e-6)


def _adam_numpy(p, g, m, v, t, lr, betas, eps, wd, decoupled):
    """Adam's update as separate float32 NumPy operations (each rounded once), in place."""
    b1, b2 = betas
    if wd:
        if decoupled:
            p *= F32(1.0 - lr * wd)
        else:
            g = p * F32(wd) + g
    m *= F32(b1)
    m += g * F32(1.0 - b1)
    v *= F32(b2)
    v += (g * g) * F32(1.0 - b2)
    denom = np.sqrt(v) * F32(1.0 / math.sqrt(1.0 - b2**t)) + F32(eps)
    p -= (m / denom) * F32(lr / (1.0 - b1**t))


@pytest.mark.parametrize("name, wd", [("Adam", 0.0), ("Adam", 0.1), ("AdamW", 0.05)])
def test_adam_step_is_the_float32_formula_bitwise(name, wd):
    """The fused Rust pass rounds the same float32 operations in the same order as NumPy."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(1000).astype(F32)
    p = nn.Parameter(w0.copy())
    opt = getattr(nn, name)([p], lr=3e-3, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    want, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t in range(1, 8):
        g = (rng.standard_normal(1000) * 10.0 ** rng.integers(-3, 3, 1000)).astype(F32)
        opt.zero_grad()
        p.grad += g
        opt.step()
        _adam_numpy(want, g, m, v, t, 3e-3, (0.8, 0.95), 1e-6, wd, name == "AdamW")
        np.testing.assert_array_equal(p.data, want)
        np.testing.assert_array_equal(opt.exp_avg, m)
        np.testing.assert_array_equal(opt.exp_avg_sq, v)


def test_sgd_plain_rule():
    p = nn.Parameter(np.ones(3, F32))
    opt = nn.SGD([p], lr=0.5)
    p.grad[...] = [1, 2, 3]
    opt.step()
    np.testing.assert_allclose(p.data, [0.5, 0.0, -0.5])


def test_schedules():
    p = nn.Parameter(np.ones(1, F32))
    opt = nn.SGD([p], lr=1.0)
    sched = nn.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.lr] + [sched.step() for _ in range(4)]
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    opt = nn.SGD([nn.Parameter(np.ones(1, F32))], lr=1.0)
    sched = nn.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    lrs = [opt.lr] + [sched.step() for _ in range(5)]
    np.testing.assert_allclose(lrs, [1.0, 0.8682, 0.55, 0.2318, 0.1, 0.1], atol=1e-4)


# -------------------------------------------------------------------------------------------
# state, init, errors, determinism
# -------------------------------------------------------------------------------------------


def test_state_dict_round_trip(tmp_path):
    nn.manual_seed(0)
    model = nn.cnn1d(width=4)
    model(_rand((4, 1, 40)))  # updates the running statistics
    path = tmp_path / "m.npz"
    model.save(path)
    nn.manual_seed(1)
    other = nn.cnn1d(width=4)
    assert not np.array_equal(other[0].weight.data, model[0].weight.data)
    other.load(path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a, b)
    assert "1.running_mean" in model.state_dict()
    x = _rand((3, 1, 40), seed=4)
    model.eval()
    other.eval()
    np.testing.assert_array_equal(model(x), other(x))


def test_load_state_dict_errors():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({})
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_state_dict({"0.weight": np.zeros((3, 3)), "0.bias": np.zeros(2)})


def test_default_init_bounds():
    nn.manual_seed(0)
    conv = nn.Conv1d(4, 8, 5)
    bound = 1 / np.sqrt(4 * 5)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in) too
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound
    assert np.abs(conv.bias.data).max() <= bound
    lin = nn.Linear(10, 3)
    assert np.abs(lin.weight.data).max() <= 1 / np.sqrt(10)


def test_seeded_init_is_deterministic():
    nn.manual_seed(7)
    a = nn.cnn2d(width=4).state_dict()
    nn.manual_seed(7)
    b = nn.cnn2d(width=4).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize(
    "layer, x, match",
    [
        (nn.Conv1d(2, 3, 3), np.zeros((2, 3, 8), F32), "2 input channels"),
        (nn.Conv1d(2, 3, 3), np.zeros((2, 8), F32), "3-D input"),
        (nn.Conv1d(2, 3, 5), np.zeros((1, 2, 3), F32), "too small"),
        (nn.Conv2d(1, 3, 3), np.zeros((2, 1, 8), F32), "4-D input"),
        (nn.Linear(4, 2), np.zeros((3, 5), F32), "in_features=4"),
        (nn.BatchNorm1d(3), np.zeros((2, 4, 5), F32), "3 channels"),
        (nn.BatchNorm2d(3), np.zeros((2, 3, 5), F32), "4-D input"),
        (nn.MaxPool2d(2), np.zeros((2, 8), F32), "input"),
    ],
)
def test_bad_shapes_raise_clear_errors(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="groups"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(1, 1, (3, 3, 3))
    with pytest.raises(ValueError, match="dropout"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="targets"):
        nn.CrossEntropyLoss()(np.zeros((2, 3), F32), np.array([0, 3]))
    with pytest.raises(ValueError, match="empty"):
        nn.SGD([], lr=0.1)

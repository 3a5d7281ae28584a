"""Differential tests of fastconv.nn.functional (convolution) against fastconv.reference.

Every public function is compared with the pure-Python reference (``conv_nd``,
``conv_nd_grad_*``, ``conv_transpose_nd``, ``unfold_nd``, ``fold_nd``, ``pad_nd``) over 1-D, 2-D
and 3-D problems drawn by ``tests/nn_strategies.py``: stride, dilation, groups (depthwise
included), padding as an int, per axis, 'valid' and 'same' (asymmetric with a stride), the four
padding modes, batch 1 and unbatched inputs, outputs of size 1, float32 and float64, and every
memory layout of ``strategies.arrays``.

Tolerance (``strategies.assert_matches``): ``|got - want| <= 4 * eps(dtype) * K * S`` per element
with ``S`` the sum of the absolute values of that element's terms (the reference returns it with
``with_scale=True``) and ``K`` the most terms an element sums: ``C_in/groups * prod(kernel) + 1``
for the forward pass, ``C_out/groups * prod(kernel)`` times the copies a padding mode makes for
the input gradient, ``N * prod(output)`` for the weight and bias gradients, ``prod(kernel)`` for
fold. unfold copies values and must be exact.

Independent of the reference: central finite differences (float64) of the forward pass against
the backward pass, the adjoint identity of unfold and fold, out= buffers, the exception classes
and messages, thread-count determinism and layouts. Torch differential tests (forward and
autograd) run when torch is installed.
"""

from __future__ import annotations

import math

import fastconv.nn.functional as F
import numpy as np
import pytest
from fastconv import reference as ref
from fastconv.nn.functional import ConvArgumentError, ConvDtypeError
from hypothesis import given
from hypothesis import strategies as st
from nn_strategies import (
    PADDING_MODES,
    ConvProblem,
    block_problems,
    conv_problems,
    conv_transpose_problems,
)
from strategies import arrays, assert_matches

masks = st.tuples(st.booleans(), st.booleans(), st.booleans())


def _conv_fn(d: int, suffix: str = ""):
    return getattr(F, f"conv{d}d{suffix}")


def _transpose_fn(d: int, suffix: str = ""):
    return getattr(F, f"conv_transpose{d}d{suffix}")


def _forward(p: ConvProblem, **extra):
    return _conv_fn(p.d)(
        p.x,
        p.w,
        p.b,
        p.stride,
        p.padding,
        p.dilation,
        p.groups,
        padding_mode=p.padding_mode,
        **extra,
    )


def _backward(p: ConvProblem, g, **extra):
    return _conv_fn(p.d, "_backward")(
        g,
        p.x,
        p.w,
        p.stride,
        p.padding,
        p.dilation,
        p.groups,
        padding_mode=p.padding_mode,
        **extra,
    )


def _transpose(p: ConvProblem, **extra):
    return _transpose_fn(p.d)(
        p.x, p.w, p.b, p.stride, p.padding, p.output_padding, p.groups, p.dilation, **extra
    )


def _transpose_backward(p: ConvProblem, g, **extra):
    return _transpose_fn(p.d, "_backward")(
        g, p.x, p.w, p.stride, p.padding, p.output_padding, p.groups, p.dilation, **extra
    )


def _padded_input(p: ConvProblem):
    """The batched input as the engine sees it, and the padding left for the convolution."""
    xb = p.batched_x()
    if p.padding_mode == "zeros":
        return xb, p.pads
    return ref.pad_nd(xb, p.pads, p.padding_mode), 0


def _unbatch(p: ConvProblem, *arrays_):
    return tuple(a[0] for a in arrays_) if p.unbatched else arrays_


def _copies(p: ConvProblem) -> int:
    """How many padded elements can copy one input element (1 for zero padding)."""
    if p.padding_mode == "zeros":
        return 1
    return math.prod(1 + a + b for a, b in p.pads)


# ---------------------------------------------------------------------------------------------
# convolution vs the reference
# ---------------------------------------------------------------------------------------------


@given(conv_problems(padding_modes=PADDING_MODES))
def test_conv_matches_reference(p):
    got = _forward(p)
    xin, pads = _padded_input(p)
    want, scale = ref.conv_nd(xin, p.w, p.b, p.stride, pads, p.dilation, p.groups, with_scale=True)
    want, scale = _unbatch(p, want, scale)
    assert_matches(got, want, k=math.prod(p.w.shape[1:]) + 1, scale=scale)


@given(conv_problems(padding_modes=PADDING_MODES), masks, st.data())
def test_conv_backward_matches_reference(p, mask, data):
    out_shape = _forward(p).shape
    g = data.draw(arrays(p.dtype, out_shape), label="grad_output")
    gi, gw, gb = _backward(p, g, output_mask=mask)
    for got, wanted in zip((gi, gw, gb), mask):
        assert (got is not None) == wanted
    g_b = g[None] if p.unbatched else g
    xin, pads = _padded_input(p)
    S, K = p.batched_x().shape[2:], p.w.shape[2:]
    n_out = g_b.shape[0] * math.prod(g_b.shape[2:])
    if mask[0]:
        want, scale = ref.conv_nd_grad_input(
            g_b, p.w, xin.shape[2:], p.stride, pads, p.dilation, p.groups, with_scale=True
        )
        if p.padding_mode != "zeros":
            want = ref.pad_nd_adjoint(want, S, p.pads, p.padding_mode)
            scale = ref.pad_nd_adjoint(scale, S, p.pads, p.padding_mode)
        (want,), (scale,) = _unbatch(p, want), _unbatch(p, scale)
        k = (p.w.shape[0] // p.groups) * math.prod(K) * _copies(p)
        assert_matches(gi, want, k=k, scale=scale)
    if mask[1]:
        want, scale = ref.conv_nd_grad_weight(
            g_b, xin, K, p.stride, pads, p.dilation, p.groups, with_scale=True
        )
        assert_matches(gw, want, k=n_out, scale=scale)
    if mask[2]:
        want, scale = ref.conv_nd_grad_bias(g_b, with_scale=True)
        assert_matches(gb, want, k=n_out, scale=scale)


@given(conv_transpose_problems())
def test_conv_transpose_matches_reference(p):
    got = _transpose(p)
    want, scale = ref.conv_transpose_nd(
        p.batched_x(),
        p.w,
        p.b,
        p.stride,
        p.padding,
        p.output_padding,
        p.groups,
        p.dilation,
        with_scale=True,
    )
    want, scale = _unbatch(p, want, scale)
    k = (p.w.shape[0] // p.groups) * math.prod(p.w.shape[2:]) + 1
    assert_matches(got, want, k=k, scale=scale)


@given(conv_transpose_problems(), masks, st.data())
def test_conv_transpose_backward_matches_reference(p, mask, data):
    out_shape = _transpose(p).shape
    g = data.draw(arrays(p.dtype, out_shape), label="grad_output")
    gi, gw, gb = _transpose_backward(p, g, output_mask=mask)
    for got, wanted in zip((gi, gw, gb), mask):
        assert (got is not None) == wanted
    g_b = g[None] if p.unbatched else g
    xb = p.batched_x()
    args = (p.stride, p.padding, p.groups, p.dilation)
    if mask[0]:
        want, scale = ref.conv_transpose_nd_grad_input(
            g_b, p.w, xb.shape[2:], *args, with_scale=True
        )
        want, scale = _unbatch(p, want, scale)
        assert_matches(gi, want, k=p.w.shape[1] * math.prod(p.w.shape[2:]), scale=scale)
    if mask[1]:
        want, scale = ref.conv_transpose_nd_grad_weight(
            g_b, xb, p.w.shape[2:], *args, with_scale=True
        )
        assert_matches(gw, want, k=xb.shape[0] * math.prod(xb.shape[2:]), scale=scale)
    if mask[2]:
        want, scale = ref.conv_nd_grad_bias(g_b, with_scale=True)
        assert_matches(gb, want, k=g_b.shape[0] * math.prod(g_b.shape[2:]), scale=scale)


def _ints(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------------------------------
# finite differences (float64): the backward passes are the derivatives of the forward ones
# ---------------------------------------------------------------------------------------------


def _fd_check(loss, args, grads, directions, abs_loss, h=0.5):
    """Central differences of ``loss`` along ``directions`` against ``<grad, direction>``.

    Each loss is linear in each argument, so the central difference is exact up to rounding:
    the tolerance is a multiple of eps times ``abs_loss`` (the loss with every value replaced
    by its magnitude, and the perturbed argument by ``|a| + h|v|``) over ``h``.
    """
    eps = np.finfo(np.float64).eps
    for i, (grad, v) in enumerate(zip(grads, directions)):
        plus = list(args)
        minus = list(args)
        plus[i] = args[i] + h * v
        minus[i] = args[i] - h * v
        fd = (loss(*plus) - loss(*minus)) / (2 * h)
        analytic = float(np.vdot(grad, v))
        bound = abs_loss(i, np.abs(args[i]) + h * np.abs(v))
        tol = 1e3 * eps * bound / h + 1e-300
        assert abs(fd - analytic) <= tol, (i, fd, analytic, tol)


@given(conv_problems(dtypes=("float64",), padding_modes=PADDING_MODES), st.data())
def test_conv_backward_finite_differences(p, data):
    b = p.b if p.b is not None else np.zeros(p.w.shape[0])
    y = _forward(p)
    g = data.draw(arrays(np.float64, y.shape, regimes=("wide",)), label="grad_output")
    dirs = [data.draw(arrays(np.float64, a.shape, regimes=("wide",))) for a in (p.x, p.w, b)]
    grads = _backward(p, g)

    def loss(x, w, bias):
        q = ConvProblem(**{**p.__dict__, "x": x, "w": w, "b": bias})
        return float(np.vdot(g, _forward(q)))

    def abs_loss(i, perturbed):
        vals = [np.abs(p.x), np.abs(p.w), np.abs(b)]
        vals[i] = perturbed
        q = ConvProblem(**{**p.__dict__, "x": vals[0], "w": vals[1], "b": vals[2]})
        return float(np.vdot(np.abs(g), _forward(q)))

    _fd_check(loss, (p.x, p.w, b), grads, dirs, abs_loss)


@given(conv_transpose_problems(dtypes=("float64",)), st.data())
def test_conv_transpose_backward_finite_differences(p, data):
    b = p.b if p.b is not None else np.zeros(p.w.shape[1] * p.groups)
    y = _transpose(p)
    g = data.draw(arrays(np.float64, y.shape, regimes=("wide",)), label="grad_output")
    dirs = [data.draw(arrays(np.float64, a.shape, regimes=("wide",))) for a in (p.x, p.w, b)]
    grads = _transpose_backward(p, g)

    def loss(x, w, bias):
        q = ConvProblem(**{**p.__dict__, "x": x, "w": w, "b": bias})
        return float(np.vdot(g, _transpose(q)))

    def abs_loss(i, perturbed):
        vals = [np.abs(p.x), np.abs(p.w), np.abs(b)]
        vals[i] = perturbed
        q = ConvProblem(**{**p.__dict__, "x": vals[0], "w": vals[1], "b": vals[2]})
        return float(np.vdot(np.abs(g), _transpose(q)))

    _fd_check(loss, (p.x, p.w, b), grads, dirs, abs_loss)


# ---------------------------------------------------------------------------------------------
# unfold / fold
# ---------------------------------------------------------------------------------------------


@given(block_problems())
def test_unfold_matches_reference(problem):
    x, kw = problem
    got = F.unfold(x, **kw)
    want = ref.unfold_nd(x if x.ndim == len(kw["kernel_size"]) + 2 else x[None], **kw)
    if x.ndim == len(kw["kernel_size"]) + 1:
        want = want[0]
    assert got.dtype == x.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # a copy: exact


@given(block_problems(), st.data())
def test_fold_matches_reference(problem, data):
    x, kw = problem
    d = len(kw["kernel_size"])
    cols_shape = F.unfold(x, **kw).shape
    cols = data.draw(arrays(x.dtype, cols_shape), label="columns")
    size = x.shape[-d:]
    got = F.fold(cols, size, **kw)
    unbatched = cols.ndim == 2
    want, scale = ref.fold_nd(cols[None] if unbatched else cols, size, **kw, with_scale=True)
    if unbatched:
        want, scale = want[0], scale[0]
    assert_matches(got, want, k=math.prod(kw["kernel_size"]), scale=scale)


@given(block_problems(), st.data())
def test_unfold_fold_adjoint(problem, data):
    """<fold(y), x> == <y, unfold(x)>: fold is unfold's transpose."""
    x, kw = problem
    d = len(kw["kernel_size"])
    ux = F.unfold(x, **kw)
    y = data.draw(arrays(x.dtype, ux.shape), label="columns")
    fy = F.fold(y, x.shape[-d:], **kw)
    lhs = np.vdot(fy.astype(np.float64), x.astype(np.float64))
    rhs = np.vdot(y.astype(np.float64), ux.astype(np.float64))
    scale = np.vdot(np.abs(y).astype(np.float64), np.abs(ux).astype(np.float64))
    eps = np.finfo(x.dtype).eps
    assert abs(lhs - rhs) <= 8 * eps * math.prod(kw["kernel_size"]) * scale


def test_unfold_fold_two_d_default_and_int_arguments():
    """All-int arguments mean 2-D (torch's unfold/fold), unbatched (C, H, W) included."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    np.testing.assert_array_equal(F.unfold(x, 2, 1, 1, 2), F.unfold(x, (2, 2), (1, 1), 1, (2, 2)))
    np.testing.assert_array_equal(F.unfold(x[0], 2), F.unfold(x, 2)[0])
    cols = F.unfold(x, 3, padding=1)
    assert cols.shape == (2, 27, 30)
    np.testing.assert_array_equal(
        F.fold(cols, (5, 6), 3, padding=1)[1], F.fold(cols[1], (5, 6), 3, padding=1)
    )
    # a 3-D (N, C, L) array with a 1-tuple kernel is 1-D
    assert F.unfold(x[:, :, 0], (2,)).shape == (2, 6, 5)


# ---------------------------------------------------------------------------------------------
# 'same' padding, padding modes against hand-written cases
# ---------------------------------------------------------------------------------------------


def test_same_padding_puts_the_odd_pad_after():
    x = np.arange(5.0).reshape(1, 1, 5)
    w = np.array([[[1.0, 10.0]]])
    np.testing.assert_array_equal(F.conv1d(x, w, padding="same"), [[[10.0, 21, 32, 43, 4]]])
    # stride 2, TF/JAX rule: ceil(5/2) = 3 outputs, total pad (3-1)*2 + 2 - 5 = 1, after
    np.testing.assert_array_equal(F.conv1d(x, w, stride=2, padding="same"), [[[10.0, 32, 4]]])
    # total pad 0 when the kernel fits: stride 3 on 6 with K=1 -> 2 outputs
    y = F.conv1d(np.arange(6.0).reshape(1, 1, 6), np.ones((1, 1, 1)), stride=3, padding="same")
    np.testing.assert_array_equal(y, [[[0.0, 3.0]]])


@pytest.mark.parametrize(
    "mode, want",
    [
        ("zeros", [0, 1, 2, 3, 4, 0]),
        ("reflect", [2, 1, 2, 3, 4, 3]),
        ("replicate", [1, 1, 2, 3, 4, 4]),
        ("circular", [4, 1, 2, 3, 4, 1]),
    ],
)
def test_padding_modes_by_hand(mode, want):
    x = np.array([[[1.0, 2, 3, 4]]])
    y = F.conv1d(x, np.ones((1, 1, 1)), padding=1, padding_mode=mode)
    np.testing.assert_array_equal(y, [[want]])
    # the input gradient of an all-ones output gradient counts the copies of each element
    gi, _, _ = F.conv1d_backward(
        np.ones((1, 1, 6)), x, np.ones((1, 1, 1)), padding=1, padding_mode=mode
    )
    counts = {
        "zeros": [1, 1, 1, 1],
        "reflect": [1, 2, 2, 1],
        "replicate": [2, 1, 1, 2],
        "circular": [2, 1, 1, 2],
    }
    np.testing.assert_array_equal(gi, [[counts[mode]]])


# ---------------------------------------------------------------------------------------------
# out=, layouts, determinism
# ---------------------------------------------------------------------------------------------


@given(conv_problems(max_macs=5000))
def test_conv_out_buffer(p):
    want = _forward(p)
    out = np.full(want.shape, np.nan, want.dtype)
    got = _forward(p, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want)


@given(conv_transpose_problems(max_macs=5000))
def test_conv_transpose_out_buffer(p):
    want = _transpose(p)
    out = np.full(want.shape, np.nan, want.dtype)
    got = _transpose(p, out=out)
    assert got is out
    np.testing.assert_array_equal(out, want)


def test_output_padding_beyond_padding_leaves_zeros():
    """output_padding > padding (allowed when below the dilation) appends positions that no
    term reaches: they hold the bias only."""
    x = np.ones((1, 1, 1))
    w = np.ones((1, 1, 1))
    y = F.conv_transpose1d(x, w, np.array([0.5]), stride=1, padding=0, output_padding=2, dilation=3)
    np.testing.assert_array_equal(y, [[[1.5, 0.5, 0.5]]])
    out = np.empty((1, 1, 3))
    assert F.conv_transpose1d(x, w, None, 1, 0, 2, 1, 3, out=out) is out
    np.testing.assert_array_equal(out, [[[1.0, 0.0, 0.0]]])
    gi, gw, gb = F.conv_transpose1d_backward(np.array([[[2.0, 3.0, 5.0]]]), x, w, 1, 0, 2, 1, 3)
    np.testing.assert_array_equal(gi, [[[2.0]]])
    np.testing.assert_array_equal(gw, [[[2.0]]])
    np.testing.assert_array_equal(gb, [10.0])


@pytest.mark.parametrize("layout", ["F", "step", "neg", "list"])
def test_layouts_give_the_contiguous_result(layout):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    wt = rng.standard_normal((4, 3, 3, 2))

    def relayout(a):
        if layout == "F":
            return np.asfortranarray(a)
        if layout == "neg":
            return np.flip(np.flip(a).copy())
        if layout == "list":
            return a.tolist()
        big = np.zeros([2 * n for n in a.shape], a.dtype)
        big[tuple(slice(None, None, 2) for _ in a.shape)] = a
        return big[tuple(slice(None, None, 2) for _ in a.shape)]

    args = dict(stride=(2, 1), padding=(0, 1), groups=2)
    want = F.conv2d(x, w, **args)
    np.testing.assert_array_equal(F.conv2d(relayout(x), relayout(w), **args), want)
    g = rng.standard_normal(want.shape)
    for got, expected in zip(
        F.conv2d_backward(relayout(g), relayout(x), relayout(w), **args),
        F.conv2d_backward(g, x, w, **args),
    ):
        np.testing.assert_array_equal(got, expected)
    t_args = dict(stride=2, padding=1, output_padding=1, groups=2)
    yt = F.conv_transpose2d(x, wt, **t_args)
    np.testing.assert_array_equal(F.conv_transpose2d(relayout(x), relayout(wt), **t_args), yt)
    gt = rng.standard_normal(yt.shape)
    for got, expected in zip(
        F.conv_transpose2d_backward(relayout(gt), relayout(x), relayout(wt), **t_args),
        F.conv_transpose2d_backward(gt, x, wt, **t_args),
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(F.unfold(relayout(x), 2), F.unfold(x, 2))
    cols = F.unfold(x, 2)
    np.testing.assert_array_equal(F.fold(relayout(cols), (7, 6), 2), F.fold(cols, (7, 6), 2))


_BIG = {
    1: ((4, 16, 512), (16, 8, 5), 2),
    2: ((4, 16, 32, 32), (16, 16, 3, 3), 1),
    3: ((2, 8, 12, 12, 12), (8, 4, 3, 3, 3), 2),
}


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_does_not_change_results(d, dtype):
    """Every function, workers=1, 2 and all cores: bitwise equal (sizes large enough for the
    engine to split the work)."""
    rng = np.random.default_rng(d)
    xs, ws, groups = _BIG[d]
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    wt = rng.standard_normal((xs[1], 3, *ws[2:])).astype(dtype)
    conv_args = (2, 1, 1, groups)
    t_args = (2, 1, 1, 1, 1)  # stride, padding, output_padding, groups, dilation
    g = rng.standard_normal(_conv_fn(d)(x, w, None, *conv_args).shape).astype(dtype)
    gt = rng.standard_normal(_transpose_fn(d)(x, wt, None, *t_args).shape).astype(dtype)
    k = ws[2:]
    cols = F.unfold(x, k, 1, 1, 2)

    def everything(workers):
        return [
            _conv_fn(d)(x, w, None, *conv_args, workers=workers),
            *_conv_fn(d, "_backward")(g, x, w, *conv_args, workers=workers),
            *_conv_fn(d, "_backward")(
                g, x, w, *conv_args, padding_mode="circular", workers=workers
            ),
            _transpose_fn(d)(x, wt, None, *t_args, workers=workers),
            *_transpose_fn(d, "_backward")(gt, x, wt, *t_args, workers=workers),
            F.unfold(x, k, 1, 1, 2, workers=workers),
            F.fold(cols, xs[2:], k, 1, 1, 2, workers=workers),
        ]

    first = everything(1)
    for workers in (2, -1):
        for a, b in zip(first, everything(workers), strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------

_X1 = np.zeros((1, 4, 8))
_W1 = np.zeros((2, 2, 3))
_X2 = np.zeros((1, 2, 5, 5))
_W2 = np.zeros((3, 2, 3, 3))

_ARGUMENT_ERRORS = [
    # (call, substring of the message)
    (lambda: F.conv1d(_X1, _W1), "to have 2 channels, but got 4"),
    (lambda: F.conv1d(_X1, _W1, groups=3), "divisible by groups"),
    (lambda: F.conv1d(_X1, np.zeros((3, 2, 3)), groups=2), "divisible by groups"),
    (lambda: F.conv1d(_X1, _W1, groups=0), "groups must be positive"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 9))), "output size"),
    (lambda: F.conv1d(np.zeros(8), _W1), "expected 2D (unbatched) or 3D (batched) input"),
    (lambda: F.conv2d(np.zeros((2, 8)), _W2), "expected 3D (unbatched) or 4D (batched) input"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4))), "weight"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 0))), "kernel size must be positive"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), np.zeros(3)), "bias"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), stride=0), "stride must be positive"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), dilation=-1), "dilation must be positive"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), padding=-1), "padding must be non-negative"),
    (lambda: F.conv2d(_X2, _W2, stride=(1, 1, 1)), "stride"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), padding="full"), "invalid padding string"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), padding_mode="mirror"), "padding_mode"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), padding=8, padding_mode="reflect"), "reflect"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), padding=9, padding_mode="circular"), "circular"),
    (lambda: F.conv1d_backward(np.zeros((1, 2, 5)), _X1, np.zeros((2, 4, 3))), "grad_output"),
    (
        lambda: F.conv1d_backward(
            np.zeros((1, 2, 6)), _X1, np.zeros((2, 4, 3)), output_mask=(True, True)
        ),
        "output_mask",
    ),
    (lambda: F.conv_transpose1d(_X1, _W1), "to have 2 channels, but got 4"),
    (lambda: F.conv_transpose1d(_X1, np.zeros((4, 1, 3)), groups=3), "divisible by groups"),
    (
        lambda: F.conv_transpose1d(_X1, np.zeros((4, 1, 3)), stride=2, output_padding=2),
        "output padding must be smaller than either stride or dilation",
    ),
    (lambda: F.conv_transpose1d(_X1, np.zeros((4, 1, 1)), padding=4), "output size"),
    (
        lambda: F.conv_transpose1d_backward(np.zeros((1, 1, 9)), _X1, np.zeros((4, 1, 3))),
        "grad_output",
    ),
    (lambda: F.unfold(_X2, 6), "sliding blocks"),
    (lambda: F.unfold(_X2, (2, 2), stride=(1, 1, 1)), "sequence arguments"),
    (lambda: F.unfold(np.zeros((2, 5)), 2), "input"),
    (lambda: F.fold(np.zeros((1, 8, 3)), 3, 2), "sliding blocks 4, but got 3"),
    (lambda: F.fold(np.zeros((1, 7, 4)), 3, 2), "divisible by the product of kernel_size"),
    (lambda: F.fold(np.zeros((1, 2, 8, 4)), 3, 2), "expected 2D (unbatched) or 3D"),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), out=np.zeros((1, 2, 5))), "out has shape"),
    (
        lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), out=np.zeros((1, 6, 2)).transpose(0, 2, 1)),
        "C-contiguous",
    ),
    (
        lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), out=np.broadcast_to(np.zeros(1), (1, 2, 6))),
        "C-contiguous",
    ),
    (lambda: F.conv1d(_X1, np.zeros((2, 4, 3)), workers=0), "workers"),
]


@pytest.mark.parametrize("call, message", _ARGUMENT_ERRORS)
def test_argument_errors(call, message):
    with pytest.raises(ConvArgumentError if "workers" not in message else ValueError) as info:
        call()
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)
    if "workers" not in message:
        assert isinstance(info.value, RuntimeError)


def test_out_must_not_overlap_the_input():
    x = np.zeros((1, 2, 12))
    with pytest.raises(ConvArgumentError, match="overlap"):
        F.conv1d(x[:, :, :6], np.zeros((1, 2, 1)), out=x[:, :1, 6:])
    out = np.zeros((1, 2, 6), np.float32)
    with pytest.raises(ConvDtypeError, match="out has dtype float32"):
        F.conv1d(x[:, :, :6].copy(), np.zeros((2, 2, 1)), out=out)
    frozen = np.zeros((1, 2, 6))
    frozen.flags.writeable = False
    with pytest.raises(ConvArgumentError, match="read-only"):
        F.conv1d(x[:, :, :6].copy(), np.zeros((2, 2, 1)), out=frozen)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16", "complex128", "object"])
def test_non_float_dtypes_raise_type_error(dtype):
    x = np.zeros((1, 2, 5), dtype)
    w = np.zeros((1, 2, 3), dtype)
    for call in (
        lambda: F.conv1d(x, w),
        lambda: F.conv1d_backward(np.zeros((1, 1, 3), dtype), x, w),
        lambda: F.conv_transpose1d(x, np.zeros((2, 1, 3), dtype)),
        lambda: F.unfold(x, (2,)),
        lambda: F.fold(np.zeros((1, 4, 4), dtype), (5,), (2,)),
    ):
        with pytest.raises(ConvDtypeError, match=f"dtype {np.dtype(dtype)}") as info:
            call()
        assert isinstance(info.value, TypeError) and isinstance(info.value, RuntimeError)
    with pytest.raises(TypeError, match="dtype"):
        F.conv1d([[[1, 2, 3]]], [[[1.0]]])  # a list of ints is int64


def test_mixed_float_dtypes_raise_type_error():
    x = np.zeros((1, 2, 5), np.float32)
    with pytest.raises(ConvDtypeError, match="weight has dtype float64"):
        F.conv1d(x, np.zeros((1, 2, 3)))
    with pytest.raises(ConvDtypeError, match="bias has dtype float64"):
        F.conv1d(x, np.zeros((1, 2, 3), np.float32), np.zeros(1))
    with pytest.raises(ConvDtypeError, match="grad_output has dtype float64"):
        F.conv1d_backward(np.zeros((1, 1, 3)), x, np.zeros((1, 2, 3), np.float32))


def test_bad_argument_types_raise_type_error():
    with pytest.raises(TypeError, match="stride"):
        F.conv1d(_X1, np.zeros((2, 4, 3)), stride=1.5)
    with pytest.raises(TypeError, match="groups"):
        F.conv1d(_X1, np.zeros((2, 4, 3)), groups="1")
    with pytest.raises(TypeError, match="workers"):
        F.conv1d(_X1, np.zeros((2, 4, 3)), workers=1.0)


def test_empty_batch_and_channels():
    y = F.conv2d(np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.arange(3.0))
    assert y.shape == (0, 3, 3, 3)
    gi, gw, gb = F.conv2d_backward(
        np.zeros((0, 3, 3, 3)), np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3))
    )
    assert gi.shape == (0, 2, 5, 5) and not gw.any() and gw.shape == (3, 2, 3, 3)
    np.testing.assert_array_equal(gb, np.zeros(3))
    y = F.conv1d(np.zeros((2, 0, 5)), np.ones((3, 0, 2)), np.arange(3.0))
    np.testing.assert_array_equal(y, np.broadcast_to(np.arange(3.0)[:, None], (2, 3, 4)))


# ---------------------------------------------------------------------------------------------
# torch (optional): forward and autograd
# ---------------------------------------------------------------------------------------------


def _torch():
    """torch (skipping the test without it), on one thread: the calls are tiny."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _tensor(torch, a, **kwargs):
    """A torch tensor copy of ``a`` (torch refuses negative strides)."""
    return torch.tensor(np.array(a, order="C", copy=True), **kwargs)


def _torch_abs_scale(fn, *arrays_):
    """``fn`` on the magnitudes of the arrays, in float64 (the scale of the error bound)."""
    torch = _torch()
    return fn(
        *[None if a is None else _tensor(torch, np.abs(np.asarray(a, np.float64))) for a in arrays_]
    ).numpy()


def _torch_pad(torch, x, pads, mode):
    flat = [v for pair in reversed(pads) for v in pair]
    if mode == "zeros":
        return torch.nn.functional.pad(x, flat)
    return torch.nn.functional.pad(x, flat, mode=mode)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(conv_problems(padding_modes=PADDING_MODES), st.data())
def test_conv_matches_torch(p, data):
    """Forward and autograd against torch: ``nn.ConvNd(padding_mode=...)``'s computation
    (torch pads with F.pad and convolves unpadded); torch's own 'same' for stride 1."""
    torch = _torch()
    tf = torch.nn.functional
    conv = getattr(tf, f"conv{p.d}d")

    strided_same = p.padding == "same" and set(_ints(p.stride, p.d)) != {1}

    def run(x, w, b):
        if p.padding_mode == "zeros" and not strided_same:  # torch's own padding (and 'same')
            return conv(x, w, b, p.stride, p.padding, p.dilation, p.groups)
        xb = x[None] if p.unbatched else x
        y = conv(
            _torch_pad(torch, xb, p.pads, p.padding_mode), w, b, p.stride, 0, p.dilation, p.groups
        )
        return y[0] if p.unbatched else y

    xt = _tensor(torch, p.x, requires_grad=True)
    wt = _tensor(torch, p.w, requires_grad=True)
    bt = None if p.b is None else _tensor(torch, p.b, requires_grad=True)
    yt = run(xt, wt, bt)
    got = _forward(p)
    scale = _torch_abs_scale(run, p.x, p.w, p.b)
    assert_matches(got, yt.detach().numpy(), k=math.prod(p.w.shape[1:]) + 1, scale=scale)
    g = data.draw(arrays(p.dtype, got.shape), label="grad_output")
    yt.backward(_tensor(torch, g))
    gi, gw, gb = _backward(p, g)
    n_out = max(1, math.prod(g.shape) // g.shape[-p.d - 1])
    assert_matches(
        gi,
        xt.grad.numpy(),
        k=p.w.shape[0] * math.prod(p.w.shape[2:]) * _copies(p),
        scale=_torch_grad_scale(run, p, g, 0),
    )
    assert_matches(gw, wt.grad.numpy(), k=n_out, scale=_torch_grad_scale(run, p, g, 1))
    if p.b is not None:
        assert_matches(gb, bt.grad.numpy(), k=n_out, scale=_torch_grad_scale(run, p, g, 2))


def _torch_grad_scale(run, p, g, which):
    """The gradient of ``<|g|, run(|x|, |w|, |b|)>`` with respect to argument ``which``: every
    gradient element's sum of absolute terms."""
    torch = _torch()
    args = [
        _tensor(torch, np.abs(np.asarray(a, np.float64)), requires_grad=True)
        if a is not None
        else None
        for a in (p.x, p.w, p.b)
    ]
    run(*args).backward(_tensor(torch, np.abs(g.astype(np.float64))))
    return args[which].grad.numpy()


@given(conv_transpose_problems(), st.data())
def test_conv_transpose_matches_torch(p, data):
    torch = _torch()
    fn = getattr(torch.nn.functional, f"conv_transpose{p.d}d")

    def run(x, w, b):
        return fn(x, w, b, p.stride, p.padding, p.output_padding, p.groups, p.dilation)

    xt = _tensor(torch, p.x, requires_grad=True)
    wt = _tensor(torch, p.w, requires_grad=True)
    bt = None if p.b is None else _tensor(torch, p.b, requires_grad=True)
    yt = run(xt, wt, bt)
    got = _transpose(p)
    k = (p.w.shape[0] // p.groups) * math.prod(p.w.shape[2:]) + 1
    assert_matches(got, yt.detach().numpy(), k=k, scale=_torch_abs_scale(run, p.x, p.w, p.b))
    g = data.draw(arrays(p.dtype, got.shape), label="grad_output")
    yt.backward(_tensor(torch, g))
    gi, gw, gb = _transpose_backward(p, g)
    n_out = math.prod(g.shape) // g.shape[-p.d - 1]
    n_in = math.prod(p.x.shape) // p.x.shape[-p.d - 1]
    assert_matches(
        gi,
        xt.grad.numpy(),
        k=p.w.shape[1] * math.prod(p.w.shape[2:]),
        scale=_torch_grad_scale(run, p, g, 0),
    )
    assert_matches(gw, wt.grad.numpy(), k=n_in, scale=_torch_grad_scale(run, p, g, 1))
    if p.b is not None:
        assert_matches(gb, bt.grad.numpy(), k=n_out, scale=_torch_grad_scale(run, p, g, 2))


@given(block_problems(ndims=(2,)), st.data())
def test_unfold_fold_match_torch(problem, data):
    torch = _torch()
    x, kw = problem
    want = torch.nn.functional.unfold(_tensor(torch, x), **kw).numpy()
    got = F.unfold(x, **kw)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    cols = data.draw(arrays(x.dtype, got.shape), label="columns")
    size = x.shape[-2:]
    want = torch.nn.functional.fold(_tensor(torch, cols), size, **kw).numpy()
    scale = torch.nn.functional.fold(_tensor(torch, np.abs(cols.astype(np.float64))), size, **kw)
    assert_matches(
        F.fold(cols, size, **kw), want, k=math.prod(kw["kernel_size"]), scale=scale.numpy()
    )

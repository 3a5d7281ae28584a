"""Test the tester: the neural-network references of fastconv.reference (``_reference_nn``).

Without torch: hand-computed cases, and identities that tie the references to each other
through definitions they do not share (each gradient is the adjoint of its forward pass,
``<f(x), g> == <x, f^T(g)>``; a convolution is a weight matrix times ``unfold``; a transposed
convolution with ``output_padding=0`` is the convolution's input gradient; ``pad_nd`` is
``np.pad``). With torch installed: every reference against torch in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastconv import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from nn_strategies import PADDING_MODES, block_problems, conv_problems, conv_transpose_problems
from strategies import arrays

SMALL = 4000  # multiply-adds per reference call: each test makes several


def _dot(a, b) -> float:
    return float(np.vdot(np.asarray(a, np.float64), np.asarray(b, np.float64)))


def _close(a: float, b: float, scale: float) -> None:
    assert abs(a - b) <= 1e-12 * max(scale, 1e-300), (a, b, scale)


def test_hand_computed_cases():
    x = np.array([[[1.0, 2, 3, 4]]])
    w = np.array([[[1.0, 10]]])
    np.testing.assert_array_equal(ref.conv_nd(x, w), [[[21.0, 32, 43]]])
    np.testing.assert_array_equal(
        ref.conv_nd(x, w, np.array([0.5]), 2, ((1, 0),)), [[[10.5, 32.5]]]
    )
    np.testing.assert_array_equal(ref.conv_nd(x, w, dilation=3), [[[41.0]]])
    g = np.array([[[1.0, 0, 2]]])
    np.testing.assert_array_equal(ref.conv_nd_grad_input(g, w, (4,)), [[[1.0, 10, 2, 20]]])
    np.testing.assert_array_equal(ref.conv_nd_grad_weight(g, x, (2,)), [[[7.0, 10]]])
    np.testing.assert_array_equal(ref.conv_nd_grad_bias(g), [3.0])
    # groups=2: each output channel sees its own input channel
    x2 = np.array([[[1.0, 2], [3, 4]]])
    np.testing.assert_array_equal(ref.conv_nd(x2, np.ones((2, 1, 1)), groups=2), x2)
    # transposed: stride 2 spreads the input, output_padding appends a zero
    np.testing.assert_array_equal(
        ref.conv_transpose_nd(np.array([[[1.0, 2]]]), np.array([[[1.0, 10]]]), None, 2, 0, 1),
        [[[1.0, 10, 2, 20, 0]]],
    )
    np.testing.assert_array_equal(ref.unfold_nd(x, (2,), stride=2), [[[1.0, 3], [2, 4]]])
    np.testing.assert_array_equal(ref.fold_nd(np.ones((1, 2, 3)), (4,), (2,)), [[[1.0, 2, 2, 1]]])
    np.testing.assert_array_equal(ref.pad_nd(x, ((2, 1),), "reflect"), [[[3.0, 2, 1, 2, 3, 4, 3]]])
    assert ref.same_padding((5,), (2,), 2) == ((0, 1),)
    assert ref.same_padding((7, 4), (3, 4), 1, (2, 1)) == ((2, 2), (1, 2))


@given(conv_problems(max_macs=SMALL), st.data())
def test_gradients_are_adjoints_of_the_forward_pass(p, data):
    xb = p.batched_x()
    args = (p.stride, p.pads, p.dilation, p.groups)
    y = ref.conv_nd(xb, p.w, None, *args)
    g = data.draw(arrays(np.float64, y.shape, regimes=("wide",)))
    x64, w64 = xb.astype(np.float64), p.w.astype(np.float64)
    y64 = ref.conv_nd(x64, w64, None, *args)
    gi = ref.conv_nd_grad_input(g, w64, xb.shape[2:], *args)
    gw = ref.conv_nd_grad_weight(g, x64, p.w.shape[2:], *args)
    scale = _dot(np.abs(g), ref.conv_nd(np.abs(x64), np.abs(w64), None, *args))
    _close(_dot(g, y64), _dot(gi, x64), scale)
    _close(_dot(g, y64), _dot(gw, w64), scale)
    bias = data.draw(arrays(np.float64, (p.w.shape[0],)))
    with_bias = ref.conv_nd(x64, w64, bias, *args)
    _close(
        _dot(g, with_bias - y64),
        _dot(ref.conv_nd_grad_bias(g), bias),
        _dot(np.abs(g), np.abs(with_bias) + np.abs(y64)),
    )


@given(conv_problems(max_macs=SMALL, dtypes=("float64",)))
def test_conv_is_a_weight_matrix_times_unfold(p):
    """For each group: ``W_g @ unfold(x_g)``, with unfold's row order (c, k)."""
    xb = p.batched_x()
    y = ref.conv_nd(xb, p.w, p.b, p.stride, p.pads, p.dilation, p.groups)
    c_ig, c_og = p.w.shape[1], p.w.shape[0] // p.groups
    for grp in range(p.groups):
        cols = ref.unfold_nd(
            xb[:, grp * c_ig : (grp + 1) * c_ig], p.w.shape[2:], p.dilation, p.pads, p.stride
        )
        wg = p.w[grp * c_og : (grp + 1) * c_og].reshape(c_og, -1)
        want = np.einsum("ok,nkl->nol", wg, cols).reshape(y[:, grp * c_og : (grp + 1) * c_og].shape)
        if p.b is not None:
            want = want + p.b[grp * c_og : (grp + 1) * c_og].reshape((c_og,) + (1,) * p.d)
        np.testing.assert_allclose(
            y[:, grp * c_og : (grp + 1) * c_og],
            want,
            rtol=1e-9,
            atol=1e-9 * np.abs(want).max(initial=1.0),
        )


@given(conv_transpose_problems(max_macs=SMALL, dtypes=("float64",)), st.data())
def test_transposed_convolution_identities(p, data):
    xb = p.batched_x()
    y = ref.conv_transpose_nd(
        xb, p.w, None, p.stride, p.padding, p.output_padding, p.groups, p.dilation
    )
    g = data.draw(arrays(np.float64, y.shape, regimes=("wide",)))
    targs = (p.stride, p.padding, p.groups, p.dilation)
    gi = ref.conv_transpose_nd_grad_input(g, p.w, xb.shape[2:], *targs)
    gw = ref.conv_transpose_nd_grad_weight(g, xb, p.w.shape[2:], *targs)
    scale = _dot(
        np.abs(g),
        ref.conv_transpose_nd(
            np.abs(xb),
            np.abs(p.w),
            None,
            p.stride,
            p.padding,
            p.output_padding,
            p.groups,
            p.dilation,
        ),
    )
    _close(_dot(g, y), _dot(gi, xb), scale)
    _close(_dot(g, y), _dot(gw, p.w), scale)
    op = p.output_padding if isinstance(p.output_padding, int) else tuple(p.output_padding)
    if op in (0, (0,) * p.d):  # then it is exactly the convolution's input gradient
        want = ref.conv_nd_grad_input(xb, p.w, y.shape[2:], p.stride, p.pads, p.dilation, p.groups)
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12 * scale)


@given(block_problems(), st.data())
def test_fold_is_the_adjoint_of_unfold(problem, data):
    x, kw = problem
    x = x.astype(np.float64)
    xb = x if x.ndim == len(kw["kernel_size"]) + 2 else x[None]
    cols = ref.unfold_nd(xb, **kw)
    y = data.draw(arrays(np.float64, cols.shape, regimes=("wide",)))
    back = ref.fold_nd(y, xb.shape[2:], **kw)
    _close(_dot(back, xb), _dot(y, cols), _dot(np.abs(y), np.abs(cols)))


@given(
    st.integers(1, 3).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.lists(st.integers(1, 5), min_size=d, max_size=d),
            st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=d, max_size=d),
        )
    ),
    st.sampled_from(PADDING_MODES),
    st.data(),
)
def test_pad_nd_is_np_pad_and_its_adjoint(shape_pads, mode, data):
    d, S, pads = shape_pads
    limit = {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(mode, lambda n: 4)
    pads = [(min(a, limit(n)), min(b, limit(n))) for n, (a, b) in zip(S, pads)]
    x = data.draw(arrays(np.float64, (2, 1, *S), regimes=("wide",)))
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    got = ref.pad_nd(x, pads, mode)
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), (0, 0), *pads), mode=np_mode[mode]))
    g = data.draw(arrays(np.float64, got.shape, regimes=("wide",)))
    back = ref.pad_nd_adjoint(g, S, pads, mode)
    _close(_dot(g, got), _dot(back, x), _dot(np.abs(g), np.abs(got)) * math.prod(S))


# ---------------------------------------------------------------------------------------------
# against torch (optional)
# ---------------------------------------------------------------------------------------------


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _t(torch, a, grad=False):
    return torch.tensor(np.array(a, np.float64, order="C", copy=True), requires_grad=grad)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(conv_problems(max_macs=SMALL), st.data())
def test_conv_references_match_torch(p, data):
    torch = _torch()
    tf = torch.nn.functional
    xb = p.batched_x()
    xt, wt = _t(torch, xb, True), _t(torch, p.w, True)
    bt = None if p.b is None else _t(torch, p.b, True)
    flat = [v for pair in reversed(p.pads) for v in pair]
    yt = getattr(tf, f"conv{p.d}d")(tf.pad(xt, flat), wt, bt, p.stride, 0, p.dilation, p.groups)
    args = (p.stride, p.pads, p.dilation, p.groups)
    y = ref.conv_nd(xb.astype(np.float64), p.w.astype(np.float64), p.b, *args)
    tol = dict(rtol=1e-10, atol=1e-10 * float(np.abs(yt.detach().numpy()).max(initial=1.0)))
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    g = data.draw(arrays(np.float64, y.shape, regimes=("small",)))
    yt.backward(_t(torch, g))
    gi = ref.conv_nd_grad_input(g, p.w.astype(np.float64), xb.shape[2:], *args)
    gw = ref.conv_nd_grad_weight(g, xb.astype(np.float64), p.w.shape[2:], *args)
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-8)
    if bt is not None:
        np.testing.assert_allclose(ref.conv_nd_grad_bias(g), bt.grad.numpy(), rtol=1e-12)


@given(conv_transpose_problems(max_macs=SMALL), st.data())
def test_conv_transpose_references_match_torch(p, data):
    torch = _torch()
    fn = getattr(torch.nn.functional, f"conv_transpose{p.d}d")
    xb = p.batched_x().astype(np.float64)
    w = p.w.astype(np.float64)
    xt, wt = _t(torch, xb, True), _t(torch, w, True)
    bt = None if p.b is None else _t(torch, p.b)
    yt = fn(xt, wt, bt, p.stride, p.padding, p.output_padding, p.groups, p.dilation)
    y = ref.conv_transpose_nd(
        xb, w, p.b, p.stride, p.padding, p.output_padding, p.groups, p.dilation
    )
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-8)
    g = data.draw(arrays(np.float64, y.shape, regimes=("small",)))
    yt.backward(_t(torch, g))
    targs = (p.stride, p.padding, p.groups, p.dilation)
    gi = ref.conv_transpose_nd_grad_input(g, w, xb.shape[2:], *targs)
    gw = ref.conv_transpose_nd_grad_weight(g, xb, w.shape[2:], *targs)
    np.testing.assert_allclose(gi, xt.grad.numpy(), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-8)


@given(block_problems(ndims=(2,)), st.sampled_from(PADDING_MODES[1:]))
def test_block_and_pad_references_match_torch(problem, mode):
    torch = _torch()
    tf = torch.nn.functional
    x, kw = problem
    xb = x if x.ndim == 4 else x[None]
    cols = ref.unfold_nd(xb, **kw)
    np.testing.assert_array_equal(cols, tf.unfold(_t(torch, xb), **kw).numpy())
    back = ref.fold_nd(cols, xb.shape[2:], **kw)
    want = tf.fold(_t(torch, cols), xb.shape[2:], **kw).numpy()
    np.testing.assert_allclose(back, want, rtol=1e-6)
    limit = (lambda n: n - 1) if mode == "reflect" else (lambda n: n)
    pads = tuple(
        (min(p, limit(n)), min(p + 1, limit(n))) for p, n in zip(kw["padding"], xb.shape[2:])
    )
    flat = [v for pair in reversed(pads) for v in pair]
    np.testing.assert_array_equal(
        ref.pad_nd(xb.astype(np.float64), pads, mode), tf.pad(_t(torch, xb), flat, mode=mode)
    )

"""The Winograd F(2x2, 3x3) path of the 2-D convolution (float32, AVX-512): 3x3 kernels,
stride 1, no dilation, one group, at least 16 channels each way and 4 samples.

The shapes of ``tests/nn_strategies.py`` are too small to reach it, so these problems are drawn
here: 16-26 channels (not whole vectors of 16), 4-5 samples, planes of 1 to 9 rows and columns
with every padding from 0 to 2 per axis. float64 problems of the same shapes take the other
paths.

The expected values are a float64 ``einsum`` over the padded input's 3x3 windows (the
definition, vectorised: the pure-Python reference loops would take seconds per problem).

Tolerance: the rule of ``strategies.assert_matches``, ``4 * eps * K * S``, with the scale ``S``
and term count ``K`` of the algorithm. Winograd computes each 2x2 output tile as
``A^T [(G g G^T) . (B^T d B)] A`` summed over channels, so its rounding errors scale with the
same expression taken over absolute values, ``S = |A^T| [(|G| |g| |G^T|) . (|B^T| |d| |B|)]
|A|`` (summed over channels; for the weight gradient ``|G^T| [sum over tiles (|A| |dY| |A^T|)
. (|B^T| |d| |B|)] |G|``). It covers the direct sum's scale, but also the weights and inputs a
tile touches that a given output does not use: a kernel with taps of 1e4 beside taps of 1e-3
loses the small taps' low bits in ``G g G^T``. ``K`` is the direct sum's term count plus 16
for the transforms' additions.

Inputs with infinities or NaNs must give the direct sum's NaN and infinity positions (the path
falls back to the direct algorithms for them).
"""

from __future__ import annotations

import fastconv.nn.functional as F
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from strategies import arrays, assert_matches


@st.composite
def winograd_problems(draw, nonfinite: bool = False):
    """``(x, w, b, pads)``: a convolution the Winograd path takes in float32."""
    dtype = np.dtype(draw(st.sampled_from(["float32", "float32", "float64"])))
    n = draw(st.integers(4, 5))
    c_in, c_out = draw(st.integers(16, 26)), draw(st.integers(16, 26))
    pads = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    sides = tuple(max(1, 3 - 2 * p) + draw(st.integers(0, 6)) for p in pads)
    x = draw(arrays(dtype, (n, c_in, *sides), nonfinite=nonfinite))
    w = draw(arrays(dtype, (c_out, c_in, 3, 3), nonfinite=nonfinite))
    b = draw(st.none() | arrays(dtype, (c_out,)))
    return x, w, b, pads


def _f64(a):
    """A float64 copy with real strides: ``einsum`` factors a broadcast (stride 0) operand out
    of its sums (``inf * sum(w)`` instead of the sum of ``inf * w``, NaN for mixed signs)."""
    return np.array(a, np.float64, order="C", copy=True)


def _windows(x, pads):
    """The padded input's 3x3 windows, (N, C_in, H_out, W_out, 3, 3), in float64."""
    (ph, pw), x64 = pads, _f64(x)
    padded = np.pad(x64, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_window_view(padded, (3, 3), axis=(2, 3))


# F(2x2, 3x3): input, kernel and output transforms (absolute values: the error scale).
BT = np.abs(np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float))
G = np.abs(np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]))
AT = np.abs(np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float))
TRANSFORM_TERMS = 16


def _patch_scale(x, pads, out_hw):
    """``|B^T| |d| |B|`` of every tile's 4x4 patch, (N, C, tiles_h, tiles_w, 4, 4)."""
    (ph, pw), (n, c, h, wd) = pads, x.shape
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    padded = np.zeros((n, c, 2 * th + 2, 2 * tw + 2))
    padded[:, :, ph : ph + h, pw : pw + wd] = np.abs(np.asarray(x, np.float64))
    d = sliding_window_view(padded, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
    return np.einsum("ij,nctujk,lk->nctuil", BT, d, BT)


def _winograd_scale(x, w, b, pads):
    """The forward pass's error scale (module docstring), (N, C_out, H_out, W_out)."""
    ho, wo = (x.shape[2] + 2 * pads[0] - 2, x.shape[3] + 2 * pads[1] - 2)
    v = _patch_scale(x, pads, (ho, wo))
    u = np.einsum("ia,ocab,jb->ocij", G, np.abs(np.asarray(w, np.float64)), G)
    y = np.einsum("ai,notuij,bj->notuab", AT, np.einsum("nctuij,ocij->notuij", v, u), AT)
    n, o, th, tw = y.shape[:4]
    y = y.transpose(0, 1, 2, 4, 3, 5).reshape(n, o, 2 * th, 2 * tw)[:, :, :ho, :wo]
    if b is not None:
        y = y + np.abs(np.asarray(b, np.float64))[:, None, None]
    return y


def _forward64(x, w, b, pads):
    """(value, scale) of the forward pass in float64."""
    win, w64 = _windows(x, pads), _f64(w)
    y = np.einsum("nchwij,ocij->nohw", win, w64)
    s = np.einsum("nchwij,ocij->nohw", np.abs(win), np.abs(w64))
    if b is not None:
        y = y + _f64(b)[:, None, None]
        s = s + np.abs(_f64(b))[:, None, None]
    return y, s


def _grad_input64(g, w, x_shape, pads):
    """(value, scale) of the input gradient in float64: each tap's products added back."""
    (ph, pw), (n, c_in, h, wd) = pads, x_shape
    g64, w64 = _f64(g), _f64(w)
    ho, wo = g.shape[2:]
    gi = np.zeros((n, c_in, h + 2 * ph, wd + 2 * pw))
    si = np.zeros_like(gi)
    for i in range(3):
        for j in range(3):
            gi[:, :, i : i + ho, j : j + wo] += np.einsum("nohw,oc->nchw", g64, w64[:, :, i, j])
            si[:, :, i : i + ho, j : j + wo] += np.einsum(
                "nohw,oc->nchw", np.abs(g64), np.abs(w64[:, :, i, j])
            )
    crop = (slice(None), slice(None), slice(ph, ph + h), slice(pw, pw + wd))
    return gi[crop], si[crop]


def _grad_weight64(g, x, pads):
    """(value, scale) of the weight gradient in float64."""
    win, g64 = _windows(x, pads), _f64(g)
    gw = np.einsum("nohw,nchwij->ocij", g64, win)
    return gw, np.einsum("nohw,nchwij->ocij", np.abs(g64), np.abs(win))


def _winograd_weight_scale(g, x, pads):
    """The weight gradient's error scale (module docstring), (C_out, C_in, 3, 3)."""
    ho, wo = g.shape[2:]
    v = _patch_scale(x, pads, (ho, wo))
    n, o, th, tw = g.shape[0], g.shape[1], v.shape[2], v.shape[3]
    gp = np.zeros((n, o, 2 * th, 2 * tw))
    gp[:, :, :ho, :wo] = np.abs(np.asarray(g, np.float64))
    tiles = gp.reshape(n, o, th, 2, tw, 2).transpose(0, 1, 2, 4, 3, 5)
    m = np.einsum("ai,notuab,bj->notuij", AT, tiles, AT)
    return np.einsum("ia,ocij,jb->ocab", G, np.einsum("notuij,nctuij->ocij", m, v), G)


def _check_forward(x, w, b, pads):
    got = F.conv2d(x, w, b, padding=pads)
    want, direct = _forward64(x, w, b, pads)
    scale = _winograd_scale(x, w, b, pads)
    # A tile's infinity reaches every output of the tile's scale (the fallback then runs).
    scale = np.where(np.isfinite(scale), scale, direct)
    finite = np.isfinite(direct)
    assert np.all(scale[finite] >= direct[finite] * (1 - 1e-12))
    k = w.shape[1] * 9 + 1 + TRANSFORM_TERMS
    assert_matches(got, want.astype(x.dtype), k=k, scale=scale)
    return got


def _check_backward(g, x, w, pads):
    gi, gw, _ = F.conv2d_backward(g, x, w, padding=pads)
    want, _ = _grad_input64(g, w, x.shape, pads)
    # The input gradient is the forward pass of grad_output with the flipped, transposed
    # kernel and padding 2 - p.
    flipped = np.asarray(w)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    scale = _winograd_scale(g, flipped, None, (2 - pads[0], 2 - pads[1]))
    scale = np.where(np.isfinite(scale), scale, _grad_input64(g, w, x.shape, pads)[1])
    k = w.shape[0] * 9 + TRANSFORM_TERMS
    assert_matches(gi, want.astype(x.dtype), k=k, scale=scale)
    want, _ = _grad_weight64(g, x, pads)
    scale = _winograd_weight_scale(g, x, pads)
    scale = np.where(np.isfinite(scale), scale, _grad_weight64(g, x, pads)[1])
    k = g.shape[0] * g.shape[2] * g.shape[3] + TRANSFORM_TERMS
    assert_matches(gw, want.astype(x.dtype), k=k, scale=scale)


@given(winograd_problems())
def test_forward_matches_the_definition(p):
    _check_forward(*p)


@given(winograd_problems(), st.data())
def test_backward_matches_the_definition(p, data):
    x, w, _, pads = p
    out_shape = F.conv2d(x, w, padding=pads).shape
    g = data.draw(arrays(x.dtype, out_shape), label="grad_output")
    _check_backward(g, x, w, pads)


@given(winograd_problems(nonfinite=True), st.data())
def test_nonfinite_values_land_where_the_direct_sum_puts_them(p, data):
    """Forward with infinities and NaNs anywhere; backward with them in the input and the
    output gradient (an infinite weight is left out there: the input gradient's fallback
    computes it as a forward pass over the zero-padded output gradient, whose padding times
    an infinite tap gives NaN where the definition has no term)."""
    x, w, b, pads = p
    with np.errstate(invalid="ignore", over="ignore"):
        got = _check_forward(x, w, b, pads)
        g = data.draw(arrays(x.dtype, got.shape, nonfinite=True), label="grad_output")
        w = data.draw(arrays(x.dtype, w.shape), label="finite weight")
        _check_backward(g, x, w, pads)


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((16, 24, 9, 7)).astype(np.float32)
    w = rng.standard_normal((40, 24, 3, 3)).astype(np.float32)
    g = rng.standard_normal((16, 40, 9, 7)).astype(np.float32)
    one = [F.conv2d(x, w, padding=1, workers=1), *F.conv2d_backward(g, x, w, padding=1, workers=1)]
    for workers in (2, 3):
        many = F.conv2d(x, w, padding=1, workers=workers)
        grads = F.conv2d_backward(g, x, w, padding=1, workers=workers)
        for a, b in zip(one, [many, *grads]):
            np.testing.assert_array_equal(a, b)

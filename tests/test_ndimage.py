"""Differential tests of ``fastconv.ndimage`` against ``scipy.ndimage``.

Every differential test draws one call (input of 1-3 dimensions, sides 1..30, every layout;
weights of odd and even sizes, up to a few times the input's side; every boundary mode and
synonym, ``cval``, origins over their valid range, ``axes``, ``output`` as None, a dtype or an
array) and makes it on both libraries: where SciPy raises, fastconv must raise the same
class; else the type, dtype and shape must be equal, and the values:

* integer and bool outputs: identical bytes. The weights are then dyadic (``m / 2**e``), so
  SciPy's float64 sums are exact and its truncation toward zero is reproducible whatever the
  summation order (``test_integer_output_of_any_weights_is_within_one`` covers the others);
* float and complex outputs: ``|got - want| <= 2 eps(out) |want| + 4 eps64 (K + log2 N) S``,
  elementwise, where ``S = sum |x_ext| * sum |w|`` (``x_ext``: the input extended by the
  boundary mode, ``N`` its size, ``K`` the number of weights). The first term is the final
  rounding to the output dtype (done by both libraries from float64), the second bounds the
  float64 error of any summation order and of an FFT.

Two SciPy bugs are kept out of the comparison (and pinned by their own tests): where SciPy's
N-D ``'reflect'`` filter reads outside its input (a halo of four or more input lengths;
``test_far_reflect_halo_is_numpy_symmetric``) the drawn filters stay shorter, and SciPy's N-D
filters get a contiguous copy of a broadcast (zero-stride) input
(``test_broadcast_inputs_are_filtered_like_copies``).
"""

from __future__ import annotations

import math
import warnings

import fastconv.ndimage as fnd
import numpy as np
import pytest
import scipy.ndimage as sndi
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, outcome

MODES = (
    "reflect",
    "constant",
    "nearest",
    "mirror",
    "wrap",
    "grid-constant",
    "grid-mirror",
    "grid-wrap",
)
PAD_MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}
IN_DTYPES = ("float32", "float64", "int16", "int32", "uint8", "complex128", "bool")
OUT_DTYPES = ("float32", "float64", "int16", "int32", "uint8", "complex128")
SIDES = {1: 30, 2: 12, 3: 6}
LAYOUTS = ("C", "F", "step", "neg", "bcast")
CVALS = (0.0, 1.0, -2.5, 3.0)

ND = {"correlate": (sndi.correlate, fnd.correlate), "convolve": (sndi.convolve, fnd.convolve)}
ONE_D = {
    "correlate1d": (sndi.correlate1d, fnd.correlate1d),
    "convolve1d": (sndi.convolve1d, fnd.convolve1d),
}


# --------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------


def extended_scale(x: np.ndarray, w: np.ndarray, mode: str, cval) -> tuple:
    """``(S, N)``: ``sum |x_ext| * sum |w|`` and the size of ``x_ext`` (halo ``k - 1``)."""
    x = np.asarray(x)
    if x.ndim == 0 or x.size == 0:
        return float(np.abs(x).sum()) * float(np.abs(w).sum()), max(x.size, 1)
    halo = max(np.shape(w)) if np.ndim(w) else 1
    kwargs = {"constant_values": abs(complex(cval))} if PAD_MODES[mode] == "constant" else {}
    ext = np.pad(np.abs(x.astype(np.complex128)), halo, mode=PAD_MODES[mode], **kwargs)
    return float(ext.sum()) * float(np.abs(np.asarray(w, dtype=np.complex128)).sum()), ext.size


def assert_same(got, want, x=None, w=None, mode="constant", cval=0.0) -> None:
    """The comparison rule of the module docstring (exceptions: the same class)."""
    if isinstance(want, BaseException):
        assert isinstance(got, BaseException), f"SciPy raised {want!r}, fastconv returned"
        assert type(got) is type(want), f"SciPy raised {want!r}, fastconv raised {got!r}"
        return
    assert not isinstance(got, BaseException), f"fastconv raised {got!r}, SciPy returned"
    assert type(got) is type(want)
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape
    if want.dtype.kind in "biu":
        if want.dtype.kind == "b":  # SciPy stores the uint8 truncation: compare the bytes
            got, want = got.view(np.uint8), want.view(np.uint8)
        np.testing.assert_array_equal(got, want)
        return
    scale, size = extended_scale(x, w, mode, cval)
    real = np.finfo(want.dtype).eps
    taps = np.size(w) + math.log2(size + 2)
    allowed = 2 * real * np.abs(want) + 4 * np.finfo(np.float64).eps * taps * scale
    err = np.abs(got.astype(np.complex128) - want.astype(np.complex128))
    bad = err > allowed
    assert not bad.any(), (
        f"{int(bad.sum())} of {err.size} differ: first at {np.argwhere(bad)[0].tolist()}: "
        f"got {got[bad][0]!r}, want {want[bad][0]!r}, allowed {allowed[bad][0]:.3g}"
    )


def both(name_table: dict, name: str, x, w, *args, output=None, **kwargs):
    """Call SciPy and fastconv (a fresh copy of an output array each); return both outcomes.

    When ``output`` is an array, fastconv's result must be that very array. SciPy's N-D
    filters get a copy of an input with a zero stride (a broadcast view): they compute wrong
    values on those (``test_broadcast_inputs_are_filtered_like_copies``).
    """
    peer, ours = name_table[name]
    out_peer, out_ours = output, output
    if isinstance(output, np.ndarray):
        out_peer, out_ours = output.copy(), output.copy()
    x_peer = x
    if name in ND and isinstance(x, np.ndarray) and 0 in x.strides:
        x_peer = np.ascontiguousarray(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = outcome(peer, x_peer, w, *args, output=out_peer, **kwargs)
        got = outcome(ours, x, w, *args, output=out_ours, **kwargs)
    if isinstance(output, np.ndarray) and not isinstance(got, BaseException):
        assert got is out_ours, "an output array must be returned itself"
    return got, want


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------


@st.composite
def weight_values(draw, shape, dyadic: bool, complex_: bool = False) -> np.ndarray:
    """Weights of ``shape``: dyadic (``m / 2**e``, exact sums) or any floats in [-2, 2]."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = math.prod(shape)
    if dyadic or draw(st.booleans()):
        w = rng.integers(-4, 5, size) / 2.0 ** rng.integers(0, 3, size)
    else:
        w = rng.uniform(-2, 2, size)
    if complex_:
        w = w + 1j * (rng.integers(-4, 5, size) / 2.0)
    return w.reshape(shape)


def filter_length(n: int, nd_reflect_safe: bool) -> st.SearchStrategy[int]:
    """A filter length: short, around the input's side, or longer than it."""
    top = 3 * n + 1 if nd_reflect_safe and n >= 2 else 2 * n + 6
    top = min(top, 40)
    return st.one_of(st.integers(1, 5), st.integers(1, top))


def origin_in(k: int) -> st.SearchStrategy[int]:
    return st.integers(-(k // 2), (k - 1) // 2)


@st.composite
def outputs(draw, in_dtype: np.dtype, shape, complex_result: bool):
    """``(output argument, the real dtype of the result)``: None, a dtype or an array."""
    kind = draw(st.sampled_from(["none", "dtype", "array"]))
    if kind == "none":
        if complex_result:
            return None, np.dtype(np.float64)
        return None, in_dtype
    names = ["complex128"] if complex_result else OUT_DTYPES
    dtype = np.dtype(draw(st.sampled_from(names)))
    if kind == "dtype":
        return dtype, dtype
    layout = draw(st.sampled_from(["C", "step", "neg"]))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 3, shape).astype(dtype)
    if layout == "step" and len(shape):
        big = np.zeros([2 * n for n in shape], dtype=dtype)
        base = big[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "neg":
        base = np.flip(np.flip(base).copy())
    return base, dtype


@st.composite
def inputs(draw):
    """An input array of 1-3 dimensions in any layout."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, SIDES[ndim])) for _ in range(ndim))
    dtype = np.dtype(draw(st.sampled_from(IN_DTYPES)))
    x = draw(arrays(dtype, shape, layouts=LAYOUTS, regimes=("small", "wide")))
    return x


@st.composite
def nd_calls(draw):
    """Arguments of an N-D ``correlate``/``convolve`` call."""
    x = draw(inputs())
    ndim = x.ndim
    axes = draw(
        st.one_of(
            st.none(),
            st.permutations(range(ndim)).flatmap(
                lambda p: st.integers(1, ndim).map(lambda m, p=p: list(p[:m]))
            ),
            st.integers(0, ndim - 1),
        )
    )
    if isinstance(axes, list) and draw(st.booleans()):
        axes = [a - ndim for a in axes]  # negative axes
    filtered = list(range(ndim)) if axes is None else ([axes] if np.isscalar(axes) else axes)
    # weights' dimensions map onto the sorted axes (SciPy's expand_dims)
    sorted_axes = sorted(a % ndim for a in filtered)
    wshape = tuple(draw(filter_length(x.shape[a], True)) for a in sorted_axes)
    complex_w = draw(st.integers(0, 9)) == 0
    out, out_dtype = draw(outputs(x.dtype, x.shape, complex_w or x.dtype.kind == "c"))
    w = draw(weight_values(wshape, dyadic=out_dtype.kind in "biu", complex_=complex_w))
    origin_kind = draw(st.sampled_from(["zero", "scalar", "list"]))
    if origin_kind == "zero":
        origin = 0
    elif origin_kind == "scalar":
        k = min(wshape)
        origin = draw(origin_in(k))
    else:
        origin = [draw(origin_in(k)) for k in wshape]
    mode = draw(st.sampled_from(MODES))
    cval = draw(st.sampled_from(CVALS))
    if x.dtype.kind == "c" and draw(st.booleans()):
        cval = complex(cval, 1.5)
    kwargs = dict(output=out, mode=mode, cval=cval, origin=origin)
    if axes is not None:
        kwargs["axes"] = axes
    return x, w, kwargs


@st.composite
def one_d_calls(draw):
    """Arguments of a ``correlate1d``/``convolve1d`` call."""
    x = draw(inputs())
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    k = draw(filter_length(x.shape[axis], False))
    complex_w = draw(st.integers(0, 9)) == 0
    out, out_dtype = draw(outputs(x.dtype, x.shape, complex_w or x.dtype.kind == "c"))
    w = draw(weight_values((k,), dyadic=out_dtype.kind in "biu", complex_=complex_w))
    mode = draw(st.sampled_from(MODES))
    cval = draw(st.sampled_from(CVALS))
    kwargs = dict(output=out, mode=mode, cval=cval, origin=draw(origin_in(k)))
    return x, w, axis, kwargs


# --------------------------------------------------------------------------------------
# differential tests
# --------------------------------------------------------------------------------------


@given(nd_calls(), st.sampled_from(sorted(ND)))
def test_nd_filters_match_scipy(call, name):
    x, w, kwargs = call
    got, want = both(ND, name, x, w, **kwargs)
    assert_same(got, want, x, w, kwargs["mode"], kwargs["cval"])


@given(one_d_calls(), st.sampled_from(sorted(ONE_D)))
def test_1d_filters_match_scipy(call, name):
    x, w, axis, kwargs = call
    got, want = both(ONE_D, name, x, w, axis, **kwargs)
    assert_same(got, want, x, w, kwargs["mode"], kwargs["cval"])


@given(
    st.sampled_from(sorted(ND) + sorted(ONE_D)),
    st.integers(1, 12),
    st.integers(1, 8),
    st.integers(-5, 5),
)
def test_origin_range_checks_match_scipy(name, n, k, origin):
    """Every origin, valid or not, for odd and even lengths (convolve's range included)."""
    x = np.arange(float(n))
    w = np.arange(1.0, k + 1)
    table = ND if name in ND else ONE_D
    got, want = both(table, name, x, w, origin=origin)
    assert_same(got, want, x, w)


@given(
    st.sampled_from(sorted(ND) + sorted(ONE_D)),
    st.sampled_from(["int16", "int32", "uint8", "bool"]),
    st.integers(1, 30),
    st.integers(1, 9),
    st.sampled_from(MODES),
    st.integers(0, 2**32 - 1),
)
def test_integer_output_of_any_weights_is_within_one(name, dtype, n, k, mode, seed):
    """Non-dyadic weights: SciPy truncates an inexact float64 sum, so an output whose exact
    value is an integer may land on either side; fastconv is then off by at most one (a
    documented deviation), and identical where the value is not within rounding of one."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 50, n).astype(dtype)
    w = rng.uniform(-1, 1, k)
    table = ND if name in ND else ONE_D
    got, want = both(table, name, x, w, mode=mode)
    exact = ND[name.replace("1d", "")][0](x.astype(np.float64), w, mode=mode)
    near = np.abs(exact - np.round(exact)) < 1e-9
    assert got.dtype == want.dtype
    if dtype == "bool":
        got, want = got.view(np.uint8), want.view(np.uint8)
    modulus = 2 ** (8 * got.dtype.itemsize)  # a difference of one may wrap around
    diff = (got.astype(np.int64) - want.astype(np.int64)) % modulus
    assert (diff[~near] == 0).all()
    assert np.isin(diff, [0, 1, modulus - 1]).all()


@pytest.mark.parametrize(
    "dtype, shape, wshape, mode",
    [
        ("float64", (64, 64), (21, 21), "reflect"),
        ("float32", (70, 66), (25, 19), "wrap"),
        ("uint8", (64, 64), (21, 21), "nearest"),
        ("int16", (64, 72), (21, 23), "constant"),
        ("complex128", (48, 48), (17, 17), "mirror"),
    ],
)
@pytest.mark.parametrize("name", sorted(ND))
def test_fft_sized_filters_match_scipy(name, dtype, shape, wshape, mode):
    """Sizes where the core's cost model picks an FFT: floats within the bound, integer
    outputs exact (the core's int64 FFT path only rounds when exact)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 200, shape).astype(dtype)
    w = rng.integers(-8, 9, wshape) / 4.0
    got, want = both(ND, name, x, w, mode=mode, cval=3.0)
    assert_same(got, want, x, w, mode, 3.0)


@pytest.mark.parametrize("name", sorted(ND) + sorted(ONE_D))
@pytest.mark.parametrize(
    "x",
    [np.float64(3.0), np.zeros((0,)), np.zeros((0, 3)), np.ones((2, 0, 3), np.int16)],
    ids=["0d", "empty1d", "empty2d", "empty3d"],
)
def test_zero_dim_and_empty_inputs_match_scipy(name, x):
    table = ND if name in ND else ONE_D
    if name in ONE_D:
        w = np.ones(2)
    else:
        w = np.ones((2,) * np.ndim(x)) * 2.0
    got, want = both(table, name, x, w)
    assert_same(got, want, x, w)


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">i4", ">u2", "<i8"])
@pytest.mark.parametrize("name", sorted(ND) + sorted(ONE_D))
def test_byte_swapped_inputs_match_scipy(name, dtype):
    x = (np.arange(24) % 7).reshape(4, 6).astype(dtype)
    w = np.array([1.0, -2.0, 0.5]) if name in ONE_D else np.array([[1.0, -2.0], [0.5, 3.0]])
    got, want = both(ND if name in ND else ONE_D, name, x, w, mode="mirror")
    assert_same(got, want, x, w, "mirror")


def test_output_may_be_the_input():
    """In-place filtering (SciPy copies through a temporary; so does fastconv)."""
    x = np.arange(20.0).reshape(4, 5)
    want = sndi.correlate(x, np.ones((3, 3)))
    got = fnd.correlate(x, np.ones((3, 3)), output=x)
    assert got is x
    np.testing.assert_allclose(x, want)
    y = np.arange(20.0)
    want = sndi.convolve1d(y, [1.0, 2.0])
    assert fnd.convolve1d(y, [1.0, 2.0], output=y) is y
    np.testing.assert_allclose(y, want)


@pytest.mark.parametrize("workers", [None, 1, 2, -1])
def test_workers_do_not_change_results(workers):
    x = np.random.default_rng(3).standard_normal((40, 50))
    w = np.random.default_rng(4).standard_normal((5, 6))
    base = fnd.convolve(x, w)
    np.testing.assert_array_equal(fnd.convolve(x, w, workers=workers), base)
    np.testing.assert_array_equal(
        fnd.correlate1d(x, w[0], axis=0, workers=workers), fnd.correlate1d(x, w[0], axis=0)
    )


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_invalid_workers(bad, exc):
    with pytest.raises(exc):
        fnd.correlate(np.ones(3), np.ones(2), workers=bad)
    with pytest.raises(exc):
        fnd.convolve1d(np.ones(3), np.ones(2), workers=bad)


# --------------------------------------------------------------------------------------
# SciPy's quirks, pinned
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grid, plain",
    [("grid-constant", "constant"), ("grid-mirror", "reflect"), ("grid-wrap", "wrap")],
)
@pytest.mark.parametrize("name", sorted(ND) + sorted(ONE_D))
def test_grid_modes_are_synonyms_for_filters(name, grid, plain):
    x = np.random.default_rng(0).standard_normal((5, 4))
    w = np.arange(1.0, 5.0) if name in ONE_D else np.arange(1.0, 7.0).reshape(3, 2)
    fn = (ND if name in ND else ONE_D)[name]
    for f in fn:
        np.testing.assert_array_equal(f(x, w, mode=grid, cval=2.0), f(x, w, mode=plain, cval=2.0))


@pytest.mark.parametrize("name", sorted(ND) + sorted(ONE_D))
def test_integer_outputs_truncate_toward_zero(name):
    f_s, f_f = (ND if name in ND else ONE_D)[name]
    x = np.array([3, -3, 2, -2], dtype=np.int32)
    for f in (f_s, f_f):
        np.testing.assert_array_equal(f(x, [0.9], mode="constant"), [2, -2, 1, -1])


def test_bool_output_stores_the_uint8_truncation():
    x = np.array([True, False, True])
    for w, byte in (([0.5], [0, 0, 0]), ([2.0], [2, 0, 2]), ([-1.0], [255, 0, 255])):
        want = sndi.correlate(x, w)
        got = fnd.correlate(x, w)
        assert got.dtype == want.dtype == np.bool_
        np.testing.assert_array_equal(got.view(np.uint8), byte)
        np.testing.assert_array_equal(want.view(np.uint8), byte)


def test_nd_filters_drop_weights_below_eps_and_nan():
    x = np.array([1e20, 2e20, 3e20])
    for w in ([1e-17], [1e-17, 1.0], [0.0, 1.0, np.nan]):
        np.testing.assert_array_equal(
            fnd.correlate(x, w, mode="constant"), sndi.correlate(x, w, mode="constant")
        )


def test_1d_filters_mirror_nearly_symmetric_weights_from_the_left():
    x = np.array([1e20, 2e20, 3e20, 4e20])
    a = -0.5 + 1e-16
    for w in ([1e-17, 0, 0], [0, 0, 1e-17], [0.5, 0, a], [1e-17, 0, 0, 0]):
        for f_s, f_f in ONE_D.values():
            np.testing.assert_allclose(  # which weights count; (a + b) w rounds differently
                f_f(x, w, mode="constant"), f_s(x, w, mode="constant"), rtol=1e-12, atol=0
            )


def test_zero_border_weights_do_not_touch_the_input():
    """SciPy's N-D filter skips zero weights, so inf under a zero border weight stays put;
    its 1-D filter multiplies them (0 * inf = nan)."""
    x = np.array([1.0, np.inf, 3.0])
    w = [0.0, 1.0, 0.0]
    np.testing.assert_array_equal(fnd.correlate(x, w, mode="constant"), [1.0, np.inf, 3.0])
    np.testing.assert_array_equal(sndi.correlate(x, w, mode="constant"), [1.0, np.inf, 3.0])
    np.testing.assert_array_equal(
        fnd.correlate1d(x, w, mode="constant"), sndi.correlate1d(x, w, mode="constant")
    )


def test_unsorted_full_axes_keep_weights_and_origins_in_input_order():
    """With every axis listed, SciPy ignores the order of ``axes`` (weights and origins stay
    in input-axis order); with fewer axes, weights follow the sorted axes and origins follow
    ``axes`` as given."""
    x = np.random.default_rng(1).standard_normal((6, 7, 5))
    w2 = np.arange(1.0, 13.0).reshape(3, 4)
    for axes, origin in (([1, 0, 2], [1, 0, -1]), ([2, 0], [1, -1]), ([0, 2], [-1, 1])):
        w = w2 if len(axes) == 2 else np.arange(1.0, 61.0).reshape(3, 4, 5)
        for f_s, f_f in ND.values():
            want = outcome(f_s, x, w, axes=axes, origin=origin)
            got = outcome(f_f, x, w, axes=axes, origin=origin)
            assert_same(got, want, x, w)


@pytest.mark.parametrize("name", sorted(ND))
@pytest.mark.parametrize("mode", ["reflect", "grid-mirror"])
def test_far_reflect_halo_is_numpy_symmetric(name, mode):
    """SciPy's N-D 'reflect' reads outside its input when the halo reaches four input lengths
    (a SciPy bug: ``correlate([10., 20.], eye(17)[0])[0]`` is a denormal, not 10); fastconv
    gives the ``numpy.pad(..., 'symmetric')`` extension at every distance."""
    x = np.array([10.0, 20.0])
    w = np.zeros(17)
    w[0] = 1.0
    got = (fnd.correlate if name == "correlate" else fnd.convolve)(
        x, w if name == "correlate" else w[::-1], mode=mode
    )
    ext = np.pad(x, 8, mode="symmetric")
    np.testing.assert_array_equal(got, ext[:2])


@pytest.mark.parametrize("name", sorted(ND))
def test_broadcast_inputs_are_filtered_like_copies(name):
    """SciPy's N-D filters mishandle zero strides (``correlate(broadcast_to([3.], (2,)),
    [1., 1.])`` is ``[6., 3.]``); fastconv filters a broadcast view like its copy, as SciPy's
    1-D filters do."""
    x = np.broadcast_to(np.array([3.0]), (2,))
    f_s, f_f = ND[name]
    np.testing.assert_array_equal(f_f(x, [1.0, 1.0]), [6.0, 6.0])
    np.testing.assert_array_equal(f_s(np.ascontiguousarray(x), [1.0, 1.0]), [6.0, 6.0])
    y = np.broadcast_to(np.arange(4.0)[:, None], (4, 5))
    w = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(f_f(y, w, mode="wrap"), f_s(y.copy(), w, mode="wrap"))


def test_complex_weights_with_a_real_output_dtype_warn_and_promote():
    x = np.arange(5.0, dtype=np.float32)
    w = np.array([1.0, 2j])
    for f in (sndi.correlate, fnd.correlate, sndi.correlate1d, fnd.correlate1d):
        with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
            r = f(x, w, output=np.float32)
        assert r.dtype == np.complex64
    with pytest.warns(UserWarning):
        got = fnd.correlate(x, w, output=np.float32)
    with pytest.warns(UserWarning):
        want = sndi.correlate(x, w, output=np.float32)
    np.testing.assert_allclose(got, want)


def test_complex_numpy_cval_warns_like_scipy():
    from numpy.exceptions import ComplexWarning

    for f in (sndi.correlate, fnd.correlate, sndi.convolve1d, fnd.convolve1d):
        with pytest.warns(ComplexWarning):
            r = f(np.ones(3), [1.0, 1.0], mode="constant", cval=np.complex128(2 + 1j))
        np.testing.assert_array_equal(r, f(np.ones(3), [1.0, 1.0], mode="constant", cval=2.0))


# --------------------------------------------------------------------------------------
# invalid inputs: one case per exception class and cause, SciPy's class computed live
# --------------------------------------------------------------------------------------

ro = np.zeros(3)
ro.flags.writeable = False

INVALID = {
    "weights ndim != input ndim": lambda m: m.correlate(np.ones((3, 3)), np.ones(3)),
    "weights ndim != len(axes)": lambda m: m.convolve(np.ones((3, 3)), np.ones((2, 2)), axes=1),
    "weights with an empty axis": lambda m: m.correlate(np.ones((3, 3)), np.ones((0, 3))),
    "1-D weights 2-D": lambda m: m.correlate1d(np.ones(3), np.ones((2, 1))),
    "1-D weights empty": lambda m: m.convolve1d(np.ones(3), []),
    "convolve1d 0-d weights": lambda m: m.convolve1d(np.ones(3), 2.0),
    "unknown mode": lambda m: m.correlate(np.ones(3), np.ones(2), mode="bogus"),
    "unknown mode 1-D": lambda m: m.convolve1d(np.ones(3), np.ones(2), mode="bogus"),
    "mode None": lambda m: m.convolve(np.ones(3), np.ones(2), mode=None),
    "sequence of modes": lambda m: m.correlate(np.ones((3, 3)), np.ones((2, 2)), mode=["wrap"] * 2),
    "origin too large": lambda m: m.correlate(np.ones(5), np.ones(3), origin=2),
    "origin too small even": lambda m: m.convolve(np.ones(5), np.ones(4), origin=-3),
    "origin too large 1-D": lambda m: m.correlate1d(np.ones(5), np.ones(4), origin=2),
    "origin float": lambda m: m.correlate(np.ones(5), np.ones(3), origin=0.5),
    "origin float 1-D": lambda m: m.convolve1d(np.ones(5), np.ones(3), origin=1.0),
    "origin numpy bool": lambda m: m.correlate(np.ones(5), np.ones(3), origin=np.True_),
    "origin bool N-D": lambda m: m.correlate(np.ones(5), np.ones(3), origin=True),
    "origin sequence wrong length": lambda m: m.correlate(
        np.ones((3, 3)), np.ones((2, 2)), origin=[0]
    ),
    "axes out of range": lambda m: m.correlate(np.ones((3, 3)), np.ones(2), axes=[2]),
    "scalar axes out of range": lambda m: m.correlate(np.ones((3, 3)), np.ones(2), axes=2),
    "negative scalar axes": lambda m: m.correlate(np.ones((3, 3)), np.ones(2), axes=-1),
    "repeated axes": lambda m: m.convolve(np.ones((3, 3)), np.ones((2, 2)), axes=[0, 0]),
    "float axes": lambda m: m.correlate(np.ones((3, 3)), np.ones(2), axes=1.0),
    "axis out of range 1-D": lambda m: m.correlate1d(np.ones((3, 3)), np.ones(2), axis=2),
    "0-d input 1-D": lambda m: m.correlate1d(np.float64(1.0), np.ones(2)),
    "output wrong shape": lambda m: m.correlate(np.ones(3), np.ones(2), output=np.zeros(4)),
    "output wrong shape 1-D": lambda m: m.convolve1d(np.ones(3), np.ones(2), output=np.zeros(4)),
    "output read-only": lambda m: m.correlate(np.ones(3), np.ones(2), output=ro),
    "output read-only 1-D": lambda m: m.correlate1d(np.ones(3), np.ones(2), output=ro),
    "output non-numeric string": lambda m: m.correlate(np.ones(3), np.ones(2), output="U3"),
    "output 'bool' string": lambda m: m.correlate(np.ones(3), np.ones(2), output="bool"),
    "output float16": lambda m: m.correlate(np.ones(3), np.ones(2), output=np.float16),
    "output complex for real data": lambda m: m.convolve(np.ones(3), np.ones(2), output=complex),
    "output real array for complex": lambda m: m.correlate(np.ones(3), [1j, 1], output=np.ones(3)),
    "output real string for complex": lambda m: m.convolve1d(np.ones(3) + 0j, [1, 1], output="f8"),
    "input big-endian float16": lambda m: m.correlate(np.ones(3, ">f2"), np.ones(2)),
    "input float16": lambda m: m.correlate(np.ones(3, np.float16), np.ones(2)),
    "input float16 1-D": lambda m: m.correlate1d(np.ones(3, np.float16), np.ones(2)),
    "input longdouble": lambda m: m.convolve(np.ones(3, np.longdouble), np.ones(2)),
    "input object": lambda m: m.correlate(np.array([1, 2], dtype=object), np.ones(2)),
    "input strings": lambda m: m.correlate(np.array(["a", "b"]), np.ones(2)),
    "weights strings": lambda m: m.correlate(np.ones(3), np.array(["a"])),
    "complex cval, real input, complex weights": lambda m: m.correlate(
        np.ones(3), [1j, 1], cval=1j
    ),
    "complex cval, real data": lambda m: m.correlate1d(np.ones(3), [1, 1], cval=1j),
    "string cval": lambda m: m.convolve(np.ones(3), [1, 1], cval="1"),
    "None cval": lambda m: m.correlate1d(np.ones(3), [1, 1], cval=None),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_input_raises_scipys_exception(case):
    call = INVALID[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as peer:
            call(sndi)
        with pytest.raises(type(peer.value)) as ours:
            call(fnd)
    assert type(ours.value) is type(peer.value), (peer.value, ours.value)

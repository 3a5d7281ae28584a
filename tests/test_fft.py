"""The FFT methods: ``fftconvolve``, ``oaconvolve``, ``convolve/correlate(method='fft'|'auto')``,
``choose_conv_method`` and ``Convolver``, against SciPy, the exact reference and each other.

Error bound
-----------
An FFT result differs from the exact sum by at most the normwise FFT bound
``16 * eps * log2(N) * ||x||_2 * ||w||_2`` (:func:`strategies.fft_slack`) plus the rounding of a
direct sum (:func:`strategies.tolerance`, ``c * eps * K * sum |x| |w|``). Where the peer is an
FFT too (``scipy.signal.fftconvolve``), its own FFT bound is added, at the precision SciPy
transforms in (each input in its own float dtype: float32 stays single even beside float64).
Shapes and dtypes must always be equal; integer and bool results exact where defined.
"""

from __future__ import annotations

import math
import warnings

import fastconv
import fastconv._core as core
import fastconv.signal as fs
import numpy as np
import pytest
import scipy.signal as ss
from fastconv import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_DTYPES,
    COMPLEX,
    INTS,
    MODES,
    REF_SIDES,
    array_pairs,
    arrays,
    assert_matches,
    dtype_pairs,
    fft_slack,
    modes,
    outcome,
    shape_pairs,
    sides,
    taps,
)

FLOAT_DTYPES = ["float32", "float64", "complex64", "complex128"]
NAMES = ("convolve", "correlate")
names = st.sampled_from(NAMES)
FFT_FUNCS = ("fftconvolve", "oaconvolve")
fft_funcs = st.sampled_from(FFT_FUNCS)

# Largest side per ndim of the FFT differential tests (against SciPy's FFTs, which are cheap).
FFT_SIDES = {1: 60, 2: 20, 3: 20}


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def wide(dtype) -> np.dtype:
    """float64 or complex128: where an oracle computes a result of ``dtype``."""
    return np.dtype(np.complex128 if np.dtype(dtype).kind == "c" else np.float64)


def magnitudes(a: np.ndarray) -> np.ndarray:
    """``|a|`` in float64 (uint64 and complex included)."""
    return np.abs(np.asarray(a).astype(np.complex128))


def transform_dtype(*dts) -> np.dtype:
    """The least precise dtype SciPy transforms one of these inputs in: float32 for float16,
    float32 and complex64 (scipy.fft keeps single precision), else float64."""
    return np.dtype(np.float32 if any(np.dtype(d).char in "efF" for d in dts) else np.float64)


def conv_axes_of(x: np.ndarray, axes) -> list:
    return (
        list(range(x.ndim)) if axes is None else sorted({a % x.ndim for a in np.atleast_1d(axes)})
    )


def fft_scale(x, w, mode, axes):
    """``sum |x| |w|`` per output of ``fftconvolve(x, w, mode, axes)`` (SciPy's FFT on the
    magnitudes; its own error is far below the bounds it scales)."""
    with np.errstate(all="ignore"):
        return np.maximum(ss.fftconvolve(magnitudes(x), magnitudes(w), mode, axes=axes), 0.0)


def check_fft(got, want, x, w, mode, axes=None, *, peer_dtype=None, scale=None):
    """``got`` (an FFT result) against ``want`` by the comparison rule, with the FFT bound of
    ``got``'s dtype plus, when ``peer_dtype`` is given, the peer's own FFT bound at that
    precision (the peer is an FFT as well)."""
    if not isinstance(want, np.ndarray) or want.dtype.kind not in "fc" or want.size == 0:
        assert_matches(got, want)
        return
    conv = conv_axes_of(x, axes)
    k = taps([x.shape[a] for a in conv], [w.shape[a] for a in conv])
    atol = fft_slack(x, w, axes, want.dtype)
    if peer_dtype is not None:
        atol += fft_slack(x, w, axes, peer_dtype)
    if scale is None:
        scale = fft_scale(x, w, mode, axes)
    assert_matches(got, want, k=k, scale=scale, atol=atol)


def scipy_fft_dtype(d1, d2) -> np.dtype:
    """The dtype of ``scipy.signal.fftconvolve`` for inputs of these dtypes (transformed)."""
    return ss.fftconvolve(np.ones(2, d1), np.ones(2, d2)).dtype


@pytest.fixture
def two_threads():
    """The cost model's pick depends on the thread count: tests that name a pick pin it."""
    with fastconv.threads(2):
        yield


def same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------


@st.composite
def fft_cases(draw, max_sides=None, dtype_names=ALL_DTYPES, with_axes=True):
    """``(x, w, axes)`` for ``fftconvolve``: 1-3-D, convolved axes of any sizes (kernel smaller,
    larger or unrelated, length 1 often), ``axes`` None, an int or a list (negative numbers
    too), the other axes equal or 1 (broadcast batch axes); any dtype pair and layout."""
    ndim = draw(st.integers(1, 3))
    top = (max_sides or FFT_SIDES)[ndim]
    axes = None
    if with_axes and draw(st.booleans()):
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    conv = range(ndim) if axes is None else axes
    relation = draw(st.sampled_from(["smaller", "larger", "any"]))
    s1, s2 = [], []
    for d in range(ndim):
        if d in conv:
            n = draw(sides(top))
            if relation == "smaller":
                k = draw(st.integers(1, n))
            elif relation == "larger":
                k = draw(st.integers(n, max(n, top)))
            else:
                k = draw(sides(top))
        else:
            n = draw(st.integers(1, 4))
            k = draw(st.sampled_from([n, 1]))
            if draw(st.booleans()):
                n, k = k, n
        s1.append(n)
        s2.append(k)
    if axes is not None:
        if draw(st.booleans()):
            axes = [a - ndim for a in axes]
        if len(axes) == 1 and draw(st.booleans()):
            axes = axes[0]
    d1, d2 = draw(dtype_pairs(dtype_names))
    return draw(arrays(d1, tuple(s1))), draw(arrays(d2, tuple(s2))), axes


# --------------------------------------------------------------------------------------
# 1. fftconvolve / oaconvolve against SciPy and the exact reference
# --------------------------------------------------------------------------------------


@given(fft_cases(), modes, fft_funcs)
def test_fft_functions_match_scipy(case, mode, func):
    """Same exception class, or same type, dtype (float64 for ints and bool, float32 for
    float16, SciPy's per-input promotion) and shape, and values within SciPy's FFT bound plus
    ours; then the values again against SciPy on inputs widened to float64/complex128 (a
    near-exact oracle), with the bound of the output dtype (the precision we must deliver)."""
    x, w, axes = case
    want = outcome(getattr(ss, func), x, w, mode, axes=axes)
    got = outcome(getattr(fs, func), x, w, mode, axes=axes)
    check_fft(got, want, x, w, mode, axes, peer_dtype=transform_dtype(x.dtype, w.dtype))
    if isinstance(want, np.ndarray) and want.dtype.kind in "fc":
        hi = wide(want.dtype)
        exact = getattr(ss, func)(x.astype(hi), w.astype(hi), mode, axes=axes).astype(want.dtype)
        check_fft(got, exact, x, w, mode, axes, peer_dtype=np.float64)


@given(fft_cases(max_sides=REF_SIDES, with_axes=False), modes, fft_funcs)
def test_fft_functions_match_reference(case, mode, func):
    """Against ``fastconv.reference.convolve`` (the definition, summed in double precision) on
    the inputs cast to the FFT's output dtype. Where the reference refuses ('valid' with a
    length-1 axis the direct definition does not accept; SciPy's FFTs broadcast it), SciPy's
    FFT is the peer, as in the test above."""
    x, w, _ = case
    got = outcome(getattr(fs, func), x, w, mode)
    peer = outcome(getattr(ss, func), x, w, mode)
    if isinstance(peer, Exception):
        assert_matches(got, peer)
        return
    if all(1 in (n, k) for n, k in zip(x.shape, w.shape)):
        # every axis broadcasts: SciPy's product ``x * w`` (no transform, exact)
        assert_matches(got, peer)
        return
    out = peer.dtype
    want = outcome(ref.convolve, x.astype(out), w.astype(out), mode)
    if isinstance(want, Exception):
        assert mode == "valid" and 1 in x.shape + w.shape, want
        check_fft(got, peer, x, w, mode, peer_dtype=transform_dtype(x.dtype, w.dtype))
        return
    check_fft(got, want, x, w, mode)


@given(st.data(), fft_funcs, modes)
def test_fft_functions_of_unit_axes_broadcast(data, func, mode):
    """Every axis with a length-1 side: no transform, a broadcast product (SciPy's rule)."""
    ndim = data.draw(st.integers(1, 3))
    s1 = tuple(data.draw(st.integers(1, 5)) for _ in range(ndim))
    s2 = tuple(1 if n > 1 else data.draw(st.integers(1, 5)) for n in s1)
    if data.draw(st.booleans()):
        s1, s2 = s2, s1
    dts = data.draw(dtype_pairs())
    x, w = data.draw(arrays(dts[0], s1)), data.draw(arrays(dts[1], s2))
    want = outcome(getattr(ss, func), x, w, mode)
    got = outcome(getattr(fs, func), x, w, mode)
    check_fft(got, want, x, w, mode, peer_dtype=transform_dtype(x.dtype, w.dtype))


@pytest.mark.parametrize("func", FFT_FUNCS)
@pytest.mark.parametrize("shapes", [((0,), (3,)), ((3,), (0,)), ((2, 0), (2, 2))])
def test_fft_functions_of_empty_inputs(func, shapes):
    """SciPy returns ``np.array([])`` (float64, shape (0,)) for any empty input."""
    x, w = np.ones(shapes[0], np.float32), np.ones(shapes[1], np.float32)
    assert_matches(getattr(fs, func)(x, w), getattr(ss, func)(x, w))


@pytest.mark.parametrize("func", FFT_FUNCS)
@pytest.mark.parametrize("dts", [("float64", "float64"), ("int64", "int8"), ("complex64", "int8")])
def test_fft_functions_of_zero_dim_inputs(func, dts):
    """Two 0-d inputs: SciPy returns their product, a NumPy scalar of ``result_type``."""
    x, w = np.array(3, dts[0]), np.array(-2, dts[1])
    assert_matches(getattr(fs, func)(x, w), getattr(ss, func)(x, w))


@pytest.mark.parametrize(
    ("d1", "d2"),
    [(a, b) for a in ["bool", "int8", "int16", "uint64", "float16"] for b in FLOAT_DTYPES],
)
def test_fft_output_dtype_follows_scipy_per_input_promotion(d1, d2):
    """SciPy transforms each input in its own float dtype and then promotes: int16 with
    float32 gives float64 (``np.result_type`` would say float32), and it is computed in float64
    (compared with the exact integer result at float64 precision)."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2 if d1 == "bool" else 100, 300).astype(d1)
    w = (rng.standard_normal(200) * 10).astype(d2)
    for func in FFT_FUNCS:
        got = getattr(fs, func)(x, w)
        want = getattr(ss, func)(x, w)
        assert got.dtype == want.dtype
        exact = np.convolve(x.astype(wide(d2)), w.astype(wide(d2))).astype(want.dtype)
        check_fft(got, exact, x, w, "full", peer_dtype=np.float64)


# --------------------------------------------------------------------------------------
# 2. convolve / correlate with method='fft' and 'auto' against SciPy's direct method
# --------------------------------------------------------------------------------------


def direct_oracle(name, x, w, mode, out_dtype):
    """SciPy's direct result for an output of ``out_dtype``: computed in float64/complex128 and
    rounded once for floats (SciPy has no float16 or bool N-D loop), in the integer dtype itself
    (exact, wrapping), as an int64 count for bool."""
    fn = getattr(ss, name)
    if out_dtype.kind == "b":
        return fn(x.astype(np.int64), w.astype(np.int64), mode, method="direct") != 0
    if out_dtype.kind in "iu":
        return fn(x, w, mode, method="direct")
    hi = wide(out_dtype)
    with np.errstate(all="ignore"):
        return fn(x.astype(hi), w.astype(hi), mode, method="direct").astype(out_dtype)


def int_fft_is_exact(x, w, out_dtype, scale) -> bool:
    """Where an FFT of integers must give the exact result: its error bound is below 1/2 (so
    ``rint`` recovers the integer) and the exact sum fits the output dtype and float64 (so
    neither the cast back nor float64 can wrap or round it)."""
    if out_dtype.kind == "b":
        return True
    top = float(np.max(scale, initial=0.0))
    return (
        fft_slack(x, w, None, np.float64) < 0.5
        and top < 2.0**53
        and top <= float(np.iinfo(out_dtype).max)
    )


@given(array_pairs(shape_pairs()), modes, names, st.sampled_from(["fft", "auto"]))
def test_fft_and_auto_methods_match_scipy_direct(pair, mode, name, method):
    """Type, dtype, shape and exception class as SciPy's same call (for 'auto': as its
    'direct', which fastconv's validation follows); values as SciPy's direct sum within the FFT
    bound. Integers with 'auto' are exact always (wrap-around included); with 'fft' they are
    exact where the FFT bound allows it (elsewhere an FFT of integers is not exact, SciPy's no
    more than ours: only the dtype and shape are checked)."""
    x, w = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # casts of huge floats to small ints
        peer = outcome(getattr(ss, name), x, w, mode, method="fft" if method == "fft" else "direct")
        got = outcome(getattr(fs, name), x, w, mode, method)
    if isinstance(peer, Exception) or isinstance(got, Exception):
        assert_matches(got, peer)
        return
    assert type(got) is type(peer) and got.dtype == peer.dtype and got.shape == peer.shape
    want = direct_oracle(name, x, w, mode, peer.dtype)
    if got.size == 0:
        return assert_matches(got, want)
    with np.errstate(all="ignore"):
        kernel = w if name == "convolve" else np.conj(np.flip(w))
        scale = np.maximum(ss.convolve(magnitudes(x), magnitudes(kernel), mode, "direct"), 0.0)
    if peer.dtype.kind in "biu":
        if method == "auto" or int_fft_is_exact(x, w, peer.dtype, scale):
            assert_matches(got, want)
        return
    check_fft(got, want, x, w, mode, scale=scale)


CORE_CASES = [
    # (signal shape, kernel shape, dtype, batch_ndim, blocks that do not divide the output)
    ((5000,), (300,), "float64", 0, ([613], [1000], [4999])),
    ((5000,), (300,), "complex128", 0, ([777],)),
    ((4000,), (257,), "float32", 0, ([333],)),
    ((120, 130), (17, 9), "float64", 0, ([37, 41], [50, 7])),
    ((120, 130), (17, 9), "complex64", 0, ([23, 59],)),
    ((3, 2000), (1, 150), "float64", 1, ([333],)),
    ((2, 60, 70), (2, 9, 13), "complex128", 1, ([17, 19],)),
]


@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("mode", MODES + ("same_low_centre",))
@pytest.mark.parametrize("case", CORE_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}")
def test_core_whole_array_and_overlap_save_agree(case, mode, correlate):
    """The core's 'fft' (whole-array transform) and 'oa' (overlap-save tiles, block chosen by
    cost and blocks that leave a partial last tile) agree with 'direct' and each other within
    the FFT bound."""
    s1, s2, dtype, batch, blocks = case
    rng = np.random.default_rng(CORE_CASES.index(case))

    def draw(shape):
        a = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(dtype)

    x, w = draw(s1), draw(s2)
    flip, conj = not correlate, correlate and np.dtype(dtype).kind == "c"
    axes = list(range(batch, len(s1)))

    def run(method, block=None):
        return core.correlate(x, w, mode, batch, flip, conj, 2, None, method, block)

    direct = run("direct")
    scale = core.correlate(magnitudes(x), magnitudes(w), mode, batch, flip, False, 2, None)
    k = taps([s1[a] for a in axes], [s2[a] for a in axes])
    slack = fft_slack(x, w, axes, dtype)
    results = {"fft": run("fft"), "oa": run("oa")}
    results.update({f"oa{b}": run("oa", b) for b in blocks})
    for label, got in results.items():
        assert got.dtype == direct.dtype and got.shape == direct.shape, label
        assert_matches(got, direct, k=k, scale=scale, atol=slack)
        assert_matches(got, results["fft"], k=k, scale=scale, atol=2 * slack)


def test_core_rejects_bad_blocks():
    x, w = np.ones((20, 20)), np.ones((3, 3))
    for block in ([5], [0, 3], [3, 4, 5]):
        with pytest.raises(ValueError, match="block"):
            core.correlate(x, w, "full", 0, True, False, None, None, "oa", block)


# --------------------------------------------------------------------------------------
# 3. integers: exact through the FFT where it rounds exactly, direct elsewhere
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("two_threads")
def test_int64_auto_uses_the_fft_and_is_exact(mode):
    rng = np.random.default_rng(3)
    x = rng.integers(-1000, 1001, 20000)
    w = rng.integers(-1000, 1001, 3000)
    assert fs.choose_conv_method(x, w, mode) == "fft"
    got = fs.convolve(x, w, mode)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.convolve(x, w, mode))
    got = fs.correlate(x, w, mode)
    np.testing.assert_array_equal(got, np.correlate(x, w, mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.usefixtures("two_threads")
def test_int64_near_2_40_goes_direct_and_is_exact(mode):
    """Values near 2**40 and a long kernel: every exact sum is below 2**53 (so float64 holds
    it), yet the FFT's error is several units, so no rounding recovers it.

    fastconv's chooser sees that (its rounding bound, ``_fft_rounds_exactly``) and runs direct.
    SciPy's ``convolve(..., method='fft')`` returns wrong integers here (off by up to ~5 at
    thousands of positions); the test asserts that, so it documents the bug fastconv avoids.
    """
    rng = np.random.default_rng(0)
    x = rng.integers(2**40 - 2**20, 2**40, 20000)
    w = rng.integers(1, 4, 3000)
    exact = np.convolve(x, w, mode)
    assert np.abs(exact).max() < 2**53
    assert fs.choose_conv_method(x, w, mode) == "direct"
    got = fs.convolve(x, w, mode)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, exact)
    scipy_fft = ss.convolve(x, w, mode, method="fft")
    assert (scipy_fft != exact).any()  # SciPy's FFT of these integers is wrong
    # With the same shapes and small values the FFT is chosen: the choice is by value.
    assert fs.choose_conv_method(x % 7, w, mode) == "fft"
    np.testing.assert_array_equal(fs.convolve(x % 7, w, mode), np.convolve(x % 7, w, mode))


@given(
    st.integers(1, 3000),
    st.integers(1, 300),
    st.sampled_from([2**8, 2**20, 2**30, 2**40, 2**62]),
    st.integers(0, 2**32 - 1),
    modes,
)
def test_int64_auto_is_exact_at_any_magnitude(n, k, top, seed, mode):
    """Whatever the chooser decides, integers with 'auto' equal SciPy's direct method bit for
    bit (NumPy's int64 arithmetic, which wraps around; so does fastconv's direct path)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-top, top, n)
    w = rng.integers(-top, top, k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ss.convolve(x, w, mode, method="direct")
        assert_matches(fs.convolve(x, w, mode), want)


# --------------------------------------------------------------------------------------
# 4. NaN and infinity stay local with 'auto'; the FFT methods warn
# --------------------------------------------------------------------------------------


NONFINITE_CASES = [
    ((20000,), (2000,), (5000,), np.nan),
    ((20000,), (2000,), (19999,), -np.inf),
    ((200, 200), (31, 31), (50, 60), np.nan),
    ((200, 200), (31, 31), (0, 199), np.inf),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", NONFINITE_CASES, ids=lambda c: f"{c[0]}-{c[3]}")
@pytest.mark.usefixtures("two_threads")
def test_auto_keeps_nonfinite_values_local(case, mode, name):
    s1, s2, where, value = case
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(s1), rng.standard_normal(s2)
    assert fs.choose_conv_method(x, w, mode) == "fft"
    x[where] = value
    assert fs.choose_conv_method(x, w, mode) == "direct"
    got = getattr(fs, name)(x, w, mode)
    want = getattr(fs, name)(x, w, mode, method="direct")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    bad = ~np.isfinite(want)
    assert 0 < bad.sum() <= math.prod(s2)  # local: at most one kernel footprint
    finite_x = np.where(np.isfinite(x), np.abs(x), 0.0)
    scale = getattr(ss, name)(finite_x, np.abs(w), mode, method="direct")
    assert_matches(np.where(bad, 0, got), np.where(bad, 0, want), k=math.prod(s2), scale=scale)
    # The FFT spreads the value over (nearly) every output, and says so.
    with pytest.warns(RuntimeWarning, match="NaN") as record:
        spread = getattr(fs, name)(x, w, mode, method="fft")
    assert record[0].filename == __file__  # the warning points at the caller
    assert (~np.isfinite(spread)).sum() > bad.sum()


@pytest.mark.parametrize("func", FFT_FUNCS)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_fft_functions_warn_on_nonfinite_input(func, value):
    x = np.ones(50)
    w = np.ones(7)
    w[3] = value
    with pytest.warns(RuntimeWarning, match="NaN") as record:
        out = getattr(fs, func)(x, w)
    assert record[0].filename == __file__
    assert not np.isfinite(out).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(fs, func)(x, np.ones(7))  # finite inputs: no warning


# --------------------------------------------------------------------------------------
# 5. choose_conv_method
# --------------------------------------------------------------------------------------


@given(
    array_pairs(shape_pairs(), dtype_pairs(INTS + FLOAT_DTYPES)),
    modes,
)
def test_choose_conv_method_is_consistent_with_auto(pair, mode):
    """'direct' or 'fft'; ``convolve(method=choose_conv_method(...))`` is ``convolve``'s
    'auto' result within the FFT bound (integers: exactly)."""
    x, w = pair
    method = fs.choose_conv_method(x, w, mode)
    assert method in ("direct", "fft")
    want = outcome(fs.convolve, x, w, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = outcome(fs.convolve, x, w, mode, method)
    if isinstance(want, np.ndarray) and want.dtype.kind in "iu" and method == "fft":
        # 'fft' was chosen for integers only where it rounds exactly
        return assert_matches(got, want)
    if isinstance(want, np.ndarray) and want.dtype.kind in "fc" and want.size:
        with np.errstate(all="ignore"):
            scale = np.maximum(ss.convolve(magnitudes(x), magnitudes(w), mode, "direct"), 0.0)
        return check_fft(got, want, x, w, mode, scale=scale)
    assert_matches(got, want)


@pytest.mark.parametrize(
    ("s1", "s2", "expected"),
    [
        ((10000,), (3,), "direct"),
        ((20000,), (2000,), "fft"),
        ((300, 300), (3, 3), "direct"),
        ((300, 300), (41, 41), "fft"),
    ],
)
@pytest.mark.usefixtures("two_threads")
def test_choose_conv_method_picks_by_size(s1, s2, expected):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(s1), rng.standard_normal(s2)
    assert fs.choose_conv_method(x, w) == expected
    assert fs.choose_conv_method(x.astype(np.float32), w.astype(np.float32)) == expected
    if expected == "fft":
        assert fs.choose_conv_method(x.astype(np.complex64), w.astype(np.complex64)) == "fft"


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_choose_conv_method_small_complex_kernel_is_direct(dtype):
    """Regression: overlap-save tiles of a few points cost ~0.2 us each beyond their
    transforms; before the model counted that, complex inputs with a 3-tap kernel picked 'oa'
    (estimated 6 us, ran ~400 us) over direct (~11 us) on 2 threads."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(10000).astype(dtype)
    w = rng.standard_normal(3).astype(dtype)
    assert fs.choose_conv_method(x, w) == "direct"
    assert core.choose_method(x, w, "full", 0, 2)[0] == "direct"


@pytest.mark.parametrize(("s1", "s2"), [((2000,), (50,)), ((40, 40), (5, 5))])
def test_choose_conv_method_measure(s1, s2):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal(s1), rng.standard_normal(s2)
    method, times = fs.choose_conv_method(x, w, measure=True)
    assert set(times) == {"direct", "fft"}
    assert all(isinstance(t, float) and t > 0 for t in times.values())
    assert method == min(times, key=times.get)
    # SciPy's shape of the answer
    peer_method, peer_times = ss.choose_conv_method(x, w, measure=True)
    assert set(peer_times) == set(times) and peer_method in times


@pytest.mark.parametrize(
    ("x", "w"),
    [
        (np.ones(5), np.ones((2, 2))),  # ndim mismatch
        (np.ones(0), np.ones(3)),  # empty
        (np.float64(2.0), np.float64(3.0)),  # 0-d
    ],
)
def test_choose_conv_method_degenerate_inputs_say_direct(x, w):
    assert fs.choose_conv_method(x, w) == ss.choose_conv_method(x, w) == "direct"


# --------------------------------------------------------------------------------------
# 6. threads: bitwise identical results for any worker count
# --------------------------------------------------------------------------------------

THREAD_CASES = [
    # (signal shape, kernel shape, dtype, axes)
    ((50000,), (1000,), "float64", None),
    ((30000,), (777,), "complex64", None),
    ((300, 280), (25, 31), "float32", None),
    ((150, 170), (40, 9), "complex128", None),
    ((8, 6000), (1, 300), "float64", 1),  # batched, broadcast kernel
    ((6, 120, 1), (6, 17, 1), "float32", (0, 1)),  # batched along the last axis
    ((5, 90, 80), (1, 11, 13), "complex64", (-2, -1)),
]


def layout_call(method, mode="full", flip=True):
    """The core's FFT ``method`` ('fft': whole array, 'oa': overlap-save tiles) along ``axes``
    (moved last; the other axes broadcast), convolving or (``flip=False``) correlating."""

    def call(x, w, axes, workers):
        conv = conv_axes_of(x, axes)
        batch = [d for d in range(x.ndim) if d not in conv]
        order = batch + conv
        a, b = np.transpose(x, order), np.transpose(w, order)
        conj = not flip and x.dtype.kind == "c"
        out = core.correlate(a, b, mode, len(batch), flip, conj, workers, None, method)
        return np.transpose(out, np.argsort(order))

    return call


# Calls whose FFT layout is fixed: their bits must not depend on the worker count.
THREAD_CALLS = {
    "oaconvolve": lambda x, w, axes, n: fs.oaconvolve(x, w, "full", axes, workers=n),
    "fft_same": layout_call("fft", "same"),
    "fft_correlate": layout_call("fft", "full", flip=False),
    "oa_valid": layout_call("oa", "valid"),
    "oa_correlate": layout_call("oa", "same", flip=False),
}
# Calls that pick the cheaper layout ('fft_any'): for every worker count, bit for bit one of
# the two fixed layouts (the same mode and orientation) at one worker.
ANY_CALLS = {
    "fftconvolve": (
        lambda x, w, axes, n: fs.fftconvolve(x, w, "same", axes, workers=n),
        ("same", True),
    ),
    "convolve_fft": (
        lambda x, w, axes, n: fs.convolve(x, w, "valid", "fft", axes=axes, workers=n),
        ("valid", True),
    ),
    "correlate_fft": (
        lambda x, w, axes, n: fs.correlate(x, w, "full", "fft", axes=axes, workers=n),
        ("full", False),
    ),
}


def thread_inputs(s1, s2, dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(s1).astype(dtype)
    w = rng.standard_normal(s2).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(s1).astype(dtype)
        w = w - 1j * rng.standard_normal(s2).astype(dtype)
    return x, w


@pytest.mark.parametrize("call", sorted(THREAD_CALLS))
@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}")
def test_worker_count_does_not_change_a_bit(case, call):
    s1, s2, dtype, axes = case
    x, w = thread_inputs(s1, s2, dtype)
    fn = THREAD_CALLS[call]
    one = fn(x, w, axes, 1)
    for workers in (2, 3):
        same_bits(fn(x, w, axes, workers), one)


@pytest.mark.parametrize("call", sorted(ANY_CALLS))
@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}")
def test_cheaper_layout_is_one_fixed_layout_for_any_worker_count(case, call):
    s1, s2, dtype, axes = case
    x, w = thread_inputs(s1, s2, dtype)
    fn, (mode, flip) = ANY_CALLS[call]
    layouts = [layout_call(m, mode, flip)(x, w, axes, 1) for m in ("fft", "oa")]
    for workers in (1, 2, 3):
        got = fn(x, w, axes, workers)
        bits = np.ascontiguousarray(got).tobytes()
        assert any(
            got.shape == r.shape and bits == np.ascontiguousarray(r).tobytes() for r in layouts
        ), f"workers={workers}: neither the whole-array nor the overlap-save result"


# One long 1-D transform runs as even and odd half-length transforms (fastconv's two-phase
# path, from 2^14 points): lengths on both sides of the threshold, odd and even, kernels
# longer than the signal, every mode, real and complex.
TWO_PHASE_CASES = [
    ((20000,), (5000,), "float64"),
    ((16383,), (2,), "float32"),
    ((30001,), (30001,), "float64"),
    ((5,), (40000,), "float32"),
    ((25000,), (777,), "complex128"),
    ((17001,), (64,), "complex64"),
]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("case", TWO_PHASE_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[2]}")
def test_long_1d_transforms_match_scipy_at_any_worker_count(case, mode):
    s1, s2, dtype = case
    x, w = thread_inputs(s1, s2, dtype)
    hi = wide(np.dtype(dtype))
    exact = ss.fftconvolve(x.astype(hi), w.astype(hi), mode).astype(dtype)
    whole = layout_call("fft", mode)
    for got in (fs.fftconvolve(x, w, mode), whole(x, w, None, 1)):
        check_fft(got, exact, x, w, mode, peer_dtype=np.float64)
    for workers in (2, 3):
        same_bits(whole(x, w, None, workers), whole(x, w, None, 1))


@given(
    st.integers(1, 40_000),
    st.integers(1, 40_000),
    modes,
    st.sampled_from(FLOAT_DTYPES),
    st.data(),
)
def test_long_1d_transforms_meet_the_bound(n, k, mode, dtype, data):
    """Long 1-D signals and kernels (the two-phase path where the transform is at least 2^14
    points), any layout of the inputs, within the FFT bound of the output dtype against SciPy
    on inputs widened to float64/complex128."""
    x = data.draw(arrays(np.dtype(dtype), (n,)))
    w = data.draw(arrays(np.dtype(dtype), (k,)))
    got = outcome(layout_call("fft", mode), x, w, None, 2)
    want = outcome(ss.fftconvolve, x, w, mode)
    if isinstance(want, Exception) or isinstance(got, Exception):
        assert_matches(got, want)
        return
    hi = wide(want.dtype)
    exact = ss.fftconvolve(x.astype(hi), w.astype(hi), mode).astype(want.dtype)
    check_fft(got, exact, x, w, mode, peer_dtype=np.float64)


def test_fftconvolve_bits_do_not_depend_on_workers():
    """The layout (and auto's method) is chosen for the machine's core count, never for the
    call's ``workers``, so the bits of a result cannot change with it."""
    x, w = thread_inputs((300, 280), (25, 31), "float32")
    one = fs.fftconvolve(x, w, workers=1)
    for workers in (2, 3, 8):
        same_bits(fs.fftconvolve(x, w, workers=workers), one)
        same_bits(fs.convolve(x, w, workers=workers), fs.convolve(x, w, workers=1))


@given(fft_cases(dtype_names=FLOAT_DTYPES), modes, st.sampled_from(["oa", "fft"]))
def test_worker_count_does_not_change_a_bit_hypothesis(case, mode, method):
    x, w, axes = case
    common = np.result_type(x, w)
    x, w = x.astype(common), w.astype(common)
    fn = fs.oaconvolve if method == "oa" else layout_call("fft", mode)
    args = (x, w, mode, axes) if method == "oa" else (x, w, axes)
    one = outcome(fn, *args, workers=1) if method == "oa" else outcome(fn, *args, 1)
    if isinstance(one, Exception):
        return
    for workers in (2, 3):
        got = fn(*args, workers=workers) if method == "oa" else fn(*args, workers)
        same_bits(got, one)


# --------------------------------------------------------------------------------------
# 7. Convolver
# --------------------------------------------------------------------------------------

CONVOLVER_METHODS = ("auto", "direct", "fft", "oa")


@st.composite
def convolver_cases(draw):
    """``(kernel, signals, axes)``: 1-3-D, FFT-sized, a float/complex kernel and two signals
    of one shape, ``axes`` None or a subset (the others broadcast)."""
    x, w, axes = draw(
        fft_cases(max_sides={1: 60, 2: 16, 3: 8}, dtype_names=FLOAT_DTYPES + ["int16"])
    )
    x2 = draw(arrays(x.dtype, x.shape))
    return w, (x, x2), axes


@given(convolver_cases(), modes, st.sampled_from(CONVOLVER_METHODS), st.booleans())
def test_convolver_matches_the_functions(case, mode, method, correlate):
    """Each method and mode: ``fastconv.signal.convolve/correlate`` on the inputs cast to the
    Convolver's dtype (fftconvolve's rule), within the FFT bound; repeated calls give the same
    bits; ``fftconvolve`` where the shapes agree (fastconv's 'same' keeps broadcast axes)."""
    w, (x, x2), axes = case
    name = "correlate" if correlate else "convolve"
    kwargs = dict(correlate=correlate, axes=axes, dtype=x.dtype, method=method)
    conv = outcome(fs.Convolver, w, x.shape, mode, **kwargs)
    want_dtype = scipy_fft_dtype(x.dtype, w.dtype)
    fn_method = "direct" if method == "direct" else "fft"
    want = outcome(
        getattr(fs, name), x.astype(want_dtype), w.astype(want_dtype), mode, fn_method, axes=axes
    )
    if isinstance(conv, Exception) or isinstance(want, Exception):
        assert_matches(conv, want)
        return
    # 'fft' runs the cheaper FFT layout: one whole-array transform or overlap-save tiles
    allowed = {"auto": ("direct", "fft", "oa"), "direct": ("direct",), "fft": ("fft", "oa")}
    assert conv.method in allowed.get(method, (method,))
    assert f"method={conv.method!r}" in repr(conv)
    assert conv.out_shape == want.shape
    got = conv(x)
    check_fft(got, want, x, w, mode, axes)
    same_bits(conv(x), got)  # the prepared state does not drift
    got2 = conv(x2)
    want2 = getattr(fs, name)(
        x2.astype(want_dtype), w.astype(want_dtype), mode, fn_method, axes=axes
    )
    check_fft(got2, want2, x2, w, mode, axes)
    same_bits(conv(x), got)
    if not correlate:
        fft = outcome(fs.fftconvolve, x, w, mode, axes=axes)
        # (fftconvolve crops broadcast axes in 'same' mode, and returns the plain product
        # where every axis broadcasts; the Convolver follows convolve and stays floating)
        if isinstance(fft, np.ndarray) and fft.shape == got.shape and fft.dtype == got.dtype:
            check_fft(got, fft, x, w, mode, axes)


def test_convolver_basics():
    rng = np.random.default_rng(2)
    w = rng.standard_normal(65)
    conv = fs.Convolver(w, (4096,), mode="same", method="fft")
    x = rng.standard_normal(4096)
    assert conv.out_shape == (4096,)
    assert "method='fft'" in repr(conv) or "method='oa'" in repr(conv)
    check_fft(conv(x), ss.fftconvolve(x, w, "same"), x, w, "same", peer_dtype=np.float64)
    c = fs.Convolver(w.astype(np.complex64), (300,), correlate=True, method="oa")
    assert c.method == "oa" and "'oa'" in repr(c)
    xc = (rng.standard_normal(300) + 1j * rng.standard_normal(300)).astype(np.complex64)
    check_fft(c(xc), fs.correlate(xc, w.astype(np.complex64)), xc, w, "full")


@pytest.mark.usefixtures("two_threads")
def test_convolver_nonfinite_kernel_runs_direct():
    w = np.ones(301)
    w[10] = np.nan
    conv = fs.Convolver(w, (20000,))
    assert conv.method == "direct"
    x = np.ones(20000)
    np.testing.assert_array_equal(np.isnan(conv(x)), np.isnan(fs.convolve(x, w, method="direct")))


def test_convolver_dtype_coercion():
    """Signals of another numeric dtype are cast to the convolver's (fftconvolve's) dtype; a
    complex signal for a real convolver is refused (its imaginary part would be lost)."""
    w = np.array([1.0, 2.0, 3.0], np.float32)
    conv = fs.Convolver(w, (6,))
    assert conv.dtype == np.float32
    for dt in ("int8", "float64", "float16", "bool"):
        x = np.arange(6).astype(dt)
        got = conv(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, np.convolve(x.astype(np.float64), w), rtol=1e-6)
    with pytest.raises(TypeError, match="imaginary"):
        conv(np.ones(6, np.complex64))
    with pytest.raises(ValueError, match="not defined"):
        conv(np.array(list("abcdef")))
    with pytest.raises(TypeError, match="object"):
        conv(np.ones(6, object))
    # int16 signals with a float32 kernel compute in float64, as fftconvolve does
    assert fs.Convolver(w, (6,), dtype=np.int16).dtype == np.float64
    assert fs.Convolver(w, (6,), dtype=np.complex64).dtype == np.complex64


def test_convolver_refuses_bad_arguments():
    w = np.ones(3)
    conv = fs.Convolver(w, (5,))
    with pytest.raises(ValueError, match="prepared for shape"):
        conv(np.ones(6))
    with pytest.raises(ValueError, match="prepared for shape"):
        conv(np.ones((5, 1)))
    with pytest.raises(ValueError, match="method"):
        fs.Convolver(w, (5,), method="bogus")
    with pytest.raises(ValueError, match="mode"):
        fs.Convolver(w, (5,), mode="bogus")
    with pytest.raises(ValueError, match="empty"):
        fs.Convolver(np.ones(0), (5,))
    with pytest.raises(ValueError, match="empty"):
        fs.Convolver(w, (0,))
    with pytest.raises(ValueError, match="dimensionality"):
        fs.Convolver(w, (5, 5))
    with pytest.raises(ValueError, match="workers"):
        fs.Convolver(w, (5,), workers=0)
    with pytest.raises(ValueError, match="axes"):
        fs.Convolver(np.ones((3, 3)), (5, 5), axes=2)
    with pytest.raises(ValueError, match="not defined"):
        fs.Convolver(np.array(["a", "b"]), (5,))


# --------------------------------------------------------------------------------------
# 8. invalid input: SciPy's exception class where SciPy has the function
# --------------------------------------------------------------------------------------


def peer_class(peer, *args, **kwargs) -> type:
    """The builtin exception class ``peer(*args, **kwargs)`` raises (NumPy's subclasses, such as
    ``DTypePromotionError``, count as their builtin base)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            peer(*args, **kwargs)
    return next(c for c in info.type.__mro__ if c.__module__ == "builtins")


def x1(n=5, dtype=np.float64):
    return np.arange(n).astype(dtype)


def x2(shape=(4, 5), dtype=np.float64):
    return np.arange(np.prod(shape)).reshape(shape).astype(dtype)


def convolve_fft(*args, **kwargs):
    return fs.convolve(*args, method="fft", **kwargs)


def scipy_convolve_fft(*args, **kwargs):
    return ss.convolve(*args, method="fft", **kwargs)


FUNCS = {
    "fftconvolve": (fs.fftconvolve, ss.fftconvolve),
    "oaconvolve": (fs.oaconvolve, ss.oaconvolve),
    "convolve_fft": (convolve_fft, scipy_convolve_fft),
}
INVALID = {
    "bad mode": ((x1(), x1(3), "bogus"), {}),
    "mode None": ((x1(), x1(3), None), {}),
    "unhashable mode": ((x1(), x1(3), ["full"]), {}),
    "ndim mismatch": ((x2(), x1(3)), {}),
    "0-d with 1-d": ((np.float64(2.0), x1(3)), {}),
    "valid size": ((x2((4, 2)), x2((2, 4)), "valid"), {}),
    "axis out of range": ((x2(), x2((2, 2))), {"axes": 2}),
    "negative axis out of range": ((x2(), x2((2, 2))), {"axes": -3}),
    "repeated axes": ((x2(), x2((2, 2))), {"axes": [0, 0]}),
    "empty axes": ((x2(), x2((2, 2))), {"axes": []}),
    "float axes": ((x2(), x2((2, 2))), {"axes": 1.5}),
    "incompatible batch": ((x2((3, 4)), x2((2, 4))), {"axes": 1}),
    "strings": ((np.array(list("abcde")), x1(3)), {}),
    "bytes": ((np.array([b"a", b"b"]), x1(3)), {}),
    "ragged": (([[1, 2], [3]], x2((2, 2))), {}),
}


@pytest.mark.parametrize("func", sorted(FUNCS))
@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_input_raises_like_scipy(func, case):
    fast, peer = FUNCS[func]
    args, kwargs = INVALID[case]
    if func == "convolve_fft" and "axes" in kwargs:
        # SciPy's convolve has no axes=: its fftconvolve, which does the work, is the peer
        peer = ss.fftconvolve
    if func == "convolve_fft" and case == "unhashable mode":
        # Documented in fastconv.signal.convolve: an unhashable mode is a TypeError whatever
        # the method (SciPy: TypeError for 'direct', ValueError for 'fft' and 'auto').
        with pytest.raises(TypeError):
            fast(*args, **kwargs)
        return
    cls = peer_class(peer, *args, **kwargs)
    with pytest.raises(cls):
        fast(*args, **kwargs)


@pytest.mark.parametrize("func", ["fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("dtype", ["datetime64[s]", "timedelta64[s]"])
def test_time_dtypes_are_refused_where_scipy_transforms_them(func, dtype):
    """A deviation: SciPy's FFTs cast datetimes and timedeltas to float (their raw counts) and
    return a float result; fastconv, as its convolve, refuses them with ValueError."""
    x = np.arange(3).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert getattr(ss, func)(x, x1(3)).dtype == np.float64
    with pytest.raises(ValueError, match="not defined"):
        getattr(fs, func)(x, x1(3))


@pytest.mark.parametrize("fast", [fs.fftconvolve, fs.oaconvolve, convolve_fft, fs.correlate])
@pytest.mark.parametrize(("workers", "cls"), [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_bad_workers(fast, workers, cls):
    """SciPy's FFT functions have no ``workers``; fastconv refuses counts below 1 other than -1
    (all cores) with ValueError, and non-integers with TypeError."""
    with pytest.raises(cls, match="workers"):
        fast(x1(), x1(3), workers=workers)
    assert fast(x1(), x1(3), workers=-1).shape == (7,)


@pytest.mark.parametrize("mode", ["bogus", None, ["full"]])
@pytest.mark.parametrize("measure", [False, True])
def test_choose_conv_method_bad_mode_raises_like_scipy(mode, measure):
    cls = peer_class(ss.choose_conv_method, x1(), x1(3), mode, measure)
    with pytest.raises(cls):
        fs.choose_conv_method(x1(), x1(3), mode, measure)


def test_choose_conv_method_non_numeric_input():
    # A deviation: SciPy answers 'direct' for non-numeric arrays (its convolve then raises
    # ValueError); fastconv raises that ValueError at once.
    assert ss.choose_conv_method(np.array(list("abc")), x1(3)) == "direct"
    with pytest.raises(ValueError):
        fs.choose_conv_method(np.array(list("abc")), x1(3))


@pytest.mark.parametrize("method", ["fast", "FFT", None, 1, "oa"])
def test_bad_method_raises_like_scipy(method):
    cls = peer_class(ss.convolve, x1(), x1(3), method=method)
    with pytest.raises(cls):
        fs.convolve(x1(), x1(3), method=method)
    cls = peer_class(ss.correlate, x1(), x1(3), method=method)
    with pytest.raises(cls):
        fs.correlate(x1(), x1(3), method=method)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("func", FFT_FUNCS)
def test_complex_fft_keeps_the_imaginary_part(dtype, func):
    """A purely imaginary kernel: the result is purely imaginary (no real-FFT shortcut)."""
    x = np.arange(1, 9).astype(dtype)
    w = (1j * np.arange(1, 4)).astype(dtype)
    got = getattr(fs, func)(x, w)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.imag, np.convolve(np.arange(1, 9), np.arange(1, 4)), 1e-5)
    np.testing.assert_allclose(got.real, 0, atol=1e-4)


def test_auto_fft_on_narrow_integers_wraps_like_the_peer():
    """int16 sums beyond int16's range: 'auto' picks FFT (exact in float64), and the result
    must wrap as the peer's integer arithmetic does (cast through int64, not float -> int16)."""
    rng = np.random.default_rng(0)
    x = rng.integers(-30, 30, (200, 200)).astype(np.int16)
    w = rng.integers(-30, 30, (60, 60)).astype(np.int16)
    assert fs.choose_conv_method(x, w) == "fft"
    got = fs.convolve(x, w)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, ss.convolve(x, w, method="direct"))

"""Differential tests of ``fastconv.signal`` against ``scipy.signal`` and ``fastconv.reference``.

Every test draws inputs, calls fastconv and the peer on the same inputs and asserts by
:func:`strategies.assert_matches`: the same exception class where the peer raises, else the
same type, dtype and shape and equal values (exact for bool and integers, within the
summation error bound for floats; see ``strategies.py``).
"""

from __future__ import annotations

import warnings

import fastconv.signal as fs
import numpy as np
import pytest
import scipy.signal as ss
from fastconv import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    ALL_DTYPES,
    MODES,
    REF_SIDES,
    abs64,
    array_pairs,
    arrays,
    assert_matches,
    dtype_pairs,
    dtypes,
    empty_shape_pairs,
    fft_slack,
    modes,
    outcome,
    shape_pairs,
    sides,
    taps,
    tolerance,
)

NAMES = ("convolve", "correlate")
names = st.sampled_from(NAMES)
methods = st.sampled_from(["auto", "direct"])

# NumPy-scalar and 0-d fill values convert with C-cast semantics; SciPy warns on some of them.
quiet_casts = pytest.mark.filterwarnings(
    "ignore::RuntimeWarning", "ignore::numpy.exceptions.ComplexWarning"
)


def scipy_direct(name, x, w, mode):
    return getattr(ss, name)(x, w, mode, method="direct")


def scale_of(fn, x, w, dtype, *args):
    """``sum |x| |w|`` per output: ``fn`` on the float64 magnitudes (None for exact dtypes)."""
    if np.dtype(dtype).kind not in "fc":
        return None
    return fn(abs64(x, dtype), abs64(w, dtype), *args)


def check_nd(got, want, name, x, w, mode, axes=None, method="auto"):
    """Compare an N-D result with the peer's (or the reference's) by the comparison rule.

    The scale ``sum |x| |w|`` comes from the direct peer on the float64 magnitudes (looped over
    the broadcast axes when ``axes`` is given). With ``method`` other than 'direct' the result
    may come from an FFT, whose normwise error bound (:func:`fft_slack`) is added.
    """
    scale = None
    if isinstance(want, np.ndarray) and want.dtype.kind in "fc" and want.size:
        with np.errstate(invalid="ignore"):  # 0 * inf in SciPy's padding
            if axes is None:
                scale = scale_of(lambda a, b: scipy_direct(name, a, b, mode), x, w, want.dtype)
            else:
                scale = scale_of(
                    lambda a, b: looped_direct(name, a, b, mode, axes), x, w, want.dtype
                )
    conv = range(x.ndim) if axes is None else np.atleast_1d(axes) % x.ndim
    k = taps([x.shape[a] for a in conv], [w.shape[a] for a in conv])
    atol = 0.0
    if method != "direct" and isinstance(want, np.ndarray):
        atol = fft_slack(x, w, axes, want.dtype)
    assert_matches(got, want, k=k, scale=scale, atol=atol)


# --------------------------------------------------------------------------------------
# convolve / correlate against scipy.signal (method='direct')
# --------------------------------------------------------------------------------------


@given(array_pairs(shape_pairs()), modes, names, methods)
def test_nd_matches_scipy_direct(pair, mode, name, method):
    x, w = pair
    want = outcome(scipy_direct, name, x, w, mode)
    got = outcome(getattr(fs, name), x, w, mode, method)
    check_nd(got, want, name, x, w, mode, method=method)


@given(array_pairs(shape_pairs(max_sides=REF_SIDES)), modes, names)
def test_nd_matches_reference(pair, mode, name):
    x, w = pair
    want = outcome(getattr(ref, name), x, w, mode)
    got = outcome(getattr(fs, name), x, w, mode)
    check_nd(got, want, name, x, w, mode)


@given(
    array_pairs(shape_pairs(relation="larger"), dtype_pairs(["int16", "float64", "complex128"])),
    names,
)
def test_valid_mode_swaps_a_larger_in2(pair, name):
    """'valid' with in2 at least as large on every axis: the peers swap the inputs."""
    x, w = pair
    want = scipy_direct(name, x, w, "valid")
    check_nd(getattr(fs, name)(x, w, "valid"), want, name, x, w, "valid")
    check_nd(
        getattr(fs, name)(x, w, "valid"), getattr(ref, name)(x, w, "valid"), name, x, w, "valid"
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((7,), (4,)), ((6, 5), (2, 4)), ((5, 6, 4), (4, 2, 2))])
def test_even_kernels_centre_like_scipy(name, mode, shapes):
    """'same' puts kernel tap ``k // 2`` (correlate: ``(k - 1) // 2``) over each sample."""
    x = np.arange(np.prod(shapes[0]), dtype=np.int64).reshape(shapes[0]) % 7 - 3
    w = np.arange(np.prod(shapes[1]), dtype=np.int64).reshape(shapes[1]) % 5 - 1
    want = scipy_direct(name, x, w, mode)
    assert_matches(getattr(fs, name)(x, w, mode), want)
    assert_matches(getattr(fs, name)(x, w, mode), getattr(ref, name)(x, w, mode))


@given(array_pairs(shape_pairs(), dtype_pairs(["complex64", "complex128"])), modes)
def test_correlate_conjugates_in2(pair, mode):
    """``correlate(x, w) == convolve(x, conj(flip(w)))`` on every axis (SciPy's definition)."""
    x, w = pair
    got = outcome(fs.correlate, x, w, mode)
    want = outcome(scipy_direct, "correlate", x, w, mode)
    check_nd(got, want, "correlate", x, w, mode)
    if isinstance(want, Exception):
        return
    flipped = np.conj(np.flip(w))
    check_nd(got, fs.convolve(x, flipped, mode), "correlate", x, w, mode)


@given(st.data(), dtype_pairs(), st.sampled_from(MODES + ("bogus",)), names)
def test_zero_dim_inputs_give_the_product(data, dts, mode, name):
    """Two 0-d inputs: SciPy returns ``in1 * in2`` (``in1 * conj(in2)``) without checking mode."""
    x = data.draw(arrays(dts[0], ()))
    w = data.draw(arrays(dts[1], ()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # integer overflow in the product
        want = outcome(getattr(ss, name), x, w, mode, method="direct")
        got = outcome(getattr(fs, name), x, w, mode)
        assert_matches(got, want)
        assert_matches(got, outcome(getattr(ref, name), x, w, mode))


@given(empty_shape_pairs(), dtype_pairs(), modes, names)
def test_empty_inputs_follow_scipy(shapes, dts, mode, name):
    """Empty inputs: SciPy's errors, or zeros of SciPy's shape and dtype."""
    x, w = np.ones(shapes[0], dts[0]), np.ones(shapes[1], dts[1])
    want = outcome(scipy_direct, name, x, w, mode)
    got = outcome(getattr(fs, name), x, w, mode)
    assert_matches(got, want)
    assert_matches(got, outcome(getattr(ref, name), x, w, mode))


@given(
    array_pairs(shape_pairs(), dtype_pairs(["float32", "float64"]), True),
    modes,
    names,
)
def test_nonfinite_values_follow_scipy(pair, mode, name):
    """NaN and infinity: SciPy's N-D path multiplies its zero padding (0 * inf is NaN)."""
    x, w = pair
    want = outcome(scipy_direct, name, x, w, mode)
    got = outcome(getattr(fs, name), x, w, mode)
    check_nd(got, want, name, x, w, mode)


# --------------------------------------------------------------------------------------
# axes=: against the direct peer looped over the broadcast axes, and against fftconvolve
# --------------------------------------------------------------------------------------


@st.composite
def axes_cases(draw, dtype_names=ALL_DTYPES, max_sides=None):
    """``(x, w, axes)``: convolved axes of any sizes, the other axes equal or 1 (broadcast)."""
    ndim = draw(st.integers(1, 3))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    top = (max_sides or {1: 30, 2: 10, 3: 5})[len(axes)]
    relation = draw(st.sampled_from(["smaller", "larger", "any"]))
    s1, s2 = [], []
    for d in range(ndim):
        if d in axes:
            n = draw(sides(top))
            k = {
                "smaller": draw(st.integers(1, n)),
                "larger": draw(st.integers(n, max(n, top))),
                "any": draw(sides(top)),
            }[relation]
        else:
            n = draw(st.integers(1, 4))
            k = draw(st.sampled_from([n, 1]))
            if draw(st.booleans()):
                n, k = k, n
        s1.append(n)
        s2.append(k)
    if draw(st.booleans()):  # negative axis numbers
        axes = [a - ndim for a in axes]
    if len(axes) == 1 and draw(st.booleans()):
        axes = axes[0]
    d1, d2 = draw(dtype_pairs(dtype_names))
    return draw(arrays(d1, tuple(s1))), draw(arrays(d2, tuple(s2))), axes


def looped_direct(name, x, w, mode, axes):
    """The direct peer applied to every pair of slices along the non-convolved axes."""
    conv = sorted({a % x.ndim for a in np.atleast_1d(axes)})
    batch = [d for d in range(x.ndim) if d not in conv]
    xb = np.moveaxis(x, batch, range(len(batch)))
    wb = np.moveaxis(w, batch, range(len(batch)))
    bshape = np.broadcast_shapes(xb.shape[: len(batch)], wb.shape[: len(batch)])
    outs = []
    for idx in np.ndindex(*bshape):
        xi = tuple(i if xb.shape[j] != 1 else 0 for j, i in enumerate(idx))
        wi = tuple(i if wb.shape[j] != 1 else 0 for j, i in enumerate(idx))
        outs.append(np.asarray(scipy_direct(name, xb[xi], wb[wi], mode)))
    out = np.stack(outs).reshape(bshape + outs[0].shape)
    return np.moveaxis(out, range(len(batch)), batch)


@given(axes_cases(), modes, names)
def test_axes_match_direct_peer_looped_over_broadcast_axes(case, mode, name):
    x, w, axes = case
    want = outcome(looped_direct, name, x, w, mode, axes)
    got = outcome(getattr(fs, name), x, w, mode, axes=axes)
    check_nd(got, want, name, x, w, mode, axes)


@given(axes_cases(max_sides={1: 12, 2: 6, 3: 4}), modes, names)
def test_axes_match_reference_looped_over_broadcast_axes(case, mode, name):
    x, w, axes = case
    conv = sorted({a % x.ndim for a in np.atleast_1d(axes)})
    batch = [d for d in range(x.ndim) if d not in conv]
    xb, wb = np.moveaxis(x, batch, range(len(batch))), np.moveaxis(w, batch, range(len(batch)))
    bshape = np.broadcast_shapes(xb.shape[: len(batch)], wb.shape[: len(batch)])
    got = outcome(getattr(fs, name), x, w, mode, axes=axes)
    for idx in np.ndindex(*bshape):
        xi = tuple(i if xb.shape[j] != 1 else 0 for j, i in enumerate(idx))
        wi = tuple(i if wb.shape[j] != 1 else 0 for j, i in enumerate(idx))
        want = outcome(getattr(ref, name), xb[xi], wb[wi], mode)
        part = (
            got if isinstance(got, Exception) else np.moveaxis(got, batch, range(len(batch)))[idx]
        )
        if isinstance(want, np.ndarray) and isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
        check_nd(part, want, name, xb[xi], wb[wi], mode)


@given(axes_cases(["float32", "float64", "complex64", "complex128"]), modes, names)
def test_axes_match_fftconvolve(case, mode, name):
    """fftconvolve's values within the FFT's error bound, ``eps * log2(L) * sum|x| * sum|w|``.

    Two documented differences: fftconvolve treats a convolved axis of length 1 as broadcast,
    so it accepts some 'valid' shapes the direct peers refuse; and in 'same' mode it crops the
    broadcast axes to in1's length too (fastconv keeps the broadcast length, as the looped
    direct peer does), so there fftconvolve's output is the centre of fastconv's.
    """
    x, w, axes = case
    got = outcome(getattr(fs, name), x, w, mode, axes=axes)
    kernel = w if name == "convolve" else np.conj(np.flip(w, axis=axes))
    fft = outcome(ss.fftconvolve, x, kernel, mode, axes=axes)
    if isinstance(got, Exception):
        conv = np.atleast_1d(axes) % x.ndim
        unit_axis = any(1 in (x.shape[a], w.shape[a]) for a in conv)
        assert isinstance(fft, type(got)) or (mode == "valid" and unit_axis), (got, fft)
        return
    assert not isinstance(fft, Exception), fft
    assert got.dtype == np.result_type(x, w)
    if mode == "same" and got.shape != fft.shape:
        assert fft.shape == x.shape
        start = [(g - f) // 2 for g, f in zip(got.shape, fft.shape)]
        got = got[tuple(slice(s, s + f) for s, f in zip(start, fft.shape))]
    assert got.shape == fft.shape
    # scipy.fft transforms each input in its own precision (float32 stays single).
    eps = max(np.finfo(x.dtype).eps, np.finfo(w.dtype).eps)
    total = abs64(x, fft.dtype).sum() * abs64(w, fft.dtype).sum()
    bound = 16 * eps * np.log2(got.size + 2) * total
    err = np.abs(got.astype(np.complex128) - fft.astype(np.complex128))
    assert (err <= bound).all(), (err.max(), bound)


# --------------------------------------------------------------------------------------
# convolve2d / correlate2d
# --------------------------------------------------------------------------------------

BOUNDARIES = ("fill", "pad", "wrap", "circular", "symm", "symmetric")


def fill_values():
    """Fill values of every kind SciPy converts: Python and NumPy scalars, 0-d and 1-element
    arrays (exact-cast rules), complex into real (refused), NaN, and a 2-element array."""
    scalars = st.one_of(
        st.integers(-5, 5),
        st.sampled_from([0, 2.5, -1.5, 1e3, 1 + 0j, 2 - 1j, float("nan"), float("inf"), 300]),
    )
    numpy_scalars = st.tuples(scalars, dtypes(ALL_DTYPES)).map(
        lambda t: _quiet(lambda: np.asarray(t[0]).astype(t[1])[()])
    )
    small_arrays = st.tuples(st.integers(-3, 3), dtypes(["int8", "int64", "float64", "complex128"]))
    return st.one_of(
        scalars,
        numpy_scalars,
        small_arrays.map(lambda t: np.array(t[0], t[1])),
        small_arrays.map(lambda t: np.array([t[0]], t[1])),
        st.just(np.array([1, 2])),
    )


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


@st.composite
def two_d_cases(draw, max_side=12):
    s1, s2 = draw(shape_pairs(ndims=(2,), max_sides={2: max_side}))
    d1, d2 = draw(dtype_pairs())
    x, w = draw(arrays(d1, s1)), draw(arrays(d2, s2))
    return x, w, draw(modes), draw(st.sampled_from(BOUNDARIES)), draw(fill_values())


def check_2d(got, want, name, x, w, mode, boundary, fillvalue):
    """Compare 2-D results; the scale is SciPy's result on the magnitudes (|fill| included)."""
    scale = None
    if isinstance(want, np.ndarray) and want.dtype.kind in "fc" and want.size:
        fv = 0.0
        if boundary in ("fill", "pad"):
            fv = np.abs(_quiet(lambda: np.asarray(fillvalue).astype(want.dtype))).item()
        with np.errstate(invalid="ignore"):
            scale = scale_of(
                lambda a, b: getattr(ss, name)(a, b, mode, boundary, fv), x, w, want.dtype
            )
    assert_matches(got, want, k=w.size, scale=scale)


@quiet_casts
@given(two_d_cases(), names)
def test_2d_matches_scipy(case, name):
    x, w, mode, boundary, fillvalue = case
    want = outcome(getattr(ss, name + "2d"), x, w, mode, boundary, fillvalue)
    got = outcome(getattr(fs, name + "2d"), x, w, mode, boundary, fillvalue)
    check_2d(got, want, name + "2d", x, w, mode, boundary, fillvalue)


@quiet_casts
@given(two_d_cases(max_side=6), names)
def test_2d_matches_reference(case, name):
    x, w, mode, boundary, fillvalue = case
    want = outcome(getattr(ref, name + "2d"), x, w, mode, boundary, fillvalue)
    got = outcome(getattr(fs, name + "2d"), x, w, mode, boundary, fillvalue)
    check_2d(got, want, name + "2d", x, w, mode, boundary, fillvalue)


@given(
    array_pairs(
        shape_pairs(ndims=(2,), relation="larger", max_sides={2: 9}),
        dtype_pairs(["int32", "float64", "complex128"]),
    ),
    modes,
    st.sampled_from(["wrap", "symm"]),
    names,
)
def test_2d_kernel_larger_than_image_wraps_and_mirrors_repeatedly(pair, mode, boundary, name):
    x, w = pair
    want = outcome(getattr(ss, name + "2d"), x, w, mode, boundary)
    got = outcome(getattr(fs, name + "2d"), x, w, mode, boundary)
    check_2d(got, want, name + "2d", x, w, mode, boundary, 0)


@quiet_casts
@given(st.integers(-100, 100), dtypes(["int8", "uint8", "int32", "int64"]), names)
def test_2d_fill_value_truncates_like_scipy(fill, dtype, name):
    """A float fill value becomes an integer by truncation (and out of range is refused)."""
    x = np.arange(12, dtype=dtype).reshape(3, 4)
    w = np.ones((2, 3), dtype)
    for fv in (fill + 0.75, fill - 0.75, fill):
        want = outcome(getattr(ss, name + "2d"), x, w, "full", "fill", fv)
        assert_matches(outcome(getattr(fs, name + "2d"), x, w, "full", "fill", fv), want)


def _scipy_2d_crashes(s1, s2, mode, boundary):
    """Where SciPy's ``_convolve2d`` takes an index modulo a zero length (the process dies of
    SIGFPE): 'wrap'/'symm', a non-empty output, ``in2`` not empty along axis 0, and ``in1``
    empty along axis 0, or along axis 1 while ``in2`` is not (found by running every shape
    with sides 0..3 in a subprocess)."""
    if boundary in ("fill", "pad"):
        return False
    if mode == "valid" and not all(n >= k for n, k in zip(s1, s2)):
        s1, s2 = s2, s1
    out = {
        "same": s1,
        "valid": [n - k + 1 for n, k in zip(s1, s2)],
        "full": [n + k - 1 for n, k in zip(s1, s2)],
    }[mode]
    if min(out) <= 0 or s2[0] == 0:
        return False
    return s1[0] == 0 or (s1[1] == 0 and s2[1] > 0)


@quiet_casts
@given(
    empty_shape_pairs(ndims=(2,)),
    dtype_pairs(["int32", "float64", "complex128"]),
    modes,
    st.sampled_from(BOUNDARIES),
    st.sampled_from([0, 3, 1.5 - 2j]),
    names,
)
def test_2d_empty_inputs_follow_scipy(shapes, dts, mode, boundary, fillvalue, name):
    x, w = (
        np.ones(shapes[0], dts[0]) * 2,
        np.arange(np.prod(shapes[1]), dtype=dts[1]).reshape(shapes[1]),
    )
    got = outcome(getattr(fs, name + "2d"), x, w, mode, boundary, fillvalue)
    if _scipy_2d_crashes(shapes[0], shapes[1], mode, boundary):
        # Not asked of SciPy: the process would die. fastconv refuses with a clear message.
        assert isinstance(got, ValueError) and "non-empty in1" in str(got), got
        assert isinstance(outcome(getattr(ref, name + "2d"), x, w, mode, boundary), ValueError)
        return
    want = outcome(getattr(ss, name + "2d"), x, w, mode, boundary, fillvalue)
    assert_matches(got, want)
    assert_matches(got, outcome(getattr(ref, name + "2d"), x, w, mode, boundary, fillvalue))


@given(
    array_pairs(
        shape_pairs(ndims=(2,), max_sides={2: 8}), dtype_pairs(["float32", "float64"]), True
    ),
    modes,
    st.sampled_from(BOUNDARIES),
    names,
)
def test_2d_nonfinite_values_follow_scipy(pair, mode, boundary, name):
    """SciPy multiplies its fill (even a zero fill): ``0 * inf`` is NaN there."""
    x, w = pair
    want = outcome(getattr(ss, name + "2d"), x, w, mode, boundary)
    got = outcome(getattr(fs, name + "2d"), x, w, mode, boundary)
    check_2d(got, want, name + "2d", x, w, mode, boundary, 0)


# --------------------------------------------------------------------------------------
# correlation_lags
# --------------------------------------------------------------------------------------

lengths = st.one_of(
    st.integers(0, 60),
    st.tuples(st.integers(0, 60), st.sampled_from([np.int16, np.int32, np.int64])).map(
        lambda t: t[1](t[0])
    ),
    st.sampled_from([4.0, 7.5, 3.0]),
)


@given(lengths, lengths, st.sampled_from(MODES + ("bogus",)))
def test_correlation_lags_match_scipy_and_reference(n1, n2, mode):
    want = outcome(ss.correlation_lags, n1, n2, mode)
    got = outcome(fs.correlation_lags, n1, n2, mode)
    assert_matches(got, want)
    assert_matches(got, outcome(ref.correlation_lags, n1, n2, mode))


@given(st.integers(0, 60), st.integers(0, 60), modes, st.sampled_from([np.uint8, np.uint16]))
def test_correlation_lags_unsigned_lengths_are_plain_integers(n1, n2, mode, utype):
    """A documented deviation: SciPy computes ``-in2_len`` in an unsigned type (wrapping);
    fastconv, as the reference, uses the integer's value."""
    want = ss.correlation_lags(n1, n2, mode)
    assert_matches(fs.correlation_lags(utype(n1), utype(n2), mode), want)
    assert_matches(
        fs.correlation_lags(utype(n1), utype(n2), mode),
        ref.correlation_lags(utype(n1), utype(n2), mode),
    )


@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["full", "valid"]))
def test_correlation_lags_label_correlate_output(n1, n2, mode):
    """``lags[i]`` is the shift of output ``i`` of ``correlate(in1, in2, mode)`` (1-D).

    ('same' is left out: for odd ``n1`` and even ``n2`` SciPy's own 'same' lags are one off
    from its 'same' correlation; fastconv reproduces both, as the peer tests check.)
    """
    x = np.zeros(n1, np.int64)
    x[0] = 1
    w = np.zeros(n2, np.int64)
    w[0] = 1
    out = fs.correlate(x, w, mode)
    lags = fs.correlation_lags(n1, n2, mode)
    assert out.shape == lags.shape
    np.testing.assert_array_equal(out, (lags == 0).astype(np.int64))


def test_tolerance_rule_is_tight_enough_to_catch_one_wrong_term():
    """The float bound is far below the size of one term, so a missing term cannot pass."""
    x = np.full(40, 1.0, np.float32)
    w = np.full(40, 1.0, np.float32)
    scale = np.convolve(x.astype(np.float64), w.astype(np.float64))
    allowed = tolerance(np.float32, 40, scale)
    assert (allowed < 0.01).all()
    with pytest.raises(AssertionError):
        bad = np.convolve(x, w)
        bad[20] -= 1.0
        assert_matches(bad, np.convolve(x, w), k=40, scale=scale)

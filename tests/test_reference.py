"""Test the tester: ``fastconv.reference`` against NumPy/SciPy on a fixed table of cases.

Every reference function is called next to its peer on the same inputs.  Either
both raise, with the same exception class, or both return an object of the same
kind (ndarray or NumPy scalar) with the same dtype and shape and the same values:

* bool and integer results must be identical (integers wrap around);
* floating and complex results are compared with ``rtol`` depending on the
  output dtype and ``atol = rtol * scale``, where ``scale`` bounds the sum of
  the absolute values of the terms (so cancellation does not fail the test):

  - float16: ``rtol = 2e-3`` (NumPy accumulates float16 in float32 and
    rounds once; the reference rounds the exact sum once: at most ~1 ulp,
    2**-10 ~ 9.8e-4, apart);
  - float32 / complex64: ``rtol = 1e-5`` (SciPy accumulates in single
    precision, the reference in double before rounding; a fast peer may use
    yet another order);
  - float64 / complex128: ``rtol = 1e-12`` (only the summation order differs).

The reference module is loaded from its file path so that this test does not
need the compiled extension (nor ``fastconv/__init__.py``).
"""

import functools
import importlib.util
import itertools
import pathlib
import zlib

import numpy as np
import pytest

signal = pytest.importorskip("scipy.signal")
linalg = pytest.importorskip("scipy.linalg")


def _load_reference():
    path = pathlib.Path(__file__).resolve().parents[1] / "python" / "fastconv" / "reference.py"
    spec = importlib.util.spec_from_file_location("fastconv_reference_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

RTOL = {"e": 2e-3, "f": 1e-5, "F": 1e-5, "d": 1e-12, "D": 1e-12}

DTYPES = [
    "bool",
    "int8",
    "uint8",
    "int32",
    "int64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
MIXED = [
    ("bool", "int8"),
    ("bool", "float16"),
    ("int8", "uint8"),
    ("int8", "float16"),
    ("int8", "float32"),
    ("uint8", "int64"),
    ("int16", "uint16"),
    ("int32", "uint32"),
    ("int32", "float32"),
    ("int64", "uint64"),
    ("uint64", "float16"),
    ("float16", "float32"),
    ("float32", "float64"),
    ("float32", "complex64"),
    ("float64", "complex64"),
    ("int64", "complex64"),
]
MODES = ["full", "same", "valid"]

SHAPES = [
    # 1-D: odd/even kernels, kernel longer than the signal, length 1
    ((4,), (3,)),
    ((5,), (2,)),
    ((6,), (4,)),
    ((3,), (5,)),
    ((2,), (6,)),
    ((1,), (1,)),
    ((1,), (4,)),
    ((4,), (1,)),
    ((6,), (6,)),
    # 2-D
    ((3, 4), (2, 2)),
    ((4, 3), (3, 2)),
    ((2, 2), (3, 3)),
    ((3, 5), (3, 1)),
    ((1, 1), (2, 3)),
    ((5, 4), (2, 5)),
    ((2, 3), (3, 2)),
    # 3-D
    ((3, 4, 2), (2, 3, 2)),
    ((2, 3, 4), (3, 3, 3)),
    ((2, 2, 2), (1, 2, 1)),
    ((2, 3, 2), (2, 2, 3)),
]
EMPTY_SHAPES = [
    ((0,), (0,)),
    ((0,), (3,)),
    ((3,), (0,)),
    ((0, 3), (2, 2)),
    ((2, 2), (0, 3)),
    ((0, 0), (0, 0)),
    ((3, 0), (2, 0)),
    ((2, 0), (3, 1)),
    ((2, 0), (3, 2)),
    ((2, 1), (3, 0)),
    ((1, 3), (0, 2)),
    ((0, 2), (0, 2)),
    ((3, 0), (0, 3)),
    ((1, 1), (0, 0)),
    ((0, 2, 2), (1, 1, 1)),
    ((2, 2, 2), (2, 0, 1)),
    ((1, 0, 2), (1, 0, 2)),
]
SHAPES_2D = [(s1, s2) for s1, s2 in SHAPES + EMPTY_SHAPES if len(s1) == 2]

SCIPY_PAIRS = [
    ("convolve", functools.partial(signal.convolve, method="direct")),
    ("correlate", functools.partial(signal.correlate, method="direct")),
]
NUMPY_PAIRS = [("np_convolve", np.convolve), ("np_correlate", np.correlate)]
PAIRS_2D = [("convolve2d", signal.convolve2d), ("correlate2d", signal.correlate2d)]


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _random(rng, shape, dtype, small=False):
    """Random array: full integer range (wraparound) unless ``small``; N(0, 1) floats."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.asarray(rng.integers(0, 2, shape)).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(info.min, -4), 4) if small else (info.min, info.max)
        return np.asarray(rng.integers(lo, hi, shape, dtype=dtype, endpoint=True))
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def _magnitude(value):
    """Largest finite |element| of ``value`` (0 for anything non-numeric or empty)."""
    try:
        mags = np.abs(np.asarray(value, dtype=complex)).ravel()
    except (TypeError, ValueError):
        return 0.0
    mags = mags[np.isfinite(mags)]
    return float(mags.max()) if mags.size else 0.0


def _scale(x, k, fill=0):
    """Bound on the sum of |terms| of any output element (``fill`` pads ``x``)."""
    count = max(x.size, k.size, 1)
    return count * max(_magnitude(x), _magnitude(fill)) * _magnitude(k) + 1.0


def _outcome(fn, *args, **kwargs):
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any exception class is part of the contract
        return "raise", exc


def assert_matches(ref_fn, peer_fn, *args, scale=1.0, **kwargs):
    """Both raise the same exception class, or both return the same result."""
    expected = _outcome(peer_fn, *args, **kwargs)
    actual = _outcome(ref_fn, *args, **kwargs)
    if expected[0] == "raise":
        assert actual[0] == "raise", f"peer raised {expected[1]!r}, reference returned"
        assert type(actual[1]) is type(expected[1]), (actual[1], expected[1])
        return
    assert actual[0] == "ok", f"reference raised {actual[1]!r}, peer returned"
    assert_same_result(actual[1], expected[1], scale)


def assert_same_result(actual, expected, scale=1.0):
    assert type(actual) is type(expected)
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
        return
    rtol = RTOL[expected.dtype.char]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True)


def _pair(fn_pairs, name):
    return getattr(ref, name), dict(fn_pairs)[name]


def _shape_id(pair):
    return "x".join(str(s) for s in pair).replace(" ", "")


# --------------------------------------------------------------------------------------
# the seed example and a few hand-checked values
# --------------------------------------------------------------------------------------


def test_seed_example():
    x, k = [1, 2, 3, 4], [5, 6, 7]
    for fn in (ref.convolve, ref.np_convolve):
        assert fn(x, k, "full").tolist() == [5, 16, 34, 52, 45, 28]
        assert fn(x, k, "same").tolist() == [16, 34, 52, 45]
        assert fn(x, k, "valid").tolist() == [34, 52]
    for fn in (ref.correlate, ref.np_correlate):
        assert fn(x, k, "valid").tolist() == [1 * 5 + 2 * 6 + 3 * 7, 2 * 5 + 3 * 6 + 4 * 7]
    assert ref.convolve2d([x], [k]).tolist() == [[5, 16, 34, 52, 45, 28]]
    assert ref.correlate2d([x], [k], "valid").tolist() == [[38, 56]]
    np.testing.assert_array_equal(ref.convolution_matrix(k, 4) @ x, [5, 16, 34, 52, 45, 28])


def test_same_centring_for_even_kernels():
    """correlate starts 'same' at (n2 - 1) // 2, correlate2d at n2 // 2."""
    x, k = [1, 2, 3, 4], [1, 0]
    assert ref.correlate(x, k, "full").tolist() == [0, 1, 2, 3, 4]
    assert ref.correlate(x, k, "same").tolist() == [0, 1, 2, 3]
    assert ref.np_correlate(x, k, "same").tolist() == [0, 1, 2, 3]
    assert ref.correlate2d([x], [k], "same").tolist() == [[1, 2, 3, 4]]
    assert ref.convolve(x, k, "same").tolist() == [1, 2, 3, 4]
    assert ref.convolve2d([x], [k], "same").tolist() == [[1, 2, 3, 4]]
    # numpy.correlate with the longer second argument starts at len(a) // 2
    assert ref.np_correlate([1, 2, 3], [1, 2, 3, 4, 5, 6], "same").tolist() == [
        17,
        32,
        26,
        20,
        14,
        8,
    ]
    for args in [(x, k, "same"), ([1, 2, 3], [1, 2, 3, 4, 5, 6], "same")]:
        assert_matches(ref.np_correlate, np.correlate, *args)
        assert_matches(ref.correlate, SCIPY_PAIRS[1][1], *args)
    assert_matches(ref.correlate2d, signal.correlate2d, [x], [k], "same")


def test_int8_wraparound():
    x = np.array([100, 100, 3, 1], dtype=np.int8)
    k = np.array([100, 2, 1], dtype=np.int8)
    full = ref.convolve(x, k)
    assert full.dtype == np.int8
    assert full.tolist() == [16, -40, 88, -50, 5, 1]  # 10000 % 256 == 16, ...
    for name, peer in SCIPY_PAIRS + NUMPY_PAIRS:
        for mode in MODES:
            assert_matches(getattr(ref, name), peer, x, k, mode)
            assert_matches(getattr(ref, name), peer, x[None], k[None], mode)
    assert_matches(ref.convolve2d, signal.convolve2d, x[None], k[None], "full")


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "uint32", "int64", "uint64"])
def test_integer_extremes_wrap(dtype):
    info = np.iinfo(dtype)
    x = np.array([info.max, info.min, info.max, 1], dtype=dtype)
    k = np.array([info.max, info.max, info.min], dtype=dtype)
    for name, peer in SCIPY_PAIRS + NUMPY_PAIRS:
        for mode in MODES:
            assert_matches(getattr(ref, name), peer, x, k, mode)
    for name, peer in PAIRS_2D:
        assert_matches(getattr(ref, name), peer, x.reshape(2, 2), k[None], "full")


def test_bool_is_logical_or_of_ands():
    x = np.array([True, False, True, True])
    k = np.array([True, True, False])
    assert ref.np_convolve(x, k).tolist() == [True, True, True, True, True, False]
    assert ref.correlate(x, k).dtype == np.bool_


# --------------------------------------------------------------------------------------
# scipy.signal.convolve / correlate (method='direct')
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES, ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_scipy_nd(name, mode, shapes, dtype):
    rng = _rng(name, mode, shapes, dtype)
    x, k = _random(rng, shapes[0], dtype), _random(rng, shapes[1], dtype)
    ref_fn, peer = _pair(SCIPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode, scale=_scale(x, k))


@pytest.mark.parametrize("dtypes", MIXED, ids="-".join)
@pytest.mark.parametrize("shapes", [((5,), (3,)), ((3,), (4,)), ((3, 4), (2, 3))], ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_scipy_mixed_dtypes(name, mode, shapes, dtypes):
    rng = _rng(name, mode, shapes, dtypes)
    x = _random(rng, shapes[0], dtypes[0], small=True)
    k = _random(rng, shapes[1], dtypes[1], small=True)
    ref_fn, peer = _pair(SCIPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode, scale=_scale(x, k))
    assert_matches(ref_fn, peer, k, x, mode, scale=_scale(x, k))


@pytest.mark.parametrize("dtype", ["float64", "bool", "int8"])
@pytest.mark.parametrize("shapes", EMPTY_SHAPES, ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_scipy_empty(name, mode, shapes, dtype):
    x, k = np.ones(shapes[0], dtype), np.ones(shapes[1], dtype)
    ref_fn, peer = _pair(SCIPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode)
    assert_matches(ref_fn, peer, k, x, mode)


@pytest.mark.parametrize("dtypes", [(d, d) for d in DTYPES] + MIXED, ids="-".join)
@pytest.mark.parametrize("mode", ["full", "valid", "bogus"])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_scipy_zero_d(name, mode, dtypes):
    rng = _rng(name, mode, dtypes)
    x, k = _random(rng, (), dtypes[0]), _random(rng, (), dtypes[1])
    ref_fn, peer = _pair(SCIPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode, scale=_scale(x, k))


def test_scipy_zero_d_python_scalars():
    assert_matches(ref.convolve, SCIPY_PAIRS[0][1], 3, 4)
    assert_matches(ref.correlate, SCIPY_PAIRS[1][1], 3, 4j)
    assert_matches(ref.correlate, SCIPY_PAIRS[1][1], 2 + 1j, 1 - 3j)


SCIPY_BAD = [
    ([1, 2], [[1]], "full"),  # ndim mismatch
    ([1, 2], [[1]], "bogus"),  # ndim mismatch is checked before the mode
    (1, [1], "full"),  # 0-d vs 1-d
    ([1, 2], [1], "bogus"),
    ([[1, 2]], [[1]], "bogus"),
    ([1, 2], [1], 2),  # scipy rejects integer modes
    ([1, 2], [1], "FULL"),
    ([1, 2], [1], ["full"]),  # unhashable -> TypeError
    ([[1, 2]], [[1]], ["full"]),
    (np.ones((2, 3)), np.ones((3, 2)), "valid"),
    (np.ones((2, 3), bool), np.ones((3, 2), bool), "valid"),
    (np.ones((2, 3)), np.ones((3, 2)), "bogus"),
    (np.ones((2, 2), bool), np.ones((2, 2), bool), "full"),  # Unsupported type
    (np.ones((2, 2), np.float16), np.ones((2, 2), np.float16), "same"),
    (np.ones(2, bool), np.ones(3, bool), "same"),  # 1-D 'same' with in1 shorter: N-D path
    (np.ones(2, np.float16), np.ones(3, np.float16), "same"),
    (np.ones(3, np.float16), np.ones(2, np.float16), "same"),  # numpy path: fine
]


@pytest.mark.parametrize("args", SCIPY_BAD, ids=repr)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_scipy_bad_input(name, args):
    ref_fn, peer = _pair(SCIPY_PAIRS, name)
    assert_matches(ref_fn, peer, *args)


# --------------------------------------------------------------------------------------
# numpy.convolve / numpy.correlate
# --------------------------------------------------------------------------------------

SHAPES_1D = [s for s in SHAPES if len(s[0]) == 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES_1D, ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["np_convolve", "np_correlate"])
def test_numpy(name, mode, shapes, dtype):
    rng = _rng(name, mode, shapes, dtype)
    x, k = _random(rng, shapes[0], dtype), _random(rng, shapes[1], dtype)
    ref_fn, peer = _pair(NUMPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode, scale=_scale(x, k))


@pytest.mark.parametrize("dtypes", MIXED, ids="-".join)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["np_convolve", "np_correlate"])
def test_numpy_mixed_dtypes(name, mode, dtypes):
    rng = _rng(name, mode, dtypes)
    x, k = _random(rng, 5, dtypes[0], small=True), _random(rng, 3, dtypes[1], small=True)
    ref_fn, peer = _pair(NUMPY_PAIRS, name)
    assert_matches(ref_fn, peer, x, k, mode, scale=_scale(x, k))
    assert_matches(ref_fn, peer, k, x, mode, scale=_scale(x, k))


NUMPY_MODES = [
    "valid",
    "same",
    "full",
    np.str_("same"),
    0,
    1,
    2,
    np.int64(2),
    3,
    -1,
    2**40,
    "f",
    "FULL",
    "Same",
    "v",
    "fulls",
    "x",
    "",
    None,
    True,
    np.True_,
    1.0,
    b"full",
]


@pytest.mark.parametrize("mode", NUMPY_MODES, ids=repr)
@pytest.mark.parametrize("name", ["np_convolve", "np_correlate"])
def test_numpy_modes(name, mode):
    ref_fn, peer = _pair(NUMPY_PAIRS, name)
    assert_matches(ref_fn, peer, [1, 2, 3], [1, 1], mode)
    assert_matches(ref_fn, peer, [1, 2], [1, 1, 4], mode)


NUMPY_BAD = [
    ([], []),
    ([], [1, 2]),
    ([1, 2], []),
    (3, 4),  # 0-d: convolve promotes to 1-D, correlate raises
    (3, [1, 2]),
    ([1, 2], 3),
    ([[1, 2]], [1]),
    ([1, 2], [[1]]),
    (np.ones((1, 2)), [1]),
    ([], [[1]]),
    ([[1]], 3),
]


@pytest.mark.parametrize("args", NUMPY_BAD, ids=repr)
@pytest.mark.parametrize("mode", ["full", "x"])
@pytest.mark.parametrize("name", ["np_convolve", "np_correlate"])
def test_numpy_bad_input(name, mode, args):
    ref_fn, peer = _pair(NUMPY_PAIRS, name)
    assert_matches(ref_fn, peer, *args, mode)


def test_numpy_python_scalars_are_not_weak():
    """np.convolve(int8 array, 200) is int64: scalars become arrays first."""
    x = np.array([1, 2], np.int8)
    assert_matches(ref.np_convolve, np.convolve, x, 200)
    assert_matches(ref.np_convolve, np.convolve, np.array([1, 2], np.float32), 2.5)
    assert_matches(ref.np_correlate, np.correlate, x, [1, 2])


# --------------------------------------------------------------------------------------
# memory layouts
# --------------------------------------------------------------------------------------


def _layouts(rng, dtype):
    base1 = _random(rng, (6, 5), dtype)
    base2 = _random(rng, (3, 4), dtype)
    yield base1[::-1, ::-2], base2[:, ::-1]
    yield np.asfortranarray(base1), np.asfortranarray(base2)
    yield base1.T, base2.T[::-1]


@pytest.mark.parametrize("dtype", ["int8", "float32", "complex128"])
def test_layouts(dtype):
    rng = _rng("layouts", dtype)
    for x, k in _layouts(rng, dtype):
        scale = _scale(x, k)
        for mode in MODES:
            for name, peer in SCIPY_PAIRS:
                assert_matches(getattr(ref, name), peer, x, k, mode, scale=scale)
                assert_matches(getattr(ref, name), peer, x[0], k[0, ::-1], mode, scale=scale)
            for name, peer in NUMPY_PAIRS:
                assert_matches(getattr(ref, name), peer, x[::-1, 0], k[0], mode, scale=scale)
            for name, peer in PAIRS_2D:
                for boundary in ("fill", "wrap", "symm"):
                    assert_matches(getattr(ref, name), peer, x, k, mode, boundary, scale=scale)


# --------------------------------------------------------------------------------------
# scipy.signal.convolve2d / correlate2d
# --------------------------------------------------------------------------------------

BOUNDARIES = ["fill", "pad", "wrap", "circular", "symm", "symmetric"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [s for s in SHAPES_2D if 0 not in s[0] + s[1]], ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d(name, mode, shapes, dtype):
    rng = _rng(name, mode, shapes, dtype)
    x, k = _random(rng, shapes[0], dtype), _random(rng, shapes[1], dtype)
    ref_fn, peer = _pair(PAIRS_2D, name)
    for boundary in BOUNDARIES:
        fill = 3 if boundary in ("fill", "pad") else 0
        scale = _scale(x, k, fill=fill)
        assert_matches(ref_fn, peer, x, k, mode, boundary, fill, scale=scale)


@pytest.mark.parametrize("dtypes", MIXED, ids="-".join)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_mixed_dtypes(name, dtypes):
    rng = _rng(name, dtypes)
    x = _random(rng, (3, 4), dtypes[0], small=True)
    k = _random(rng, (2, 3), dtypes[1], small=True)
    ref_fn, peer = _pair(PAIRS_2D, name)
    for mode, boundary in itertools.product(MODES, ["fill", "wrap", "symm"]):
        assert_matches(ref_fn, peer, x, k, mode, boundary, 1, scale=_scale(x, k, fill=1))
        assert_matches(ref_fn, peer, k, x, mode, boundary, scale=_scale(x, k))


def _crashes_scipy(shapes, boundary):
    """SciPy divides by zero (SIGFPE) for these; never call it on them."""
    try:
        ref.convolve2d(np.ones(shapes[0]), np.ones(shapes[1]), "full", boundary)
    except ValueError as exc:
        return "SIGFPE" in str(exc)
    return False


@pytest.mark.parametrize("shapes", [s for s in SHAPES_2D if 0 in s[0] + s[1]], ids=_shape_id)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_empty(name, mode, shapes):
    ref_fn, peer = _pair(PAIRS_2D, name)
    for (s1, s2), boundary in itertools.product([shapes, shapes[::-1]], BOUNDARIES):
        x, k = np.ones(s1), np.ones(s2)
        if mode == "full" and _crashes_scipy((s1, s2), boundary):
            with pytest.raises(ValueError, match="SIGFPE"):
                ref_fn(x, k, mode, boundary)
            continue
        assert_matches(ref_fn, peer, x, k, mode, boundary, 7)


def test_2d_scipy_crash_cases_raise_value_error():
    for name in ("convolve2d", "correlate2d"):
        for boundary in ("wrap", "symm"):
            for s1, s2 in [((0, 3), (2, 2)), ((0, 2), (2, 0)), ((2, 0), (1, 2))]:
                with pytest.raises(ValueError, match="SIGFPE"):
                    getattr(ref, name)(np.ones(s1), np.ones(s2), "full", boundary)
            # 'fill' never crashes: the output is fillvalue * sum(kernel)
            out = getattr(ref, name)(np.ones((0, 3)), np.ones((2, 2)), "full", "fill", 7)
            assert out.tolist() == [[28.0] * 4]


FILLVALUES = [
    0,
    1.5,
    -2,
    2 - 1j,
    300,
    2**70,
    np.int64(300),
    np.float64(1.5),
    np.float32(2.5),
    np.complex64(2.5),
    np.array(1.5),
    np.array(2, np.int8),
    np.array(2, np.uint8),
    np.array(2, np.int16),
    np.array([1.5], np.float32),
    np.array([[1.5]], np.float32),
    [2],
    [1.5],
    [300],
    [1, 2],
    [],
    float("nan"),
    "3",
    "abc",
    None,
    True,
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # ComplexWarning and invalid casts
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "float32", "float64", "complex64"])
@pytest.mark.parametrize("fillvalue", FILLVALUES, ids=repr)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_fillvalue(name, fillvalue, dtype):
    rng = _rng(name, repr(fillvalue), dtype)
    x, k = _random(rng, (3, 3), dtype, small=True), _random(rng, (2, 2), dtype, small=True)
    ref_fn, peer = _pair(PAIRS_2D, name)
    for boundary in ("fill", "wrap"):
        scale = _scale(x, k, fill=fillvalue)
        assert_matches(ref_fn, peer, x, k, "full", boundary, fillvalue, scale=scale)


BAD_2D = [
    ([1, 2], [1], "full", "fill"),
    ([[1, 2]], [[[1]]], "full", "fill"),
    (1, 1, "full", "fill"),
    ([[1, 2]], [[1]], "bogus", "fill"),
    ([[1, 2]], [[1]], ["full"], "fill"),
    ([[1, 2]], [[1]], "full", "bogus"),
    ([[1, 2]], [[1]], "full", None),
    ([[1, 2]], [[1]], "full", "reflect"),
    ([[1, 2]], [[1]], "bogus", "bogus"),
    (np.ones((2, 3)), np.ones((3, 2)), "valid", "fill"),
    (np.ones((2, 3)), np.ones((3, 2)), "valid", "bogus"),
    (np.ones((2, 2), bool), np.ones((2, 2), bool), "full", "fill"),
    (np.ones((2, 2), np.float16), np.ones((2, 2), np.float16), "same", "wrap"),
    (np.ones((2, 2), bool), np.ones((2, 2), np.int8), "same", "symm"),
    (np.ones((2, 2), bool), np.ones((2, 2), bool), "full", "reflect"),
    (np.ones((0, 0), bool), np.ones((0, 0), bool), "full", "fill"),
]


@pytest.mark.parametrize("args", BAD_2D, ids=repr)
@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_2d_bad_input(name, args):
    ref_fn, peer = _pair(PAIRS_2D, name)
    assert_matches(ref_fn, peer, *args)


def test_correlate2d_valid_swap_returns_conjugate():
    """SciPy reverses but does not conjugate after the 'valid' swap in correlate2d."""
    x = np.array([[1 + 2j, 3 - 1j]])
    y = np.array([[2 - 1j, 1j, 4 + 1j]])
    true = ref.correlate(x, y, "valid")
    assert true.tolist() == [[13 - 8j, -1 + 2j]]
    np.testing.assert_array_equal(ref.correlate2d(x, y, "valid"), np.conj(true))
    assert_matches(ref.correlate2d, signal.correlate2d, x, y, "valid")
    assert_matches(ref.correlate, SCIPY_PAIRS[1][1], x, y, "valid")


# --------------------------------------------------------------------------------------
# scipy.linalg.convolution_matrix
# --------------------------------------------------------------------------------------

KERNELS = [
    [1, 2, 3],
    [4],
    [1, 2, 3, 4],
    np.array([True, False]),
    np.array([100, -7], np.int8),
    np.array([1j, 2, 3 - 1j]),
    np.array([0.5, 1.5], np.float32),
    [[1, 2], [3, 4]],
    np.arange(12.0).reshape(2, 3, 2),
]


@pytest.mark.parametrize("a", KERNELS, ids=lambda a: repr(a).replace("\n", ""))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("mode", MODES)
def test_convolution_matrix(mode, n, a):
    assert_matches(ref.convolution_matrix, linalg.convolution_matrix, a, n, mode)


def test_convolution_matrix_matches_convolve():
    a, x = [1, 2, 3], [4, -1, 2, 5, 1]
    for mode in MODES:
        np.testing.assert_array_equal(
            ref.convolution_matrix(a, len(x), mode) @ x, np.convolve(a, x, mode)
        )


CM_BAD = [
    ([1, 2, 3], 0, "full"),
    ([1, 2, 3], -1, "full"),
    ([1, 2, 3], 2.0, "full"),
    ([1, 2, 3], 2.5, "full"),
    ([1, 2, 3], np.int32(2), "full"),
    ([1, 2, 3], True, "full"),
    ([1, 2, 3], "2", "full"),
    ([1, 2, 3], 2, "bogus"),
    ([], 2, "full"),
    ([], 0, "bogus"),
    ([[]], 2, "full"),
    (np.zeros((2, 0)), 2, "full"),
    ([], 2, "bogus"),
    (5, 2, "full"),
    (np.array(5), 2, "same"),
    (5, 2.0, "full"),
]


@pytest.mark.parametrize("args", CM_BAD, ids=repr)
def test_convolution_matrix_bad_input(args):
    assert_matches(ref.convolution_matrix, linalg.convolution_matrix, *args)


# --------------------------------------------------------------------------------------
# scipy.signal.correlation_lags
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("in1_len", range(7))
@pytest.mark.parametrize("in2_len", range(7))
@pytest.mark.parametrize("mode", MODES)
def test_correlation_lags(mode, in2_len, in1_len):
    assert_matches(ref.correlation_lags, signal.correlation_lags, in1_len, in2_len, mode)


@pytest.mark.parametrize(
    "args",
    [
        (np.int32(3), np.int32(2)),
        (np.int64(3), 2),
        (3.0, 2),
        (3.5, 2),
        (4, 2.5),
    ],
    ids=repr,
)
@pytest.mark.parametrize("mode", MODES + ["bogus"])
def test_correlation_lags_odd_lengths(mode, args):
    assert_matches(ref.correlation_lags, signal.correlation_lags, *args, mode)


def test_correlation_lags_bad_mode():
    with pytest.raises(ValueError, match="Mode bogus is invalid"):
        ref.correlation_lags(3, 2, "bogus")


def test_correlation_lags_match_correlate_full_and_valid():
    x, y = np.arange(1.0, 6.0), np.array([1.0, -2.0])
    for mode in ("full", "valid"):
        lags = ref.correlation_lags(len(x), len(y), mode)
        assert len(lags) == len(ref.correlate(x, y, mode))


# --------------------------------------------------------------------------------------
# non-finite values
# --------------------------------------------------------------------------------------

NONFINITE = [
    ([1.0, 2.0, 3.0], [np.inf, 1.0]),
    ([np.inf, 2.0, 3.0], [1.0, 1.0]),
    ([1.0, 2.0], [np.inf, 1.0, 1.0]),
    ([1.0, 2.0, 3.0], [np.nan, 1.0]),
    ([1.0, -np.inf, 3.0, 4.0], [np.inf, 0.0, 1.0]),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("pair", NONFINITE, ids=repr)
@pytest.mark.parametrize("mode", MODES)
def test_nonfinite(mode, pair):
    """SciPy's N-D path multiplies its zero padding (0 * inf = nan); NumPy skips it."""
    x, k = np.array(pair[0]), np.array(pair[1])
    for name, peer in SCIPY_PAIRS + NUMPY_PAIRS:
        assert_matches(getattr(ref, name), peer, x, k, mode)
    for name, peer in SCIPY_PAIRS:
        assert_matches(getattr(ref, name), peer, x[None], k[None], mode)
        assert_matches(getattr(ref, name), peer, x[::-1, None], k[:, None], mode)
    for (name, peer), boundary in itertools.product(PAIRS_2D, ["fill", "wrap", "symm"]):
        assert_matches(getattr(ref, name), peer, x[None], k[None], mode, boundary)
        assert_matches(getattr(ref, name), peer, x[None], k[None], mode, "fill", np.inf)


def test_nonfinite_padding_is_multiplied_on_the_nd_path():
    x, k = [[1.0, 2.0, 3.0]], [[np.inf, 1.0]]
    with np.errstate(invalid="ignore"):
        assert np.isnan(ref.correlate(x, k)[0, 0])  # 0 (padding) * inf
        assert ref.np_correlate(x[0], k[0], "full")[0] == 1.0  # padding skipped

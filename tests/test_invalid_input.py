"""Invalid input: one test per class of mistake and function, with the peer's exception class.

Each case calls the peer with the same input inside ``pytest.raises`` to learn the class it
raises, then asserts fastconv raises that class with a message naming the problem. Where the
peer does not raise, the case says why and asserts fastconv's own documented class:

* object, timedelta64 and extended-precision arrays on NumPy's code path: NumPy computes them
  (with Python objects, or in long double); fastconv computes only native numeric dtypes and
  raises TypeError;
* ``workers=-2``: scipy.fft reads it as "all cores but one"; fastconv accepts only -1 and
  positive counts.
"""

from __future__ import annotations

import fastconv
import fastconv.linalg as fl
import fastconv.numpy as fnp
import fastconv.signal as fs
import numpy as np
import pytest
import scipy.fft
import scipy.linalg as sl
import scipy.signal as ss

SIGNAL = [("convolve", fs.convolve), ("correlate", fs.correlate)]
TWO_D = [("convolve2d", fs.convolve2d), ("correlate2d", fs.correlate2d)]
NUMPY = [("convolve", fnp.convolve), ("correlate", fnp.correlate)]


def peer_class(peer, *args, **kwargs) -> type:
    """The exception class ``peer(*args, **kwargs)`` raises (the test fails if it does not)."""
    with pytest.raises(Exception) as info:
        peer(*args, **kwargs)
    return info.type


def assert_like_peer(fast, peer, *args, match: str, **kwargs) -> None:
    """fastconv raises the peer's exception class for the same arguments, with a message
    matching ``match``."""
    cls = peer_class(peer, *args, **kwargs)
    with pytest.raises(cls, match=match):
        fast(*args, **kwargs)


def assert_refused_where_peer_computes(fast, peer, *args, cls: type, match: str) -> None:
    """A documented deviation: the peer computes a result, fastconv raises ``cls``."""
    peer(*args)
    with pytest.raises(cls, match=match):
        fast(*args)


def x1(n=5, dtype=np.float64):
    return np.arange(n).astype(dtype)


def x2(shape=(4, 5), dtype=np.float64):
    return np.arange(np.prod(shape)).reshape(shape).astype(dtype)


def direct(name):
    """The peer with method='direct' (the one fastconv mirrors)."""

    def call(*args, **kwargs):
        return getattr(ss, name)(*args, method="direct", **kwargs)

    return call


# --------------------------------------------------------------------------------------
# scipy.signal.convolve / correlate
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
def test_signal_ndim_mismatch(name, fast):
    assert_like_peer(fast, direct(name), x2(), x1(), match="dimensionality")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize("mode", ["bogus", "FULL", None, 1, ("full",), ["full"]])
@pytest.mark.parametrize("ndim", [1, 2])
def test_signal_unknown_mode(name, fast, mode, ndim):
    a, b = (x1(), x1(3)) if ndim == 1 else (x2(), x2((2, 2)))
    assert_like_peer(fast, direct(name), a, b, mode, match="mode")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize("method", ["bogus", "DIRECT", None])
def test_signal_unknown_method(name, fast, method):
    assert_like_peer(fast, getattr(ss, name), x2(), x2((2, 2)), "full", method, match="method")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize(
    ("shape1", "shape2"), [((3, 5), (5, 3)), ((4, 2, 4), (3, 3, 3)), ((2, 6), (3, 1))]
)
def test_signal_valid_needs_one_input_larger_on_every_axis(name, fast, shape1, shape2):
    assert_like_peer(fast, direct(name), x2(shape1), x2(shape2), "valid", match="valid")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize(
    ("dtype", "ndim"),
    # (bytes in 2-D left out: SciPy fails decoding them, a UnicodeDecodeError, before refusing)
    [("U3", 1), ("S3", 1), ("datetime64[s]", 1), ("U3", 2), ("datetime64[s]", 2)],
)
@pytest.mark.parametrize("which", ["in1", "in2", "both"])
def test_signal_non_numeric_dtypes(name, fast, dtype, ndim, which):
    """Strings and datetimes: the peer's class (TypeError for datetimes on NumPy's 1-D path,
    ValueError elsewhere)."""
    a, b = (x1(), x1(3)) if ndim == 1 else (x2(), x2((2, 2)))
    a = a.astype(dtype) if which != "in2" else a
    b = b.astype(dtype) if which != "in1" else b
    assert_like_peer(fast, direct(name), a, b, match="dtype|not defined")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize("dtype", ["object", "timedelta64[s]", np.longdouble, np.clongdouble])
def test_signal_dtypes_the_peer_computes_and_fastconv_refuses(name, fast, dtype):
    """On NumPy's 1-D path the peer computes these; fastconv raises TypeError. On SciPy's N-D
    path the peer refuses object and timedelta64 (ValueError), as fastconv does, and computes
    in long double, which fastconv refuses (TypeError)."""
    a = x1().astype(dtype)
    assert_refused_where_peer_computes(
        fast, direct(name), a, x1(3), cls=TypeError, match="object|supported"
    )
    b = x2().astype(dtype)
    if np.dtype(dtype).kind in "Om":
        assert_like_peer(fast, direct(name), b, x2((2, 2)), match="dtype")
    else:
        assert_refused_where_peer_computes(
            fast, direct(name), b, x2((2, 2)), cls=TypeError, match="precision"
        )


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize("dtype", [bool, np.float16])
def test_signal_bool_and_float16_where_scipy_has_no_loop(name, fast, dtype):
    """SciPy's N-D path (2-D and up, or 1-D 'same' with in1 shorter) has no bool/float16 loop."""
    a, b = x2().astype(dtype), x2((2, 2)).astype(dtype)
    assert_like_peer(fast, direct(name), a, b, match="not available")
    a, b = x1(2).astype(dtype), x1(4).astype(dtype)
    assert_like_peer(fast, direct(name), a, b, "same", match="not available")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize(
    ("shape1", "shape2", "mode"),
    [
        ((0,), (3,), "full"),
        ((3,), (0,), "same"),
        ((3,), (0,), "valid"),
        ((3, 3), (0, 2), "full"),
        ((0, 3), (2, 2), "full"),
        ((0, 3), (0, 3), "full"),
    ],
)
def test_signal_empty_inputs_scipy_refuses(name, fast, shape1, shape2, mode):
    """(Other empty inputs give SciPy's zeros; test_signal.py compares those.)"""
    a, b = np.ones(shape1), np.ones(shape2)
    assert_like_peer(fast, direct(name), a, b, mode, match="empty")


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
@pytest.mark.parametrize(
    ("axes", "match"),
    [
        ([2], "exceeds"),
        (-3, "exceeds"),
        ([0, -2], "unique"),
        ([1, 1], "unique"),
        ([], "empty"),
        (1.5, "integers"),
        (["a"], "integers"),
    ],
)
def test_signal_bad_axes(name, fast, axes, match):
    """Compared with ``scipy.signal.fftconvolve``, the one SciPy convolution with ``axes``."""
    assert_like_peer(fast, ss.fftconvolve, x2((3, 4)), x2((3, 2)), axes=axes, match=match)


@pytest.mark.parametrize(("name", "fast"), SIGNAL)
def test_signal_axes_other_axes_must_broadcast(name, fast):
    assert_like_peer(
        fast, ss.fftconvolve, x2((3, 4)), x2((2, 2)), axes=1, match="incompatible shapes"
    )


def _inputs_for(fast):
    return (x1(), x1(3)) if fast in (fnp.convolve, fnp.correlate) else (x2(), x2((2, 2)))


def _fft_with_workers(a, b, workers):
    return scipy.fft.fft(x1(), workers=workers)


@pytest.mark.parametrize(("name", "fast"), SIGNAL + TWO_D + NUMPY)
@pytest.mark.parametrize("workers", [0, 1.5, "2"])
def test_bad_workers(name, fast, workers):
    """The class scipy.fft raises for the same ``workers`` (0: ValueError, non-int: TypeError)."""
    assert_like_peer(fast, _fft_with_workers, *_inputs_for(fast), workers=workers, match="workers")


@pytest.mark.parametrize(("name", "fast"), SIGNAL + TWO_D + NUMPY)
@pytest.mark.parametrize("workers", [-2, -100])
def test_negative_workers_other_than_minus_one(name, fast, workers):
    """Documented deviation at -2 (scipy.fft: all cores but one); -100 SciPy refuses too."""
    with pytest.raises(ValueError, match="workers"):
        fast(*_inputs_for(fast), workers=workers)


# --------------------------------------------------------------------------------------
# scipy.signal.convolve2d / correlate2d
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 2, 2)), ((5,), (3,)), ((4, 5), (2,)), ((), ())])
def test_2d_needs_two_dimensional_inputs(name, fast, shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    assert_like_peer(fast, getattr(ss, name), a, b, match="2-D")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("mode", ["bogus", None, 2, ["full"]])
def test_2d_unknown_mode(name, fast, mode):
    assert_like_peer(fast, getattr(ss, name), x2(), x2((2, 2)), mode, match="mode")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("boundary", ["bogus", "reflect", "FILL", None, ["fill"]])
def test_2d_unknown_boundary(name, fast, boundary):
    assert_like_peer(fast, getattr(ss, name), x2(), x2((2, 2)), "same", boundary, match="boundary")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize(
    ("fillvalue", "dtype"),
    [
        (np.array([1, 2]), np.float64),
        (np.array([]), np.float64),
        (np.ones((2, 2)), np.float64),
        (1 + 1j, np.float64),
        (2 - 0j, np.int32),
        (np.array(1 + 1j), np.float32),
        (np.array(2.5), np.int32),
        (float("nan"), np.int64),
        (-1, np.uint8),
        (300, np.uint8),
        (2**70, np.int64),
    ],
)
@pytest.mark.parametrize("mode", ["full", "valid"])
def test_2d_bad_fillvalue(name, fast, fillvalue, dtype, mode):
    """More than one element, none, complex into real, NaN, out of range, or an array that
    does not cast safely: refused even in 'valid' mode, where the fill is never read."""
    a, b = x2(dtype=dtype), x2((2, 2), dtype=dtype)
    assert_like_peer(fast, getattr(ss, name), a, b, mode, "fill", fillvalue, match="fillvalue")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("dtype", ["U3", "datetime64[s]", "timedelta64[s]", "object"])
@pytest.mark.parametrize("which", ["in1", "in2", "both"])
def test_2d_non_numeric_dtypes(name, fast, dtype, which):
    """ValueError, except that correlate2d conjugates in2 first (TypeError for strings and
    datetimes)."""
    a = x2().astype(dtype) if which != "in2" else x2()
    b = x2((2, 2)).astype(dtype) if which != "in1" else x2((2, 2))
    assert_like_peer(fast, getattr(ss, name), a, b, match="not available|conjugate")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("dtype", [bool, np.float16])
def test_2d_bool_and_float16(name, fast, dtype):
    """No bool or float16 loop in SciPy's 2-D code (mixed with a wider dtype they promote)."""
    a, b = x2().astype(dtype), x2((2, 2)).astype(dtype)
    assert_like_peer(fast, getattr(ss, name), a, b, match="not available")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble])
def test_2d_extended_precision_refused(name, fast, dtype):
    assert_refused_where_peer_computes(
        fast, getattr(ss, name), x2().astype(dtype), x2((2, 2)), cls=TypeError, match="precision"
    )


@pytest.mark.parametrize(("name", "fast"), TWO_D)
def test_2d_valid_needs_one_input_larger_on_every_axis(name, fast):
    assert_like_peer(fast, getattr(ss, name), x2((3, 5)), x2((5, 3)), "valid", match="valid")


@pytest.mark.parametrize(("name", "fast"), TWO_D)
@pytest.mark.parametrize("boundary", ["wrap", "symm"])
def test_2d_wrap_or_symm_of_an_empty_image_is_refused(name, fast, boundary):
    """SciPy dies of SIGFPE here (so it is not called); fastconv raises ValueError."""
    with pytest.raises(ValueError, match="non-empty in1"):
        fast(np.ones((0, 3)), np.ones((2, 2)), "full", boundary)


# --------------------------------------------------------------------------------------
# correlation_lags
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bogus", None, 1])
def test_correlation_lags_unknown_mode(mode):
    assert_like_peer(fs.correlation_lags, ss.correlation_lags, 5, 3, mode, match="[Mm]ode")


# --------------------------------------------------------------------------------------
# numpy.convolve / correlate
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fast"), NUMPY)
@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((3,), (1, 2)), ((2, 2), (2, 2))])
def test_numpy_needs_one_dimensional_inputs(name, fast, shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    assert_like_peer(fast, getattr(np, name), a, b, match="deep|1-D")


@pytest.mark.parametrize("args", [(3.0, x1()), (x1(), 3.0), (2, 3)])
def test_numpy_correlate_refuses_scalars(args):
    assert_like_peer(fnp.correlate, np.correlate, *args, match="depth|1-D")


@pytest.mark.parametrize(("name", "fast"), NUMPY)
@pytest.mark.parametrize("mode", ["bogus", "fu", "", 3, -1, 2**40, True, 1.0, None, b"full"])
def test_numpy_unknown_mode(name, fast, mode):
    assert_like_peer(fast, getattr(np, name), x1(), x1(3), mode, match="mode")


@pytest.mark.parametrize(("name", "fast"), NUMPY)
@pytest.mark.parametrize("shapes", [((0,), (3,)), ((3,), (0,)), ((0,), (0,))])
def test_numpy_empty_inputs(name, fast, shapes):
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    assert_like_peer(fast, getattr(np, name), a, b, match="empty")


@pytest.mark.parametrize(("name", "fast"), NUMPY)
@pytest.mark.parametrize("dtype", ["U3", "S3", "datetime64[s]"])
@pytest.mark.parametrize("which", ["a", "v", "both"])
def test_numpy_non_numeric_dtypes(name, fast, dtype, which):
    a = x1().astype(dtype) if which != "v" else x1()
    v = x1(3).astype(dtype) if which != "a" else x1(3)
    assert_like_peer(fast, getattr(np, name), a, v, match="dtype|not defined")


@pytest.mark.parametrize(("name", "fast"), NUMPY)
@pytest.mark.parametrize("dtype", ["object", "timedelta64[s]", np.longdouble, np.clongdouble])
def test_numpy_dtypes_the_peer_computes_and_fastconv_refuses(name, fast, dtype):
    assert_refused_where_peer_computes(
        fast, getattr(np, name), x1().astype(dtype), x1(3), cls=TypeError, match="supported"
    )


# --------------------------------------------------------------------------------------
# linalg.convolution_matrix
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "n", "mode", "match"),
    [
        ([1, 2, 3], 0, "full", "n must be"),
        ([1, 2, 3], -2, "full", "n must be"),
        ([1, 2, 3], 2.5, "full", "integral"),
        ([1, 2, 3], 3.0, "same", "integral"),
        ([], 3, "full", "at least 1"),
        (np.ones((2, 0)), 3, "full", "at least 1"),
        ([1, 2, 3], 3, "bogus", "mode"),
        (np.float64(2.0), 3, "full", "1-D|indices"),
    ],
)
def test_convolution_matrix_invalid(a, n, mode, match):
    assert_like_peer(fl.convolution_matrix, sl.convolution_matrix, a, n, mode, match=match)


# --------------------------------------------------------------------------------------
# thread control
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "cls"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError), (None, TypeError)],
)
def test_set_num_threads_invalid_keeps_the_old_value(n, cls):
    before = fastconv.get_num_threads()
    with pytest.raises(cls, match="number of threads"):
        fastconv.set_num_threads(n)
    assert fastconv.get_num_threads() == before
    with pytest.raises(cls, match="number of threads"), fastconv.threads(n):
        pass  # pragma: no cover - never entered
    assert fastconv.get_num_threads() == before

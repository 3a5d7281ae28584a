"""The bad-input battery: every public function against every class of awkward input.

Functions: ``fastconv.signal`` (convolve, correlate, fftconvolve, oaconvolve,
choose_conv_method, convolve2d, correlate2d, correlation_lags, Convolver), ``fastconv.numpy``
(convolve, correlate), ``fastconv.ndimage`` (convolve, correlate, convolve1d, correlate1d) and
``fastconv.linalg.convolution_matrix``.

Each case calls the peer (NumPy/SciPy) with the same arguments and compares:

* the peer raises: fastconv raises the same class (or a subclass), with a message matching a
  pattern that names the argument or the problem;
* the peer computes: fastconv returns the same shape, dtype and values (NaN where the peer
  has NaN), or raises where a documented deviation says so (``DEVIATIONS``).

Huge shapes (zero-stride views of one element, so nothing big exists) whose output cannot be
allocated run in a forked child, where an abort cannot take the test run down: they must raise
MemoryError or ValueError quickly. The peers are not called on them (they would try to
compute).

``python tests/test_bad_input_battery.py`` prints how many bad-input cases each public
function faces, in this file and in tests/test_invalid_input.py together.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import fastconv.linalg as fl
import fastconv.ndimage as fnd
import fastconv.numpy as fnp
import fastconv.signal as fs
import numpy as np
import pytest
import scipy.linalg as sl
import scipy.ndimage as snd
import scipy.signal as ss
from battery_util import run_in_child
from numpy.lib.stride_tricks import as_strided

# --------------------------------------------------------------------------------------
# The functions under test, each with its peer and a good pair of inputs.
# --------------------------------------------------------------------------------------


def _convolver(a, b, mode="full", **kw):
    """``Convolver(b, a.shape, mode, ...)(a)``: the kernel and shape checks, then the call."""
    a = np.asarray(a)
    return fs.Convolver(b, a.shape, mode, **kw)(a)


def _convolver_peer(a, b, mode="full"):
    """What a Convolver computes, by its documented rules: the signal is cast to the result
    dtype of the kernel alone (``fftconvolve``'s rule; a complex signal for a real kernel is
    refused), then ``scipy.signal.fftconvolve``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "c" and b.dtype.kind in "biuf":
        raise TypeError("a complex signal would lose its imaginary part")
    if a.dtype.kind in "biufc" and b.dtype.kind in "biufc" and b.ndim == a.ndim and b.size:
        a = a.astype(ss.fftconvolve(b, b).dtype)
    return ss.fftconvolve(a, b, mode)


def _choose_fast(a, b, *args, **kw):
    return fs.choose_conv_method(a, b, *args, **kw)


@dataclass(frozen=True)
class Fn:
    """A public function: how to call it and its peer on ``(a, b, *args, **kw)``."""

    name: str
    fast: Callable[..., Any]
    peer: Callable[..., Any]
    a: Any
    b: Any
    kind: str  # "nd" (any rank, same for both), "2d", "1d", "ndimage", "ndimage1d"
    has_workers: bool = True
    fft: bool = False
    returns_array: bool = True
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.name


def x1(n=8, dtype=np.float64):
    return (np.arange(n) % 5 - 1.5).astype(dtype)


def x2(shape=(5, 6), dtype=np.float64):
    return (np.arange(np.prod(shape)).reshape(shape) % 7 - 2.5).astype(dtype)


ARRAY_FUNCS = [
    Fn("signal.convolve", fs.convolve, ss.convolve, x1(), x1(3), "nd"),
    Fn("signal.correlate", fs.correlate, ss.correlate, x1(), x1(3), "nd"),
    Fn("signal.fftconvolve", fs.fftconvolve, ss.fftconvolve, x1(), x1(3), "nd", fft=True),
    Fn("signal.oaconvolve", fs.oaconvolve, ss.oaconvolve, x1(), x1(3), "nd", fft=True),
    Fn(
        "signal.choose_conv_method",
        _choose_fast,
        ss.choose_conv_method,
        x1(),
        x1(3),
        "nd",
        has_workers=False,
        returns_array=False,
    ),
    Fn("signal.convolve2d", fs.convolve2d, ss.convolve2d, x2(), x2((2, 3)), "2d"),
    Fn("signal.correlate2d", fs.correlate2d, ss.correlate2d, x2(), x2((2, 3)), "2d"),
    Fn("signal.Convolver", _convolver, _convolver_peer, x1(), x1(3), "nd", fft=True),
    Fn("numpy.convolve", fnp.convolve, np.convolve, x1(), x1(3), "1d"),
    Fn("numpy.correlate", fnp.correlate, np.correlate, x1(), x1(3), "1d"),
    Fn("ndimage.convolve", fnd.convolve, snd.convolve, x2(), x2((2, 3)), "ndimage"),
    Fn("ndimage.correlate", fnd.correlate, snd.correlate, x2(), x2((2, 3)), "ndimage"),
    Fn("ndimage.convolve1d", fnd.convolve1d, snd.convolve1d, x2(), x1(3), "ndimage1d"),
    Fn("ndimage.correlate1d", fnd.correlate1d, snd.correlate1d, x2(), x1(3), "ndimage1d"),
]
BY_NAME = {f.name: f for f in ARRAY_FUNCS}
WITH_WORKERS = [f for f in ARRAY_FUNCS if f.has_workers]
MATRIX = "linalg.convolution_matrix"
LAGS = "signal.correlation_lags"

# Documented deviations: (function name, case id) -> (class fastconv may raise where the peer
# computes, reason). Where fastconv computes instead, its values must equal the peer's.
DEVIATIONS: dict[tuple[str, str], tuple[Any, str]] = {}


# Known failures, reported on issue 6 with their repros: each is a strict xfail, so a fix
# makes the test pass and the entry must go.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _known_failures(request):
    reason = KNOWN_FAILURES.get(request.node.name)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _params(funcs, variants=None):
    """pytest params over ``funcs`` (x ``variants``), with readable ids."""
    if variants is None:
        return [pytest.param(f, id=f.name) for f in funcs]
    return [
        pytest.param(f, v, id=f"{f.name}-{vid}")
        for f in funcs
        for vid, v in (variants.items() if isinstance(variants, dict) else variants)
    ]


# --------------------------------------------------------------------------------------
# Comparison with the peer.
# --------------------------------------------------------------------------------------


def _outcome(call, *args, **kwargs):
    """``("ok", value)`` or ``("raise", exception)``, warnings silenced."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return "raise", exc


def _assert_same_values(name, got, want):
    if not isinstance(want, np.ndarray):
        assert got == want or isinstance(got, str), f"{name}: {got!r} != {want!r}"
        return
    assert isinstance(got, np.ndarray), f"{name}: returned {type(got).__name__}"
    assert got.shape == want.shape, f"{name}: shape {got.shape} != peer {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != peer {want.dtype}"
    if want.dtype.kind in "fc":
        scale = float(np.nanmax(np.abs(want[np.isfinite(want)]), initial=1.0))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * scale, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def check(fn: Fn, *args, match: str, case: str = "", **kwargs) -> None:
    """fastconv behaves as the peer for ``fn(*args, **kwargs)`` (see the module docstring)."""
    deviation = DEVIATIONS.get((fn.name, case))
    peer_kind, peer_value = _outcome(fn.peer, *args, **kwargs)
    fast_kind, fast_value = _outcome(fn.fast, *args, **kwargs)
    if deviation is not None and peer_kind == "ok" and fast_kind == "raise":
        cls, why = deviation
        assert fast_kind == "raise" and isinstance(fast_value, cls), (
            f"{fn.name}: expected the documented deviation ({why}), got {fast_kind} {fast_value!r}"
        )
        assert_message(fn.name, fast_value, match)
        return
    if peer_kind == "raise":
        cls = type(peer_value)
        assert fast_kind == "raise", (
            f"{fn.name}: the peer raises {cls.__name__}({peer_value}), fastconv returned "
            f"{fast_value!r}"
        )
        assert isinstance(fast_value, cls), (
            f"{fn.name}: the peer raises {cls.__name__}({peer_value}), fastconv raises "
            f"{type(fast_value).__name__}({fast_value})"
        )
        assert_message(fn.name, fast_value, match, peer_value)
        return
    assert fast_kind == "ok", (
        f"{fn.name}: the peer computes, fastconv raises {type(fast_value).__name__}: {fast_value}"
    )
    if fn.returns_array:
        _assert_same_values(fn.name, fast_value, peer_value)
    else:
        assert fast_value in ("direct", "fft"), fast_value


def assert_message(name: str, exc: BaseException, match: str, peer_exc=None) -> None:
    """The message names the argument or the problem (``match``), or is the peer's own."""
    import re

    if peer_exc is not None and str(exc) == str(peer_exc):
        return
    assert re.search(match, str(exc)), f"{name}: message {str(exc)!r} does not match {match!r}"


# --------------------------------------------------------------------------------------
# 1. Wrong ndim and mismatched shapes.
# --------------------------------------------------------------------------------------

WRONG_NDIM = {
    "nd": [("2d-1d", x2(), x1(3)), ("1d-3d", x1(), np.ones((2, 2, 2)))],
    "2d": [
        ("1d-1d", x1(), x1(3)),
        ("3d-3d", np.ones((3, 3, 3)), np.ones((2, 2, 2))),
        ("2d-1d", x2(), x1(3)),
        ("1d-2d", x1(), x2((2, 2))),
    ],
    "1d": [("2d-1d", x2(), x1(3)), ("1d-2d", x1(), x2((2, 2))), ("2d-2d", x2(), x2((2, 2)))],
    "ndimage": [
        ("2d-1d", x2(), x1(3)),
        ("2d-3d", x2(), np.ones((2, 2, 2))),
        ("1d-2d", x1(), x2((2, 2))),
    ],
    "ndimage1d": [("2d-2d", x2(), x2((2, 2))), ("2d-0d", x2(), np.float64(1.0))],
}
NDIM_MATCH = r"dimension|2-D|1-D|deep|depth|ndim|rank|weights|shape|one-dimensional|sequence"


@pytest.mark.parametrize(
    ("fn", "case"),
    [pytest.param(f, c, id=f"{f.name}-{c[0]}") for f in ARRAY_FUNCS for c in WRONG_NDIM[f.kind]],
)
def test_wrong_ndim(fn, case):
    cid, a, b = case
    check(fn, a, b, match=NDIM_MATCH, case=f"ndim-{cid}")


VALID_MISMATCH = {
    "nd": [("3x5-5x3", x2((3, 5)), x2((5, 3)))],
    "2d": [("3x5-5x3", x2((3, 5)), x2((5, 3)))],
}


@pytest.mark.parametrize(
    ("fn", "case"),
    [
        pytest.param(f, c, id=f"{f.name}-{c[0]}")
        for f in ARRAY_FUNCS
        for c in VALID_MISMATCH.get(f.kind, [])
    ],
)
def test_valid_mode_needs_one_input_larger(fn, case):
    _, a, b = case
    check(fn, a, b, "valid", match="valid|larger|at least as large")


@pytest.mark.parametrize(
    "fn",
    _params(
        [
            BY_NAME[n]
            for n in (
                "signal.convolve",
                "signal.fftconvolve",
                "signal.oaconvolve",
                "signal.correlate",
            )
        ]
    ),
)
@pytest.mark.parametrize(("axes", "match"), [(1, "incompatible|shape"), (5, "axes|exceed")])
def test_axes_that_do_not_broadcast_or_exceed(fn, axes, match):
    """Compared with ``scipy.signal.fftconvolve``, the SciPy convolution that has ``axes``."""
    a, b = x2((3, 4)), x2((2, 2))
    peer = Fn(fn.name, fn.fast, ss.fftconvolve, a, b, "nd")
    check(peer, a, b, axes=axes, match=match)


# --------------------------------------------------------------------------------------
# 2. Zero-size inputs.
# --------------------------------------------------------------------------------------

EMPTY = {
    "nd": [
        ("a0", np.ones(0), x1(3)),
        ("b0", x1(), np.ones(0)),
        ("both0", np.ones(0), np.ones(0)),
        ("2d-row0", np.ones((0, 3)), np.ones((2, 2))),
    ],
    "2d": [
        ("a0x3", np.ones((0, 3)), np.ones((2, 2))),
        ("b2x0", x2(), np.ones((2, 0))),
        ("both", np.ones((0, 0)), np.ones((0, 0))),
    ],
    "1d": [("a0", np.ones(0), x1(3)), ("b0", x1(), np.ones(0)), ("both0", np.ones(0), np.ones(0))],
    "ndimage": [
        ("a0x3", np.ones((0, 3)), np.ones((2, 2))),
        ("b2x0", x2(), np.ones((2, 0))),
        ("both", np.ones((0, 0)), np.ones((0, 0))),
    ],
    "ndimage1d": [
        ("a0x3", np.ones((0, 3)), x1(3)),
        ("b0", x2(), np.ones(0)),
        ("a3x0", np.ones((3, 0)), x1(3)),
    ],
}


@pytest.mark.parametrize(
    ("fn", "case"),
    [pytest.param(f, c, id=f"{f.name}-{c[0]}") for f in ARRAY_FUNCS for c in EMPTY[f.kind]],
)
@pytest.mark.parametrize("mode", ["full", "valid"])
def test_zero_size(fn, case, mode):
    """Empty inputs: the peer's class, or its (empty or zero) result. A Convolver refuses an
    empty kernel or signal shape (ValueError), by design: it has nothing to prepare."""
    cid, a, b = case
    # (ndimage has no 'valid': its second variant is mode='constant' instead of 'reflect')
    ndimage = fn.kind.startswith("ndimage")
    args = (a, b) if ndimage else (a, b, mode)
    kwargs = {"mode": "constant"} if ndimage and mode == "valid" else {}
    match = "empty|size|zero|at least|weights|shape"
    if fn.name == "signal.Convolver":
        with pytest.raises(ValueError, match="empty"):
            fn.fast(*args, **kwargs)
        return
    check(fn, *args, match=match, case=f"empty-{cid}", **kwargs)


# --------------------------------------------------------------------------------------
# 3. Huge shapes: the output cannot exist, so the call must refuse before allocating.
# --------------------------------------------------------------------------------------


def huge(shape, dtype=np.float64):
    """A zero-stride view of one element with ``shape``: nothing of that size is allocated."""
    return as_strided(np.zeros(1, dtype), shape=shape, strides=(0,) * len(shape))


# 2**59 float64 elements are the most NumPy lets a view describe (nbytes must fit intp): a
# 'full' convolution of two of them has 2**60 - 1 elements, 2**63 bytes, more than any address
# space; the 'valid' output of the same pair has one element, but copying either input would
# need 2**62 bytes.
H1 = 2**59
HUGE = {
    "nd": [
        ("full", (huge((H1,)), huge((H1,)), "full")),
        ("signal-full", (huge((H1,)), x1(3), "full")),
        ("valid-1-elem", (huge((H1,)), huge((H1,)), "valid")),
        ("2d", (huge((2**29, 2**30)), huge((2**29, 2**30)), "full")),
    ],
    "2d": [
        ("full", (huge((2**29, 2**30)), huge((2**29, 2**30)), "full")),
        ("small-kernel", (huge((2**29, 2**30)), x2((2, 2)), "same")),
        ("valid-1-elem", (huge((2**29, 2**30)), huge((2**29, 2**30)), "valid")),
    ],
    "1d": [
        ("full", (huge((H1,)), huge((H1,)), "full")),
        ("signal-full", (huge((H1,)), x1(3), "full")),
        ("valid-1-elem", (huge((H1,)), huge((H1,)), "valid")),
    ],
    "ndimage": [
        ("input", (huge((2**29, 2**30)), x2((2, 2)))),
        ("weights", (x2(), huge((2**29, 2**30)))),
    ],
    "ndimage1d": [("input", (huge((2**29, 2**30)), x1(3))), ("weights", (x2(), huge((H1,))))],
}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize(
    ("fn", "case"),
    [pytest.param(f, c, id=f"{f.name}-{c[0]}") for f in ARRAY_FUNCS for c in HUGE[f.kind]],
)
def test_huge_shapes_refused_before_allocating(fn, case):
    cid, args = case
    kwargs = {"mode": "constant"} if fn.kind.startswith("ndimage") else {}
    result = run_in_child(lambda: fn.fast(*args, **kwargs))
    assert result[0] == "raise", f"{fn.name}: {result}"
    assert {"MemoryError", "ValueError"} & set(result[3]), f"{fn.name}: {result}"


@pytest.mark.parametrize(
    ("args", "cid"),
    [((x1(3), 2**62), "n"), ((huge((H1,)), 2**40), "a-and-n"), ((x1(3), 2**59), "n-bytes")],
)
def test_convolution_matrix_huge(args, cid):
    result = run_in_child(lambda: fl.convolution_matrix(*args))
    assert result[0] == "raise", result
    assert {"MemoryError", "ValueError"} & set(result[3]), result


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("shape", [(H1,), (2**29, 2**30)])
def test_convolver_huge_shape(shape, method):
    """A convolver prepared for a huge shape, called with a view of that shape: the output
    cannot be allocated."""

    def call():
        conv = fs.Convolver(np.ones((3,) * len(shape)), shape, method=method)
        return conv(huge(shape))

    result = run_in_child(call)
    assert result[0] == "raise", result
    assert {"MemoryError", "ValueError"} & set(result[3]), result


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_correlation_lags_huge(mode):
    """Lags of two 2**62-sample signals: as the peer (whose arange overflows to an empty
    array for 'full'), in a child in case it tries to allocate."""
    want = run_in_child(lambda: ss.correlation_lags(2**62, 2**62, mode))
    got = run_in_child(lambda: fs.correlation_lags(2**62, 2**62, mode))
    assert got[:2] == want[:2], (got, want)


# --------------------------------------------------------------------------------------
# 4. NaN and infinity.
# --------------------------------------------------------------------------------------


def _with(a, pos, value):
    a = np.array(a, dtype=np.result_type(a, np.float64))
    a.flat[pos] = value
    return a


NONFINITE = [
    ("nan-a", lambda f: (_with(f.a, 2, np.nan), f.b)),
    ("inf-b", lambda f: (f.a, _with(f.b, 1, np.inf))),
    ("ninf-a-inf-b", lambda f: (_with(f.a, 0, -np.inf), _with(f.b, 0, np.inf))),
]


@pytest.mark.parametrize(
    ("fn", "case"),
    [
        pytest.param(f, c, id=f"{f.name}-{c[0]}")
        for f in ARRAY_FUNCS
        for c in NONFINITE
        if not f.fft and f.returns_array
    ],
)
def test_nan_inf_direct_stays_local(fn, case):
    """Direct paths keep NaN/inf where the peer's direct sum has them (peer values compared)."""
    _, make = case
    a, b = make(fn)
    check(fn, a, b, match="")


@pytest.mark.parametrize(
    ("fn", "case"),
    [pytest.param(f, c, id=f"{f.name}-{c[0]}") for f in ARRAY_FUNCS for c in NONFINITE if f.fft]
    + [
        pytest.param(BY_NAME[n], c, id=f"{n}-method-fft-{c[0]}")
        for n in ("signal.convolve", "signal.correlate")
        for c in NONFINITE
    ],
)
def test_nan_inf_fft_warns(fn, case):
    """FFT methods warn (RuntimeWarning) that the transform spreads NaN/inf; every output
    the direct sum makes non-finite is non-finite (how far it spreads beyond differs: SciPy's
    overlap-add spreads it over the whole output, fastconv's overlap-save tiles keep it in a
    tile)."""
    _, make = case
    a, b = make(fn)
    methods = ("signal.convolve", "signal.correlate", "signal.Convolver")
    kwargs = {"method": "fft"} if fn.name in methods else {}
    if fn.name == "signal.Convolver" and not np.isfinite(b).all():
        # A convolver prepared for a non-finite kernel runs direct whatever the method (its
        # transform would make every output NaN): no warning, and the direct sum's values.
        conv = fs.Convolver(b, a.shape, method="fft")
        assert conv.method == "direct"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = conv(a)
        np.testing.assert_array_equal(got, ss.convolve(a, b, method="direct"))
        return
    with pytest.warns(RuntimeWarning, match="NaN or infinity"):
        got = fn.fast(a, b, **kwargs)
    direct = ss.correlate if fn.name == "signal.correlate" else ss.convolve
    want = direct(a, b, method="direct")
    assert got.shape == want.shape
    assert not np.isfinite(got[~np.isfinite(want)]).any()


# --------------------------------------------------------------------------------------
# 5. Dtypes: object, strings, bytes, datetime, timedelta, extended precision.
# --------------------------------------------------------------------------------------

BAD_DTYPES = ["object", "U3", "S3", "datetime64[s]", "timedelta64[s]"]
DTYPE_MATCH = r"dtype|supported|not available|not defined|conjugate|numeric|object|type"

# Where the peer computes with Python objects and fastconv refuses (documented in README:
# object arrays raise TypeError), or the peer's failure is not an input check.
for _fn in ARRAY_FUNCS:
    for _which in ("a", "b", "both"):
        DEVIATIONS[(_fn.name, f"dtype-object-{_which}")] = (TypeError, "object arrays refused")
        DEVIATIONS[(_fn.name, f"dtype-timedelta64[s]-{_which}")] = (
            (TypeError, ValueError),
            "timedelta arrays refused",
        )


# SciPy's FFT functions parse numeric strings and datetimes as numbers (NumPy casts them to
# float on the way into the transform); fastconv refuses non-numeric dtypes everywhere.
for _name in (
    "signal.fftconvolve",
    "signal.oaconvolve",
    "signal.choose_conv_method",
    "signal.Convolver",
):
    for _dtype in ("U3", "S3", "datetime64[s]"):
        for _which in ("a", "b", "both"):
            DEVIATIONS[(_name, f"dtype-{_dtype}-{_which}")] = (ValueError, "non-numeric refused")


@pytest.mark.parametrize(
    ("fn", "dtype"),
    [pytest.param(f, d, id=f"{f.name}-{d}") for f in ARRAY_FUNCS for d in BAD_DTYPES],
)
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_non_numeric_dtypes(fn, dtype, which):
    a = fn.a.astype(dtype) if which != "b" else fn.a
    b = fn.b.astype(dtype) if which != "a" else fn.b
    check(fn, a, b, match=DTYPE_MATCH, case=f"dtype-{dtype}-{which}")


# --------------------------------------------------------------------------------------
# 6. Layouts: byte order, alignment, read-only, strides; 0-d, lists and scalars.
# --------------------------------------------------------------------------------------


def unaligned(a):
    """A copy of ``a`` whose data starts at an odd address (offset 1 into a bytes buffer)."""
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def strided(a):
    """Every other element along each axis of a twice-as-large array."""
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    big[tuple(slice(None, None, 2) for _ in a.shape)] = a
    return big[tuple(slice(None, None, 2) for _ in a.shape)]


def reversed_view(a):
    """A negative-stride view with the values of ``a``."""
    r = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
    return r[tuple(slice(None, None, -1) for _ in a.shape)]


LAYOUTS = {
    "big-endian-f8": lambda a: a.astype(">f8"),
    "big-endian-i4": lambda a: (a * 2).astype(">i4"),
    "big-endian-c16": lambda a: (a + 1j).astype(">c16"),
    "little-f4-unaligned": lambda a: unaligned(a.astype("<f4")),
    "unaligned-f8": unaligned,
    "unaligned-c16": lambda a: unaligned(a + 1j),
    "read-only": readonly,
    "strided": strided,
    "negative-stride": reversed_view,
    "fortran": np.asfortranarray,
}


@pytest.mark.parametrize(
    ("fn", "layout"), [pytest.param(f, k, id=f"{f.name}-{k}") for f in ARRAY_FUNCS for k in LAYOUTS]
)
@pytest.mark.parametrize("which", ["a", "b"])
def test_layouts_give_the_peer_values(fn, layout, which):
    make = LAYOUTS[layout]
    a = make(fn.a) if which == "a" else fn.a
    b = make(fn.b) if which == "b" else fn.b
    check(fn, a, b, match="")


ZERO_D = [
    ("a0d", lambda f: (np.float64(2.0) * np.ones(()), f.b)),
    ("b0d", lambda f: (f.a, np.ones(()))),
    ("both0d", lambda f: (np.ones(()), np.ones(()))),
    ("scalar-a", lambda f: (3.0, f.b)),
    ("scalar-b", lambda f: (f.a, 2)),
    ("scalars", lambda f: (3.0, 2.0)),
    ("lists", lambda f: (f.a.tolist(), f.b.tolist())),
    ("list-and-array", lambda f: (f.a.tolist(), f.b)),
    ("ragged-list", lambda f: ([[1.0, 2.0], [3.0]], f.b)),
    ("nested-int-list", lambda f: (np.asarray(f.a).astype(int).tolist(), f.b.astype(int))),
]


@pytest.mark.parametrize(
    ("fn", "case"), [pytest.param(f, c, id=f"{f.name}-{c[0]}") for f in ARRAY_FUNCS for c in ZERO_D]
)
def test_zero_d_lists_and_scalars(fn, case):
    cid, make = case
    a, b = make(fn)
    check(fn, a, b, match=NDIM_MATCH + "|empty|inhomogeneous|setting an array", case=cid)


# --------------------------------------------------------------------------------------
# 7. Arguments: workers, mode, method, boundary, ndimage output.
# --------------------------------------------------------------------------------------

WORKERS = {"0": 0, "-2": -2, "-100": -100, "1.5": 1.5, "str": "2", "huge": 2**70}


@pytest.mark.parametrize(("fn", "workers"), _params(WITH_WORKERS, WORKERS))
def test_bad_workers(fn, workers):
    """ValueError for 0 and negatives other than -1 (scipy.fft: ValueError for 0; -2 means
    "all but one" there, a documented deviation), TypeError for non-integers, ValueError or
    OverflowError for counts beyond any machine."""
    expected = (TypeError,) if isinstance(workers, (float, str)) else (ValueError, OverflowError)
    with pytest.raises(expected, match="workers|thread"):
        fn.fast(fn.a, fn.b, workers=workers)


BAD_MODES = {"bogus": "bogus", "upper": "FULL", "empty": "", "none": None, "int7": 7}


@pytest.mark.parametrize(("fn", "mode"), _params(ARRAY_FUNCS, BAD_MODES))
def test_bad_mode(fn, mode):
    match = "[Mm]ode|boundary|not understood"
    if fn.kind.startswith("ndimage"):
        check(fn, fn.a, fn.b, mode=mode, match=match)
    else:
        check(fn, fn.a, fn.b, mode, match=match)


@pytest.mark.parametrize(
    ("fn", "method"),
    _params(
        [BY_NAME["signal.convolve"], BY_NAME["signal.correlate"]],
        {"bogus": "bogus", "upper": "FFT", "none": None, "oa": "oa"},
    ),
)
def test_bad_method(fn, method):
    check(fn, fn.a, fn.b, "full", method, match="method")


@pytest.mark.parametrize(
    ("fn", "boundary"),
    _params(
        [BY_NAME["signal.convolve2d"], BY_NAME["signal.correlate2d"]],
        {"bogus": "bogus", "upper": "WRAP", "none": None, "int": 1},
    ),
)
def test_bad_boundary(fn, boundary):
    check(fn, fn.a, fn.b, "same", boundary, match="boundary")


NDIMAGE = [f for f in ARRAY_FUNCS if f.kind.startswith("ndimage")]
OUTPUTS = {
    "wrong-shape": lambda a: np.empty((2, 2)),
    "transposed-shape": lambda a: np.empty(a.shape[::-1]),
    "str-dtype": lambda a: np.empty(a.shape, "U3"),
    "object-dtype": lambda a: np.empty(a.shape, object),
    "datetime-dtype": lambda a: np.empty(a.shape, "datetime64[s]"),
    "dtype-name-bogus": lambda a: "bogus",
    "dtype-str": lambda a: "U3",
    "read-only": lambda a: readonly(np.empty(a.shape)),
    "list": lambda a: np.zeros(a.shape).tolist(),
    "int32": lambda a: np.empty(a.shape, np.int32),
    "type-float32": lambda a: np.float32,
    "complex-for-real": lambda a: np.empty(a.shape, np.complex128),
    "the-input": lambda a: a,
    "strided": lambda a: np.empty((2 * a.shape[0], a.shape[1]))[::2],
}


@pytest.mark.parametrize(("fn", "output"), _params(NDIMAGE, {k: k for k in OUTPUTS}))
def test_ndimage_output(fn, output):
    """``output=`` of the wrong shape or dtype: the peer's class (RuntimeError for a wrong
    shape, as SciPy); valid ones (a dtype, a strided array, the input itself): its values,
    and the returned array is the output."""
    a, b = fn.a.copy(), fn.b
    a_peer = a.copy()
    out_fast, out_peer = OUTPUTS[output](a), OUTPUTS[output](a_peer)
    if output == "read-only":
        out_peer = readonly(np.empty(a.shape))
    peer_kind, peer_value = _outcome(fn.peer, a_peer, b, output=out_peer)
    fast_kind, fast_value = _outcome(fn.fast, a, b, output=out_fast)
    if peer_kind == "raise":
        assert fast_kind == "raise", f"peer raises {peer_value!r}, fastconv returned"
        assert isinstance(fast_value, type(peer_value)), f"{fast_value!r} vs {peer_value!r}"
        assert_message(
            fn.name, fast_value, "output|dtype|shape|read-only|writ|numeric|type", peer_value
        )
        return
    assert fast_kind == "ok", f"peer computes, fastconv raises {fast_value!r}"
    got = out_fast if isinstance(out_fast, np.ndarray) else fast_value
    want = out_peer if isinstance(out_peer, np.ndarray) else peer_value
    _assert_same_values(fn.name, np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    ("fn", "variant"),
    _params(
        NDIMAGE,
        {
            "cval-str": {"cval": "x"},
            "cval-complex": {"cval": 1j},
            "origin-big": {"origin": 10},
            "origin-float": {"origin": 0.5},
            "axis-out-of-range": {"axis": 5},
        },
    ),
)
def test_ndimage_other_arguments(fn, variant):
    if "axis" in variant and fn.kind != "ndimage1d":
        variant = {"axes": (5,)}
    check(
        fn,
        fn.a,
        fn.b,
        match="cval|origin|axis|axes|float|complex|invalid|range|could not|real number",
        case=str(variant),
        **variant,
    )


# --------------------------------------------------------------------------------------
# 8. correlation_lags and convolution_matrix.
# --------------------------------------------------------------------------------------

LAGS_FN = Fn(LAGS, fs.correlation_lags, ss.correlation_lags, 5, 3, "lags", has_workers=False)
MATRIX_FN = Fn(
    MATRIX, fl.convolution_matrix, sl.convolution_matrix, x1(3), 5, "matrix", has_workers=False
)

LAGS_CASES = {
    "negative": (-1, 3, "full"),
    "zero": (0, 3, "full"),
    "float": (5.5, 3, "full"),
    "str": ("5", 3, "full"),
    "array": (np.array([5, 6]), 3, "full"),
    "bad-mode": (5, 3, "nope"),
    "none-mode": (5, 3, None),
    "numpy-int": (np.int64(5), np.int32(3), "same"),
    "valid-shorter": (3, 5, "valid"),
    "bool": (True, 3, "full"),
}


@pytest.mark.parametrize("cid", list(LAGS_CASES))
def test_correlation_lags(cid):
    check(LAGS_FN, *LAGS_CASES[cid], match="[Mm]ode|len|integer|int|length|array|str", case=cid)


MATRIX_CASES = {
    "n-zero": (x1(3), 0),
    "n-negative": (x1(3), -3),
    "n-float": (x1(3), 2.5),
    "n-str": (x1(3), "3"),
    "n-none": (x1(3), None),
    "a-empty": (np.ones(0), 3),
    "a-0d": (np.float64(2.0), 3),
    "a-2d": (x2((2, 3)), 4),
    "a-object": (x1(3).astype(object), 3),
    "a-str": (x1(3).astype("U3"), 3),
    "a-datetime": (x1(3).astype("datetime64[s]"), 3),
    "a-big-endian": (x1(3).astype(">f8"), 4),
    "a-unaligned": (unaligned(x1(3)), 4),
    "a-negative-stride": (reversed_view(x1(3)), 4),
    "a-list": ([1, 2, 3], 4),
    "a-nan": (_with(x1(3), 1, np.nan), 4),
    "a-read-only": (readonly(x1(3)), 4),
    "bad-mode": (x1(3), 4, "nope"),
    "none-mode": (x1(3), 4, None),
}


@pytest.mark.parametrize("cid", list(MATRIX_CASES))
def test_convolution_matrix(cid):
    check(
        MATRIX_FN,
        *MATRIX_CASES[cid],
        match="n must|integral|at least|1-D|mode|dtype|type|index|not supported",
        case=cid,
    )


# --------------------------------------------------------------------------------------
# 9. Convolver: construction and call arguments of their own.
# --------------------------------------------------------------------------------------

CONVOLVER_CASES = {
    "shape-negative": (lambda: fs.Convolver(x1(3), (-4,)), ValueError, "shape|negative|empty"),
    "shape-float": (lambda: fs.Convolver(x1(3), (4.5,)), (TypeError, ValueError), "shape|int"),
    "shape-zero": (lambda: fs.Convolver(x1(3), (0,)), ValueError, "empty"),
    "kernel-empty": (lambda: fs.Convolver(np.ones(0), (4,)), ValueError, "empty"),
    "kernel-ndim": (lambda: fs.Convolver(x2(), (4,)), ValueError, "dimensionality"),
    "kernel-object": (
        lambda: fs.Convolver(x1(3).astype(object), (4,)),
        TypeError,
        "object|supported",
    ),
    "kernel-str": (
        lambda: fs.Convolver(x1(3).astype("U3"), (4,)),
        (TypeError, ValueError),
        "dtype|supported|numeric",
    ),
    "dtype-bogus": (
        lambda: fs.Convolver(x1(3), (4,), dtype="U3"),
        (TypeError, ValueError),
        "dtype|supported|numeric",
    ),
    "mode-bogus": (lambda: fs.Convolver(x1(3), (4,), mode="bogus"), ValueError, "mode"),
    "method-bogus": (lambda: fs.Convolver(x1(3), (4,), method="bogus"), ValueError, "method"),
    "workers-zero": (lambda: fs.Convolver(x1(3), (4,), workers=0), ValueError, "workers"),
    "valid-mismatch": (
        lambda: fs.Convolver(x2((3, 5)), (5, 3), mode="valid"),
        ValueError,
        "valid|larger",
    ),
    "axes-bad": (lambda: fs.Convolver(x1(3), (4,), axes=2), ValueError, "axes|exceed"),
    "call-shape": (lambda: fs.Convolver(x1(3), (8,))(x1(9)), ValueError, "shape"),
    "call-ndim": (lambda: fs.Convolver(x1(3), (8,))(x2((2, 4))), ValueError, "shape"),
    "call-0d": (lambda: fs.Convolver(x1(3), (8,))(np.float64(1)), ValueError, "shape"),
    "call-object": (
        lambda: fs.Convolver(x1(3), (8,))(x1().astype(object)),
        TypeError,
        "object|supported",
    ),
    "call-str": (
        lambda: fs.Convolver(x1(3), (8,))(x1().astype("U3")),
        (TypeError, ValueError),
        "dtype|supported|numeric",
    ),
    "call-complex-into-real": (
        lambda: fs.Convolver(x1(3), (8,))(x1() + 1j),
        TypeError,
        "complex|imaginary",
    ),
}


@pytest.mark.parametrize("cid", list(CONVOLVER_CASES))
def test_convolver_arguments(cid):
    call, cls, match = CONVOLVER_CASES[cid]
    with pytest.raises(cls, match=match):
        call()


# --------------------------------------------------------------------------------------
# Counting the cases per function.
# --------------------------------------------------------------------------------------

PUBLIC = {
    fs.convolve: "signal.convolve",
    fs.correlate: "signal.correlate",
    fs.fftconvolve: "signal.fftconvolve",
    fs.oaconvolve: "signal.oaconvolve",
    fs.convolve2d: "signal.convolve2d",
    fs.correlate2d: "signal.correlate2d",
    fnp.convolve: "numpy.convolve",
    fnp.correlate: "numpy.correlate",
    fnd.convolve: "ndimage.convolve",
    fnd.correlate: "ndimage.correlate",
    fnd.convolve1d: "ndimage.convolve1d",
    fnd.correlate1d: "ndimage.correlate1d",
}
BY_TEST = {
    "test_convolver": "signal.Convolver",
    "test_convolution_matrix": MATRIX,
    "test_correlation_lags": LAGS,
    "test_set_num_threads": "set_num_threads/threads",
    "test_numpy_correlate_refuses_scalars": "numpy.correlate",
}


def function_of(item) -> str:
    """The public function a collected test item exercises."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    for value in params.values():
        if type(value).__name__ == "Fn":  # (this module may be loaded twice: __main__)
            return value.name
        if callable(value) and value in PUBLIC:
            return PUBLIC[value]
    for prefix, name in BY_TEST.items():
        if item.originalname.startswith(prefix):
            return name
    return "other:" + item.originalname


def count_cases(paths) -> dict:
    """Collected test cases per public function in ``paths``."""
    from collections import Counter

    counts: Counter = Counter()

    class Collector:
        def pytest_collection_modifyitems(self, items):
            counts.update(function_of(i) for i in items)

    pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *paths], plugins=[Collector()])
    return dict(counts)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(here, f) for f in ("test_invalid_input.py", "test_bad_input_battery.py")]
    result = count_cases(files)
    print("\nbad-input cases per public function (test_invalid_input.py + this battery):")
    for name, n in sorted(result.items(), key=lambda kv: -kv[1]):
        print(f"  {name:32s} {n:5d}")
    print(f"  {'total':32s} {sum(result.values()):5d}")
    sys.exit(0)

"""The one home of the hypothesis strategies and of the comparison rule of the differential tests.

Strategies
----------
* dtypes: bool, int8, uint8, int16, int32, int64, uint64, float16, float32, float64, complex64,
  complex128, drawn alone or as mixed pairs (the output dtype is then ``np.result_type``);
* shapes: 1- to 3-D, sides 1..40 in 1-D (1..16 in 2-D, 1..6 in 3-D, smaller for the pure-Python
  reference), length 1 drawn often, kernels smaller than, larger than or unrelated to the signal;
* values: small integers (every float result is then exact), wide values (the whole range of
  an integer dtype, so wrap-around is exercised; floats up to 1e3), and edge values (0, +-1,
  the integer extremes, signed zeros, tiny and large floats); never NaN or infinity except where
  a test asks for them (``nonfinite=True``);
* layouts: C order, Fortran order, a step-2 slice of a larger array, negative strides
  (``[::-1]`` on every axis) and 0-stride broadcast views.

Values come from a NumPy generator seeded by hypothesis, so arrays of a thousand elements cost
little; hypothesis still shrinks shapes, dtypes, regimes and the seed.

Comparison rule
---------------
:func:`assert_matches` compares a result with the peer's (or the reference's):

* type (ndarray or NumPy scalar), dtype and shape must be equal;
* bool and integer results must be identical;
* float and complex results: ``|got - want| <= c * eps(dtype) * K * S`` elementwise, where
  ``S = sum |x| |w|`` over the terms of each output (the same convolution of ``|x|`` and
  ``|w|`` in float64) and ``K`` the most terms one output has (the product over the convolved
  axes of ``min(n, k)``). That is twice the a-priori bound of a recursive sum of ``K``
  products, whatever the summation order, so it holds for any correct implementation and
  catches a single missing or wrong term. ``c`` is 4 for real and 8 for complex dtypes (a
  complex multiply-add rounds more than once). float16 results are compared with
  ``|got - want| <= 1e-2 * S``: the peers accumulate half precision in float32 and round once,
  as fastconv does, but the two roundings of a float16 can differ by an ulp of the output.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Tuple

import numpy as np
from hypothesis import strategies as st

BOOL = ["bool"]
INTS = ["int8", "uint8", "int16", "int32", "int64", "uint64"]
FLOATS = ["float16", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]
ALL_DTYPES = BOOL + INTS + FLOATS + COMPLEX
LAYOUTS = ("C", "F", "step", "neg", "bcast")
REGIMES = ("small", "wide", "edge")
MODES = ("full", "same", "valid")

# Largest side per ndim: against the C peers, and against the pure-Python reference.
PEER_SIDES = {1: 40, 2: 16, 3: 6}
REF_SIDES = {1: 24, 2: 7, 3: 4}


# --------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------


def dtypes(names: Sequence[str] = ALL_DTYPES) -> st.SearchStrategy[np.dtype]:
    """One dtype among ``names``."""
    return st.sampled_from(list(names)).map(np.dtype)


def dtype_pairs(names: Sequence[str] = ALL_DTYPES) -> st.SearchStrategy[Tuple[np.dtype, np.dtype]]:
    """Two dtypes: half the time the same one, else an independent (mixed) pair."""
    same = dtypes(names).map(lambda d: (d, d))
    return st.one_of(same, st.tuples(dtypes(names), dtypes(names)))


# --------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------


def sides(max_side: int, min_side: int = 1) -> st.SearchStrategy[int]:
    """One axis length: ``min_side`` (usually 1), any length, or one in the upper half (a third
    of the time each, so mid-size arrays are common, not only the small ones hypothesis
    prefers)."""
    upper = st.integers(max(min_side, max_side // 2), max_side)
    return st.one_of(st.just(min_side), st.integers(min_side, max_side), upper)


@st.composite
def shape_pairs(
    draw,
    ndims: Sequence[int] = (1, 2, 3),
    max_sides: dict | None = None,
    relation: str | None = None,
    min_side: int = 1,
) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """``(signal_shape, kernel_shape)`` with the same ndim.

    ``relation``: 'smaller' (kernel no larger than the signal on every axis, so 'valid'
    works without a swap), 'larger' (kernel at least as large on every axis: the peers'
    'valid' swap), 'any' (unrelated), or None to draw one of the three.
    """
    ndim = draw(st.sampled_from(list(ndims)))
    top = (max_sides or PEER_SIDES)[ndim]
    relation = relation or draw(st.sampled_from(["smaller", "larger", "any"]))
    s1 = tuple(draw(sides(top, min_side)) for _ in range(ndim))
    if relation == "smaller":
        s2 = tuple(draw(sides(max(n, min_side), min_side)) for n in s1)
    elif relation == "larger":
        s2 = tuple(draw(st.integers(n, max(n, top))) for n in s1)
    else:
        s2 = tuple(draw(sides(top, min_side)) for _ in range(ndim))
    return s1, s2


@st.composite
def empty_shape_pairs(draw, ndims: Sequence[int] = (1, 2, 3)):
    """Shape pairs with sides 0..3 where at least one input is empty."""
    ndim = draw(st.sampled_from(list(ndims)))
    s1 = tuple(draw(st.integers(0, 3)) for _ in range(ndim))
    s2 = tuple(draw(st.integers(0, 3)) for _ in range(ndim))
    if 0 not in s1 + s2:
        axis = draw(st.integers(0, ndim - 1))
        which = draw(st.booleans())
        s1, s2 = (
            (s1[:axis] + (0,) + s1[axis + 1 :], s2)
            if which
            else (s1, s2[:axis] + (0,) + s2[axis + 1 :])
        )
    return s1, s2


# --------------------------------------------------------------------------------------
# values and layouts
# --------------------------------------------------------------------------------------


def _values(rng: np.random.Generator, dtype: np.dtype, shape, regime: str, nonfinite: bool):
    """Values of ``dtype`` and ``shape`` in a regime (see the module docstring)."""
    size = math.prod(shape)
    kind = dtype.kind
    if kind == "b":
        return rng.integers(0, 2, size).astype(bool).reshape(shape)
    if kind in "iu":
        info = np.iinfo(dtype)
        if regime == "small":
            lo, hi = (0, 5) if kind == "u" else (-4, 4)
            vals = rng.integers(lo, hi + 1, size)
        elif regime == "wide":
            vals = rng.integers(int(info.min), int(info.max), size, endpoint=True, dtype=dtype)
        else:
            edges = [0, 1, int(info.max), int(info.min), int(info.max) - 1]
            if kind == "i":
                edges += [-1, int(info.min) + 1]
            vals = np.array(edges, dtype=object)[rng.integers(0, len(edges), size)]
        return np.array(vals.tolist(), dtype=dtype).reshape(shape)
    real = np.dtype(dtype.char.lower()) if kind == "c" else dtype
    parts = [_float_values(rng, real, size, regime) for _ in range(2 if kind == "c" else 1)]
    if nonfinite:
        specials = np.array([np.nan, np.inf, -np.inf], dtype=real)
        for p in parts:
            hit = rng.random(size) < 0.15
            p[hit] = specials[rng.integers(0, 3, int(hit.sum()))]
    out = parts[0] if kind != "c" else parts[0] + 1j * parts[1]
    return out.astype(dtype).reshape(shape)


def _float_values(rng, real: np.dtype, size: int, regime: str) -> np.ndarray:
    # float16 stays within +-4 so no sum of up to 40 products (1-D, the only path that computes
    # float16) overflows.
    half = real == np.float16
    if regime == "small":
        return rng.integers(-4, 5, size).astype(real)
    if regime == "wide":
        top = 4.0 if half else 1e3
        return rng.uniform(-top, top, size).astype(real)
    edges = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-3, -2.5]
    edges += [3.0, -4.0] if half else [1e3, -1e4, 1e-30]
    return np.array(edges, dtype=real)[rng.integers(0, len(edges), size)]


def with_layout(base: np.ndarray, layout: str) -> np.ndarray:
    """The values of ``base`` in another memory layout (same shape, same values)."""
    if base.ndim == 0:
        return base
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "step":
        big = np.zeros([2 * n for n in base.shape], dtype=base.dtype)
        view = big[tuple(slice(None, None, 2) for _ in base.shape)]
        view[...] = base
        return view
    if layout == "neg":
        flipped = np.flip(base).copy()
        return np.flip(flipped)
    return np.ascontiguousarray(base)


@st.composite
def arrays(
    draw,
    dtype: np.dtype,
    shape: Tuple[int, ...],
    nonfinite: bool = False,
    layouts: Sequence[str] = LAYOUTS,
    regimes: Sequence[str] = REGIMES,
) -> np.ndarray:
    """An array of ``dtype`` and ``shape`` in one of ``layouts``.

    'bcast' draws the values with one axis of length 1 and broadcasts it (a 0-stride view,
    read-only, whose values repeat along that axis).
    """
    dtype = np.dtype(dtype)
    regime = draw(st.sampled_from(list(regimes)))
    layout = draw(st.sampled_from(list(layouts)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if layout == "bcast" and any(n > 1 for n in shape):
        axis = draw(st.sampled_from([d for d, n in enumerate(shape) if n > 1]))
        small = shape[:axis] + (1,) + shape[axis + 1 :]
        return np.broadcast_to(_values(rng, dtype, small, regime, nonfinite), shape)
    base = _values(rng, dtype, shape, regime, nonfinite)
    return with_layout(base, "C" if layout == "bcast" else layout)


@st.composite
def array_pairs(draw, shapes_strategy, dtypes_strategy=None, nonfinite: bool = False):
    """``(x, w)``: two arrays of drawn shapes and (possibly mixed) dtypes."""
    s1, s2 = draw(shapes_strategy)
    d1, d2 = draw(dtypes_strategy if dtypes_strategy is not None else dtype_pairs())
    x = draw(arrays(d1, s1, nonfinite=nonfinite))
    w = draw(arrays(d2, s2, nonfinite=nonfinite))
    return x, w


modes = st.sampled_from(MODES)


# --------------------------------------------------------------------------------------
# calling and comparing
# --------------------------------------------------------------------------------------


def outcome(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, or the exception it raised (returned, not raised)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the class is what the tests compare
        return exc


def abs64(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``|a|`` after the cast to the output dtype, in float64 (the scale of the error bound)."""
    return np.abs(np.asarray(a).astype(dtype)).astype(np.float64)


def taps(s1: Sequence[int], s2: Sequence[int]) -> int:
    """The most terms one output sums: the product over axes of ``min(n, k)``."""
    return math.prod(min(n, k) for n, k in zip(s1, s2)) if len(s1) else 1


def tolerance(dtype: np.dtype, k: int, scale) -> np.ndarray:
    """The allowed ``|got - want|`` for an output of ``dtype`` (see the module docstring)."""
    dtype = np.dtype(dtype)
    scale = np.asarray(scale, dtype=np.float64)
    if dtype == np.float16:
        return 1e-2 * scale
    real = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype
    c = 8.0 if dtype.kind == "c" else 4.0
    return c * float(np.finfo(real).eps) * max(k, 1) * scale


def fft_slack(x: np.ndarray, w: np.ndarray, axes, dtype) -> float:
    """The extra error an FFT method may add to any output: the normwise bound of FFT
    convolution, ``|err_i| <= ||err||_2 <= c * eps * log2(N) * ||x||_2 * ||w||_2`` with
    ``N`` the transform size (at most the product of ``n + k`` over the convolved axes) and
    c = 16 (a few passes of rounding per butterfly level, with room to spare)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        return 0.0
    real = np.dtype(dtype.char.lower()) if dtype.kind == "c" else dtype
    eps = float(np.finfo(real if real != np.float16 else np.float32).eps)
    axes = range(x.ndim) if axes is None else [a % x.ndim for a in np.atleast_1d(axes)]
    n = math.prod(x.shape[a] + w.shape[a] for a in axes)
    norm_x = float(np.sqrt(np.sum(np.abs(x.astype(np.complex128)) ** 2)))
    norm_w = float(np.sqrt(np.sum(np.abs(w.astype(np.complex128)) ** 2)))
    return 16 * eps * math.log2(max(n, 2)) * norm_x * norm_w


def assert_matches(got, want, *, k: int = 1, scale=None, atol: float = 0.0) -> None:
    """Assert ``got`` is ``want`` by the comparison rule (type, dtype, shape, values).

    NaN must appear at the same places (real and imaginary parts apart), infinities must be
    equal; the bound applies to the finite values.
    """
    if isinstance(want, BaseException):
        assert isinstance(got, BaseException), f"peer raised {want!r}, fastconv returned {got!r}"
        assert isinstance(got, type(want)), f"peer raised {want!r}, fastconv raised {got!r}"
        return
    assert not isinstance(got, BaseException), f"fastconv raised {got!r}, peer returned {want!r}"
    assert type(got) is type(want), f"type {type(got)} != {type(want)}"
    got_a, want_a = np.asarray(got), np.asarray(want)
    assert got_a.dtype == want_a.dtype, f"dtype {got_a.dtype} != {want_a.dtype}"
    assert got_a.shape == want_a.shape, f"shape {got_a.shape} != {want_a.shape}"
    if want_a.dtype.kind in "biu":
        np.testing.assert_array_equal(got_a, want_a)
        return
    assert want_a.dtype.kind in "fc", f"unexpected output dtype {want_a.dtype}"
    if not (np.isfinite(want_a).all() and np.isfinite(got_a).all()):
        for part in (np.real, np.imag) if want_a.dtype.kind == "c" else (np.real,):
            g, w = part(got_a), part(want_a)
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg="NaN positions")
            inf = np.isinf(w)
            np.testing.assert_array_equal(g[inf], w[inf], err_msg="infinities")
        finite = np.isfinite(want_a) & np.isfinite(got_a)
        got_a, want_a = np.where(finite, got_a, 0), np.where(finite, want_a, 0)
    if scale is None:  # a single rounded operation (a product of two scalars)
        scale = np.abs(want_a.astype(np.complex128))
    err = np.abs(got_a.astype(np.complex128) - want_a.astype(np.complex128))
    allowed = tolerance(want_a.dtype, k, np.broadcast_to(scale, err.shape)) + atol
    bad = err > allowed
    assert not bad.any(), (
        f"{int(bad.sum())} of {err.size} values differ beyond the bound: first at "
        f"{np.argwhere(bad)[0].tolist()}: got {got_a[bad][0]!r}, want {want_a[bad][0]!r}, "
        f"|diff| {err[bad][0]:.3g} > {allowed[bad][0]:.3g} (K={k})"
    )

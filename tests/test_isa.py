"""Every instruction-set path of the direct kernel, against the scalar oracle and the definition.

The ISA is chosen once per process (CPU detection or ``FASTCONV_ISA``); ``_core.correlate``'s
``isa=`` argument picks it per call so one process can exercise every kernel on the same input.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from fastconv import _core
from hypothesis import given
from hypothesis import strategies as st

ISAS = _core.supported_isas()
MODES = ["full", "same", "valid", "same_low_centre"]


def _integer_valued(draw, shape, dtype):
    values = draw(
        st.lists(st.integers(-8, 8), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    return np.array(values, dtype=dtype).reshape(shape)


@st.composite
def problems(draw):
    ndim = draw(st.integers(1, 3))
    xs = tuple(draw(st.lists(st.integers(1, 70 if ndim == 1 else 9), min_size=ndim, max_size=ndim)))
    ks = tuple(draw(st.lists(st.integers(1, 20 if ndim == 1 else 5), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return _integer_valued(draw, xs, dtype), _integer_valued(draw, ks, dtype)


@given(problems(), st.sampled_from(MODES), st.booleans())
def test_every_isa_is_exact_on_integer_valued_floats(problem, mode, flip):
    """Small integers: every partial sum is exact, so all kernels must agree bit for bit."""
    x, w = problem
    want = _core.correlate(x.astype(np.int64), w.astype(np.int64), mode, 0, flip, False, 1)
    for isa in ISAS:
        got = _core.correlate(x, w, mode, 0, flip, False, 1, isa)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, want.astype(x.dtype), err_msg=isa)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_isa_matches_scalar_within_rounding(isa, dtype):
    """Random floats: SIMD kernels fuse multiply-adds, the scalar one rounds twice; the
    difference is bounded by the direct-summation bound ``2 * K * eps * sum|x||w|``."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(5003).astype(dtype)
    w = rng.standard_normal(37).astype(dtype)
    scale = _core.correlate(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), "full")
    bound = 2 * w.size * np.finfo(dtype).eps * scale
    base = _core.correlate(x, w, "full", isa="scalar").astype(np.float64)
    got = _core.correlate(x, w, "full", isa=isa).astype(np.float64)
    assert np.all(np.abs(got - base) <= bound)


@pytest.mark.parametrize("isa", ISAS)
def test_each_isa_is_thread_count_invariant(isa):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 900)).astype(np.float32)
    w = rng.standard_normal((3, 7)).astype(np.float32)
    one = _core.correlate(x, w, "same", 0, True, False, 1, isa)
    for workers in (2, 3, 7):
        np.testing.assert_array_equal(
            _core.correlate(x, w, "same", 0, True, False, workers, isa), one
        )


def test_unknown_isa_is_a_value_error():
    with pytest.raises(ValueError, match="isa"):
        _core.correlate(np.ones(3), np.ones(2), "full", isa="sse9")


@pytest.mark.parametrize("name", ["scalar", "avx2"])
def test_environment_override_selects_the_kernel(name):
    """``FASTCONV_ISA`` is honoured at import, so a whole run can be forced onto one path."""
    if name not in ISAS:
        pytest.skip(f"{name} not supported by this CPU")
    code = (
        "import numpy as np, fastconv; from fastconv import signal;"
        "print(fastconv._core.isa());"
        "print(signal.convolve([1., 2., 3., 4.], [5., 6., 7.]).tolist())"
    )
    env = dict(os.environ, FASTCONV_ISA=name)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == name
    assert out[1] == "[5.0, 16.0, 34.0, 52.0, 45.0, 28.0]"


@pytest.mark.skipif(not {"avx2", "avx512"} <= set(ISAS), reason="needs AVX2 and AVX-512")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", list(range(1, 18)))
def test_short_kernels_round_as_the_register_blocked_loop(dtype, k):
    """float64 kernels of up to 8 taps take AVX-512's shifted-register loop, whole blocks
    of 8 vectors of outputs at a time: the same fused multiply-adds in the same order as the
    AVX2 loop, so random floats give the same bits, in 1-D rows long enough for several
    blocks and in 2-D (several row pairs per output row)."""
    rng = np.random.default_rng(k)
    for xs, ks in [((1000,), (k,)), ((3, 517), (2, k)), ((131,), (k,))]:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ks).astype(dtype)
        for mode in ("full", "valid"):
            if mode == "valid" and any(a < b for a, b in zip(xs, ks)):
                continue
            a2 = _core.correlate(x, w, mode, 0, False, False, 1, "avx2")
            a5 = _core.correlate(x, w, mode, 0, False, False, 1, "avx512")
            np.testing.assert_array_equal(a5, a2, err_msg=f"{xs} {ks} {mode}")

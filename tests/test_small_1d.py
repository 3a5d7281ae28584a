"""The small 1-D path (``_core.fast_1d`` runs calls with fewer than 2^16 multiply-adds on
the calling thread, straight on the inputs' buffers, without the general path's plan and
views; from 2^17 units of work on more than one thread, in two halves, the second on a
spinning helper thread) gives bitwise the general path's result, on any thread count, and
the general path takes over where the small one does not apply.

The general path is ``_core.correlate`` (the N-D driver) with the same orientation; both run
the same row kernel, so the outputs must be identical, not merely close. Values against the
peers are checked by ``test_signal.py`` and ``test_numpy_api.py`` (whose small cases now run
here) and the layout battery (unaligned, byte-swapped, strided inputs take the general path).
"""

from __future__ import annotations

import fastconv.numpy as fnp
import fastconv.signal as fs
import numpy as np
import pytest
from fastconv import _core
from hypothesis import given
from hypothesis import strategies as st

DTYPES = ["float32", "float64", "complex64", "complex128"]

#: The small path's bound on multiply-adds (output length times min(n, k)); the Rust
#: constant GIL_RELEASE_WORK.
SMALL_WORK = 1 << 16


def _values(rng, n, dtype):
    x = rng.standard_normal(n)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(n)
    return x.astype(dtype)


@given(
    n=st.integers(1, 300),
    k=st.integers(1, 80),
    dtype=st.sampled_from(DTYPES),
    mode=st.sampled_from(["full", "same", "valid"]),
    flip=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_small_calls_equal_the_general_path_bitwise(n, k, dtype, mode, flip, seed):
    rng = np.random.default_rng(seed)
    x, h = _values(rng, n, dtype), _values(rng, k, dtype)
    if k > n:
        # SciPy's rules keep in1 as the signal only where the mode allows it; NumPy's swap.
        x, h = h, x
    conj = not flip and np.dtype(dtype).kind == "c"
    fn = fs.convolve if flip else fs.correlate
    fast = fn(x, h, mode=mode, method="direct")
    general = _core.correlate(x, h, mode, flip=flip, conj=conj, method="direct")
    assert fast.dtype == general.dtype and fast.shape == general.shape
    np.testing.assert_array_equal(fast, general)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [SMALL_WORK // 3 - 2, SMALL_WORK // 3 + 2, 3 * SMALL_WORK])
def test_both_sides_of_the_work_bound(n, dtype):
    # Full convolution with 3 taps: n + 2 outputs of at most 3 terms, just below and above
    # the bound, and far above it (where the general path may share the work with helpers).
    rng = np.random.default_rng(n)
    x, h = _values(rng, n, dtype), _values(rng, 3, dtype)
    general = _core.correlate(x, h, "full", flip=True, method="direct")
    np.testing.assert_array_equal(fs.convolve(x, h, method="direct"), general)
    np.testing.assert_array_equal(fnp.convolve(x, h), general)
    np.testing.assert_array_equal(fs.convolve(x, h, workers=2), general)


#: The small path's split between the calling thread and a spinning helper (output length
#: times min(n, k) times the element's bytes); the Rust constant SPLIT_WORK.
SPLIT_WORK = 1 << 17


@given(
    n=st.integers(1, SMALL_WORK // 3),
    k=st.integers(1, 40),
    dtype=st.sampled_from(DTYPES),
    mode=st.sampled_from(["full", "same", "valid"]),
    flip=st.booleans(),
    workers=st.integers(2, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_small_calls_on_more_threads_equal_one_thread_bitwise(
    n, k, dtype, mode, flip, workers, seed
):
    # From SPLIT_WORK up (a third of the lengths here) the row is computed in two halves, the
    # second by a spinning helper when one is awake; the first call of a run finds none and
    # wakes them, so every call is made three times.
    rng = np.random.default_rng(seed)
    x, h = _values(rng, n, dtype), _values(rng, k, dtype)
    if k > n:
        x, h = h, x
    if len(x) * min(len(h), len(x)) >= SMALL_WORK:
        return  # the general path's call (covered by test_threads.py)
    fn = fs.convolve if flip else fs.correlate
    one = fn(x, h, mode=mode, method="direct", workers=1)
    for _ in range(3):
        np.testing.assert_array_equal(fn(x, h, mode=mode, method="direct", workers=workers), one)


@pytest.mark.parametrize("dtype", DTYPES)
def test_both_sides_of_the_split(dtype):
    itemsize = np.dtype(dtype).itemsize
    first_split = -(-SPLIT_WORK // (3 * itemsize)) - 2  # n + 2 outputs of 3 terms
    for n in (first_split - 1, first_split, first_split + 63, 2 * first_split + 1):
        if (n + 2) * 3 >= SMALL_WORK:
            continue
        rng = np.random.default_rng(n)
        x, h = _values(rng, n, dtype), _values(rng, 3, dtype)
        general = _core.correlate(x, h, "full", flip=True, method="direct")
        for _ in range(3):
            np.testing.assert_array_equal(fs.convolve(x, h, method="direct", workers=2), general)
            np.testing.assert_array_equal(fnp.convolve(x, h), general)


def test_auto_runs_direct_when_an_input_is_not_finite():
    # 'auto' on a small call asks the same cost model and finiteness check as the general
    # path: with a NaN, direct (NaN only where it reaches), not an FFT (NaN everywhere).
    x = np.ones(4000)
    x[10] = np.nan
    h = np.ones(9)
    out = fs.convolve(x, h, method="auto")
    assert np.isnan(out[10:19]).all()
    assert np.isfinite(out[:10]).all() and np.isfinite(out[19:]).all()


@pytest.mark.parametrize("workers", [True, 1.0, "2", 0, -2])
def test_workers_that_are_not_a_positive_int_take_the_python_path(workers):
    # The Rust entry point declines them (None) rather than raising its own errors; the
    # Python path then accepts True (as operator.index does) and raises the peer's classes.
    x, h = np.arange(10.0), np.ones(3)
    assert _core.fast_1d(x, h, "full", True, False, "direct", workers) is None
    if workers is True:
        np.testing.assert_array_equal(fs.convolve(x, h, workers=workers), np.convolve(x, h))
    else:
        with pytest.raises((TypeError, ValueError)):
            fs.convolve(x, h, workers=workers)


@pytest.mark.parametrize("method", [None, 3, "fft", "Direct"])
def test_methods_other_than_auto_and_direct_take_the_python_path(method):
    x, h = np.arange(10.0), np.ones(3)
    assert _core.fast_1d(x, h, "full", True, False, method, None) is None

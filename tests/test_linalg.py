"""Differential tests of ``fastconv.linalg.convolution_matrix`` against SciPy and the reference,
and of its defining property ``convolution_matrix(w, n, mode) @ x == numpy.convolve(x, w, mode)``.
"""

from __future__ import annotations

import fastconv.linalg as fl
import numpy as np
import scipy.linalg as sl
from fastconv import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import ALL_DTYPES, arrays, assert_matches, dtypes, modes, outcome, sides

# NumPy signed integers too. Not unsigned ones: SciPy computes ``raz[-n:]`` in the type of n,
# so np.uint8(1) gives a (1, 0) matrix; fastconv converts n to a Python int first.
lengths = st.one_of(
    sides(30),
    st.tuples(sides(30), st.sampled_from([np.int8, np.int16, np.int64])).map(lambda t: t[1](t[0])),
)


@st.composite
def kernels(draw, max_side=30):
    """1-D kernels, and N-D ones (one matrix per 1-D slice along the last axis)."""
    ndim = draw(st.sampled_from([1, 1, 2, 3]))
    shape = tuple(draw(sides(4)) for _ in range(ndim - 1)) + (draw(sides(max_side)),)
    return draw(arrays(draw(dtypes(ALL_DTYPES)), shape))


@given(kernels(), lengths, modes)
def test_matches_scipy(a, n, mode):
    want = outcome(sl.convolution_matrix, a, n, mode)
    got = outcome(fl.convolution_matrix, a, n, mode)
    assert_matches(got, want)  # every entry is a tap or zero: exact for every dtype
    if isinstance(got, np.ndarray):  # a fresh array, as SciPy's, not a view of a
        assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata


@given(kernels(max_side=12), st.integers(1, 12), modes)
def test_matches_reference(a, n, mode):
    assert_matches(fl.convolution_matrix(a, n, mode), ref.convolution_matrix(a, n, mode))


MATMUL_DTYPES = [d for d in ALL_DTYPES if d != "float16"]  # float16 matmul sums in float16


@given(st.data(), sides(30), sides(30), modes, dtypes(MATMUL_DTYPES))
def test_matrix_times_x_is_numpy_convolve(data, k, n, mode, dtype):
    """``A @ x == numpy.convolve(x, w, mode)``: exact for bool and integers (both wrap in the
    same width), within the summation bound for floats (scale ``|A| @ |x|``)."""
    w = data.draw(arrays(dtype, (k,)))
    x = data.draw(arrays(dtype, (n,)))
    a = fl.convolution_matrix(w, n, mode)
    with np.errstate(over="ignore"):
        got, want = a @ x, np.convolve(x, w, mode)
    scale = None
    if want.dtype.kind in "fc":
        scale = np.abs(a).astype(np.float64) @ np.abs(x).astype(np.float64)
    assert_matches(got, want, k=min(n, k), scale=scale)


@given(
    st.sampled_from([0, -1, -5, 2.5, 3.0, "4", None]),
    st.sampled_from([np.ones(3), np.ones(0), np.ones((2, 0)), np.array(2.0)]),
    st.sampled_from(["full", "same", "valid", "bogus"]),
)
def test_errors_match_scipy(n, a, mode):
    """n <= 0, empty a, unknown mode (in that order, all ValueError), non-integral n
    (TypeError), 0-d a (IndexError)."""
    want = outcome(sl.convolution_matrix, a, n, mode)
    got = outcome(fl.convolution_matrix, a, n, mode)
    assert_matches(got, want)
    assert_matches(got, outcome(ref.convolution_matrix, a, n, mode))

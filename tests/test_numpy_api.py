"""Differential tests of ``fastconv.numpy`` against NumPy and ``fastconv.reference``.

Same harness as ``test_signal.py``: the peer's exception class where it raises, else the same
type, dtype, shape and values (exact for bool and integers, within the summation error bound
for floats; see ``strategies.py``).
"""

from __future__ import annotations

import fastconv.numpy as fnp
import numpy as np
import pytest
from fastconv import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    REF_SIDES,
    abs64,
    array_pairs,
    arrays,
    assert_matches,
    dtype_pairs,
    outcome,
    shape_pairs,
)

NAMES = ("convolve", "correlate")
names = st.sampled_from(NAMES)
np_modes = st.sampled_from(["full", "same", "valid", 0, 1, 2, np.int64(1)])
REFERENCE = {"convolve": ref.np_convolve, "correlate": ref.np_correlate}


def check(got, want, name, a, v, mode):
    """Compare with the comparison rule; the scale is NumPy on the float64 magnitudes."""
    scale = None
    if isinstance(want, np.ndarray) and want.dtype.kind in "fc":
        with np.errstate(invalid="ignore"):  # 0 * inf
            scale = getattr(np, name)(abs64(a, want.dtype), abs64(v, want.dtype), mode)
    k = min(np.size(a), np.size(v))
    assert_matches(got, want, k=k, scale=scale)


@given(array_pairs(shape_pairs(ndims=(1,))), np_modes, names)
def test_matches_numpy(pair, mode, name):
    a, v = pair
    want = outcome(getattr(np, name), a, v, mode)
    got = outcome(getattr(fnp, name), a, v, mode)
    check(got, want, name, a, v, mode)


@given(array_pairs(shape_pairs(ndims=(1,), max_sides=REF_SIDES)), np_modes, names)
def test_matches_reference(pair, mode, name):
    a, v = pair
    want = outcome(REFERENCE[name], a, v, mode)
    got = outcome(getattr(fnp, name), a, v, mode)
    check(got, want, name, a, v, mode)


@given(array_pairs(shape_pairs(ndims=(1,), relation="larger")), np_modes, names)
def test_longer_v_swaps_like_numpy(pair, mode, name):
    """``v`` longer than ``a``: NumPy swaps the inputs ('same' then has the length of ``v``)."""
    a, v = pair
    want = outcome(getattr(np, name), a, v, mode)
    check(outcome(getattr(fnp, name), a, v, mode), want, name, a, v, mode)


@given(
    array_pairs(shape_pairs(ndims=(1,)), dtype_pairs(["complex64", "complex128", "float32"])),
    np_modes,
)
def test_correlate_conjugates_v(pair, mode):
    """``correlate(a, v)`` is NumPy's, and in 'full' mode ``convolve(a, conj(v[::-1]))``."""
    a, v = pair
    got = fnp.correlate(a, v, mode)
    check(got, np.correlate(a, v, mode), "correlate", a, v, mode)
    full = fnp.correlate(a, v, "full")
    check(full, fnp.convolve(a, np.conj(v[::-1]), "full"), "correlate", a, v, "full")


@given(
    array_pairs(shape_pairs(ndims=(1,)), dtype_pairs(["float32", "float64"]), True),
    np_modes,
    names,
)
def test_nonfinite_values_match_numpy(pair, mode, name):
    """NaN and infinity land where NumPy puts them (both leave out-of-range terms out).

    Real dtypes only: with complex infinities, whether a part comes out infinite or NaN
    depends on how the multiply is written (NumPy's BLAS dot differs from C99's rules).
    """
    a, v = pair
    want = outcome(getattr(np, name), a, v, mode)
    check(outcome(getattr(fnp, name), a, v, mode), want, name, a, v, mode)


@given(st.data(), dtype_pairs(), np_modes, names)
def test_scalars_count_as_length_one(data, dts, mode, name):
    """``convolve`` promotes 0-d inputs to length 1; ``correlate`` refuses them (ValueError)."""
    a = data.draw(arrays(dts[0], ()))
    v = data.draw(arrays(dts[1], data.draw(st.sampled_from([(), (1,), (3,)]))))
    if data.draw(st.booleans()):
        a, v = v, a
    want = outcome(getattr(np, name), a, v, mode)
    got = outcome(getattr(fnp, name), a, v, mode)
    check(got, want, name, a, v, mode)
    check(got, outcome(REFERENCE[name], a, v, mode), name, a, v, mode)


@given(
    st.sampled_from(
        ["full", "same", "valid", 0, 1, 2, 3, -1, 2**40, 1.0, None, True, "fu", "x", b"full"]
    ),
    names,
)
def test_mode_parsing_matches_numpy(mode, name):
    a, v = np.arange(5), np.array([1, -1, 2])
    want = outcome(getattr(np, name), a, v, mode)
    got = outcome(getattr(fnp, name), a, v, mode)
    assert_matches(got, want)
    assert_matches(got, outcome(REFERENCE[name], a, v, mode))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("lengths", [(7, 4), (4, 7), (6, 3), (3, 6), (5, 5), (1, 4), (4, 1)])
def test_same_centring_and_swap_on_fixed_cases(name, mode, lengths):
    """Even and odd lengths, either input longer: the windows NumPy picks, exactly."""
    a = np.arange(1, lengths[0] + 1, dtype=np.int64) * (1 + 2j)
    v = np.arange(3, lengths[1] + 3, dtype=np.int64) * (2 - 1j)
    want = getattr(np, name)(a, v, mode)
    assert_matches(getattr(fnp, name)(a, v, mode), want, k=min(lengths))
    assert_matches(getattr(fnp, name)(a, v, mode), REFERENCE[name](a, v, mode), k=min(lengths))


@given(array_pairs(shape_pairs(ndims=(1,)), dtype_pairs(["int32", "float64"])), names)
def test_workers_do_not_change_results(pair, name):
    a, v = pair
    want = getattr(fnp, name)(a, v, "full", workers=1)
    for workers in (2, 3, -1):
        np.testing.assert_array_equal(getattr(fnp, name)(a, v, "full", workers=workers), want)

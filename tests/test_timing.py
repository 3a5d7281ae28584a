"""The benchmark's sampling plan (``fastconv._bench.timing.measure``): which implementation is
called when. No wall-clock values are asserted; the callables only log their calls."""

from __future__ import annotations

import itertools

import pytest
from fastconv._bench.timing import measure, round_order

# A budget far below one call: no re-warming, and every implementation takes min_samples.
PLAN = {"budget_s": 1e-12, "min_samples": 3, "max_samples": 3, "min_sample_s": 0.0}


def logged(names):
    log = []
    return log, {n: (lambda n=n: log.append(n)) for n in names}


def test_rounds_rotate_which_implementation_goes_first():
    log, fns = logged("abc")
    result = measure(fns, **PLAN)
    calibration, timed = log[:3], log[3:]
    assert calibration == list("abc")
    assert timed == list("abcbcacab")
    assert all(t.samples == 3 and t.number == 1 and len(t.times_s) == 3 for t in result.values())


def test_few_samples_spread_over_more_rounds():
    log, fns = logged("abc")
    result = measure(fns, **PLAN, rounds=9)
    # three samples each, in rounds 2, 5 and 8: orders cab, bac (round 5 reverses round 2: an
    # odd count cycles through 2 * 3 orders) and cab again
    assert log[3:] == list("cabbaccab")
    assert [t.samples for t in result.values()] == [3, 3, 3]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 8])
def test_every_implementation_follows_every_other_equally_often(count):
    cycle = count if count % 2 == 0 else 2 * count
    orders = [round_order(count, r) for r in range(cycle)]
    assert all(sorted(o) == list(range(count)) for o in orders)
    assert sorted(o[0] for o in orders) == sorted(list(range(count)) * (cycle // count))
    pairs = [pair for o in orders for pair in zip(o, o[1:])]
    each = cycle // count  # times each ordered pair is adjacent within a round over a cycle
    assert sorted(pairs) == sorted(list(itertools.permutations(range(count), 2)) * each)
    assert round_order(count, cycle) == orders[0]

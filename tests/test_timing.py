"""The benchmark's sampling plan (``fastconv._bench.timing.measure``): which implementation is
called when. No wall-clock values are asserted; the callables only log their calls."""

from __future__ import annotations

from fastconv._bench.timing import measure

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
    # three samples each, in rounds 2, 5 and 8, which all start with 'c' (2, 5, 8 mod 3 = 2)
    assert log[3:] == list("cab" * 3)
    assert [t.samples for t in result.values()] == [3, 3, 3]

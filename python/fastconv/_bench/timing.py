"""Wall-clock timing: median of adaptive repeats, interleaved across implementations."""

from __future__ import annotations

import dataclasses
import gc
import math
import statistics
import time
from typing import Callable


@dataclasses.dataclass
class Timing:
    """Timing of one implementation on one case.

    Attributes
    ----------
    median_s, min_s : float
        Median and minimum seconds per call over the samples.
    samples : int
        Number of samples taken.
    number : int
        Calls per sample (more than one only for calls too short to time singly).
    times_s : list of float
        Every sample (seconds per call), in the order taken.
    """

    median_s: float
    min_s: float
    samples: int
    number: int
    times_s: list


def _per_call(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


#: Seconds of untimed calls before each burst of a cheap implementation. After 50 ms of
#: single-threaded work (a SciPy peer, or fastconv with ``workers=1``) the second core of this
#: VM runs slow for about 10 ms: a two-threaded n=1e5, k=1e3 float32 convolution took
#: 0.34 ms for its first ~30 calls, then 0.22 ms (after 50 ms of sleeping instead: 0.22 ms
#: from the second call). 5 ms of re-warming left the first implementation after a peer
#: timed up to 40% slow, so it is 20 ms.
REWARM_S = 0.02


def _rewarm(fn: Callable[[], object]) -> None:
    """Calls `fn` until :data:`REWARM_S` seconds have passed (at least once)."""
    t0 = time.perf_counter()
    fn()
    while time.perf_counter() - t0 < REWARM_S:
        fn()


def round_order(count: int, round_index: int) -> list:
    """The order in which ``count`` implementations run in round ``round_index``: the rows of a
    balanced Latin square (Williams design), cycled. Over a cycle of ``count`` rounds (of
    ``2 * count`` when ``count`` is odd, and then twice each) every implementation goes first
    once and follows every other one exactly once within a round.

    With a fixed rotation the same implementation always came right after the same one,
    so whatever that one left behind (cold caches, a second core slowed by its
    single-threaded calls: see :data:`REWARM_S`) fell on the same implementation every round.
    """
    base = [0]
    for step in range(1, count):
        base.append((step + 1) // 2 if step % 2 else count - step // 2)
    row = round_index % (count if count % 2 == 0 else 2 * count)
    order = [(b + row) % count for b in base]
    return order[::-1] if row >= count else order


def measure(
    fns: dict,
    *,
    budget_s: float = 0.2,
    min_samples: int = 5,
    max_samples: int = 1000,
    min_sample_s: float = 2e-4,
    rounds: int | None = None,
) -> dict:
    """Time several zero-argument callables on the same problem.

    The caller is expected to have warmed each callable up once. One more call (the faster
    of two, for cheap calls) calibrates it; then each gets about ``budget_s / t_call``
    samples (clamped to ``[min_samples, max_samples]``). The samples are taken in ``rounds``
    rounds, each implementation taking its share of a round back to back (the order changing
    from round to round, :func:`round_order`), so that drift in a shared, noisy machine, and
    what one implementation leaves behind for the next, hit every implementation alike. An
    implementation cheap enough for it (``t_call * min_samples <= budget_s``) makes untimed
    calls for :data:`REWARM_S` before each of its bursts, so that it is not timed cold right
    after a slow peer. The garbage collector is paused meanwhile.

    Parameters
    ----------
    fns : dict of str to callable
        Implementations to time.
    budget_s : float, optional
        Target time spent per implementation.
    min_samples, max_samples : int, optional
        Bounds on the number of samples.
    min_sample_s : float, optional
        Shorter calls are batched so that one sample lasts at least this long.
    rounds : int, optional
        Rounds the samples are spread over (default ``min_samples``). More rounds than an
        implementation has samples: it takes them in evenly spaced rounds, so a slow peer
        costs no more while the cheap implementations are sampled throughout the drift of
        a noisy machine.

    Returns
    -------
    dict of str to Timing
    """
    plans = {}
    times: dict = {name: [] for name in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for name, fn in fns.items():
            t = max(_per_call(fn, 1), 1e-9)
            if t * min_samples <= budget_s:  # cheap: calibrate on the faster of two calls
                t = max(min(t, _per_call(fn, 1)), 1e-9)
            number = 1 if t >= min_sample_s else min(math.ceil(min_sample_s / t), 100_000)
            samples = int(budget_s / (t * number))
            rewarm = t * min_samples <= budget_s
            plans[name] = (number, max(1, min_samples, min(max_samples, samples)), rewarm)
        rounds = max(1, rounds or min_samples)
        names = list(fns)
        for r in range(rounds):
            # Each round starts with a different implementation, and each implementation
            # follows a different one from round to round (:func:`round_order`): whatever the
            # first one of a round suffers after the last round's slow single-threaded peers
            # (a second core that the VM's host has parked), or whatever a peer leaves behind,
            # no implementation suffers it in every round.
            for name in (names[i] for i in round_order(len(names), r)):
                fn = fns[name]
                number, samples, rewarm = plans[name]
                share = samples * (r + 1) // rounds - samples * r // rounds
                if share and rewarm:  # untimed: the last implementation may have left caches cold
                    _rewarm(fn)
                times[name] += [_per_call(fn, number) for _ in range(share)]
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        name: Timing(statistics.median(ts), min(ts), len(ts), plans[name][0], ts)
        for name, ts in times.items()
    }


def time_one(fn: Callable[[], object], **kwargs) -> Timing:
    """Warm `fn` up once, then `measure` it alone.

    Parameters
    ----------
    fn : callable
        Zero-argument callable.
    **kwargs
        Passed to `measure`.

    Returns
    -------
    Timing
    """
    fn()
    return measure({"fn": fn}, **kwargs)["fn"]

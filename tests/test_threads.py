"""Threads: results independent of the thread count, thread-count control, concurrent callers,
and the GIL released during the computation.

The sizes are large enough that the core splits the work across its pool (more than 2**24
multiply-adds times element bytes): a 1-D signal of 200,000 samples with a 31-tap kernel, and a
900 x 900 image with a 5 x 5 kernel.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import fastconv
import fastconv.numpy as fnp
import fastconv.signal as fs
import numpy as np
import pytest

MODES = ("full", "same", "valid")
WORKERS = (1, 2, 3, 8)


def _inputs(shape_x, shape_w, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal(shape_w).astype(dtype)
    return x, w


CASES = [
    ("signal.convolve", lambda x, w, m, **k: fs.convolve(x, w, m, method="direct", **k), 1),
    ("signal.correlate", lambda x, w, m, **k: fs.correlate(x, w, m, method="direct", **k), 1),
    ("signal.convolve auto", lambda x, w, m, **k: fs.convolve(x, w, m, **k), 1),
    ("numpy.convolve", fnp.convolve, 1),
    ("numpy.correlate", fnp.correlate, 1),
    ("signal.convolve 2-D", lambda x, w, m, **k: fs.convolve(x, w, m, method="direct", **k), 2),
    ("signal.correlate 2-D auto", lambda x, w, m, **k: fs.correlate(x, w, m, **k), 2),
    ("convolve2d", fs.convolve2d, 2),
    ("correlate2d symm", lambda x, w, m, **k: fs.correlate2d(x, w, m, "symm", **k), 2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("label", "fn", "ndim"), CASES, ids=[c[0] for c in CASES])
def test_results_are_bitwise_identical_for_every_thread_count(dtype, mode, label, fn, ndim):
    if ndim == 1:
        x, w = _inputs(200_000, 31, dtype)
    else:
        x, w = _inputs((900, 900), (5, 5), dtype)
    results = [fn(x, w, mode, workers=n) for n in WORKERS]
    for n, r in zip(WORKERS[1:], results[1:]):
        assert r.dtype == results[0].dtype and r.shape == results[0].shape
        # Bitwise: compare the bytes, so even NaN payloads or signed zeros would count.
        assert r.tobytes() == results[0].tobytes(), f"workers={n} differs from workers=1"
    with fastconv.threads(3):
        assert fn(x, w, mode).tobytes() == results[0].tobytes()


def test_threads_context_manager_restores_the_previous_value():
    original = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(2)
        with fastconv.threads(5) as n:
            assert n == 5
            assert fastconv.get_num_threads() == 5
            with fastconv.threads(1):
                assert fastconv.get_num_threads() == 1
            assert fastconv.get_num_threads() == 5
        assert fastconv.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="inside"), fastconv.threads(7):
            assert fastconv.get_num_threads() == 7
            raise RuntimeError("inside the block")
        assert fastconv.get_num_threads() == 2
    finally:
        fastconv.set_num_threads(original)


def test_set_num_threads_sets_the_default_for_calls_without_workers():
    original = fastconv.get_num_threads()
    x, w = _inputs(200_000, 31, np.float64)
    want = fnp.convolve(x, w, workers=1)
    try:
        for n in (1, 4):
            fastconv.set_num_threads(n)
            assert fastconv.get_num_threads() == n
            assert fnp.convolve(x, w).tobytes() == want.tobytes()
    finally:
        fastconv.set_num_threads(original)


def test_concurrent_calls_from_python_threads_match_serial_calls():
    jobs = []
    for i in range(24):
        dtype = (np.float32, np.float64, np.complex128, np.int32)[i % 4]
        mode = MODES[i % 3]
        if i % 2:
            x, w = _inputs((120, 90 + i), (5, 4), np.float64, seed=i)
            jobs.append((fs.correlate2d, x.astype(dtype), w.astype(dtype), mode, i % 3 + 1))
        else:
            x, w = _inputs(50_000 + i, 17 + i, np.float64, seed=i)
            jobs.append((fs.convolve, x.astype(dtype), w.astype(dtype), mode, i % 3 + 1))
    serial = [fn(x, w, mode, workers=n) for fn, x, w, mode, n in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda job: job[0](*job[1:4], workers=job[4]), jobs * 2))
    for got, want in zip(concurrent, serial * 2):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


def _call_of_about(seconds: float):
    """Inputs for one direct 1-D convolution taking roughly ``seconds`` on one thread."""
    x, w = _inputs(400_000, 256, np.float64)
    fs.convolve(x, w, method="direct", workers=1)  # warm up
    start = time.perf_counter()
    fs.convolve(x, w, method="direct", workers=1)
    elapsed = max(time.perf_counter() - start, 1e-4)
    taps = int(min(256 * seconds / elapsed, 200_000))
    return x, _inputs(1, max(taps, 64), np.float64)[1]


def test_the_gil_is_released_during_a_call():
    """A pure-Python counter thread makes progress while one long call runs.

    The switch interval is raised to 100 s, so the interpreter never takes the GIL from the
    calling thread by itself: the counter can run during the call only if the call releases
    the GIL. The counter gives the GIL back (``sleep(0)``) every 100 increments so the caller
    gets it back as soon as the call returns.
    """
    x, w = _call_of_about(0.3)
    state = {"in_call": False, "stop": False, "during": 0, "total": 0}

    def counter():
        while not state["stop"]:
            for _ in range(100):
                state["total"] += 1
                if state["in_call"]:
                    state["during"] += 1
            time.sleep(0)

    old = sys.getswitchinterval()
    thread = threading.Thread(target=counter, daemon=True)
    thread.start()
    try:
        while state["total"] == 0:
            time.sleep(0.001)
        sys.setswitchinterval(100.0)
        state["in_call"] = True
        fs.convolve(x, w, method="direct", workers=1)
        state["in_call"] = False
    finally:
        sys.setswitchinterval(old)
        state["stop"] = True
        thread.join()
    assert state["during"] >= 10_000, f"counter advanced {state['during']} times during the call"

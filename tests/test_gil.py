"""The GIL is released during long convolutions: a pure-Python thread keeps running.

A counter thread records the time of each of its iterations while the main thread runs one
long call (sized by calibration to last at least ``CALL_SECONDS``, on one worker so a core
stays free). If the call held the GIL, the counter could not run at all between the first
switch interval after the call started and the call's return; with the GIL released it runs
all along. The test asserts that the counter made progress in most 10 ms slots of the call
(the first 20 ms are left out: the interpreter may hand the counter one switch interval, 5 ms
by default, just before the call takes over).
"""

from __future__ import annotations

import threading
import time

import fastconv.ndimage as fnd
import fastconv.signal as fs
import numpy as np
import pytest

CALL_SECONDS = 0.4
SLOT = 0.01
SKIP_START = 0.02


def _direct(n):
    x, w = np.ones(n), np.ones(2001)
    return lambda: fs.convolve(x, w, mode="valid", method="direct", workers=1)


def _fft(n):
    x, w = np.ones(n), np.ones(n // 2)
    return lambda: fs.convolve(x, w, method="fft", workers=1)


def _oa(n):
    x, w = np.ones(n), np.ones(513)
    return lambda: fs.oaconvolve(x, w, workers=1)


def _convolve2d(n):
    side = int(n**0.5)
    x, w = np.ones((side, side)), np.ones((15, 15))
    return lambda: fs.convolve2d(x, w, workers=1)


def _ndimage(n):
    side = int(n**0.5)
    x, w = np.ones((side, side)), np.ones((15, 15))
    return lambda: fnd.convolve(x, w, workers=1)


def _convolver(n):
    conv = fs.Convolver(np.ones(n // 2), (n,), method="fft", workers=1)
    x = np.ones(n)
    return lambda: conv(x)


CALLS = {
    "convolve-direct": _direct,
    "convolve-fft": _fft,
    "oaconvolve": _oa,
    "convolve2d": _convolve2d,
    "ndimage.convolve": _ndimage,
    "Convolver": _convolver,
}


def _long_call(make):
    """A call built by ``make(n)`` that lasts at least CALL_SECONDS (n doubled until it does)."""
    n = 1 << 14
    while True:
        call = make(n)
        t0 = time.perf_counter()
        call()
        took = time.perf_counter() - t0
        if took >= CALL_SECONDS:
            return call
        assert n < 1 << 30, "calibration did not reach the target duration"
        n *= 2 if took > CALL_SECONDS / 4 else 4


@pytest.mark.parametrize("name", list(CALLS))
def test_python_thread_runs_during_a_long_call(name):
    call = _long_call(CALLS[name])
    stamps: list[float] = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        time.sleep(0.05)  # the counter is running
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
    finally:
        stop.set()
        thread.join()
    inside = np.array([t for t in stamps if t0 + SKIP_START <= t < t1])
    slots = max(int((t1 - t0 - SKIP_START) / SLOT), 1)
    busy = len(np.unique(((inside - t0 - SKIP_START) / SLOT).astype(int)))
    assert busy >= slots // 2, (
        f"{name}: the Python thread ran in {busy} of {slots} 10 ms slots of a "
        f"{t1 - t0:.2f} s call: the GIL was held"
    )

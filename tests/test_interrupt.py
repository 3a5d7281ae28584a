"""Ctrl-C (SIGINT) stops a long call promptly with KeyboardInterrupt (issue 6).

A timer thread sends SIGINT to the process while the main thread is inside a long call; the
call must raise KeyboardInterrupt long before it could have finished. The bound is relative,
not a wall-clock limit on the library: each test first times one eighth of the work
uninterrupted (the calls' cost is linear in the part that is scaled), so the whole call takes
about 8 such times, and the interrupted call must end within 4 of them.
"""

import os
import signal
import sys
import threading
import time

import fastconv
import numpy as np
import pytest
from fastconv import signal as fsignal

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGINT delivery by os.kill is POSIX-only"
)

SCALE = 8


def _interrupt_after(delay):
    timer = threading.Timer(delay, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _assert_interrupted(call_of_size):
    start = time.perf_counter()
    call_of_size(1)
    eighth = time.perf_counter() - start
    timer = _interrupt_after(max(eighth / 2, 0.05))
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            call_of_size(SCALE)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    # Stopped well before the end (the whole call takes about SCALE eighths). On a fast machine
    # an eighth can be as short as the fixed latencies (the signal's delay, the 20 ms polling
    # interval, one tile), so the bound never goes below the delay plus a quarter second: still
    # far inside "within about a second".
    delay = max(eighth / 2, 0.05)
    assert elapsed < max(SCALE / 2 * eighth, delay + 0.25), (elapsed, eighth)


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_a_long_direct_convolution(workers):
    k = 20_000
    w = np.ones(k, dtype=np.float32)

    def call(scale):
        x = np.ones(400_000 * scale + k, dtype=np.float32)
        fsignal.convolve(x, w, mode="valid", method="direct", workers=workers)

    _assert_interrupted(call)


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_a_long_batched_fft_convolution(workers):
    # Rows of 2^16 points, each an independent transform tile: the tiles check the flag. The
    # inputs exist before the timing starts: built inside the call (from a broadcast view, say),
    # the timed part would be dominated by paging in 256 MiB, which is not what is tested.
    n = 1 << 16
    w = np.ones((1, 5001), dtype=np.float32)
    inputs = {scale: np.ones((128 * scale, n), dtype=np.float32) for scale in (1, SCALE)}

    def call(scale):
        fsignal.fftconvolve(inputs[scale], w, mode="same", axes=-1, workers=workers)

    _assert_interrupted(call)


def test_calls_after_an_interrupt_work():
    timer = _interrupt_after(0.05)
    try:
        with pytest.raises(KeyboardInterrupt):
            fsignal.convolve(np.ones(4_000_000, np.float32), np.ones(300_000, np.float32), "valid")
    finally:
        timer.cancel()
    x = np.arange(10.0)
    np.testing.assert_allclose(fsignal.convolve(x, [1.0, 2.0]), np.convolve(x, [1.0, 2.0]))
    assert fastconv.get_num_threads() >= 1

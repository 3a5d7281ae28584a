"""The thread pool survives ``fork``: a child process started after the parent used the pool
gets correct results from a multi-threaded call (the pool is rebuilt in the child)."""

from __future__ import annotations

import multiprocessing as mp
import sys

import numpy as np
import pytest
from fastconv import signal

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="the fork start method is the Linux default"
)


def _child(queue) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal(200_000).astype(np.float32)
    w = rng.standard_normal(63).astype(np.float32)
    queue.put((signal.convolve(x, w, workers=2), signal.fftconvolve(x, w[:31], workers=2)))


def test_pool_works_in_a_forked_child():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(200_000).astype(np.float32)
    w = rng.standard_normal(63).astype(np.float32)
    # Use the pools in the parent first, so the child inherits them (without their threads).
    direct = signal.convolve(x, w, workers=2)
    fft = signal.fftconvolve(x, w[:31], workers=2)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    got_direct, got_fft = queue.get(timeout=60)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    np.testing.assert_array_equal(got_direct, direct)
    np.testing.assert_array_equal(got_fft, fft)

"""This machine's measured matrix-multiply peak (NumPy/BLAS), the yardstick for %peak."""

from __future__ import annotations

import contextlib
import os
import statistics
import time

import numpy as np

_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_name() -> str:
    """Name and version of the BLAS NumPy was built against, or ``"unknown"``."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.26, or a build without that section
        return "unknown"


def _blas_limits(threads: int):
    """Context limiting BLAS to `threads`, the thread count it then reports, and a note."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        env = {k: os.environ[k] for k in _THREAD_ENV if k in os.environ}
        note = (
            "threadpoolctl is not installed, so BLAS ran with its own default thread count "
            + (f"(environment: {env})" if env else "(usually all cores)")
            + f", not limited to the {threads} fastconv thread(s)"
        )
        return contextlib.nullcontext(), None, note
    ctx = threadpool_limits(limits=threads, user_api="blas")

    def used() -> list:
        return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

    return ctx, used, f"BLAS limited to {threads} thread(s) with threadpoolctl"


def measure_peak(threads: int, *, size: int = 2048, repeats: int = 5) -> dict:
    """Measure float32 and float64 ``numpy.matmul`` throughput on square matrices.

    Parameters
    ----------
    threads : int
        Thread count to hold BLAS to (through threadpoolctl when it is installed).
    size : int, optional
        Matrix side; ``2 * size**3`` flops per product.
    repeats : int, optional
        Timed products per dtype after one warm-up; the median is kept.

    Returns
    -------
    dict
        ``float32`` and ``float64`` (GFLOP/s), ``size``, ``repeats``, ``blas``,
        ``blas_threads`` (list of thread counts reported, or None if unknown),
        ``threads_controlled`` (bool) and a human-readable ``note``.
    """
    ctx, used, note = _blas_limits(threads)
    out = {"size": size, "repeats": repeats, "blas": blas_name(), "requested_threads": threads}
    rng = np.random.default_rng(1)
    with ctx:
        out["blas_threads"] = used() if used else None
        for dt in ("float32", "float64"):
            a = rng.standard_normal((size, size)).astype(dt)
            b = rng.standard_normal((size, size)).astype(dt)
            c = a @ b  # warm-up
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                np.matmul(a, b, out=c)
                ts.append(time.perf_counter() - t0)
            out[dt] = 2.0 * size**3 / statistics.median(ts) / 1e9
    out["threads_controlled"] = used is not None
    out["note"] = note
    return out

"""``python -m fastconv fit-cost``: re-measure the constants of the ``method="auto"`` model.

Times the direct kernel (ns per multiply-add, interior-bound 'valid' cases) and whole-array
FFTs (ns per ``N log2 N`` of the transform length) on one thread for each compute dtype, fits
each constant as the median over the grid, and prints the Rust ``match`` arms to paste into
``src/method.rs``. Medians of several repeats; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import math
import timeit
from typing import Dict, List, Optional

import numpy as np

_KINDS = {"f": "F32", "d": "F64", "F": "C64", "D": "C128"}


def _median_time(fn, repeat: int) -> float:
    fn()
    number = max(1, int(0.02 / max(min(timeit.repeat(fn, number=1, repeat=3)), 1e-7)))
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number)


def _data(n: int, dtype: str, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(n)
    if dtype in "FD":
        x = x + 1j * rng.standard_normal(n)
    return x.astype(dtype)


def fit(quick: bool = False) -> Dict[str, Dict[str, float]]:
    """Measured constants per dtype character: ``{'d': {'direct': ns/MAC, 'fft': ns/NlogN}}``."""
    from fastconv import _core

    rng = np.random.default_rng(0)
    repeat = 3 if quick else 7
    out: Dict[str, Dict[str, float]] = {}
    for dt in _KINDS:
        direct: List[float] = []
        for k in (16, 64) if quick else (16, 64, 256):
            n = 100_000 if dt in "fd" else 20_000
            x, w = _data(n, dt, rng), _data(k, dt, rng)
            t = _median_time(
                lambda x=x, w=w: _core.correlate(x, w, "valid", 0, False, False, 1), repeat
            )
            direct.append(t * 1e9 / ((n - k + 1) * k))
        fft: List[float] = []
        for n in (2**12, 2**15) if quick else (2**12, 2**14, 2**16, 2**18):
            x, w = _data(n, dt, rng), _data(n // 2, dt, rng)
            t = _median_time(
                lambda x=x, w=w: _core.correlate(x, w, "full", 0, True, False, 1, None, "fft"),
                repeat,
            )
            size = _core.fft_len(n + n // 2 - 1, dt in "fd")
            half = 0.5 if dt in "fd" else 1.0
            fft.append(t * 1e9 / (3 * half * size * math.log2(size)))
        x, w = _data(32, dt, rng), _data(8, dt, rng)
        fixed = _median_time(
            lambda x=x, w=w: _core.correlate(x, w, "full", 0, True, False, 1, None, "fft"),
            repeat,
        )
        out[dt] = {
            "direct": float(np.median(direct)),
            "fft": float(np.median(fft)),
            "fixed": fixed * 1e9,
        }
    return out


def fit_kernel_rows_factor(quick: bool = False) -> float:
    """The factor to multiply ``DIRECT_KERNEL_ROWS_FACTOR`` (``src/method.rs``) by so that the
    model's direct / overlap-save ratio equals the measured one on square images with
    13x13 .. 17x17 kernels ('same', one thread, float32 and float64): the median of measured
    ratio / model ratio (1 when the model is right)."""
    from fastconv import _core

    rng = np.random.default_rng(0)
    n = 1024 if quick else 2048
    corrections: List[float] = []
    for dt in "fd":
        x = rng.standard_normal((n, n)).astype(dt)
        for k in (13, 15, 17):
            w = rng.standard_normal((k, k)).astype(dt)
            times = {}
            for method in ("direct", "oa"):
                times[method] = _median_time(
                    lambda m=method, x=x, w=w: _core.correlate(
                        x, w, "same", 0, True, False, 1, None, m
                    ),
                    3,
                )
            _, model = _core.method_costs([n, n], [k, k], "same", dt, 0, 1)
            measured = times["direct"] / times["oa"]
            corrections.append(measured / (model["direct"] / model["oa"]))
    return float(np.median(corrections))


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m fastconv fit-cost``."""
    parser = argparse.ArgumentParser(prog="python -m fastconv fit-cost", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args(argv)
    from fastconv import _core

    consts = fit(args.quick)
    print(f"// Measured by `python -m fastconv fit-cost` (isa {_core.isa()}, one thread):")
    for dt, name in _KINDS.items():
        c = consts[dt]
        print(
            f"//   {name:5s} direct {c['direct']:.4f} ns/MAC   fft {c['fft']:.4f} ns/(N log2 N)"
            f"   fft call {c['fixed']:.0f} ns"
        )
    rows = fit_kernel_rows_factor(args.quick)
    print(f"//   DIRECT_KERNEL_ROWS_FACTOR: multiply the current value by {rows:.2f}")
    return 0

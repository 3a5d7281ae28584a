"""The dask bench: fastconv.dask on 1 and 2 local worker processes against the in-memory call.

``python -m fastconv.dask bench [--quick] [--json F]`` (or :func:`run_dask_bench`) measures

* throughput: a long 1-D float32 signal ('same', 63 taps) and a float32 image
  (``ndimage.correlate``, 9x9, 'reflect'), each reduced to its sum so no result crosses the
  network; the in-memory fastconv call (1 and 2 threads) against ``fastconv.dask`` on a
  ``LocalCluster`` of 1 and of 2 worker processes with one thread each (the input already
  persisted on the workers, as a larger-than-memory input would be loaded there);
* the overhead per chunk: the same 1-D problem cut into tiny chunks on one worker, its time
  per chunk less the in-memory time of the chunk's samples.

Times are the best of several runs (wall clock, ``time.perf_counter``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np

#: Sizes: (1-D length, 1-D chunk, image side, image chunk, tiny-chunk length, tiny chunk, repeats)
FULL = dict(n=1 << 25, chunk=1 << 22, side=4096, tile=1024, tiny_n=1 << 20, tiny=1 << 10, reps=5)
QUICK = dict(n=1 << 23, chunk=1 << 21, side=2048, tile=512, tiny_n=1 << 18, tiny=1 << 10, reps=3)
TAPS_1D = 63
TAPS_2D = 9


def _best(fn: Callable[[], object], reps: int) -> float:
    """Best wall time of ``reps`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _row(case, impl, workers, chunks, seconds, samples, reference=None, **extra) -> Dict:
    row = dict(
        case=case,
        impl=impl,
        workers=workers,
        chunks=chunks,
        seconds=seconds,
        msamples_per_s=samples / seconds / 1e6,
    )
    if reference is not None:
        row["speedup_vs_in_memory_1_thread"] = reference / seconds
    row.update(extra)
    return row


def run_dask_bench(quick: bool = False) -> List[Dict]:
    """Run the dask bench; one dict per (case, implementation) measured.

    Keys: ``case``, ``impl`` ('in-memory' or 'dask'), ``workers`` (threads of the in-memory
    call, or dask worker processes), ``chunks``, ``seconds``, ``msamples_per_s``,
    ``speedup_vs_in_memory_1_thread``; the overhead row adds ``seconds_per_chunk``,
    ``in_memory_seconds_per_chunk`` and ``overhead_seconds_per_chunk``.
    """
    import dask.array as da
    from distributed import Client, LocalCluster

    import fastconv.dask as fd
    from fastconv import ndimage, signal

    p = QUICK if quick else FULL
    reps = p["reps"]
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal(p["n"], dtype=np.float32)
    w1 = rng.standard_normal(TAPS_1D, dtype=np.float32)
    img = rng.standard_normal((p["side"], p["side"]), dtype=np.float32)
    w2 = rng.standard_normal((TAPS_2D, TAPS_2D), dtype=np.float32)
    rows: List[Dict] = []

    case1 = f"1-D n={p['n']:,} k={TAPS_1D} same f32"
    case2 = f"2-D {p['side']}^2 ndimage.correlate {TAPS_2D}x{TAPS_2D} f32"
    mem = {}
    for threads in (1, 2):
        t = _best(lambda n=threads: signal.convolve(x1, w1, "same", workers=n).sum(), reps)
        mem[case1, threads] = t
        rows.append(_row(case1, "in-memory", threads, 1, t, x1.size, mem[case1, 1]))
        t = _best(lambda n=threads: ndimage.correlate(img, w2, workers=n).sum(), reps)
        mem[case2, threads] = t
        rows.append(_row(case2, "in-memory", threads, 1, t, img.size, mem[case2, 1]))

    for n_workers in (1, 2):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        with cluster, Client(cluster) as client, warnings.catch_warnings():
            # The inputs enter the cluster once, in the graph of ``persist``.
            warnings.filterwarnings("ignore", message="Sending large graph")
            xd = client.persist(da.from_array(x1, chunks=p["chunk"]))
            imd = client.persist(da.from_array(img, chunks=p["tile"]))
            y1 = fd.convolve(xd, w1, "same").sum()
            t = _best(lambda y=y1: client.compute(y).result(), reps)
            rows.append(_row(case1, "dask", n_workers, xd.npartitions, t, x1.size, mem[case1, 1]))
            y2 = fd.ndimage.correlate(imd, w2).sum()
            t = _best(lambda y=y2: client.compute(y).result(), reps)
            rows.append(_row(case2, "dask", n_workers, imd.npartitions, t, img.size, mem[case2, 1]))
            if n_workers == 1:
                rows.append(_overhead_row(client, da, fd, signal, rng, p))
    return rows


def _overhead_row(client, da, fd, signal, rng, p) -> Dict:
    """Tiny chunks on one worker: seconds per chunk, less the in-memory time of its samples."""
    n, tiny, reps = p["tiny_n"], p["tiny"], p["reps"]
    x = rng.standard_normal(n, dtype=np.float32)
    w = rng.standard_normal(15, dtype=np.float32)
    in_memory = _best(lambda: signal.convolve(x, w, "same", workers=1).sum(), reps)
    xd = client.persist(da.from_array(x, chunks=tiny))
    y = fd.convolve(xd, w, "same").sum()
    t = _best(lambda: client.compute(y).result(), reps)
    chunks = xd.npartitions
    per_chunk = t / chunks
    in_memory_per_chunk = in_memory / n * tiny
    return _row(
        f"overhead: 1-D n={n:,} in chunks of {tiny} k=15",
        "dask",
        1,
        chunks,
        t,
        n,
        in_memory,
        seconds_per_chunk=per_chunk,
        in_memory_seconds_per_chunk=in_memory_per_chunk,
        overhead_seconds_per_chunk=per_chunk - in_memory_per_chunk,
    )


def format_table(rows: List[Dict]) -> str:
    """The rows as a fixed-width text table (one line per row, then the overhead line)."""
    head = f"{'case':<44} {'impl':<10} {'workers':>7} {'chunks':>7} {'ms':>9} {'Msamp/s':>9} "
    head += f"{'vs 1 thread':>11}"
    lines = [head, "-" * len(head)]
    for r in rows:
        speed = r.get("speedup_vs_in_memory_1_thread")
        lines.append(
            f"{r['case'][:44]:<44} {r['impl']:<10} {r['workers']:>7} {r['chunks']:>7} "
            f"{r['seconds'] * 1e3:>9.1f} {r['msamples_per_s']:>9.1f} "
            f"{'' if speed is None else f'{speed:.2f}x':>11}"
        )
    for r in rows:
        if "overhead_seconds_per_chunk" in r:
            lines.append(
                f"overhead per chunk: {r['seconds_per_chunk'] * 1e3:.3f} ms per chunk, of which "
                f"{r['in_memory_seconds_per_chunk'] * 1e3:.4f} ms is the in-memory work of its "
                f"samples: {r['overhead_seconds_per_chunk'] * 1e3:.3f} ms overhead per chunk"
            )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m fastconv.dask bench [--quick] [--json F]``: run and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m fastconv.dask bench",
        description="fastconv.dask on 1 and 2 local worker processes against the in-memory "
        "call (throughput), and the overhead per chunk.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--json", metavar="F", help="write the rows to F")
    args = parser.parse_args(argv)
    rows = run_dask_bench(quick=args.quick)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Entry points: ``python -m fastconv bench`` (:func:`main`) and :func:`quick_table`."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys

from . import cases, machine, memory, nn_bench, peak, peers, plot, report, runner

#: Timing settings: target seconds per implementation and case, bounds on the samples.
FULL = {"budget_s": 0.2, "min_samples": 5, "max_samples": 2000}
QUICK = {"budget_s": 0.03, "min_samples": 3, "max_samples": 200}
DEMO = {"budget_s": 0.015, "min_samples": 3, "max_samples": 100}
#: The FFT grid holds calls of several seconds (SciPy's 2-D direct sums): three samples of
#: those, in evenly spaced rounds of 25, in which fastconv's calls (1-40 ms) take about 0.4 s
#: of samples each. With three rounds, a slow spell of the shared machine (calls 1.5-3x
#: slower for a few seconds) fell on one method's bursts and moved its median by 20-60%.
FFT_FULL = {**FULL, "budget_s": 0.4, "min_samples": 3, "rounds": 25}

GRIDS = ("direct", "fft", "nn", "all", "train", "dask")


def _positive_int(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fastconv bench`` argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m fastconv bench",
        description="Time fastconv against every installed peer (numpy, scipy, torch) on a "
        "fixed grid and print a side-by-side table with speed ratios, GFLOP/s, the fraction "
        "of this machine's matmul peak and the error against a float64 reference. The FFT "
        "grid (long kernels, batches, large 2-D kernels) compares fastconv's method='auto' "
        "with its own direct/fft/overlap-add methods and with SciPy's FFT convolutions "
        "(and pyFFTW when installed), with peak memory for the large cases.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced grids and fewer repeats (well under a minute)",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="fastconv thread count (default: all usable cores)",
    )
    p.add_argument(
        "--grid",
        choices=GRIDS,
        default="all",
        help="which grid to run: 'direct' (small kernels), 'fft' (long kernels, batches, large "
        "2-D kernels; fastconv's methods against SciPy's FFT functions), 'nn' (conv layers "
        "forward and forward+backward against PyTorch and a NumPy im2col baseline, with peak "
        "memory), 'all' (these three; default), 'train' (seconds per training epoch of the "
        "named CNNs against the same model in PyTorch) or 'dask' (fastconv.dask on 1 and 2 "
        "local worker processes against the in-memory call, overhead per chunk)",
    )
    p.add_argument("--json", metavar="F", help="write all raw results and machine info to F")
    p.add_argument("--plot", metavar="F.png", help="draw the ratios per case (needs matplotlib)")
    return p


def _finite(obj):
    """Replace non-finite floats (not valid JSON) with strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _fastconv_import_error() -> str | None:
    try:
        import fastconv.signal  # noqa: F401
    except ImportError as e:
        return f"cannot import fastconv.signal ({e}); build the extension first: make build"
    return None


def main(argv: list | None = None) -> int:
    """Run the benchmark from the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``bench`` (default: ``sys.argv[1:]``, minus a leading ``bench``).

    Returns
    -------
    int
        0 on success, 1 if fastconv failed or was inaccurate on some case, 2 on a usage or
        environment error.
    """
    if argv is None:
        argv = sys.argv[1:]
        argv = argv[1:] if argv[:1] == ["bench"] else argv
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed
        return e.code if isinstance(e.code, int) else 2
    problem = (args.plot and plot.missing_matplotlib()) or _fastconv_import_error()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    threads = args.threads or machine.default_threads()
    if args.grid == "train":
        from . import train_bench

        rows = [
            train_bench.run(
                name,
                threads=threads,
                epochs=3 if args.quick else None,
                rounds=1 if args.quick else 2,
                log=runner.stderr_progress,
            )
            for name in ("mnist1d", "digits")
        ]
        runner.stderr_progress("")
        print(train_bench.format_table(rows))
        _write_json(args.json, {"train": rows})
        return 0
    if args.grid == "dask":
        from . import dask_bench

        rows = dask_bench.run_dask_bench(quick=args.quick)
        print(dask_bench.format_table(rows))
        _write_json(args.json, {"dask": rows})
        return 0
    settings = QUICK if args.quick else FULL
    info = machine.machine_info(threads)
    size, repeats = 2048, (5 if args.quick else 7)
    pk = None  # %peak is a column of the direct grid only
    if args.grid != "fft":
        runner.stderr_progress(f"measuring the matmul peak ({size}x{size})")
        pk = peak.measure_peak(threads, size=size, repeats=repeats)
    results, reported = [], threads
    nn_text, nn_results, nn_memory = None, [], []
    if args.grid in ("nn", "all"):
        nn_results = nn_bench.run(threads, quick=args.quick, progress=runner.stderr_progress)
        runner.stderr_progress("[nn] peak memory of one forward+backward")
        nn_memory = [nn_bench.measure_memory(threads, "fastconv")]
        if nn_bench.torch_available():
            nn_memory.append(nn_bench.measure_memory(threads, "torch"))
        nn_text = (
            nn_bench.format_table(nn_results, pk, threads)
            + "\n\n"
            + nn_bench.format_memory(nn_memory)
        )
    if args.grid in ("direct", "all"):
        grid = cases.quick_grid() if args.quick else cases.full_grid()
        results, reported = runner.run_cases(
            grid, threads=threads, progress=runner.stderr_progress, **settings
        )
    fft_settings = QUICK if args.quick else FFT_FULL
    if args.grid in ("fft", "all"):
        grid = cases.fft_quick_grid() if args.quick else cases.fft_grid()
        fft_results, reported = runner.run_cases(
            grid, threads=threads, progress=runner.stderr_progress, **fft_settings
        )
        measure_memory(fft_results, threads, runner.stderr_progress)
        results += fft_results
    runner.stderr_progress("")
    if results or nn_text is None:
        print(report.format_report(results, info, pk, reported))
    if nn_text is not None:
        print(("\n" if results else "") + nn_text)

    if args.json:
        doc = {
            "machine": info,
            "config": {
                "grid": "quick" if args.quick else "full",
                "grids": args.grid,
                "threads": threads,
                "fastconv_threads": reported,
                "timing": settings,
                "fft_timing": fft_settings,
                "fft_limits": {
                    "fastconv_direct_max_macs": peers.FASTCONV_DIRECT_MAX_MACS,
                    "scipy_direct_max_macs": peers.SCIPY_DIRECT_MAX_MACS,
                    "ndimage_large_image": peers.NDIMAGE_LARGE_IMAGE,
                    "ndimage_large_max_taps": peers.NDIMAGE_LARGE_MAX_TAPS,
                    "auto_bound": runner.AUTO_BOUND,
                    "memory_min_output": memory.LARGE_OUTPUT,
                },
            },
            "peak": pk,
            "results": [r.to_dict(pk) for r in results],
            "nn": [r.to_dict() for r in nn_results],
            "nn_memory": nn_memory,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(_finite(doc), f, indent=1)
        print(f"\nwrote {args.json}")
    if args.plot and results:
        title = f"fastconv ({reported} thread(s)) vs peers on {info['cpu']}"
        plot.plot_ratios(results, args.plot, title)
        print(f"wrote {args.plot}")
    nn_ok = all(r.error <= nn_bench.MAX_ERROR for r in nn_results)
    return 0 if nn_ok and all(r.fastconv_ok for r in results) else 1


def _write_json(path: str | None, doc: dict) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_finite(doc), f, indent=1)
        print(f"\nwrote {path}")


def measure_memory(results: list, threads: int, progress=None) -> None:
    """Fill ``memory`` of the large FFT-grid results (:func:`memory.is_large`): the peak
    resident-set growth of :data:`report.MEMORY_IMPLS`, each in a fresh process."""
    todo = [r for r in results if memory.is_large(r.case)]
    for i, r in enumerate(todo, 1):
        for name in report.MEMORY_IMPLS:
            if peers.available(name):
                if progress is not None:
                    progress(f"[memory {i}/{len(todo)}] {r.case.label} {r.case.dtype} {name}")
                r.memory[name] = memory.measure(r.case, name, threads)


def quick_table(threads: int | None = None) -> str:
    """A short speed table (a handful of cases, a few seconds at most) for the demo.

    Parameters
    ----------
    threads : int, optional
        fastconv thread count (default: all usable cores).

    Returns
    -------
    str
        Each case's fastconv time against its fastest installed peer, with the error.
    """
    threads = threads or machine.default_threads()
    planner = functools.partial(peers.plan_for, demo=True)
    results, reported = runner.run_cases(
        cases.demo_grid(), threads=threads, planner=planner, **DEMO
    )
    return report.format_compact(results, reported)

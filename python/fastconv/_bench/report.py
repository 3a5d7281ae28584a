"""Plain-text tables of benchmark results."""

from __future__ import annotations

from . import memory
from .peers import (
    FASTCONV_DIRECT_MAX_MACS,
    NDIMAGE_LARGE_MAX_TAPS,
    SCIPY_DIRECT_MAX_MACS,
    available,
)
from .runner import AUTO_BOUND

#: Short column names in the FFT grid.
SHORT = {
    "fastconv_auto": "auto",
    "fastconv_direct": "direct",
    "fastconv_fft": "fft",
    "fastconv_oa": "oa",
    "scipy_direct": "sp.direct",
    "scipy_fft": "sp.fft",
    "scipy_auto": "sp.auto",
    "scipy_oa": "sp.oa",
    "ndimage": "ndimage",
    "pyfftw": "sp.fft+fftw",
}
#: Implementations whose peak memory is measured on the large FFT cases.
MEMORY_IMPLS = ("fastconv_auto", "scipy_fft")


def fmt_ms(ms: float | None) -> str:
    """Milliseconds with about three significant digits (``"-"`` for None)."""
    if ms is None:
        return "-"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}" if ms >= 1e-3 else f"{ms:.1e}"


def fmt_ratio(r: float | None) -> str:
    """A speed ratio such as ``"3.41x"`` (``"-"`` for None)."""
    if r is None:
        return "-"
    return f"{r:.0f}x" if r >= 100 else f"{r:.2f}x" if r < 10 else f"{r:.1f}x"


def format_table(headers: list, rows: list, left: int = 2) -> str:
    """Align `rows` under `headers`: the first `left` columns left-aligned, the rest right.

    Parameters
    ----------
    headers : list of str
    rows : list of list of str
    left : int, optional
        Number of leading text columns.

    Returns
    -------
    str
    """
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells):
        out = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _err_cell(res, tol: float) -> str:
    if res.rel_err is None:
        return "ERR"
    return f"{res.rel_err:.1e}" + ("" if res.rel_err <= tol else "!")


def _time_cell(res) -> str:
    if res is None:
        return "-"
    if res.skipped is not None:
        return "skip"
    if res.error is not None:
        return "ERR"
    return fmt_ms(res.median_ms) + ("" if res.ok else "!")


def _mib(m) -> str:
    if m is None:
        return "-"
    if m.peak_mib is None:
        return "n/a" if m.error and m.error.startswith("not measured") else "ERR"
    return f"{m.peak_mib:.1f}"


def _fft_table(results: list) -> str:
    own, peers = [], []
    for r in results:
        own += [n for n in r.own if n not in own]
        peers += [p for p in r.peers() if p not in peers]
    with_mem = any(r.memory for r in results)
    headers = ["case", "dtype", "auto", *[SHORT.get(n, n) for n in own]]
    headers += ["own best", "auto/own", *[SHORT.get(p, p) for p in peers], "best peer"]
    if with_mem:
        headers += ["out MiB", *[f"RSS+ {SHORT[n]}" for n in MEMORY_IMPLS]]
    headers += ["rel.err"]
    rows = []
    for r in results:
        best, mine, vs = r.best_peer(), r.own_best(), r.auto_vs_own()
        row = [r.case.label, r.case.dtype, _time_cell(r.fastconv)]
        row += [_time_cell(r.impls.get(n)) for n in own]
        row += [SHORT.get(mine[0], mine[0]) if mine else "-"]
        row += ["-" if vs is None else f"{vs:.2f}" + ("!" if vs > AUTO_BOUND else "")]
        row += [_time_cell(r.impls.get(p)) for p in peers]
        row += [f"{fmt_ratio(best[1])} {SHORT.get(best[0], best[0])}" if best else "-"]
        if with_mem:
            outs = [m.out_mib for m in r.memory.values() if m.out_mib is not None]
            row += [f"{outs[0]:.1f}" if outs else "-"]
            row += [_mib(r.memory.get(n)) for n in MEMORY_IMPLS]
        row += [_err_cell(r.fastconv, r.tolerance)]
        rows.append(row)
    return format_table(headers, rows)


def fft_legend(threads: int) -> list:
    """Lines explaining the FFT-grid tables."""
    fftw = ""
    if available("pyfftw"):
        import pyfftw

        fftw = (
            "; sp.fft+fftw = fftconvolve with scipy.fft.set_backend(pyfftw.interfaces.scipy_fft)"
            f" (plan cache on, {pyfftw.config.NUM_THREADS} thread(s), FFTW_ESTIMATE)"
        )
    return [
        "FFT grid: median ms per call. fastconv (on "
        f"{threads} thread(s)): auto/direct/fft = signal.convolve(method=...), "
        "oa = signal.oaconvolve;",
        "  peers (one thread): sp.direct/sp.auto = scipy.signal.convolve(method=...), sp.fft = "
        "fftconvolve, sp.oa = oaconvolve, ndimage = scipy.ndimage.convolve(mode='constant')"
        + (fftw or "; pyfftw is not installed: no sp.fft+fftw column")
        + ".",
        "  Batched cases pass axes=-1 to fastconv and to fftconvolve/oaconvolve; sp.direct and "
        "sp.auto get the (1, k) kernel on the 2-D array (the same convolution).",
        f"  skip = not run, too slow: fastconv direct above {FASTCONV_DIRECT_MAX_MACS:.0e} "
        f"multiply-adds, sp.direct above {SCIPY_DIRECT_MAX_MACS:.0e}, ndimage with more than "
        f"{NDIMAGE_LARGE_MAX_TAPS} taps on 2048x2048.",
        "  own best = fastest of fastconv's direct/fft/oa; auto/own = auto ms / own-best ms "
        f"('!' above the acceptance bound {AUTO_BOUND}); best peer = peer ms / auto ms.",
        "  rel.err (auto) = max|out - ref| / (||x||_2 ||h||_2) per convolution, against a "
        "float64 FFT reference; '!' = above 16*(eps+eps64)*log2(N).",
        "  RSS+ (MiB) = peak resident-set growth of the first call in a fresh process (VmHWM, "
        "the process's own ru_maxrss, reset before the call),",
        "  result and FFT plans included; tracemalloc would miss fastconv's Rust buffers. "
        f"out = result size. Measured where the output has >= {memory.LARGE_OUTPUT} elements.",
    ]


def fft_summary(results: list) -> list:
    """Lines summing up ``auto / own-best`` over the FFT grid."""
    ratios = [(r.auto_vs_own(), r) for r in results if r.auto_vs_own() is not None]
    if not ratios:
        return []
    within = sum(v <= AUTO_BOUND for v, _ in ratios)
    worst, r = max(ratios, key=lambda t: t[0])
    return [
        f"auto / own-best <= {AUTO_BOUND}: {within} of {len(ratios)} cases; worst "
        f"{worst:.2f} ({r.case.section.split(': ', 1)[-1]} {r.case.label} {r.case.dtype})"
    ]


def _section_table(results: list, peak: dict | None) -> str:
    peers = []
    for r in results:
        peers += [p for p in r.peers() if p not in peers]
    headers = ["case", "dtype", "fastconv ms", *[f"{p} ms" for p in peers]]
    headers += ["best-peer ratio", "GFLOP/s", "%peak", "rel.err"]
    rows = []
    for r in results:
        best = r.best_peer()
        gf, pct = r.gflops, r.pct_peak(peak)
        rows.append(
            [r.case.label, r.case.dtype, _time_cell(r.fastconv)]
            + [_time_cell(r.impls.get(p)) for p in peers]
            + [
                f"{fmt_ratio(best[1])} {best[0]}" if best else "-",
                "-" if gf is None else f"{gf:.1f}",
                "-" if pct is None else f"{pct:.0f}%",
                _err_cell(r.fastconv, r.tolerance),
            ]
        )
    return format_table(headers, rows)


def _errors(results: list) -> list:
    seen, lines = set(), []
    for r in results:
        for name, res in r.impls.items():
            if res.error and (name, res.error) not in seen:
                seen.add((name, res.error))
                lines.append(f"  {name} ({r.case.section} {r.case.label}): {res.error}")
        for name, m in r.memory.items():
            if m.error and (name, m.error) not in seen:
                seen.add((name, m.error))
                lines.append(f"  memory of {name} ({r.case.section} {r.case.label}): {m.error}")
    return lines


def header_lines(machine: dict, peak: dict | None, fastconv_threads: int) -> list:
    """Lines describing the machine, thread counts and matmul peak."""
    isa = f" ({machine['fastconv_isa']})" if machine.get("fastconv_isa") else ""
    torch = f", torch {machine['torch']}" if machine.get("torch") else ""
    lines = [
        f"fastconv {machine.get('fastconv')}{isa} on {fastconv_threads} thread(s); "
        f"numpy {machine.get('numpy')}, scipy {machine.get('scipy') or 'not installed'}{torch}",
        f"CPU: {machine['cpu']} ({machine['cores']} logical cores, "
        f"{machine['affinity_cores']} usable by this process)",
    ]
    if peak:
        lines.append(
            f"matmul peak (numpy {peak['size']}x{peak['size']}, median of {peak['repeats']}, "
            f"{peak['blas']}): float32 {peak['float32']:.1f} GFLOP/s, "
            f"float64 {peak['float64']:.1f} GFLOP/s"
        )
        threads = peak["blas_threads"]
        lines.append(f"  {peak['note']}" + (f"; BLAS reports {threads}" if threads else ""))
    return lines


def format_report(results: list, machine: dict, peak: dict | None, threads: int) -> str:
    """The full side-by-side report: header, one table per section, legend, errors.

    Parameters
    ----------
    results : list of CaseResult
    machine : dict
        From :func:`fastconv._bench.machine.machine_info`.
    peak : dict or None
        From :func:`fastconv._bench.peak.measure_peak`.
    threads : int
        Thread count fastconv reported.

    Returns
    -------
    str
    """
    out = header_lines(machine, peak, threads)
    sections: dict = {}
    for r in results:
        sections.setdefault(r.case.section, []).append(r)
    direct = [r for r in results if r.case.kind != "fft"]
    fft = [r for r in results if r.case.kind == "fft"]
    if direct:
        torch_ok = available("torch")
        out += [
            "ratio = peer ms / fastconv ms (>1: fastconv is faster). numpy and scipy run on one "
            f"thread; fastconv{' and torch' if torch_ok else ''} on {threads}.",
            "GFLOP/s counts 2*n_out*k (8 for complex); %peak is against the matmul peak above.",
            "rel.err = max|out - ref| / sum|products| vs a float64 reference; "
            "'!' = above tolerance 4*k*eps.",
        ]
        if not torch_ok:
            out.append("torch is not installed: no torch columns.")
        for name, rs in sections.items():
            if rs[0].case.kind != "fft":
                out += ["", name, _section_table(rs, peak)]
        if any((r.pct_peak(peak) or 0) > 100 for r in direct):
            out += [
                "",
                "note: %peak above 100% means fastconv outran numpy's matmul rate, which is a "
                "measured yardstick, not the hardware's peak (or the matmul ran on a busy "
                "machine).",
            ]
    if fft:
        out += ["", "=" * 30 + " FFT grid " + "=" * 30, *fft_legend(threads)]
        for name, rs in sections.items():
            if rs[0].case.kind == "fft":
                out += ["", name, _fft_table(rs)]
        out += ["", *fft_summary(fft)]
    errs = _errors(results)
    if errs:
        out += ["", "errors:", *errs]
    return "\n".join(out)


def format_compact(results: list, threads: int) -> str:
    """A short table: each case against its fastest peer.

    Parameters
    ----------
    results : list of CaseResult
    threads : int
        Thread count fastconv reported.

    Returns
    -------
    str
    """
    rows = []
    for r in results:
        best = r.best_peer()
        rows.append(
            [
                f"{r.case.ndim}-D {r.case.mode} {r.case.label}"
                + (" (FFT, method='auto')" if r.case.kind == "fft" else ""),
                r.case.dtype,
                _time_cell(r.fastconv),
                best[0] if best else "-",
                _time_cell(r.impls[best[0]]) if best else "-",
                fmt_ratio(best[1]) if best else "-",
                _err_cell(r.fastconv, r.tolerance),
            ]
        )
    headers = ["case", "dtype", "fastconv ms", "fastest peer", "peer ms", "speedup", "rel.err"]
    title = (
        f"fastconv ({threads} thread{'s' if threads != 1 else ''}) vs the fastest installed peer "
        "(median times; speedup = peer ms / fastconv ms)"
    )
    return title + "\n" + format_table(headers, rows)

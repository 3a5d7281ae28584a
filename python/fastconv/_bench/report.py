"""Plain-text tables of benchmark results."""

from __future__ import annotations

from .peers import available


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
    if res.error is not None:
        return "ERR"
    return fmt_ms(res.median_ms) + ("" if res.ok else "!")


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
    sections: dict = {}
    for r in results:
        sections.setdefault(r.case.section, []).append(r)
    for name, rs in sections.items():
        out += ["", name, _section_table(rs, peak)]
    if any((r.pct_peak(peak) or 0) > 100 for r in results):
        out += [
            "",
            "note: %peak above 100% means fastconv outran numpy's matmul rate, which is a "
            "measured yardstick, not the hardware's peak (or the matmul ran on a busy machine).",
        ]
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
                f"{r.case.ndim}-D {r.case.mode} {r.case.label}",
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

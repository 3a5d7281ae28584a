"""Run a grid of cases: check every implementation against the reference, then time them."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Callable

from . import cases as _cases
from .cases import Case
from .peers import FASTCONV, IMPLS, available, peers_for
from .timing import measure


@dataclasses.dataclass
class ImplResult:
    """Outcome of one implementation on one case (times in milliseconds, per call)."""

    name: str
    median_ms: float | None = None
    min_ms: float | None = None
    samples: int = 0
    number: int = 0
    rel_err: float | None = None
    ok: bool = False
    error: str | None = None
    times_ms: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class CaseResult:
    """All implementations on one case."""

    case: Case
    tolerance: float
    impls: dict

    @property
    def fastconv(self) -> ImplResult:
        """The fastconv result."""
        return self.impls[FASTCONV]

    def peers(self) -> list:
        """Names of the peers that ran on this case."""
        return [n for n in self.impls if n != FASTCONV]

    def ratio(self, peer: str) -> float | None:
        """``peer ms / fastconv ms`` (>1: fastconv is faster), or None if either failed."""
        p, f = self.impls.get(peer), self.fastconv
        if p is None or p.median_ms is None or f.median_ms is None or not p.ok:
            return None
        return p.median_ms / f.median_ms

    def best_peer(self) -> tuple | None:
        """``(name, ratio)`` of the fastest correct peer, or None."""
        done = [(self.impls[n].median_ms, n) for n in self.peers() if self.ratio(n) is not None]
        if not done:
            return None
        _, name = min(done)
        return name, self.ratio(name)

    @property
    def gflops(self) -> float | None:
        """fastconv's nominal GFLOP/s (see :attr:`Case.flops`)."""
        ms = self.fastconv.median_ms
        return None if ms is None else self.case.flops / (ms * 1e-3) / 1e9

    def pct_peak(self, peak: dict | None) -> float | None:
        """fastconv GFLOP/s as a percentage of the matmul peak for its dtype."""
        if not peak or self.gflops is None:
            return None
        return 100.0 * self.gflops / peak[_cases.peak_key(self.case.dtype)]

    def to_dict(self, peak: dict | None = None) -> dict:
        """Plain-data form for JSON output."""
        best = self.best_peer()
        return {
            "case": dataclasses.asdict(self.case),
            "label": self.case.label,
            "section": self.case.section,
            "flops": self.case.flops,
            "tolerance": self.tolerance,
            "impls": {n: dataclasses.asdict(r) for n, r in self.impls.items()},
            "ratios": {n: self.ratio(n) for n in self.peers()},
            "best_peer": best[0] if best else None,
            "best_ratio": best[1] if best else None,
            "gflops": self.gflops,
            "pct_peak": self.pct_peak(peak),
        }


@contextlib.contextmanager
def thread_settings(threads: int, use_torch: bool):
    """Set fastconv's (and torch's, if used) thread count for the duration of the block.

    Yields
    ------
    int
        The thread count fastconv reports inside the block.
    """
    import fastconv

    torch_before = None
    if use_torch:
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        with fastconv.threads(threads):
            yield fastconv.get_num_threads()
    finally:
        if torch_before is not None:
            torch.set_num_threads(torch_before)


def _check(name: str, case: Case, x, h, ref, scale, tol: float):
    """Bind, warm up and check one implementation: ``(ImplResult, fn or None)``."""
    res = ImplResult(name)
    try:
        fn = IMPLS[name].bind(case, x, h)
        res.rel_err = _cases.rel_err(fn(), ref, scale)
    except Exception as e:  # report, keep benchmarking the rest
        res.error = f"{type(e).__name__}: {e}"
        return res, None
    res.ok = res.rel_err <= tol
    return res, fn


def run_case(case: Case, names: list, *, ref_cache: dict | None = None, **timing) -> CaseResult:
    """Check and time implementations `names` on `case`.

    Parameters
    ----------
    case : Case
    names : list of str
        Keys of :data:`IMPLS`; unavailable ones must already be filtered out.
    ref_cache : dict, optional
        Reuses full references across cases that differ only in mode.
    **timing
        Passed to :func:`fastconv._bench.timing.measure`.

    Returns
    -------
    CaseResult
    """
    x, h = _cases.make_inputs(case)
    key = (case.shape, case.kshape, case.dtype)
    cache = ref_cache if ref_cache is not None else {}
    if key not in cache:
        cache.clear()  # keep at most one (possibly large) reference alive
        cache[key] = _cases.reference_full(x, h)
    ref, scale = (_cases.crop(a, case.kshape, case.mode) for a in cache[key])
    tol = _cases.tolerance(case.dtype, case.kshape)
    impls, fns = {}, {}
    for name in names:
        impls[name], fn = _check(name, case, x, h, ref, scale, tol)
        if fn is not None:
            fns[name] = fn
    for name, t in measure(fns, **timing).items():
        r = impls[name]
        r.median_ms, r.min_ms = t.median_s * 1e3, t.min_s * 1e3
        r.samples, r.number = t.samples, t.number
        r.times_ms = [round(v * 1e3, 6) for v in t.times_s]
    return CaseResult(case, tol, impls)


def run_cases(
    grid: list,
    *,
    threads: int,
    progress: Callable[[str], None] | None = None,
    **timing,
) -> tuple:
    """Run fastconv and every installed peer over `grid`.

    Parameters
    ----------
    grid : list of Case
    threads : int
        fastconv (and torch) thread count.
    progress : callable, optional
        Called with a one-line status before each case.
    **timing
        Passed to :func:`fastconv._bench.timing.measure` (``budget_s``, ``min_samples``...).

    Returns
    -------
    results : list of CaseResult
    fastconv_threads : int
        The thread count fastconv reported while running.
    """
    plan = [(c, [FASTCONV] + [p for p in peers_for(c) if available(p)]) for c in grid]
    use_torch = any("torch" in names for _, names in plan)
    results, cache = [], {}
    with thread_settings(threads, use_torch) as reported:
        for i, (case, names) in enumerate(plan, 1):
            if progress is not None:
                progress(f"[{i}/{len(plan)}] {case.section} {case.label} {case.dtype}")
            results.append(run_case(case, names, ref_cache=cache, **timing))
    return results, reported


def stderr_progress(line: str) -> None:
    """Progress callback: one self-overwriting stderr line on a terminal; ``""`` clears it."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + line)
        sys.stderr.flush()

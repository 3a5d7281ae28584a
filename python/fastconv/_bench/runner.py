"""Run a grid of cases: check every implementation against the reference, then time them."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Callable

from . import cases as _cases
from .cases import Case
from .peers import FASTCONV, IMPLS, Plan, plan_for
from .timing import measure

#: The acceptance bound on ``auto / own-best`` in the FFT grid.
AUTO_BOUND = 1.2


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
    skipped: str | None = None


@dataclasses.dataclass
class CaseResult:
    """All implementations on one case.

    Attributes
    ----------
    case : Case
    tolerance : float
        Accepted ``rel_err``.
    impls : dict of str to ImplResult
        Every implementation, skipped ones included (``skipped`` set, no time).
    primary : str
        The fastconv column (``"fastconv"``; ``"fastconv_auto"`` in the FFT grid).
    own : tuple of str
        fastconv's other methods (FFT grid), compared with `primary` but not peers.
    memory : dict of str to dict
        Peak-memory measurements per implementation (see :mod:`fastconv._bench.memory`).
    """

    case: Case
    tolerance: float
    impls: dict
    primary: str = FASTCONV
    own: tuple = ()
    memory: dict = dataclasses.field(default_factory=dict)

    @property
    def fastconv(self) -> ImplResult:
        """The fastconv result."""
        return self.impls[self.primary]

    @property
    def fastconv_ok(self) -> bool:
        """Whether fastconv's primary column and every own method that ran are correct."""
        names = (self.primary, *self.own)
        return all(self.impls[n].ok for n in names if self.impls[n].skipped is None)

    def peers(self) -> list:
        """Names of the peers on this case (skipped ones included)."""
        return [n for n in self.impls if n != self.primary and n not in self.own]

    def own_best(self) -> tuple | None:
        """``(name, ms)`` of fastconv's fastest correct own method, or None."""
        done = [(self.impls[n].median_ms, n) for n in self.own if self._timed(n)]
        if not done:
            return None
        ms, name = min(done)
        return name, ms

    def auto_vs_own(self) -> float | None:
        """``primary ms / own-best ms`` (<= 1: auto picked the best own method), or None."""
        best, f = self.own_best(), self.fastconv
        if best is None or f.median_ms is None or not f.ok:
            return None
        return f.median_ms / best[1]

    def _timed(self, name: str) -> bool:
        r = self.impls.get(name)
        return r is not None and r.ok and r.median_ms is not None

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
        out = {
            "case": dataclasses.asdict(self.case),
            "label": self.case.label,
            "section": self.case.section,
            "flops": self.case.flops,
            "tolerance": self.tolerance,
            "primary": self.primary,
            "impls": {n: dataclasses.asdict(r) for n, r in self.impls.items()},
            "ratios": {n: self.ratio(n) for n in self.peers()},
            "best_peer": best[0] if best else None,
            "best_ratio": best[1] if best else None,
            "gflops": self.gflops,
            "pct_peak": self.pct_peak(peak),
        }
        if self.case.kind == "fft":
            own = self.own_best()
            out.update(
                direct_macs=self.case.macs,
                own_methods=list(self.own),
                own_best=own[0] if own else None,
                auto_over_own_best=self.auto_vs_own(),
                memory={n: dataclasses.asdict(m) for n, m in self.memory.items()},
            )
        return out


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


def expected(case: Case, x, h, ref_cache: dict | None = None) -> tuple:
    """Reference, error scale and tolerance for `case`: ``(ref, scale, tol)``.

    Direct-grid cases: exact float64 direct sum, elementwise scale, ``4*k*eps``
    (:func:`~fastconv._bench.cases.tolerance`). FFT-grid cases: float64 FFT, normwise scale,
    the FFT bound (:func:`~fastconv._bench.cases.fft_tolerance`).

    Parameters
    ----------
    case : Case
    x, h : numpy.ndarray
        From :func:`~fastconv._bench.cases.make_inputs`.
    ref_cache : dict, optional
        Reuses full direct references across cases that differ only in mode.
    """
    if case.kind == "fft":
        ref, scale = _cases.fft_reference(x, h, case)
        return ref, scale, _cases.fft_tolerance(case)
    key = (case.shape, case.kshape, case.dtype)
    cache = ref_cache if ref_cache is not None else {}
    if key not in cache:
        cache.clear()  # keep at most one (possibly large) reference alive
        cache[key] = _cases.reference_full(x, h)
    ref, scale = (_cases.crop(a, case.kshape, case.mode) for a in cache[key])
    return ref, scale, _cases.tolerance(case.dtype, case.kshape)


def run_case(
    case: Case, names, *, ref_cache: dict | None = None, plan: Plan | None = None, **timing
) -> CaseResult:
    """Check and time implementations `names` on `case`.

    Parameters
    ----------
    case : Case
    names : list of str
        Keys of :data:`IMPLS`; unavailable ones must already be filtered out. Ignored when
        `plan` is given.
    ref_cache : dict, optional
        Reuses full references across cases that differ only in mode.
    plan : Plan, optional
        What runs (its names), which column is fastconv's, its own methods and the skipped
        implementations (recorded with their reason, not run). Default: `names`, the first
        being ``"fastconv"``.
    **timing
        Passed to :func:`fastconv._bench.timing.measure`.

    Returns
    -------
    CaseResult
    """
    if plan is None:
        plan = Plan(names[0], (), tuple(names[1:]))
    x, h = _cases.make_inputs(case)
    ref, scale, tol = expected(case, x, h, ref_cache)
    impls, fns = {}, {}
    for name in (plan.primary, *plan.own, *plan.peers):
        if name in plan.skipped:
            impls[name] = ImplResult(name, skipped=plan.skipped[name])
            continue
        impls[name], fn = _check(name, case, x, h, ref, scale, tol)
        if fn is not None:
            fns[name] = fn
    del ref, scale
    for name, t in measure(fns, **timing).items():
        r = impls[name]
        r.median_ms, r.min_ms = t.median_s * 1e3, t.min_s * 1e3
        r.samples, r.number = t.samples, t.number
        r.times_ms = [round(v * 1e3, 6) for v in t.times_s]
    return CaseResult(case, tol, impls, plan.primary, plan.own)


def run_cases(
    grid: list,
    *,
    threads: int,
    progress: Callable[[str], None] | None = None,
    planner: Callable[[Case], Plan] = plan_for,
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
    planner : callable, optional
        ``planner(case) -> Plan``: what runs on each case (default
        :func:`fastconv._bench.peers.plan_for`).
    **timing
        Passed to :func:`fastconv._bench.timing.measure` (``budget_s``, ``min_samples``...).

    Returns
    -------
    results : list of CaseResult
    fastconv_threads : int
        The thread count fastconv reported while running.
    """
    plans = [(c, planner(c)) for c in grid]
    use_torch = any("torch" in p.names for _, p in plans)
    results, cache = [], {}
    with thread_settings(threads, use_torch) as reported:
        for i, (case, plan) in enumerate(plans, 1):
            if progress is not None:
                progress(f"[{i}/{len(plans)}] {case.section} {case.label} {case.dtype}")
            results.append(run_case(case, None, ref_cache=cache, plan=plan, **timing))
    return results, reported


def stderr_progress(line: str) -> None:
    """Progress callback: one self-overwriting stderr line on a terminal; ``""`` clears it."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + line)
        sys.stderr.flush()

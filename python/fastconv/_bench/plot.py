"""Bar chart of speed ratios per case (matplotlib is optional and imported lazily)."""

from __future__ import annotations

import importlib.util
import math

MISSING = (
    "--plot needs matplotlib, which is not installed: pip install matplotlib (or fastconv[plot])"
)


def missing_matplotlib() -> str | None:
    """An error message if matplotlib cannot be imported, else None."""
    return None if importlib.util.find_spec("matplotlib") is not None else MISSING


def _minor_label(v: float, _pos) -> str:
    """Label only the 2s and 5s between the powers of ten."""
    lead = round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0
    return f"{v:g}x" if lead in (2, 5) else ""


def plot_ratios(results: list, path: str, title: str = "") -> None:
    """Draw one group of bars per case, one bar per peer: ``peer ms / fastconv ms``.

    fastconv is each case's primary column: ``method="auto"`` in the FFT grid.

    Parameters
    ----------
    results : list of CaseResult
    path : str
        Output image file (format from its extension, e.g. ``.png``).
    title : str, optional
        Figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    peers = []
    for r in results:
        peers += [p for p in r.peers() if p not in peers]
    labels = [
        f"{'FFT ' * (r.case.kind == 'fft')}{r.case.ndim}-D {r.case.mode} {r.case.label} "
        f"{r.case.dtype}"
        for r in results
    ]
    width = 0.8 / max(len(peers), 1)
    fig = Figure(figsize=(max(8.0, 0.38 * len(results) + 2), 7.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for j, peer in enumerate(peers):
        xs, ys = [], []
        for i, r in enumerate(results):
            ratio = r.ratio(peer)
            if ratio is not None:
                xs.append(i - 0.4 + (j + 0.5) * width)
                ys.append(ratio)
        ax.bar(xs, ys, width=width, label=peer)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_ylabel("peer time / fastconv time  (>1: fastconv faster)")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_xlim(-0.6, len(results) - 0.4)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)

"""Benchmark harness behind ``python -m fastconv bench``.

fastconv against every installed peer (numpy, scipy.signal, scipy.ndimage, torch) on a
fixed grid, with speed ratios, GFLOP/s, the fraction of this machine's matmul peak and the
error against a float64 reference side by side.

Modules: ``cases`` (grid, inputs, references, tolerances), ``peers`` (implementations),
``timing`` (median of interleaved repeats), ``peak`` (matmul peak), ``machine`` (machine
info), ``runner`` (check and time a grid), ``report`` (tables), ``plot`` (chart), ``cli``.
"""

from .cli import main, quick_table

__all__ = ["main", "quick_table"]

"""Benchmark harness behind ``python -m fastconv bench``.

fastconv against every installed peer (numpy, scipy.signal, scipy.ndimage, torch) on a
fixed grid, with speed ratios, GFLOP/s, the fraction of this machine's matmul peak and the
error against a float64 reference side by side.

Two grids: the direct grid (small kernels; fastconv's direct convolution against numpy,
scipy.signal, scipy.ndimage, torch) and the FFT grid (long 1-D kernels, a batch of 1-D signals,
large 2-D kernels; fastconv's ``method="auto"`` against its own direct/fft/overlap-add methods
and SciPy's direct, FFT, auto and overlap-add convolutions, scipy.ndimage and pyFFTW, with the
peak memory of the large cases).

Modules: ``cases`` (grids, inputs, references, tolerances), ``peers`` (implementations, what
runs on each case), ``timing`` (median of interleaved repeats), ``peak`` (matmul peak),
``machine`` (machine info), ``memory`` (peak resident-set growth in a subprocess), ``runner``
(check and time a grid), ``report`` (tables), ``plot`` (chart), ``cli``.
"""

from .cli import main, quick_table

__all__ = ["main", "quick_table"]

"""fastconv on dask arrays: convolve signals larger than memory, across a cluster.

Install with the ``dask`` extra (``pip install fastconv[dask]``). The functions take a
``dask.array.Array`` signal and an in-memory (NumPy) kernel and return a lazy dask array with
the values, shape and dtype the in-memory fastconv function returns:

* :func:`convolve`, :func:`correlate`, :func:`fftconvolve`, :func:`oaconvolve` (as
  :mod:`fastconv.signal`: modes 'full'/'same'/'valid', ``axes=``, ``method=``);
* :mod:`fastconv.dask.ndimage` (``convolve``, ``correlate``, ``convolve1d``,
  ``correlate1d``, every ``scipy.ndimage`` boundary mode, ``cval``, ``origin``), also as
  :func:`ndimage_convolve` and :func:`ndimage_correlate`;
* :func:`conv1d`, :func:`conv2d` (as :mod:`fastconv.nn.functional`): inference over a batch
  axis split across workers.

Chunks overlap by exactly the halo the kernel needs (chunks shorter than the kernel are
merged first), each chunk is one call of the in-memory function (the Rust core) with
``workers=1`` by default so dask's own parallelism is not oversubscribed, and the kernel is
one key of the graph that every chunk task depends on. Works with any dask scheduler,
``dask.distributed`` included. ``python -m fastconv.dask bench [--quick]`` measures the
throughput on 1 and 2 local worker processes against the in-memory call, and the overhead
per chunk.
"""

from fastconv.dask import ndimage
from fastconv.dask._nn import conv1d, conv2d
from fastconv.dask._signal import convolve, correlate, fftconvolve, oaconvolve

ndimage_convolve = ndimage.convolve
ndimage_correlate = ndimage.correlate

__all__ = [
    "conv1d",
    "conv2d",
    "convolve",
    "correlate",
    "fftconvolve",
    "ndimage",
    "ndimage_convolve",
    "ndimage_correlate",
    "oaconvolve",
]

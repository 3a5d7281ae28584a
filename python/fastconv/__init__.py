"""fastconv: the fastest way to convolve on a CPU from Python.

Drop-in namespaces mirror the peers, so switching is one import:

* :mod:`fastconv.numpy` — ``numpy.convolve``, ``numpy.correlate``
* :mod:`fastconv.signal` — ``scipy.signal.convolve``, ``correlate``, ``convolve2d``, ...
* :mod:`fastconv.linalg` — ``scipy.linalg.convolution_matrix``
* :mod:`fastconv.ndimage` — ``scipy.ndimage.convolve``, ``correlate``, ``convolve1d``, ...
* :mod:`fastconv.reference` — pure-Python definitions, the oracle of the tests

Threads: :func:`set_num_threads`, :func:`get_num_threads`, the :func:`threads` context
manager, and ``workers=`` on every function.
"""

from fastconv import _core, linalg, ndimage, nn, numpy, signal
from fastconv._threads import get_num_threads, set_num_threads, threads

__version__ = _core.__version__

__all__ = [
    "__version__",
    "get_num_threads",
    "linalg",
    "ndimage",
    "nn",
    "numpy",
    "set_num_threads",
    "signal",
    "threads",
]

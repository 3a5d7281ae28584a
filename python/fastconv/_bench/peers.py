"""Implementations under test: fastconv's entry points and the peers it is compared with.

Each implementation *binds* a case and its inputs into a zero-argument callable returning the
result as a NumPy array; input preparation (kernel flips, tensor wrapping) happens at bind
time, outside the timed region. Every module is imported lazily, inside the bind functions.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from typing import Callable

import numpy as np

from .cases import Case


@dataclasses.dataclass(frozen=True)
class Impl:
    """One implementation.

    Attributes
    ----------
    name : str
        Key in `IMPLS` and column / pytest-parameter name.
    module : str
        Module that must be importable for it to run.
    optional : bool
        Whether a missing `module` is expected (skip) rather than an error.
    supports : callable
        ``supports(case) -> bool``.
    bind : callable
        ``bind(case, x, h) -> fn`` with ``fn() -> numpy.ndarray``.
    """

    name: str
    module: str
    optional: bool
    supports: Callable[[Case], bool]
    bind: Callable[[Case, np.ndarray, np.ndarray], Callable[[], np.ndarray]]


def _odd(case: Case) -> bool:
    return all(k % 2 == 1 for k in case.kshape)


# ----------------------------------------------------------------------------- fastconv


def _fastconv_primary(case, x, h, workers=None):
    import fastconv.signal as fs

    mode = case.mode
    if case.ndim == 2:
        return lambda: fs.convolve2d(x, h, mode=mode, workers=workers)
    return lambda: fs.convolve(x, h, mode=mode, method="direct", workers=workers)


def _fastconv_1t(case, x, h):
    return _fastconv_primary(case, x, h, workers=1)


def _fastconv_numpy(case, x, h):
    import fastconv.numpy as fnp

    return lambda: fnp.convolve(x, h, mode=case.mode)


def _fastconv_nd(case, x, h):
    import fastconv.signal as fs

    return lambda: fs.convolve(x, h, mode=case.mode, method="direct")


def _fastconv_correlate(case, x, h):
    import fastconv.signal as fs

    # correlate(x, conj(flip(h))) == convolve(x, h), "same" centring included.
    hf = np.ascontiguousarray(np.conj(np.flip(h)))
    return lambda: fs.correlate(x, hf, mode=case.mode, method="direct")


# ----------------------------------------------------------------------------- peers


def _numpy(case, x, h):
    return lambda: np.convolve(x, h, mode=case.mode)


def _scipy_direct(case, x, h):
    from scipy import signal

    return lambda: signal.convolve(x, h, mode=case.mode, method="direct")


def _scipy_convolve2d(case, x, h):
    from scipy import signal

    return lambda: signal.convolve2d(x, h, mode=case.mode, boundary="fill", fillvalue=0)


def _ndimage(case, x, h):
    from scipy import ndimage

    # Zero padding, kernel centred: equals mode="same" for odd kernel sizes.
    return lambda: ndimage.convolve(x, h, mode="constant", cval=0.0)


def _torch(case, x, h):
    import torch
    import torch.nn.functional as F

    conv = F.conv1d if case.ndim == 1 else F.conv2d
    xt = torch.from_numpy(x).reshape(1, 1, *x.shape)
    # torch's conv is a cross-correlation: flip the kernel to convolve.
    wt = torch.from_numpy(np.ascontiguousarray(np.flip(h))).reshape(1, 1, *h.shape)
    pads = {"full": [k - 1 for k in h.shape], "same": [(k - 1) // 2 for k in h.shape]}
    pad = tuple(pads.get(case.mode, [0] * h.ndim))

    def run():
        with torch.no_grad():
            return conv(xt, wt, padding=pad)[0, 0].numpy()

    return run


def _real(case: Case) -> bool:
    return not case.is_complex


IMPLS = {
    i.name: i
    for i in (
        # The fastconv column: signal.convolve(method="direct") in 1-D, convolve2d in 2-D.
        Impl("fastconv", "fastconv", False, lambda c: c.ndim in (1, 2), _fastconv_primary),
        Impl("fastconv_1t", "fastconv", False, lambda c: c.ndim in (1, 2), _fastconv_1t),
        Impl("fastconv_numpy", "fastconv", False, lambda c: c.ndim == 1, _fastconv_numpy),
        Impl("fastconv_nd", "fastconv", False, lambda c: c.ndim >= 2, _fastconv_nd),
        Impl("fastconv_correlate", "fastconv", False, lambda c: True, _fastconv_correlate),
        Impl("numpy", "numpy", False, lambda c: c.ndim == 1, _numpy),
        Impl("scipy_direct", "scipy", False, lambda c: True, _scipy_direct),
        Impl("scipy_convolve2d", "scipy", False, lambda c: c.ndim == 2, _scipy_convolve2d),
        Impl("ndimage", "scipy", False, lambda c: c.mode == "same" and _odd(c), _ndimage),
        Impl(
            "torch",
            "torch",
            True,
            lambda c: c.ndim in (1, 2) and _real(c) and (c.mode != "same" or _odd(c)),
            _torch,
        ),
    )
}

FASTCONV = "fastconv"


def peers_for(case: Case) -> list:
    """Peers shown next to fastconv in the ``bench`` table for `case` (installed or not).

    Parameters
    ----------
    case : Case

    Returns
    -------
    list of str
        1-D: numpy, scipy_direct, torch; 2-D "same": ndimage, torch; other 2-D:
        scipy_convolve2d, scipy_direct, torch. Filtered by what supports the case.
    """
    if case.ndim == 1:
        names = ["numpy", "scipy_direct", "torch"]
    elif case.mode == "same":
        names = ["ndimage", "torch"]
    else:
        names = ["scipy_convolve2d", "scipy_direct", "torch"]
    return [n for n in names if IMPLS[n].supports(case)]


def variants_for(case: Case) -> list:
    """Every fastconv entry point that applies to `case`, the primary one first.

    Parameters
    ----------
    case : Case

    Returns
    -------
    list of str
    """
    names = ["fastconv", "fastconv_1t", "fastconv_numpy", "fastconv_nd", "fastconv_correlate"]
    return [n for n in names if IMPLS[n].supports(case)]


_AVAILABLE: dict = {}


def available(name: str) -> bool:
    """Whether implementation `name` can run here (its module imports).

    Parameters
    ----------
    name : str
        Key of `IMPLS`.

    Returns
    -------
    bool
    """
    module = IMPLS[name].module
    if module not in _AVAILABLE:
        if module == "fastconv":
            try:
                importlib.import_module("fastconv.signal")
                ok = True
            except ImportError:
                ok = False
        else:
            ok = importlib.util.find_spec(module) is not None
        _AVAILABLE[module] = ok
    return _AVAILABLE[module]

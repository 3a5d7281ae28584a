"""Implementations under test: fastconv's entry points and the peers it is compared with.

:func:`plan_for` says what runs on a case: in the direct grid fastconv's direct convolution
and its peers; in the FFT grid fastconv's ``method="auto"``, its own direct/fft/overlap-add
methods and SciPy's (and pyFFTW's) convolutions, the too slow ones skipped.

Each implementation *binds* a case and its inputs into a zero-argument callable returning the
result as a NumPy array; input preparation (kernel flips, tensor wrapping) happens at bind
time, outside the timed region. Every module is imported lazily, inside the bind functions.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
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


# ----------------------------------------------------------------------------- FFT grid


def _axes_kw(case: Case) -> dict:
    return {} if case.axes is None else {"axes": case.axes}


def _fastconv_method(method: str):
    def bind(case, x, h):
        import fastconv.signal as fs

        mode, kw = case.mode, _axes_kw(case)
        return lambda: fs.convolve(x, h, mode=mode, method=method, **kw)

    return bind


def _fastconv_oa(case, x, h):
    import fastconv.signal as fs

    return lambda: fs.oaconvolve(x, h, mode=case.mode, **_axes_kw(case))


def _scipy_fft(case, x, h):
    from scipy import signal

    # Same as signal.convolve(method="fft"), which has no axes= (and needs none here: the
    # kernel's length-1 axes broadcast).
    return lambda: signal.fftconvolve(x, h, mode=case.mode, **_axes_kw(case))


def _scipy_auto(case, x, h):
    from scipy import signal

    return lambda: signal.convolve(x, h, mode=case.mode, method="auto")


def _scipy_oa(case, x, h):
    from scipy import signal

    return lambda: signal.oaconvolve(x, h, mode=case.mode, **_axes_kw(case))


def _pyfftw(case, x, h):
    import pyfftw
    import pyfftw.interfaces.scipy_fft as backend
    from scipy import fft, signal

    pyfftw.interfaces.cache.enable()  # keep FFTW plans between calls
    mode, kw = case.mode, _axes_kw(case)

    def run():
        with fft.set_backend(backend):
            return signal.fftconvolve(x, h, mode=mode, **kw)

    return run


def _is_fft(case: Case) -> bool:
    return case.kind == "fft"


def _fft_ndimage(case: Case) -> bool:
    return _is_fft(case) and not case.batched and case.ndim == 2 and case.mode == "same"


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
        # The FFT grid: fastconv's methods, and SciPy's FFT functions (pyFFTW optional).
        Impl("fastconv_auto", "fastconv", False, lambda c: True, _fastconv_method("auto")),
        Impl("fastconv_direct", "fastconv", False, lambda c: True, _fastconv_method("direct")),
        Impl("fastconv_fft", "fastconv", False, lambda c: True, _fastconv_method("fft")),
        Impl("fastconv_oa", "fastconv", False, lambda c: True, _fastconv_oa),
        Impl("scipy_fft", "scipy", False, lambda c: True, _scipy_fft),
        Impl("scipy_auto", "scipy", False, lambda c: True, _scipy_auto),
        Impl("scipy_oa", "scipy", False, lambda c: True, _scipy_oa),
        Impl("pyfftw", "pyfftw", True, lambda c: True, _pyfftw),
    )
}

FASTCONV = "fastconv"
FASTCONV_AUTO = "fastconv_auto"

#: fastconv's own methods in the FFT grid, compared with ``method="auto"``.
OWN_METHODS = ("fastconv_direct", "fastconv_fft", "fastconv_oa")
#: Peers in the FFT grid, in table order.
FFT_PEERS = ("scipy_direct", "scipy_fft", "scipy_auto", "scipy_oa", "ndimage", "pyfftw")
#: Direct methods run only up to this many multiply-adds (:attr:`Case.macs`) in the FFT grid.
FASTCONV_DIRECT_MAX_MACS = 5e9
SCIPY_DIRECT_MAX_MACS = 2e9
#: scipy.ndimage.convolve runs on images this large only with kernels up to this many taps.
NDIMAGE_LARGE_IMAGE, NDIMAGE_LARGE_MAX_TAPS = 2048 * 2048, 15 * 15


@dataclasses.dataclass(frozen=True)
class Plan:
    """What runs on one case.

    Attributes
    ----------
    primary : str
        The fastconv column every ratio is taken against.
    own : tuple of str
        fastconv's other methods, compared with `primary` (FFT grid only), skipped ones
        included.
    peers : tuple of str
        Peers (installed ones only), skipped ones included.
    skipped : dict of str to str
        Implementations of `own` and `peers` that are not run, with the reason (too slow).
    """

    primary: str
    own: tuple = ()
    peers: tuple = ()
    skipped: dict = dataclasses.field(default_factory=dict)

    @property
    def names(self) -> list:
        """Everything that runs (not skipped), primary first."""
        return [n for n in (self.primary, *self.own, *self.peers) if n not in self.skipped]


def skip_reason(name: str, case: Case) -> str | None:
    """Why `name` is not run on FFT-grid `case` (too slow), or None.

    Parameters
    ----------
    name : str
    case : Case

    Returns
    -------
    str or None
    """
    limit = {"fastconv_direct": FASTCONV_DIRECT_MAX_MACS, "scipy_direct": SCIPY_DIRECT_MAX_MACS}
    if name in limit and case.macs > limit[name]:
        return f"too slow: {case.macs:.1e} multiply-adds > {limit[name]:.0e}"
    if (
        name == "ndimage"
        and math.prod(case.shape) >= NDIMAGE_LARGE_IMAGE
        and math.prod(case.kshape) > NDIMAGE_LARGE_MAX_TAPS
    ):
        return "too slow: kernel above 15x15 on a 2048x2048 image"
    return None


def fft_peers_for(case: Case) -> list:
    """Peers of an FFT-grid case (installed or not): SciPy's direct, FFT, auto and
    overlap-add convolutions, ``scipy.ndimage.convolve`` (2-D images) and pyFFTW."""
    names = list(FFT_PEERS)
    if not _fft_ndimage(case):
        names.remove("ndimage")
    return [n for n in names if IMPLS[n].supports(case)]


def plan_for(case: Case, demo: bool = False) -> Plan:
    """What runs on `case`: installed implementations only, too-slow ones in ``skipped``.

    Parameters
    ----------
    case : Case
    demo : bool, optional
        For the demo's short table: FFT cases get no own methods and only SciPy's FFT
        peers (``scipy_fft``, ``scipy_oa``).

    Returns
    -------
    Plan
    """
    if case.kind != "fft":
        return Plan(FASTCONV, peers=tuple(p for p in peers_for(case) if available(p)))
    if demo:
        peers = tuple(p for p in ("scipy_fft", "scipy_oa") if available(p))
        return Plan(FASTCONV_AUTO, peers=peers)
    names = [n for n in [*OWN_METHODS, *fft_peers_for(case)] if available(n)]
    skipped = {n: why for n in names if (why := skip_reason(n, case))}
    own = tuple(n for n in names if n in OWN_METHODS)
    peers = tuple(n for n in names if n not in OWN_METHODS)
    return Plan(FASTCONV_AUTO, own, peers, skipped)


def peers_for(case: Case) -> list:
    """Peers shown next to fastconv in the ``bench`` table for `case` (installed or not).

    Parameters
    ----------
    case : Case

    Returns
    -------
    list of str
        1-D: numpy, scipy_direct, torch; 2-D "same": ndimage, torch; other 2-D:
        scipy_convolve2d, scipy_direct, torch. Filtered by what supports the case. FFT-grid
        cases: :func:`fft_peers_for`.
    """
    if case.kind == "fft":
        return fft_peers_for(case)
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
    if case.kind == "fft":
        return [FASTCONV_AUTO, *OWN_METHODS]
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

"""Benchmark cases: the grids, deterministic inputs, float64 references, flops, tolerances.

Two kinds of case: ``"direct"`` (the direct grid: small kernels, checked elementwise against
an exact float64 direct sum) and ``"fft"`` (the FFT grid: long kernels and batches, checked
normwise against a float64 FFT reference with the FFT's error bound).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MODES = ("full", "same", "valid")
KINDS = ("direct", "fft")


@dataclasses.dataclass(frozen=True)
class Case:
    """One convolution problem: signal shape, kernel shape, dtype and output mode.

    Parameters
    ----------
    shape : tuple of int
        Shape of the signal (``in1``).
    kshape : tuple of int
        Shape of the kernel (``in2``); same number of dimensions as `shape`.
    dtype : str
        NumPy dtype name of both inputs, e.g. ``"float32"``.
    mode : {"full", "same", "valid"}
        Output mode, with SciPy semantics ("same" is the shape of `shape`).
    kind : {"direct", "fft"}
        Which grid the case belongs to; decides the reference, the tolerance and the
        implementations that run (see :func:`fastconv._bench.peers.plan_for`).
    axes : tuple of int, optional
        Convolved axes (default: all). The kernel has length 1 on the other axes and is
        broadcast along them, e.g. a batch of 1-D signals with ``axes=(-1,)``.
    """

    shape: tuple
    kshape: tuple
    dtype: str = "float64"
    mode: str = "full"
    kind: str = "direct"
    axes: tuple | None = None

    def __post_init__(self) -> None:
        if len(self.shape) != len(self.kshape):
            raise ValueError(f"shape {self.shape} and kshape {self.kshape} differ in ndim")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for d in range(self.ndim):
            if d not in self.conv_axes and self.kshape[d] != 1:
                raise ValueError(f"kshape {self.kshape} must be 1 off the axes {self.axes}")

    @property
    def ndim(self) -> int:
        """Number of dimensions of the problem."""
        return len(self.shape)

    @property
    def is_complex(self) -> bool:
        """Whether the inputs are complex."""
        return np.dtype(self.dtype).kind == "c"

    @property
    def conv_axes(self) -> tuple:
        """The convolved axes, non-negative and sorted."""
        if self.axes is None:
            return tuple(range(self.ndim))
        return tuple(sorted({a % self.ndim for a in self.axes}))

    @property
    def batched(self) -> bool:
        """Whether some axes are not convolved (a batch of smaller convolutions)."""
        return len(self.conv_axes) < self.ndim

    @property
    def section(self) -> str:
        """Table section the case belongs to, e.g. ``"1-D, mode='full'"``."""
        if self.kind == "fft":
            what = "batched 1-D" if self.batched else f"{len(self.conv_axes)}-D"
            axes = f", axes={_axes_text(self.axes)}" if self.batched else ""
            return f"FFT grid: {what}{axes}, mode={self.mode!r}"
        return f"{self.ndim}-D, mode={self.mode!r}"

    @property
    def label(self) -> str:
        """Short human label of the sizes, e.g. ``"n=1e5 k=31"`` or ``"512x512 * 5x5"``."""
        if self.ndim == 1:
            if self.kind == "fft":
                n, k = self.shape[0], self.kshape[0]
                return f"n={_sci(n)} k={'n/2' if 2 * k == n else _sci(k)}"
            return f"n={_short(self.shape[0])} k={self.kshape[0]}"
        return f"{_dims(self.shape)} * {_dims(self.kshape)}"

    @property
    def id(self) -> str:
        """Identifier without spaces, usable as a pytest id."""
        out = f"{self.ndim}d-{_dims(self.shape)}-k{_dims(self.kshape)}-{self.dtype}-{self.mode}"
        if self.axes is not None:
            out += "-axes" + "_".join(str(a) for a in self.axes)
        return out

    @property
    def out_shape(self) -> tuple:
        """Shape of the result (SciPy semantics)."""
        return tuple(_out_len(n, k, self.mode) for n, k in zip(self.shape, self.kshape))

    @property
    def flops(self) -> int:
        """Nominal flop count: ``2 * n_out * k`` (real) or ``8 * n_out * k`` (complex)."""
        per_mac = 8 if self.is_complex else 2
        return per_mac * math.prod(self.out_shape) * math.prod(self.kshape)

    @property
    def macs(self) -> int:
        """Multiply-adds of a direct convolution: the exact count of products ``x[i] h[j]``
        that land in the output (edges of "same" and "full" included, no zero padding)."""
        if 0 in self.shape or 0 in self.kshape:
            return 0
        return math.prod(_pairs(n, k, self.mode) for n, k in zip(self.shape, self.kshape))

    @property
    def fft_len(self) -> int:
        """Size of one whole-array transform: the product of ``n + k - 1`` over the convolved
        axes (before rounding up to a fast length)."""
        return math.prod(self.shape[a] + self.kshape[a] - 1 for a in self.conv_axes)


def _pairs(n: int, k: int, mode: str) -> int:
    """Products ``x[i] h[j]`` (``0 <= i < n, 0 <= j < k``) whose ``i + j`` is in the output."""
    lo = {"full": 0, "same": (k - 1) // 2, "valid": k - 1}[mode]
    hi = lo + _out_len(n, k, mode)
    j = np.arange(k, dtype=np.int64)
    return int(np.clip(np.minimum(hi - j, n) - np.maximum(lo - j, 0), 0, None).sum())


def _short(n: int) -> str:
    e = round(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if n == 10**e and e >= 3 else str(n)


def _axes_text(axes: tuple) -> str:
    return str(axes[0]) if len(axes) == 1 else str(tuple(axes))


def _sci(n: int) -> str:
    """``5e4`` for a one-digit multiple of a power of ten from 1e3 up, else ``str(n)``."""
    e = int(math.log10(n)) if n > 0 else 0
    return f"{n // 10**e}e{e}" if e >= 3 and n % 10**e == 0 else str(n)


def _dims(shape: tuple) -> str:
    return "x".join(str(s) for s in shape)


def _out_len(n: int, k: int, mode: str) -> int:
    if mode == "full":
        return n + k - 1
    if mode == "same":
        return n
    return max(n - k + 1, 0)


# ----------------------------------------------------------------------------- grids

DTYPES = ("float32", "float64")


def _grid_1d(ns, ks, dtypes=DTYPES) -> list:
    return [Case((n,), (k,), dt, "full") for n in ns for k in ks for dt in dtypes]


def _grid_2d(images, kernels, modes, dtypes=DTYPES) -> list:
    return [
        Case(img, ker, dt, mode)
        for mode in modes
        for img in images
        for ker in kernels
        for dt in dtypes
    ]


def full_grid() -> list:
    """The full benchmark grid.

    Returns
    -------
    list of Case
        1-D ``n in {1e3, 1e4, 1e5, 1e6} x k in {3, 11, 31, 101}`` (mode "full"), then 2-D
        512x512 and 2048x2048 images with 3x3 and 5x5 kernels in modes "full" and "same";
        each in float32 and float64.
    """
    return _grid_1d((10**3, 10**4, 10**5, 10**6), (3, 11, 31, 101)) + _grid_2d(
        ((512, 512), (2048, 2048)), ((3, 3), (5, 5)), ("full", "same")
    )


def quick_grid() -> list:
    """A reduced grid for ``--quick``: a corner of each section of `full_grid`.

    Returns
    -------
    list of Case
    """
    return (
        _grid_1d((10**4, 10**6), (11, 101))
        + _grid_2d(((512, 512),), ((3, 3), (5, 5)), ("full", "same"))
        + _grid_2d(((2048, 2048),), ((5, 5),), ("full", "same"), ("float32",))
    )


def demo_grid() -> list:
    """A handful of cases for the demo's closing table (well under 2 s in total).

    Returns
    -------
    list of Case
    """
    return [
        Case((10**5,), (31,), "float32"),
        Case((10**5,), (31,), "float64"),
        Case((10**6,), (11,), "float32"),
        Case((512, 512), (5, 5), "float32", "full"),
        Case((512, 512), (5, 5), "float32", "same"),
        Case((10**5,), (10**4,), "float32", "full", "fft"),
    ]


# ----------------------------------------------------------------------------- FFT grid


def _fft_1d(ns, ks, dtypes=DTYPES) -> list:
    """Long 1-D cases, mode "full"; a ``k`` of None stands for ``n // 2``."""
    return [
        Case((n,), (n // 2 if k is None else k,), dt, "full", "fft")
        for n in ns
        for k in ks
        for dt in dtypes
    ]


def _fft_batched(batch: int, n: int, k: int, dtypes=DTYPES) -> list:
    """``batch`` signals of length ``n`` (axis -1), one kernel broadcast, mode "same"."""
    return [Case((batch, n), (1, k), dt, "same", "fft", (-1,)) for dt in dtypes]


def _fft_2d(images, kernels, dtypes=DTYPES) -> list:
    return [Case(i, k, dt, "same", "fft") for i in images for k in kernels for dt in dtypes]


def fft_grid() -> list:
    """The FFT grid (issue: long kernels, batches and large 2-D kernels).

    Returns
    -------
    list of Case
        Long 1-D ``n in {1e5, 1e6} x k in {1e3, 1e4, n/2}`` (mode "full"); a batch of
        256 signals of 4096 samples with one 33-tap kernel (axis -1, mode "same"); 512x512
        and 2048x2048 images with 15x15 and 63x63 kernels (mode "same"). Each in float32 and
        float64, all of kind "fft".
    """
    return (
        _fft_1d((10**5, 10**6), (10**3, 10**4, None))
        + _fft_batched(256, 4096, 33)
        + _fft_2d(((512, 512), (2048, 2048)), ((15, 15), (63, 63)))
    )


def fft_quick_grid() -> list:
    """A subset of `fft_grid` for ``--quick``: one case of each section.

    Returns
    -------
    list of Case
        ``n=1e5 k=1e4``, the 256x4096 batch and 512x512 with 15x15, in float32 and float64.
    """
    return (
        _fft_1d((10**5,), (10**4,))
        + _fft_batched(256, 4096, 33)
        + _fft_2d(((512, 512),), ((15, 15),))
    )


# ----------------------------------------------------------------------------- data


def make_inputs(case: Case, seed: int = 0) -> tuple:
    """Deterministic standard-normal inputs for `case`.

    Parameters
    ----------
    case : Case
    seed : int, optional
        Base seed; the sizes are mixed in so that different cases get different data.

    Returns
    -------
    x, h : numpy.ndarray
        C-contiguous signal and kernel of dtype ``case.dtype``.
    """
    rng = np.random.default_rng([seed, *case.shape, *case.kshape])

    def draw(shape):
        a = rng.standard_normal(shape)
        if case.is_complex:
            a = a + 1j * rng.standard_normal(shape)
        return np.ascontiguousarray(a.astype(case.dtype))

    return draw(case.shape), draw(case.kshape)


def _full_conv(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    if x.ndim == 1:
        return np.convolve(x, h, mode="full")
    out_shape = tuple(n + k - 1 for n, k in zip(x.shape, h.shape))
    out = np.zeros(out_shape, dtype=np.result_type(x, h))
    for idx in np.ndindex(*h.shape):
        out[tuple(slice(i, i + n) for i, n in zip(idx, x.shape))] += h[idx] * x
    return out


def crop(full: np.ndarray, kshape: tuple, mode: str) -> np.ndarray:
    """Cut a "full" result down to `mode` with SciPy's centring rule.

    Parameters
    ----------
    full : numpy.ndarray
        Result in mode "full".
    kshape : tuple of int
        Kernel shape.
    mode : {"full", "same", "valid"}

    Returns
    -------
    numpy.ndarray
        A view of `full`.
    """
    if mode == "full":
        return full
    sl = []
    for m, k in zip(full.shape, kshape):
        n = m - k + 1
        if mode == "same":
            sl.append(slice((k - 1) // 2, (k - 1) // 2 + n))
        else:
            sl.append(slice(k - 1, max(n, k - 1)))
    return full[tuple(sl)]


def reference_full(x: np.ndarray, h: np.ndarray) -> tuple:
    """Float64 (or complex128) reference of the full convolution, and its error scale.

    Parameters
    ----------
    x, h : numpy.ndarray
        Signal and kernel (any float or complex dtype); they are widened exactly.

    Returns
    -------
    ref : numpy.ndarray
        ``x * h`` computed in double precision.
    scale : numpy.ndarray
        ``|x| * |h|``: the sum of the magnitudes of the products behind each output.
    """
    wide = np.complex128 if np.iscomplexobj(x) or np.iscomplexobj(h) else np.float64
    x64, h64 = x.astype(wide), h.astype(wide)
    return _full_conv(x64, h64), _full_conv(np.abs(x64), np.abs(h64))


def reference(x: np.ndarray, h: np.ndarray, mode: str) -> tuple:
    """`reference_full` cropped to `mode`.

    Parameters
    ----------
    x, h : numpy.ndarray
    mode : {"full", "same", "valid"}

    Returns
    -------
    ref, scale : numpy.ndarray
    """
    ref, scale = reference_full(x, h)
    return crop(ref, h.shape, mode), crop(scale, h.shape, mode)


def _fast_len(n: int) -> int:
    """The smallest 5-smooth number (``2^a 3^b 5^c``) at least `n`."""
    best, p5 = 2 * max(n, 1), 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def fft_reference(x: np.ndarray, h: np.ndarray, case: Case) -> tuple:
    """Float64 FFT reference for an FFT-grid case, and its normwise error scale.

    An exact direct sum is out of reach here (``n=1e6, k=5e5`` is 5e11 multiply-adds), so
    the reference is itself an FFT convolution, in float64 (complex128 for complex inputs),
    with NumPy's pocketfft: inputs widened exactly, one whole-array transform of a 5-smooth
    length per convolved axis, cropped to ``case.mode`` with SciPy's centring.

    Parameters
    ----------
    x, h : numpy.ndarray
        Signal and kernel; `h` has length 1 on the axes that `case` does not convolve.
    case : Case

    Returns
    -------
    ref : numpy.ndarray
        The reference, of the output's shape.
    scale : numpy.ndarray
        ``||x||_2 * ||h||_2`` over the convolved axes (kept as length-1 axes, so that each
        convolution of a batch gets its own scale), broadcastable against `ref`.
    """
    cplx = np.iscomplexobj(x) or np.iscomplexobj(h)
    wide = np.complex128 if cplx else np.float64
    x64, h64 = x.astype(wide), h.astype(wide)
    axes = case.conv_axes
    full = [x.shape[a] + h.shape[a] - 1 for a in axes]
    size = [_fast_len(m) for m in full]
    if cplx:
        spec = np.fft.fftn(x64, size, axes) * np.fft.fftn(h64, size, axes)
        out = np.fft.ifftn(spec, size, axes)
    else:
        spec = np.fft.rfftn(x64, size, axes) * np.fft.rfftn(h64, size, axes)
        out = np.fft.irfftn(spec, size, axes)
    out = out[
        tuple(
            slice(None) if d not in axes else slice(0, full[axes.index(d)]) for d in range(x.ndim)
        )
    ]
    ref = np.ascontiguousarray(crop(out, h.shape, case.mode))
    return ref, norm_scale(x64, h64, case)


def norm_scale(x: np.ndarray, h: np.ndarray, case: Case) -> np.ndarray:
    """``||x||_2 * ||h||_2`` over `case`'s convolved axes, kept as length-1 axes: the scale of
    the FFT error bound (:func:`fft_tolerance`), one per convolution of a batch.

    Parameters
    ----------
    x, h : numpy.ndarray
    case : Case

    Returns
    -------
    numpy.ndarray
        float64, broadcastable against the output.
    """

    def norm(a):
        a = np.abs(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64))
        return np.sqrt(np.sum(a**2, axis=case.conv_axes, keepdims=True))

    return norm(x) * norm(h)


def fft_tolerance(case: Case) -> float:
    """Accepted `rel_err` (against `fft_reference`) for an FFT-grid case.

    The normwise bound of FFT convolution: every output of a convolution computed through
    transforms of size ``N`` in precision ``eps`` is within ``c * eps * log2(N) * ||x||_2 *
    ||h||_2`` of the exact value, with c = 16 (a few roundings per butterfly level, room to
    spare; the same rule as the test suite's ``fft_slack``). The float64 reference carries
    the same kind of error, so the tolerance is ``16 * (eps(dtype) + eps(float64)) *
    log2(N)`` relative to ``||x|| * ||h||``, ``N`` the product over the convolved axes of
    ``n + k - 1``. Direct methods run on the same cases are held to the same bound: their
    a-priori bound ``K * eps * sum|x||h|`` (``sum|x||h| <= ||x|| ||h||``) is looser for
    ``K`` in the thousands, but their actual error is far inside it (it grows like the square
    root of the number of terms), so a direct result outside it is a real failure.

    Parameters
    ----------
    case : Case

    Returns
    -------
    float
    """
    real = np.dtype(case.dtype)
    real = np.dtype(real.char.lower()) if real.kind == "c" else real
    eps = float(np.finfo(real).eps) + float(np.finfo(np.float64).eps)
    return 16.0 * eps * math.log2(max(case.fft_len, 2))


def rel_err(out, ref: np.ndarray, scale: np.ndarray) -> float:
    """Largest error of `out`, each element relative to its error scale.

    Parameters
    ----------
    out : array_like
        Result under test.
    ref, scale : numpy.ndarray
        From `reference` (scale: each output's sum of ``|products|``) or `fft_reference`
        (scale: ``||x|| * ||h||``, broadcast).

    Returns
    -------
    float
        ``max |out - ref| / scale``; ``inf`` if `out` holds NaN or inf.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    out = np.asarray(out)
    if out.shape != ref.shape:
        raise ValueError(f"result shape {out.shape} != expected {ref.shape}")
    if out.size == 0:
        return 0.0
    err = np.abs(out.astype(ref.dtype) - ref) / np.maximum(scale, np.finfo(np.float64).tiny)
    return float(err.max()) if np.isfinite(err).all() else math.inf


def tolerance(dtype, kshape: tuple) -> float:
    """Accepted `rel_err` for a direct convolution: ``4 * prod(kshape) * eps(dtype)``.

    A sum of ``K`` rounded products is within ``K * eps/2 * sum|products|`` of the exact
    value (to first order), whatever the summation order; the factor 8 on that bound
    leaves room for complex arithmetic and a final cast.

    Parameters
    ----------
    dtype : dtype_like
    kshape : tuple of int

    Returns
    -------
    float
    """
    return 4.0 * math.prod(kshape) * float(np.finfo(np.dtype(dtype)).eps)


def peak_key(dtype) -> str:
    """Which matmul peak a dtype is measured against: ``"float32"`` or ``"float64"``."""
    return "float32" if np.dtype(dtype) in (np.float32, np.complex64) else "float64"

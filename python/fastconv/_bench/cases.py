"""Benchmark cases: the grids, deterministic inputs, float64 references, flops, tolerances."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MODES = ("full", "same", "valid")


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
    """

    shape: tuple
    kshape: tuple
    dtype: str = "float64"
    mode: str = "full"

    def __post_init__(self) -> None:
        if len(self.shape) != len(self.kshape):
            raise ValueError(f"shape {self.shape} and kshape {self.kshape} differ in ndim")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")

    @property
    def ndim(self) -> int:
        """Number of dimensions of the problem."""
        return len(self.shape)

    @property
    def is_complex(self) -> bool:
        """Whether the inputs are complex."""
        return np.dtype(self.dtype).kind == "c"

    @property
    def section(self) -> str:
        """Table section the case belongs to, e.g. ``"1-D, mode='full'"``."""
        return f"{self.ndim}-D, mode={self.mode!r}"

    @property
    def label(self) -> str:
        """Short human label of the sizes, e.g. ``"n=1e5 k=31"`` or ``"512x512 * 5x5"``."""
        if self.ndim == 1:
            return f"n={_short(self.shape[0])} k={self.kshape[0]}"
        return f"{_dims(self.shape)} * {_dims(self.kshape)}"

    @property
    def id(self) -> str:
        """Identifier without spaces, usable as a pytest id."""
        return f"{self.ndim}d-{_dims(self.shape)}-k{_dims(self.kshape)}-{self.dtype}-{self.mode}"

    @property
    def out_shape(self) -> tuple:
        """Shape of the result (SciPy semantics)."""
        return tuple(_out_len(n, k, self.mode) for n, k in zip(self.shape, self.kshape))

    @property
    def flops(self) -> int:
        """Nominal flop count: ``2 * n_out * k`` (real) or ``8 * n_out * k`` (complex)."""
        per_mac = 8 if self.is_complex else 2
        return per_mac * math.prod(self.out_shape) * math.prod(self.kshape)


def _short(n: int) -> str:
    e = round(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if n == 10**e and e >= 3 else str(n)


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
    """A handful of cases for the demo's closing table (well under 5 s in total).

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
    ]


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


def rel_err(out, ref: np.ndarray, scale: np.ndarray) -> float:
    """Largest error of `out`, each element relative to its sum of ``|products|``.

    Parameters
    ----------
    out : array_like
        Result under test.
    ref, scale : numpy.ndarray
        From `reference`.

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

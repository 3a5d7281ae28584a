"""``fastconv.signal.Convolver``: one kernel, many signals of one shape."""

from __future__ import annotations

import operator
from typing import Optional, Tuple

import numpy as np

from fastconv import _core
from fastconv._args import (
    AxesArg,
    check_mode,
    check_workers,
    normalize_axes,
    valid_swap_check,
)
from fastconv._direct import warn_if_not_finite
from fastconv._dtypes import check_supported
from fastconv._freq import fft_result_dtype

_METHODS = {"auto": "auto", "direct": "direct", "fft": "fft_any", "oa": "oa"}


class Convolver:
    """A convolution prepared once for a kernel and a signal shape, applied to many signals.

    The plan, the transform plans and (for FFT methods) the kernel's spectrum are computed
    once, so each call costs one forward and one inverse transform of the signal: the right
    tool for streaming blocks of a fixed length and for filter banks.

    Parameters
    ----------
    kernel : array_like
        The filter, with the signal's number of dimensions.
    shape : tuple of int
        Shape of every signal passed to the convolver.
    mode : {'full', 'same', 'valid'}
        As :func:`fastconv.signal.convolve`.
    correlate : bool
        Cross-correlate (no kernel flip, kernel conjugated) instead of convolving.
    axes : int or sequence of int, optional
        Axes to convolve over; the others broadcast (default: all).
    dtype : dtype, optional
        Signal dtype (default: the kernel's); results are floating (``fftconvolve``'s rule).
        Signals of another numeric dtype are cast to the result dtype, except a complex signal
        for a real convolver (TypeError: the imaginary part would be lost); non-numeric
        signals raise as :func:`fastconv.signal.convolve` does.
    method : {'auto', 'direct', 'fft', 'oa'}
        How to compute; 'auto' picks by cost (a non-finite kernel runs direct).
    workers : int, optional
        Threads per call.

    Examples
    --------
    >>> conv = Convolver(np.hanning(65), (4096,), mode="same")
    >>> smoothed = [conv(block) for block in blocks]  # doctest: +SKIP
    """

    def __init__(
        self,
        kernel,
        shape: Tuple[int, ...],
        mode: str = "full",
        *,
        correlate: bool = False,
        axes: AxesArg = None,
        dtype=None,
        method: str = "auto",
        workers: Optional[int] = None,
    ) -> None:
        kernel = np.asarray(kernel)
        shape = _shape_tuple(shape)
        if kernel.ndim != len(shape):
            raise ValueError("kernel and signal shape should have the same dimensionality")
        if kernel.size == 0 or 0 in shape:
            raise ValueError("kernel and signal must not be empty")
        if method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        mode = check_mode(mode)
        workers = check_workers(workers)
        in_dtype = np.dtype(kernel.dtype if dtype is None else dtype)
        check_supported(in_dtype)
        check_supported(kernel.dtype)
        self.dtype = fft_result_dtype(in_dtype, kernel.dtype)
        conv_axes = normalize_axes(axes, kernel.ndim)
        if mode == "valid":
            valid_swap_check(shape, kernel.shape, conv_axes)
        self.shape = shape
        # A 0-d kernel and signal (their product, as fftconvolve gives) run as 1-element 1-D.
        self._scalar = kernel.ndim == 0
        if self._scalar:
            kernel, shape, conv_axes = kernel.reshape(1), (1,), (0,)
        batch = [d for d in range(kernel.ndim) if d not in conv_axes]
        self._order = batch + list(conv_axes)
        self._inverse = list(np.argsort(self._order))
        kernel = np.transpose(kernel.astype(self.dtype), self._order)
        moved = [shape[d] for d in self._order]
        self._core = _core.Convolver(
            np.ascontiguousarray(kernel),
            moved,
            mode,
            len(batch),
            not correlate,
            correlate and self.dtype.kind == "c",
            _METHODS[method],
            workers,
        )

        if self.method != "direct":
            # __init__ <- the caller: the kernel's NaN/inf would spread over every output.
            warn_if_not_finite(kernel, stacklevel=3)

    @property
    def method(self) -> str:
        """The method in use: 'direct', 'fft' or 'oa'."""
        return self._core.method

    @property
    def out_shape(self) -> Tuple[int, ...]:
        """The shape of each result."""
        if self._scalar:
            return ()
        moved = self._core.out_shape
        return tuple(moved[i] for i in self._inverse)

    def __call__(self, x) -> np.ndarray:
        """Convolve one signal of the prepared shape."""
        x = np.asarray(x)
        if x.shape != self.shape:
            raise ValueError(f"this convolver was prepared for shape {self.shape}, got {x.shape}")
        check_supported(x.dtype)
        if not np.can_cast(x.dtype, self.dtype, "same_kind"):
            raise TypeError(
                f"this convolver computes in {self.dtype}; a {x.dtype} signal would lose its "
                "imaginary part (prepare the convolver with a complex dtype)"
            )
        if self.method != "direct":
            # __call__ <- the caller: a transform spreads NaN/inf over the whole output.
            warn_if_not_finite(x, stacklevel=3)
        if self._scalar:
            return self._core(x.astype(self.dtype, copy=False).reshape(1)).reshape(())
        x = np.transpose(x.astype(self.dtype, copy=False), self._order)
        out = self._core(x)
        return np.transpose(out, self._inverse)

    def __repr__(self) -> str:
        return (
            f"Convolver(shape={self.shape}, out_shape={self.out_shape}, dtype={self.dtype}, "
            f"method={self.method!r})"
        )


def _shape_tuple(shape) -> Tuple[int, ...]:
    """``shape`` as a tuple of non-negative Python ints (TypeError for non-integers)."""
    items = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        dims = tuple(operator.index(s) for s in items)
    except TypeError:
        raise TypeError(f"shape must be a tuple of integers, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative entries, got {shape!r}")
    return dims

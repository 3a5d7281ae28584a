"""Type stubs for the compiled extension ``fastconv._core`` (Rust, PyO3)."""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def correlate(
    in1: npt.NDArray[np.generic],
    in2: npt.NDArray[np.generic],
    mode: str,
    batch_ndim: int = 0,
    flip: bool = False,
    conj: bool = False,
    workers: Optional[int] = None,
    isa: Optional[str] = None,
    method: str = "direct",
    block: Optional[List[int]] = None,
) -> npt.NDArray[np.generic]:
    """Direct N-D correlation (convolution when ``flip``) along the trailing axes.

    Both arrays share one dtype among float32, float64, complex64, complex128 and int64, and
    the same ndim; the first ``batch_ndim`` axes broadcast. ``mode`` is 'full', 'same',
    'valid' or 'same_low_centre'. Raises ValueError for inconsistent shapes or arguments,
    MemoryError when the output cannot be allocated, TypeError for other dtypes.
    """

def choose_method(
    in1: npt.NDArray[np.generic],
    in2: npt.NDArray[np.generic],
    mode: str,
    batch_ndim: int = 0,
    workers: Optional[int] = None,
) -> Tuple[str, Dict[str, float]]:
    """The method ``method='auto'`` runs for these inputs and the model's estimates (s)."""

def method_costs(
    shape1: Sequence[int],
    shape2: Sequence[int],
    mode: str,
    dtype: str,
    batch_ndim: int = 0,
    workers: Optional[int] = None,
) -> Tuple[str, Dict[str, float]]:
    """The cost model's pick and estimates (s) from shapes alone."""

def fft_len(n: int, real: bool = True) -> int:
    """The 7-smooth transform length fastconv uses for ``n`` points (even when ``real``)."""

def axis_geometry(n: int, k: int, mode: str) -> Tuple[int, int]:
    """``(start, output_length)`` of one axis: output ``i`` reads input ``start + i + j``."""

def set_num_threads(n: int) -> None:
    """Set the default thread count (``n >= 1``)."""

def get_num_threads() -> int:
    """The default thread count."""

def available_cores() -> int:
    """Logical cores available to this process."""

def isa() -> str:
    """The instruction set of the kernels in use: 'avx512', 'avx2' or 'scalar'."""

def supported_isas() -> List[str]:
    """Every instruction set this CPU can run, 'scalar' first."""

"""Type stubs for the compiled extension ``fastconv._core`` (Rust, PyO3)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple

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

def fast_1d(
    in1: Any,
    in2: Any,
    mode: Any,
    flip: bool,
    numpy_rules: bool,
    method: Any,
    workers: Any = None,
) -> Optional[npt.NDArray[np.inexact]]:
    """The common 1-D call decided and run in Rust: two non-empty 1-D float or complex arrays
    of one dtype and a mode string give the result of ``method`` ('auto' or 'direct');
    anything else (other types, shapes, modes or methods, ``workers`` other than None or a
    positive ``int``) gives None, and the caller takes its full Python path, which validates
    the arguments. ``numpy_rules``: the longer input is the signal."""

class Convolver:
    """A convolution prepared for one kernel and one signal shape; call it with signals."""

    def __init__(
        self,
        kernel: npt.NDArray[np.generic],
        shape: Sequence[int],
        mode: str,
        batch_ndim: int = 0,
        flip: bool = True,
        conj: bool = False,
        method: str = "auto",
        workers: Optional[int] = None,
    ) -> None:
        """Prepares the correlation (convolution when ``flip``) of signals of shape ``shape``
        and the kernel's dtype with ``kernel``; ``method`` is 'auto', 'direct', 'fft',
        'fft_any' or 'oa'. Raises ValueError for inconsistent arguments."""
    def __call__(self, x: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """The prepared convolution of ``x`` (of the prepared shape and dtype; TypeError for
        another dtype)."""
    @property
    def method(self) -> str:
        """The method chosen: 'direct', 'fft' or 'oa'."""
    @property
    def shape(self) -> List[int]:
        """The signal shape this convolver takes."""
    @property
    def out_shape(self) -> List[int]:
        """The shape of each result."""

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

# ---------------------------------------------------------------------------------------------
# Neural-network convolution (src/nn, src/python/nn.rs). Arrays are C-contiguous float32 or
# float64, all of one dtype; ``input`` is (N, C_in, *S) with 1 to 3 spatial axes; ``weight`` is
# (C_out, C_in // groups, *K). ``stride`` and ``dilation`` hold one positive int per spatial
# axis, ``padding`` one (before, after) pair of non-negative ints per spatial axis (zeros).
# Output spatial size: O = (S + before + after - dilation * (K - 1) - 1) // stride + 1 >= 1.
# Results are bitwise identical for every ``workers``. Raise ValueError for inconsistent
# shapes/arguments, MemoryError when a size overflows, TypeError for other dtypes.
# ---------------------------------------------------------------------------------------------

def conv_forward(
    input: npt.NDArray[np.floating],
    weight: npt.NDArray[np.floating],
    bias: Optional[npt.NDArray[np.floating]],
    stride: Sequence[int],
    padding: Sequence[Tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
    out: Optional[npt.NDArray[np.floating]] = None,
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """Cross-correlation layer forward pass, (N, C_out, *O); writes into ``out`` if given."""

def conv_grad_input(
    grad_output: npt.NDArray[np.floating],
    weight: npt.NDArray[np.floating],
    input_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[Tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
    out: Optional[npt.NDArray[np.floating]] = None,
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """Gradient of the loss with respect to the input, (N, C_in, *input_size).

    ``input_size`` is the spatial shape S (it cannot be recovered from O when stride > 1).
    This is also the transposed convolution's forward pass.
    """

def conv_grad_weight(
    grad_output: npt.NDArray[np.floating],
    input: npt.NDArray[np.floating],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[Tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
    out: Optional[npt.NDArray[np.floating]] = None,
    workers: Optional[int] = None,
    with_bias: bool = False,
) -> Any:
    """Gradient with respect to the weight, (C_out, C_in // groups, *kernel_size): the sum over
    every batch element and output position where each tied weight was used. With
    ``with_bias=True``, the pair ``(grad_weight, grad_bias)``: ``grad_bias`` (C_out,) is
    ``grad_output`` summed over every axis but the channel (in float64), in the same pass."""

def unfold(
    input: npt.NDArray[np.floating],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[Tuple[int, int]],
    dilation: Sequence[int],
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """im2col: (N, C, *S) -> (N, C * prod(K), L), L = prod(O); torch's row order (c, k...)."""

def fold(
    columns: npt.NDArray[np.floating],
    output_size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[Tuple[int, int]],
    dilation: Sequence[int],
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """col2im: (N, C * prod(K), L) -> (N, C, *output_size), summing overlapping entries."""

# Pooling (src/nn/pool.rs, src/python/pool.rs). ``input`` is (N, C, *S), 1 to 3 spatial axes;
# ``padding`` is one symmetric int per axis (torch's rule: at most half the kernel).

def max_pool_forward(
    input: npt.NDArray[np.floating],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    ceil_mode: bool,
    workers: Optional[int] = None,
) -> Tuple[npt.NDArray[np.floating], npt.NDArray[np.int64]]:
    """Max pooling: the output and, per output element, the flat index of the chosen input
    element within its (n, c) plane (torch's ``return_indices``). NaN propagates as in torch."""

def max_pool_backward(
    grad_output: npt.NDArray[np.floating],
    indices: npt.NDArray[np.int64],
    input_size: Sequence[int],
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """Scatter-adds ``grad_output`` to the recorded indices: (N, C, *input_size)."""

def avg_pool_forward(
    input: npt.NDArray[np.floating],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Optional[int],
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """Average pooling with torch's divisor rules."""

def avg_pool_backward(
    grad_output: npt.NDArray[np.floating],
    input_size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Optional[int],
    workers: Optional[int] = None,
) -> npt.NDArray[np.floating]:
    """Gradient of average pooling: (N, C, *input_size)."""

def channel_sums(
    input: npt.NDArray[np.floating], workers: Optional[int] = None
) -> npt.NDArray[np.floating]:
    """Sum of ``input`` (N, C, *S) over every axis but the channel, accumulated in float64,
    as ``(C,)`` of the input's dtype (C-contiguous float32/float64 input)."""

def adam_step(
    data: npt.NDArray[np.float32],
    grad: npt.NDArray[np.float32],
    exp_avg: npt.NDArray[np.float32],
    exp_avg_sq: npt.NDArray[np.float32],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    step: int,
) -> None:
    """One Adam (AdamW when ``decoupled``) update of the flat contiguous float32 buffers, in
    place; ``step`` counts from 1. Bitwise the float32 NumPy formulation, in one pass."""

def batch_norm_forward(
    input: npt.NDArray[np.floating],
    weight: Optional[npt.NDArray[np.floating]],
    bias: Optional[npt.NDArray[np.floating]],
    running_mean: Optional[npt.NDArray[np.floating]],
    running_var: Optional[npt.NDArray[np.floating]],
    training: bool,
    momentum: float,
    eps: float,
    relu: bool = False,
    out: Optional[npt.NDArray[np.floating]] = None,
    workers: Optional[int] = None,
) -> Tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], npt.NDArray[np.floating]]:
    """Batch normalisation of (N, C, *S), optionally fused with a ReLU: (output, mean, invstd);
    training updates the running statistics in place."""

def batch_norm_backward(
    grad_output: npt.NDArray[np.floating],
    input: npt.NDArray[np.floating],
    mean: npt.NDArray[np.floating],
    invstd: npt.NDArray[np.floating],
    weight: Optional[npt.NDArray[np.floating]],
    training: bool,
    output_mask: Tuple[bool, bool, bool] = (True, True, True),
    relu_output: Optional[npt.NDArray[np.floating]] = None,
    out: Optional[npt.NDArray[np.floating]] = None,
    workers: Optional[int] = None,
) -> Tuple[
    Optional[npt.NDArray[np.floating]],
    Optional[npt.NDArray[np.floating]],
    Optional[npt.NDArray[np.floating]],
]:
    """(grad_input, grad_weight, grad_bias) of batch normalisation, None where masked."""

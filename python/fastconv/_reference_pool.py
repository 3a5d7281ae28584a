"""Pure-Python references for pooling (see fastconv.reference).

Literal loops over Python floats, from the definitions of ``torch.nn.functional``'s max and
average pooling (1 to 3 spatial axes), their gradients, and adaptive average pooling. Inputs
are ``(N, C, *S)`` NumPy arrays; per-axis arguments are sequences with one entry per spatial
axis. Sums are accumulated in double precision and rounded once to the input dtype, so
float32 results may differ from a float32 accumulator by rounding error; maxima and indices
are exact.

Rules (torch's):

* output length ``floor((n + 2p - d(k - 1) - 1 + (s - 1 if ceil_mode)) / s) + 1``, one less in
  ceil mode when the last window would start at or past ``n + p``;
* max pooling takes, per window, the first maximum in C order of the taps; a NaN tap makes the
  result NaN (the last NaN's index is recorded); a window with no tap inside the input gives
  ``-inf`` and the flat index of its first tap moved past the left padding;
* average pooling divides the sum over the taps inside the input by ``divisor_override``, else
  by the window's size clipped to the padded input (``count_include_pad``) or to the input;
* adaptive average pooling averages, along each axis, input ``[floor(i n / m), ceil((i + 1) n
  / m))`` into output ``i``.
"""

import itertools
import math

import numpy as np

__all__ = [
    "adaptive_avg_pool_nd",
    "adaptive_avg_pool_nd_backward",
    "avg_pool_nd",
    "avg_pool_nd_backward",
    "max_pool_nd",
    "max_pool_nd_backward",
    "pool_output_size",
]


def pool_output_size(n, kernel, stride, padding, dilation=1, ceil_mode=False):
    """The output length of one pooled axis (torch's ``pooling_output_shape``)."""
    span = n + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def _planes(x):
    """``(N, C, spatial shape, list of planes as {index tuple: float})``."""
    x = np.asarray(x)
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    planes = []
    for b in range(n):
        for ch in range(c):
            plane = x[b, ch]
            planes.append({idx: float(plane[idx]) for idx in np.ndindex(*spatial)})
    return n, c, spatial, planes


def _flat(index, shape):
    flat = 0
    for i, n in zip(index, shape):
        flat = flat * n + i
    return flat


def max_pool_nd(x, kernel, stride, padding, dilation, ceil_mode=False):
    """Max pooling of ``x`` (N, C, *S): ``(output, indices)``, indices flat within a plane."""
    x = np.asarray(x)
    n, c, spatial, planes = _planes(x)
    out_shape = tuple(
        pool_output_size(s, k, st, p, d, ceil_mode)
        for s, k, st, p, d in zip(spatial, kernel, stride, padding, dilation)
    )
    values, indices = [], []
    for plane in planes:
        for o in itertools.product(*(range(m) for m in out_shape)):
            best, best_at, nan_at = -math.inf, None, None
            for j in itertools.product(*(range(k) for k in kernel)):
                pos = tuple(
                    oi * st - p + ji * d
                    for oi, st, p, ji, d in zip(o, stride, padding, j, dilation)
                )
                if not all(0 <= q < s for q, s in zip(pos, spatial)):
                    continue
                v = plane[pos]
                if math.isnan(v):
                    nan_at = pos  # a NaN wins; the last one's index is recorded
                elif best_at is None or v > best:
                    best, best_at = v, pos  # the first maximum
            if nan_at is not None:
                best, best_at = math.nan, nan_at
            elif best_at is None:  # no tap inside the input: torch's first in-range start
                best_at = tuple(
                    _first_tap(oi * st - p, d) for oi, st, p, d in zip(o, stride, padding, dilation)
                )
            values.append(best)
            indices.append(_flat(best_at, spatial))
    shape = (n, c, *out_shape)
    return (
        np.array(values, dtype=np.float64).astype(x.dtype).reshape(shape),
        np.array(indices, dtype=np.int64).reshape(shape),
    )


def _first_tap(start, dilation):
    while start < 0:
        start += dilation
    return start


def max_pool_nd_backward(grad_output, indices, input_shape):
    """The gradient of max pooling: ``grad_output`` added to the input elements ``indices``
    names (flat within each plane), in an array of ``input_shape`` (N, C, *S)."""
    grad_output = np.asarray(grad_output)
    spatial = tuple(input_shape[2:])
    size = math.prod(spatial)
    n, c = grad_output.shape[:2]
    result = []
    for b in range(n):
        for ch in range(c):
            acc = [0.0] * size
            for g, i in zip(
                grad_output[b, ch].ravel().tolist(), np.asarray(indices)[b, ch].ravel().tolist()
            ):
                acc[i] += g
            result.extend(acc)
    return np.array(result, dtype=np.float64).astype(grad_output.dtype).reshape(input_shape)


def _avg_windows(spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Output shape and, per output position, ``(taps inside the input, divisor)``."""
    out_shape = tuple(
        pool_output_size(s, k, st, p, 1, ceil_mode)
        for s, k, st, p in zip(spatial, kernel, stride, padding)
    )
    windows = []
    for o in itertools.product(*(range(m) for m in out_shape)):
        padded = 1
        ranges = []
        for oi, s, k, st, p in zip(o, spatial, kernel, stride, padding):
            start = oi * st - p
            end = min(start + k, s + p)  # the window clipped to the padded input
            padded *= end - start
            ranges.append(range(max(start, 0), min(end, s)))
        taps = list(itertools.product(*ranges))
        if divisor_override is not None:
            div = divisor_override
        elif count_include_pad:
            div = padded
        else:
            div = len(taps)
        windows.append((o, taps, div))
    return out_shape, windows


def avg_pool_nd(
    x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Average pooling of ``x`` (N, C, *S) with torch's divisor rules."""
    x = np.asarray(x)
    n, c, spatial, planes = _planes(x)
    out_shape, windows = _avg_windows(
        spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    values = []
    for plane in planes:
        for _, taps, div in windows:
            values.append(sum(plane[t] for t in taps) / div if taps else 0.0)
    return np.array(values, dtype=np.float64).astype(x.dtype).reshape((n, c, *out_shape))


def avg_pool_nd_backward(
    grad_output,
    input_shape,
    kernel,
    stride,
    padding,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """The gradient of :func:`avg_pool_nd`: an array of ``input_shape`` (N, C, *S)."""
    grad_output = np.asarray(grad_output)
    spatial = tuple(input_shape[2:])
    _, windows = _avg_windows(
        spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    )
    n, c = grad_output.shape[:2]
    result = []
    for b in range(n):
        for ch in range(c):
            acc = {idx: 0.0 for idx in np.ndindex(*spatial)}
            for o, taps, div in windows:
                g = float(grad_output[(b, ch, *o)])
                for t in taps:
                    acc[t] += g / div
            result.extend(acc[idx] for idx in np.ndindex(*spatial))
    return np.array(result, dtype=np.float64).astype(grad_output.dtype).reshape(input_shape)


def _adaptive_ranges(n, m):
    return [range((i * n) // m, -((-(i + 1) * n) // m)) for i in range(m)]


def adaptive_avg_pool_nd(x, output_size):
    """Adaptive average pooling of ``x`` (N, C, *S) to ``output_size`` (one entry per axis)."""
    x = np.asarray(x)
    n, c, spatial, planes = _planes(x)
    ranges = [_adaptive_ranges(s, m) for s, m in zip(spatial, output_size)]
    values = []
    for plane in planes:
        for o in itertools.product(*(range(m) for m in output_size)):
            taps = list(itertools.product(*(r[i] for r, i in zip(ranges, o))))
            values.append(sum(plane[t] for t in taps) / len(taps))
    return np.array(values, dtype=np.float64).astype(x.dtype).reshape((n, c, *output_size))


def adaptive_avg_pool_nd_backward(grad_output, input_shape):
    """The gradient of :func:`adaptive_avg_pool_nd`: an array of ``input_shape``."""
    grad_output = np.asarray(grad_output)
    spatial = tuple(input_shape[2:])
    output_size = grad_output.shape[2:]
    ranges = [_adaptive_ranges(s, m) for s, m in zip(spatial, output_size)]
    n, c = grad_output.shape[:2]
    result = []
    for b in range(n):
        for ch in range(c):
            acc = {idx: 0.0 for idx in np.ndindex(*spatial)}
            for o in itertools.product(*(range(m) for m in output_size)):
                taps = list(itertools.product(*(r[i] for r, i in zip(ranges, o))))
                g = float(grad_output[(b, ch, *o)])
                for t in taps:
                    acc[t] += g / len(taps)
            result.extend(acc[idx] for idx in np.ndindex(*spatial))
    return np.array(result, dtype=np.float64).astype(grad_output.dtype).reshape(input_shape)

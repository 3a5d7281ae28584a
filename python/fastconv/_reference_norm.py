"""Pure-Python references for batch normalisation (see fastconv.reference).

Literal loops over Python floats, from the definitions, for ``(N, C, *S)`` (or ``(N, C)``)
NumPy arrays; results are rounded once to the input dtype. Nothing is updated in place.

Definitions (torch's), per channel ``c`` over the ``n = N * prod(S)`` values ``x_i``:

* training: ``mean = sum(x_i) / n``, ``var = sum((x_i - mean)^2) / n`` (biased), and the
  running statistics become ``(1 - momentum) r + momentum s`` with the batch mean and the
  unbiased variance ``var * n / (n - 1)``; evaluation: the running mean and variance;
* ``invstd = 1 / sqrt(var + eps)`` (0 when ``var + eps`` is 0), ``xhat_i = (x_i - mean)
  invstd``, ``y_i = w xhat_i + b``, optionally ``max(y_i, 0)``;
* the gradient of ``L = sum(g_i y_i)`` by the chain rule through the Jacobian
  ``dy_j / dx_i = w invstd (delta_ij - 1/n - xhat_i xhat_j / n)`` in training (the mean and
  variance depend on every ``x_i``), ``w invstd delta_ij`` in evaluation; ``dL/dw = sum(g_i
  xhat_i)``, ``dL/db = sum(g_i)``. A fused ReLU first zeroes ``g_i`` where ``y_i <= 0``.
"""

import math

import numpy as np

__all__ = [
    "batch_norm_nd",
    "batch_norm_nd_backward",
]


def _channels(x):
    """``(N, C, list over channels of [flat indices of that channel's values])``."""
    x = np.asarray(x)
    n, c = x.shape[:2]
    inner = math.prod(x.shape[2:])
    idx = [[(b * c + ch) * inner + i for b in range(n) for i in range(inner)] for ch in range(c)]
    return n, c, idx


def _inv_std(var, eps):
    v = var + eps
    return 0.0 if v == 0 else 1.0 / math.sqrt(v)


def batch_norm_nd(
    x,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    relu=False,
):
    """``(y, mean, invstd, new_running_mean, new_running_var)``; the running statistics are
    returned updated (training) or unchanged (evaluation), ``None`` when not given."""
    x = np.asarray(x)
    _, c, idx = _channels(x)
    flat = [float(v) for v in x.reshape(-1)]
    y = [0.0] * len(flat)
    means, invstds = [], []
    new_rm = None if running_mean is None else [float(v) for v in np.ravel(running_mean)]
    new_rv = None if running_var is None else [float(v) for v in np.ravel(running_var)]
    for ch in range(c):
        vals = [flat[i] for i in idx[ch]]
        n = len(vals)
        if training:
            mean = sum(vals) / n
            var = sum((v - mean) ** 2 for v in vals) / n
            if new_rm is not None:
                unbiased = var * n / (n - 1) if n > 1 else math.nan
                new_rm[ch] = (1 - momentum) * new_rm[ch] + momentum * mean
                new_rv[ch] = (1 - momentum) * new_rv[ch] + momentum * unbiased
        else:
            mean, var = float(running_mean[ch]), float(running_var[ch])
        inv = _inv_std(var, eps)
        w = 1.0 if weight is None else float(weight[ch])
        b = 0.0 if bias is None else float(bias[ch])
        for i in idx[ch]:
            v = w * ((flat[i] - mean) * inv) + b
            y[i] = max(v, 0.0) if relu and not math.isnan(v) else v
        means.append(mean)
        invstds.append(inv)
    dt = x.dtype
    as_arr = lambda v: None if v is None else np.array(v, dt)  # noqa: E731
    return (
        np.array(y, dt).reshape(x.shape),
        np.array(means, dt),
        np.array(invstds, dt),
        as_arr(new_rm),
        as_arr(new_rv),
    )


def batch_norm_nd_backward(grad_output, x, weight, mean, invstd, training, relu_output=None):
    """``(grad_input, grad_weight, grad_bias)`` of :func:`batch_norm_nd` at ``x``, given the
    ``mean``/``invstd`` it used, by the chain rule through the full per-channel Jacobian."""
    x = np.asarray(x)
    _, c, idx = _channels(x)
    flat = [float(v) for v in x.reshape(-1)]
    g = [float(v) for v in np.asarray(grad_output).reshape(-1)]
    if relu_output is not None:
        ys = [float(v) for v in np.asarray(relu_output).reshape(-1)]
        g = [0.0 if yv <= 0 else gv for gv, yv in zip(g, ys)]
    gi = [0.0] * len(flat)
    gw, gb = [], []
    for ch in range(c):
        m, inv = float(mean[ch]), float(invstd[ch])
        w = 1.0 if weight is None else float(weight[ch])
        ids = idx[ch]
        n = len(ids)
        xhat = {i: (flat[i] - m) * inv for i in ids}
        for i in ids:
            total = 0.0
            for j in ids:
                if training:
                    d = (1.0 if i == j else 0.0) - 1.0 / n - xhat[i] * xhat[j] / n
                else:
                    d = 1.0 if i == j else 0.0
                total += g[j] * w * inv * d
            gi[i] = total
        gw.append(sum(g[i] * xhat[i] for i in ids))
        gb.append(sum(g[i] for i in ids))
    dt = x.dtype
    return np.array(gi, dt).reshape(x.shape), np.array(gw, dt), np.array(gb, dt)

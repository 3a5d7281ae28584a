"""The conv-layer table of ``python -m fastconv bench --grid nn``.

Each layer shape of :data:`LAYERS` is timed forward and forward+backward (grad input, weight
and bias) for fastconv (``fastconv.nn.functional``), PyTorch CPU when it is installed
(autograd, the same thread count) and a NumPy im2col baseline (``sliding_window_view`` and
``tensordot``: what one writes without either library), side by side in one run, each in
its own process, taking turns. Reported: medians, ratios against torch, GFLOP/s
and the fraction of this machine's float32 matrix-multiply peak, and the forward error
against a float64 computation. :func:`measure_memory` gives the peak memory of one
forward+backward against the bytes of the inputs, outputs and gradients themselves.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import numpy as np

from . import memory, timing


@dataclasses.dataclass(frozen=True)
class Layer:
    """One convolution layer's shape (NCL or NCHW input, cross-correlation weight)."""

    name: str
    batch: int
    c_in: int
    c_out: int
    size: tuple
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1

    @property
    def x_shape(self) -> tuple:
        return (self.batch, self.c_in, *self.size)

    @property
    def w_shape(self) -> tuple:
        return (self.c_out, self.c_in // self.groups) + (self.kernel,) * len(self.size)

    @property
    def out_size(self) -> tuple:
        return tuple((s + 2 * self.padding - self.kernel) // self.stride + 1 for s in self.size)

    @property
    def forward_flops(self) -> float:
        """2 * multiply-adds of the forward pass (each backward product costs the same)."""
        macs = self.batch * self.c_out * math.prod(self.out_size)
        return 2.0 * macs * (self.c_in // self.groups) * self.kernel ** len(self.size)


#: The issue's table: LeNet, a ResNet stem/block/downsample, depthwise and two 1-D layers.
LAYERS = (
    Layer("LeNet conv1", 64, 1, 6, (28, 28), 5),
    Layer("LeNet conv2", 64, 6, 16, (12, 12), 5),
    Layer("stem", 64, 3, 32, (32, 32), 3, padding=1),
    Layer("ResNet block", 64, 64, 64, (32, 32), 3, padding=1),
    Layer("downsample", 64, 32, 64, (16, 16), 3, stride=2, padding=1),
    Layer("depthwise", 64, 32, 32, (32, 32), 3, padding=1, groups=32),
    Layer("1-D first", 128, 1, 32, (40,), 5, padding=2),
    Layer("1-D deep", 128, 32, 64, (256,), 7, padding=3),
)

#: Largest accepted forward error of float32 against float64, relative to the output's largest
#: magnitude: each output sums at most 64 * 9 = 576 products, whose float32 rounding errors
#: grow like sqrt(576) * 2^-24 ~ 1.5e-6 typically; 1e-4 leaves room for blocked sums.
MAX_ERROR = 1e-4

#: The layer whose forward+backward peak memory is measured.
MEMORY_LAYER = "ResNet block"


def make_inputs(layer: Layer, dtype=np.float32, seed: int = 0):
    """Input, weight, bias and an upstream gradient for `layer`."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(layer.x_shape).astype(dtype)
    fan_in = math.prod(layer.w_shape[1:])
    w = (rng.standard_normal(layer.w_shape) / math.sqrt(fan_in)).astype(dtype)
    b = rng.standard_normal(layer.c_out).astype(dtype)
    g = rng.standard_normal((layer.batch, layer.c_out, *layer.out_size)).astype(dtype)
    return x, w, b, g


# ----------------------------------------------------------------------------- fastconv


def fastconv_impl(layer: Layer, x, w, b, g):
    """(forward, forward+backward) callables of fastconv.nn.functional."""
    import fastconv.nn.functional as F

    conv = F.conv1d if len(layer.size) == 1 else F.conv2d
    back = F.conv1d_backward if len(layer.size) == 1 else F.conv2d_backward
    kw = dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)

    def forward():
        return conv(x, w, b, **kw)

    def forward_backward():
        conv(x, w, b, **kw)
        return back(g, x, w, output_mask=(True, True, True), **kw)

    return forward, forward_backward


# -------------------------------------------------------------------------------- torch


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_impl(layer: Layer, x, w, b, g):
    """(forward, forward+backward) callables of torch.nn.functional with autograd."""
    import torch

    conv = torch.nn.functional.conv1d if len(layer.size) == 1 else torch.nn.functional.conv2d
    kw = dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, b))
    tg = torch.from_numpy(g.copy())

    def forward():
        with torch.no_grad():
            return conv(tx, tw, tb, **kw)

    def forward_backward():
        tx.grad = tw.grad = tb.grad = None
        y = conv(tx, tw, tb, **kw)
        y.backward(tg)
        return tx.grad, tw.grad, tb.grad

    return forward, forward_backward


# ------------------------------------------------------------------- NumPy im2col baseline


def _windows(xp, layer: Layer):
    """(N, C, *O, *K) strided view of the padded input: the im2col matrix, unmaterialised."""
    d = len(layer.size)
    win = np.lib.stride_tricks.sliding_window_view(xp, (layer.kernel,) * d, axis=range(2, 2 + d))
    step = (slice(None), slice(None)) + (slice(None, None, layer.stride),) * d
    return win[step]


def _pad(x, layer: Layer):
    d = len(layer.size)
    return np.pad(x, ((0, 0), (0, 0)) + ((layer.padding, layer.padding),) * d)


def numpy_forward(layer: Layer, x, w, b):
    """im2col + tensordot forward (groups as a batch of independent convolutions)."""
    d, gr = len(layer.size), layer.groups
    win = _windows(_pad(x, layer), layer)  # N, C, *O, *K
    n, c = win.shape[:2]
    win = win.reshape(n, gr, c // gr, *win.shape[2:])
    wg = w.reshape(gr, layer.c_out // gr, *w.shape[1:])
    # y[n, g, o, *O] = sum_{c, K} win[n, g, c, *O, *K] w[g, o, c, *K]
    y = np.einsum(
        win,
        [0, 1, 2, *range(10, 10 + d), *range(20, 20 + d)],
        wg,
        [1, 3, 2, *range(20, 20 + d)],
        [0, 1, 3, *range(10, 10 + d)],
        optimize=True,
    )
    y = y.reshape(n, layer.c_out, *layer.out_size)
    return y + b.reshape(1, -1, *(1,) * d)


def numpy_backward(layer: Layer, x, w, g):
    """Weight gradient by tensordot with the windows; input gradient as the full
    correlation of the zero-dilated upstream gradient with the flipped, transposed weight."""
    d, gr, s, k, p = len(layer.size), layer.groups, layer.stride, layer.kernel, layer.padding
    n = x.shape[0]
    win = _windows(_pad(x, layer), layer)
    cg, og = layer.c_in // gr, layer.c_out // gr
    win = win.reshape(n, gr, cg, *win.shape[2:])
    gg = g.reshape(n, gr, og, *layer.out_size)
    gw = np.einsum(
        gg,
        [0, 1, 3, *range(10, 10 + d)],
        win,
        [0, 1, 2, *range(10, 10 + d), *range(20, 20 + d)],
        [1, 3, 2, *range(20, 20 + d)],
        optimize=True,
    )
    gw = gw.reshape(w.shape)
    gb = g.sum(axis=(0, *range(2, 2 + d)))
    # Dilate g by the stride, pad by k - 1 - p, correlate with the flipped weight.
    padded_size = tuple(si + 2 * p for si in layer.size)
    dil = np.zeros((n, layer.c_out, *(sz - k + 1 for sz in padded_size)), dtype=g.dtype)
    dil[(slice(None), slice(None)) + (slice(None, None, s),) * d] = g
    dp = np.pad(dil, ((0, 0), (0, 0)) + ((k - 1, k - 1),) * d)
    wins = np.lib.stride_tricks.sliding_window_view(dp, (k,) * d, axis=range(2, 2 + d))
    wins = wins.reshape(n, gr, og, *wins.shape[2:])
    wf = np.flip(w, axis=tuple(range(2, 2 + d))).reshape(gr, og, cg, *w.shape[2:])
    gi = np.einsum(
        wins,
        [0, 1, 3, *range(10, 10 + d), *range(20, 20 + d)],
        wf,
        [1, 3, 2, *range(20, 20 + d)],
        [0, 1, 2, *range(10, 10 + d)],
        optimize=True,
    )
    gi = gi.reshape(n, layer.c_in, *padded_size)
    crop = (slice(None), slice(None)) + tuple(slice(p, p + si) for si in layer.size)
    return np.ascontiguousarray(gi[tuple(crop)]), gw, gb


def numpy_impl(layer: Layer, x, w, b, g):
    """(forward, forward+backward) callables of the NumPy baseline."""

    def forward():
        return numpy_forward(layer, x, w, b)

    def forward_backward():
        numpy_forward(layer, x, w, b)
        return numpy_backward(layer, x, w, g)

    return forward, forward_backward


# ----------------------------------------------------------------------------- the table


@dataclasses.dataclass
class LayerResult:
    """Medians (seconds) per implementation and pass, and fastconv's forward error."""

    layer: Layer
    forward: dict
    forward_backward: dict
    error: float

    def to_dict(self) -> dict:
        return {
            "layer": dataclasses.asdict(self.layer),
            "forward_s": self.forward,
            "forward_backward_s": self.forward_backward,
            "error": self.error,
        }


def _relative_error(got, want) -> float:
    scale = float(np.max(np.abs(want))) or 1.0
    return float(np.max(np.abs(np.asarray(got, np.float64) - want))) / scale


_IMPLS = {"fastconv": fastconv_impl, "numpy": numpy_impl, "torch": torch_impl}

_TIMING_CHILD = (
    "import sys; from fastconv._bench.nn_bench import _timing_child; _timing_child(sys.argv[1])"
)


def _timing_child(arg: str) -> None:
    """Subprocess body: median seconds of one implementation on every layer, as JSON."""
    import fastconv

    spec = json.loads(arg)
    name, threads = spec["impl"], spec["threads"]
    if name == "torch":
        import torch

        torch.set_num_threads(threads)
    out = []
    with fastconv.threads(threads):
        for layer in LAYERS:
            x, w, b, g = make_inputs(layer)
            fns = _IMPLS[name](layer, x, w, b, g)
            row = {}
            for which, fn in zip(("forward", "forward_backward"), fns):
                row[which] = timing.time_one(fn, **spec["settings"]).median_s
            if name == "fastconv":
                want = numpy_forward(layer, *(a.astype(np.float64) for a in (x, w, b)))
                row["error"] = _relative_error(fns[0](), want)
            out.append(row)
    print(json.dumps(out))


def _time_in_subprocess(name: str, threads: int, settings: dict) -> list:
    import fastconv

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    spec = {"impl": name, "threads": threads, "settings": settings}
    done = subprocess.run(
        [sys.executable, "-c", _TIMING_CHILD, json.dumps(spec)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"timing {name} failed: {tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(threads: int, quick: bool = False, progress=None, rounds: int | None = None) -> list:
    """Time every layer of :data:`LAYERS` for every available implementation.

    Each implementation runs in its own subprocess (PyTorch's OpenMP workers spin after each
    operation and would steal the cores from fastconv's threads, and the reverse, if they
    shared a process), and the implementations take turns for ``rounds`` rounds (default 1
    with ``quick``, else 2) so that both see the same machine load; a layer's figure is the
    lowest of its per-round medians. The NumPy baseline runs in the first round only.
    """
    settings = {
        "budget_s": 0.1 if quick else 0.3,
        "min_samples": 3 if quick else 5,
        "max_samples": 200,
    }
    rounds = rounds or (1 if quick else 2)
    names = ["fastconv"] + (["torch"] if torch_available() else [])
    per_impl: dict = {}
    for r in range(rounds):
        for name in names + (["numpy"] if r == 0 else []):
            if progress is not None:
                progress(f"[nn round {r + 1}/{rounds}] {name}")
            rows = _time_in_subprocess(name, threads, settings)
            if name not in per_impl:
                per_impl[name] = rows
            else:
                for kept, new in zip(per_impl[name], rows):
                    for key in ("forward", "forward_backward"):
                        kept[key] = min(kept[key], new[key])
    results = []
    for i, layer in enumerate(LAYERS):
        fwd = {name: rows[i]["forward"] for name, rows in per_impl.items()}
        fb = {name: rows[i]["forward_backward"] for name, rows in per_impl.items()}
        results.append(LayerResult(layer, fwd, fb, per_impl["fastconv"][i]["error"]))
    return results


def _ms(s) -> str:
    return "-" if s is None else f"{s * 1e3:9.2f}"


def _ratio(peer, ours) -> str:
    return "-" if peer is None or not ours else f"{peer / ours:6.2f}x"


def format_table(results: list, peak: dict | None, threads: int) -> str:
    """The side-by-side table: ms per call, peer/fastconv ratios, GFLOP/s, %peak, error."""
    pk = (peak or {}).get("float32")
    head = (
        f"conv layers, float32, {threads} thread(s): ms per call (median); ratio = peer time / "
        "fastconv time (>1: fastconv faster)\n"
        f"{'layer':<13}{'fc fwd':>9}{'torch':>9}{'ratio':>8}{'numpy':>9}{'ratio':>8}"
        f"{'fc f+b':>9}{'torch':>9}{'ratio':>8}{'numpy':>9}{'ratio':>8}"
        f"{'GFLOP/s':>9}{'%peak':>7}{'f+b GF/s':>9}{'err':>9}"
    )
    lines = [head]
    for r in results:
        f, fb = r.forward, r.forward_backward
        gf = r.layer.forward_flops / f["fastconv"] / 1e9
        gfb = 3 * r.layer.forward_flops / fb["fastconv"] / 1e9
        pct = f"{100 * gf / pk:6.1f}%" if pk else "     -"
        lines.append(
            f"{r.layer.name:<13}{_ms(f['fastconv'])}{_ms(f.get('torch'))}"
            f"{_ratio(f.get('torch'), f['fastconv']):>8}{_ms(f.get('numpy'))}"
            f"{_ratio(f.get('numpy'), f['fastconv']):>8}"
            f"{_ms(fb['fastconv'])}{_ms(fb.get('torch'))}"
            f"{_ratio(fb.get('torch'), fb['fastconv']):>8}{_ms(fb.get('numpy'))}"
            f"{_ratio(fb.get('numpy'), fb['fastconv']):>8}"
            f"{gf:9.1f}{pct:>7}{gfb:9.1f}{r.error:9.1e}"
        )
    if pk:
        lines.append(
            f"%peak: fastconv forward GFLOP/s over the float32 matmul peak ({pk:.0f} "
            "GFLOP/s); f+b GF/s counts 3 forward-sized products"
        )
    if not any("torch" in r.forward for r in results):
        lines.append("torch is not installed: the torch columns are empty")
    return "\n".join(lines)


# ------------------------------------------------------------------------- peak memory

_CHILD = (
    "import sys; from fastconv._bench.nn_bench import _memory_child; _memory_child(sys.argv[1])"
)


def _memory_child(arg: str) -> None:
    """Subprocess body: one forward+backward of the named layer, peak RSS growth as JSON."""
    import gc

    import fastconv

    spec = json.loads(arg)
    layer = next(la for la in LAYERS if la.name == spec["layer"])
    x, w, b, g = make_inputs(layer)
    impl = fastconv_impl if spec["impl"] == "fastconv" else torch_impl
    with fastconv.threads(spec["threads"]):
        if spec["impl"] == "torch":
            import torch

            torch.set_num_threads(spec["threads"])
        _, fb = impl(layer, x, w, b, g)
        gc.collect()
        reset = memory._reset_peak()
        before = memory._status_kib("VmRSS")
        grads = fb()
        after = memory._status_kib("VmHWM")
    del grads
    ok = reset and before is not None and after is not None
    held = sum(a.nbytes for a in (x, w, b, g))
    out = {"growth_mib": (after - before) / 1024 if ok else None, "held_mib": held / 2**20}
    print(json.dumps(out))


def measure_memory(threads: int, impl: str = "fastconv") -> dict:
    """Peak memory of one forward+backward of :data:`MEMORY_LAYER` in a fresh process.

    Returns ``peak_mib`` (growth during the call plus the inputs and upstream gradient held
    before it), ``own_mib`` (inputs + output + gradients: x, w, b, y, grad_y, grad_x, grad_w,
    grad_b) and their ``ratio``; or ``error``.
    """
    import fastconv

    layer = next(la for la in LAYERS if la.name == MEMORY_LAYER)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    spec = {"layer": layer.name, "impl": impl, "threads": threads}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(spec)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    res = json.loads(done.stdout.strip().splitlines()[-1])
    if res["growth_mib"] is None:
        return {"error": "needs Linux's /proc/self/status and clear_refs"}
    item = 4 / 2**20
    x, w = math.prod(layer.x_shape), math.prod(layer.w_shape)
    y = layer.batch * layer.c_out * math.prod(layer.out_size)
    own = (2 * x + 2 * w + 2 * layer.c_out + 2 * y) * item
    peak = res["growth_mib"] + res["held_mib"]
    return {
        "impl": impl,
        "layer": layer.name,
        "peak_mib": peak,
        "own_mib": own,
        "ratio": peak / own,
    }


def format_memory(rows: list) -> str:
    """One line per implementation: peak MiB against the arrays' own MiB."""
    lines = [f"peak memory of one forward+backward ({MEMORY_LAYER}, float32)"]
    for m in rows:
        if "error" in m:
            lines.append(f"  {m.get('impl', '?')}: not measured ({m['error']})")
        else:
            lines.append(
                f"  {m['impl']:<9} peak {m['peak_mib']:7.1f} MiB, inputs+outputs+gradients "
                f"{m['own_mib']:6.1f} MiB: {m['ratio']:.2f}x"
            )
    return "\n".join(lines)

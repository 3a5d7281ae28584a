"""fastconv.dask on a real dask.distributed cluster (2 worker processes) against in-memory fastconv.

Every result computed chunk by chunk on the cluster is compared with the in-memory fastconv
function on the whole array: same dtype and shape, integers identical, floats within the
bound of :mod:`strategies` (``c * eps * K * sum |x| |w|``, plus the FFT's normwise bound twice
where either side may have used an FFT: the chunks' ``method='auto'`` can choose differently
from the whole array's). Chunkings do not divide the data evenly, kernels are longer than a
chunk (and than the signal), every mode and every ``scipy.ndimage`` boundary mode is run.

One module-scoped ``LocalCluster`` (2 processes, 1 thread each, 200 MiB per worker) serves
every test, including one that convolves a 600 MB signal, three times one worker's memory
limit, and reduces it chunk by chunk.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastconv.dask as fd  # noqa: E402
from fastconv import ndimage as fnd  # noqa: E402
from fastconv import signal as fs  # noqa: E402
from strategies import assert_matches, fft_slack, taps, tolerance  # noqa: E402

WORKER_MEMORY = 200 * 2**20


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread and 200 MiB each; closed after the module."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=WORKER_MEMORY,
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def run(client, array):
    """Compute a dask array on the cluster (never on the local scheduler)."""
    return client.compute(array).result()


def values(shape, dtype, seed):
    """Small integers (exact float results) for integer dtypes, normal samples otherwise."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-50, 50, shape).astype(dtype)
    out = rng.standard_normal(shape)
    if dtype.kind == "c":
        out = out + 1j * rng.standard_normal(shape)
    return out.astype(dtype)


# --------------------------------------------------------------------------------------
# scipy.signal functions
# --------------------------------------------------------------------------------------

# id: (signal shape, chunks, kernel shape, axes, dtype)
SIGNAL_CASES = {
    "1d-uneven-chunks": ((101,), ((7, 30, 13, 51),), (5,), None, "float64"),
    "1d-even-kernel": ((101,), (10,), (4,), None, "float32"),
    "1d-kernel-longer-than-chunk": ((120,), (9,), (31,), None, "float64"),
    "1d-kernel-longer-than-signal": ((40,), (7,), (55,), None, "float64"),
    "1d-int16": ((90,), (11,), (6,), None, "int16"),
    "2d-uneven-chunks": ((37, 45), ((10, 20, 7), (8, 16, 21)), (5, 4), None, "float64"),
    "2d-kernel-longer-than-chunks": ((30, 40), (6, 7), (9, 12), None, "complex128"),
    "3d-axes": ((5, 33, 28), (2, 8, 9), (1, 6, 5), (1, 2), "float64"),
    "kernel-per-row": ((6, 50), (4, 11), (6, 7), -1, "float64"),
    "signal-row-broadcast": ((1, 50), (1, 11), (3, 7), 1, "float64"),
}
SIGNAL_FUNCS = ("convolve", "correlate", "fftconvolve", "oaconvolve")
MODES = ("full", "same", "valid")


def check_signal(got, want, x, w, name, mode, axes):
    """``got`` against the in-memory ``want`` by the comparison rule of :mod:`strategies`."""
    if want.dtype.kind not in "fc":
        assert_matches(got, want)
        return
    conv = range(x.ndim) if axes is None else [a % x.ndim for a in np.atleast_1d(axes)]
    k = taps([x.shape[a] for a in conv], [w.shape[a] for a in conv])
    mags = (np.abs(x.astype(np.complex128)), np.abs(w.astype(np.complex128)))
    if name in ("fftconvolve", "oaconvolve"):
        scale = np.maximum(fs.fftconvolve(*mags, mode, axes), 0.0)
    else:
        scale = fs.convolve(*mags, mode, "direct", axes=axes).real
    assert_matches(got, want, k=k, scale=scale, atol=2 * fft_slack(x, w, axes, want.dtype))


def compare_all(client, lazies, checks):
    """Compute every lazy result in one round trip; run each check, report every failure."""
    results = client.gather(client.compute(lazies))
    failures = []
    for (label, check), lazy, got in zip(checks, lazies, results):
        try:
            check(lazy, got)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", list(SIGNAL_CASES), ids=list(SIGNAL_CASES))
def test_signal_functions_match_in_memory(client, case):
    """Every function and mode of one case, computed on the cluster in one round trip."""
    shape, chunks, kshape, axes, dtype = SIGNAL_CASES[case]
    x = values(shape, dtype, 1)
    w = values(kshape, dtype, 2)
    xd = da.from_array(x, chunks=chunks)
    lazies, checks = [], []
    for name in SIGNAL_FUNCS:
        for mode in MODES:
            want = getattr(fs, name)(x, w, mode, axes=axes)

            def check(lazy, got, want=want, name=name, mode=mode):
                assert lazy.shape == want.shape and lazy.dtype == want.dtype
                check_signal(got, want, x, w, name, mode, axes)

            lazies.append(getattr(fd, name)(xd, w, mode, axes=axes))
            checks.append((f"{name} {mode}", check))
    compare_all(client, lazies, checks)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_convolve_methods_and_threads_match_in_memory(client, method):
    x = values((3, 200), "float32", 3)
    w = values((1, 17), "float32", 4)
    want = fs.convolve(x, w, "same", method)
    lazy = fd.convolve(da.from_array(x, chunks=(2, 23)), w, "same", method, workers=2)
    check_signal(run(client, lazy), want, x, w, "convolve", "same", None)


def test_signal_argument_errors_are_the_in_memory_ones():
    x = da.ones((20, 20), chunks=7)
    w = np.ones((3, 3))
    for kwargs, exc in [
        (dict(mode="middle"), ValueError),
        (dict(axes=5), ValueError),
        (dict(method="magic"), ValueError),
        (dict(workers=0), ValueError),
    ]:
        with pytest.raises(exc):
            fs.convolve(np.ones((20, 20)), w, **kwargs)
        with pytest.raises(exc):
            fd.convolve(x, w, **kwargs)
    with pytest.raises(ValueError):
        fd.convolve(x, np.ones((30, 3)), "valid")  # neither input larger on every axis
    with pytest.raises(ValueError):
        fd.convolve(x, np.ones(3))  # different ndim
    unknown = da.from_array(np.arange(30.0), chunks=7)
    unknown = unknown[unknown > 3.5]  # chunk sizes unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        fd.convolve(unknown, np.ones(3))


def test_numpy_and_empty_inputs():
    x = values((50,), "float64", 5)
    w = values((4,), "float64", 6)
    got = fd.correlate(x, w, "same").compute(scheduler="sync")
    assert_matches(got, fs.correlate(x, w, "same"), k=4, scale=np.abs(x).sum() * np.abs(w).sum())
    empty = fd.convolve(da.zeros((0, 5), chunks=2), np.ones((1, 2)), "full")
    assert_matches(empty.compute(scheduler="sync"), fs.convolve(np.zeros((0, 5)), np.ones((1, 2))))
    with pytest.raises(ValueError):  # as in memory: the zero-padded buffer cannot hold in1
        fd.convolve(da.zeros((0, 5), chunks=2), np.ones((2, 2)), "full")


# --------------------------------------------------------------------------------------
# the graph: exact halo, kernel once
# --------------------------------------------------------------------------------------


def test_kernel_is_one_key_of_the_graph():
    w = np.linspace(-1.0, 1.0, 8192)  # 64 KiB: a copy per chunk would show
    x = da.ones(400_000, chunks=25_000)
    y = fd.convolve(x, w, "same")
    graph = dict(y.__dask_graph__())
    sizes = {key: len(pickle.dumps(task)) for key, task in graph.items()}
    big = [key for key, size in sizes.items() if size >= w.nbytes]
    assert len(big) == 1, f"{len(big)} keys hold the kernel"
    (kernel_key,) = big
    deps = y.__dask_graph__().get_all_dependencies()
    assert all(kernel_key in deps[key] for key in y.__dask_keys__()), "a chunk misses the kernel"
    assert y.numblocks == (16,)


def extended_length(block, kernel, windows, native):
    """A spy chunk function: each output holds the length of the extended chunk."""
    ((_, _, length, _, _),) = windows
    return np.full(length, block.shape[0])


@pytest.mark.parametrize(
    ("mode", "left", "right"), [("same", 3, 3), ("full", 6, 0), ("valid", 0, 6)]
)
def test_chunks_overlap_by_exactly_the_halo(mode, left, right):
    from fastconv import _core
    from fastconv.dask._engine import AxisPlan, halo_map

    start, m = _core.axis_geometry(100, 7, mode)  # k = 7
    assert (-start, start + 6) == (left, right)
    x = da.ones(100, chunks=((20, 30, 50),))
    plan = {0: AxisPlan(k=7, start=start, m=m, offset=6)}
    got = halo_map(x, np.ones(7), plan, extended_length, np.int64).compute(scheduler="sync")
    sizes = [int(b[0]) for b in np.split(got, np.cumsum(output_sizes(m))[:-1])]
    # Each chunk is extended by the halo, except beyond the array's edges.
    assert sizes == [20 + right, 30 + left + right, 50 + left]


def output_sizes(m):
    return [20, 30, m - 50]


# --------------------------------------------------------------------------------------
# scipy.ndimage filters
# --------------------------------------------------------------------------------------

ND_MODES = (
    "reflect",
    "constant",
    "nearest",
    "mirror",
    "wrap",
    "grid-constant",
    "grid-mirror",
    "grid-wrap",
)
# id: (input shape, chunks, weights shape, origin, axes, dtype)
ND_CASES = {
    "2d-uneven-chunks": ((40, 37), ((5, 20, 15), (30, 7)), (3, 4), 0, None, "float64"),
    "2d-even-origin": ((40, 37), (9, 10), (5, 2), (1, -1), None, "float32"),
    "2d-kernel-longer-than-chunks": ((30, 31), (6, 5), (9, 12), (-2, 3), None, "float64"),
    "1d-kernel-longer-than-input": ((25,), (4,), (30,), 0, None, "float64"),
    "3d-axes": ((4, 30, 29), (2, 7, 8), (5, 6), (1, -1), (1, 2), "float64"),
    "int32-exact": ((33, 34), (8, 9), (3, 3), 0, None, "int32"),
}


def check_ndimage(got, want, x, w, mode, cval, axes=None):
    if want.dtype.kind not in "fc":
        assert_matches(got, want)
        return
    ax = np.abs(x.astype(np.float64))
    scale = fnd.correlate(ax, np.abs(w), mode=mode, cval=abs(cval), axes=axes)
    rounding = 2 * np.finfo(want.dtype).eps * np.abs(want)
    allowed = tolerance(np.float64, w.size, scale) + rounding
    assert got.dtype == want.dtype and got.shape == want.shape
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert (err <= allowed).all(), f"max error {err.max():.3g}"


@pytest.mark.parametrize("case", list(ND_CASES), ids=list(ND_CASES))
def test_ndimage_filters_match_in_memory(client, case):
    """correlate and convolve in every boundary mode, one case, one round trip."""
    shape, chunks, wshape, origin, axes, dtype = ND_CASES[case]
    x = values(shape, dtype, 7)
    w = values(wshape, dtype, 8).astype(np.float64)
    xd = da.from_array(x, chunks=chunks)
    lazies, checks = [], []
    for name in ("correlate", "convolve"):
        for mode in ND_MODES:
            kwargs = dict(mode=mode, cval=1.5, origin=origin, axes=axes)
            want = getattr(fnd, name)(x, w, **kwargs)

            def check(lazy, got, want=want, mode=mode):
                assert lazy.shape == want.shape and lazy.dtype == want.dtype
                check_ndimage(got, want, x, w, mode, 1.5, axes)

            lazies.append(getattr(fd.ndimage, name)(xd, w, **kwargs))
            checks.append((f"{name} {mode}", check))
    compare_all(client, lazies, checks)


@pytest.mark.parametrize("name", ["correlate1d", "convolve1d"])
def test_ndimage_1d_filters_match_in_memory(client, name):
    x = values((41, 30), "float64", 9)
    w = values((6,), "float64", 10)
    xd = da.from_array(x, chunks=(9, 7))
    lazies, checks = [], []
    for mode in ND_MODES:
        kwargs = dict(axis=0, mode=mode, cval=-2.0, origin=-3, output=np.float32)
        want = getattr(fnd, name)(x, w, **kwargs)

        def check(lazy, got, want=want, mode=mode):
            check_ndimage(got, want, x, w.reshape(-1, 1), mode, -2.0)

        lazies.append(getattr(fd.ndimage, name)(xd, w, **kwargs))
        checks.append((mode, check))
    compare_all(client, lazies, checks)


def test_ndimage_aliases_and_errors():
    x = da.ones((20, 20), chunks=7)
    assert fd.ndimage_convolve is fd.ndimage.convolve
    assert fd.ndimage_correlate is fd.ndimage.correlate
    with pytest.raises(ValueError):
        fd.ndimage.correlate(x, np.ones((3, 3)), origin=2)  # outside the filter
    with pytest.raises(RuntimeError):
        fd.ndimage.correlate(x, np.ones((3, 3)), mode="bounce")
    with pytest.raises(RuntimeError):
        fd.ndimage.convolve(x, np.ones(3))  # weights of the wrong ndim
    with pytest.raises(TypeError):
        fd.ndimage.convolve(x, np.ones((3, 3)), output=np.zeros((20, 20)))


# --------------------------------------------------------------------------------------
# larger than a worker's memory
# --------------------------------------------------------------------------------------


def test_signal_larger_than_worker_memory_is_reduced_chunk_by_chunk(client):
    n, chunk, k = 150_000_000, 2_000_000, 15
    x = da.random.default_rng(11).random(n, chunks=chunk, dtype=np.float32)
    assert x.nbytes > 2 * WORKER_MEMORY  # more than both workers together hold
    w = np.random.default_rng(12).random(k).astype(np.float32)
    y = fd.convolve(x, w, "full")
    assert y.shape == (n + k - 1,) and y.dtype == np.float32
    # sum(x * w) over the full convolution is sum(x) * sum(w) (every product once).
    total, signal_sum, edge, tail = client.compute(
        [
            y.sum(dtype=np.float64),
            x.sum(dtype=np.float64),
            y[chunk - 40 : chunk + 40],
            y[-30:],
        ]
    ).__iter__()
    total, signal_sum = total.result(), signal_sum.result()
    assert math.isclose(total, signal_sum * float(w.astype(np.float64).sum()), rel_tol=1e-6)
    near = run(client, x[chunk - 40 - (k - 1) : chunk + 40])
    assert_matches(
        edge.result(), fs.convolve(near, w, "valid"), k=k, scale=fs.convolve(near, w, "valid")
    )
    last = run(client, x[-30:])
    assert_matches(tail.result(), fs.convolve(last, w, "full")[-30:], k=k, scale=1.0)


# --------------------------------------------------------------------------------------
# nn inference, data parallel
# --------------------------------------------------------------------------------------


def reference_conv(x, w, b, stride, padding, dilation, groups):
    """``torch.nn.functional.convNd`` by its definition (zero padding), with einsum."""
    nd = x.ndim - 2
    pads = ((0, 0), (0, 0)) + ((padding, padding),) * nd
    xp = np.pad(x.astype(np.float64), pads)
    spans = [dilation * (k - 1) + 1 for k in w.shape[2:]]
    win = np.lib.stride_tricks.sliding_window_view(xp, spans, axis=tuple(range(2, 2 + nd)))
    index = (slice(None),) * 2 + (slice(None, None, stride),) * nd
    index += (slice(None, None, dilation),) * nd
    win = win[index]  # N, C, *out, *k
    n, c = x.shape[:2]
    o = w.shape[0]
    out_shape = win.shape[2 : 2 + nd]
    win = win.reshape((n, groups, c // groups) + win.shape[2:])
    wg = w.astype(np.float64).reshape((groups, o // groups) + w.shape[1:])
    letters = "hwd"[:nd]
    kl = "ijk"[:nd]
    out = np.einsum(f"ngc{letters}{kl},goc{kl}->ngo{letters}", win, wg)
    out = out.reshape((n, o) + out_shape)
    return out if b is None else out + b.reshape((1, o) + (1,) * nd)


@pytest.mark.parametrize(
    ("name", "xshape", "wshape", "params"),
    [
        # params: stride, padding, dilation, groups
        ("conv1d", (11, 4, 40), (6, 2, 5), (2, 1, 2, 2)),
        ("conv2d", (9, 3, 12, 13), (5, 3, 3, 4), (1, 2, 1, 1)),
        ("conv2d", (7, 4, 10, 9), (4, 1, 3, 3), (2, 0, 1, 4)),
    ],
)
def test_nn_convolutions_over_a_chunked_batch(client, name, xshape, wshape, params):
    functional = pytest.importorskip("fastconv.nn.functional")
    if not hasattr(functional, name):
        pytest.skip(f"fastconv.nn.functional.{name} not available")
    x = values(xshape, "float32", 13)
    w = values(wshape, "float32", 14)
    b = values((wshape[0],), "float32", 15)
    lazy = getattr(fd, name)(da.from_array(x, chunks=(3,) + xshape[1:]), w, b, *params)
    got = run(client, lazy)
    want = reference_conv(x, w, b, *params)
    assert lazy.numblocks[0] == math.ceil(xshape[0] / 3)
    assert got.shape == want.shape and got.dtype == np.float32
    k = int(np.prod(wshape[1:])) + 1  # taps and the bias
    scale = reference_conv(np.abs(x), np.abs(w), np.abs(b), *params)
    assert_matches(got, want.astype(np.float32), k=k, scale=scale)
    assert_matches(got, getattr(functional, name)(x, w, b, *params), k=k, scale=scale)

"""fastconv.dask against the in-memory call, side by side (pytest-benchmark).

One group per case: the in-memory fastconv call (one thread), ``fastconv.dask`` on the local
threaded scheduler, and ``fastconv.dask`` on a ``LocalCluster`` of two worker processes (one
thread each, the input persisted on the workers). Every implementation's result is reduced to
its sum on the side that computed it, so no result crosses the network, and the sum is checked
against the in-memory one.

Timed run::

    pytest benches/bench_dask.py --benchmark-enable --benchmark-group-by=group

The project config passes ``--benchmark-disable``: each test then runs once, as a smoke test.
``python -m fastconv.dask bench`` prints the scaling table (1 and 2 workers, overhead per
chunk).
"""

import math

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastconv.dask as fd  # noqa: E402
from fastconv import ndimage, signal  # noqa: E402

# Small enough that the smoke run of the whole file takes a few seconds.
CASES = {
    "1d-2M-k63-same": ((1 << 21,), (1 << 19,), (63,)),
    "2d-1024-9x9-ndimage": ((1024, 1024), (256, 1024), (9, 9)),
}


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


def inputs(case):
    shape, _, kshape = CASES[case]
    rng = np.random.default_rng(0)
    return rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(kshape).astype(
        np.float32
    )


def in_memory(case, x, w):
    if x.ndim == 1:
        return signal.convolve(x, w, "same", workers=1)
    return ndimage.correlate(x, w, workers=1)


def lazy(case, xd, w):
    if xd.ndim == 1:
        return fd.convolve(xd, w, "same")
    return fd.ndimage.correlate(xd, w)


@pytest.mark.parametrize("impl", ["in-memory", "dask-threads", "dask-2-processes"])
@pytest.mark.parametrize("case", list(CASES))
def test_dask(benchmark, client, case, impl):
    x, w = inputs(case)
    chunks = CASES[case][1]
    benchmark.group = f"dask {case}"
    if impl == "in-memory":
        fn = lambda: float(in_memory(case, x, w).sum(dtype=np.float64))  # noqa: E731
    elif impl == "dask-threads":
        y = lazy(case, da.from_array(x, chunks=chunks), w).sum(dtype=np.float64)
        fn = lambda: float(y.compute(scheduler="threads"))  # noqa: E731
    else:
        xd = client.persist(da.from_array(x, chunks=chunks))
        y = lazy(case, xd, w).sum(dtype=np.float64)
        fn = lambda: float(client.compute(y).result())  # noqa: E731
    got = benchmark(fn)
    want = float(in_memory(case, x, w).sum(dtype=np.float64))
    bound = 1e-5 * float(np.abs(x).sum(dtype=np.float64)) * float(np.abs(w).sum())
    assert math.isfinite(got) and abs(got - want) <= bound, (got, want)

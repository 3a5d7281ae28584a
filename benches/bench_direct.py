"""fastconv's direct convolution against its peers, side by side (pytest-benchmark).

Each case is one benchmark group holding every fastconv entry point that applies to it and
every peer: numpy.convolve, scipy.signal.convolve(method="direct"), scipy.signal.convolve2d,
scipy.ndimage.convolve (mode "same" only) and torch (skipped when not installed).

Timed run::

    pytest benches --benchmark-enable --benchmark-group-by=group

The project config passes ``--benchmark-disable``: each test then calls its implementation
once, as a smoke test. Either way every test asserts its result against a float64 reference:
``rel_err = max|out - ref| / (|x| * |h|)`` (error relative to the sum of the magnitudes of
the products behind each output) must not exceed ``4 * prod(kshape) * eps(dtype)`` (about
5e-6 for float32 with k=11, 2e-14 for float64 with k=25), the bound on any summation order;
see ``fastconv._bench.cases.tolerance``. The error lands in ``benchmark.extra_info``.

``fastconv.numpy.convolve`` has no ``method=`` and picks the direct sum or an FFT by cost
(``method="auto"``, as ``scipy.signal.convolve``), so its result is also accepted within the
FFT error bound, ``max|out - ref| / (||x||_2 ||h||_2) <= 16 (eps + eps64) log2(n + k - 1)``
(``fastconv._bench.cases.fft_tolerance``; both errors land in ``extra_info``): an FFT's
rounding error is spread evenly over the outputs, so it can exceed ``4 k eps`` times the
small ``sum|products|`` of an edge output while being correct.
"""

import numpy as np
import pytest
from fastconv._bench.cases import (
    Case,
    fft_tolerance,
    make_inputs,
    norm_scale,
    reference,
    rel_err,
    tolerance,
)
from fastconv._bench.peers import IMPLS, peers_for, variants_for

# Small enough that the smoke run of the whole file takes a few seconds.
CASES = [
    Case((1_000,), (3,), "float32"),
    Case((1_000,), (3,), "float64"),
    Case((20_000,), (11,), "float32"),
    Case((20_000,), (11,), "float64"),
    Case((20_000,), (101,), "float32"),
    Case((20_000,), (101,), "float64"),
    Case((20_000,), (31,), "float64", "same"),
    Case((20_000,), (31,), "float32", "valid"),
    Case((5_000,), (17,), "complex128"),
    Case((128, 128), (3, 3), "float32"),
    Case((128, 128), (3, 3), "float64"),
    Case((256, 256), (5, 5), "float32"),
    Case((256, 256), (5, 5), "float32", "same"),
    Case((256, 256), (5, 5), "float64", "same"),
]


def _impls(case):
    names = variants_for(case) + peers_for(case)
    if case.ndim == 2 and case.mode == "same":
        names.append("scipy_convolve2d")  # second peer for "same", next to ndimage
    return names


#: Entry points that may pick an FFT (method "auto").
AUTO_METHOD = {"fastconv_numpy"}

PARAMS = [
    pytest.param(case, name, id=f"{case.id}-{name}") for case in CASES for name in _impls(case)
]


@pytest.mark.parametrize(("case", "impl"), PARAMS)
def test_direct(benchmark, case, impl):
    spec = IMPLS[impl]
    if spec.optional:
        pytest.importorskip(spec.module)
    x, h = make_inputs(case)
    ref, scale = reference(x, h, case.mode)
    fn = spec.bind(case, x, h)

    benchmark.group = f"{case.ndim}-D {case.mode} {case.label} {case.dtype}"
    benchmark.extra_info.update(impl=impl, case=case.id, flops=case.flops)
    out = benchmark(fn)

    err = rel_err(out, ref, scale)  # raises on a shape mismatch
    tol = tolerance(case.dtype, case.kshape)
    benchmark.extra_info.update(rel_err=err, tolerance=tol)
    assert np.asarray(out).dtype == np.result_type(x, h)
    if impl in AUTO_METHOD and err > tol:
        fft_err, fft_tol = rel_err(out, ref, norm_scale(x, h, case)), fft_tolerance(case)
        benchmark.extra_info.update(fft_rel_err=fft_err, fft_tolerance=fft_tol)
        assert fft_err <= fft_tol, (
            f"{impl}: rel_err {err:.3g} > {tol:.3g} and normwise {fft_err:.3g} > {fft_tol:.3g}"
        )
        return
    assert err <= tol, f"{impl}: rel_err {err:.3g} > {tol:.3g}"

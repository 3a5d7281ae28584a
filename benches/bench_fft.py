"""fastconv's FFT methods against SciPy's FFT convolutions, side by side (pytest-benchmark).

Each case is one benchmark group holding fastconv's ``signal.convolve(method="auto")`` and
``method="fft"`` and ``signal.oaconvolve``, next to ``scipy.signal.fftconvolve`` and
``scipy.signal.oaconvolve`` (and fftconvolve on the pyFFTW backend, skipped when pyfftw is
not installed). Small corners of the ``bench`` FFT grid: long 1-D kernels, a batch of 1-D
signals with one broadcast kernel (``axes=-1``) and a 2-D image with a 15x15 kernel.

Timed run::

    pytest benches/bench_fft.py --benchmark-enable --benchmark-group-by=group

The project config passes ``--benchmark-disable``: each test then calls its implementation
once, as a smoke test. Either way every test asserts its result against a float64 reference
computed by FFT (NumPy's pocketfft on the exactly widened inputs) with the FFT error bound::

    rel_err = max |out - ref| / (||x||_2 * ||h||_2)  <=  16 * (eps(dtype) + eps(float64)) * log2(N)

the norms taken over the convolved axes (per signal of a batch) and ``N`` the product over
those axes of ``n + k - 1``. That is the normwise bound of FFT convolution, ``c * eps *
log2(N)`` with c = 16 for a few roundings per butterfly level and room to spare, for the
result and for the reference (2.8e-5 for float32 and 1.0e-13 for float64 at N = 22000); see
``fastconv._bench.cases.fft_tolerance``. The error lands in ``benchmark.extra_info``.
"""

import numpy as np
import pytest
from fastconv._bench.cases import Case, fft_reference, fft_tolerance, make_inputs, rel_err
from fastconv._bench.peers import IMPLS

# Small enough that the smoke run of the whole file takes a few seconds.
CASES = [
    Case((20_000,), (2_000,), "float32", "full", "fft"),
    Case((20_000,), (2_000,), "float64", "full", "fft"),
    Case((20_000,), (10_000,), "float32", "full", "fft"),
    Case((20_000,), (10_000,), "float64", "full", "fft"),
    Case((64, 1024), (1, 33), "float32", "same", "fft", (-1,)),
    Case((64, 1024), (1, 33), "float64", "same", "fft", (-1,)),
    Case((256, 256), (15, 15), "float32", "same", "fft"),
    Case((256, 256), (15, 15), "float64", "same", "fft"),
]

IMPL_NAMES = ["fastconv_auto", "fastconv_fft", "fastconv_oa", "scipy_fft", "scipy_oa", "pyfftw"]

PARAMS = [pytest.param(case, name, id=f"{case.id}-{name}") for case in CASES for name in IMPL_NAMES]


@pytest.mark.parametrize(("case", "impl"), PARAMS)
def test_fft(benchmark, case, impl):
    spec = IMPLS[impl]
    if spec.optional:
        pytest.importorskip(spec.module)
    x, h = make_inputs(case)
    ref, scale = fft_reference(x, h, case)
    fn = spec.bind(case, x, h)

    benchmark.group = f"FFT {case.section.split(': ', 1)[-1]} {case.label} {case.dtype}"
    benchmark.extra_info.update(impl=impl, case=case.id, direct_macs=case.macs)
    out = benchmark(fn)

    err = rel_err(out, ref, scale)  # raises on a shape mismatch
    tol = fft_tolerance(case)
    benchmark.extra_info.update(rel_err=err, tolerance=tol)
    assert np.asarray(out).dtype == np.result_type(x, h)
    assert err <= tol, f"{impl}: rel_err {err:.3g} > {tol:.3g}"

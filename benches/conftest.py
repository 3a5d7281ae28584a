"""Benchmark-session hooks: record the machine's CPU and library versions in the JSON."""

import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    """Add CPU model, core counts and numpy/scipy/fastconv versions to pytest-benchmark."""
    from fastconv._bench.machine import default_threads
    from fastconv._bench.machine import machine_info as describe

    try:
        import fastconv

        threads = fastconv.get_num_threads()
    except (ImportError, AttributeError):
        threads = default_threads()
    machine_info["fastconv_bench"] = describe(threads)

"""Description of the machine and software a benchmark ran on."""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys


def default_threads() -> int:
    """Number of cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """CPU model from ``/proc/cpuinfo`` (falling back to :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(module: str):
    try:
        return getattr(importlib.import_module(module), "__version__", "unknown")
    except ImportError:
        return None


def fastconv_isa() -> str | None:
    """The instruction set fastconv's kernels use (e.g. ``"avx2"``), if it says."""
    try:
        import fastconv

        fn = getattr(fastconv, "isa", None) or getattr(
            importlib.import_module("fastconv._core"), "isa", None
        )
        return str(fn()) if callable(fn) else None
    except Exception:  # not built, or no such query
        return None


def machine_info(threads: int) -> dict:
    """Machine and software description for the JSON output and the table header.

    Parameters
    ----------
    threads : int
        Thread count fastconv was asked to use.

    Returns
    -------
    dict
        ``cpu``, ``cores`` (logical, :func:`os.cpu_count`), ``affinity_cores``,
        ``threads``, ``python``, ``platform`` and the versions of fastconv, numpy, scipy,
        threadpoolctl and torch (None when not installed), and ``fastconv_isa``.
    """
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "affinity_cores": default_threads(),
        "threads": threads,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for mod in ("fastconv", "numpy", "scipy", "threadpoolctl", "matplotlib"):
        info[mod] = _version(mod)
    info["fastconv_isa"] = fastconv_isa()
    # Importing torch is slow; only report it when it is installed.
    info["torch"] = _version("torch") if importlib.util.find_spec("torch") else None
    return info

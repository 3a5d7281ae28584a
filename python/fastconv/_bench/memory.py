"""Peak memory of one call, measured as resident-set growth in a fresh subprocess.

``tracemalloc`` sees only Python's allocator (NumPy's arrays) and none of fastconv's Rust
buffers (FFT scratch, tiles, plans), so it would flatter fastconv. This module measures what
the operating system sees instead: each measurement runs in a new Python process that
imports the implementation, makes the case's inputs, resets the resident-set high-water mark
(``/proc/self/clear_refs``) and makes **one** call; the result is the high-water mark after
the call (``VmHWM``) less the resident size just before it (``VmRSS``), both from
``/proc/self/status``.

``VmHWM`` is the process's own ``ru_maxrss``. ``getrusage(RUSAGE_SELF).ru_maxrss`` itself is
not usable here: Linux carries the parent's peak across ``fork``/``exec`` into the child's
figure (and ``clear_refs`` does not reset that part), so in a child of a benchmark process
holding 200 MiB every call would seem to peak at 200 MiB. Off Linux (no ``/proc``) no figure
is given.

That is the first call in the process, so FFT plans and twiddle tables built (and cached) by
it count, and the result array, alive at the end of the call, counts too. Pages that the
allocator had already mapped before the call and reuses are not seen (a small, one-sided
error: the figure can only be too low, by at most what the process had freed before the
call).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

#: Cases whose output has at least this many elements get a memory measurement.
LARGE_OUTPUT = 2**20

_CHILD = "import sys; from fastconv._bench.memory import _child; _child(sys.argv[1])"


def is_large(case) -> bool:
    """Whether `case` gets a peak-memory measurement: an FFT-grid case with a large output."""
    return case.kind == "fft" and math.prod(case.out_shape) >= LARGE_OUTPUT


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # reset the resident-set high-water mark to the current size
        return True
    except OSError:
        return False


def _child(arg: str) -> None:
    """Subprocess body: one call of implementation ``arg['impl']``, result as JSON."""
    import gc

    import fastconv

    from .cases import Case, make_inputs
    from .peers import IMPLS

    spec = json.loads(arg)
    c = spec["case"]
    case = Case(
        tuple(c["shape"]),
        tuple(c["kshape"]),
        c["dtype"],
        c["mode"],
        c["kind"],
        None if c["axes"] is None else tuple(c["axes"]),
    )
    x, h = make_inputs(case)
    with fastconv.threads(spec["threads"]):
        fn = IMPLS[spec["impl"]].bind(case, x, h)
        gc.collect()
        reset = _reset_peak()
        before = _status_kib("VmRSS")
        out = fn()
        after = _status_kib("VmHWM")
    ok = reset and before is not None and after is not None
    res = {"peak_mib": (after - before) / 1024 if ok else None, "out_mib": out.nbytes / 2**20}
    if not ok:
        res["error"] = "not measured: needs Linux's /proc/self/status and clear_refs"
    print(json.dumps(res))


@dataclasses.dataclass
class Memory:
    """One measurement (MiB; ``peak_mib`` None if not measurable here, see the module)."""

    peak_mib: float | None
    out_mib: float | None
    error: str | None = None


def measure(case, impl: str, threads: int, timeout_s: float = 300.0) -> Memory:
    """Peak resident-set growth of one call of `impl` on `case`, in a fresh process.

    Parameters
    ----------
    case : Case
    impl : str
        Key of :data:`fastconv._bench.peers.IMPLS`.
    threads : int
        fastconv thread count in the subprocess.
    timeout_s : float, optional

    Returns
    -------
    Memory
    """
    import fastconv

    # Run from the directory holding the fastconv package, so that the child imports this
    # very package and a ``signal.py`` in the caller's working directory cannot shadow the
    # standard library's.
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    spec = {"case": dataclasses.asdict(case), "impl": impl, "threads": threads}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(spec)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return Memory(None, None, f"{type(e).__name__}: {e}")
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return Memory(None, None, f"exit {done.returncode}: {tail}")
    try:
        res = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Memory(None, None, f"unreadable output: {done.stdout[-200:]!r}")
    return Memory(res["peak_mib"], res["out_mib"], res.get("error"))

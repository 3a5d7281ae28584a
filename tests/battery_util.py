"""Helpers shared by the bad-input batteries: awkward layouts of an array with the same
values, zero-stride views of huge shapes, and running a call in a forked child (where an
abort, a hang or an attempt to allocate exabytes cannot take the test run down)."""

from __future__ import annotations

import os
import pickle
import signal

import numpy as np
from numpy.lib.stride_tricks import as_strided


def huge(shape, dtype=np.float64):
    """A zero-stride view of one element with ``shape``: nothing of that size is allocated."""
    return as_strided(np.zeros(1, dtype), shape=shape, strides=(0,) * len(shape))


def unaligned(a):
    """A copy of ``a`` whose data starts at an odd address (offset 1 into a bytes buffer)."""
    a = np.ascontiguousarray(a)
    buf = bytearray(a.nbytes + 1)
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned or a.dtype.itemsize == 1
    return out


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def strided(a):
    """Every other element along each axis of a twice-as-large array."""
    a = np.asarray(a)
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    big[tuple(slice(None, None, 2) for _ in a.shape)] = a
    return big[tuple(slice(None, None, 2) for _ in a.shape)]


def reversed_view(a):
    """A negative-stride view with the values of ``a``."""
    a = np.asarray(a)
    r = np.ascontiguousarray(a[tuple(slice(None, None, -1) for _ in a.shape)])
    return r[tuple(slice(None, None, -1) for _ in a.shape)]


def big_endian(a):
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder(">"))


LAYOUTS = {
    "big-endian": big_endian,
    "unaligned": unaligned,
    "read-only": readonly,
    "strided": strided,
    "negative-stride": reversed_view,
    "fortran": np.asfortranarray,
}


def run_in_child(call, timeout: float = 60.0):
    """Runs ``call()`` in a forked child: ``("ok", repr)``, ``("raise", class name, message,
    mro names)`` or ``("died", description)`` when the child aborts, is killed or does not
    answer in time."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            try:
                result = ("ok", repr(call())[:200])
            except BaseException as exc:  # noqa: BLE001
                result = (
                    "raise",
                    type(exc).__name__,
                    str(exc)[:300],
                    [c.__name__ for c in type(exc).__mro__],
                )
            os.write(write, pickle.dumps(result))
        finally:
            os._exit(0)
    os.close(write)

    def _timeout(*_):  # (a handler that returns would let os.read resume: PEP 475)
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(max(1, int(timeout)))
    data = b""
    try:
        while chunk := os.read(read, 65536):
            data += chunk
    except TimeoutError:  # pragma: no cover - the child hangs
        data = b""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.close(read)
    if not data:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if data:
        return pickle.loads(data)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return ("died", f"killed by signal {sig} ({signal.Signals(sig).name})")
    return ("died", f"no answer (exit status {status})")

"""Thread-count control: a process-wide default and a context manager."""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Iterator

from fastconv import _core


def set_num_threads(n: int) -> None:
    """Set the default number of threads for calls that do not pass ``workers``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n < 1``.
    """
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(
            f"the number of threads must be an integer, got {type(n).__name__}"
        ) from None
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The default number of threads (all cores unless :func:`set_num_threads` changed it)."""
    return int(_core.get_num_threads())


@contextmanager
def threads(n: int) -> Iterator[int]:
    """Use ``n`` threads by default inside a ``with`` block, restoring the old value after.

    The default is process-wide: prefer ``workers=`` for per-call control from several
    Python threads at once.
    """
    old = get_num_threads()
    set_num_threads(n)
    try:
        yield n
    finally:
        _core.set_num_threads(old)

"""``python -m fastconv.dask bench [--quick] [--json F]``: the dask bench."""

from __future__ import annotations

import sys
from typing import List, Optional

_USAGE = "usage: python -m fastconv.dask bench [--quick] [--json F]"


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch ``bench`` to :func:`fastconv._bench.dask_bench.main`; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    if args[0] != "bench":
        print(f"unknown command {args[0]!r}\n{_USAGE}", file=sys.stderr)
        return 2
    from fastconv._bench.dask_bench import main as bench_main

    return bench_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())

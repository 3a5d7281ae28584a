"""Command line: ``python -m fastconv demo``, ``bench``, ``fit-cost``, ``train``, ``dask-bench``."""

from __future__ import annotations

import sys
from typing import List, Optional

_USAGE = """usage: python -m fastconv <command> [options]

commands:
  demo    reproduce the seed examples, then a short speed table against NumPy/SciPy
  bench   side-by-side benchmark against every installed peer (--help for options)
  fit-cost  re-measure the constants of the method="auto" cost model (src/method.rs)
  train   train a named CNN on MNIST-1D or the 8x8 digits with fastconv.nn (--help)
  dask-bench  fastconv.dask on 1 and 2 local worker processes vs in-memory (--quick)
"""


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to a sub-command; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "demo":
        from fastconv._demo import run_demo

        return run_demo(rest)
    if command == "bench":
        from fastconv._bench import main as bench_main

        return bench_main(rest)
    if command == "fit-cost":
        from fastconv._bench.fit import main as fit_main

        return fit_main(rest)
    if command == "dask-bench":
        from fastconv._bench.dask_bench import main as dask_main

        return dask_main(rest)
    if command == "train":
        from fastconv._train import main as train_main

        return train_main(rest)
    print(f"unknown command {command!r}\n\n{_USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""``python -m fastconv demo``: the seed examples, checked, then a short speed table."""

from __future__ import annotations

import argparse
from typing import List

import numpy as np

import fastconv
from fastconv import linalg, signal
from fastconv import numpy as fnp


def _show(label: str, value: object) -> None:
    print(f"  {label:<44} {value}")


def seed_examples() -> None:
    """The examples the project grew from, each checked against its known answer."""
    x, w = [1, 2, 3, 4], [5, 6, 7]
    print("Convolution of x = [1, 2, 3, 4] with w = [5, 6, 7]:")
    expected = {"full": [5, 16, 34, 52, 45, 28], "same": [16, 34, 52, 45], "valid": [34, 52]}
    for mode, want in expected.items():
        got = signal.convolve(x, w, mode=mode)
        assert got.tolist() == want, (mode, got)
        _show(f"convolve(x, w, mode={mode!r})", got)
    corr = fnp.correlate(x, w)
    assert corr[0] == 1 * 5 + 2 * 6 + 3 * 7 == 38
    _show("correlate (no flip): 1*5 + 2*6 + 3*7", corr[0])

    print("\nA 1-D convolution layer with two output channels (cross-correlation, valid):")
    weights = np.array([[1.0, 0.0, -1.0], [0.25, 0.5, 0.25]])  # edge detector, smoother
    signal_in = np.array([[0.0, 1.0, 4.0, 9.0, 16.0, 25.0]])
    out = signal.correlate(signal_in, weights, mode="valid", axes=-1)
    _show("channel 0 (x[i] - x[i+2])", out[0])
    _show("channel 1 (smoothing)", out[1])
    assert np.allclose(out[0], signal_in[0, :-2] - signal_in[0, 2:])

    print("\nThe layer as a matrix: tied weights on diagonals, zeros elsewhere:")
    a = np.array(w)
    mat = linalg.convolution_matrix(a, len(x), mode="full")
    print("  " + str(mat).replace("\n", "\n  "))
    assert np.array_equal(mat @ np.array(x), np.convolve(x, w))
    _show("convolution_matrix(w, 4) @ x == convolve(x, w)", True)


def run_demo(argv: List[str]) -> int:
    """Entry point of ``python -m fastconv demo``."""
    parser = argparse.ArgumentParser(prog="python -m fastconv demo")
    parser.add_argument("--threads", type=int, default=None, help="threads for the speed table")
    parser.add_argument("--no-bench", action="store_true", help="skip the speed table")
    parser.add_argument("--no-train", action="store_true", help="skip the short training run")
    args = parser.parse_args(argv)
    print(
        f"fastconv {fastconv.__version__}: kernels {fastconv._core.isa()}, "
        f"{fastconv.get_num_threads()} threads\n"
    )
    seed_examples()
    if not args.no_bench:
        from fastconv._bench import quick_table

        print("\nSpeed against the peers (median times; ratio > 1 means fastconv is faster):")
        print(quick_table(threads=args.threads))
    if not args.no_train:
        train_demo(threads=args.threads)
    return 0


def train_demo(threads=None) -> None:
    """A few seconds of ``python -m fastconv train``: the 1-D CNN, 3 epochs on 2,000 MNIST-1D
    signals (the full command trains 20 epochs on 4,000 and reaches ~98%)."""
    try:
        from fastconv._train import TrainConfig, report_line, train
        from fastconv.nn.data import load_mnist1d

        load_mnist1d()
    except ImportError as exc:  # the train extra is optional
        print(f"\n(skipping the training demo: {exc})")
        return
    print("\nTraining the 1-D CNN on a subset of MNIST-1D with fastconv.nn (3 epochs):")
    cfg = TrainConfig(dataset="mnist1d", epochs=3, subset=2000, threads=threads, plot=False)
    result = train(cfg, log=lambda s: print("  " + s))
    print("  " + report_line(result))

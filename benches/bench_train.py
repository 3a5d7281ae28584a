"""One training epoch, fastconv.nn against PyTorch CPU (pytest-benchmark).

Both sides train the default model of each dataset (``python -m fastconv train``) on a
256-example subset with the same initial weights, batch size and optimiser; the PyTorch
side is skipped when torch is not installed. With the project's ``--benchmark-disable`` each
test runs one epoch as a smoke test. Timed::

    pytest benches/bench_train.py --benchmark-enable --benchmark-group-by=group

The full side-by-side seconds-per-epoch table: ``python -m fastconv._bench.train_bench``.
"""

import pytest

pytest.importorskip("sklearn")

from fastconv._train import TrainConfig, Trainer  # noqa: E402

SUBSET = 256


def _config(dataset):
    return TrainConfig(dataset=dataset, subset=SUBSET, threads=2, progress=False, plot=False)


@pytest.mark.parametrize("dataset", ["digits", "mnist1d"])
def test_train_epoch_fastconv(benchmark, dataset):
    if dataset == "mnist1d":
        pytest.importorskip("mnist1d")
    benchmark.group = f"train-epoch-{dataset}"
    trainer = Trainer(_config(dataset))
    loss, acc, _ = benchmark(trainer.train_epoch)
    assert loss == loss and 0.0 <= acc <= 1.0


@pytest.mark.parametrize("dataset", ["digits", "mnist1d"])
def test_train_epoch_torch(benchmark, dataset):
    pytest.importorskip("torch")
    if dataset == "mnist1d":
        pytest.importorskip("mnist1d")
    from fastconv._bench.train_bench import TorchTrainer

    benchmark.group = f"train-epoch-{dataset}"
    cfg = _config(dataset)
    ours = Trainer(cfg)
    trainer = TorchTrainer(cfg, threads=2, init_state=ours.model.state_dict())
    acc = benchmark(trainer.epoch)
    assert 0.0 <= acc <= 1.0

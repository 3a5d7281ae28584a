"""Training: the loss falls, runs are reproducible from a seed, the CLI writes its outputs."""

import json

import numpy as np
import pytest
from fastconv import nn
from fastconv._train import TrainConfig, Trainer, main, train

pytest.importorskip("sklearn")


def _small(**kw):
    base = dict(dataset="digits", epochs=3, width=8, subset=384, batch_size=32, lr=1e-2)
    base.update(progress=False, plot=False)
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_and_accuracy_beats_chance():
    result = train(_small(epochs=4), log=lambda s: None)
    h = result.history
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0]
    assert result.test_accuracy > 0.3  # chance is 0.1


def test_same_seed_same_run_other_seed_differs():
    a = train(_small(epochs=2, seed=3), log=lambda s: None)
    b = train(_small(epochs=2, seed=3), log=lambda s: None)
    c = train(_small(epochs=2, seed=4), log=lambda s: None)
    assert a.history["train_loss"] == b.history["train_loss"]
    for (k, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        np.testing.assert_array_equal(x, y, err_msg=k)
    assert a.history["train_loss"] != c.history["train_loss"]


def test_training_step_reuses_buffers():
    trainer = Trainer(_small(epochs=1, batch_size=32))
    model = trainer.model
    xb, yb = next(iter(trainer.loader))
    out1 = model(xb)
    out2 = model(xb)
    assert np.shares_memory(out1, out2)  # the output buffer is reused in training mode
    model.eval()
    assert not np.shares_memory(model(xb), model(xb))


def test_mnist1d_loader_shapes():
    pytest.importorskip("mnist1d")
    state = np.random.get_state()  # noqa: NPY002  (make_dataset reseeds the global state)
    data = nn.load_mnist1d()
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002
    assert data.x_train.shape == (4000, 1, 40) and data.x_test.shape == (1000, 1, 40)
    assert data.x_train.dtype == np.float32 and set(np.unique(data.y_train)) == set(range(10))


def test_digits_split_is_deterministic_and_stratified():
    a, b = nn.load_digits(), nn.load_digits.__wrapped__()
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert len(a.y_train) + len(a.y_test) == 1797
    counts = np.bincount(a.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_dataloader_batches_and_shuffle():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    loader = nn.DataLoader(x, y, batch_size=4, rng=np.random.default_rng(0))
    batches = [(xb.copy(), yb.copy()) for xb, yb in loader]
    assert [len(b[1]) for b in batches] == [4, 4, 2] and len(loader) == 3
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert all(np.array_equal(b[0][:, 0], b[1]) for b in batches)
    assert len(nn.DataLoader(x, y, 4, drop_last=True)) == 2


def test_cli_writes_model_history_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["--dataset", "digits", "--epochs", "1", "--subset", "128", "--width", "4",
         "--threads", "1", "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy:" in text
    for name in ("model.npz", "history.json", "curves.png"):
        assert (out / name).stat().st_size > 0
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["history"]["test_acc"]) == 1
    model = nn.cnn2d(width=4).load(out / "model.npz")
    assert model.num_parameters() > 0


def test_side_by_side_bench_takes_turns_epoch_by_epoch():
    """The training bench runs each library in its own subprocess, an epoch at a time in
    turns (the side that goes first alternates), and reports medians and their ratio."""
    import importlib.util

    from fastconv._bench import train_bench

    lines = []
    r = train_bench.run("digits", epochs=3, subset=64, rounds=1, log=lines.append)
    sides = ["fastconv"] + (["torch"] if importlib.util.find_spec("torch") else [])
    turns = [ln.split()[2].rstrip(":") for ln in lines if ln.startswith("epoch ")]
    expected = []
    for e in range(3):
        expected += sides if e % 2 == 0 else sides[::-1]
    assert turns == expected
    for side in sides:
        (seconds,) = r[f"{side}_epoch_seconds"]
        assert len(seconds) == 3 and all(s > 0 for s in seconds)
        assert r[f"{side}_median_s"] == pytest.approx(float(np.median(seconds[1:])))
        assert 0.0 <= r[f"{side}_test_acc"] <= 1.0
    if "torch" in sides:
        assert r["speedup"] == pytest.approx(r["torch_median_s"] / r["fastconv_median_s"])
    assert "taking turns epoch by epoch" in train_bench.format_table([r])


def test_side_by_side_bench_reports_a_failed_child(tmp_path):
    """A training subprocess that dies is reported with the last line of its stderr."""
    from fastconv._bench import train_bench

    config = {"dataset": "nope", "epochs": 1, "batch_size": None, "threads": 1, "seed": 0}
    child = train_bench._Side("fastconv", config, "", str(tmp_path), str(tmp_path))
    try:
        with pytest.raises(RuntimeError, match="fastconv training subprocess failed: .*nope"):
            child.wait_ready()
    finally:
        child.close()

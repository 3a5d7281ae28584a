"""``python -m fastconv train``: train a named CNN on MNIST-1D or the 8x8 digits.

One epoch = one pass over the shuffled training set in mini-batches (AdamW with a per-step
cosine schedule by default), then an evaluation on the test set. A tqdm bar per epoch shows
the running loss, accuracy and samples/s; the run ends with a test-accuracy line, and writes
``model.npz`` (the state dict), ``history.json`` and ``curves.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

#: Per-dataset defaults: the bare ``python -m fastconv train --dataset X`` reaches the targets.
DEFAULTS: Dict[str, dict] = {
    "mnist1d": dict(model="cnn1d", width=16, epochs=20, batch_size=32, lr=3e-3, weight_decay=0.05),
    "digits": dict(model="cnn2d", width=32, epochs=20, batch_size=32, lr=3e-3, weight_decay=0.05),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (``None`` fields take the dataset's defaults)."""

    dataset: str = "mnist1d"
    model: Optional[str] = None
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    weight_decay: Optional[float] = None
    optimizer: str = "adamw"
    momentum: float = 0.9
    schedule: str = "cosine"
    width: Optional[int] = None
    activation: str = "relu"
    threads: Optional[int] = None
    seed: int = 0
    out: Optional[str] = None
    subset: Optional[int] = None
    progress: bool = True
    plot: bool = True

    def resolved(self) -> TrainConfig:
        """A copy with the dataset defaults filled in."""
        if self.dataset not in DEFAULTS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose from {sorted(DEFAULTS)}")
        values = asdict(self)
        for key, value in DEFAULTS[self.dataset].items():
            if values[key] is None:
                values[key] = value
        return TrainConfig(**values)


@dataclass
class TrainResult:
    """What a run produced: per-epoch history, final test accuracy, timings, the model."""

    config: TrainConfig
    history: Dict[str, List[float]] = field(default_factory=dict)
    test_accuracy: float = 0.0
    train_seconds: float = 0.0
    model: object = None


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> Tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` in evaluation mode."""
    from fastconv import nn

    was_training = model.training
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size])
        yb = y[start : start + batch_size]
        total += loss_fn(logits, yb)
        correct += int((logits.argmax(axis=1) == yb).sum())
    model.train(was_training)
    return total / len(x), correct / len(x)


def _thread_limits(threads: Optional[int]):
    """Set fastconv's threads and cap BLAS threads (NumPy's matmul) to the same count."""
    import contextlib

    import fastconv

    if threads is None:
        return contextlib.nullcontext()
    fastconv.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(threads)


def make_optimizer(cfg: TrainConfig, params, steps: int):
    """The configured optimiser and (per-step) learning-rate schedule."""
    from fastconv import nn

    if cfg.optimizer == "adamw":
        opt = nn.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adam":
        opt = nn.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "sgd":
        opt = nn.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True
        )
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}")
    if cfg.schedule == "cosine":
        sched = nn.CosineAnnealingLR(opt, T_max=max(1, steps))
    elif cfg.schedule == "step":
        sched = nn.StepLR(opt, step_size=max(1, steps // 3), gamma=0.1)
    elif cfg.schedule == "none":
        sched = None
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}")
    return opt, sched


class Trainer:
    """A configured run, one epoch at a time (the bench alternates it with PyTorch's).

    Attributes: ``config`` (resolved), ``data``, ``model``, ``loss_fn``, ``loader``,
    ``optimizer``, ``scheduler``, ``history``.
    """

    def __init__(self, config: TrainConfig) -> None:
        from fastconv import nn

        cfg = config.resolved()
        self.config = cfg
        data = nn.load_dataset(cfg.dataset)
        if cfg.subset:
            data = data.subset(cfg.subset, max(1, cfg.subset // 4))
        self.data = data
        rng = nn.manual_seed(cfg.seed)
        kwargs = {"num_classes": data.num_classes, "activation": cfg.activation, "rng": rng}
        if cfg.width:
            kwargs["width"] = cfg.width
        self.model = nn.build_model(cfg.model, **kwargs)
        self.model.set_needs_input_grad(False)
        self.loss_fn = nn.CrossEntropyLoss()
        self.loader = nn.DataLoader(
            data.x_train, data.y_train, cfg.batch_size, shuffle=True, rng=rng
        )
        self.optimizer, self.scheduler = make_optimizer(
            cfg, self.model.parameters(), cfg.epochs * len(self.loader)
        )
        self.history: Dict[str, List[float]] = {
            k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc", "epoch_seconds")
        }

    def describe(self) -> str:
        """One line: model, data sizes and the optimisation settings."""
        cfg = self.config
        return (
            f"{cfg.model} on {cfg.dataset}: {self.model.num_parameters():,} parameters, "
            f"{len(self.data.y_train)} train / {len(self.data.y_test)} test, batch "
            f"{cfg.batch_size}, {cfg.epochs} epochs, {cfg.optimizer} lr {cfg.lr:g}, "
            f"threads {cfg.threads or 'default'}, seed {cfg.seed}"
        )

    def train_epoch(self, bar=None) -> Tuple[float, float, float]:
        """One pass over the training set: (mean loss, accuracy, seconds)."""
        model, loss_fn, opt, sched = self.model, self.loss_fn, self.optimizer, self.scheduler
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        t0 = time.perf_counter()
        for step, (xb, yb) in enumerate(self.loader):
            opt.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            model.backward(loss_fn.backward())
            opt.step()
            if sched is not None:
                sched.step()
            n = len(yb)
            loss_sum += loss * n
            correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
            seen += n
            if bar is not None:
                bar.update(n)
                if step % 8 == 0:
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    bar.set_postfix(
                        loss=f"{loss_sum / seen:.4f}",
                        acc=f"{correct / seen:.3f}",
                        samples_s=f"{rate:,.0f}",
                        refresh=False,
                    )
        return loss_sum / seen, correct / seen, time.perf_counter() - t0

    def epoch(self, bar_cls=None) -> float:
        """Train one epoch, evaluate, append to ``history``; returns the test accuracy."""
        cfg, h = self.config, self.history
        bar = None
        if bar_cls is not None:
            bar = bar_cls(
                total=len(self.data.y_train),
                desc=f"epoch {len(h['test_acc']) + 1}/{cfg.epochs}",
                unit="sample",
                dynamic_ncols=True,
                file=sys.stderr,
            )
        loss, acc, seconds = self.train_epoch(bar)
        test_loss, test_acc = evaluate(self.model, self.data.x_test, self.data.y_test)
        for key, value in zip(h, (loss, acc, test_loss, test_acc, seconds)):
            h[key].append(value)
        if bar is not None:
            bar.set_postfix(
                loss=f"{loss:.4f}",
                acc=f"{acc:.3f}",
                samples_s=f"{len(self.data.y_train) / seconds:,.0f}",
                test_acc=f"{test_acc:.3f}",
            )
            bar.close()
        return test_acc


def train(config: TrainConfig, log=print) -> TrainResult:
    """Run one training as configured; returns the history and the trained model."""
    trainer = Trainer(config)
    cfg = trainer.config
    bar_cls = None
    if cfg.progress:
        try:
            from tqdm import tqdm as bar_cls
        except ImportError:  # pragma: no cover - tqdm is in the train extra
            bar_cls = None
    log(trainer.describe())
    with _thread_limits(cfg.threads):
        for _ in range(cfg.epochs):
            trainer.epoch(bar_cls)
    h = trainer.history
    return TrainResult(
        cfg,
        h,
        test_accuracy=h["test_acc"][-1],
        train_seconds=float(sum(h["epoch_seconds"])),
        model=trainer.model,
    )


def save_run(result: TrainResult, out: str, plot: bool = True) -> List[str]:
    """Write model.npz, history.json (with the config) and curves.png into ``out``."""
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, "model.npz"), os.path.join(out, "history.json")]
    result.model.save(paths[0])
    with open(paths[1], "w") as fh:
        json.dump(
            {
                "config": asdict(result.config),
                "history": result.history,
                "test_accuracy": result.test_accuracy,
            },
            fh,
            indent=1,
        )
    if plot:
        try:
            from fastconv._train_plot import plot_history
        except ImportError:  # pragma: no cover - matplotlib missing
            return paths
        png = os.path.join(out, "curves.png")
        title = f"{result.config.model} on {result.config.dataset}, seed {result.config.seed}"
        if plot_history(result.history, png, title):
            paths.append(png)
    return paths


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fastconv train`` argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m fastconv train",
        description="Train a named CNN with fastconv.nn and report the test accuracy. "
        "Defaults per dataset: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in d.items())
            for name, d in DEFAULTS.items()
        ),
    )
    p.add_argument("--dataset", choices=sorted(DEFAULTS), default="mnist1d")
    p.add_argument("--model", choices=["cnn1d", "cnn2d"], help="named model")
    p.add_argument("--epochs", type=int, help="passes over the training set")
    p.add_argument("--batch-size", type=int, help="samples per step")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, help="(decoupled for adamw) weight decay")
    p.add_argument("--optimizer", choices=["adamw", "adam", "sgd"], default="adamw")
    p.add_argument("--schedule", choices=["cosine", "step", "none"], default="cosine")
    p.add_argument(
        "--width",
        type=int,
        help="channel width of the model (default: 16 for mnist1d, 32 for digits)",
    )
    p.add_argument("--activation", choices=["relu", "gelu"], default="relu")
    p.add_argument("--threads", type=int, help="threads (fastconv and BLAS); default all cores")
    p.add_argument("--seed", type=int, default=0, help="seed of init, shuffling, dropout")
    p.add_argument("--subset", type=int, help="train on the first N examples only (N/4 test)")
    p.add_argument("--out", help="output folder (default runs/<dataset>-<model>-s<seed>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-plot", action="store_true", help="do not draw curves.png")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Turn parsed arguments into a :class:`TrainConfig`."""
    for name in ("epochs", "batch_size", "threads", "width", "subset"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    return TrainConfig(
        dataset=args.dataset,
        model=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        optimizer=args.optimizer,
        schedule=args.schedule,
        width=args.width,
        activation=args.activation,
        threads=args.threads,
        seed=args.seed,
        out=args.out,
        subset=args.subset,
        progress=not args.no_progress,
        plot=not args.no_plot,
    )


def report_line(result: TrainResult) -> str:
    """The final summary line."""
    h = result.history
    n_epochs = len(h["test_acc"])
    per_epoch = result.train_seconds / max(n_epochs, 1)
    return (
        f"test accuracy: {100 * result.test_accuracy:.2f}% ({result.config.dataset}, "
        f"{result.config.model}, seed {result.config.seed}) after {n_epochs} epochs; "
        f"training {result.train_seconds:.1f} s ({per_epoch:.3f} s/epoch)"
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m fastconv train``."""
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args).resolved()
    t0 = time.perf_counter()
    result = train(cfg)
    out = cfg.out or os.path.join("runs", f"{cfg.dataset}-{cfg.model}-s{cfg.seed}")
    paths = save_run(result, out, plot=cfg.plot)
    print(report_line(result))
    print(f"wall time {time.perf_counter() - t0:.1f} s; wrote " + ", ".join(paths))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Seconds per training epoch, fastconv.nn against PyTorch CPU, side by side in one run.

Both sides train the same named model (``fastconv.nn.models``; the PyTorch copy is built
layer for layer by :func:`torch_model` and starts from fastconv's initial weights, so init,
data order, optimiser (AdamW), cosine schedule, batch size, epochs and thread count are all
equal). Each side trains in its own subprocess; the two live side by side and take turns, one
epoch each (fastconv, torch, torch, fastconv, ...), so that a slow spell of a shared machine
falls on both alike; the table reports the median seconds per epoch, the ratio
torch / fastconv, and each side's final test accuracy.

Entry points: :func:`run` (returns the numbers), :func:`format_table`, :func:`main`
(``python -m fastconv._bench.train_bench``); ``benches/torch_train.py`` runs the PyTorch side
alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

import numpy as np

__all__ = ["torch_model", "TorchTrainer", "run", "format_table", "main"]


def torch_model(name: str, width: int = 32, num_classes: int = 10, activation: str = "relu"):
    """The PyTorch twin of ``fastconv.nn.models.<name>`` (same layers, same state-dict keys)."""
    import torch.nn as tnn

    w = width
    act = {"relu": tnn.ReLU, "gelu": tnn.GELU}[activation]
    if name == "cnn1d":

        def block(i, o, k):
            return [tnn.Conv1d(i, o, k, padding=k // 2, bias=False), tnn.BatchNorm1d(o), act()]

        return tnn.Sequential(
            *block(1, w, 5),
            *block(w, w, 5),
            tnn.MaxPool1d(2),
            *block(w, 2 * w, 3),
            *block(2 * w, 2 * w, 3),
            tnn.MaxPool1d(2),
            *block(2 * w, 2 * w, 3),
            tnn.AdaptiveAvgPool1d(1),
            tnn.Flatten(),
            tnn.Linear(2 * w, num_classes),
        )
    if name == "cnn2d":

        def block2(i, o):
            return [tnn.Conv2d(i, o, 3, padding=1, bias=False), tnn.BatchNorm2d(o), act()]

        return tnn.Sequential(
            *block2(1, w),
            *block2(w, w),
            tnn.MaxPool2d(2),
            *block2(w, 2 * w),
            tnn.AdaptiveAvgPool2d(1),
            tnn.Flatten(),
            tnn.Linear(2 * w, num_classes),
        )
    raise ValueError(f"unknown model {name!r}")


class TorchTrainer:
    """PyTorch training with the settings of a fastconv ``Trainer`` (``fastconv._train``).

    ``init_state``: a fastconv state dict to start from (the same initial weights); without
    it torch's own default initialisation (the same scheme) is used.
    """

    def __init__(self, config, threads: Optional[int] = None, init_state=None) -> None:
        import torch

        from fastconv import nn

        cfg = config.resolved()
        self.config = cfg
        if threads is not None:
            torch.set_num_threads(threads)
        torch.manual_seed(cfg.seed)
        data = nn.load_dataset(cfg.dataset)
        if cfg.subset:
            data = data.subset(cfg.subset, max(1, cfg.subset // 4))
        self.x = torch.from_numpy(np.array(data.x_train))
        self.y = torch.from_numpy(np.array(data.y_train))
        self.x_test = torch.from_numpy(np.array(data.x_test))
        self.y_test = torch.from_numpy(np.array(data.y_test))
        self.model = torch_model(cfg.model, cfg.width, data.num_classes, cfg.activation)
        if init_state is not None:
            self.model.load_state_dict(
                {k: torch.from_numpy(np.array(v)) for k, v in init_state.items()}
            )
        if cfg.optimizer != "adamw" or cfg.schedule != "cosine":
            raise ValueError("the PyTorch twin implements adamw with the cosine schedule")
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        steps = cfg.epochs * -(-len(self.y) // cfg.batch_size)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, steps))
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.rng = np.random.default_rng(cfg.seed)
        self.history: Dict[str, List[float]] = {"epoch_seconds": [], "test_acc": []}

    def epoch(self) -> float:
        """Train one epoch (timed), evaluate; returns the test accuracy."""
        import torch

        b = self.config.batch_size
        self.model.train()
        t0 = time.perf_counter()
        order = torch.from_numpy(self.rng.permutation(len(self.y)))
        for start in range(0, len(self.y), b):
            idx = order[start : start + b]
            xb, yb = self.x[idx], self.y[idx]
            self.opt.zero_grad(set_to_none=True)
            logits = self.model(xb)
            loss = self.loss_fn(logits, yb)
            loss.backward()
            self.opt.step()
            self.sched.step()
            (logits.detach().argmax(1) == yb).sum().item()  # the same per-step accounting
            loss.item()
        seconds = time.perf_counter() - t0
        self.model.eval()
        with torch.no_grad():
            acc = (self.model(self.x_test).argmax(1) == self.y_test).double().mean().item()
        self.history["epoch_seconds"].append(seconds)
        self.history["test_acc"].append(acc)
        return acc


def _config(spec: dict):
    from fastconv._train import TrainConfig

    return TrainConfig(**spec, progress=False, plot=False).resolved()


#: Seconds between one side's epoch and the other's: long enough for the side that just
#: finished to park its spinning threads (fastconv's helpers spin 0.5 ms, PyTorch's OpenMP
#: workers a few ms), so that neither side's epoch shares the cores with the other's idle
#: threads.
SETTLE_S = 0.03


def _side_child(arg: str) -> None:
    """Subprocess body: build one side's trainer, then train one epoch per ``epoch`` line read
    from stdin, answering each with a JSON line (its seconds and test accuracy); ``done``
    (or end of input) ends it."""
    from fastconv._train import Trainer, _thread_limits

    spec = json.loads(arg)
    cfg = _config(spec["config"])
    threads = spec["config"]["threads"]
    if spec["side"] == "fastconv":
        trainer = Trainer(cfg)
    else:
        init = dict(np.load(spec["init"]))
        trainer = TorchTrainer(cfg, threads=threads, init_state=init)
    print(json.dumps({"ready": True}), flush=True)
    with _thread_limits(threads):
        for line in sys.stdin:
            if line.strip() != "epoch":
                break
            acc = trainer.epoch()
            seconds = trainer.history["epoch_seconds"][-1]
            print(json.dumps({"seconds": seconds, "test_acc": acc}), flush=True)


_CHILD = "import sys; from fastconv._bench.train_bench import _side_child; _side_child(sys.argv[1])"


class _Side:
    """One side's training subprocess, driven an epoch at a time over its stdin and stdout."""

    def __init__(self, side: str, config: dict, init_path: str, root: str, log_dir: str):
        spec = {"side": side, "config": config, "init": init_path}
        self.side = side
        # stderr goes to a file: a pipe nobody reads could fill up and stall the child
        self.stderr_path = os.path.join(log_dir, f"{side}.stderr")
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(spec)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.history: Dict[str, List[float]] = {"epoch_seconds": [], "test_acc": []}

    def _reply(self) -> dict:
        """The child's next JSON line (other output, such as a library's notice, is skipped)."""
        while True:
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if not line:
                self.proc.wait()
                with open(self.stderr_path) as fh:
                    tail = (fh.read().strip().splitlines() or ["?"])[-1]
                raise RuntimeError(f"the {self.side} training subprocess failed: {tail}")
            if line.startswith("{"):
                return json.loads(line)

    def wait_ready(self) -> None:
        """Block until the child has built its trainer (imports, data, model)."""
        self._reply()

    def epoch(self) -> float:
        """Train one epoch in the child; returns its seconds."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        r = self._reply()
        self.history["epoch_seconds"].append(r["seconds"])
        self.history["test_acc"].append(r["test_acc"])
        return r["seconds"]

    def close(self) -> None:
        """End the child (politely, then by force)."""
        try:
            if self.proc.poll() is None and self.proc.stdin is not None:
                self.proc.stdin.write("done\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self._stderr.close()


def _run_round(sides: List[str], config: dict, init_path: str, epochs: int, log) -> dict:
    """One round: a subprocess per side (started in the order of ``sides``), alive together,
    training in turns, one epoch each (the side that goes first alternates), so that both see
    the machine in the same state to within an epoch; only one side computes at a time."""
    import fastconv

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastconv.__file__)))
    with tempfile.TemporaryDirectory() as log_dir:
        children = [_Side(side, config, init_path, root, log_dir) for side in sides]
        try:
            for child in children:
                child.wait_ready()
            for e in range(epochs):
                order = children if e % 2 == 0 else children[::-1]
                for child in order:
                    time.sleep(SETTLE_S)
                    seconds = child.epoch()
                    if log is not None:
                        log(f"epoch {e + 1} {child.side}: {seconds:.3f} s")
        finally:
            for child in children:
                child.close()
    return {child.side: child.history for child in children}


def run(
    dataset: str = "mnist1d",
    epochs: Optional[int] = None,
    batch_size: Optional[int] = None,
    threads: int = 2,
    seed: int = 0,
    width: Optional[int] = None,
    subset: Optional[int] = None,
    rounds: int = 2,
    log=None,
) -> dict:
    """Train the dataset's default model with both libraries, side by side in one run.

    Each side trains in its own subprocess (one library's idle threads, e.g. PyTorch's
    spinning OpenMP workers, must not steal the cores from the other). In each of ``rounds``
    rounds both subprocesses start (which one first alternates from round to round), then
    train in turns, an epoch at a time, with a short pause (:data:`SETTLE_S`) between turns,
    so that both sides see the same machine load to within an epoch. Both start from
    fastconv's initial weights. Returns the settings, per-epoch seconds and final accuracies
    of each side, the median seconds per epoch (over every epoch but each subprocess's first,
    which includes one-off warm-up) and ``speedup`` = torch / fastconv.
    """
    from fastconv._train import Trainer

    config = {
        "dataset": dataset,
        "epochs": epochs,
        "batch_size": batch_size,
        "threads": threads,
        "seed": seed,
        "width": width,
        "subset": subset,
    }
    cfg = _config(config)
    ours = Trainer(cfg)  # for the initial weights and the dataset size only
    sides = ["fastconv"] + (["torch"] if importlib.util.find_spec("torch") else [])
    history: Dict[str, List[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        init_path = os.path.join(tmp, "init.npz")
        np.savez(init_path, **ours.model.state_dict())
        for r in range(rounds):
            if log is not None:
                log(f"round {r + 1} of {rounds}")
            # The side started first alternates too: with two processes alive, the first
            # one started ran 2-3% faster in A/B runs of one build against itself.
            order = sides if r % 2 == 0 else sides[::-1]
            for side, h in _run_round(order, config, init_path, cfg.epochs, log).items():
                history[side].append(h)
                if log is not None:
                    secs = ", ".join(f"{t:.3f}" for t in h["epoch_seconds"])
                    log(f"round {r + 1} {side}: s/epoch {secs}")
    skip = 1 if cfg.epochs > 1 else 0

    def summary(side: str):
        runs = history[side]
        seconds = [t for h in runs for t in h["epoch_seconds"][skip:]]
        return [h["epoch_seconds"] for h in runs], statistics.median(seconds), runs[-1]

    res = {
        "dataset": cfg.dataset,
        "model": cfg.model,
        "width": cfg.width,
        "batch_size": cfg.batch_size,
        "epochs": cfg.epochs,
        "threads": threads,
        "rounds": rounds,
        "train_samples": len(ours.data.y_train),
    }
    per_run, median, last = summary("fastconv")
    res["fastconv_epoch_seconds"] = per_run
    res["fastconv_median_s"] = median
    res["fastconv_test_acc"] = last["test_acc"][-1]
    if "torch" in history:
        per_run, median, last = summary("torch")
        res["torch_epoch_seconds"] = per_run
        res["torch_median_s"] = median
        res["torch_test_acc"] = last["test_acc"][-1]
        res["speedup"] = res["torch_median_s"] / res["fastconv_median_s"]
    return res


def format_table(results: List[dict]) -> str:
    """A side-by-side text table of :func:`run` results."""
    head = (
        f"{'dataset':<9} {'model':<6} {'batch':>5} {'ep':>3} {'thr':>3} "
        f"{'fastconv s/ep':>13} {'torch s/ep':>10} {'ratio':>6} {'acc fastconv':>12} "
        f"{'acc torch':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        t = r.get("torch_median_s")
        lines.append(
            f"{r['dataset']:<9} {r['model']:<6} {r['batch_size']:>5} {r['epochs']:>3} "
            f"{r['threads']:>3} {r['fastconv_median_s']:>13.3f} "
            + (f"{t:>10.3f} {r['speedup']:>5.2f}x " if t else f"{'n/a':>10} {'':>6} ")
            + f"{100 * r['fastconv_test_acc']:>11.2f}% "
            + (f"{100 * r['torch_test_acc']:>8.2f}%" if t else f"{'n/a':>9}")
        )
    lines.append(
        "ratio = torch s/epoch / fastconv s/epoch (median over epochs after each run's first; "
        "each side in its own process, taking turns epoch by epoch); same model, init, data "
        "order, optimiser and schedule."
    )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m fastconv._bench.train_bench [--quick] [--threads N] [--json F]``."""
    p = argparse.ArgumentParser(prog="python -m fastconv._bench.train_bench")
    p.add_argument("--quick", action="store_true", help="3 epochs per dataset")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dataset", choices=["mnist1d", "digits", "all"], default="all")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--json", metavar="F")
    args = p.parse_args(argv)
    names = ["mnist1d", "digits"] if args.dataset == "all" else [args.dataset]
    epochs = args.epochs or (3 if args.quick else None)
    results = []
    for name in names:
        results.append(
            run(
                name,
                epochs=epochs,
                batch_size=args.batch_size,
                width=args.width,
                threads=args.threads,
                rounds=1 if args.quick else 2,
                log=lambda s: print(s, file=sys.stderr),
            )
        )
    print(format_table(results))
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

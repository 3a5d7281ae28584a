"""The PyTorch twin of ``python -m fastconv train``, run on its own.

Same named model (layer for layer, ``fastconv._bench.train_bench.torch_model``), torch's
default initialisation (the scheme fastconv.nn copies), the same data and shuffling order,
AdamW with a per-step cosine schedule, batch size, epochs and thread count::

    python benches/torch_train.py --dataset mnist1d --threads 2
    python benches/torch_train.py --dataset digits --epochs 20 --batch-size 32

Prints seconds per epoch and the test accuracy after each epoch.
``python -m fastconv._bench.train_bench`` runs both libraries side by side.
"""

import argparse
import statistics
import sys


def main(argv=None) -> int:
    """Train with PyTorch; returns the exit code."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=["mnist1d", "digits"], default="mnist1d")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--activation", choices=["relu", "gelu"], default="relu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed; nothing to compare", file=sys.stderr)
        return 0
    from fastconv._bench.train_bench import TorchTrainer
    from fastconv._train import TrainConfig

    cfg = TrainConfig(
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        width=args.width,
        activation=args.activation,
        threads=args.threads,
        seed=args.seed,
    ).resolved()
    trainer = TorchTrainer(cfg, threads=args.threads)
    for epoch in range(cfg.epochs):
        acc = trainer.epoch()
        seconds = trainer.history["epoch_seconds"][-1]
        print(f"epoch {epoch + 1}/{cfg.epochs}: {seconds:.3f} s, test accuracy {100 * acc:.2f}%")
    secs = trainer.history["epoch_seconds"]
    print(
        f"torch {torch.__version__}, {args.threads} threads: median "
        f"{statistics.median(secs[1:] or secs):.3f} s/epoch, "
        f"test accuracy {100 * trainer.history['test_acc'][-1]:.2f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

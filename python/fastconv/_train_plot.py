"""Loss and accuracy curves of a training run (matplotlib, Agg backend)."""

from __future__ import annotations

from typing import Dict, List


def plot_history(history: Dict[str, List[float]], path: str, title: str = "") -> bool:
    """Draw train/test loss and accuracy per epoch into ``path`` (PNG); False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = list(range(1, len(history["train_loss"]) + 1))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], label="train")
    ax_loss.plot(epochs, history["test_loss"], label="test")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(epochs, [100 * a for a in history["train_acc"]], label="train")
    ax_acc.plot(epochs, [100 * a for a in history["test_acc"]], label="test")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()
    ax_acc.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True

"""The figures the commands draw: ``fastdl train``'s training curves and the experiments' loss curves."""
import numpy as np

from ..util import SMOOTH_WINDOW, smooth_curve
from .report import new_figure, save_figure


def plot_training(path, step_loss, rows):
    """Loss per step (raw and smoothed, with the per-epoch evaluations) and accuracy per epoch."""
    fig, axes = new_figure(1, 2, figsize=(11, 4.2))
    loss_ax, acc_ax = axes[0]
    at = np.arange(1, step_loss.size + 1)
    loss_ax.plot(at, step_loss, color="tab:blue", alpha=0.3, linewidth=0.8, label="step loss")
    if step_loss.size >= SMOOTH_WINDOW:
        loss_ax.plot(at, smooth_curve(step_loss), color="tab:blue", label="step loss (smoothed)")
    epochs, steps = [row["epoch"] for row in rows], [row["steps"] for row in rows]
    if rows:
        loss_ax.plot(steps, [row["train_loss"] for row in rows], "o-", color="tab:orange", label="train (epoch end)")
        loss_ax.plot(steps, [row["test_loss"] for row in rows], "s-", color="tab:green", label="test (epoch end)")
        acc_ax.plot(epochs, [row["train_acc"] for row in rows], "o-", color="tab:orange", label="train")
        acc_ax.plot(epochs, [row["test_acc"] for row in rows], "s-", color="tab:green", label="test")
        lowest = min(min(row["train_acc"], row["test_acc"]) for row in rows)
        acc_ax.set_ylim(max(0.0, lowest - 0.02), 1.0)
        acc_ax.legend(loc="lower right")
    loss_ax.set(xlabel="step", ylabel="loss", title="loss")
    loss_ax.set_ylim(bottom=0)
    loss_ax.legend()
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    save_figure(fig, path)


def plot_losses(ax, losses, title, ylim=(0, 1)):
    """The book's figure: each smoothed loss curve with markers along it."""
    markers = "osD^v<>px*h"
    for k, (name, loss) in enumerate(losses.items()):
        curve = smooth_curve(loss) if loss.size >= SMOOTH_WINDOW else loss
        ax.plot(np.arange(loss.size), curve, marker=markers[k % len(markers)],
                markevery=max(1, loss.size // 20), label=name)
    ax.set(xlabel="iterations", ylabel="loss", title=title, ylim=ylim)
    ax.legend()

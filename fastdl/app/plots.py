"""The figures the commands draw: ``fastdl train``'s training curves and the experiments' loss curves."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..util import SMOOTH_WINDOW, smooth_curve
from .report import new_figure, save_figure


def smooth_trend(x, window=SMOOTH_WINDOW):
    """``x`` smoothed by a normalised Kaiser window (length ``window``, beta 2), the book's window, with odd
    (point) reflection at both ends, so a curve still falling at an end is not bent back up or down there.

    The book's :func:`fastdl.util.smooth_curve` mirrors the series evenly, which pulls the first and last
    points of a falling loss towards its later or earlier values: a dip at the start and a hook at the end.

    Parameters
    ----------
    x : (n,) array, n >= window

    Returns
    -------
    (n,) float64 array; a straight line comes back unchanged.
    """
    x = np.asarray(x, dtype=np.float64)
    half = window // 2
    padded = np.r_[2 * x[0] - x[half:0:-1], x, 2 * x[-1] - x[-2:-half - 2:-1]]
    w = np.kaiser(window, 2)
    return np.convolve(padded, w / w.sum(), mode="valid")


def plot_training(path, step_loss, rows, title="", resumed_at=(), best=None, train_eval=None):
    """Loss per step (raw and smoothed, with the per-epoch evaluations) and accuracy per epoch; returns the figure.

    Parameters
    ----------
    path : where the PNG goes
    step_loss : (S,) every step's loss, drawn on a log axis (a loss spans decades over a run)
    rows : the per-epoch metrics rows, with ``val_loss``/``val_acc`` (``--val-split``) or ``test_loss``/``test_acc``
    title : the run's settings, shown above both panels
    resumed_at : step counts at which a ``--resume`` continued the run, marked on the loss panel
    best : ``{"epoch", "val_acc", ...}`` of the best epoch (``--val-split``), marked on the accuracy panel
    train_eval : the training metrics' sample count when not all (``--train-eval-size``), named in the legends
    """
    fig, axes = new_figure(1, 2, figsize=(11, 4.4))
    loss_ax, acc_ax = axes[0]
    at = np.arange(1, step_loss.size + 1)
    loss_ax.plot(at, step_loss, color="tab:blue", alpha=0.3, linewidth=0.8, label="step loss")
    if step_loss.size >= SMOOTH_WINDOW:
        loss_ax.plot(at, smooth_trend(step_loss), color="tab:blue", label="step loss (smoothed)")
    epochs, steps = [row["epoch"] for row in rows], [row["steps"] for row in rows]
    if rows:
        held = "val" if "val_acc" in rows[0] else "test"
        name = "validation" if held == "val" else "test"
        subset = "" if train_eval is None else f"first {train_eval:,}"
        train = f"train ({subset})" if subset else "train"
        loss_ax.plot(steps, [row["train_loss"] for row in rows], "o-", color="tab:orange",
                     label=f"train ({subset + ', ' if subset else ''}epoch end)")
        loss_ax.plot(steps, [row[held + "_loss"] for row in rows], "s-", color="tab:green",
                     label=f"{name} (epoch end)")
        acc_ax.plot(epochs, [row["train_acc"] for row in rows], "o-", color="tab:orange", label=train)
        acc_ax.plot(epochs, [row[held + "_acc"] for row in rows], "s-", color="tab:green", label=name)
        if best is not None:
            acc_ax.plot([best["epoch"]], [best["val_acc"]], "*", color="tab:red", markersize=14, zorder=3,
                        label=f"best (epoch {best['epoch']}, best.npz)")
        lowest = min(min(row["train_acc"], row[held + "_acc"]) for row in rows)
        acc_ax.set_ylim(max(0.0, lowest - 0.02), 1.0)
        acc_ax.legend(loc="lower right")
    for k, step in enumerate(resumed_at):
        loss_ax.axvline(step + 0.5, color="tab:gray", linestyle="--", linewidth=1,
                        label="resumed" if k == 0 else None)
    loss_ax.set(xlabel="step", ylabel="loss (log scale)", title="loss")
    if np.any(step_loss > 0):
        loss_ax.set_yscale("log")
    loss_ax.legend()
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    acc_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize="medium")
    save_figure(fig, path)
    return fig


def plot_losses(ax, losses, title, ylim=(0, 1), labels=None):
    """The book's figure: each smoothed loss curve with markers along it.

    Curves differ in line style as well as colour and marker, so eight of them stay apart in grey
    print too; ``labels`` maps a name to its legend entry (e.g. with its lr), else the name is shown.
    """
    markers = "osD^v<>px*h"
    styles = ("-", "--", "-.", ":")
    for k, (name, loss) in enumerate(losses.items()):
        curve = smooth_curve(loss) if loss.size >= SMOOTH_WINDOW else loss
        ax.plot(np.arange(loss.size), curve, marker=markers[k % len(markers)], linestyle=styles[k % len(styles)],
                markevery=max(1, loss.size // 20), label=(labels or {}).get(name, name))
    ax.set(xlabel="iterations", ylabel="loss", title=title, ylim=ylim)
    ax.legend()

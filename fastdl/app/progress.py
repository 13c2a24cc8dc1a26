"""What ``fastdl train`` shows while it runs, and the figure it leaves behind."""
import numpy as np
from tqdm import tqdm

from .outputs import new_figure, save_figure
from .util import SMOOTH_WINDOW, smooth_curve

BAR_UPDATES_PER_EPOCH = 100


class Progress:
    """A live bar per epoch (samples/s, running loss) on a terminal; one line per epoch otherwise.

    Parameters
    ----------
    stream : the text stream to write to (stdout).
    steps : training steps per epoch.
    batch_size : samples per step.
    """

    def __init__(self, stream, steps, batch_size):
        self.stream = stream
        self.live = stream.isatty()
        self.steps = steps
        self.batch_size = batch_size
        self._bar = None
        self._shown = 0
        self._epoch = None

    def start(self, epoch, last_epoch, first_step=0):
        """Open the epoch's bar (``first_step`` steps already done); returns every how many steps
        ``advance`` wants to be called."""
        self._epoch = f"epoch {epoch}/{last_epoch}"
        self._shown = first_step
        if not self.live:
            return self.steps
        self._bar = tqdm(total=self.steps * self.batch_size, initial=first_step * self.batch_size, desc=self._epoch,
                         unit="img", unit_scale=True, file=self.stream, leave=False, dynamic_ncols=True,
                         mininterval=0.2)
        return max(1, self.steps // BAR_UPDATES_PER_EPOCH)

    def advance(self, steps_done, losses):
        """``losses[:steps_done]`` are this epoch's step losses so far."""
        if self._bar is None:
            return
        recent = losses[self._shown:steps_done]
        self._bar.set_postfix_str(f"loss {recent.mean():.4f}", refresh=False)
        self._bar.update((steps_done - self._shown) * self.batch_size)
        self._shown = steps_done

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def report(self, row):
        """The epoch's line: train and test loss and accuracy, training and evaluation time."""
        rate = self.steps * self.batch_size / row["seconds"]
        print(f"{self._epoch}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
              f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.4f}  "
              f"{row['seconds']:.2f} s ({rate:,.0f} samples/s) + eval {row['eval_seconds']:.2f} s",
              file=self.stream, flush=True)


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

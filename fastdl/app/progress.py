"""What ``fastdl train`` shows while it runs: a live bar per epoch, or one line per epoch."""
from tqdm import tqdm

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
        """The epoch's line: train and test (or validation) loss and accuracy, training and evaluation time."""
        rate = self.steps * self.batch_size / row["seconds"]
        held = "val" if "val_acc" in row else "test"
        print(f"{self._epoch}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}  "
              f"{held} loss {row[held + '_loss']:.4f} acc {row[held + '_acc']:.4f}  "
              f"{row['seconds']:.2f} s ({rate:,.0f} samples/s) + eval {row['eval_seconds']:.2f} s",
              file=self.stream, flush=True)

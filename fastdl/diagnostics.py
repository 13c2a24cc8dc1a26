"""Signs of numerical trouble during training, shared by the Trainer and the command line."""
import math

import numpy as np

from .flat import FlatParams


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step and the optimizer."""


def check_finite_loss(loss, step, optimizer):
    """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite.

    Parameters
    ----------
    loss : float
        The training loss measured after update number ``step``.
    step : int
        How many updates had been made (1 after the first).
    optimizer : Optimizer
        The optimizer that made them; its class and ``lr`` go into the message.

    NaN and inf travel through the layers as through NumPy, so a diverging run
    (the articles' SGD at lr=0.1 on a badly scaled input) or NaN in the data
    would otherwise train on silently; this check turns it into one error.
    """
    if math.isfinite(loss):
        return
    lr = getattr(optimizer, "lr", None)
    used = type(optimizer).__name__ + ("" if lr is None else f" with lr={lr:g}")
    advice = "" if lr is None else f" Try a smaller learning rate, e.g. lr={lr / 10:g}."
    raise NonFiniteLossError(f"the training loss became {float(loss)} at step {step} ({used}): the updates "
                             f"diverged, or the data holds NaN or inf.{advice}")


def gradient_norm(grads):
    """Euclidean norm of all gradients together, as a float (float64 sums).

    ``grads`` : a network's gradient :class:`~fastdl.flat.FlatParams` or any dict of arrays.
    Logged per step, it grows by orders of magnitude before a loss turns NaN.
    """
    parts = [grads.flat] if isinstance(grads, FlatParams) else grads.values()
    total = 0.0
    for part in parts:
        values = np.asarray(part, dtype=np.float64).reshape(-1)
        total += float(np.dot(values, values))
    return math.sqrt(total)

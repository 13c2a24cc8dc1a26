"""Signs of numerical trouble during training, shared by the Trainer and the command line."""
import inspect
import math

import numpy as np

from .flat import FlatParams


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step and the optimizer."""


def check_finite_loss(loss, step, optimizer, x=None):
    """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite.

    Parameters
    ----------
    loss : float
        The training loss measured after update number ``step``.
    step : int
        How many updates had been made (1 after the first).
    optimizer : Optimizer
        The optimizer that made them; its class and ``lr`` go into the message.
    x : array, optional
        The batch the loss was measured on: the message then says whether it
        holds NaN or inf, or values too large for the forward pass, instead of
        naming both causes.

    NaN and inf travel through the layers as through NumPy, so a diverging run
    (the articles' SGD at lr=0.1 on a badly scaled input) or NaN in the data
    would otherwise train on silently; this check turns it into one error.
    """
    if math.isfinite(loss):
        return
    lr = getattr(optimizer, "lr", None)
    used = type(optimizer).__name__ + ("" if lr is None else f" with lr={lr:g}")
    advice = "" if lr is None else f" Try a smaller learning rate, e.g. lr={suggested_lr(optimizer):g}."
    cause = "the updates diverged, or the data holds NaN or inf"
    if x is not None:
        largest = float(np.max(np.abs(x), initial=0.0))
        if not math.isfinite(largest):  # np.max propagates a NaN
            cause, advice = "the batch holds NaN or inf", ""
        elif largest > LARGE_INPUT:
            cause = (f"the batch is finite but holds values up to {largest:.3g}: the updates diverged, or the "
                     f"input is too large for the network (scale it, as load_mnist(normalize=True) does)")
        else:
            cause = f"the updates diverged (the batch is finite, values up to {largest:.3g})"
    raise NonFiniteLossError(f"the training loss became {float(loss)} at step {step} ({used}): {cause}.{advice}")


LARGE_INPUT = 1e3
"""Inputs beyond this magnitude are named as a possible cause of an overflow (MNIST's raw pixels reach 255)."""


FAR_ABOVE_DEFAULT = 1e4
"""An lr this many times the optimizer's default is suggested the default rather than a tenth of itself
(a tenth of a diverging 1e30 diverges too)."""


def suggested_lr(optimizer):
    """A tenth of ``optimizer.lr``, or the class's default lr when the lr is far above it."""
    default = inspect.signature(type(optimizer)).parameters.get("lr")
    default = None if default is None else default.default
    if isinstance(default, (int, float)) and optimizer.lr > FAR_ABOVE_DEFAULT * default:
        return default
    return optimizer.lr / 10


def gradient_norm(grads):
    """Euclidean norm of all gradients together, as a float (float64 sums).

    ``grads`` : a network's gradient :class:`~fastdl.flat.FlatParams` or any dict of arrays.
    Logged per step, it grows by orders of magnitude before a loss turns NaN.
    A sum of squares beyond float64's range (gradients above ~1e154) is summed
    again scaled by the largest magnitude, so finite gradients get their finite
    norm; inf or NaN among them gives inf or NaN.
    """
    parts = [grads.flat] if isinstance(grads, FlatParams) else list(grads.values())
    arrays = [np.asarray(part, dtype=np.float64).reshape(-1) for part in parts]
    with np.errstate(over="ignore"):
        total = sum(float(np.dot(values, values)) for values in arrays)
    if math.isfinite(total):
        return math.sqrt(total)
    largest = max((float(np.max(np.abs(values))) for values in arrays if values.size), default=0.0)
    if not math.isfinite(largest):
        return largest if not math.isnan(total) else math.nan
    return largest * math.sqrt(sum(float(np.dot(values / largest, values / largest)) for values in arrays))

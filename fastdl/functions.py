"""The book's activation and loss functions (``common/functions.py``), in NumPy.

These are the teaching functions the book's chapter 3-4 scripts call on whole
arrays; the layers in :mod:`fastdl.layers` use fused kernels instead.

They give the book's numbers where a float overflows (``sigmoid(-1e4)`` is 0,
``sum_squared_error`` of huge values is inf, ``softmax`` of an inf is NaN) as
the layers do, without the RuntimeWarning NumPy prints for each.
"""
import numpy as np

FLOAT_SEMANTICS = np.errstate(over="ignore", invalid="ignore")
"""Overflow to inf and inf - inf = NaN as IEEE floats do, unannounced: NaN and inf travel as through the layers."""


def identity_function(x):
    return x


def step_function(x):
    return np.array(x > 0, dtype=int)


@FLOAT_SEMANTICS
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """Derivative of the sigmoid at the pre-activation ``x``."""
    return (1.0 - sigmoid(x)) * sigmoid(x)


def relu(x):
    return np.maximum(0, x)


def relu_grad(x):
    """1 where x >= 0, else 0 (the book's function; the Relu layer gives 0 at x == 0)."""
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


@FLOAT_SEMANTICS
def softmax(x):
    """Softmax along the last axis; the max is subtracted first so exp cannot overflow."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


@FLOAT_SEMANTICS
def sum_squared_error(y, t):
    """0.5 * sum((y - t)**2) over all elements (not divided by the batch size)."""
    return 0.5 * np.sum((y - t) ** 2)


mean_squared_error = sum_squared_error  # the book's name before 2019


@FLOAT_SEMANTICS
def cross_entropy_error(y, t):
    """-sum(log(y[n, t_n] + 1e-7)) / N; ``t`` as class indices or one-hot rows."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def softmax_loss(X, t):
    return cross_entropy_error(softmax(X), t)

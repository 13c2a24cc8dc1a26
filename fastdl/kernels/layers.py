"""Kernels of the book's Affine, Relu, Sigmoid and SoftmaxWithLoss, in place over caller-owned buffers.

GEMMs go through BLAS (``np.dot(a, b, out)`` inside ``@njit`` calls SciPy's
BLAS); everything elementwise is fused into the pass that touches the data
anyway. Matrices are 2-D and of one dtype; elementwise kernels take raveled
1-D views, so one compiled specialisation serves every input shape. Batch
normalisation and dropout are in :mod:`fastdl.kernels.batchnorm_dropout`.
"""
import math

import numpy as np
from numba import prange

from . import PARALLEL_MIN_SIZE, STREAMING_PARALLEL_MIN_SIZE, kernel


@kernel(parallel=True)
def affine_forward(x, W, b, out):
    """out = x @ W + b.

    x : (N, D), W : (D, M), b : (M,), out : (N, M) C-contiguous, never aliasing x or W.
    """
    np.dot(x, W, out)
    n, m = out.shape
    if n * m < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            for j in range(m):
                out[i, j] += b[j]
    else:
        for i in prange(n):
            for j in range(m):
                out[i, j] += b[j]


@kernel()
def affine_backward_params(x, dout, dW, db):
    """dW = x.T @ dout and db = dout summed over the batch.

    x : (N, D), dout : (N, M), dW : (D, M), db : (M,).
    The sum runs row by row so it vectorises over M and is bitwise the same
    for any thread count.
    """
    np.dot(x.T, dout, dW)
    n, m = dout.shape
    for j in range(m):
        db[j] = 0
    for i in range(n):
        for j in range(m):
            db[j] += dout[i, j]


@kernel()
def affine_backward_input(dout, W, dx):
    """dx = dout @ W.T.  dout : (N, M), W : (D, M), dx : (N, D)."""
    np.dot(dout, W.T, dx)


@kernel()
def scaled_add(x, alpha, out):
    """out += alpha * x over 1-D buffers (the weight-decay term lambda * W)."""
    for i in range(x.size):
        out[i] += alpha * x[i]


@kernel(parallel=True)
def relu_forward(x, out, mask):
    """out = max(x, 0) with mask = (x <= 0), the book's Relu.  All 1-D of one size."""
    n = x.size
    if n < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            mask[i] = x[i] <= 0
            out[i] = 0 if mask[i] else x[i]
    else:
        for i in prange(n):
            mask[i] = x[i] <= 0
            out[i] = 0 if mask[i] else x[i]


@kernel(parallel=True)
def relu_backward(dout, mask):
    """dout[mask] = 0 in place, as the book's Relu.backward.  1-D views."""
    n = dout.size
    if n < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            if mask[i]:
                dout[i] = 0
    else:
        for i in prange(n):
            if mask[i]:
                dout[i] = 0


@kernel(parallel=True)
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(-x)); exp overflow for very negative x gives 0, as NumPy.  1-D views."""
    n = x.size
    one = out.dtype.type(1)
    if n < PARALLEL_MIN_SIZE:
        for i in range(n):
            out[i] = one / (one + math.exp(-x[i]))
    else:
        for i in prange(n):
            out[i] = one / (one + math.exp(-x[i]))


@kernel(parallel=True)
def sigmoid_backward(dout, out, dx):
    """dx = dout * (1 - out) * out, the book's Sigmoid.backward.  1-D views."""
    n = dout.size
    one = dx.dtype.type(1)
    if n < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            dx[i] = dout[i] * (one - out[i]) * out[i]
    else:
        for i in prange(n):
            dx[i] = dout[i] * (one - out[i]) * out[i]


@kernel()
def first_label_out_of_range(labels, classes):
    """Index of the first label outside ``0..classes-1``, or -1.  labels : (N,) intp."""
    for i in range(labels.size):
        if labels[i] < 0 or labels[i] >= classes:
            return i
    return -1


@kernel()
def softmax_cross_entropy_forward(x, t, t_onehot, exact, y, dx):
    """Softmax, cross-entropy and its gradient in one pass over the logits.

    Parameters
    ----------
    x : (N, C) logits.
    t : (N,) integer class per row (for one-hot labels, the row's argmax, as the book's loss).
    t_onehot : (N, C) one-hot labels, or (0, 0) when the labels are indices.
    exact : bool
        False: the book's ``-log(y[n, t_n] + 1e-7)``, which caps a sample's loss
        at ~16.1 and stops being the loss whose gradient is ``(y - t) / N`` once
        ``y[n, t_n]`` nears 1e-7 (logit gaps above ~10). True: the exact
        ``logsumexp(x[n]) - x[n, t_n]``, whose gradient ``dx`` is at any gap.
    y : (N, C) output: softmax of x (row max subtracted: exp overflow).
    dx : (N, C) output: (y - t) / N, the book's SoftmaxWithLoss.backward.

    Returns
    -------
    loss : float64
        The mean over the rows, summed in row order in float64.
    """
    n, c = x.shape
    one_hot = t_onehot.shape[0] == n
    batch = dx.dtype.type(n)
    delta = y.dtype.type(1e-7)
    loss = 0.0
    for i in range(n):
        row_max = x[i, 0]
        for j in range(1, c):
            row_max = max(row_max, x[i, j])
        total = y.dtype.type(0)
        for j in range(c):
            y[i, j] = math.exp(x[i, j] - row_max)
            total += y[i, j]
        for j in range(c):
            y[i, j] /= total
            target = t_onehot[i, j] if one_hot else (1 if j == t[i] else 0)
            dx[i, j] = (y[i, j] - target) / batch
        if exact:
            # float64: the difference of two float32 logits is exact there.
            loss += math.log(np.float64(total)) + (np.float64(row_max) - np.float64(x[i, t[i]]))
        else:
            loss -= math.log(y[i, t[i]] + delta)
    return loss / n

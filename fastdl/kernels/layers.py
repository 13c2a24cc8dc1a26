"""Forward and backward kernels of the book's layers, in place over caller-owned buffers.

GEMMs go through BLAS (``np.dot(a, b, out)`` inside ``@njit`` calls SciPy's
BLAS); everything elementwise is fused into the pass that touches the data
anyway. Matrices are 2-D and of one dtype; elementwise kernels take raveled
1-D views, so one compiled specialisation serves every input shape.
"""
import math

import numpy as np
from numba import prange

from . import PARALLEL_MIN_SIZE, STREAMING_PARALLEL_MIN_SIZE, kernel
from .mt19937 import random_sample


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


@kernel()
def _batchnorm_statistics(x, running_mean, running_var, momentum, mu, xc, std):
    """The batch statistics of the book's BatchNormalization forward in training mode.

    Writes mu = mean of x, xc = x - mu and std = sqrt(var + 1e-6) (var the
    biased batch variance), and updates
    ``running = momentum * running + (1 - momentum) * batch_statistic`` in place.
    Sums run row by row into the (D,) accumulators, the order NumPy's
    ``sum(axis=0)`` uses, so float64 results equal the book's bit for bit.
    """
    n, d = x.shape
    batch = x.dtype.type(n)
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    eps = x.dtype.type(1e-6)  # the book writes 10e-7
    for j in range(d):
        mu[j] = zero
        std[j] = zero
    for i in range(n):
        for j in range(d):
            mu[j] += x[i, j]
    for j in range(d):
        mu[j] /= batch
    for i in range(n):
        for j in range(d):
            xc[i, j] = x[i, j] - mu[j]
            std[j] += xc[i, j] * xc[i, j]
    for j in range(d):
        var = std[j] / batch
        running_mean[j] = momentum * running_mean[j] + (one - momentum) * mu[j]
        running_var[j] = momentum * running_var[j] + (one - momentum) * var
        std[j] = math.sqrt(var + eps)


@kernel()
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, mu, xc, xn, std, out):
    """The book's BatchNormalization forward in training mode.

    Parameters
    ----------
    x : (N, D) input batch.
    gamma, beta : (D,) scale and shift.
    running_mean, running_var : (D,) updated in place (see ``_batchnorm_statistics``).
    momentum : scalar of x's dtype.
    mu : (D,) output: batch mean.
    xc : (N, D) output: x - mu.
    xn : (N, D) output: xc / std.
    std : (D,) output: sqrt(var + 1e-6), var the biased batch variance.
    out : (N, D) output: gamma * xn + beta.

    Serial: the work is batch-sized and the reductions run over rows.
    """
    _batchnorm_statistics(x, running_mean, running_var, momentum, mu, xc, std)
    n, d = x.shape
    for i in range(n):
        for j in range(d):
            xn[i, j] = xc[i, j] / std[j]
            out[i, j] = gamma[j] * xn[i, j] + beta[j]


@kernel()
def batchnorm_relu_dropout_forward(x, gamma, beta, running_mean, running_var, momentum, mu, xc, xn, std,
                                   relu_mask, rng_state, words, uniforms, dropout_ratio, dropout_mask, out):
    """A hidden layer's BatchNormalization, Relu and Dropout in training mode, in one kernel.

    The arguments up to ``std`` are :func:`batchnorm_forward`'s; then
    relu_mask : (N, D) bool output, Relu's ``mask`` (normalised value <= 0);
    rng_state, words, uniforms, dropout_ratio : as :func:`dropout_in_place`;
    dropout_mask : (N, D) bool output, Dropout's ``mask``, or (0, 0) for no dropout;
    out : (N, D) output, what the three layers return one after another.
    Every number is the one the three layers give (float64: bit for bit), but
    normalisation and ReLU share one pass and the two intermediate (N, D)
    outputs are never written; dropout then works on ``out`` in place.
    """
    _batchnorm_statistics(x, running_mean, running_var, momentum, mu, xc, std)
    n, d = x.shape
    zero = x.dtype.type(0)
    for i in range(n):
        for j in range(d):
            xn[i, j] = xc[i, j] / std[j]
            value = gamma[j] * xn[i, j] + beta[j]
            relu_mask[i, j] = value <= 0
            out[i, j] = zero if value <= 0 else value
    if dropout_mask.size != 0:
        dropout_in_place(out.reshape(out.size), rng_state, words, uniforms, dropout_ratio,
                         dropout_mask.reshape(dropout_mask.size))


@kernel(parallel=True)
def batchnorm_inference_forward(x, gamma, beta, running_mean, running_var, out):
    """The book's BatchNormalization forward in inference mode.

    out = gamma * (x - running_mean) / sqrt(running_var + 1e-6) + beta.
    x, out : (N, D); gamma, beta, running_mean, running_var : (D,).
    """
    n, d = x.shape
    eps = x.dtype.type(1e-6)
    if n * d < PARALLEL_MIN_SIZE:
        for i in range(n):
            for j in range(d):
                out[i, j] = gamma[j] * ((x[i, j] - running_mean[j]) / math.sqrt(running_var[j] + eps)) + beta[j]
    else:
        for i in prange(n):
            for j in range(d):
                out[i, j] = gamma[j] * ((x[i, j] - running_mean[j]) / math.sqrt(running_var[j] + eps)) + beta[j]


@kernel()
def batchnorm_backward(dout, gamma, xc, xn, std, dgamma, dbeta, dvar, dmu, dx):
    """The book's BatchNormalization backward, term by term.

    Parameters
    ----------
    dout : (N, D) upstream gradient.
    gamma : (D,).
    xc, xn : (N, D) and std : (D,) from the training-mode forward.
    dgamma, dbeta : (D,) outputs: sum(xn * dout) and sum(dout) over the batch.
    dvar, dmu : (D,) outputs: gradients of the batch variance and mean.
    dx : (N, D) output, never aliasing dout.

    With dxn = gamma * dout: dstd = -sum(dxn * xc / std**2), dvar = 0.5 * dstd / std,
    dxc = dxn / std + (2 / N) * xc * dvar, dmu = sum(dxc), dx = dxc - dmu / N.
    """
    n, d = dout.shape
    batch = dx.dtype.type(n)
    zero = dx.dtype.type(0)
    half = dx.dtype.type(0.5)
    two_over_n = dx.dtype.type(2) / batch
    for j in range(d):
        dgamma[j] = zero
        dbeta[j] = zero
        dvar[j] = zero
        dmu[j] = zero
    for i in range(n):
        for j in range(d):
            dbeta[j] += dout[i, j]
            dgamma[j] += xn[i, j] * dout[i, j]
            dvar[j] += (gamma[j] * dout[i, j] * xc[i, j]) / (std[j] * std[j])
    for j in range(d):
        dvar[j] = half * -dvar[j] / std[j]
    for i in range(n):
        for j in range(d):
            dx[i, j] = gamma[j] * dout[i, j] / std[j] + two_over_n * xc[i, j] * dvar[j]
            dmu[j] += dx[i, j]
    for i in range(n):
        for j in range(d):
            dx[i, j] -= dmu[j] / batch


@kernel()
def dropout_relu_batchnorm_backward(dout, dropout_mask, relu_mask, grad, gamma, xc, xn, std, dgamma, dbeta, dvar,
                                    dmu, dx):
    """The backward of :func:`batchnorm_relu_dropout_forward`: Dropout's, then Relu's, then BatchNormalization's.

    dout : (N, D) upstream gradient; dropout_mask : (N, D) bool, or (0, 0) for no
    dropout; relu_mask : (N, D) bool; grad : (N, D) output, the gradient reaching
    batch norm (dout * dropout_mask, zero where relu_mask). The rest are
    :func:`batchnorm_backward`'s arguments.
    """
    n, d = dout.shape
    dropout = dropout_mask.size != 0
    zero = dout.dtype.type(0)
    for i in range(n):
        for j in range(d):
            value = dout[i, j] * dropout_mask[i, j] if dropout else dout[i, j]
            grad[i, j] = zero if relu_mask[i, j] else value
    batchnorm_backward(grad, gamma, xc, xn, std, dgamma, dbeta, dvar, dmu, dx)


@kernel()
def dropout_in_place(values, rng_state, words, uniforms, dropout_ratio, mask):
    """The book's Dropout in training mode, in place: mask = np.random.rand(M) > dropout_ratio, values *= mask.

    values : (M,) raveled; mask : (M,) bool output; dropout_ratio : float64.
    rng_state, words : NumPy's global MT19937 and scratch (see
    :func:`fastdl.kernels.mt19937.random_sample`); uniforms : float64 scratch.
    The uniforms are drawn a scratch-full at a time and used at once, so no
    (M,) array of them is ever written. In place because a loop over two
    arrays that might alias runs unvectorised when they do. Not inverted:
    nothing is rescaled. Serial: the generator is a sequence.
    """
    n = values.size
    for start in range(0, n, uniforms.size):
        drawn = uniforms[:min(uniforms.size, n - start)]
        random_sample(rng_state, words, drawn)
        chunk, masks = values[start:start + drawn.size], mask[start:start + drawn.size]
        for i in range(drawn.size):
            keep = drawn[i] > dropout_ratio
            masks[i] = keep
            chunk[i] = chunk[i] * keep


@kernel(parallel=True)
def dropout_inference_forward(x, keep_ratio, out):
    """The book's Dropout in inference mode: out = x * (1 - dropout_ratio).  x, out : (M,)."""
    n = x.size
    if n < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            out[i] = x[i] * keep_ratio
    else:
        for i in prange(n):
            out[i] = x[i] * keep_ratio


@kernel(parallel=True)
def apply_mask(dout, mask, dx):
    """dx = dout * mask: the book's Dropout.backward (and its forward, given a mask).  All (M,) raveled."""
    n = dout.size
    if n < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(n):
            dx[i] = dout[i] * mask[i]
    else:
        for i in prange(n):
            dx[i] = dout[i] * mask[i]

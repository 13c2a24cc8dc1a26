"""Kernels of the book's BatchNormalization and Dropout, alone and fused, with the MT19937 sampler dropout draws from.

They share one file because the fused training kernel of a hidden layer
(batch norm, ReLU, dropout) calls the batch-norm and dropout kernels, and the
dropout kernel calls the sampler: Numba's cache only notices edits to callees
in the caller's own file.

``random_sample`` is NumPy's legacy ``random_sample`` (``np.random.rand``) over
the generator's own state. The book draws every dropout mask with
``np.random.rand``: at batch 100 that call (a C function-pointer call per
double, plus a new array) costs more than the rest of the dropout layer. This kernel produces the very same doubles from
the same MT19937 state, advancing it exactly as NumPy does, so seeded runs
keep the book's masks and every later draw from the global RNG is unchanged.

The state is NumPy's ``mt19937_state`` struct seen as 625 uint32 words:
``key[0:624]`` then ``pos`` (see :mod:`fastdl.numpy_rng`, which checks the
layout against NumPy before trusting it).
"""
import math

import numpy as np
from numba import prange

from . import PARALLEL_MIN_SIZE, STREAMING_PARALLEL_MIN_SIZE, kernel

STATE_WORDS = 625
_N = 624
_M = 397
WORDS_SCRATCH = _N + 2
"""Length of ``random_sample``'s uint32 scratch: one key block plus a carried word, rounded to whole pairs."""


@kernel()
def _twist(key):
    """Regenerate the 624 key words in place (NumPy's ``mt19937_gen``)."""
    upper, lower, matrix_a = np.uint32(0x80000000), np.uint32(0x7fffffff), np.uint32(0x9908b0df)
    one, zero = np.uint32(1), np.uint32(0)
    for i in range(_N - _M):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _M] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)
    for i in range(_N - _M, _N - 1):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _M - _N] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)
    y = (key[_N - 1] & upper) | (key[0] & lower)
    key[_N - 1] = key[_M - 1] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)


@kernel()
def _temper(y):
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9d2c5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xefc60000)
    return y ^ (y >> np.uint32(18))


@kernel()
def random_sample(state, words, out):
    """Fill ``out`` with the doubles ``np.random.rand(out.size)`` would return from ``state``.

    Parameters
    ----------
    state : (625,) uint32, NumPy's MT19937 key words then ``pos``; advanced in place.
    words : (WORDS_SCRATCH,) uint32 scratch.
    out : (M,) float64 output.

    Each pass tempers the key words it needs into ``words``, after the word
    left over from the previous block if any; each double is then one
    (first, second) pair read as one little-endian uint64. Both loops are
    contiguous, so the compiler vectorises them.
    """
    key = state[:_N]
    pos = np.intp(state[_N])
    pairs_view = words.view(np.uint64)
    low, a_shift, b_shift = np.uint64(0xffffffff), np.uint64(5), np.uint64(38)
    done = 0
    carried = 0
    while done < out.size:
        if pos == _N:
            _twist(key)
            pos = 0
        take = min(_N - pos, 2 * (out.size - done) - carried)
        block, scratch = key[pos:pos + take], words[carried:]
        for j in range(take):
            scratch[j] = _temper(block[j])
        pairs = (carried + take) // 2
        dest = out[done:done + pairs]
        for j in range(pairs):
            a = np.int32((pairs_view[j] & low) >> a_shift)
            b = np.int32(pairs_view[j] >> b_shift)
            dest[j] = (np.float64(a) * 67108864.0 + np.float64(b)) / 9007199254740992.0
        done += pairs
        carried = carried + take - 2 * pairs
        if carried:
            words[0] = words[2 * pairs]
        pos += take
    state[_N] = np.uint32(pos)


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
    :func:`random_sample`); uniforms : float64 scratch.
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

"""A careful pure-NumPy training step: the contender fastdl must clearly beat.

Same math as the book's ReLU ``MultiLayerNet`` + ``SoftmaxWithLoss`` + ``Adam``,
written the way a NumPy expert would: every array is allocated once (ufuncs
write through ``out=``), parameters and gradients live in one flat buffer so
Adam is a handful of whole-buffer ufuncs, the first layer's ``dx`` (which no
one needs) is never computed, and the ReLU keeps no separate copy of its
input. What NumPy cannot do is fuse: each ufunc is one more pass over memory.
"""
import math

import numpy as np


class MultiLayerNet:
    """ReLU layers, then softmax cross-entropy, over one flat parameter buffer.

    Parameters
    ----------
    sizes : list of int
        ``[input_size, *hidden sizes, output_size]``.
    batch : int
        The batch size every buffer is allocated for.
    dtype : float32 or float64
    seed : int
        He-initialised weights from ``np.random`` (the book's draw order).
    """

    def __init__(self, sizes, batch, dtype, seed=0):
        dtype = np.dtype(dtype)
        shapes = list(zip(sizes[:-1], sizes[1:]))
        total = sum(d_in * d_out + d_out for d_in, d_out in shapes)
        self.flat = np.zeros(total, dtype)
        self.grad_flat = np.zeros(total, dtype)
        self.W, self.b, self.dW, self.db = [], [], [], []
        np.random.seed(seed)
        offset = 0
        for d_in, d_out in shapes:
            for flat, weights, biases in ((self.flat, self.W, self.b), (self.grad_flat, self.dW, self.db)):
                weights.append(flat[offset:offset + d_in * d_out].reshape(d_in, d_out))
                biases.append(flat[offset + d_in * d_out:offset + d_in * d_out + d_out])
            offset += d_in * d_out + d_out
            self.W[-1][...] = np.sqrt(2.0 / d_in) * np.random.randn(d_in, d_out)
        self.out = [np.empty((batch, d_out), dtype) for _, d_out in shapes]
        self.dout = [np.empty((batch, d_out), dtype) for _, d_out in shapes]
        self.mask = [np.empty((batch, d_out), np.bool_) for _, d_out in shapes[:-1]]
        self.row = np.empty((batch, 1), dtype)
        self.row_start = np.arange(batch) * sizes[-1]
        self.target = np.empty(batch, np.intp)
        self.picked = np.empty(batch, dtype)
        self.log_picked = np.empty(batch, dtype)
        self.optimizer = Adam(total, dtype)

    def train_step(self, x, t):
        """Forward, loss, backward and an Adam update on the batch x (N, D), labels t (N,); returns the loss."""
        loss = self.loss_gradient(x, t)
        self.optimizer.update(self.flat, self.grad_flat)
        return loss

    def loss_gradient(self, x, t):
        """The book's loss of x (N, D), t (N,), leaving the gradients in ``grad_flat``."""
        inputs = x
        for layer, out in enumerate(self.out):
            np.matmul(inputs, self.W[layer], out=out)
            out += self.b[layer]
            if layer < len(self.mask):
                np.maximum(out, 0, out=out)
            inputs = out
        loss = self._softmax_cross_entropy(t)
        for layer in reversed(range(len(self.out))):
            inputs = x if layer == 0 else self.out[layer - 1]
            np.matmul(inputs.T, self.dout[layer], out=self.dW[layer])
            np.sum(self.dout[layer], axis=0, out=self.db[layer])
            if layer:
                np.matmul(self.dout[layer], self.W[layer].T, out=self.dout[layer - 1])
                np.greater(inputs, 0, out=self.mask[layer - 1])
                np.multiply(self.dout[layer - 1], self.mask[layer - 1], out=self.dout[layer - 1])
        return loss

    def _softmax_cross_entropy(self, t):
        """Softmax of the logits into ``dout[-1]``, the loss, then ``(y - onehot) / N`` in place."""
        logits, y = self.out[-1], self.dout[-1]
        np.max(logits, axis=1, keepdims=True, out=self.row)
        np.subtract(logits, self.row, out=y)
        np.exp(y, out=y)
        np.sum(y, axis=1, keepdims=True, out=self.row)
        y /= self.row
        np.add(self.row_start, t, out=self.target)
        flat_y = y.reshape(-1)
        np.take(flat_y, self.target, out=self.picked)
        np.add(self.picked, 1e-7, out=self.log_picked)
        np.log(self.log_picked, out=self.log_picked)
        self.picked -= 1
        np.put(flat_y, self.target, self.picked)
        y *= 1 / len(t)
        return -float(self.log_picked.sum()) / len(t)


class Adam:
    """The book's Adam (folded bias correction, ``1e-7``) over one flat buffer with one scratch buffer."""

    def __init__(self, size, dtype, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = np.zeros(size, dtype)
        self.v = np.zeros(size, dtype)
        self.scratch = np.empty(size, dtype)

    def update(self, p, g):
        """p (P,) -= lr_t * m / (sqrt(v) + 1e-7) after updating m and v from g (P,)."""
        self.iter += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        m, v, scratch = self.m, self.v, self.scratch
        np.subtract(g, m, out=scratch)
        scratch *= 1 - self.beta1
        m += scratch
        np.multiply(g, g, out=scratch)
        scratch -= v
        scratch *= 1 - self.beta2
        v += scratch
        np.sqrt(v, out=scratch)
        scratch += 1e-7
        np.divide(m, scratch, out=scratch)
        scratch *= lr_t
        p -= scratch

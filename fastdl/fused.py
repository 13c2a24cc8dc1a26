"""A hidden layer's BatchNormalization, Relu and Dropout run as one kernel each way (the networks' training path).

:class:`BatchNormReluDropout` works on a network's own layer objects and leaves
in them what their own ``forward``/``backward`` would leave, with the same
numbers (float64: bit for bit): BatchNormalization's ``xc``, ``xn``, ``std``,
running statistics, ``dgamma`` and ``dbeta``; Relu's and Dropout's ``mask``.
So each layer can still be called on its own afterwards. What the fused pass
skips is writing and re-reading the two intermediate outputs no one reads,
and two of every three kernel launches.
"""
import threading

import numpy as np

from .kernels import layers as K
from .layers import as_float_array, reuse
from .numpy_rng import UNIFORMS_SCRATCH, KernelRNG, global_mt19937

_NO_MASK = np.empty((0, 0), np.bool_)
_NO_DRAWS = KernelRNG(np.empty(0, np.uint32), np.empty(0, np.uint32), np.empty(UNIFORMS_SCRATCH), threading.Lock())
"""Stands in for the generator when there is no dropout: the kernel then never draws."""


class BatchNormReluDropout:
    """``BatchNorm{i}``, ``Relu{i}`` and, if given, ``Dropout{i}`` in training mode, fused.

    ``forward(x)`` takes the (N, D) output of ``Affine{i}`` and returns what
    the layers would return one after another; ``backward(dout)`` returns
    batch norm's dx. With dropout, the masks come from NumPy's global
    generator through the kernel: use the block only while
    :meth:`can_draw` is True.
    """

    def __init__(self, batchnorm, relu, dropout=None):
        self.batchnorm = batchnorm
        self.relu = relu
        self.dropout = dropout

    def can_draw(self):
        """False when dropout masks must come from ``np.random.rand`` itself (see :mod:`fastdl.numpy_rng`)."""
        return self.dropout is None or global_mt19937() is not None

    def forward(self, x):
        relu, dropout = self.relu, self.dropout
        arguments, _ = self.batchnorm.training_arguments(x)
        rows = arguments[0]
        relu.mask = relu_mask = reuse(relu.mask, rows.shape, np.bool_)
        if dropout is None:
            rng, ratio, dropout_mask = _NO_DRAWS, 0.0, _NO_MASK
            relu._out = out = reuse(relu._out, rows.shape, rows.dtype)
        else:
            rng, ratio = global_mt19937(), float(dropout.dropout_ratio)
            dropout.mask = dropout_mask = reuse(dropout.mask, rows.shape, np.bool_)
            dropout._out = out = reuse(dropout._out, rows.shape, rows.dtype)
        with rng.lock:
            K.batchnorm_relu_dropout_forward(*arguments, relu_mask, rng.state, rng.words, rng.uniforms, ratio,
                                             dropout_mask, out)
        return out

    def backward(self, dout):
        relu, dropout = self.relu, self.dropout
        dout = as_float_array(dout, self.batchnorm.gamma.dtype, "dout")
        if dout.shape != relu.mask.shape:
            raise ValueError(f"backward got dout of shape {dout.shape}, the forward output was {relu.mask.shape}")
        if dropout is None:
            grad, dropout_mask = dout, _NO_MASK  # Relu zeroes dout in place, as the book's
        else:
            dropout._dx = grad = reuse(dropout._dx, dout.shape, dout.dtype)
            dropout_mask = dropout.mask
            if type(dropout_mask) is not np.ndarray or dropout_mask.shape != dout.shape \
                    or dropout_mask.dtype != np.bool_:
                raise ValueError(f"Dropout mask was changed since the forward: expected bool {dout.shape}, got "
                                 f"{type(dropout_mask).__name__} {getattr(dropout_mask, 'shape', '')}")
        arguments = self.batchnorm.backward_arguments(grad)
        K.dropout_relu_batchnorm_backward(dout, dropout_mask, relu.mask, *arguments)
        return arguments[-1]

"""The book's layers (``common/layers.py``) over fused Numba kernels.

Same constructors, methods and attributes as the book. Differences, all for
speed (documented in the README): outputs, ``dx``, ``dW`` and ``db`` are
buffers each layer reuses while the shapes stay the same, so they are valid
until the layer's next ``forward``/``backward``; and ``Affine.x`` is a
float copy of the input when the input's dtype differs from ``W``'s.
"""
import numpy as np

from .functions import *  # noqa: F401,F403  (the book's star import exposes them too)
from .kernels import layers as K

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def reuse(buffer, shape, dtype):
    """``buffer`` when it already has this shape and dtype, else a new uninitialised array."""
    if buffer is not None and buffer.shape == shape and buffer.dtype == dtype:
        return buffer
    return np.empty(shape, dtype)


def as_float_array(x, dtype=None, name="x"):
    """``x`` as a C-contiguous float32/float64 array, copying only when needed.

    ``dtype`` forces the dtype (a layer's parameter dtype); otherwise float32
    and float64 stay as they are and anything else that is real becomes float64.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype in FLOAT_DTYPES else np.float64
    return np.ascontiguousarray(x, dtype=dtype)


class Affine:
    """Fully connected layer: ``out = x @ W + b``.

    Parameters
    ----------
    W : (D, M) float32 or float64 array, kept by reference (the very array passed in).
    b : (M,) array of W's dtype, kept by reference.

    ``forward`` accepts any (N, ...) input, flattened to (N, D); ``backward``
    returns dx in the input's shape and leaves ``dW`` (D, M) and ``db`` (M,).
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None
        self._out = None
        self._dx = None

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("Affine.forward needs an (N, D) batch, got a scalar")
        self.original_x_shape = x.shape
        x2d = x.reshape(x.shape[0], -1) if x.ndim != 2 else x
        if x2d.shape[1] != self.W.shape[0]:
            raise ValueError(f"Affine input has width {x2d.shape[1]} (shape {x.shape}), "
                             f"but W has shape {self.W.shape}: expected width {self.W.shape[0]}")
        if self.W.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Affine W has dtype {self.W.dtype}; use W.astype(np.float64)")
        self.x = as_float_array(x2d, self.W.dtype)
        self._out = reuse(self._out, (x2d.shape[0], self.W.shape[1]), self.W.dtype)
        K.affine_forward(self.x, self.W, self.b, self._out)
        return self._out

    def backward_params(self, dout):
        """Only ``dW`` and ``db``: the first layer's ``dx`` is work nobody needs."""
        dout = as_float_array(dout, self.W.dtype, "dout")
        self.dW = reuse(self.dW, self.W.shape, self.W.dtype)
        self.db = reuse(self.db, self.b.shape, self.W.dtype)
        K.affine_backward_params(self.x, dout, self.dW, self.db)
        return dout

    def backward(self, dout):
        dout = self.backward_params(dout)
        self._dx = reuse(self._dx, self.x.shape, self.W.dtype)
        K.affine_backward_input(dout, self.W, self._dx)
        return self._dx.reshape(self.original_x_shape)


class Relu:
    """``max(x, 0)``; ``mask`` is True where x <= 0.  ``backward`` zeroes ``dout`` in place, as the book."""

    def __init__(self):
        self.mask = None
        self._out = None

    def forward(self, x):
        x = as_float_array(x)
        self.mask = reuse(self.mask, x.shape, np.bool_)
        self._out = reuse(self._out, x.shape, x.dtype)
        K.relu_forward(x.reshape(-1), self._out.reshape(-1), self.mask.reshape(-1))
        return self._out

    def backward(self, dout):
        if isinstance(dout, np.ndarray) and dout.dtype in FLOAT_DTYPES and dout.flags.c_contiguous \
                and dout.shape == self.mask.shape:
            K.relu_backward(dout.reshape(-1), self.mask.reshape(-1))
        else:
            dout[self.mask] = 0
        return dout


class Sigmoid:
    """``1 / (1 + exp(-x))``; ``out`` keeps the output for ``backward``."""

    def __init__(self):
        self.out = None
        self._dx = None

    def forward(self, x):
        x = as_float_array(x)
        self.out = reuse(self.out, x.shape, x.dtype)
        K.sigmoid_forward(x.reshape(-1), self.out.reshape(-1))
        return self.out

    def backward(self, dout):
        dout = as_float_array(dout, self.out.dtype, "dout")
        if dout.shape != self.out.shape:
            raise ValueError(f"Sigmoid.backward got dout of shape {dout.shape}, forward output was {self.out.shape}")
        self._dx = reuse(self._dx, self.out.shape, self.out.dtype)
        K.sigmoid_backward(dout.reshape(-1), self.out.reshape(-1), self._dx.reshape(-1))
        return self._dx


class SoftmaxWithLoss:
    """Softmax followed by the book's cross-entropy (``1e-7`` inside the log).

    ``forward(x, t)`` takes logits x (N, C) and labels t: class indices (N,)
    of any integer dtype, or one-hot rows (N, C) (detected, as the book, by
    ``t.size == x.size``). It computes the loss, ``y`` and the gradient in one
    pass; ``backward(dout=1)`` returns that gradient ``(y - t) / N`` and, as
    the book, ignores ``dout``.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None
        self._dx = None

    def forward(self, x, t):
        self.t = t
        x = as_float_array(x)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss expects logits of shape (N, C), got {x.shape}")
        labels, one_hot = class_labels(t, x.shape, x.dtype)
        self.y = reuse(self.y, x.shape, x.dtype)
        self._dx = reuse(self._dx, x.shape, x.dtype)
        self.loss = np.float64(K.softmax_cross_entropy_forward(x, labels, one_hot, self.y, self._dx))
        return self.loss

    def backward(self, dout=1):
        return self._dx


def class_labels(t, logits_shape, dtype):
    """Split labels into the kernel's (indices (N,) intp, one-hot (N, C) or (0, 0)) pair.

    Raises a ValueError naming the shapes, or the offending label, when t does
    not fit logits of ``logits_shape``.
    """
    t = np.asarray(t)
    n, c = logits_shape
    if t.dtype.kind not in "biuf":
        raise TypeError(f"labels must be integer class indices or one-hot floats, got dtype {t.dtype}")
    if t.size == n * c:
        one_hot = np.ascontiguousarray(t.reshape(n, c), dtype=dtype)
        return np.argmax(one_hot, axis=1), one_hot
    if t.size != n:
        raise ValueError(f"labels of shape {t.shape} do not match logits of shape {logits_shape}: "
                         f"expected ({n},) class indices or ({n}, {c}) one-hot rows")
    if t.dtype.kind not in "iub":
        raise TypeError(f"class-index labels must have an integer dtype, got {t.dtype}")
    labels = t.reshape(n).astype(np.intp, copy=False)
    if n and (labels.min() < 0 or labels.max() >= c):
        bad = labels[(labels < 0) | (labels >= c)][0]
        raise ValueError(f"label {bad} is out of range for {c} classes (valid: 0..{c - 1})")
    return labels, np.empty((0, 0), dtype)

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


class BatchNormalization:
    """The book's batch normalization: ``forward(x, train_flg=True)``, ``backward(dout)``.

    Parameters
    ----------
    gamma, beta : (D,) float32 or float64 arrays, kept by reference (a network's parameter views).
    momentum : float, default 0.9
        ``running = momentum * running + (1 - momentum) * batch_statistic`` in training mode.
    running_mean, running_var : (D,) arrays, optional
        Copied into the layer's own buffers of gamma's dtype; zeros (variance too, as the
        book) on the first ``forward`` when omitted.

    Training mode normalises with the batch mean and biased variance, ``std =
    sqrt(var + 1e-6)``, and updates the running statistics in place; inference
    mode uses the running statistics. An (N, C, H, W) input is normalised per
    (c, h, w) feature, as the book (not per channel). ``backward`` leaves
    ``dgamma`` and ``dbeta``.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        if not isinstance(gamma, np.ndarray) or gamma.dtype not in FLOAT_DTYPES or gamma.ndim != 1:
            raise TypeError(f"gamma must be a 1-D float32/float64 array, got {type(gamma).__name__} "
                            f"{getattr(gamma, 'dtype', '')} {getattr(gamma, 'shape', '')}")
        if not isinstance(beta, np.ndarray) or beta.dtype != gamma.dtype or beta.shape != gamma.shape:
            raise TypeError(f"beta must be a {gamma.dtype} array of gamma's shape {gamma.shape}, got "
                            f"{type(beta).__name__} {getattr(beta, 'dtype', '')} {getattr(beta, 'shape', '')}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = self._running_buffer("running_mean", running_mean)
        self.running_var = self._running_buffer("running_var", running_var)
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None
        self._mu = None
        self._out = None
        self._dvar = None
        self._dmu = None
        self._dx = None

    def _running_buffer(self, name, value):
        if value is None:
            return None
        value = np.array(value, dtype=self.gamma.dtype)
        if value.shape != self.gamma.shape:
            raise ValueError(f"{name} has shape {value.shape}, expected gamma's shape {self.gamma.shape}")
        return value

    def _as_rows(self, x, name):
        """x as (N, D) rows of gamma's dtype; (N, C, H, W) is flattened as the book does."""
        x = np.asarray(x)
        if x.ndim not in (2, 4):
            raise ValueError(f"BatchNormalization takes (N, D) or (N, C, H, W) {name}, got shape {x.shape}")
        rows = as_float_array(x.reshape(x.shape[0], -1), self.gamma.dtype, name)
        if rows.shape[1] != self.gamma.shape[0]:
            raise ValueError(f"BatchNormalization {name} of shape {x.shape} has {rows.shape[1]} features, "
                             f"gamma has {self.gamma.shape[0]}")
        return rows

    def forward(self, x, train_flg=True):
        self.input_shape = np.shape(x)
        x = self._as_rows(x, "x")
        dtype = self.gamma.dtype
        if self.running_mean is None:
            self.running_mean = np.zeros(self.gamma.shape, dtype)
            self.running_var = np.zeros(self.gamma.shape, dtype)
        self._out = reuse(self._out, x.shape, dtype)
        if train_flg:
            self.batch_size = x.shape[0]
            self.xc = reuse(self.xc, x.shape, dtype)
            self.xn = reuse(self.xn, x.shape, dtype)
            self.std = reuse(self.std, self.gamma.shape, dtype)
            self._mu = reuse(self._mu, self.gamma.shape, dtype)
            K.batchnorm_forward(x, self.gamma, self.beta, self.running_mean, self.running_var,
                                dtype.type(self.momentum), self._mu, self.xc, self.xn, self.std, self._out)
        else:
            K.batchnorm_inference_forward(x, self.gamma, self.beta, self.running_mean, self.running_var, self._out)
        return self._out.reshape(self.input_shape)

    def backward(self, dout):
        if self.xc is None:
            raise RuntimeError("BatchNormalization.backward needs a forward(x, train_flg=True) first")
        dout = self._as_rows(dout, "dout")
        if dout.shape != self.xc.shape:
            raise ValueError(f"BatchNormalization.backward got dout of shape {dout.shape}, "
                             f"the training forward had {self.xc.shape}")
        dtype = self.gamma.dtype
        self.dgamma = reuse(self.dgamma, self.gamma.shape, dtype)
        self.dbeta = reuse(self.dbeta, self.gamma.shape, dtype)
        self._dvar = reuse(self._dvar, self.gamma.shape, dtype)
        self._dmu = reuse(self._dmu, self.gamma.shape, dtype)
        self._dx = reuse(self._dx, dout.shape, dtype)
        K.batchnorm_backward(dout, self.gamma, self.xc, self.xn, self.std,
                             self.dgamma, self.dbeta, self._dvar, self._dmu, self._dx)
        return self._dx.reshape(self.input_shape)


class Dropout:
    """The book's (not inverted) dropout: ``forward(x, train_flg=True)``, ``backward(dout)``.

    Training mode draws ``mask = np.random.rand(*x.shape) > dropout_ratio`` from
    NumPy's global RNG, in Python (so ``np.random.seed`` reproduces the book's
    masks), and returns ``x * mask``; inference mode returns ``x * (1 - dropout_ratio)``.
    """

    def __init__(self, dropout_ratio=0.5):
        if isinstance(dropout_ratio, bool) or not 0 <= dropout_ratio <= 1:
            raise ValueError(f"dropout_ratio must be a number in [0, 1], got {dropout_ratio!r}")
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self._out = None
        self._dx = None

    def forward(self, x, train_flg=True):
        x = as_float_array(x)
        if x.ndim == 0:
            raise ValueError("Dropout.forward needs an array, got a scalar")
        self._out = reuse(self._out, x.shape, x.dtype)
        if train_flg:
            self.mask = reuse(self.mask, x.shape, np.bool_)
            rand = np.random.rand(*x.shape)
            K.dropout_forward(x.reshape(-1), rand.reshape(-1), float(self.dropout_ratio),
                              self._out.reshape(-1), self.mask.reshape(-1))
        else:
            K.dropout_inference_forward(x.reshape(-1), x.dtype.type(1.0 - self.dropout_ratio),
                                        self._out.reshape(-1))
        return self._out

    def backward(self, dout):
        if self.mask is None:
            raise RuntimeError("Dropout.backward needs a forward(x, train_flg=True) first")
        dout = as_float_array(dout, name="dout")
        if dout.shape != self.mask.shape:
            raise ValueError(f"Dropout.backward got dout of shape {dout.shape}, the mask has {self.mask.shape}")
        self._dx = reuse(self._dx, dout.shape, dout.dtype)
        K.dropout_backward(dout.reshape(-1), self.mask.reshape(-1), self._dx.reshape(-1))
        return self._dx

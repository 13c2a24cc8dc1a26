"""The book's layers (``common/layers.py``) over fused Numba kernels.

Same constructors, methods and attributes as the book. Differences, all for
speed (documented in the README): outputs, ``dx``, ``dW`` and ``db`` are
buffers each layer reuses while the shapes stay the same, so they are valid
until the layer's next ``forward``/``backward``; and ``Affine.x`` is a
float copy of the input when the input's dtype differs from ``W``'s.
"""
import math
import threading

import numpy as np

from .functions import *  # noqa: F401,F403  (the book's star import exposes them too)
from .kernels import batchnorm_dropout as BD
from .kernels import layers as K
from .numpy_rng import UNIFORMS_SCRATCH, KernelRNG, global_mt19937
from .validation import FLOAT_DTYPES, as_float_array, check_fraction


def reuse(buffer, shape, dtype):
    """``buffer`` when it already has this shape and dtype, else a new uninitialised array."""
    if buffer is not None and buffer.shape == shape and buffer.dtype == dtype:
        return buffer
    return np.empty(shape, dtype)


def require_forward(layer, state):
    """RuntimeError unless ``state`` (what ``forward`` leaves for ``backward``) exists."""
    if state is None:
        raise RuntimeError(f"{type(layer).__name__}.backward needs a forward() first")


def check_batch(name, rows):
    """ValueError for a batch of no rows, whose mean (loss, statistics, accuracy) is undefined."""
    if rows == 0:
        raise ValueError(f"{name} got an empty batch (0 rows): its mean is undefined")


class Affine:
    """Fully connected layer: ``out = x @ W + b``.

    Parameters
    ----------
    W : (D, M) float32 or float64 array, kept by reference (the very array passed in).
    b : (M,) array of W's dtype, kept by reference.
    dW, db : (D, M) and (M,) arrays of W's dtype, optional
        Where ``backward`` writes the gradients (a network passes views of its
        gradient buffer); new arrays on the first ``backward`` when omitted or
        when they do not fit W.

    ``forward`` accepts any (N, ...) input, flattened to (N, D); ``backward``
    returns dx in the input's shape and leaves ``dW`` (D, M) and ``db`` (M,).
    """

    def __init__(self, W, b, dW=None, db=None):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = dW
        self.db = db
        self._out = None
        self._dx = None
        self._checked = None

    def _weights(self):
        """``(W, b)`` as the kernels take them, read afresh each call (the book's params are shared).

        A C- or Fortran-ordered W is used as it is (the book's ``sample_weight.pkl``
        is Fortran-ordered float32); a strided W, or a b of another dtype, is copied.
        The pair last found usable is remembered with W's shape, so a step checks
        it again only when a new array (or W reshaped in place) arrives.
        """
        W, b = self.W, self.b
        checked = self._checked
        # Identity alone is not enough: W.resize(..., refcheck=False) or an in-place dtype change
        # keeps the object but not its extent, and the kernels index b by W's width.
        if checked is not None and checked[0] is W and checked[1] is b and checked[2] == W.shape \
                and checked[3] == b.shape and checked[4] is W.dtype and checked[5] is b.dtype:
            return W, b
        if isinstance(W, np.ndarray) and type(W) is not np.ndarray:
            W = W.view(np.ndarray)  # np.matrix and other subclasses: a plain view of the same memory
        if not isinstance(W, np.ndarray) or W.ndim != 2:
            raise TypeError(f"Affine W must be a 2-D array, got {type(W).__name__} of shape {np.shape(W)}")
        if W.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Affine W has dtype {W.dtype}; use W.astype(np.float64)")
        if not (W.flags.c_contiguous or W.flags.f_contiguous):
            W = np.ascontiguousarray(W)
        if not isinstance(b, np.ndarray) or b.dtype != W.dtype or not b.flags.c_contiguous:
            b = as_float_array(b, W.dtype, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(f"Affine b has shape {b.shape}, but W has shape {W.shape}: expected ({W.shape[1]},)")
        if W is self.W and b is self.b:
            self._checked = (W, b, W.shape, b.shape, W.dtype, b.dtype)
        return W, b

    def _rows(self, x, W):
        """x as (N, D) rows of W's dtype; sets ``original_x_shape``."""
        if type(x) is np.ndarray and x.ndim == 2 and x.dtype is W.dtype and x.flags.c_contiguous \
                and x.shape[1] == W.shape[0]:
            self.original_x_shape = x.shape
            return x
        x = np.asarray(x)
        if x.ndim == 0:
            raise ValueError("Affine.forward needs an (N, D) batch, got a scalar")
        self.original_x_shape = x.shape
        x2d = x.reshape(x.shape[0], math.prod(x.shape[1:])) if x.ndim != 2 else x  # -1 fails for 0 rows
        if x2d.shape[1] != W.shape[0]:
            raise ValueError(f"Affine input has width {x2d.shape[1]} (shape {x.shape}), "
                             f"but W has shape {W.shape}: expected width {W.shape[0]}")
        return as_float_array(x2d, W.dtype)

    def forward(self, x):
        W, b = self._weights()
        self.x = x = self._rows(x, W)
        self._out = out = reuse(self._out, (x.shape[0], W.shape[1]), W.dtype)
        K.affine_forward(x, W, b, out)
        return out

    def _dout(self, dout, W):
        require_forward(self, self.x)
        dout = as_float_array(dout, W.dtype, "dout")
        if dout.shape != (self.x.shape[0], W.shape[1]):
            raise ValueError(f"Affine.backward got dout of shape {dout.shape}, the forward output was "
                             f"{(self.x.shape[0], W.shape[1])}")
        return dout

    def backward_params(self, dout):
        """Only ``dW`` and ``db``: the first layer's ``dx`` is work nobody needs."""
        W = self._weights()[0]
        dout = self._dout(dout, W)
        self.dW = reuse(self.dW, W.shape, W.dtype)
        self.db = reuse(self.db, (W.shape[1],), W.dtype)
        K.affine_backward_params(self.x, dout, self.dW, self.db)
        return dout

    def backward(self, dout):
        dout = self.backward_params(dout)
        self._dx = dx = reuse(self._dx, self.x.shape, dout.dtype)
        K.affine_backward_input(dout, self._weights()[0], dx)
        return dx if len(self.original_x_shape) == 2 else dx.reshape(self.original_x_shape)


class Relu:
    """``max(x, 0)``; ``mask`` is True where x <= 0.  ``backward`` zeroes ``dout`` in place, as the book."""

    def __init__(self):
        self.mask = None
        self._out = None

    def forward(self, x):
        x = as_float_array(x)
        mask, out = self.forward_buffers(x.shape, x.dtype)
        K.relu_forward(x.ravel(), out.ravel(), mask.ravel())
        return out

    def forward_buffers(self, shape, dtype):
        """``(mask, out)``: this layer's buffers for a forward of ``shape``, kept as its ``mask`` and output."""
        self._out = reuse(self._out, shape, dtype)
        return self.mask_buffer(shape), self._out

    def mask_buffer(self, shape):
        """This layer's ``mask`` for a forward of ``shape`` (alone when another layer's buffer takes the output)."""
        self.mask = reuse(self.mask, shape, np.bool_)
        return self.mask

    def backward(self, dout):
        require_forward(self, self.mask)
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"Relu.backward zeroes dout in place, as the book, so dout must be an array, "
                            f"got {type(dout).__name__}")
        if not dout.flags.writeable:
            raise ValueError("Relu.backward zeroes dout in place, as the book, but dout is read-only: "
                             "pass dout.copy()")
        if dout.shape != self.mask.shape:
            raise ValueError(f"Relu.backward got dout of shape {dout.shape}, the forward input was {self.mask.shape}")
        if type(dout) is not np.ndarray:
            # np.matrix stays 2-D under ravel(): the kernel must get a plain view of the same memory
            dout = dout.view(np.ndarray)
        if dout.dtype in FLOAT_DTYPES and dout.flags.c_contiguous:
            K.relu_backward(dout.ravel(), self.mask.ravel())
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
        self.out = out = reuse(self.out, x.shape, x.dtype)
        K.sigmoid_forward(x.ravel(), out.ravel())
        return out

    def backward(self, dout):
        require_forward(self, self.out)
        dout = as_float_array(dout, self.out.dtype, "dout")
        if dout.shape != self.out.shape:
            raise ValueError(f"Sigmoid.backward got dout of shape {dout.shape}, forward output was {self.out.shape}")
        self._dx = dx = reuse(self._dx, self.out.shape, self.out.dtype)
        K.sigmoid_backward(dout.ravel(), self.out.ravel(), dx.ravel())
        return dx


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy: the book's (``1e-7`` inside the log) or the exact one.

    Parameters
    ----------
    exact : bool, default False
        False: the book's ``-log(y[n, t_n] + 1e-7)`` averaged over the batch,
        the book's numbers. It caps each sample's loss at ~16.1 and, once a
        logit gap passes ~10, is no longer the loss whose gradient
        ``backward`` returns. True: the exact ``logsumexp(x[n]) - x[n, t_n]``,
        of which ``(y - t) / N`` is the gradient at any gap.

    ``forward(x, t)`` takes logits x (N, C) and labels t: class indices (N,)
    of any integer dtype, or one-hot rows (N, C) (detected, as the book, by
    ``t.size == x.size``; the loss reads each row's argmax, the gradient the
    row itself). It computes the loss, ``y`` and the gradient in one pass;
    ``backward(dout=1)`` returns that gradient ``(y - t) / N`` and, as the
    book, ignores ``dout``. NaN or inf logits give a NaN or inf loss, as NumPy.
    """

    def __init__(self, exact=False):
        self.exact = exact
        self.loss = None
        self.y = None
        self.t = None
        self._dx = None

    def forward(self, x, t):
        self.t = t
        x = as_float_array(x)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] == 0:
            raise ValueError(f"SoftmaxWithLoss expects logits of shape (N, C) with C >= 1, got {x.shape}")
        check_batch("SoftmaxWithLoss", x.shape[0])
        labels, one_hot = class_labels(t, x.shape, x.dtype)
        self.y = reuse(self.y, x.shape, x.dtype)
        self._dx = reuse(self._dx, x.shape, x.dtype)
        self.loss = np.float64(K.softmax_cross_entropy_forward(x, labels, one_hot, bool(self.exact),
                                                               self.y, self._dx))
        return self.loss

    def backward(self, dout=1):
        require_forward(self, self._dx)
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
        if not np.isfinite(one_hot).all():
            row = int(np.argwhere(~np.isfinite(one_hot))[0, 0])
            raise ValueError(f"one-hot labels hold NaN or inf (row {row}: {one_hot[row]})")
        return np.argmax(one_hot, axis=1), one_hot
    if t.size != n:
        raise ValueError(f"labels of shape {t.shape} do not match logits of shape {logits_shape}: "
                         f"expected ({n},) class indices or ({n}, {c}) one-hot rows")
    if t.dtype.kind not in "iu":
        raise TypeError(f"class-index labels must have an integer dtype, got {t.dtype}")
    labels = t.reshape(n).astype(np.intp, copy=False)  # a uint64 beyond intp wraps negative: still caught
    bad = K.first_label_out_of_range(labels, c)
    if bad >= 0:
        raise ValueError(f"label {t.reshape(n)[bad]} is out of range for {c} classes (valid: 0..{c - 1})")
    return labels, np.empty((0, 0), dtype)


def check_scale_and_shift(gamma, beta):
    """TypeError unless gamma is a 1-D float32/float64 array and beta one of its dtype and shape."""
    if not isinstance(gamma, np.ndarray) or gamma.dtype not in FLOAT_DTYPES or gamma.ndim != 1:
        raise TypeError(f"gamma must be a 1-D float32/float64 array, got {type(gamma).__name__} "
                        f"{getattr(gamma, 'dtype', '')} {getattr(gamma, 'shape', '')}")
    if not isinstance(beta, np.ndarray) or beta.dtype != gamma.dtype or beta.shape != gamma.shape:
        raise TypeError(f"beta must be a {gamma.dtype} array of gamma's shape {gamma.shape}, got "
                        f"{type(beta).__name__} {getattr(beta, 'dtype', '')} {getattr(beta, 'shape', '')}")


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
    dgamma, dbeta : (D,) arrays of gamma's dtype, optional
        Where ``backward`` writes the gradients (a network passes views of its
        gradient buffer); new arrays on the first ``backward`` when omitted.

    Training mode normalises with the batch mean and biased variance, ``std =
    sqrt(var + 1e-6)``, and updates the running statistics in place; inference
    mode uses the running statistics. An (N, C, H, W) input is normalised per
    (c, h, w) feature, as the book (not per channel). ``backward`` leaves
    ``dgamma`` and ``dbeta``.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, dgamma=None, dbeta=None):
        check_scale_and_shift(gamma, beta)
        check_fraction("momentum", momentum)
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
        self.dgamma = dgamma
        self.dbeta = dbeta
        self._checked = None
        self._out = None
        self._dx = None

    def _params(self):
        """``(gamma, beta)`` with the running statistics in step (zeros on first use).

        The arrays are checked again only when one of them is replaced: the
        kernels index all of them by gamma's length. The kernels' per-feature
        scratch (batch mean and std, gradients of var and mean) follows gamma.
        """
        gamma, beta = self.gamma, self.beta
        if self.running_mean is None:
            self.running_mean = np.zeros(gamma.shape, gamma.dtype)
            self.running_var = np.zeros(gamma.shape, gamma.dtype)
        running_mean, running_var = self.running_mean, self.running_var
        checked = self._checked
        # Shapes and dtypes as well as identities: an array resized in place (refcheck=False) is the
        # same object, and the kernels index all four by gamma's length.
        if checked is None or checked[0] is not gamma or checked[1] is not beta or checked[2] is not running_mean \
                or checked[3] is not running_var or checked[4] != (gamma.shape, beta.shape, running_mean.shape,
                                                                  running_var.shape) \
                or checked[5] != (gamma.dtype, beta.dtype, running_mean.dtype, running_var.dtype):
            check_scale_and_shift(gamma, beta)
            for name in ("running_mean", "running_var"):
                setattr(self, name, self._running_buffer(name, getattr(self, name)))
            self._mu, self._std, self._dvar, self._dmu = np.empty((4, *gamma.shape), gamma.dtype)
            self._checked = (gamma, beta, self.running_mean, self.running_var,
                             (gamma.shape, beta.shape, gamma.shape, gamma.shape), (gamma.dtype,) * 4)
        return gamma, beta

    def _running_buffer(self, name, value):
        """A copy of ``value`` in gamma's dtype, checked against gamma's shape."""
        if value is None:
            return None
        value = np.array(value, dtype=self.gamma.dtype)
        if value.shape != self.gamma.shape:
            raise ValueError(f"{name} has shape {value.shape}, expected gamma's shape {self.gamma.shape}")
        return value

    def _as_rows(self, x, name, gamma, training=True):
        """x as (N, D) rows of gamma's dtype; (N, C, H, W) is flattened as the book does.

        Training needs N >= 1 (batch statistics); inference maps 0 rows to 0 rows.
        """
        if type(x) is np.ndarray and x.ndim == 2 and x.dtype is gamma.dtype and x.flags.c_contiguous \
                and x.shape[0] and x.shape[1] == gamma.shape[0]:
            return x
        x = np.asarray(x)
        if x.ndim not in (2, 4):
            raise ValueError(f"BatchNormalization takes (N, D) or (N, C, H, W) {name}, got shape {x.shape}")
        if training:
            check_batch(f"BatchNormalization {name}", x.shape[0])
        rows = as_float_array(x.reshape(x.shape[0], math.prod(x.shape[1:])), gamma.dtype, name)
        if rows.shape[1] != gamma.shape[0]:
            raise ValueError(f"BatchNormalization {name} of shape {x.shape} has {rows.shape[1]} features, "
                             f"gamma has {gamma.shape[0]}")
        return rows

    def forward(self, x, train_flg=True):
        if train_flg:
            x, out = self.training_arguments(x)
            BD.batchnorm_forward(*x, out)
        else:
            self.input_shape = np.shape(x)
            gamma, beta = self._params()
            x = self._as_rows(x, "x", gamma, training=False)
            self._out = out = reuse(self._out, x.shape, gamma.dtype)
            BD.batchnorm_inference_forward(x, gamma, beta, self.running_mean, self.running_var, out)
        return out if len(self.input_shape) == 2 else out.reshape(self.input_shape)

    def training_arguments(self, x):
        """Check ``x`` and set up a training forward: ``(kernel arguments up to std, out)``.

        The arguments are those of :func:`fastdl.kernels.batchnorm_dropout.batchnorm_forward`
        from ``x`` (as (N, D) rows) to ``std``; ``out`` is this layer's output buffer.
        """
        self.input_shape = np.shape(x)
        gamma, beta = self._params()
        x = self._as_rows(x, "x", gamma)
        self._out = out = reuse(self._out, x.shape, gamma.dtype)
        self.batch_size = x.shape[0]
        xc, xn = self.xc, self.xn
        if xc is None or xc.shape != x.shape or xc.dtype is not gamma.dtype \
                or type(xn) is not np.ndarray or xn.shape != x.shape or xn.dtype is not gamma.dtype:
            self.xc, self.xn = xc, xn = np.empty((2, *x.shape), gamma.dtype)
        self.std = self._std
        return (x, gamma, beta, self.running_mean, self.running_var, gamma.dtype.type(self.momentum), self._mu,
                xc, xn, self._std), out

    def backward(self, dout):
        arguments = self.backward_arguments(dout)
        BD.batchnorm_backward(*arguments)
        dx = arguments[-1]
        return dx if len(self.input_shape) == 2 else dx.reshape(self.input_shape)

    def backward_arguments(self, dout):
        """Check ``dout`` and set up the backward: the arguments of
        :func:`fastdl.kernels.batchnorm_dropout.batchnorm_backward`."""
        if self.xc is None:
            raise RuntimeError("BatchNormalization.backward needs a forward(x, train_flg=True) first")
        gamma = self._params()[0]
        dout = self._as_rows(dout, "dout", gamma)
        if dout.shape != self.xc.shape:
            raise ValueError(f"BatchNormalization.backward got dout of shape {dout.shape}, "
                             f"the training forward had {self.xc.shape}")
        # xc, xn and std are public attributes: the kernel indexes them by dout's shape, so a
        # replaced or resized one must be refused here rather than read out of bounds.
        for attr, expected in (("xc", dout.shape), ("xn", dout.shape), ("std", gamma.shape)):
            value = getattr(self, attr)
            if type(value) is not np.ndarray or value.shape != expected or value.dtype is not gamma.dtype \
                    or not value.flags.c_contiguous:
                raise ValueError(f"BatchNormalization.{attr} was changed since the training forward: expected a "
                                 f"{gamma.dtype} array of shape {expected}, got {type(value).__name__} "
                                 f"{getattr(value, 'dtype', '')} {getattr(value, 'shape', '')}")
        self.dgamma = dgamma = reuse(self.dgamma, gamma.shape, gamma.dtype)
        self.dbeta = dbeta = reuse(self.dbeta, gamma.shape, gamma.dtype)
        self._dx = dx = reuse(self._dx, dout.shape, gamma.dtype)
        return dout, gamma, self.xc, self.xn, self.std, dgamma, dbeta, self._dvar, self._dmu, dx


class Dropout:
    """The book's (not inverted) dropout: ``forward(x, train_flg=True)``, ``backward(dout)``.

    Training mode draws ``mask = np.random.rand(*x.shape) > dropout_ratio``:
    the very numbers of NumPy's global RNG, drawn by a kernel (see
    :mod:`fastdl.numpy_rng`), so ``np.random.seed`` reproduces the book's
    masks. It returns ``x * mask``; inference mode returns ``x * (1 - dropout_ratio)``.
    """

    def __init__(self, dropout_ratio=0.5):
        check_fraction("dropout_ratio", dropout_ratio)
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self._out = None
        self._dx = None

    def forward(self, x, train_flg=True):
        x = as_float_array(x)
        if x.ndim == 0:
            raise ValueError("Dropout.forward needs an array, got a scalar")
        if train_flg:
            mask, out = self.forward_buffers(x.shape, x.dtype)
            rng = global_mt19937()
            if rng is None:
                np.greater(np.random.rand(*x.shape), self.dropout_ratio, out=mask)
                BD.apply_mask(x.ravel(), mask.ravel(), out.ravel())
            else:
                np.copyto(out, x)
                with rng.lock:
                    BD.dropout_in_place(out.ravel(), rng.state, rng.words, rng.uniforms, float(self.dropout_ratio),
                                       mask.ravel())
        else:
            self._out = out = reuse(self._out, x.shape, x.dtype)
            BD.dropout_inference_forward(x.ravel(), x.dtype.type(1.0 - self.dropout_ratio), out.ravel())
        return out

    def forward_buffers(self, shape, dtype):
        """``(mask, out)``: this layer's buffers for a training forward of ``shape`` (its ``mask`` and output)."""
        self.mask = reuse(self.mask, shape, np.bool_)
        self._out = reuse(self._out, shape, dtype)
        return self.mask, self._out

    def backward_buffer(self, shape, dtype):
        """The buffer this layer's ``dx`` of ``shape`` goes into, kept as its own."""
        self._dx = reuse(self._dx, shape, dtype)
        return self._dx

    def backward(self, dout):
        if self.mask is None:
            raise RuntimeError("Dropout.backward needs a forward(x, train_flg=True) first")
        dout = as_float_array(dout, name="dout")
        if dout.shape != self.mask.shape:
            raise ValueError(f"Dropout.backward got dout of shape {dout.shape}, the mask has {self.mask.shape}")
        dx = self.backward_buffer(dout.shape, dout.dtype)
        BD.apply_mask(dout.ravel(), self.mask.ravel(), dx.ravel())
        return dx


_NO_MASK = np.empty((0, 0), np.bool_)
_NO_DRAWS = KernelRNG(np.empty(0, np.uint32), np.empty(0, np.uint32), np.empty(UNIFORMS_SCRATCH), threading.Lock())
"""Stands in for the generator when there is no dropout: the kernel then never draws."""


class BatchNormReluDropout:
    """A hidden layer's ``BatchNorm{i}``, ``Relu{i}`` and, if given, ``Dropout{i}`` in training mode, fused.

    The networks' training path: one kernel each way instead of three.
    ``forward(x)`` takes the (N, D) output of ``Affine{i}`` and returns what
    the layers would return one after another; ``backward(dout)`` returns
    batch norm's dx. Each layer is left as its own ``forward``/``backward``
    would leave it, with the same numbers (float64: bit for bit):
    BatchNormalization's ``xc``, ``xn``, ``std``, running statistics,
    ``dgamma`` and ``dbeta``; Relu's and Dropout's ``mask``. So each layer can
    still be called on its own afterwards. What the fused pass skips is
    writing and re-reading the two intermediate outputs no one reads, and two
    of every three kernel launches. With dropout, the masks come from NumPy's
    global generator through the kernel: use the block only while
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
        dropout = self.dropout
        arguments, _ = self.batchnorm.training_arguments(x)
        rows = arguments[0]
        if dropout is None:
            rng, ratio, dropout_mask = _NO_DRAWS, 0.0, _NO_MASK
            relu_mask, out = self.relu.forward_buffers(rows.shape, rows.dtype)
        else:
            rng, ratio = global_mt19937(), float(dropout.dropout_ratio)
            relu_mask = self.relu.mask_buffer(rows.shape)
            dropout_mask, out = dropout.forward_buffers(rows.shape, rows.dtype)
        with rng.lock:
            BD.batchnorm_relu_dropout_forward(*arguments, relu_mask, rng.state, rng.words, rng.uniforms, ratio,
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
            grad, dropout_mask = dropout.backward_buffer(dout.shape, dout.dtype), dropout.mask
            if type(dropout_mask) is not np.ndarray or dropout_mask.shape != dout.shape \
                    or dropout_mask.dtype != np.bool_:
                raise ValueError(f"Dropout mask was changed since the forward: expected bool {dout.shape}, got "
                                 f"{type(dropout_mask).__name__} {getattr(dropout_mask, 'shape', '')}")
        arguments = self.batchnorm.backward_arguments(grad)
        BD.dropout_relu_batchnorm_backward(dout, dropout_mask, relu.mask, *arguments)
        return arguments[-1]


# Chapter 7's layers and helpers, as the book's ``from common.layers import *`` exposes them. Imported last:
# fastdl.convolution takes this module's helpers (the package imports fastdl.layers first).
from .convolution import Convolution, Pooling  # noqa: E402,F401
from .util import col2im, im2col  # noqa: E402,F401

"""The book's chapter-7 layers, ``Convolution`` and (max) ``Pooling``, over the kernels in ``kernels/conv.py``.

Same constructors, attributes and semantics as the book's ``common/layers.py``
on (N, C, H, W) input; float32 and float64 stay as they are (W's dtype for
Convolution, the input's for Pooling). As fastdl's other layers, outputs,
``dx``, ``dW`` and ``db`` are buffers reused while the shapes stay the same:
valid until the layer's next ``forward``/``backward``. ``col`` and ``arg_max``
(the book's layouts) are built from the kernels' own compact state when first
read after a ``forward``.

API for networks (beyond the book):

* ``Convolution(W, b, stride=1, pad=0, relu=False)``: with ``relu=True`` the
  layer is conv -> ReLU fused: ``forward`` returns ``max(conv(x), 0)`` and
  ``backward``/``backward_params`` take the gradient of that output (the
  book's Relu mask, output <= 0, applied inside the kernel).
* ``Convolution.backward_params(dout)``: only ``dW`` and ``db`` (returns
  None): a network's first layer, whose ``dx`` nobody needs, as
  ``Affine.backward_params``.
"""
import numpy as np

from .kernels import conv as CK
from .layers import require_forward, reuse
from .util import window_output_shape
from .validation import FLOAT_DTYPES, as_float_array

MIN_GEMM_COLUMNS = 320
"""Convolutions on images this small (DeepConvNet's 8x8 layers: 80 grid columns per sample) build the
columns of several samples at once for GEMMs at least this wide, 5-10% faster; chunks on the
larger images measured no faster, and up to 1.7x slower on SimpleConvNet's first layer."""


class Convolution:
    """2-D convolution (cross-correlation, as the book's) of (N, C, H, W) input with FN filters.

    Parameters
    ----------
    W : (FN, C, FH, FW) float32 or float64 array, kept by reference (read afresh every call).
    b : (FN,) array of W's dtype (or one number for every filter, as NumPy broadcasts the book's), kept by reference.
    stride, pad : int, stride >= 1, pad >= 0.
    relu : bool, fuse a ReLU after the convolution (see the module docstring).

    ``forward(x)`` returns (N, FN, OH, OW) with OH = (H + 2*pad - FH)/stride + 1
    (must be a whole number); ``backward(dout)`` returns dx (N, C, H, W) and
    leaves ``dW`` (FN, C, FH, FW) and ``db`` (FN,). After ``forward``, ``col_W``
    is W as (C*FH*FW, FN) and ``col`` the book's (N*OH*OW, C*FH*FW) im2col of
    ``x``, both as the book's; ``col`` is built when first read (the kernels
    make each sample's columns in cache and never keep the batch's), so, as
    for :class:`~fastdl.layers.Affine`, ``backward`` reads ``x`` again: do not
    change ``x`` between ``forward`` and ``backward``.
    """

    def __init__(self, W, b, stride=1, pad=0, relu=False):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.relu = bool(relu)
        self.x = None
        self._col = None
        self._colT = None
        self._out_geometry = None
        self._forward_W_shape = None
        self.col_W = None
        self.dW = None
        self.db = None
        self._out = self._xpad = self._g = self._Wr = self._dW_n = self._dx = None

    @property
    def col(self):
        """The book's ``col`` of the last ``forward``: (N*OH*OW, C*FH*FW), rows (n, oy, ox), columns (c, ky, kx)."""
        if self._col is None and self.x is not None:
            FH, FW = self._out_geometry
            self._col = np.empty((self._out.shape[0] * self._out.shape[2] * self._out.shape[3],
                                  self.x.shape[1] * FH * FW), self.x.dtype)
            CK.im2col(self.x, FH, FW, int(self.stride), int(self.pad), self._col)
        return self._col

    def _weights(self):
        """``(W, b)`` checked, W C-contiguous (a copy only for another layout), b of W's dtype."""
        W, b = self.W, self.b
        if not isinstance(W, np.ndarray) or W.ndim != 4:
            raise ValueError(f"Convolution W must be a (FN, C, FH, FW) array, got shape {np.shape(W)}")
        if W.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Convolution W has dtype {W.dtype}; use W.astype(np.float64)")
        W = np.ascontiguousarray(W)
        b = as_float_array(b, W.dtype, "b")
        if b.ndim == 0:  # one bias for every filter, as NumPy broadcasts the book's (ch07/apply_filter.py: b = 0)
            b = np.full(W.shape[0], b)
        if b.shape != (W.shape[0],):
            raise ValueError(f"Convolution b has shape {b.shape}, but W has shape {W.shape}: "
                             f"expected ({W.shape[0]},)")
        return W, b

    def _prepare_forward(self, x):
        """``(W2, b, x, FH, FW)`` checked, with ``col`` and the output buffer sized; sets ``x`` and ``col_W``."""
        W, b = self._weights()
        FN, C, FH, FW = W.shape
        x = as_float_array(x, W.dtype)
        out_h, out_w = window_output_shape("Convolution", x.shape, FH, FW, self.stride, self.pad)
        if x.shape[1] != C:
            raise ValueError(f"Convolution input has {x.shape[1]} channels (shape {x.shape}), "
                             f"but W has shape {W.shape}: expected {C}")
        N, H, W_in = x.shape[0], x.shape[2], x.shape[3]
        pad = int(self.pad)
        # Scratch for one sample (see kernels/conv.py::_columns_sample): for stride 1 the padded image
        # and columns over output rows of the padded width, else over the output width.
        grid = out_h * (W_in + 2 * pad if int(self.stride) == 1 else out_w)
        chunk = max(1, min(N, MIN_GEMM_COLUMNS // grid))
        self._xpad = reuse(self._xpad, (C, (H + 2 * pad) * (W_in + 2 * pad) + FW), W.dtype)
        self._colT = reuse(self._colT, (chunk * C * FH * FW * grid,), W.dtype)
        self._g = reuse(self._g, (chunk * FN * grid,), W.dtype)
        self._Wr = reuse(self._Wr, (W.size,), W.dtype)  # the filters rearranged by the kx path
        self._out = reuse(self._out, (N, FN, out_h, out_w), W.dtype)
        W2 = W.reshape(FN, -1)
        self.x = x
        self._col = None
        self._out_geometry = (FH, FW)
        self._forward_W_shape = W.shape
        self.col_W = W2.T
        return W2, b, x, FH, FW

    def forward(self, x):
        W2, b, x, FH, FW = self._prepare_forward(x)
        CK.conv_forward(x, W2, b, FH, FW, int(self.stride), int(self.pad), self.relu, self._xpad, self._colT, self._g,
                        self._Wr, self._out)
        return self._out

    def _prepare_backward(self, need_dx):
        """``(W, dW_n, dx)``: the weights and the backward's buffers (dx: any array of its type when
        ``need_dx`` is False, the kernels then never touch it)."""
        W = self._weights()[0]
        FN = W.shape[0]
        taps = W.shape[1] * W.shape[2] * W.shape[3]
        if W.shape != self._forward_W_shape or W.dtype != self._colT.dtype:
            raise ValueError(f"Convolution W changed to shape {W.shape}, dtype {W.dtype} after forward "
                             f"(which had {self._forward_W_shape}, {self._colT.dtype}): run forward again")
        self._dW_n = dW_n = reuse(self._dW_n, (2 * FN * taps,), W.dtype)
        self.dW = reuse(self.dW, W.shape, W.dtype)
        self.db = reuse(self.db, (FN,), W.dtype)
        if not need_dx:
            return W, dW_n, self.x
        self._dx = reuse(self._dx, self.x.shape, W.dtype)
        return W, dW_n, self._dx

    def _backward(self, dout, need_dx):
        require_forward(self, self.x)
        W, dW_n, dx = self._prepare_backward(need_dx)
        dout = as_float_array(dout, W.dtype, "dout")
        if dout.shape != self._out.shape:
            raise ValueError(f"Convolution.backward got dout of shape {dout.shape}, "
                             f"the forward output was {self._out.shape}")
        FN, C, FH, FW = W.shape
        CK.conv_backward(dout, self._out, self.x, W.reshape(FN, -1), FH, FW, int(self.stride), int(self.pad),
                         self.relu, need_dx, self._xpad, self._colT, self._g, dW_n, self.dW.reshape(FN, -1),
                         self.db, dx)
        return dx if need_dx else None

    def backward(self, dout):
        return self._backward(dout, True)

    def backward_params(self, dout):
        """``dW`` and ``db`` only (returns None): the first layer's ``dx`` is work nobody needs."""
        self._backward(dout, False)


class Pooling:
    """Max pooling over pool_h x pool_w windows of (N, C, H, W) input.

    Parameters
    ----------
    pool_h, pool_w : int >= 1
    stride : int >= 1 (the book's default, 2, since 2020)
    pad : int >= 0. The book pads in im2col but sizes its output without the
        pad, so pad > 0 crashes there; here the output is sized with the pad
        and padding counts as zeros in the max, as the book's im2col fills it.

    ``forward(x)`` returns (N, C, OH, OW), OH = (H + 2*pad - pool_h)/stride + 1
    (a whole number), and leaves ``arg_max`` (N*OH*OW*C,) int64 in the book's
    order: the offset ky*pool_w + kx of each window's first maximum (built
    when first read; the kernels keep it as (N, C, OH, OW) int16).
    ``backward(dout)`` adds each window's gradient at its maximum.
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self._where = None
        self._arg_max = None
        self._out = self._dx = None

    @property
    def arg_max(self):
        """The book's ``arg_max`` of the last ``forward``: (N*OH*OW*C,) int64 in (n, oy, ox, c) order, each
        window's offset ky*pool_w + kx of its first maximum (built when first read; the kernels keep
        it as (N, C, OH, OW) int16)."""
        if self._arg_max is None and self._where is not None:
            self._arg_max = self._where.transpose(0, 2, 3, 1).astype(np.int64).ravel()
        return self._arg_max

    def _prepare_forward(self, x):
        """Size the window offsets and the output buffer for input ``x`` (checked); sets ``x``."""
        x = as_float_array(x)
        out_h, out_w = window_output_shape("Pooling", x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        N, C = x.shape[:2]
        if self.pool_h * self.pool_w > np.iinfo(np.int16).max:
            raise ValueError(f"Pooling window {self.pool_h}x{self.pool_w} has more than "
                             f"{np.iinfo(np.int16).max} elements")
        self._out = reuse(self._out, (N, C, out_h, out_w), x.dtype)
        self._where = reuse(self._where, (N, C, out_h, out_w), np.dtype(np.int16))
        self._arg_max = None
        self.x = x
        return x

    def forward(self, x):
        x = self._prepare_forward(x)
        CK.pool_forward(x, int(self.pool_h), int(self.pool_w), int(self.stride), int(self.pad), self._out,
                        self._where)
        return self._out

    def _check_dout(self, dout):
        require_forward(self, self.x)
        dout = as_float_array(dout, self.x.dtype, "dout")
        if dout.shape != self._out.shape:
            raise ValueError(f"Pooling.backward got dout of shape {dout.shape}, "
                             f"the forward output was {self._out.shape}")
        return dout

    def backward(self, dout):
        dout = self._check_dout(dout)
        self._dx = dx = reuse(self._dx, self.x.shape, self.x.dtype)
        CK.pool_backward(dout, self._where, int(self.pool_h), int(self.pool_w), int(self.stride), int(self.pad), dx)
        return dx


class ConvolutionPooling:
    """A network's ``Convolution`` (with its ReLU fused) and the max ``Pooling`` after it, as one step.

    The convnets' training path: ``forward(x)`` returns what ``pool.forward(conv.forward(x))``
    returns, each sample convolved and pooled while its output is in cache;
    ``backward(dout)`` (or ``backward_params``) takes the pooled gradient and
    returns the convolution's dx. Both layers are left as their own calls would
    leave them (``conv.x``, ``col``, ``col_W``, the ReLU'd output that is
    ``pool.x``, ``arg_max``, ``dW``, ``db``; the same numbers), so either can still
    be called on its own; only the pooling's dx, the (N, FN, OH, OW) gradient
    between the two, is never written.
    """

    def __init__(self, conv, pool):
        if not conv.relu:
            raise ValueError("ConvolutionPooling needs a Convolution with relu=True")
        self.conv = conv
        self.pool = pool

    def forward(self, x):
        conv, pool = self.conv, self.pool
        W2, b, x, FH, FW = conv._prepare_forward(x)
        pool._prepare_forward(conv._out)
        CK.conv_pool_forward(x, W2, b, FH, FW, int(conv.stride), int(conv.pad), conv._xpad, conv._colT, conv._g,
                             conv._Wr, conv._out, int(pool.pool_h), int(pool.pool_w), int(pool.stride), int(pool.pad),
                             pool._out, pool._where)
        return pool._out

    def _backward(self, dout, need_dx):
        conv, pool = self.conv, self.pool
        dout = pool._check_dout(dout)
        require_forward(conv, conv.x)
        W, dW_n, dx = conv._prepare_backward(need_dx)
        FN, C, FH, FW = W.shape
        CK.conv_pool_backward(dout, pool._out, pool._where, int(pool.pool_h), int(pool.pool_w), int(pool.stride),
                              int(pool.pad), conv._out, conv.x, W.reshape(FN, -1), FH, FW, int(conv.stride),
                              int(conv.pad), need_dx, conv._xpad, conv._colT, conv._g, dW_n,
                              conv.dW.reshape(FN, -1), conv.db, dx)
        return dx if need_dx else None

    def backward(self, dout):
        return self._backward(dout, True)

    def backward_params(self, dout):
        """``dW`` and ``db`` only (returns None), for a network's first layer."""
        self._backward(dout, False)

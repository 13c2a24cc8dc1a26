"""The book's chapter-7 SimpleConvNet over one flat parameter buffer (ch07/simple_convnet.py).

As :class:`fastdl.networks.LayerNet`, ``params`` and ``gradient()`` are
:class:`~fastdl.flat.FlatParams` of one layout, so an optimizer updates
``params.flat`` from ``grads.flat`` in one pass; the layers hold those views.
"""
from collections import OrderedDict

import numpy as np

from .convolution import Convolution, Pooling
from .flat import FlatParams
from .layers import Affine, Relu, SoftmaxWithLoss, check_batch, class_labels
from .networks import LayerNet
from .validation import compute_dtype


class SimpleConvNet(LayerNet):
    """conv - relu - pool - affine - relu - affine - softmax, the book's constructor and defaults.

    Parameters
    ----------
    input_dim : (C, H, W) of the input.
    conv_param : dict with 'filter_num', 'filter_size', 'pad', 'stride'.
    hidden_size, output_size : int.
    weight_init_std : float, W{i} = weight_init_std * np.random.randn(...) in the book's order.
    dtype : float32 or float64.

    ``Conv1`` is the convolution with its ReLU fused (the book's ``Conv1`` and
    ``Relu1``); then ``Pool1`` (2x2, stride 2), ``Affine1``, ``Relu2``, ``Affine2``.
    The first layer's ``dx`` is never computed.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 hidden_size=100, output_size=10, weight_init_std=0.01, dtype=np.float64):
        dtype = compute_dtype(dtype)
        filter_num = conv_param['filter_num']
        filter_size = conv_param['filter_size']
        conv_output_size = (input_dim[1] - filter_size + 2 * conv_param['pad']) / conv_param['stride'] + 1
        pool_output_size = int(filter_num * (conv_output_size / 2) * (conv_output_size / 2))
        layout = [("W1", (filter_num, input_dim[0], filter_size, filter_size)), ("b1", (filter_num,)),
                  ("W2", (pool_output_size, hidden_size)), ("b2", (hidden_size,)),
                  ("W3", (hidden_size, output_size)), ("b3", (output_size,))]
        self.params = FlatParams(layout, dtype)
        for key, shape in layout:
            if key.startswith("W"):
                self.params[key] = weight_init_std * np.random.randn(*shape)
        self.grads = FlatParams(layout, dtype)
        p, g = self.params, self.grads
        self.layers = OrderedDict()
        self.layers["Conv1"] = conv = Convolution(p["W1"], p["b1"], conv_param['stride'], conv_param['pad'], relu=True)
        # the kernels write dW/db into buffers of matching shape and dtype: the flat gradient's views
        conv.dW, conv.db = g["W1"], g["b1"]
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(p["W2"], p["b2"], g["W2"], g["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(p["W3"], p["b3"], g["W3"], g["b3"])
        self._loss_layer = SoftmaxWithLoss()
        self.last_layer = self._loss_layer
        self.weight_decay_lambda = 0
        self._weight_keys = ["W1", "W2", "W3"]
        self._fused = None
        self._steps = None

    def accuracy(self, x, t, batch_size=100):
        """The book's accuracy: whole batches of ``batch_size`` only, divided by ``x.shape[0]``."""
        check_batch("accuracy", x.shape[0])
        acc = 0
        for i in range(int(x.shape[0] / batch_size)):
            scores = self._forward(x[i * batch_size:(i + 1) * batch_size], False)
            labels, _ = class_labels(t[i * batch_size:(i + 1) * batch_size], scores.shape, scores.dtype)
            acc += int(np.sum(np.argmax(scores, axis=1) == labels))
        return acc / x.shape[0]

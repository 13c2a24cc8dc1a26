"""The book's chapter-7 SimpleConvNet and chapter-8 DeepConvNet over one flat parameter buffer.

As :class:`fastdl.networks.LayerNet` (whose predict/loss/gradient these
reuse), ``params`` and ``gradient()`` are :class:`~fastdl.flat.FlatParams` of
one layout, so an optimizer updates ``params.flat`` from ``grads.flat`` in one
pass; the layers hold those views. Each convolution has its ReLU fused (the
book's ``Convolution`` then ``Relu``), a convolution and the pooling after it
run as one :class:`~fastdl.convolution.ConvolutionPooling` step, and the first
layer's ``dx`` is never computed. ``save_params``/``load_params`` read and write the book's pickles
(a dict of arrays keyed ``W1``, ``b1``, ...).
"""
import pickle
from collections import OrderedDict

import numpy as np

from .convolution import Convolution, ConvolutionPooling, Pooling
from .flat import FlatParams
from .layers import Affine, Dropout, Relu, SoftmaxWithLoss, check_batch, class_labels
from .networks import LayerNet
from .validation import compute_dtype


def simple_convnet_layout(input_dim=(1, 28, 28),
                          conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                          hidden_size=100, output_size=10):
    """``[(key, shape), ...]`` of :class:`SimpleConvNet`'s parameters, the book's sizes (its pool output
    ``filter_num * (conv_output_size / 2) ** 2``), computed without allocating anything."""
    filter_num = conv_param['filter_num']
    filter_size = conv_param['filter_size']
    conv_output_size = (input_dim[1] - filter_size + 2 * conv_param['pad']) / conv_param['stride'] + 1
    pool_output_size = int(filter_num * (conv_output_size / 2) * (conv_output_size / 2))
    return [("W1", (filter_num, input_dim[0], filter_size, filter_size)), ("b1", (filter_num,)),
            ("W2", (pool_output_size, hidden_size)), ("b2", (hidden_size,)),
            ("W3", (hidden_size, output_size)), ("b3", (output_size,))]


DEEP_CONV_PARAMS = ({'filter_num': 16, 'filter_size': 3, 'pad': 1, 'stride': 1},
                    {'filter_num': 16, 'filter_size': 3, 'pad': 1, 'stride': 1},
                    {'filter_num': 32, 'filter_size': 3, 'pad': 1, 'stride': 1},
                    {'filter_num': 32, 'filter_size': 3, 'pad': 2, 'stride': 1},
                    {'filter_num': 64, 'filter_size': 3, 'pad': 1, 'stride': 1},
                    {'filter_num': 64, 'filter_size': 3, 'pad': 1, 'stride': 1})
"""The book's DeepConvNet ``conv_param_1`` ... ``conv_param_6`` defaults."""


def deep_convnet_layout(input_dim=(1, 28, 28), conv_params=DEEP_CONV_PARAMS, hidden_size=50, output_size=10):
    """``[(key, shape), ...]`` of :class:`DeepConvNet`'s parameters for its six ``conv_params`` dicts;
    ``W7`` takes the book's fixed 64*4*4 inputs."""
    layout = []
    pre_channel_num = input_dim[0]
    for idx, cp in enumerate(conv_params, 1):
        layout += [(f"W{idx}", (cp['filter_num'], pre_channel_num, cp['filter_size'], cp['filter_size'])),
                   (f"b{idx}", (cp['filter_num'],))]
        pre_channel_num = cp['filter_num']
    return layout + [("W7", (64*4*4, hidden_size)), ("b7", (hidden_size,)),
                     ("W8", (hidden_size, output_size)), ("b8", (output_size,))]


class ConvNet(LayerNet):
    """What both convnets add to LayerNet: the flat buffers, the book's batched accuracy, its pickles."""

    def _init_buffers(self, layout, scales, dtype):
        """``params`` (each W{i} = scales[key] * np.random.randn in layout order, b zeros) and ``grads``."""
        self.params = FlatParams(layout, compute_dtype(dtype))
        for key, shape in layout:
            if key.startswith("W"):
                self.params[key] = scales[key] * np.random.randn(*shape)
        self.grads = FlatParams(layout, self.params.flat.dtype)
        self.layers = OrderedDict()
        self._loss_layer = self.last_layer = SoftmaxWithLoss()
        self.weight_decay_lambda = 0
        self._weight_keys = [key for key, _ in layout if key.startswith("W")]
        self._fused = None
        self._steps = None

    def _fuse(self):
        """Run each Convolution and the Pooling right after it as one :class:`ConvolutionPooling` step
        (the layers built so far stay in ``self.layers``)."""
        layers = tuple(self.layers.values())
        steps = []
        for layer in layers:
            if isinstance(layer, Pooling) and steps and isinstance(steps[-1], Convolution) and steps[-1].relu:
                steps[-1] = ConvolutionPooling(steps[-1], layer)
            else:
                steps.append(layer)
        self._fused = (layers, steps)

    def _forward(self, x, train_flg):
        """The fused steps while ``self.layers`` holds the layers they were built from, else the layers."""
        layers, steps = self._fused
        if tuple(self.layers.values()) != layers:
            return super()._forward(x, train_flg)
        self._steps = steps
        for step in steps:
            x = step.forward(x, train_flg) if isinstance(step, Dropout) else step.forward(x)
        return x

    def _conv(self, idx, conv_param):
        """Convolution ``W{idx}`` with its ReLU fused, writing dW/db into the flat gradient's views
        (its kernels reuse any buffer of the right shape and dtype)."""
        layer = Convolution(self.params[f"W{idx}"], self.params[f"b{idx}"], conv_param['stride'],
                            conv_param['pad'], relu=True)
        layer.dW, layer.db = self.grads[f"W{idx}"], self.grads[f"b{idx}"]
        return layer

    def _affine(self, idx):
        return Affine(self.params[f"W{idx}"], self.params[f"b{idx}"], self.grads[f"W{idx}"], self.grads[f"b{idx}"])

    def accuracy(self, x, t, batch_size=100):
        """The book's accuracy in inference mode: whole batches of ``batch_size`` only, divided by ``x.shape[0]``."""
        check_batch("accuracy", x.shape[0])
        acc = 0
        for i in range(int(x.shape[0] / batch_size)):
            scores = self._forward(x[i * batch_size:(i + 1) * batch_size], False)
            labels, _ = class_labels(t[i * batch_size:(i + 1) * batch_size], scores.shape, scores.dtype)
            acc += int(np.sum(np.argmax(scores, axis=1) == labels))
        return acc / x.shape[0]

    def save_params(self, file_name="params.pkl"):
        """Pickle ``{key: array}`` as the book does (readable by the book's own ``load_params``)."""
        with open(file_name, 'wb') as f:
            pickle.dump({key: np.array(val) for key, val in self.params.items()}, f)

    def load_params(self, file_name="params.pkl"):
        """Copy a book-style pickle's arrays into ``params`` (cast to the network's dtype); a key or
        shape the network lacks is a ValueError naming the file, and leaves every parameter unchanged."""
        with open(file_name, 'rb') as f:
            params = pickle.load(f)
        if not isinstance(params, dict):
            raise ValueError(f"{file_name}: expected a dict of arrays, got {type(params).__name__}")
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"{file_name}: keys {unknown} are not parameters of this network ({list(self.params)})")
        try:
            self.params.update(params)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{file_name}: {err}") from None


class SimpleConvNet(ConvNet):
    """conv - relu - pool - affine - relu - affine - softmax (ch07/simple_convnet.py), the book's defaults.

    Parameters
    ----------
    input_dim : (C, H, W) of the input.
    conv_param : dict with 'filter_num', 'filter_size', 'pad', 'stride'.
    hidden_size, output_size : int.
    weight_init_std : float, W{i} = weight_init_std * np.random.randn(...) in the book's order.
    dtype : float32 or float64.

    Layers: ``Conv1`` (the book's Conv1 and Relu1), ``Pool1`` (2x2, stride 2),
    ``Affine1``, ``Relu2``, ``Affine2``.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                 hidden_size=100, output_size=10, weight_init_std=0.01, dtype=np.float64):
        layout = simple_convnet_layout(input_dim, conv_param, hidden_size, output_size)
        self._init_buffers(layout, dict.fromkeys(["W1", "W2", "W3"], weight_init_std), dtype)
        self.layers["Conv1"] = self._conv(1, conv_param)
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = self._affine(2)
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = self._affine(3)
        self._fuse()


class DeepConvNet(ConvNet):
    """The book's ch08 DeepConvNet, its constructor and defaults:

    (conv - relu - conv - relu - pool) x 3 - affine - relu - dropout - affine - dropout - softmax,
    He-initialised from the book's fan-ins. Layers: ``Conv1, Conv2, Pool1, Conv3, Conv4, Pool2,
    Conv5, Conv6, Pool3, Affine1, Relu1, Dropout1, Affine2, Dropout2``; params ``W1..W8``.
    As the book's, ``loss`` (and so ``gradient``) runs in training mode (dropout masks drawn
    from NumPy's global RNG as ``np.random.rand``), ``predict`` and ``accuracy`` in inference mode.
    ``dtype`` is float32 or float64.
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1=DEEP_CONV_PARAMS[0], conv_param_2=DEEP_CONV_PARAMS[1],
                 conv_param_3=DEEP_CONV_PARAMS[2], conv_param_4=DEEP_CONV_PARAMS[3],
                 conv_param_5=DEEP_CONV_PARAMS[4], conv_param_6=DEEP_CONV_PARAMS[5],
                 hidden_size=50, output_size=10, dtype=np.float64):
        # the book's fan-ins, fixed for its default architecture (its own TODO)
        pre_node_nums = np.array([1*3*3, 16*3*3, 16*3*3, 32*3*3, 32*3*3, 64*3*3, 64*4*4, hidden_size])
        scales = {f"W{idx + 1}": s for idx, s in enumerate(np.sqrt(2.0 / pre_node_nums))}
        conv_params = [conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6]
        layout = deep_convnet_layout(input_dim, conv_params, hidden_size, output_size)
        self._init_buffers(layout, scales, dtype)
        for idx, cp in enumerate(conv_params, 1):
            self.layers[f"Conv{idx}"] = self._conv(idx, cp)
            if idx % 2 == 0:
                self.layers[f"Pool{idx // 2}"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = self._affine(7)
        self.layers["Relu1"] = Relu()
        self.layers["Dropout1"] = Dropout(0.5)
        self.layers["Affine2"] = self._affine(8)
        self.layers["Dropout2"] = Dropout(0.5)
        self._fuse()

    def loss(self, x, t, train_flg=True):
        """Cross-entropy of the batch; training mode (dropout on) by default, as the book's."""
        return super().loss(x, t, train_flg)

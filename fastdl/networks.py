"""The book's networks over one flat parameter buffer.

``params`` is a :class:`~fastdl.flat.FlatParams`: ``params['W1']`` is a view
into ``params.flat``, and the layers hold those very views. ``gradient()``
returns the gradients as a FlatParams of the same layout whose views are the
layers' own ``dW``/``db`` buffers: valid until the next ``gradient()`` call
(the book returns fresh arrays; copy them if you keep several).
"""
from collections import OrderedDict

import numpy as np

from .flat import FlatParams
from .gradient import numerical_gradient
from .kernels.layers import scaled_add
from .layers import FLOAT_DTYPES, Affine, Relu, Sigmoid, SoftmaxWithLoss

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


def weight_scale(weight_init_std, fan_in):
    """The book's init scale: He for 'relu'/'he', Xavier for 'sigmoid'/'xavier', else the number itself."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    if isinstance(weight_init_std, str):
        raise ValueError(f"weight_init_std={weight_init_std!r}: use 'relu'/'he', 'sigmoid'/'xavier' or a number")
    if not np.isfinite(weight_init_std) or weight_init_std <= 0:
        raise ValueError(f"weight_init_std must be a positive number, got {weight_init_std}")
    return weight_init_std


class LayerNet:
    """What the book's layer-based networks share: an affine stack over one flat buffer.

    Parameters
    ----------
    sizes : list of int
        ``[input_size, *hidden sizes, output_size]``.
    weight_init_std : str or float
        See :func:`weight_scale`; W{i} = scale * np.random.randn(fan_in, fan_out),
        drawn from NumPy's global RNG in the book's order (W1, W2, ...).
    activation_layer : Relu or Sigmoid class, for the hidden layers.
    activation_name : str
        Layer-name prefix: 'Relu' (TwoLayerNet) or 'Activation_function' (MultiLayerNet).
    dtype : float32 or float64
        Compute dtype of parameters, gradients and activations.
    """

    def __init__(self, sizes, weight_init_std, activation_layer, activation_name, weight_decay_lambda, dtype):
        dtype = np.dtype(dtype)
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
                raise ValueError(f"layer sizes must be positive integers, got {sizes}")
        if not np.isfinite(weight_decay_lambda) or weight_decay_lambda < 0:
            raise ValueError(f"weight_decay_lambda must be >= 0, got {weight_decay_lambda}")
        self.weight_decay_lambda = weight_decay_lambda
        depth = len(sizes) - 1
        layout = []
        for idx in range(1, depth + 1):
            layout += [(f"W{idx}", (sizes[idx - 1], sizes[idx])), (f"b{idx}", (sizes[idx],))]
        self.params = FlatParams(layout, dtype)
        for idx in range(1, depth + 1):
            scale = weight_scale(weight_init_std, sizes[idx - 1])
            self.params[f"W{idx}"] = scale * np.random.randn(sizes[idx - 1], sizes[idx])
        self.grads = self.params.zeros_like()
        self.layers = OrderedDict()
        for idx in range(1, depth + 1):
            affine = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            affine.dW, affine.db = self.grads[f"W{idx}"], self.grads[f"b{idx}"]
            self.layers[f"Affine{idx}"] = affine
            if idx < depth:
                self.layers[f"{activation_name}{idx}"] = activation_layer()
        self._weight_keys = [f"W{idx}" for idx in range(1, depth + 1)]

    def _forward(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def predict(self, x):
        """Raw scores (logits) of shape (N, output_size); a new array."""
        return self._forward(x).copy()

    def _weight_decay(self):
        if not self.weight_decay_lambda:
            return 0
        total = 0.0
        for key in self._weight_keys:
            w = self.params[key].reshape(-1)
            total += 0.5 * self.weight_decay_lambda * float(np.dot(w, w))
        return total

    def loss(self, x, t):
        """Cross-entropy of the batch plus 0.5 * lambda * sum(W**2) over every W."""
        return self._loss_layer.forward(self._forward(x), t) + self._weight_decay()

    def accuracy(self, x, t):
        y = np.argmax(self._forward(x), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def gradient(self, x, t):
        """Backpropagated gradients, a FlatParams keyed like ``params``, valid until the next call."""
        self.loss(x, t)
        dout = self._loss_layer.backward(1)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        layers[0].backward_params(dout)
        if self.weight_decay_lambda:
            lam = self.params.flat.dtype.type(self.weight_decay_lambda)
            for key in self._weight_keys:
                scaled_add(self.params[key].reshape(-1), lam, self.grads[key].reshape(-1))
        return self.grads

    def numerical_gradient(self, x, t):
        """The book's numerical gradient of ``loss`` for every parameter (slow: 2 losses per element)."""
        loss_W = lambda W: self.loss(x, t)  # noqa: E731  (ignores W: the layers read params in place)
        return {key: numerical_gradient(loss_W, self.params[key]) for key in self.params}


class TwoLayerNet(LayerNet):
    """The book's chapter-5 ``TwoLayerNet``: Affine1, Relu1, Affine2 and ``lastLayer``."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        super().__init__([input_size, hidden_size, output_size], weight_init_std, Relu, "Relu", 0, dtype)
        self.lastLayer = self._loss_layer = SoftmaxWithLoss()


class MultiLayerNet(LayerNet):
    """The book's ``MultiLayerNet``: (Affine, activation) * len(hidden_size_list), Affine, ``last_layer``."""

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, dtype=np.float64):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: choose one of {sorted(ACTIVATIONS)}")
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        super().__init__([input_size, *hidden_size_list, output_size], weight_init_std,
                         ACTIVATIONS[activation], "Activation_function", weight_decay_lambda, dtype)
        self.last_layer = self._loss_layer = SoftmaxWithLoss()

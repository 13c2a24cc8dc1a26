"""The book's networks over one flat parameter buffer.

``params`` is a :class:`~fastdl.flat.FlatParams`: ``params['W1']`` is a view
into ``params.flat``, and the layers hold those very views. ``gradient()``
returns the gradients as a FlatParams of the same layout whose views are the
layers' own ``dW``/``db``/``dgamma``/``dbeta`` buffers: valid until the next
``gradient()`` call (the book returns fresh arrays; copy them if you keep
several). With batch norm its keys iterate in the book's gradient order
(``W1, b1, gamma1, beta1, W2, ...``), unlike ``params`` (all W/b first), while
both share one memory layout, so an optimizer updates ``params.flat`` from
``grads.flat`` in one pass.
"""
from collections import OrderedDict

import numpy as np

from .flat import FlatParams
from .gradient import numerical_gradient
from .kernels.layers import scaled_add
from .layers import (Affine, BatchNormalization, BatchNormReluDropout, Dropout, Relu, Sigmoid, SoftmaxWithLoss,
                     check_batch, class_labels)
from .validation import check_fits_dtype, compute_dtype, is_real_number

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


def weight_scale(weight_init_std, fan_in):
    """The book's init scale: He for 'relu'/'he', Xavier for 'sigmoid'/'xavier', else the number itself."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    if not is_real_number(weight_init_std):
        raise ValueError(f"weight_init_std={weight_init_std!r}: use 'relu'/'he', 'sigmoid'/'xavier' or a number")
    if not np.isfinite(weight_init_std) or weight_init_std <= 0:
        raise ValueError(f"weight_init_std must be a positive number, got {weight_init_std}")
    return weight_init_std


def book_layouts(sizes, use_batchnorm):
    """The book's parameter layout and gradient key order for an affine stack of ``sizes``.

    Returns ``(layout, grads_keys)``: ``layout`` lists ``W1, b1, ..., WL, bL``
    then, with batch norm, ``gamma1, beta1, ..., gamma{L-1}, beta{L-1}`` (the
    book's ``params`` order); ``grads_keys`` puts each gamma/beta right after
    its layer's W/b (the book's ``gradient`` order).
    """
    depth = len(sizes) - 1
    affine = [[(f"W{idx}", (sizes[idx - 1], sizes[idx])), (f"b{idx}", (sizes[idx],))]
              for idx in range(1, depth + 1)]
    norm = [[(f"gamma{idx}", (sizes[idx],)), (f"beta{idx}", (sizes[idx],))] if use_batchnorm else []
            for idx in range(1, depth)] + [[]]
    layout = [entry for entries in affine + norm for entry in entries]
    grads_keys = [key for entries, norm_entries in zip(affine, norm) for key, _ in entries + norm_entries]
    return layout, grads_keys


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
    weight_decay_lambda : float
        L2 strength: the loss adds 0.5 * lambda * sum(W**2) over every W.
    dtype : float32 or float64
        Compute dtype of parameters, gradients and activations.
    use_batchnorm : bool
        A ``BatchNorm{i}`` after each hidden ``Affine{i}``, with parameters
        ``gamma{i}`` (ones) and ``beta{i}`` (zeros).
    use_dropout : bool
        A ``Dropout{i}`` of ``dropout_ratio`` after each hidden activation.

    Hidden layer i is ``Affine{i}, [BatchNorm{i}], {activation_name}{i}, [Dropout{i}]``.
    ``params`` keys are the book's ``W1, b1, ..., WL, bL, gamma1, beta1, ...``;
    the gradients use the book's gradient order, gamma/beta right after their
    layer's W/b (``W1, b1, gamma1, beta1, W2, ...``).
    """

    def __init__(self, sizes, weight_init_std, activation_layer, activation_name, weight_decay_lambda, dtype,
                 use_batchnorm=False, use_dropout=False, dropout_ratio=0.5):
        dtype = compute_dtype(dtype)
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
                raise ValueError(f"layer sizes must be positive integers, got {sizes}")
        if not is_real_number(weight_decay_lambda) or not np.isfinite(weight_decay_lambda) or weight_decay_lambda < 0:
            raise ValueError(f"weight_decay_lambda must be a number >= 0, got {weight_decay_lambda!r}")
        check_fits_dtype("weight_decay_lambda", weight_decay_lambda, dtype)
        self.weight_decay_lambda = weight_decay_lambda
        depth = len(sizes) - 1
        params_layout, grads_keys = book_layouts(sizes, use_batchnorm)
        self.params = FlatParams(params_layout, dtype)
        for idx in range(1, depth + 1):
            scale = weight_scale(weight_init_std, sizes[idx - 1])
            self.params[f"W{idx}"] = scale * np.random.randn(sizes[idx - 1], sizes[idx])
        self.grads = FlatParams(self.params.layout, self.params.flat.dtype, order=grads_keys)
        self.layers = OrderedDict()
        fused_steps = []
        for idx in range(1, depth + 1):
            self.layers[f"Affine{idx}"] = layer = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"],
                                                         self.grads[f"W{idx}"], self.grads[f"b{idx}"])
            fused_steps.append(layer)
            if idx == depth:
                break
            if use_batchnorm:
                self.params[f"gamma{idx}"] = np.ones(sizes[idx])
                self.layers[f"BatchNorm{idx}"] = batchnorm = BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"],
                    dgamma=self.grads[f"gamma{idx}"], dbeta=self.grads[f"beta{idx}"])
            self.layers[f"{activation_name}{idx}"] = activation = activation_layer()
            dropout = None
            if use_dropout:
                self.layers[f"Dropout{idx}"] = dropout = Dropout(dropout_ratio)
            if use_batchnorm and activation_layer is Relu:
                fused_steps.append(BatchNormReluDropout(batchnorm, activation, dropout))
        self._weight_keys = [f"W{idx}" for idx in range(1, depth + 1)]
        # Training passes run each hidden BatchNorm, Relu and Dropout as one fused step while
        # self.layers still holds the layers built here (see _training_steps).
        self._fused = (tuple(self.layers.values()), fused_steps) if len(fused_steps) > depth else None
        self._steps = None

    def _training_steps(self):
        """The fused steps, or None when ``self.layers`` was changed or the masks need ``np.random.rand``."""
        if self._fused is None:
            return None
        layers, steps = self._fused
        if tuple(self.layers.values()) != layers or not steps[1].can_draw():
            return None
        return steps

    def _forward(self, x, train_flg):
        """Run the layers; ``self._steps`` keeps the objects run, for ``gradient`` to backpropagate through."""
        steps = self._training_steps() if train_flg else None
        if steps is not None:
            self._steps = steps
            for step in steps:
                x = step.forward(x)
            return x
        self._steps = list(self.layers.values())
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def predict(self, x, train_flg=False):
        """Raw scores (logits) of shape (N, output_size); a new array.

        ``train_flg`` reaches the layers whose name contains 'Dropout' or
        'BatchNorm', as the book's MultiLayerNetExtend.
        """
        return self._forward(x, train_flg).copy()

    def _weight_decay(self):
        if not self.weight_decay_lambda:
            return 0
        total = 0.0
        for key in self._weight_keys:
            w = self.params[key].reshape(-1)
            with np.errstate(over="ignore"):  # sum(W**2) past the dtype's range is inf, as the book's np.sum
                total += 0.5 * self.weight_decay_lambda * float(np.dot(w, w))
        return total

    def loss(self, x, t, train_flg=False):
        """Cross-entropy of the batch plus 0.5 * lambda * sum(W**2) over every W (inference mode by default)."""
        return self._loss_layer.forward(self._forward(x, train_flg), t) + self._weight_decay()

    def accuracy(self, x, t):
        """Fraction of rows whose largest score is the label (class indices or one-hot rows, checked as
        the loss checks them), in inference mode."""
        scores = self._forward(x, False)
        check_batch("accuracy", scores.shape[0])
        labels, _ = class_labels(t, scores.shape, scores.dtype)
        return np.sum(np.argmax(scores, axis=1) == labels) / float(scores.shape[0])

    def gradient(self, x, t):
        """Backpropagated gradients of a training-mode pass, a FlatParams in the book's
        gradient key order, valid until the next call."""
        # The forward of loss() without its 0.5 * lambda * sum(W**2): gradient() never returns the loss,
        # and that sum reads every weight once more (~5% of a book ch06 search trial).
        self._loss_layer.forward(self._forward(x, True), t)
        dout = self._loss_layer.backward(1)
        steps = self._steps
        for step in reversed(steps[1:]):
            dout = step.backward(dout)
        steps[0].backward_params(dout)
        if self.weight_decay_lambda:
            lam = self.params.flat.dtype.type(self.weight_decay_lambda)
            for key in self._weight_keys:
                scaled_add(self.params[key].reshape(-1), lam, self.grads[key].reshape(-1))
        return self.grads

    def numerical_gradient(self, x, t):
        """The book's numerical gradient of the training-mode ``loss`` for every parameter,
        in the gradient key order (slow: 2 losses per element; each one updates the
        batch-norm running statistics and draws new dropout masks, as the book)."""
        loss_W = lambda W: self.loss(x, t, train_flg=True)  # noqa: E731  (the layers read params in place)
        return {key: numerical_gradient(loss_W, self.params[key]) for key in self.grads}


class TwoLayerNet(LayerNet):
    """The book's chapter-5 ``TwoLayerNet``: Affine1, Relu1, Affine2 and ``lastLayer``.

    ``exact_loss=True`` gives the loss layer the exact log-sum-exp cross-entropy
    (see :class:`~fastdl.layers.SoftmaxWithLoss`); the default is the book's.
    """

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64,
                 exact_loss=False):
        super().__init__([input_size, hidden_size, output_size], weight_init_std, Relu, "Relu", 0, dtype)
        self.lastLayer = self._loss_layer = SoftmaxWithLoss(exact=exact_loss)


class MultiLayerNet(LayerNet):
    """The book's ``MultiLayerNet``: (Affine, activation) * len(hidden_size_list), Affine, ``last_layer``.

    ``use_batchnorm=True`` (the E-資格 course's version of the class) adds
    ``BatchNorm{i}`` layers as :class:`MultiLayerNetExtend` does.
    ``exact_loss=True`` gives ``last_layer`` the exact log-sum-exp cross-entropy
    (see :class:`~fastdl.layers.SoftmaxWithLoss`); the default is the book's.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_batchnorm=False, dtype=np.float64, exact_loss=False):
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
                    use_batchnorm, False, 0.5, dtype, exact_loss)

    def _build(self, input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
               use_batchnorm, use_dropout, dropout_ratio, dtype, exact_loss):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: choose one of {sorted(ACTIVATIONS)}")
        if not isinstance(hidden_size_list, (list, tuple)):
            raise TypeError(f"hidden_size_list must be a list of layer sizes, e.g. [100, 100], "
                            f"got {hidden_size_list!r}")
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.use_batchnorm = use_batchnorm
        super().__init__([input_size, *hidden_size_list, output_size], weight_init_std,
                         ACTIVATIONS[activation], "Activation_function", weight_decay_lambda, dtype,
                         use_batchnorm, use_dropout, dropout_ratio)
        self.last_layer = self._loss_layer = SoftmaxWithLoss(exact=exact_loss)


class MultiLayerNetExtend(MultiLayerNet):
    """The book's ``MultiLayerNetExtend``: MultiLayerNet with optional dropout and batch normalization.

    Hidden layer i is ``Affine{i}, [BatchNorm{i}], Activation_function{i}, [Dropout{i}]``
    (the keyword is spelled ``dropout_ration``, as the book). ``loss`` and
    ``predict`` default to inference mode (``train_flg=False``); ``gradient``
    and ``numerical_gradient`` run in training mode. ``exact_loss`` as in
    :class:`MultiLayerNet`.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False,
                 dtype=np.float64, exact_loss=False):
        self.use_dropout = use_dropout
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
                    use_batchnorm, use_dropout, dropout_ration, dtype, exact_loss)


# Chapters 7 and 8 networks, as the book's scripts find it next to the MLPs. Imported last: fastdl.convnets
# builds on LayerNet above.
from .convnets import DeepConvNet, SimpleConvNet  # noqa: E402,F401

"""The one place the commands build their networks and optimizers, from settings, and describe them in one line.

A network is described by a JSON-able *spec* (:func:`network_spec`), which
``model.npz`` keeps so that :func:`build_network` rebuilds the same network.
"""
import inspect

import numpy as np

from .. import networks
from ..convnets import deep_convnet_layout, simple_convnet_layout
from ..optimizers import OPTIMIZERS
from .loop import EVAL_CHUNK

MLP_CLASSES = ("MultiLayerNet", "MultiLayerNetExtend")
CONVNETS = {"simple-convnet": "SimpleConvNet", "deep-convnet": "DeepConvNet"}
"""``--model`` name: the book's convolutional network it builds (``mlp`` builds one of ``MLP_CLASSES``)."""
NETWORK_CLASSES = (*MLP_CLASSES, *CONVNETS.values())
MODELS = ("mlp", *CONVNETS)
IMAGE_DIM = (1, 28, 28)
"""(C, H, W) of an MNIST or Fashion-MNIST image, the conv nets' ``input_dim``."""
CONV_EVAL_CHUNK = 100
"""Samples per forward pass when evaluating a conv net: the training batch's buffers are reused, and
larger chunks were not faster (DeepConvNet float32: 0.61 s per 1,000 samples in chunks of 100 or
1,000, 5.3 s in chunks of 10,000, whose activations leave the caches) and take far more memory."""


def network_spec(hidden, activation="relu", init="relu", weight_decay=0.0, dtype="float32",
                 batchnorm=False, dropout=0.0, exact_loss=False, input_size=784, output_size=10, model="mlp"):
    """The JSON-able description ``build_network`` turns into a network.

    ``model='mlp'``: ``MultiLayerNet`` unless batch norm or dropout is asked for, which need
    ``MultiLayerNetExtend``. ``dropout`` is the book's ``dropout_ration``; 0 means none.
    ``model`` 'simple-convnet' or 'deep-convnet': see :func:`convnet_spec`.
    """
    if model != "mlp":
        return convnet_spec(model, hidden, activation, init, weight_decay, dtype, batchnorm, dropout, exact_loss,
                            output_size)
    spec = {"class": "MultiLayerNet", "input_size": input_size, "hidden_size_list": list(hidden),
            "output_size": output_size, "activation": activation, "weight_init_std": init,
            "weight_decay_lambda": weight_decay, "dtype": str(np.dtype(dtype)), "exact_loss": bool(exact_loss)}
    if batchnorm or dropout:
        spec.update({"class": "MultiLayerNetExtend", "use_batchnorm": bool(batchnorm),
                     "use_dropout": bool(dropout), "dropout_ration": dropout if dropout else 0.5})
    return spec


def convnet_spec(model, hidden, activation="relu", init="relu", weight_decay=0.0, dtype="float32",
                 batchnorm=False, dropout=0.0, exact_loss=False, output_size=10):
    """The spec of the book's SimpleConvNet or DeepConvNet (``model`` a key of ``CONVNETS``) on 28x28 images.

    Their convolution layers are the book's defaults; ``hidden`` (one size) is
    their ``hidden_size``, ``init`` SimpleConvNet's ``weight_init_std`` (a
    number); DeepConvNet is He-initialised from the book's fan-ins with its
    fixed dropout 0.5. Raises ValueError naming the option for anything else
    (sigmoid, weight decay, batch norm, dropout, exact loss: the book's
    constructors have none of them).
    """
    if model not in CONVNETS:
        raise ValueError(f"unknown model {model!r}; choose one of {list(MODELS)}")
    name = CONVNETS[model]
    unusable = [flag for flag, given in (("--activation sigmoid", activation != "relu"),
                                         ("--weight-decay", weight_decay), ("--batchnorm", batchnorm),
                                         ("--dropout", dropout), ("--exact-loss", exact_loss)) if given]
    if unusable:
        raise ValueError(f"--model {model}: {', '.join(unusable)} apply to --model mlp only (the book's {name} "
                         f"is ReLU with {'its fixed dropout 0.5' if name == 'DeepConvNet' else 'no dropout'}, "
                         f"no batch norm, no weight decay)")
    hidden = list(hidden)
    if len(hidden) != 1:
        raise ValueError(f"--hidden {' '.join(map(str, hidden))}: {name} has one hidden Affine layer "
                         f"(its hidden_size): give one size")
    spec = {"class": name, "hidden_size": hidden[0], "output_size": output_size, "dtype": str(np.dtype(dtype))}
    if name == "SimpleConvNet":
        if isinstance(init, str):
            raise ValueError(f"--init {init}: SimpleConvNet's weight_init_std is a number (the book's 0.01)")
        spec["weight_init_std"] = float(init)
    elif init not in ("relu", "he"):
        raise ValueError(f"--init {init}: DeepConvNet is He-initialised from the book's fan-ins; "
                         f"--init applies to --model mlp and simple-convnet")
    return spec


def model_name(spec):
    """The ``--model`` that builds a network of this spec."""
    return next((model for model, name in CONVNETS.items() if name == spec["class"]), "mlp")


def flat_input(spec):
    """Whether the network takes flat (N, 784) images (the MLPs) rather than (N, 1, 28, 28)."""
    return spec["class"] in MLP_CLASSES


def eval_chunk(spec):
    """Samples per forward pass when evaluating this network (see ``CONV_EVAL_CHUNK``)."""
    return EVAL_CHUNK if flat_input(spec) else CONV_EVAL_CHUNK


def network_layout(spec):
    """``{key: shape}`` of the parameters a network of ``spec`` has, computed without building it."""
    name = spec["class"]
    if name == "SimpleConvNet":
        return dict(simple_convnet_layout(IMAGE_DIM, hidden_size=spec["hidden_size"],
                                          output_size=spec["output_size"]))
    if name == "DeepConvNet":
        return dict(deep_convnet_layout(IMAGE_DIM, hidden_size=spec["hidden_size"], output_size=spec["output_size"]))
    sizes = [spec["input_size"], *spec["hidden_size_list"], spec["output_size"]]
    return dict(networks.book_layouts(sizes, name == "MultiLayerNetExtend" and spec["use_batchnorm"])[0])


def network_buffers(spec):
    """``{'<layer>.<name>': shape}`` of the state a network of ``spec`` keeps beside its parameters
    (batch norm's running mean and variance)."""
    if spec["class"] != "MultiLayerNetExtend" or not spec["use_batchnorm"]:
        return {}
    sizes = spec["hidden_size_list"]
    return {f"BatchNorm{idx}.{name}": (size,) for idx, size in enumerate(sizes, 1)
            for name in ("running_mean", "running_var")}


def build_network(spec):
    """A new network from ``spec`` (weights drawn from NumPy's global RNG, as the book).

    Raises ValueError naming the class when ``spec`` names no network this fastdl builds.
    """
    kwargs = dict(spec)
    name = kwargs.pop("class")
    if name not in NETWORK_CLASSES or not hasattr(networks, name):
        raise ValueError(f"unknown network class {name!r}; this fastdl has "
                              f"{[n for n in NETWORK_CLASSES if hasattr(networks, n)]}")
    kwargs["dtype"] = np.dtype(kwargs["dtype"])
    if name in CONVNETS.values():
        kwargs["input_dim"] = IMAGE_DIM
    return getattr(networks, name)(**kwargs)


def describe_network(spec):
    """One line, e.g. ``MultiLayerNet 784-100-100-10, relu, init 'relu', float32`` or
    ``SimpleConvNet conv 30x5x5, relu, pool 2x2, 4320-100-10, weight_init_std 0.01, float32``."""
    if spec["class"] == "SimpleConvNet":
        layout = network_layout(spec)
        return (f"SimpleConvNet conv {layout['W1'][0]}x5x5, relu, pool 2x2, "
                f"{layout['W2'][0]}-{spec['hidden_size']}-{spec['output_size']}, "
                f"weight_init_std {spec['weight_init_std']:g}, {spec['dtype']}")
    if spec["class"] == "DeepConvNet":
        return (f"DeepConvNet (conv 3x3, relu) x 6 with 16-16-32-32-64-64 filters, pool 2x2 after every "
                f"second, 1024-{spec['hidden_size']}-{spec['output_size']}, dropout 0.5, He init, {spec['dtype']}")
    sizes = "-".join(str(n) for n in [spec["input_size"], *spec["hidden_size_list"], spec["output_size"]])
    extras = [spec["activation"], f"init {spec['weight_init_std']!r}", spec["dtype"]]
    if spec["weight_decay_lambda"]:
        extras.append(f"weight decay {spec['weight_decay_lambda']:g}")
    if spec.get("use_batchnorm"):
        extras.append("batch norm")
    if spec.get("use_dropout"):
        extras.append(f"dropout {spec['dropout_ration']:g}")
    if spec.get("exact_loss"):
        extras.append("exact loss")
    return f"{spec['class']} {sizes}, " + ", ".join(extras)


def build_optimizer(name, lr=None, params=None):
    """``OPTIMIZERS[name](lr=lr, **params)``, leaving out ``lr`` when None (the class default)."""
    kwargs = dict(params or {})
    if lr is not None:
        kwargs["lr"] = lr
    return OPTIMIZERS[name](**kwargs)


def hyperparameters(optimizer):
    """``{name: value}`` of every constructor argument, read back from the optimizer."""
    return {name: getattr(optimizer, name) for name in inspect.signature(type(optimizer)).parameters}


def describe_optimizer(optimizer):
    """One line, e.g. ``Adam(lr=0.001, beta1=0.9, beta2=0.999)``."""
    args = ", ".join(f"{name}={value:g}" for name, value in hyperparameters(optimizer).items())
    return f"{type(optimizer).__name__}({args})"

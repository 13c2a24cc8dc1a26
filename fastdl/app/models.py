"""The one place the commands build their networks and optimizers, from settings, and describe them in one line.

A network is described by a JSON-able *spec* (:func:`network_spec`), which
``model.npz`` keeps so that :func:`build_network` rebuilds the same network.
"""
import inspect

import numpy as np

from .. import networks
from ..optimizers import OPTIMIZERS

NETWORK_CLASSES = ("MultiLayerNet", "MultiLayerNetExtend")


def network_spec(hidden, activation="relu", init="relu", weight_decay=0.0, dtype="float32",
                 batchnorm=False, dropout=0.0, exact_loss=False, input_size=784, output_size=10):
    """The JSON-able description ``build_network`` turns into a network.

    ``MultiLayerNet`` unless batch norm or dropout is asked for, which need
    ``MultiLayerNetExtend``. ``dropout`` is the book's ``dropout_ration``; 0 means none.
    """
    spec = {"class": "MultiLayerNet", "input_size": input_size, "hidden_size_list": list(hidden),
            "output_size": output_size, "activation": activation, "weight_init_std": init,
            "weight_decay_lambda": weight_decay, "dtype": str(np.dtype(dtype)), "exact_loss": bool(exact_loss)}
    if batchnorm or dropout:
        spec.update({"class": "MultiLayerNetExtend", "use_batchnorm": bool(batchnorm),
                     "use_dropout": bool(dropout), "dropout_ration": dropout if dropout else 0.5})
    return spec


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
    return getattr(networks, name)(**kwargs)


def describe_network(spec):
    """One line, e.g. ``MultiLayerNet 784-100-100-10, relu, init 'relu', float32``."""
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

"""Saved training runs: one ``.npz`` holding everything needed to rebuild and reuse the network.

Contents of ``model.npz`` (read it with ``np.load(path, allow_pickle=False)``):

* ``network``: JSON of the network class name and its constructor arguments,
* ``run``: JSON of the training settings and progress (optimizer, epochs done, last test accuracy, ...),
* ``params/<key>``: each parameter array (``W1``, ``b1``, ...),
* ``buffers/<layer>.<name>``: state that is not a parameter (batch norm's running mean and variance),
* ``step_loss``: the training loss of every step so far.
"""
import json
import zipfile
from pathlib import Path

import numpy as np

from . import networks
from .outputs import atomic_path

MODEL_FILE = "model.npz"
NETWORK_CLASSES = ("MultiLayerNet", "MultiLayerNetExtend")
BUFFER_NAMES = ("running_mean", "running_var")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or does not describe a fastdl network."""


def network_spec(hidden, activation="relu", init="relu", weight_decay=0.0, dtype="float32",
                 batchnorm=False, dropout=0.0, input_size=784, output_size=10):
    """The JSON-able description ``build_network`` turns into a network.

    ``MultiLayerNet`` unless batch norm or dropout is asked for, which need
    ``MultiLayerNetExtend``. ``dropout`` is the book's ``dropout_ration``; 0 means none.
    """
    spec = {"class": "MultiLayerNet", "input_size": input_size, "hidden_size_list": list(hidden),
            "output_size": output_size, "activation": activation, "weight_init_std": init,
            "weight_decay_lambda": weight_decay, "dtype": str(np.dtype(dtype))}
    if batchnorm or dropout:
        spec.update({"class": "MultiLayerNetExtend", "use_batchnorm": bool(batchnorm),
                     "use_dropout": bool(dropout), "dropout_ration": dropout if dropout else 0.5})
    return spec


def build_network(spec):
    """A new network from ``spec`` (weights drawn from NumPy's global RNG, as the book)."""
    kwargs = dict(spec)
    name = kwargs.pop("class")
    if name not in NETWORK_CLASSES or not hasattr(networks, name):
        raise CheckpointError(f"unknown network class {name!r}; this fastdl has "
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
    return f"{spec['class']} {sizes}, " + ", ".join(extras)


def save_checkpoint(path, net, spec, run, step_loss):
    """Write ``path`` atomically: the network ``spec``, the ``run`` dict, params, buffers, step losses."""
    arrays = {"network": np.array(json.dumps(spec)), "run": np.array(json.dumps(run)),
              "step_loss": np.asarray(step_loss, dtype=np.float64)}
    for key, value in net.params.items():
        arrays[f"params/{key}"] = value
    for layer_name, layer in net.layers.items():
        for name in BUFFER_NAMES:
            value = getattr(layer, name, None)
            if value is not None:
                arrays[f"buffers/{layer_name}.{name}"] = value
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def checkpoint_path(path):
    """``path`` itself when it is a file, else ``path/model.npz``."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def load_checkpoint(path):
    """Rebuild a saved network.

    Parameters
    ----------
    path : run directory or ``.npz`` file

    Returns
    -------
    net, spec, run, step_loss
    """
    path = checkpoint_path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: expected the {MODEL_FILE} "
                              f"that `fastdl train --out DIR` writes")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        spec = json.loads(str(arrays["network"]))
        run = json.loads(str(arrays["run"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is not a readable fastdl checkpoint ({type(exc).__name__}: {exc})") from None
    net = build_network(spec)
    missing = [key for key in net.params if f"params/{key}" not in arrays]
    if missing:
        raise CheckpointError(f"{path} lacks parameters {missing} of {describe_network(spec)}")
    try:
        for key in net.params:
            net.params[key] = arrays[f"params/{key}"]
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    for key, value in arrays.items():
        if key.startswith("buffers/"):
            _restore_buffer(net, key[len("buffers/"):], value, path)
    return net, spec, run, arrays.get("step_loss", np.empty(0))


def _restore_buffer(net, name, value, path):
    layer_name, _, attr = name.rpartition(".")
    layer = net.layers.get(layer_name)
    if layer is None or attr not in BUFFER_NAMES:
        raise CheckpointError(f"{path} has buffer {name!r}, which {type(net).__name__} does not have")
    current = getattr(layer, attr, None)
    if isinstance(current, np.ndarray) and current.shape == value.shape:
        current[...] = value
    else:
        setattr(layer, attr, value.astype(net.params.flat.dtype))

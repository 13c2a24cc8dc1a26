"""Saved training runs: one ``.npz`` holding everything needed to rebuild the network and resume its run.

Contents of ``model.npz`` (read it with ``np.load(path, allow_pickle=False)``):

* ``network``: JSON of the network class name and its constructor arguments,
* ``run``: JSON of the training settings and progress (optimizer, epochs done, last test accuracy, ...),
* ``metrics``: JSON list of the per-epoch rows of ``metrics.csv`` so far,
* ``params/<key>``: each parameter array (``W1``, ``b1``, ...),
* ``buffers/<layer>.<name>``: state that is not a parameter (batch norm's running mean and variance),
* ``optimizer/<entry>``: the optimizer's ``state_dict()`` (``optimizer/iter``, ``optimizer/m/W1``, ...),
* ``rng/keys``, ``rng/pos``, ``rng/has_gauss``, ``rng/cached_gaussian``: NumPy's global RNG state,
* ``epoch_order``: the batch order of an epoch interrupted part-way (absent at epoch boundaries),
* ``step_loss``: the training loss of every step so far.

The file is written to a temporary name, flushed to disk and renamed over the
previous one, so a run killed at any moment leaves the last complete checkpoint.
"""
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .models import build_network
from .report import atomic_path

MODEL_FILE = "model.npz"
BUFFER_NAMES = ("running_mean", "running_var")
RNG_FIELDS = ("keys", "pos", "has_gauss", "cached_gaussian")
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or does not describe a fastdl network."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` gives back: the rebuilt network and the state of its run."""

    net: object
    spec: dict
    run: dict
    step_loss: np.ndarray
    metrics: list = field(default_factory=list)
    optimizer_state: dict = field(default_factory=dict)
    rng_state: tuple = None
    epoch_order: np.ndarray = None


def save_checkpoint(path, net, spec, run, step_loss, metrics=(), optimizer=None, epoch_order=None):
    """Write ``path`` atomically with NumPy's current global RNG state (see the module docstring).

    Parameters
    ----------
    net, spec : the network and its :func:`fastdl.app.models.network_spec`.
    run : dict, JSON-able: settings and progress.
    step_loss : (S,) every step's loss so far.
    metrics : list of dicts, JSON-able: the per-epoch rows so far.
    optimizer : Optimizer, optional; its ``state_dict()`` is saved.
    epoch_order : (K,) int array, optional: the batch order of the epoch under way.
    """
    arrays = {"network": np.array(json.dumps(spec)), "run": np.array(json.dumps(run)),
              "metrics": np.array(json.dumps(list(metrics))), "step_loss": np.asarray(step_loss, dtype=np.float64)}
    for key, value in net.params.items():
        arrays[f"params/{key}"] = value
    for layer_name, layer in net.layers.items():
        for name in BUFFER_NAMES:
            value = getattr(layer, name, None)
            if value is not None:
                arrays[f"buffers/{layer_name}.{name}"] = value
    for entry, value in (optimizer.state_dict() if optimizer is not None else {}).items():
        arrays[f"optimizer/{entry}"] = np.asarray(value)
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    arrays.update({"rng/keys": keys, "rng/pos": np.int64(pos), "rng/has_gauss": np.int64(has_gauss),
                   "rng/cached_gaussian": np.float64(cached_gaussian)})
    if epoch_order is not None:
        arrays["epoch_order"] = epoch_order
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def checkpoint_path(path):
    """``path`` itself when it is a file, else ``path/model.npz``."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() else path


def load_checkpoint(path):
    """Rebuild a saved network and read the state of its run.

    Parameters
    ----------
    path : run directory or ``.npz`` file

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        The file is missing, truncated, corrupt or not a fastdl checkpoint; the message names it.
    """
    path, arrays = _read(path)
    try:
        spec, run = json.loads(str(arrays["network"])), json.loads(str(arrays["run"]))
        metrics = json.loads(str(arrays["metrics"])) if "metrics" in arrays else []
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a fastdl checkpoint ({type(exc).__name__}: {exc})") from None
    try:
        net = build_network(spec)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path} describes no network this fastdl can build ({type(exc).__name__}: {exc})"
                              ) from None
    _copy_into(net, arrays, path)
    optimizer_state = {key[len("optimizer/"):]: value for key, value in arrays.items()
                       if key.startswith("optimizer/")}
    for entry, value in optimizer_state.items():
        key = entry.partition("/")[2]
        if key and (key not in net.params or value.shape != net.params[key].shape):
            raise CheckpointError(f"{path} does not fit this {type(net).__name__}: optimizer/{entry} has shape "
                                  f"{value.shape}, params[{key!r}] {net.params.get(key, np.empty(0)).shape}")
    rng_state = None
    if all(f"rng/{name}" in arrays for name in RNG_FIELDS):
        keys, pos, has_gauss, cached = (arrays[f"rng/{name}"] for name in RNG_FIELDS)
        rng_state = ("MT19937", keys, int(pos), int(has_gauss), float(cached))
    return Checkpoint(net, spec, run, arrays.get("step_loss", np.empty(0)), metrics, optimizer_state, rng_state,
                      arrays.get("epoch_order"))


def restore_network(net, path):
    """Load the parameters and batch-norm statistics saved in a checkpoint into an existing network.

    Parameters
    ----------
    net : MultiLayerNet or MultiLayerNetExtend
    path : run directory or ``.npz`` file

    Every key and shape is checked before anything is copied: a network of
    another shape gets a :class:`CheckpointError` naming the key that does not fit.
    """
    path, arrays = _read(path)
    _copy_into(net, arrays, path)


def _read(path):
    """``(file path, {name: array})`` of a checkpoint; CheckpointError naming the file when it cannot be read."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: expected the {MODEL_FILE} "
                              f"that `fastdl train --out DIR` writes")
    try:
        with np.load(path, allow_pickle=False) as data:
            return path, {key: data[key] for key in data.files}
    except READ_ERRORS as exc:
        raise CheckpointError(f"{path} is not a readable fastdl checkpoint, truncated or corrupt "
                              f"({type(exc).__name__}: {exc})") from None


def _copy_into(net, arrays, path):
    """Copy the ``params/...`` and ``buffers/...`` of ``arrays`` into ``net``, all checked first."""
    saved = {key[len("params/"):]: arrays[key] for key in arrays if key.startswith("params/")}
    missing = [key for key in net.params if key not in saved]
    extra = [key for key in saved if key not in net.params]
    if missing or extra:
        raise CheckpointError(f"{path} does not fit this {type(net).__name__}: "
                              + "; ".join(filter(None, [f"it lacks params {missing}" if missing else "",
                                                        f"it has params {extra} the network does not" if extra
                                                        else ""])))
    for key, value in saved.items():
        if value.shape != net.params[key].shape:
            raise CheckpointError(f"{path} does not fit this {type(net).__name__}: params/{key} has shape "
                                  f"{value.shape} in the file, {net.params[key].shape} in the network")
    buffers = {key[len("buffers/"):]: arrays[key] for key in arrays if key.startswith("buffers/")}
    targets = {name: _buffer_owner(net, name, value, path) for name, value in buffers.items()}
    for key, value in saved.items():
        net.params[key] = value
    for name, value in buffers.items():
        layer, attr = targets[name]
        setattr(layer, attr, value.astype(net.params.flat.dtype))


def _buffer_owner(net, name, value, path):
    """``(layer, attribute)`` that the saved buffer ``name`` (``'BatchNorm1.running_mean'``) restores."""
    layer_name, _, attr = name.rpartition(".")
    layer = net.layers.get(layer_name)
    if layer is None or attr not in BUFFER_NAMES or not hasattr(layer, attr):
        raise CheckpointError(f"{path} has buffer {name!r}, which this {type(net).__name__} does not have")
    expected = layer.gamma.shape
    if value.shape != expected:
        raise CheckpointError(f"{path} does not fit this {type(net).__name__}: buffers/{name} has shape "
                              f"{value.shape} in the file, {expected} in the network")
    return layer, attr

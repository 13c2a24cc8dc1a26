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

``fastdl train --val-split`` also writes ``best.npz``, the same checkpoint taken
after the epoch of the highest validation accuracy so far; its ``run`` (and
``model.npz``'s) then holds ``val_split``, ``val_seed``, ``val_loss``, ``val_acc``
and ``best`` (that epoch and its validation loss and accuracy), and null
``test_loss``/``test_acc``: the test set is not looked at during such a run.

The file is written to a temporary name, flushed to disk and renamed over the
previous one, so a run killed at any moment leaves the last complete checkpoint.

Loading checks the whole file against this schema first (each entry's dtype and
shape from its ``.npy`` header, the JSON entries' keys and types, the shapes the
network entry implies, the batch order against the run's data) and reads no
array before: a damaged or tampered file gets a :class:`CheckpointError` naming
the file and the entry, never a traceback or an allocation the file cannot back.
"""
import json
import numbers
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import networks
from ..datasets import NUM_SAMPLES, TITLES
from ..npz import BoundedNpz
from ..optimizers import OPTIMIZERS
from .loop import val_size
from .models import MLP_CLASSES, NETWORK_CLASSES, build_network, network_buffers, network_layout
from .report import atomic_path

MODEL_FILE = "model.npz"
BEST_FILE = "best.npz"
BUFFER_NAMES = ("running_mean", "running_var")
RNG_FIELDS = ("keys", "pos", "has_gauss", "cached_gaussian")
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)
MAX_INFLATED = 1 << 30
"""Bytes that a checkpoint's deflated members may inflate to (fastdl stores them uncompressed, bounded
by the file itself; a default MNIST network takes 0.9 MB)."""
MAX_JSON_CHARS = 1 << 24
"""Characters of a JSON entry (``network``, ``run``, ``metrics``) read at most."""
MT19937_WORDS = 624


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
        The file is missing, truncated, corrupt or not a fastdl checkpoint; the message names
        the file and the entry. The whole file is checked against the schema of the module
        docstring (every entry's dtype and shape, the JSON entries' keys and types) before any
        array is read or a network is built, so nothing is allocated that the file does not hold.
    """
    path, archive = _open(path)
    with archive:
        spec = _read_json(archive, path, "network", dict)
        run = _read_json(archive, path, "run", dict)
        metrics = _read_json(archive, path, "metrics", list, required=False) or []
        _check_spec(spec, path)
        _check_run(run, path)
        _check_metrics(metrics, path)
        _check_entries(archive.headers, spec, run, path)
        arrays = _read_arrays(archive, path)
    _check_epoch_order(arrays.get("epoch_order"), run, path)
    try:
        net = build_network(spec)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path} describes no network this fastdl can build ({type(exc).__name__}: {exc})"
                              ) from None
    _copy_into(net, arrays, path)
    optimizer_state = {key[len("optimizer/"):]: value for key, value in arrays.items()
                       if key.startswith("optimizer/")}
    rng_state = None
    if "rng/keys" in arrays:
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

    Every key, shape and dtype is checked before anything is copied: a network of
    another shape gets a :class:`CheckpointError` naming the key that does not fit,
    and the network is left as it was.
    """
    path, archive = _open(path)
    with archive:
        for key, (shape, dtype) in archive.headers.items():
            if key.startswith(("params/", "buffers/")):
                _check_float(path, key, shape, dtype)
        arrays = _read_arrays(archive, path, prefixes=("params/", "buffers/"))
    _copy_into(net, arrays, path)


def _open(path):
    """``(file path, BoundedNpz)`` of a checkpoint; CheckpointError naming the file when it cannot be read."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: expected the {MODEL_FILE} "
                              f"that `fastdl train --out DIR` writes")
    try:
        return path, BoundedNpz(path, max_inflated=MAX_INFLATED)
    except READ_ERRORS as exc:
        raise CheckpointError(f"{path} is not a readable fastdl checkpoint, truncated or corrupt "
                              f"({type(exc).__name__}: {exc})") from None


def _read_arrays(archive, path, prefixes=None):
    """Every entry (or those starting with ``prefixes``) as arrays, each read bounded by its checked header."""
    try:
        return {key: archive.read(key) for key in archive.headers if prefixes is None or key.startswith(prefixes)}
    except READ_ERRORS as exc:
        raise CheckpointError(f"{path} is not a readable fastdl checkpoint, truncated or corrupt "
                              f"({type(exc).__name__}: {exc})") from None


def _read_json(archive, path, key, kind, required=True):
    """The JSON entry ``key`` parsed, which must be a ``kind`` (dict or list); None when absent and optional."""
    if key not in archive.headers:
        if required:
            raise CheckpointError(f"{path} is not a fastdl checkpoint: it has no {key!r} entry")
        return None
    shape, dtype = archive.headers[key]
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * MAX_JSON_CHARS:
        raise CheckpointError(f"{path} is not a fastdl checkpoint: {key!r} is {dtype} {shape}, "
                              f"expected one JSON string of at most {MAX_JSON_CHARS} characters")
    try:
        value = json.loads(str(_read_arrays(archive, path, prefixes=(key,))[key]))
    except ValueError as exc:
        raise CheckpointError(f"{path} is not a fastdl checkpoint: {key!r} is not JSON ({exc})") from None
    if not isinstance(value, kind):
        raise CheckpointError(f"{path} is not a fastdl checkpoint: {key!r} holds a {type(value).__name__}, "
                              f"expected a JSON {'object' if kind is dict else 'list'}")
    return value


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_fields(entry, value, fields, path):
    """``fields`` maps a key to ``(test, what it must be)``; CheckpointError naming the first that fails."""
    for key, (test, expected) in fields.items():
        if key not in value:
            raise CheckpointError(f"{path}: {entry} lacks {key!r} ({expected})")
        if not test(value[key]):
            raise CheckpointError(f"{path}: {entry} {key!r} must be {expected}, got {value[key]!r}")


MAX_LAYER_SIZE = 1 << 20
"""Units per layer at most: 2**20 units by the next layer's are terabytes, no checkpoint's."""
SIZE_FIELD = (lambda v: _is_int(v) and 0 < v <= MAX_LAYER_SIZE, f"an integer in 1..{MAX_LAYER_SIZE}")
DTYPE_FIELD = (lambda v: v in ("float32", "float64"), "'float32' or 'float64'")
CONVNET_FIELDS = {"hidden_size": SIZE_FIELD, "output_size": SIZE_FIELD, "dtype": DTYPE_FIELD}
"""The spec of both conv nets (their convolution layers are the book's defaults, not saved)."""
SIMPLE_CONVNET_FIELDS = {
    "weight_init_std": (lambda v: _is_number(v) and 0 < v < float("inf"), "a number > 0"),
}
SPEC_FIELDS = {
    "class": (lambda v: v in NETWORK_CLASSES, f"one of {list(NETWORK_CLASSES)}"),
    "input_size": (lambda v: _is_int(v) and 0 < v <= MAX_LAYER_SIZE, f"an integer in 1..{MAX_LAYER_SIZE}"),
    "output_size": (lambda v: _is_int(v) and 0 < v <= MAX_LAYER_SIZE, f"an integer in 1..{MAX_LAYER_SIZE}"),
    "hidden_size_list": (lambda v: isinstance(v, list) and all(_is_int(n) and 0 < n <= MAX_LAYER_SIZE for n in v),
                         f"a list of integers in 1..{MAX_LAYER_SIZE}"),
    "activation": (lambda v: v in networks.ACTIVATIONS, f"one of {sorted(networks.ACTIVATIONS)}"),
    "weight_init_std": (lambda v: isinstance(v, str) or _is_number(v), "a name or a number"),
    "weight_decay_lambda": (lambda v: _is_number(v) and 0 <= v < float("inf"), "a number >= 0"),
    "dtype": (lambda v: v in ("float32", "float64"), "'float32' or 'float64'"),
}
EXTEND_FIELDS = {
    "use_batchnorm": (lambda v: isinstance(v, bool), "true or false"),
    "use_dropout": (lambda v: isinstance(v, bool), "true or false"),
    "dropout_ration": (lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
}
RUN_FIELDS = {
    "dataset": (lambda v: v in TITLES, f"one of {sorted(TITLES)}"),
    "train_size": (lambda v: v is None or _is_int(v) and 0 < v <= NUM_SAMPLES["train"],
                   f"null or an integer in 1..{NUM_SAMPLES['train']}"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {list(OPTIMIZERS)}"),
    "hyperparameters": (lambda v: isinstance(v, dict) and "lr" in v and all(map(_is_number, v.values())),
                        "an object of numbers with 'lr'"),
    "lr_schedule": (lambda v: v in ("cosine", "constant"), "'cosine' or 'constant'"),
    "batch_size": (lambda v: _is_int(v) and v > 0, "an integer > 0"),
    "sampling": (lambda v: v in ("shuffle", "replace"), "'shuffle' or 'replace'"),
    "seed": (lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in 0..2**32-1"),
    "epochs_done": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "step_in_epoch": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "interrupted": (lambda v: isinstance(v, bool), "true or false"),
    "test_loss": (lambda v: v is None or _is_number(v), "a number or null"),
    "test_acc": (lambda v: v is None or _is_number(v), "a number or null"),
}
VAL_FIELDS = {
    "val_split": (lambda v: _is_number(v) and 0 < v < 1, "a fraction between 0 and 1"),
    "val_seed": (lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in 0..2**32-1"),
    "val_loss": (_is_number, "a number"),
    "val_acc": (_is_number, "a number"),
    "best": (lambda v: v is None or isinstance(v, dict) and set(v) == {"epoch", "val_acc", "val_loss"}
             and _is_int(v["epoch"]) and v["epoch"] > 0 and _is_number(v["val_acc"]) and _is_number(v["val_loss"]),
             "null or an object of 'epoch', 'val_acc', 'val_loss'"),
}


def _check_spec(spec, path):
    if spec.get("class") not in NETWORK_CLASSES:
        raise CheckpointError(f"{path}: unknown network class {spec.get('class')!r}; this fastdl has "
                              f"{list(NETWORK_CLASSES)}")
    if spec["class"] not in MLP_CLASSES:
        _check_fields("network", spec, CONVNET_FIELDS, path)
        if spec["class"] == "SimpleConvNet":
            _check_fields("network", spec, SIMPLE_CONVNET_FIELDS, path)
        return
    _check_fields("network", spec, SPEC_FIELDS, path)
    if spec["class"] == "MultiLayerNetExtend":
        _check_fields("network", spec, EXTEND_FIELDS, path)


def _fit_size(run):
    """Training samples the run's batches are drawn from: its training set less the validation split."""
    n = run["train_size"] or NUM_SAMPLES["train"]
    return n - val_size(n, run.get("val_split"))


def _check_run(run, path):
    _check_fields("run", run, RUN_FIELDS, path)
    if run.get("val_split") is not None:
        _check_fields("run", run, VAL_FIELDS, path)
        if run["best"] is not None and run["best"]["epoch"] > run["epochs_done"]:
            raise CheckpointError(f"{path}: run 'best' epoch {run['best']['epoch']} is after the "
                                  f"{run['epochs_done']} epochs done")
    elif run["test_loss"] is None or run["test_acc"] is None:
        raise CheckpointError(f"{path}: run 'test_loss' and 'test_acc' must be numbers (the run has no val_split)")
    train_eval = run.get("train_eval_size")  # absent from checkpoints written before --train-eval-size
    if not (train_eval is None or _is_int(train_eval) and train_eval > 0):
        raise CheckpointError(f"{path}: run 'train_eval_size' must be null or an integer > 0, got {train_eval!r}")
    schedule = run.get("schedule", [0, run["epochs_done"]])
    if not (isinstance(schedule, list) and len(schedule) == 2 and all(map(_is_int, schedule))
            and 0 <= schedule[0] <= schedule[1]):
        raise CheckpointError(f"{path}: run 'schedule' must be [start, end] epochs, got {schedule!r}")
    steps = _fit_size(run) // run["batch_size"]
    if run["step_in_epoch"] >= max(steps, 1):
        raise CheckpointError(f"{path}: run 'step_in_epoch' is {run['step_in_epoch']}, but an epoch of "
                              f"{_fit_size(run)} samples in batches of "
                              f"{run['batch_size']} has {steps} steps")
    resumed_at = run.get("resumed_at", [])
    if not (isinstance(resumed_at, list) and all(_is_int(step) and step >= 0 for step in resumed_at)):
        raise CheckpointError(f"{path}: run 'resumed_at' must be a list of step counts, got {resumed_at!r}")
    try:
        OPTIMIZERS[run["optimizer"]](**run["hyperparameters"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: run 'hyperparameters' do not make a {run['optimizer']} ({exc})") from None
    if run["interrupted"] != (run["step_in_epoch"] > 0):
        raise CheckpointError(f"{path}: run 'interrupted' is {run['interrupted']} but 'step_in_epoch' "
                              f"is {run['step_in_epoch']}")


def _check_metrics(metrics, path):
    for index, row in enumerate(metrics):
        if not isinstance(row, dict) or not _is_int(row.get("epoch")) \
                or not all(value is None or _is_number(value) for value in row.values()):
            raise CheckpointError(f"{path}: metrics row {index} must be an object of numbers with an integer "
                                  f"'epoch', got {row!r}"[:300])


def _check_float(path, key, shape, dtype, expected_shape=None):
    if dtype.kind != "f":
        raise CheckpointError(f"{path}: {key} is {dtype} {shape}; expected a float array")
    if expected_shape is not None and shape != expected_shape:
        raise CheckpointError(f"{path}: {key} has shape {shape}; expected {expected_shape}")


def _check_entries(headers, spec, run, path):
    """Every array entry's dtype and shape against what ``spec`` and ``run`` imply, and no unknown entry."""
    layout = network_layout(spec)
    saved = {key[len("params/"):]: shape for key, (shape, _) in headers.items() if key.startswith("params/")}
    missing = [key for key in layout if key not in saved]
    extra = [key for key in saved if key not in layout]
    if missing or extra:
        raise CheckpointError(f"{path} does not fit this {spec['class']}: "
                              + "; ".join(filter(None, [f"it lacks params {missing}" if missing else "",
                                                        f"it has params {extra} the network does not" if extra
                                                        else ""])))
    buffers = network_buffers(spec)
    for key, (shape, dtype) in headers.items():
        group, _, name = key.partition("/")
        if key in ("network", "run", "metrics"):
            continue
        if group == "params":
            _check_float(path, key, shape, dtype)
            if shape != layout[name]:
                raise CheckpointError(f"{path} does not fit this {spec['class']}: {key} has shape {shape} in the "
                                      f"file, {layout[name]} in the network")
        elif group == "buffers":
            if name not in buffers:
                raise CheckpointError(f"{path} has buffer {name!r}, which this {spec['class']} does not have")
            _check_float(path, key, shape, dtype, buffers[name])
        elif group == "optimizer":
            _check_optimizer_entry(path, name, shape, dtype, layout)
        elif key == "step_loss":
            _check_float(path, key, shape, dtype)
            if len(shape) != 1:
                raise CheckpointError(f"{path}: step_loss has shape {shape}; expected one loss per step, (S,)")
        elif key == "epoch_order":
            if dtype.kind not in "iu" or len(shape) != 1:
                raise CheckpointError(f"{path}: epoch_order is {dtype} {shape}; expected a 1-D integer array")
        elif group != "rng" or name not in RNG_FIELDS:
            raise CheckpointError(f"{path} has an entry {key!r} that is no part of a fastdl checkpoint")
    _check_rng(headers, path)
    if (run["step_in_epoch"] > 0) != ("epoch_order" in headers):
        raise CheckpointError(f"{path}: run 'step_in_epoch' is {run['step_in_epoch']} but epoch_order is "
                              f"{'present' if 'epoch_order' in headers else 'missing'}")


def _check_optimizer_entry(path, name, shape, dtype, layout):
    state, _, key = name.partition("/")
    if not key:
        if shape != () or dtype.kind not in "iu":
            raise CheckpointError(f"{path}: optimizer/{name} is {dtype} {shape}; expected an integer")
        return
    if key not in layout or shape != layout[key]:
        raise CheckpointError(f"{path} does not fit this network: optimizer/{name} has shape {shape}, "
                              f"params[{key!r}] {layout.get(key, ())}")
    _check_float(path, f"optimizer/{name}", shape, dtype)


def _check_rng(headers, path):
    present = [name for name in RNG_FIELDS if f"rng/{name}" in headers]
    if present and len(present) != len(RNG_FIELDS):
        raise CheckpointError(f"{path} has rng/{present[0]} but lacks "
                              f"{[f'rng/{name}' for name in RNG_FIELDS if name not in present]}")
    if not present:
        return
    expected = {"keys": ((MT19937_WORDS,), "u"), "pos": ((), "iu"), "has_gauss": ((), "iu"),
                "cached_gaussian": ((), "f")}
    for name, (shape, kinds) in expected.items():
        got_shape, dtype = headers[f"rng/{name}"]
        if got_shape != shape or dtype.kind not in kinds:
            raise CheckpointError(f"{path}: rng/{name} is {dtype} {got_shape}; NumPy's MT19937 state needs "
                                  f"{'uint32 ' if name == 'keys' else ''}shape {shape}")


def _check_epoch_order(order, run, path):
    """The saved batch order must index the run's training samples and cover the steps of an epoch."""
    if order is None:
        return
    n = _fit_size(run)
    steps = n // run["batch_size"]
    if order.size < steps * run["batch_size"]:
        raise CheckpointError(f"{path}: epoch_order has {order.size} entries, an epoch of {steps} batches "
                              f"of {run['batch_size']} needs {steps * run['batch_size']}")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise CheckpointError(f"{path}: epoch_order holds {order.min()}..{order.max()}, outside the "
                              f"{n} training samples (0..{n - 1})")


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
    net.params.update(saved)
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

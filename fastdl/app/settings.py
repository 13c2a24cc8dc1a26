"""The commands' settings: option types, the option groups commands share, and the one way a setting is resolved.

Every option's argparse default is None, meaning "not given"; :func:`resolve`
then takes each setting from the command line, else from a resumed run, else
from the command's defaults (a dict next to the command's code), and fills the
machine-dependent ones (Numba threads).
"""
import argparse

import numba

from ..datasets import NUM_SAMPLES, TITLES
from ..optimizers import OPTIMIZERS
from ..validation import check_fits_dtype
from .loop import check_run_size

INIT_NAMES = ("relu", "he", "sigmoid", "xavier")
EXACT_LOSS_HELP = ("exact log-sum-exp cross-entropy instead of the book's -log(y + 1e-7), which caps a sample's "
                   "loss at 16.1 and misstates the gradient of confidently wrong samples")
COMPUTE_DEFAULTS = {"dtype": "float32", "dataset": "mnist", "data_dir": None, "threads": None, "blas_threads": 1}
"""The compute settings every training command has (threads None: all Numba started with)."""
NETWORK_DEFAULTS = {"weight_decay": 0.0, "batchnorm": False, "dropout": 0.0, "exact_loss": False}
"""The network settings the ``compare`` experiments share."""


def _parse(text, kind):
    """``kind(text)`` (int or float), else an argparse error that says what was expected."""
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None


def integer(text):
    return _parse(text, int)


def optimizer_name(text):
    """An optimizer name in any case (``Adam``, ``adam``), as ``get_optimizer`` takes it."""
    return text.lower()


def positive_int(text):
    value = _parse(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    value = _parse(text, float)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def non_negative_float(text):
    value = _parse(text, float)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def dropout_ratio(text):
    value = _parse(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def open_fraction(text):
    """A number strictly between 0 and 1 (``--val-split``)."""
    value = _parse(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1 (e.g. 0.1), got {text}")
    return value


def weight_init(text):
    """'relu'/'he', 'sigmoid'/'xavier' or a positive standard deviation."""
    if text.lower() in INIT_NAMES:
        return text.lower()
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"use {', '.join(INIT_NAMES)} or a positive number, got {text!r}") from None


def optimizer_param(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. momentum=0.95), got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None


def add_compute_options(parser):
    parser.add_argument("--dtype", choices=("float32", "float64"), default=None,
                        help="compute dtype of the network (default: float32)")
    parser.add_argument("--dataset", choices=sorted(TITLES), default=None, help="default: mnist")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="directory with the four IDX .gz files (default: $FASTDL_DATA, else the user cache)")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="Numba threads (default: all Numba started with)")
    parser.add_argument("--blas-threads", type=positive_int, default=None, metavar="N",
                        help="BLAS threads (default: 1; batch-100 GEMMs are too small to split)")


def add_optimizer_names(parser, default):
    parser.add_argument("--optimizers", nargs="+", type=optimizer_name, choices=list(OPTIMIZERS), metavar="NAME",
                        help=f"which optimizers, from: {', '.join(OPTIMIZERS)} "
                             f"(default: {' '.join(default) if default else 'all'})")


def add_network_options(parser, batchnorm=True):
    parser.add_argument("--weight-decay", type=non_negative_float, metavar="LAMBDA",
                        help="L2 weight decay lambda of every network (default: 0)")
    if batchnorm:
        parser.add_argument("--batchnorm", action="store_true", default=None,
                            help="batch normalisation in every network")
    parser.add_argument("--dropout", type=dropout_ratio, metavar="RATIO",
                        help="dropout with this ratio in every network (default: none)")
    parser.add_argument("--exact-loss", action="store_true", default=None, help=EXACT_LOSS_HELP)


def add_run_options(parser, defaults, lr_help=None):
    """--iters or --epochs, --batch-size, --lr (those ``defaults`` has), --seed, --train-size, compute options."""
    if "iters" in defaults:
        length = parser.add_mutually_exclusive_group()
        length.add_argument("--iters", type=positive_int, help=f"iterations (default: {defaults['iters']})")
        length.add_argument("--epochs", type=positive_int, dest="iter_epochs", metavar="EPOCHS",
                            help="train this many passes over the training samples instead: "
                                 "EPOCHS * (train size // batch size) iterations")
    if "epochs" in defaults:
        parser.add_argument("--epochs", type=positive_int,
                            help=f"evaluations, one per epoch (default: {defaults['epochs']})")
    parser.add_argument("--batch-size", type=positive_int, help=f"default: {defaults['batch_size']}")
    if "lr" in defaults:
        parser.add_argument("--lr", type=positive_float, help=f"default: {lr_help or defaults['lr']}")
    parser.add_argument("--seed", type=integer, help=f"default: {defaults['seed']}")
    parser.add_argument("--train-size", type=positive_int, metavar="N",
                        help=f"use the first N training samples (default: {defaults['train_size'] or 'all'})")
    add_compute_options(parser)


def resolve(given, defaults, saved=None):
    """Every setting of ``defaults``: ``given[key]`` unless None (or ``{}``), else ``saved[key]``, else the default.

    Parameters
    ----------
    given : dict, the command line's values (None: not given).
    defaults : dict, the command's defaults.
    saved : dict, optional, the settings of a resumed run.

    A ``threads`` setting still None becomes all the threads Numba started with.
    """
    saved = saved or {}
    settings = {key: given[key] if given.get(key) not in (None, {}) else saved.get(key, default)
                for key, default in defaults.items()}
    if "threads" in settings:
        settings["threads"] = settings["threads"] or numba.get_num_threads()
    return settings


def resolve_args(args, defaults):
    """``args`` with every setting of ``defaults`` resolved; the run's sizes checked (``args.parser.error``)."""
    vars(args).update(resolve(vars(args), defaults))
    if getattr(args, "iter_epochs", None):
        args.iters = args.iter_epochs * max(1, (args.train_size or NUM_SAMPLES["train"]) // args.batch_size)
    try:
        if "batch_size" in defaults:
            check_run_size(args.train_size, args.batch_size, args.threads, NUM_SAMPLES["train"])
        if "dtype" in defaults:
            check_scalars_fit(args, args.dtype)
    except ValueError as exc:
        args.parser.error(str(exc))
    return args


def check_scalars_fit(settings, dtype):
    """ValueError naming the option when --lr or --weight-decay is beyond ``dtype``'s range.

    ``settings`` : a dict or argparse namespace; options it lacks or leaves None are skipped.
    Checked here, a float32 ``--lr 1e200`` stops the command before any data is read, instead of
    an update refusing it (or NumPy's "overflow encountered in cast") mid-run.
    """
    get = settings.get if isinstance(settings, dict) else lambda key: getattr(settings, key, None)
    for key in ("lr", "weight_decay"):
        if get(key) is not None:
            check_fits_dtype("--" + key.replace("_", "-"), get(key), dtype)

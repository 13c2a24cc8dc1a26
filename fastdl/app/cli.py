"""The ``fastdl`` command (also ``python -m fastdl``): train, evaluate, compare.

Every argument is checked before any data is loaded; a bad one ends the
command with exit status 2 and a message naming it.
"""
import argparse
import sys

import numba

from . import experiments, regularization, train, trajectories
from .checkpoint import CheckpointError
from .datasets import NUM_SAMPLES, TITLES, DatasetError
from .loop import check_run_size
from .optimizers import OPTIMIZERS
from .train import TRAIN_DEFAULTS

INIT_NAMES = ("relu", "he", "sigmoid", "xavier")
EXACT_LOSS_HELP = ("exact log-sum-exp cross-entropy instead of the book's -log(y + 1e-7), which caps a sample's "
                   "loss at 16.1 and misstates the gradient of confidently wrong samples")


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def dropout_ratio(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def weight_init(text):
    """'relu'/'he', 'sigmoid'/'xavier' or a positive standard deviation."""
    if text.lower() in INIT_NAMES:
        return text.lower()
    try:
        return positive_float(text)
    except ValueError:
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


def add_train_parser(commands):
    d = TRAIN_DEFAULTS
    p = commands.add_parser("train", help="train a MultiLayerNet on MNIST",
                            description="Train a MultiLayerNet on MNIST, evaluating after every epoch; writes "
                                        "metrics.csv, training.png and model.npz into --out.")
    net = p.add_argument_group("network")
    net.add_argument("--hidden", type=positive_int, nargs="+", metavar="N",
                     help=f"hidden layer sizes (default: {' '.join(map(str, d['hidden']))})")
    net.add_argument("--activation", choices=("relu", "sigmoid"), help=f"default: {d['activation']}")
    net.add_argument("--init", type=weight_init, metavar="STD",
                     help="weight_init_std: relu/he, sigmoid/xavier or a number (default: relu)")
    net.add_argument("--weight-decay", type=non_negative_float, metavar="LAMBDA",
                     help="L2 weight decay lambda of the loss (default: 0)")
    net.add_argument("--batchnorm", action="store_true", default=None,
                     help="batch normalisation after every hidden Affine (MultiLayerNetExtend)")
    net.add_argument("--dropout", type=dropout_ratio, metavar="RATIO",
                     help="dropout after every hidden activation with this ratio (MultiLayerNetExtend)")
    net.add_argument("--exact-loss", action="store_true", default=None, help=EXACT_LOSS_HELP)
    opt = p.add_argument_group("optimizer")
    opt.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"default: {d['optimizer']}")
    opt.add_argument("--lr", type=positive_float,
                     help=f"learning rate (default: {d['lr']} for {d['optimizer']}, else the optimizer's default)")
    opt.add_argument("--opt-param", type=optimizer_param, action="append", metavar="NAME=VALUE",
                     help="another optimizer argument, e.g. momentum=0.95 or beta2=0.99 (repeatable)")
    opt.add_argument("--lr-schedule", choices=("cosine", "constant"),
                     help="cosine: lr follows a half cosine to ~0 over the epochs; constant: the book's "
                          f"(default: {d['lr_schedule']})")
    run = p.add_argument_group("run")
    run.add_argument("--epochs", type=positive_int, help=f"default: {d['epochs']}")
    run.add_argument("--batch-size", type=positive_int, help=f"default: {d['batch_size']}")
    run.add_argument("--sampling", choices=("shuffle", "replace"),
                     help="shuffle: a new permutation every epoch (default); replace: the book's "
                          "np.random.choice per batch")
    run.add_argument("--seed", type=int, help=f"NumPy seed for weights and batches (default: {d['seed']})")
    run.add_argument("--train-size", type=positive_int, metavar="N",
                     help="train on the first N training samples only (default: all 60,000)")
    run.add_argument("--out", metavar="DIR", help="output directory (default: runs/train-<date>-<time>, "
                                                  "or the --resume directory)")
    run.add_argument("--resume", metavar="DIR",
                     help="continue the run saved in DIR where it stopped (network, optimizer state, RNG, batch "
                          "order): bit for bit as if never stopped; without --epochs it finishes the saved run")
    add_compute_options(p)
    p.set_defaults(command=run_train, parser=p)


def run_train(args, parser):
    options = {key: getattr(args, key, None) for key in TRAIN_DEFAULTS}
    options["opt_params"] = dict(args.opt_param or ())
    try:
        training = train.Training(options)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    return training.run()


def add_evaluate_parser(commands):
    p = commands.add_parser("evaluate", help="reload a saved run and measure its accuracy again",
                            description="Rebuild the network saved by `fastdl train` and evaluate it.")
    p.add_argument("path", metavar="DIR", help="a `fastdl train --out` directory, or its model.npz")
    p.add_argument("--train", action="store_true", help="also evaluate on the training samples")
    p.add_argument("--data-dir", metavar="DIR", help="directory with the IDX .gz files (default: $FASTDL_DATA)")
    p.set_defaults(command=run_evaluate, parser=p)


def run_evaluate(args, parser):
    try:
        return train.evaluate_saved(args.path, args.data_dir, args.train)
    except CheckpointError as exc:
        parser.error(str(exc))


def optimizer_names(parser, default):
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS), metavar="NAME", default=default,
                        help=f"which optimizers, from: {', '.join(OPTIMIZERS)} "
                             f"(default: {' '.join(default) if default else 'all'})")


def add_network_options(parser, batchnorm=True):
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="LAMBDA",
                        help="L2 weight decay lambda of every network (default: 0)")
    if batchnorm:
        parser.add_argument("--batchnorm", action="store_true", help="batch normalisation in every network")
    parser.add_argument("--dropout", type=dropout_ratio, default=0.0, metavar="RATIO",
                        help="dropout with this ratio in every network (default: none)")
    parser.add_argument("--exact-loss", action="store_true", help=EXACT_LOSS_HELP)


def add_run_options(parser, iters=None, epochs=None, batch_size=100, lr=None, seed=0, train_size=None):
    if iters:
        parser.add_argument("--iters", type=positive_int, default=iters, help=f"iterations (default: {iters})")
    if epochs:
        parser.add_argument("--epochs", type=positive_int, default=epochs,
                            help=f"evaluations, one per epoch (default: {epochs})")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size, help=f"default: {batch_size}")
    if lr:
        parser.add_argument("--lr", type=positive_float, default=lr, help=f"default: {lr}")
    parser.add_argument("--seed", type=int, default=seed, help=f"default: {seed}")
    parser.add_argument("--train-size", type=positive_int, default=train_size, metavar="N",
                        help=f"use the first N training samples (default: {train_size or 'all'})")
    add_compute_options(parser)


def add_compare_parser(commands):
    p = commands.add_parser("compare", help="the book's and the articles' experiments, each writing its figure",
                            description="Run one experiment; it writes its figure and numbers into --out.")
    experiments_ = p.add_subparsers(title="experiments", required=True, metavar="EXPERIMENT")

    def experiment(name, command, help_text):
        e = experiments_.add_parser(name, help=help_text, description=help_text)
        e.add_argument("--out", metavar="DIR", help=f"output directory (default: runs/compare-{name})")
        e.set_defaults(command=command, out_name=name, parser=e, compare=True)
        return e

    e = experiment("optimizers", experiments.compare_optimizers,
                   "every optimizer on MNIST, same weights and batches (the book's optimizer_compare_mnist)")
    add_run_options(e, iters=2000, batch_size=128)
    optimizer_names(e, None)
    add_network_options(e)
    e = experiment("paths", trajectories.compare_paths,
                   "each optimizer's path on x**2/20 + y**2 from (-7, 2) (the book's optimizer_compare_naive)")
    e.add_argument("--steps", type=positive_int, default=30, help="default: 30")
    optimizer_names(e, None)
    e = experiment("lr", experiments.compare_lr,
                   "SGD vs AdaGrad at lr=0.1 on the AdaGrad article's 784-200-200-10 network")
    add_run_options(e, iters=1000, lr=0.1, seed=8)
    optimizer_names(e, ["sgd", "adagrad"])
    add_network_options(e)
    e = experiment("init", experiments.compare_init,
                   "weight init std 0.01 vs Xavier vs He, SGD (the book's weight_init_compare)")
    add_run_options(e, iters=2000, batch_size=128, lr=0.01)
    e.add_argument("--activation", choices=("relu", "sigmoid"), default="relu", help="default: relu")
    add_network_options(e)
    e = experiment("batchnorm", regularization.compare_batchnorm,
                   "training with and without batch norm across weight scales (the book's batch_norm_test)")
    add_run_options(e, epochs=20, lr=0.01, train_size=1000)
    e.add_argument("--scales", type=positive_int, default=16, help="weight scales in logspace(0, -4) (default: 16)")
    add_network_options(e, batchnorm=False)
    e = experiment("overfit", regularization.compare_overfit,
                   "overfitting 300 samples: plain, weight decay, dropout (the book's overfit_weight_decay "
                   "and overfit_dropout)")
    add_run_options(e, epochs=201, lr=0.01, train_size=300)
    e.add_argument("--weight-decay", type=positive_float, default=0.1, metavar="LAMBDA",
                   help="lambda of the weight-decay network (default: 0.1)")
    e.add_argument("--dropout", type=dropout_ratio, default=0.2, metavar="RATIO",
                   help="ratio of the dropout network (default: 0.2)")


def resolve_compare_args(args):
    """Fill the defaults that depend on the machine, and check what argparse cannot."""
    args.out = args.out or f"runs/compare-{args.out_name}"
    if hasattr(args, "dtype"):
        args.dtype = args.dtype or "float32"
        args.dataset = args.dataset or "mnist"
        args.blas_threads = args.blas_threads or 1
        args.threads = args.threads or numba.get_num_threads()
        try:
            check_run_size(args.train_size, args.batch_size, args.threads, NUM_SAMPLES["train"])
        except ValueError as exc:
            args.parser.error(str(exc))


def build_parser():
    parser = argparse.ArgumentParser(prog="fastdl", description="Deep Learning from Scratch, fast.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    add_train_parser(commands)
    add_evaluate_parser(commands)
    add_compare_parser(commands)
    return parser


def main(argv=None):
    """Run the command in ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "compare", False):
            resolve_compare_args(args)
            return args.command(args)
        return args.command(args, args.parser)
    except (DatasetError, OSError) as exc:
        print(f"fastdl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``fastdl compare batchnorm``: the book's ``ch06/batch_norm_test.py``.

Training accuracy with and without batch normalisation for 16 initial weight
scales. As the book's loop: batches drawn with replacement, an evaluation after
the update of every ``iter_per_epoch``-th iteration, stop after ``--epochs`` of them.
"""
import math
import time

import numpy as np

from ...optimizers import SGD
from ..loop import compute_threads
from ..report import finish, new_figure, prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, add_network_options, add_run_options, positive_int
from .common import iterations_for, load_training_data, new_network, race

HELP = "training with and without batch norm across weight scales (the book's batch_norm_test)"
DEFAULTS = {"epochs": 20, "batch_size": 100, "lr": 0.01, "seed": 0, "train_size": 1000, "scales": 16,
            "weight_decay": 0.0, "dropout": 0.0, "exact_loss": False, **COMPUTE_DEFAULTS}


def add_arguments(parser):
    add_run_options(parser, DEFAULTS)
    parser.add_argument("--scales", type=positive_int,
                        help=f"weight scales in logspace(0, -4) (default: {DEFAULTS['scales']})")
    add_network_options(parser, batchnorm=False)


def run(args):
    """For each weight scale, MultiLayerNetExtend(784, [100]*5, 10) with and without batch norm, one SGD."""
    out = prepare_out_dir(args.out)
    scales = np.logspace(0, -4, args.scales)
    (x, t), _ = load_training_data(args)
    iter_per_epoch, iters = iterations_for(x.shape[0], args.batch_size, args.epochs)
    print(f"compare batchnorm: 784-100-100-100-100-100-10 with and without batch norm, {len(scales)} weight "
          f"scales, SGD(lr={args.lr:g}), {x.shape[0]:,} samples, {args.epochs} epochs of {iter_per_epoch} "
          f"iterations (batch {args.batch_size}), {args.dtype}, seed {args.seed}")
    start = time.perf_counter()
    optimizer = SGD(lr=args.lr)
    np.random.seed(args.seed)  # one stream for all scales, as the book's script (unseeded there)
    rows, curves = [], {}
    with compute_threads(args.threads, args.blas_threads):
        for k, scale in enumerate(scales):
            state = np.random.get_state()
            nets = {}
            for name, batchnorm in (("batchnorm", True), ("plain", False)):
                np.random.set_state(state)  # both networks start from the same weights
                nets[name] = new_network(args, [100] * 5, None, init=float(scale), batchnorm=batchnorm)
            _, _, accuracies = race(nets, dict.fromkeys(nets, optimizer), x, t, iters, args.batch_size,
                                    eval_every=iter_per_epoch, eval_sets={"train": (x, t)})
            curves[float(scale)] = {name: acc["train"] for name, acc in accuracies.items()}
            final = {name: acc[-1] for name, acc in curves[float(scale)].items()}
            print(f"{k + 1:2d}/{len(scales)} W std {scale:.3g}: train acc with batch norm "
                  f"{final['batchnorm']:.3f}, without {final['plain']:.3f}", flush=True)
            rows += [{"weight_init_std": scale, "network": name, "epoch": epoch, "train_acc": acc}
                     for name, accs in curves[float(scale)].items() for epoch, acc in enumerate(accs)]
    ncols = math.ceil(math.sqrt(len(scales)))
    nrows = math.ceil(len(scales) / ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(3 * ncols, 2.6 * nrows))
    for ax, (scale, accs) in zip(axes.flat, curves.items()):
        ax.plot(accs["batchnorm"], label="Batch Normalization", markevery=2)
        ax.plot(accs["plain"], linestyle="--", label="Normal (without BatchNorm)", markevery=2)
        ax.set(ylim=(0, 1), title=f"W: {scale:.3g}")
    for ax in axes.flat[len(scales):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("epochs")
    fig.supylabel("training accuracy")
    finish(out, "batchnorm", fig, {"": (rows, ["weight_init_std", "network", "epoch", "train_acc"])}, start)
    return 0

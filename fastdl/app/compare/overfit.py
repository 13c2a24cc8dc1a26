"""``fastdl compare overfit``: the book's ``ch06/overfit_weight_decay.py`` and ``ch06/overfit_dropout.py`` side by side.

A 7-layer net on 300 samples, plain, with weight decay and with dropout. As the
book's loop: batches drawn with replacement, an evaluation after the update of
every ``iter_per_epoch``-th iteration, stop after ``--epochs`` of them.
"""
import time

from ...optimizers import SGD
from ..loop import compute_threads
from ..report import finish, new_figure, prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, add_run_options, dropout_ratio, positive_float
from .common import iterations_for, load_training_data, new_network, race

HELP = ("overfitting 300 samples: plain, weight decay, dropout (the book's overfit_weight_decay "
        "and overfit_dropout)")
DEFAULTS = {"epochs": 201, "batch_size": 100, "lr": 0.01, "seed": 0, "train_size": 300, "weight_decay": 0.1,
            "dropout": 0.2, **COMPUTE_DEFAULTS}


def add_arguments(parser):
    add_run_options(parser, DEFAULTS)
    parser.add_argument("--weight-decay", type=positive_float, metavar="LAMBDA",
                        help=f"lambda of the weight-decay network (default: {DEFAULTS['weight_decay']})")
    parser.add_argument("--dropout", type=dropout_ratio, metavar="RATIO",
                        help=f"ratio of the dropout network (default: {DEFAULTS['dropout']})")


def run(args):
    """MultiLayerNet(784, [100]*6, 10) on few samples: plain, with weight decay, with dropout."""
    out = prepare_out_dir(args.out)
    (x, t), (x_test, t_test) = load_training_data(args)
    iter_per_epoch, iters = iterations_for(x.shape[0], args.batch_size, args.epochs)
    variants = {"plain": {}, f"weight decay {args.weight_decay:g}": {"weight_decay": args.weight_decay},
                f"dropout {args.dropout:g}": {"dropout": args.dropout}}
    print(f"compare overfit: 784-[100]*6-10 (relu, He) {', '.join(variants)}; SGD(lr={args.lr:g}), "
          f"{x.shape[0]:,} samples, {args.epochs} epochs of {iter_per_epoch} iterations (batch {args.batch_size}), "
          f"{args.dtype}, seed {args.seed}")
    start = time.perf_counter()
    nets = {name: new_network(args, [100] * 6, args.seed, **{"weight_decay": 0.0, "dropout": 0.0, **options})
            for name, options in variants.items()}
    optimizer = SGD(lr=args.lr)
    with compute_threads(args.threads, args.blas_threads):
        _, _, accuracies = race(nets, dict.fromkeys(nets, optimizer), x, t, iters, args.batch_size,
                                eval_every=iter_per_epoch, eval_sets={"train": (x, t), "test": (x_test, t_test)})
    fig, axes = new_figure(1, len(nets), figsize=(4.5 * len(nets), 4))
    rows = []
    for ax, (name, acc) in zip(axes[0], accuracies.items()):
        ax.plot(acc["train"], marker="o", markevery=10, label="train")
        ax.plot(acc["test"], marker="s", markevery=10, label="test")
        ax.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1), title=name)
        ax.legend(loc="lower right")
        rows += [{"network": name, "epoch": epoch, "train_acc": a, "test_acc": b}
                 for epoch, (a, b) in enumerate(zip(acc["train"], acc["test"]))]
        print(f"{name}: final train acc {acc['train'][-1]:.4f}, test acc {acc['test'][-1]:.4f}, "
              f"gap {acc['train'][-1] - acc['test'][-1]:.4f}")
    finish(out, "overfit", fig, {"": (rows, ["network", "epoch", "train_acc", "test_acc"])}, start)
    return 0

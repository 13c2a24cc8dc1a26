"""``fastdl compare overfit``: the book's ``ch06/overfit_weight_decay.py`` and ``ch06/overfit_dropout.py`` side by side.

A 7-layer net on 300 samples, plain, with weight decay and with dropout. As the
book's loop: batches drawn with replacement, an evaluation after the update of
every ``iter_per_epoch``-th iteration, stop after ``--epochs`` of them (the dropout
network after ``--dropout-epochs``). As in the book, dropout trains longer (301
epochs against 201): it slows learning, and at 201 epochs it is still climbing,
which read as "dropout hurts" when all three stopped there.
"""
import time

from ...optimizers import SGD
from ..loop import compute_threads
from ..report import finish, new_figure, prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, add_run_options, dropout_ratio, positive_float, positive_int
from .common import iterations_for, load_training_data, new_network, race, warn_non_finite

HELP = ("overfitting 300 samples: plain, weight decay, dropout (the book's overfit_weight_decay "
        "and overfit_dropout)")
DEFAULTS = {"epochs": 201, "dropout_epochs": None, "batch_size": 100, "lr": 0.01, "seed": 0, "train_size": 300,
            "weight_decay": 0.1, "dropout": 0.2, **COMPUTE_DEFAULTS}
"""``dropout_epochs`` None: 1.5 times ``epochs``, rounded down (the book's 301 for 201)."""


def add_arguments(parser):
    add_run_options(parser, DEFAULTS)
    parser.add_argument("--weight-decay", type=positive_float, metavar="LAMBDA",
                        help=f"lambda of the weight-decay network (default: {DEFAULTS['weight_decay']})")
    parser.add_argument("--dropout", type=dropout_ratio, metavar="RATIO",
                        help=f"ratio of the dropout network (default: {DEFAULTS['dropout']})")
    parser.add_argument("--dropout-epochs", type=positive_int, metavar="EPOCHS",
                        help="epochs of the dropout network (default: 1.5 x --epochs, the book's 301 for 201)")


def run(args):
    """MultiLayerNet(784, [100]*6, 10) on few samples: plain, with weight decay, with dropout."""
    out = prepare_out_dir(args.out)
    (x, t), (x_test, t_test) = load_training_data(args)
    dropout_name = f"dropout {args.dropout:g}"
    variants = {"plain": {}, f"weight decay {args.weight_decay:g}": {"weight_decay": args.weight_decay},
                dropout_name: {"dropout": args.dropout}}
    epochs = dict.fromkeys(variants, args.epochs)
    epochs[dropout_name] = args.dropout_epochs or args.epochs * 3 // 2
    iter_per_epoch, _ = iterations_for(x.shape[0], args.batch_size, args.epochs)
    iters = {name: iterations_for(x.shape[0], args.batch_size, count)[1] for name, count in epochs.items()}
    print(f"compare overfit: 784-[100]*6-10 (relu, He) {', '.join(variants)}; SGD(lr={args.lr:g}), "
          f"{x.shape[0]:,} samples, {args.epochs} epochs ({epochs[dropout_name]} with dropout) of {iter_per_epoch} "
          f"iterations (batch {args.batch_size}), {args.dtype}, seed {args.seed}")
    start = time.perf_counter()
    nets = {name: new_network(args, [100] * 6, args.seed, **{"weight_decay": 0.0, "dropout": 0.0, **options})
            for name, options in variants.items()}
    optimizer = SGD(lr=args.lr)
    with compute_threads(args.threads, args.blas_threads):
        losses, _, accuracies = race(nets, dict.fromkeys(nets, optimizer), x, t, iters, args.batch_size,
                                eval_every=iter_per_epoch, eval_sets={"train": (x, t), "test": (x_test, t_test)})
    warn_non_finite(losses, dict.fromkeys(nets, optimizer))
    fig, axes = new_figure(1, len(nets), figsize=(4.5 * len(nets), 4))
    rows = []
    longest = max(epochs.values())
    for ax, (name, acc) in zip(axes[0], accuracies.items()):
        ax.plot(acc["train"], marker="o", markevery=10, label="train")
        ax.plot(acc["test"], marker="s", markevery=10, label="test")
        if epochs[name] != args.epochs:
            ax.axvline(args.epochs - 1, color="tab:gray", linestyle=":",
                       label=f"epoch {args.epochs - 1}: the others stop")
        # one epoch range for all panels, so a longer run shows as longer
        gap = acc["train"][-1] - acc["test"][-1]
        ax.set(xlabel="epochs", ylabel="accuracy", xlim=(-0.02 * longest, 1.02 * (longest - 1)), ylim=(0, 1),
               title=f"{name} ({epochs[name]} epochs)\nfinal train - test gap {gap:.2f}")
        ax.legend(loc="best")
        rows += [{"network": name, "epoch": epoch, "train_acc": a, "test_acc": b}
                 for epoch, (a, b) in enumerate(zip(acc["train"], acc["test"]))]
        at_others = (f"; at epoch {args.epochs - 1}: train acc {acc['train'][args.epochs - 1]:.4f}, test acc "
                     f"{acc['test'][args.epochs - 1]:.4f}" if epochs[name] > args.epochs else "")
        print(f"{name}: final (epoch {epochs[name] - 1}) train acc {acc['train'][-1]:.4f}, test acc "
              f"{acc['test'][-1]:.4f}, gap {acc['train'][-1] - acc['test'][-1]:.4f}{at_others}")
    finish(out, "overfit", fig, {"": (rows, ["network", "epoch", "train_acc", "test_acc"])}, start)
    return 0

"""``fastdl compare lr``: the AdaGrad article's SGD vs AdaGrad at lr=0.1, with its gradients and the book's."""
import time

from ...optimizers import OPTIMIZERS
from ..loop import compute_threads
from ..plots import plot_losses
from ..report import new_figure, prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, NETWORK_DEFAULTS, add_network_options, add_optimizer_names, add_run_options
from .common import finish_race, load_training_data, network_note, new_network, race, summary_rows, warn_non_finite

HELP = "SGD vs AdaGrad at lr=0.1 on the AdaGrad article's 784-200-200-10 network"
DEFAULTS = {"iters": 1000, "batch_size": 100, "lr": 0.1, "seed": 8, "train_size": None,
            "optimizers": ["sgd", "adagrad"], **NETWORK_DEFAULTS, **COMPUTE_DEFAULTS}


def add_arguments(parser):
    add_run_options(parser, DEFAULTS)
    add_optimizer_names(parser, DEFAULTS["optimizers"])
    add_network_options(parser)


def run(args):
    """The AdaGrad article's SGD vs AdaGrad at lr=0.1 on its 784-200-200-10 ReLU net (init std 0.01).

    The article's softmax backward returns ``y - t`` without the book's division
    by the batch size, so its gradients are ``batch_size`` times the book's.
    Both are run: SGD breaks down with the article's gradients and learns
    with the book's, while AdaGrad, which divides by the gradients' own scale,
    converges with either.
    """
    out = prepare_out_dir(args.out)
    print(f"compare lr: {', '.join(args.optimizers)} at lr={args.lr:g} on 784-200-200-10 (relu, init std 0.01"
          f"{network_note(args)}), {args.dtype}, {args.iters} iterations of batch {args.batch_size}, seed {args.seed}")
    (x, t), test = load_training_data(args)
    conventions = {"article": ("gradient summed over the batch (the article)", float(args.batch_size)),
                   "book": ("gradient averaged over the batch (the book)", 1.0)}
    start = time.perf_counter()
    rows, curves = [], {}
    fig, axes = new_figure(1, 2, figsize=(12, 4.8))
    with compute_threads(args.threads, args.blas_threads):
        for ax, (convention, (title, scale)) in zip(axes[0], conventions.items()):
            print(title)
            # Seeding before each network leaves the RNG where the article's script has it: batches match too.
            nets = {name: new_network(args, [200, 200], args.seed, init=0.01) for name in args.optimizers}
            optimizers = {name: OPTIMIZERS[name](lr=args.lr) for name in args.optimizers}
            losses, seconds, _ = race(nets, optimizers, x, t, args.iters, args.batch_size, scale,
                                      report_every=max(1, args.iters // 5))
            warn_non_finite(losses, optimizers, f" ({convention})")
            for row in summary_rows(nets, optimizers, losses, seconds, test):
                rows.append({**row, "network": f"{row['network']} ({convention})"})
            curves.update({f"{name}_{convention}": loss for name, loss in losses.items()})
            plot_losses(ax, losses, f"lr={args.lr:g}: {title}", ylim=(0, 3))
    finish_race(out, "lr", fig, rows, curves, start, args.iters)
    return 0

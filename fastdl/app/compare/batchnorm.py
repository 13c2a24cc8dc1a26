"""``fastdl compare batchnorm`` and ``fastdl compare overfit``: the book's §6.3-6.4 accuracy experiments.

* ``batchnorm``: ``ch06/batch_norm_test.py``, training accuracy with and without batch
  normalisation for 16 initial weight scales;
* ``overfit``: ``ch06/overfit_weight_decay.py`` and ``ch06/overfit_dropout.py`` side by side:
  a 7-layer net on 300 samples, plain, with weight decay and with dropout.

Both follow the book's loop: batches drawn with replacement, an evaluation after
the update of every ``iter_per_epoch``-th iteration, stop after ``--epochs`` of them.
"""
import math
import time

import numpy as np

from .experiments import load_training_data, new_network, race
from .loop import compute_threads
from .optimizers import SGD
from .outputs import new_figure, prepare_out_dir, save_figure, write_csv


def iterations_for(n, batch_size, epochs):
    """``(iter_per_epoch, iterations)`` so that the last iteration makes the ``epochs``-th evaluation.

    The book's ``iter_per_epoch = max(n / batch_size, 1)`` is a float; it is an
    integer here (``n // batch_size``), the same whenever batch_size divides n.
    """
    iter_per_epoch = max(n // batch_size, 1)
    return iter_per_epoch, (epochs - 1) * iter_per_epoch + 1


def compare_batchnorm(args):
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
    finish(out, "batchnorm", fig, rows, ["weight_init_std", "network", "epoch", "train_acc"], start)
    return 0


def compare_overfit(args):
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
    finish(out, "overfit", fig, rows, ["network", "epoch", "train_acc", "test_acc"], start)
    return 0


def finish(out, stem, fig, rows, fields, start):
    save_figure(fig, out / f"{stem}.png")
    write_csv(out / f"{stem}.csv", rows, fields)
    print(f"saved: {out / f'{stem}.png'}, {out / f'{stem}.csv'}")
    print(f"took {time.perf_counter() - start:.1f} s")

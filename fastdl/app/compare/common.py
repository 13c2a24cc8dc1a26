"""``fastdl compare``: the book's and the articles' MNIST loss-curve experiments, one command each.

* ``optimizers``: the book's ``ch06/optimizer_compare_mnist.py`` with every registered optimizer;
* ``lr``: the AdaGrad article's SGD vs AdaGrad at lr=0.1;
* ``init``: the book's ``ch06/weight_init_compare.py`` (std 0.01, Xavier, He).

Every network of an experiment starts from the same seed and trains on the same
batches. Each command writes its figure and its numbers into ``--out`` and says
how long it took. ``compare paths`` lives in :mod:`fastdl.trajectories`,
``compare batchnorm`` and ``compare overfit`` in :mod:`fastdl.regularization`.
"""
import time

import numpy as np

from .checkpoint import build_network, network_spec
from .datasets import load_mnist
from .loop import BatchFeeder, compute_threads, evaluate
from .optimizers import OPTIMIZERS, SGD
from .outputs import new_figure, prepare_out_dir, save_figure, write_csv
from .train import describe_optimizer
from .util import SMOOTH_WINDOW, smooth_curve

FINAL_LOSS_WINDOW = 100
INIT_STDS = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}


def load_training_data(args):
    (x, t), test = load_mnist(data_dir=args.data_dir, dataset=args.dataset)
    if args.train_size:
        x, t = x[:args.train_size], t[:args.train_size]
    return (x, t), test


def new_network(args, hidden, seed, **overrides):
    """A network with the command's --weight-decay/--batchnorm/--dropout unless overridden.

    ``seed`` seeds NumPy's global RNG first; None draws from where the RNG is.
    """
    options = {"weight_decay": getattr(args, "weight_decay", 0.0), "batchnorm": getattr(args, "batchnorm", False),
               "dropout": getattr(args, "dropout", 0.0), "exact_loss": getattr(args, "exact_loss", False),
               "dtype": args.dtype, **overrides}
    if seed is not None:
        np.random.seed(seed)
    return build_network(network_spec(hidden, **options))


def race(nets, optimizers, x, t, iters, batch_size, scale=1.0, report_every=None, eval_every=None, eval_sets=None):
    """Train every network on the same batches, drawn as the book does (``np.random.choice``).

    Parameters
    ----------
    nets, optimizers : dicts with the same keys (an optimizer may serve several networks if stateless).
    scale : float
        Gradients are multiplied by this before the update (1: the book's mean over the batch).
    eval_every : int, optional
        After the update of iterations 0, eval_every, 2*eval_every, ... (the book's epoch
        test ``i % iter_per_epoch == 0``), each network's accuracy on each of ``eval_sets``
        (``{label: (x, t)}``) is recorded.

    Returns
    -------
    losses : {name: (iters,) float64}, the loss of each step's gradient pass.
    seconds : {name: float}, time spent in gradient + update.
    accuracies : {name: {label: [float, ...]}}
    """
    dtype = next(iter(nets.values())).params.flat.dtype
    feeder = BatchFeeder(x, t, batch_size, dtype, "replace")
    # Drawn up front, so dropout masks (drawn while training) leave the batches alike for every network.
    order = np.random.choice(x.shape[0], iters * batch_size)
    losses = {name: np.empty(iters) for name in nets}
    seconds = dict.fromkeys(nets, 0.0)
    accuracies = {name: {label: [] for label in eval_sets or {}} for name in nets}
    for i in range(iters):
        xb, tb = feeder.gather(order, i)
        for name, net in nets.items():
            start = time.perf_counter()
            grads = net.gradient(xb, tb)
            if scale != 1.0:
                grads.flat *= scale
            optimizers[name].update(net.params, grads)
            seconds[name] += time.perf_counter() - start
            losses[name][i] = net.last_layer.loss
        if eval_every and i % eval_every == 0:
            for name, net in nets.items():
                for label, (xe, te) in eval_sets.items():
                    accuracies[name][label].append(float(net.accuracy(xe, te)))
        if report_every and (i + 1) % report_every == 0:
            recent = "  ".join(f"{name} {loss[i + 1 - report_every:i + 1].mean():.4f}" for name, loss in losses.items())
            print(f"iteration {i + 1}/{iters}: mean loss  {recent}", flush=True)
    return losses, seconds, accuracies


def summary_rows(nets, optimizers, losses, seconds, test):
    rows = []
    for name, net in nets.items():
        test_loss, test_acc = evaluate(net, *test)
        rows.append({"network": name, "optimizer": describe_optimizer(optimizers[name]),
                     "final_loss": losses[name][-FINAL_LOSS_WINDOW:].mean(), "test_loss": test_loss,
                     "test_acc": test_acc, "seconds": seconds[name]})
    return rows


def plot_losses(ax, losses, title, ylim=(0, 1)):
    """The book's figure: each smoothed loss curve with markers along it."""
    markers = "osD^v<>px*h"
    for k, (name, loss) in enumerate(losses.items()):
        curve = smooth_curve(loss) if loss.size >= SMOOTH_WINDOW else loss
        ax.plot(np.arange(loss.size), curve, marker=markers[k % len(markers)],
                markevery=max(1, loss.size // 20), label=name)
    ax.set(xlabel="iterations", ylabel="loss", title=title, ylim=ylim)
    ax.legend()


def network_note(args):
    extras = [f"weight decay {args.weight_decay:g}" if args.weight_decay else "",
              "batch norm" if args.batchnorm else "", f"dropout {args.dropout:g}" if args.dropout else "",
              "exact loss" if args.exact_loss else ""]
    return ", ".join(["", *filter(None, extras)])


def compare_optimizers(args):
    """Each optimizer trains its own MultiLayerNet(784, [100]*4, 10) from the same weights on the same batches."""
    out = prepare_out_dir(args.out)
    names = args.optimizers or list(OPTIMIZERS)
    print(f"compare optimizers: {len(names)} x 784-100-100-100-100-10 (relu, He{network_note(args)}), "
          f"{args.dtype}, {args.iters} iterations of batch {args.batch_size}, seed {args.seed}")
    (x, t), test = load_training_data(args)
    nets = {name: new_network(args, [100] * 4, args.seed) for name in names}
    optimizers = {name: OPTIMIZERS[name]() for name in names}
    race_and_report(args, out, "optimizers", nets, optimizers, (x, t), test,
                    f"MNIST, {args.iters} iterations, batch {args.batch_size} (smoothed)")
    return 0


def compare_init(args):
    """The book's weight-initialisation comparison: std 0.01, Xavier and He on 784-[100]*4-10, one SGD(lr=0.01)."""
    out = prepare_out_dir(args.out)
    print(f"compare init: std 0.01 / Xavier / He on 784-100-100-100-100-10 ({args.activation}{network_note(args)}), "
          f"SGD(lr={args.lr:g}), {args.dtype}, {args.iters} iterations of batch {args.batch_size}, seed {args.seed}")
    (x, t), test = load_training_data(args)
    nets = {name: new_network(args, [100] * 4, args.seed, init=std, activation=args.activation)
            for name, std in INIT_STDS.items()}
    optimizer = SGD(lr=args.lr)  # stateless: the book shares one among the networks
    optimizers = dict.fromkeys(nets, optimizer)
    race_and_report(args, out, "init", nets, optimizers, (x, t), test,
                    f"weight init, {args.activation}, {args.iters} iterations (smoothed)", ylim=(0, 2.5))
    return 0


def race_and_report(args, out, stem, nets, optimizers, train, test, title, ylim=(0, 1)):
    """Train ``nets`` side by side on the same batches, then write the smoothed loss plot and the table."""
    start = time.perf_counter()
    with compute_threads(args.threads, args.blas_threads):
        losses, seconds, _ = race(nets, optimizers, *train, args.iters, args.batch_size,
                                  report_every=max(1, args.iters // 10))
        rows = summary_rows(nets, optimizers, losses, seconds, test)
    fig, axes = new_figure(figsize=(8, 6))
    plot_losses(axes[0][0], losses, title, ylim)
    finish(out, stem, fig, rows, losses, start, args.iters)


def compare_lr(args):
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
            for row in summary_rows(nets, optimizers, losses, seconds, test):
                rows.append({**row, "network": f"{row['network']} ({convention})"})
            curves.update({f"{name}_{convention}": loss for name, loss in losses.items()})
            plot_losses(ax, losses, f"lr={args.lr:g}: {title}", ylim=(0, 3))
    finish(out, "lr", fig, rows, curves, start, args.iters)
    return 0


def finish(out, stem, fig, rows, losses, start, iters):
    """Print the table; write ``<stem>.png``, the summary ``<stem>.csv`` and the per-iteration ``<stem>_loss.csv``."""
    width = max(len(row["network"]) for row in rows)
    print(f"{'network':<{width}}  final_loss  test_loss  test_acc  seconds   "
          f"(final_loss: mean of the last {min(FINAL_LOSS_WINDOW, iters)} iterations)")
    for row in rows:
        print(f"{row['network']:<{width}}  {row['final_loss']:10.4f}  {row['test_loss']:9.4f}  "
              f"{row['test_acc']:8.4f}  {row['seconds']:7.2f}")
    save_figure(fig, out / f"{stem}.png")
    write_csv(out / f"{stem}.csv", rows, list(rows[0]))
    per_step = [{"iteration": i + 1, **{name: loss[i] for name, loss in losses.items()}} for i in range(iters)]
    write_csv(out / f"{stem}_loss.csv", per_step, ["iteration", *losses])
    print(f"saved: {', '.join(str(out / name) for name in (f'{stem}.png', f'{stem}.csv', f'{stem}_loss.csv'))}")
    print(f"took {time.perf_counter() - start:.1f} s")

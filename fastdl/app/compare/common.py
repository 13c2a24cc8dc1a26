"""What the MNIST experiments of ``fastdl compare`` share: data, networks, the race on the same batches, the report.

Every network of an experiment starts from the same seed and trains on the same
batches. Each experiment writes its figure and its numbers into ``--out`` and
says how long it took.
"""
import sys
import time

import numpy as np

from ...datasets import load_mnist
from ..loop import BatchFeeder, compute_threads, evaluate
from ..models import build_network, describe_optimizer, network_spec
from ..plots import plot_losses
from ..report import finish, new_figure

FINAL_LOSS_WINDOW = 100


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


def iterations_for(n, batch_size, epochs):
    """``(iter_per_epoch, iterations)`` so that the last iteration makes the ``epochs``-th evaluation.

    The book's ``iter_per_epoch = max(n / batch_size, 1)`` is a float; it is an
    integer here (``n // batch_size``), the same whenever batch_size divides n.
    """
    iter_per_epoch = max(n // batch_size, 1)
    return iter_per_epoch, (epochs - 1) * iter_per_epoch + 1


def race(nets, optimizers, x, t, iters, batch_size, scale=1.0, report_every=None, eval_every=None, eval_sets=None):
    """Train every network on the same batches, drawn as the book does (``np.random.choice``).

    Parameters
    ----------
    nets, optimizers : dicts with the same keys (an optimizer may serve several networks if stateless).
    iters : int, or ``{name: int}`` for networks trained for different lengths; all take the same
        batches while they train (the longest run's, drawn up front).
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
    stop = iters if isinstance(iters, dict) else dict.fromkeys(nets, iters)
    # Drawn up front, so dropout masks (drawn while training) leave the batches alike for every network.
    order = np.random.choice(x.shape[0], max(stop.values()) * batch_size)
    losses = {name: np.empty(stop[name]) for name in nets}
    seconds = dict.fromkeys(nets, 0.0)
    accuracies = {name: {label: [] for label in eval_sets or {}} for name in nets}
    for i in range(max(stop.values())):
        xb, tb = feeder.gather(order, i)
        training = {name: net for name, net in nets.items() if i < stop[name]}
        for name, net in training.items():
            start = time.perf_counter()
            grads = net.gradient(xb, tb)
            if scale != 1.0:
                grads.flat *= scale
            optimizers[name].update(net.params, grads)
            seconds[name] += time.perf_counter() - start
            losses[name][i] = net.last_layer.loss
        if eval_every and i % eval_every == 0:
            for name, net in training.items():
                for label, (xe, te) in eval_sets.items():
                    accuracies[name][label].append(float(net.accuracy(xe, te)))
        if report_every and (i + 1) % report_every == 0:
            recent = "  ".join(f"{name} {losses[name][i + 1 - report_every:i + 1].mean():.4f}" for name in training)
            print(f"iteration {i + 1}/{iters}: mean loss  {recent}", flush=True)
    return losses, seconds, accuracies


def warn_non_finite(losses, optimizers, note=""):
    """Tell on stderr of each network whose training loss became NaN or inf: the race trains it on (NaN
    travels as in the book's NumPy), but its curve ends there and its numbers are NaN."""
    for name, loss in losses.items():
        bad = np.flatnonzero(~np.isfinite(loss))
        if bad.size:
            print(f"fastdl: warning: {name}{note}: the training loss became {loss[bad[0]]} at iteration {bad[0] + 1} "
                  f"(lr={optimizers[name].lr:g}): the updates diverged; its curve ends there; try a smaller --lr",
                  file=sys.stderr)


def summary_rows(nets, optimizers, losses, seconds, test):
    rows = []
    for name, net in nets.items():
        test_loss, test_acc = evaluate(net, *test)
        rows.append({"network": name, "optimizer": describe_optimizer(optimizers[name]),
                     "final_loss": losses[name][-FINAL_LOSS_WINDOW:].mean(), "test_loss": test_loss,
                     "test_acc": test_acc, "seconds": seconds[name]})
    return rows


def network_note(args):
    extras = [f"weight decay {args.weight_decay:g}" if args.weight_decay else "",
              "batch norm" if args.batchnorm else "", f"dropout {args.dropout:g}" if args.dropout else "",
              "exact loss" if args.exact_loss else ""]
    return ", ".join(["", *filter(None, extras)])


def race_and_report(args, out, stem, nets, optimizers, train, test, title, ylim=(0, 1)):
    """Train ``nets`` side by side on the same batches, then write the smoothed loss plot and the table."""
    start = time.perf_counter()
    with compute_threads(args.threads, args.blas_threads):
        losses, seconds, _ = race(nets, optimizers, *train, args.iters, args.batch_size,
                                  report_every=max(1, args.iters // 10))
        rows = summary_rows(nets, optimizers, losses, seconds, test)
    warn_non_finite(losses, optimizers)
    fig, axes = new_figure(figsize=(8, 6))
    labels = {name: f"{name} (lr={optimizer.lr:g})" for name, optimizer in optimizers.items()}
    plot_losses(axes[0][0], losses, title, ylim, labels)
    finish_race(out, stem, fig, rows, losses, start, args.iters)


def finish_race(out, stem, fig, rows, losses, start, iters):
    """Print the table; write ``<stem>.png``, the summary ``<stem>.csv`` and the per-iteration ``<stem>_loss.csv``."""
    width = max(len(row["network"]) for row in rows)
    print(f"{'network':<{width}}  final_loss  test_loss  test_acc  seconds   "
          f"(final_loss: mean of the last {min(FINAL_LOSS_WINDOW, iters)} iterations)")
    for row in rows:
        print(f"{row['network']:<{width}}  {row['final_loss']:10.4f}  {row['test_loss']:9.4f}  "
              f"{row['test_acc']:8.4f}  {row['seconds']:7.2f}")
    per_step = [{"iteration": i + 1, **{name: loss[i] for name, loss in losses.items()}} for i in range(iters)]
    finish(out, stem, fig, {"": (rows, list(rows[0])), "_loss": (per_step, ["iteration", *losses])}, start)

"""``fastdl compare paths``: the book's ``ch06/optimizer_compare_naive.py`` for every optimizer.

Each optimizer minimises ``f(x, y) = x**2/20 + y**2`` from (-7, 2) through its
``update`` on a dict of Python floats, as in the book and the articles.
"""
import math
import time

import numpy as np

from ...optimizers import OPTIMIZERS
from ..models import describe_optimizer
from ..report import finish, new_figure, prepare_out_dir
from ..settings import add_optimizer_names, positive_int

HELP = "each optimizer's path on x**2/20 + y**2 from (-7, 2) (the book's optimizer_compare_naive)"
DEFAULTS = {"steps": 30, "optimizers": None}

START = (-7.0, 2.0)
PATH_SETTINGS = {
    "sgd": {"lr": 0.95},  # the book's four
    "momentum": {"lr": 0.1},
    "adagrad": {"lr": 1.5},
    "adam": {"lr": 0.3},
    "nesterov": {"lr": 0.1},  # Momentum's lr, to see what the look-ahead changes
    "rmsprop": {"lr": 0.15},  # AdaGrad's first step (~lr per axis) grows 10x: sqrt(1 - decay_rate) = 0.1
    "adamw": {"lr": 0.3},  # Adam's, with its default weight decay
    "adadelta": {"eps": 1e-2},  # eps sets its first steps (~sqrt(eps)/sqrt(1 - rho)): Zeiler's 1e-6 barely moves in 30
}
"""Constructor arguments per optimizer; any optimizer not listed runs with its defaults."""


def f(x, y):
    return x**2 / 20.0 + y**2


def df(x, y):
    return x / 10.0, 2.0 * y


def trajectory(optimizer, steps):
    """``(steps + 1, 2)`` array of the points visited from ``START``."""
    params = {"x": START[0], "y": START[1]}
    grads = {"x": 0.0, "y": 0.0}
    path = [START]
    for _ in range(steps):
        grads["x"], grads["y"] = df(params["x"], params["y"])
        optimizer.update(params, grads)
        path.append((params["x"], params["y"]))
    return np.array(path)


def add_arguments(parser):
    parser.add_argument("--steps", type=positive_int, help=f"default: {DEFAULTS['steps']}")
    add_optimizer_names(parser, DEFAULTS["optimizers"])


def run(args):
    out = prepare_out_dir(args.out)
    start = time.perf_counter()
    names = args.optimizers or list(OPTIMIZERS)
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(4 * ncols, 3.6 * nrows))
    x = np.arange(-10, 10, 0.01)
    y = np.arange(-5, 5, 0.01)
    X, Y = np.meshgrid(x, y)
    Z = f(X, Y)
    Z[Z > 7] = 0  # the book's mask: only the contours around the minimum
    rows = []
    print(f"compare paths: f(x, y) = x**2/20 + y**2 from {START}, {args.steps} steps")
    for ax, name in zip(axes.flat, names):
        optimizer = OPTIMIZERS[name](**PATH_SETTINGS.get(name, {}))
        path = trajectory(optimizer, args.steps)
        label = describe_optimizer(optimizer)
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3)
        ax.contour(X, Y, Z)
        ax.plot(0, 0, "+")
        ax.set(xlim=(-10, 10), ylim=(-10, 10), xlabel="x", ylabel="y")
        ax.set_title(label.replace("(", "\n(", 1), fontsize=9)
        final = path[-1]
        print(f"  {label:<55} ends at ({final[0]: .4f}, {final[1]: .4f}), f = {f(*final):.6f}")
        rows += [{"optimizer": name, "step": k, "x": px, "y": py, "f": f(px, py)} for k, (px, py) in enumerate(path)]
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    finish(out, "paths", fig, {"": (rows, ["optimizer", "step", "x", "y", "f"])}, start)
    return 0

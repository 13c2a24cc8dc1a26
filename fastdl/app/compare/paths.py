"""``fastdl compare paths``: the book's ``ch06/optimizer_compare_naive.py`` for every optimizer.

Each optimizer minimises ``f(x, y) = x**2/20 + y**2`` from (-7, 2) through its
``update`` on a dict of Python floats, as in the book and the articles.
"""
import math
import textwrap
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
CONTOUR_LEVELS = (0.1, 0.3, 0.7, 1.5, 3, 5, 7)
"""Levels of ``f`` drawn: closer near the minimum, where the paths end; the book's ``Z[Z > 7] = 0`` drew up to 7."""


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


TITLE_WIDTH = 34
"""Characters per title line: four panels a row at 4 inches each hold about this many at fontsize 9."""


def panel_title(label):
    """``Adam(lr=0.3, ...)`` as the name over its arguments, wrapped at commas to fit the panel."""
    name, _, args = label.partition("(")
    return "\n".join([name, *textwrap.wrap("(" + args, TITLE_WIDTH)])


def path_limits(paths, margin=0.08):
    """``(xlim, ylim)`` around every point of every path and the minimum (0, 0), ``margin`` of the span added.

    The book's fixed (-10, 10) square leaves the paths, which stay within |y| <= 2, a thin strip;
    one range for all panels keeps them comparable.
    """
    points = np.concatenate([*paths, [[0.0, 0.0]]])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * (high - low)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def plot_paths(paths):
    """Each path over the contours of ``f``, one panel per ``{label: (steps + 1, 2) path}``; returns the figure."""
    ncols = min(4, len(paths))
    nrows = math.ceil(len(paths) / ncols)
    fig, axes = new_figure(nrows, ncols, figsize=(4 * ncols, 3.6 * nrows))
    xlim, ylim = path_limits(list(paths.values()))
    X, Y = np.meshgrid(np.linspace(*xlim, 400), np.linspace(*ylim, 200))
    for ax, (label, path) in zip(axes.flat, paths.items()):
        ax.contour(X, Y, f(X, Y), levels=CONTOUR_LEVELS, linewidths=0.8)
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3)
        ax.plot(0, 0, "+", color="black", markersize=10)
        ax.set(xlim=xlim, ylim=ylim, xlabel="x", ylabel="y")
        ax.set_title(panel_title(label), fontsize=9)
    for ax in axes.flat[len(paths):]:
        ax.set_visible(False)
    return fig


def run(args):
    out = prepare_out_dir(args.out)
    start = time.perf_counter()
    names = args.optimizers or list(OPTIMIZERS)
    rows, paths = [], {}
    print(f"compare paths: f(x, y) = x**2/20 + y**2 from {START}, {args.steps} steps")
    for name in names:
        optimizer = OPTIMIZERS[name](**PATH_SETTINGS.get(name, {}))
        path = trajectory(optimizer, args.steps)
        label = describe_optimizer(optimizer)
        paths[label] = path
        final = path[-1]
        print(f"  {label:<55} ends at ({final[0]: .4f}, {final[1]: .4f}), f = {f(*final):.6f}")
        rows += [{"optimizer": name, "step": k, "x": px, "y": py, "f": f(px, py)} for k, (px, py) in enumerate(path)]
    finish(out, "paths", plot_paths(paths), {"": (rows, ["optimizer", "step", "x", "y", "f"])}, start)
    return 0

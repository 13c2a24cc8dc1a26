"""Figures a learner reads: training.png's axes, title and resume marks, smoothing that keeps the ends, the
compare figures' curves, titles and axis ranges.

The oracle is the figure's own artists (scale, tick values, title text, marked steps) and closed-form series.
"""
import contextlib
import csv
import io
import json

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from fastdl.app import plots
from fastdl.app.cli import main
from fastdl.app.compare import paths as paths_module
from fastdl.util import smooth_curve


def test_smoothing_keeps_a_falling_line_at_both_ends():
    line = np.linspace(3.0, 1.0, 50)
    np.testing.assert_allclose(plots.smooth_trend(line), line, rtol=1e-12)
    assert abs(smooth_curve(line)[0] - line[0]) > 0.05  # the book's even mirror dips at the start


def test_smoothing_averages_noise_as_the_book_does_inside():
    x = np.random.default_rng(0).random(100)
    np.testing.assert_allclose(plots.smooth_trend(x)[10:-10], smooth_curve(x)[10:-10], rtol=1e-12)


ROWS = [{"epoch": e, "steps": 30 * e, "train_loss": 1 / e, "test_loss": 1.1 / e, "train_acc": 0.9, "test_acc": 0.9}
        for e in (1, 2, 3)]


def test_training_figure_has_log_loss_integer_epochs_title_and_resume_marks(tmp_path):
    loss = np.geomspace(2.3, 0.01, 90)
    fig = plots.plot_training(tmp_path / "t.png", loss, ROWS, "MultiLayerNet 784-10; Adam(lr=0.002)", [30, 60])
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert all(float(tick).is_integer() for tick in acc_ax.get_xticks())
    assert fig.get_suptitle() == "MultiLayerNet 784-10; Adam(lr=0.002)"
    marks = [line for line in loss_ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in marks] == [30.5, 60.5]
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_training_figure_with_a_validation_split_draws_it_and_stars_the_best_epoch(tmp_path):
    rows = [{"epoch": e, "steps": 30 * e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 0.8, "val_acc": acc}
            for e, acc in ((1, 0.7), (2, 0.9), (3, 0.85))]
    fig = plots.plot_training(tmp_path / "t.png", np.geomspace(2.3, 0.1, 90), rows, "t", (),
                              {"epoch": 2, "val_acc": 0.9, "val_loss": 0.55})
    loss_ax, acc_ax = fig.axes
    assert [text.get_text() for text in acc_ax.get_legend().get_texts()] == [
        "train", "validation", "best (epoch 2, best.npz)"]
    star = [line for line in acc_ax.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [2] and list(star[0].get_ydata()) == [0.9]
    assert "validation (epoch end)" in [text.get_text() for text in loss_ax.get_legend().get_texts()]


def test_training_figure_names_the_training_subset_evaluated(tmp_path):
    fig = plots.plot_training(tmp_path / "t.png", np.geomspace(2.3, 0.1, 90), ROWS, train_eval=10000)
    loss_ax, acc_ax = fig.axes
    assert [text.get_text() for text in acc_ax.get_legend().get_texts()] == ["train (first 10,000)", "test"]
    assert "train (first 10,000, epoch end)" in [text.get_text() for text in loss_ax.get_legend().get_texts()]


def test_train_draws_settings_and_resume_points(mnist_dir, tmp_path, monkeypatch):
    drawn = []
    real = plots.plot_training
    monkeypatch.setattr("fastdl.app.train.plot_training", lambda *a: drawn.append(a) or real(*a))
    out = tmp_path / "run"
    common = ["--threads", "1", "--data-dir", str(mnist_dir)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--train-size", "500", "--batch-size", "100", "--hidden", "5", "--epochs", "1",
                     "--seed", "4", "--out", str(out), *common]) == 0
        assert main(["train", "--resume", str(out), "--epochs", "1", *common]) == 0
    _, step_loss, rows, title, resumed_at, best, train_eval = drawn[-1]
    assert best is None and train_eval is None  # no --val-split; an MLP evaluates all its training samples
    assert "MultiLayerNet 784-5-10" in title and "Adam(lr=0.002" in title and "batch 100, seed 4" in title
    assert resumed_at == [5] and step_loss.size == 10 and [row["epoch"] for row in rows] == [1, 2]
    with np.load(out / "model.npz") as saved:
        assert json.loads(str(saved["run"]))["resumed_at"] == [5]


def test_compare_optimizers_curves_differ_in_style_and_show_the_lr(mnist_dir, tmp_path, monkeypatch):
    drawn = []
    real = plots.plot_losses
    monkeypatch.setattr("fastdl.app.compare.common.plot_losses", lambda ax, *a: drawn.append(ax) or real(ax, *a))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["compare", "optimizers", "--optimizers", "sgd", "momentum", "adagrad", "adam", "--iters", "12",
                     "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path)]) == 0
    lines = drawn[0].get_lines()
    assert len({line.get_linestyle() for line in lines}) == 4
    assert [text.get_text() for text in drawn[0].get_legend().get_texts()] == [
        "sgd (lr=0.01)", "momentum (lr=0.01)", "adagrad (lr=0.01)", "adam (lr=0.001)"]


def drawn_paths_figure(monkeypatch, tmp_path, *extra):
    figures = []
    real = paths_module.finish
    monkeypatch.setattr(paths_module, "finish",
                        lambda out, stem, fig, *a: figures.append(fig) or real(out, stem, fig, *a))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["compare", "paths", "--out", str(tmp_path), *extra]) == 0
    return figures[0]


def test_compare_paths_titles_fit_and_the_axes_frame_the_paths(monkeypatch, tmp_path):
    fig = drawn_paths_figure(monkeypatch, tmp_path)
    canvas = FigureCanvasAgg(fig)  # the figure as saved: Agg, constrained layout applied at draw
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    with open(tmp_path / "paths.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    points = np.array([[float(row["x"]), float(row["y"])] for row in rows])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 8
    for ax in axes:
        box = ax.title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width and box.y1 <= height, ax.get_title()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        # every point of every path inside, and the paths span most of each axis (not a strip in a big square)
        assert x0 < points[:, 0].min() and points[:, 0].max() < x1
        assert y0 < points[:, 1].min() and points[:, 1].max() < y1
        assert np.ptp(points[:, 0]) > 0.8 * (x1 - x0) and np.ptp(points[:, 1]) > 0.8 * (y1 - y0)
    # no two titles overlap each other or the panel above
    boxes = [ax.title.get_window_extent(renderer) for ax in axes]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert "AdamW\n(lr=0.3, beta1=0.9, beta2=0.999,\nweight_decay=0.01)" in [ax.get_title() for ax in axes]

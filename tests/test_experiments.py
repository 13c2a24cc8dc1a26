"""``fastdl compare`` in reduced form against the book's NumPy code, and ``fastdl.util``."""
import contextlib
import csv
import io

import numpy as np
import pytest
from scipy.ndimage import correlate1d
from scipy.special import logsumexp

import fastdl
from book import optimizer as book_optimizer
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet
from book.multi_layer_net_extend import MultiLayerNetExtend as BookMultiLayerNetExtend
from fastdl.app.cli import main
from fastdl.app.compare.paths import PATH_SETTINGS
from fastdl.util import shuffle_dataset, smooth_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(argv):
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert main(argv) == 0
    return stdout.getvalue()


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return fastdl.load_mnist(data_dir=mnist_dir)


def book_losses(nets, optimizers, x, t, order, batch_size, scale=1.0, eval_every=None, eval_sets=None):
    """Each book network trained on the batches of ``order``: the loss of every gradient pass,
    and every ``eval_every`` iterations (after the update) the accuracy on each of ``eval_sets``."""
    losses = {name: [] for name in nets}
    accuracies = {name: {label: [] for label in eval_sets or {}} for name in nets}
    for i in range(order.size // batch_size):
        idx = order[i * batch_size:(i + 1) * batch_size]
        for name, net in nets.items():
            grads = net.gradient(x[idx], t[idx])
            losses[name].append(net.last_layer.loss)
            optimizers[name].update(net.params, {key: scale * g for key, g in grads.items()})
        if eval_every and i % eval_every == 0:
            for name, net in nets.items():
                for label, (xe, te) in eval_sets.items():
                    accuracies[name][label].append(net.accuracy(xe, te))
    return losses, accuracies


def test_compare_paths_follows_the_book_optimizers_on_floats(tmp_path):
    stdout = run(["compare", "paths", "--steps", "12", "--out", str(tmp_path)])
    assert (tmp_path / "paths.png").read_bytes()[:8] == PNG_MAGIC
    rows = read_csv(tmp_path / "paths.csv")
    assert {row["optimizer"] for row in rows} == set(fastdl.OPTIMIZERS)
    for name, cls in book_optimizer.OPTIMIZERS.items():
        optimizer = cls(**PATH_SETTINGS.get(name, {}))
        params = {"x": -7.0, "y": 2.0}
        expected = [(params["x"], params["y"])]
        for _ in range(12):
            optimizer.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"]})
            expected.append((float(params["x"]), float(params["y"])))
        got = [(float(row["x"]), float(row["y"])) for row in rows if row["optimizer"] == name]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, err_msg=name)
        x, y = expected[-1]
        assert x**2 / 20 + y**2 < 0.5 * (49 / 20 + 4), name  # each one heads for the minimum
    assert "took" in stdout


def test_compare_optimizers_runs_the_book_script_in_small(mnist_dir, mnist, tmp_path):
    iters, batch, n = 15, 32, 500
    run(["compare", "optimizers", "--iters", str(iters), "--batch-size", str(batch), "--train-size", str(n),
         "--optimizers", "sgd", "momentum", "--dtype", "float64", "--seed", "1", "--threads", "1",
         "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert (tmp_path / "optimizers.png").read_bytes()[:8] == PNG_MAGIC
    (x, t), (x_test, t_test) = mnist
    nets = {}
    for name in ("sgd", "momentum"):
        np.random.seed(1)
        nets[name] = BookMultiLayerNet(784, [100, 100, 100, 100], 10)
    order = np.random.choice(n, iters * batch)
    optimizers = {"sgd": book_optimizer.SGD(), "momentum": book_optimizer.Momentum()}
    expected, _ = book_losses(nets, optimizers, x[:n], t[:n], order, batch)
    per_step = read_csv(tmp_path / "optimizers_loss.csv")
    assert len(per_step) == iters
    for name in nets:
        np.testing.assert_allclose([float(row[name]) for row in per_step], expected[name], rtol=1e-9)
    summary = {row["network"]: row for row in read_csv(tmp_path / "optimizers.csv")}
    for name, net in nets.items():
        assert float(summary[name]["test_acc"]) == pytest.approx(net.accuracy(x_test, t_test), abs=1e-4)
        assert float(summary[name]["final_loss"]) == pytest.approx(np.mean(expected[name]), rel=1e-9)


def test_compare_lr_runs_the_article_and_the_book_gradient(mnist_dir, mnist, tmp_path):
    iters, batch, n = 12, 20, 300
    run(["compare", "lr", "--iters", str(iters), "--batch-size", str(batch), "--train-size", str(n),
         "--dtype", "float64", "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert (tmp_path / "lr.png").read_bytes()[:8] == PNG_MAGIC
    per_step = read_csv(tmp_path / "lr_loss.csv")
    assert list(per_step[0]) == ["iteration", "sgd_article", "adagrad_article", "sgd_book", "adagrad_book"]
    (x, t), _ = mnist
    for convention, scale in (("article", float(batch)), ("book", 1.0)):
        np.random.seed(8)
        net = BookMultiLayerNet(784, [200, 200], 10, weight_init_std=0.01)
        order = np.random.choice(n, iters * batch)
        expected, _ = book_losses({"sgd": net}, {"sgd": book_optimizer.SGD(lr=0.1)}, x[:n], t[:n], order, batch,
                                  scale)
        np.testing.assert_allclose([float(row[f"sgd_{convention}"]) for row in per_step], expected["sgd"],
                                   rtol=1e-9, err_msg=convention)


def test_compare_init_runs_the_book_script_in_small(mnist_dir, mnist, tmp_path):
    iters, batch, n = 12, 32, 400
    run(["compare", "init", "--iters", str(iters), "--batch-size", str(batch), "--train-size", str(n),
         "--dtype", "float64", "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert (tmp_path / "init.png").read_bytes()[:8] == PNG_MAGIC
    (x, t), _ = mnist
    nets = {}
    for name, std in (("std=0.01", 0.01), ("Xavier", "sigmoid"), ("He", "relu")):
        np.random.seed(0)
        nets[name] = BookMultiLayerNet(784, [100, 100, 100, 100], 10, weight_init_std=std)
    sgd = book_optimizer.SGD(lr=0.01)
    expected, _ = book_losses(nets, dict.fromkeys(nets, sgd), x[:n], t[:n], np.random.choice(n, iters * batch), batch)
    per_step = read_csv(tmp_path / "init_loss.csv")
    for name in nets:
        np.testing.assert_allclose([float(row[name]) for row in per_step], expected[name], rtol=1e-9, err_msg=name)


def test_compare_batchnorm_runs_the_book_script_in_small(mnist_dir, mnist, tmp_path):
    n, batch, epochs = 200, 50, 3
    run(["compare", "batchnorm", "--scales", "2", "--epochs", str(epochs), "--batch-size", str(batch),
         "--train-size", str(n), "--dtype", "float64", "--seed", "4", "--threads", "1",
         "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert (tmp_path / "batchnorm.png").read_bytes()[:8] == PNG_MAGIC
    rows = read_csv(tmp_path / "batchnorm.csv")
    (x, t), _ = mnist
    x, t = x[:n], t[:n]
    np.random.seed(4)
    for scale in np.logspace(0, -4, 2):
        state = np.random.get_state()
        nets = {}
        for name, batchnorm in (("batchnorm", True), ("plain", False)):
            np.random.set_state(state)
            nets[name] = BookMultiLayerNetExtend(784, [100] * 5, 10, weight_init_std=scale, use_batchnorm=batchnorm)
        iters = (epochs - 1) * (n // batch) + 1
        with np.errstate(over="ignore", invalid="ignore"):  # without batch norm, std 1 overflows: the book's point
            _, expected = book_losses(nets, dict.fromkeys(nets, book_optimizer.SGD(lr=0.01)), x, t,
                                      np.random.choice(n, iters * batch), batch, eval_every=n // batch,
                                      eval_sets={"train": (x, t)})
        for name in nets:
            got = [float(row["train_acc"]) for row in rows
                   if row["network"] == name and float(row["weight_init_std"]) == pytest.approx(scale)]
            np.testing.assert_allclose(got, expected[name]["train"], atol=1.5 / n, err_msg=f"{name} {scale}")


def test_compare_overfit_runs_the_book_scripts_in_small(mnist_dir, mnist, tmp_path):
    n, batch, epochs = 150, 50, 4
    run(["compare", "overfit", "--epochs", str(epochs), "--batch-size", str(batch), "--train-size", str(n),
         "--dtype", "float64", "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert (tmp_path / "overfit.png").read_bytes()[:8] == PNG_MAGIC
    rows = read_csv(tmp_path / "overfit.csv")
    assert {row["network"] for row in rows} == {"plain", "weight decay 0.1", "dropout 0.2"}
    (x, t), (x_test, t_test) = mnist
    x, t = x[:n], t[:n]
    nets = {}
    for name, net in (("plain", lambda: BookMultiLayerNet(784, [100] * 6, 10)),
                      ("weight decay 0.1", lambda: BookMultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=0.1)),
                      ("dropout 0.2", lambda: BookMultiLayerNetExtend(784, [100] * 6, 10, use_dropout=True,
                                                                     dropout_ration=0.2))):
        np.random.seed(0)
        nets[name] = net()
    # dropout trains 1.5x the epochs, as the book's overfit_dropout.py (301) against overfit_weight_decay.py (201);
    # the others' extra book iterations below come after their last evaluation and draw no random numbers
    lengths = {"plain": epochs, "weight decay 0.1": epochs, "dropout 0.2": epochs * 3 // 2}
    iters = (lengths["dropout 0.2"] - 1) * (n // batch) + 1
    _, expected = book_losses(nets, dict.fromkeys(nets, book_optimizer.SGD(lr=0.01)), x, t,
                              np.random.choice(n, iters * batch), batch, eval_every=n // batch,
                              eval_sets={"train": (x, t), "test": (x_test, t_test)})
    for name in nets:
        for label in ("train", "test"):
            got = [float(row[f"{label}_acc"]) for row in rows if row["network"] == name]
            assert len(got) == lengths[name]
            np.testing.assert_allclose(got, expected[name][label][:lengths[name]],
                                       atol=1.5 / len(x if label == "train" else x_test), err_msg=f"{name} {label}")


def test_smooth_curve_is_the_book_kaiser_window_with_its_end_padding():
    x = np.random.default_rng(0).normal(size=40).cumsum()
    w = np.kaiser(11, 2)
    w /= w.sum()
    # The book pads the start with x[10..1] (whole-sample mirror) and the end with x[-1..-10] (half-sample).
    expected = np.concatenate([correlate1d(x, w, mode="mirror")[:-5], correlate1d(x, w, mode="reflect")[-5:]])
    np.testing.assert_allclose(smooth_curve(list(x)), expected, rtol=1e-12)
    np.testing.assert_allclose(smooth_curve(np.full(11, 3.0)), 3.0, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 11 points"):
        smooth_curve(np.ones(10))


@pytest.mark.parametrize("shape", [(6, 4), (6, 1, 2, 2)])
def test_shuffle_dataset_applies_one_global_permutation(shape):
    x = np.arange(np.prod(shape)).reshape(shape)
    t = np.arange(6) * 10
    np.random.seed(5)
    shuffled_x, shuffled_t = shuffle_dataset(x, t)
    np.random.seed(5)
    permutation = np.random.permutation(6)
    np.testing.assert_array_equal(shuffled_x, x[permutation])
    np.testing.assert_array_equal(shuffled_t, t[permutation])
    with pytest.raises(ValueError, match="same number of samples"):
        shuffle_dataset(x, t[:5])


def test_compare_lr_with_exact_loss_records_logsumexp_losses(mnist_dir, mnist, tmp_path):
    """Same updates as the book (the gradient is the same); the recorded loss is logsumexp(x) - x_t."""
    iters, batch, n = 12, 20, 300
    stdout = run(["compare", "lr", "--exact-loss", "--optimizers", "sgd", "--iters", str(iters),
                  "--batch-size", str(batch), "--train-size", str(n), "--dtype", "float64", "--threads", "1",
                  "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    per_step = read_csv(tmp_path / "lr_loss.csv")
    (x, t), _ = mnist
    for convention, scale in (("article", float(batch)), ("book", 1.0)):
        np.random.seed(8)
        net = BookMultiLayerNet(784, [200, 200], 10, weight_init_std=0.01)
        order = np.random.choice(n, iters * batch)
        optimizer, expected = book_optimizer.SGD(lr=0.1), []
        for i in range(iters):
            idx = order[i * batch:(i + 1) * batch]
            logits = net.predict(x[idx])
            expected.append(np.mean(logsumexp(logits, axis=1) - logits[np.arange(batch), t[idx]]))
            optimizer.update(net.params, {key: scale * g for key, g in net.gradient(x[idx], t[idx]).items()})
        got = [float(row[f"sgd_{convention}"]) for row in per_step]
        np.testing.assert_allclose(got, expected, rtol=1e-9, err_msg=convention)
    assert "exact loss" in stdout.splitlines()[0]


def test_compare_init_with_sigmoid_uses_an_lr_at_which_something_is_learnt(mnist_dir, tmp_path):
    stdout = run(["compare", "init", "--activation", "sigmoid", "--iters", "2", "--train-size", "300",
                  "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path)])
    assert "SGD(lr=0.5)" in stdout  # 0.01 leaves all three sigmoid curves flat at 2.30 for 2000 iterations

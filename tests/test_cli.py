"""``fastdl train`` / ``fastdl evaluate``: outputs checked against the book's NumPy network."""
import contextlib
import csv
import io
import json
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastdl
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet
from book.multi_layer_net_extend import MultiLayerNetExtend as BookMultiLayerNetExtend
from book.optimizer import Adam as BookAdam
from fastdl.app.cli import main
from helpers import book_step_losses

TRAIN_SIZE, BATCH, HIDDEN, SEED = 1000, 50, 30, 3


def small_run(mnist_dir, out, *extra):
    return ["train", "--train-size", str(TRAIN_SIZE), "--batch-size", str(BATCH), "--hidden", str(HIDDEN),
            "--dtype", "float64", "--seed", str(SEED), "--threads", "1", "--data-dir", str(mnist_dir),
            "--out", str(out), *extra]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def book_network(saved):
    """The book's MultiLayerNet(Extend) holding the saved parameters and batch-norm statistics."""
    spec = json.loads(str(saved["network"]))
    sizes = (spec["input_size"], spec["hidden_size_list"], spec["output_size"], spec["activation"])
    if spec["class"] == "MultiLayerNetExtend":
        ref = BookMultiLayerNetExtend(*sizes, weight_decay_lambda=spec["weight_decay_lambda"],
                                      use_dropout=spec["use_dropout"], dropout_ration=spec["dropout_ration"],
                                      use_batchnorm=spec["use_batchnorm"])
    else:
        ref = BookMultiLayerNet(*sizes, weight_decay_lambda=spec["weight_decay_lambda"])
    for key in ref.params:
        ref.params[key][...] = saved[f"params/{key}"]
    for key, value in saved.items():
        if key.startswith("buffers/"):
            layer, name = key[len("buffers/"):].split(".")
            setattr(ref.layers[layer], name, value.copy())
    return ref


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return fastdl.load_mnist(data_dir=mnist_dir)


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """A 2-epoch run on a 1,000-sample slice: (out directory, its stdout)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(small_run(mnist_dir, out, "--epochs", "2")) == 0
    return out, stdout.getvalue()


def test_train_writes_complete_outputs_that_the_book_network_reproduces(trained, mnist):
    out, stdout = trained
    _, (x_test, t_test) = mnist
    rows = read_csv(out / "metrics.csv")
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"} <= set(rows[0])
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = load_npz(out / "model.npz")
    run = json.loads(str(saved["run"]))
    assert run["epochs_done"] == 2 and not run["interrupted"]
    assert saved["step_loss"].shape == (2 * TRAIN_SIZE // BATCH,)
    ref = book_network(saved)
    (x, t), _ = mnist
    assert ref.accuracy(x[:TRAIN_SIZE], t[:TRAIN_SIZE]) == pytest.approx(float(rows[-1]["train_acc"]), abs=1e-4)
    assert "evaluation:" not in stdout  # an MLP's training metrics cover all its training samples
    assert ref.accuracy(x_test, t_test) == pytest.approx(float(rows[-1]["test_acc"]), abs=1e-4)
    assert ref.loss(x_test, t_test) == pytest.approx(float(rows[-1]["test_loss"]), rel=1e-6)
    assert float(rows[-1]["test_acc"]) > 0.75  # it learned: chance is 0.1
    assert f"784-{HIDDEN}-10" in stdout and f"{784 * HIDDEN + HIDDEN + HIDDEN * 10 + 10:,} parameters" in stdout
    assert "Adam(lr=0.002" in stdout


@pytest.mark.parametrize("sampling", ["shuffle", "replace"])
def test_first_steps_follow_the_book_with_the_same_seed(sampling, mnist_dir, mnist, tmp_path):
    """Same weights and batches as the book's code seeded the same way; Adam at lr 0.002 for 3 steps."""
    out = tmp_path / sampling
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(small_run(mnist_dir, out, "--epochs", "1", "--sampling", sampling)) == 0
    (x, t), _ = mnist
    x, t = x[:TRAIN_SIZE], t[:TRAIN_SIZE]
    np.random.seed(SEED)
    ref, ref_opt = BookMultiLayerNet(784, [HIDDEN], 10), BookAdam(lr=0.002)
    order = np.random.permutation(TRAIN_SIZE) if sampling == "shuffle" else np.random.choice(TRAIN_SIZE, TRAIN_SIZE)
    expected = book_step_losses(ref, ref_opt, x, t, order, BATCH, 3)
    np.testing.assert_allclose(load_npz(out / "model.npz")["step_loss"][:3], expected, rtol=1e-9)


def test_train_eval_size_measures_the_first_training_samples_and_a_resume_keeps_it(mnist_dir, mnist, tmp_path,
                                                                                   capsys):
    out = tmp_path / "run"
    assert main(small_run(mnist_dir, out, "--epochs", "1", "--train-eval-size", "300")) == 0
    assert "evaluation: training metrics on the first 300 of the 1,000 training samples" in capsys.readouterr().out
    assert main(["train", "--resume", str(out), "--epochs", "1", "--data-dir", str(mnist_dir)]) == 0
    assert "evaluation: training metrics on the first 300 of the 1,000" in capsys.readouterr().out
    saved = load_npz(out / "model.npz")
    assert json.loads(str(saved["run"]))["train_eval_size"] == 300
    (x, t), _ = mnist
    ref, row = book_network(saved), read_csv(out / "metrics.csv")[-1]
    assert ref.accuracy(x[:300], t[:300]) == pytest.approx(float(row["train_acc"]), abs=1e-4)
    assert ref.loss(x[:300], t[:300]) == pytest.approx(float(row["train_loss"]), rel=1e-6)
    assert ref.accuracy(x[:TRAIN_SIZE], t[:TRAIN_SIZE]) != pytest.approx(float(row["train_acc"]), abs=1e-4)


def test_evaluate_reproduces_the_recorded_accuracy(trained, mnist_dir, capsys):
    out, _ = trained
    recorded = float(read_csv(out / "metrics.csv")[-1]["test_acc"])
    assert main(["evaluate", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert f"test: accuracy {recorded:.4f}" in capsys.readouterr().out


def test_batchnorm_dropout_run_reloads_with_its_running_statistics(mnist_dir, mnist, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(small_run(mnist_dir, out, "--epochs", "1", "--batchnorm", "--dropout", "0.2",
                          "--weight-decay", "0.01")) == 0
    saved = load_npz(out / "model.npz")
    assert json.loads(str(saved["network"]))["class"] == "MultiLayerNetExtend"
    assert {"buffers/BatchNorm1.running_mean", "buffers/BatchNorm1.running_var"} <= set(saved)
    row = read_csv(out / "metrics.csv")[-1]
    _, (x_test, t_test) = mnist
    ref = book_network(saved)  # inference mode: running statistics, dropout scaling
    assert ref.accuracy(x_test, t_test) == pytest.approx(float(row["test_acc"]), abs=1e-4)
    assert ref.loss(x_test, t_test) == pytest.approx(float(row["test_loss"]), rel=1e-6)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert f"test: accuracy {float(row['test_acc']):.4f}" in capsys.readouterr().out


def test_resume_continues_the_saved_run(trained, mnist_dir, tmp_path, capsys):
    out = tmp_path / "resumed"
    shutil.copytree(trained[0], out)
    assert main(["train", "--resume", str(out), "--epochs", "1", "--lr", "0.001", "--data-dir", str(mnist_dir)]) == 0
    stdout = capsys.readouterr().out
    assert f"{TRAIN_SIZE:,} training" in stdout and f"batch {BATCH}" in stdout and f"784-{HIDDEN}-10" in stdout
    assert "Adam(lr=0.001, beta1=0.9, beta2=0.999)" in stdout
    assert [int(row["epoch"]) for row in read_csv(out / "metrics.csv")] == [1, 2, 3]
    saved = load_npz(out / "model.npz")
    assert json.loads(str(saved["run"]))["epochs_done"] == 3
    assert saved["step_loss"].shape == (3 * TRAIN_SIZE // BATCH,)


def test_ctrl_c_stops_after_the_step_and_saves_the_network(mnist_dir, mnist, tmp_path, monkeypatch, capsys):
    update = fastdl.Adam.update
    calls = []

    def update_then_ctrl_c(self, params, grads):
        update(self, params, grads)
        calls.append(1)
        if len(calls) == 5:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(fastdl.Adam, "update", update_then_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    out = tmp_path / "run"
    assert main(small_run(mnist_dir, out, "--epochs", "3")) == 130
    assert len(calls) == 5
    assert "interrupted during epoch 1 after 5/20 steps" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is handler
    saved = load_npz(out / "model.npz")
    run = json.loads(str(saved["run"]))
    assert run["interrupted"] and run["epochs_done"] == 0 and saved["step_loss"].shape == (5,)
    _, (x_test, t_test) = mnist
    assert book_network(saved).accuracy(x_test, t_test) == pytest.approx(run["test_acc"], abs=1e-4)
    assert (out / "training.png").exists() and not (out / "metrics.csv").exists()


def test_a_diverging_run_stops_with_an_error(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(small_run(mnist_dir, out, "--optimizer", "sgd", "--lr", "1e200")) == 1
    err = capsys.readouterr().err
    assert "the training loss became nan at step 2 (SGD with lr=1e+200)" in err
    assert "e.g. lr=0.01." in err  # SGD's default: a tenth of 1e+200 diverges as well
    assert "no epoch had finished: no model.npz was written" in err
    assert not (out / "model.npz").exists()


def test_divergence_after_an_epoch_keeps_that_epochs_outputs(trained, mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(trained[0], out)
    before = {name: (out / name).read_bytes() for name in ("model.npz", "metrics.csv")}
    status = main(["train", "--resume", str(out), "--epochs", "1", "--optimizer", "sgd", "--lr", "1e200",
                   "--data-dir", str(mnist_dir)])
    err = capsys.readouterr().err
    assert status == 1
    first_bad = 2 * TRAIN_SIZE // BATCH + 2  # the first update of epoch 3 overflows, its loss shows at step 2
    assert f"loss became nan at step {first_bad} (SGD with lr=1e+200)" in err
    assert f"{out / 'model.npz'} keeps the network after epoch 2" in err
    assert {name: (out / name).read_bytes() for name in before} == before


BAD_ARGUMENTS = [
    (["train", "--optimizer", "nope"], "invalid choice: 'nope'"),
    (["train", "--lr", "-0.1"], "--lr: must be a number > 0"),
    (["train", "--batch-size", "0"], "--batch-size: must be a positive integer"),
    (["train", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["train", "--hidden", "100", "0"], "--hidden: must be a positive integer"),
    (["train", "--dropout", "1.5"], "--dropout: must be in (0, 1)"),
    (["train", "--init", "gauss"], "--init: use relu, he, sigmoid, xavier or a positive number"),
    (["train", "--opt-param", "momentum"], "expected NAME=VALUE"),
    (["train", "--opt-param", "beta3=0.5"], "--opt-param beta3: adam takes lr, beta1, beta2"),
    (["train", "--optimizer", "momentum", "--opt-param", "momentum=1.5"], "momentum must be in [0, 1)"),
    (["train", "--train-size", "70000"], "--train-size 70000 is larger than the 60,000"),
    (["train", "--train-size", "10", "--batch-size", "100"], "--batch-size 100 is larger than the 10"),
    (["train", "--threads", "4096"], "--threads 4096"),
    (["train", "--resume", "{tmp}/none"], "no checkpoint at"),
    (["evaluate", "{tmp}"], "no checkpoint at"),
    (["compare", "optimizers", "--optimizers", "sgd", "nope"], "invalid choice: 'nope'"),
    (["compare", "lr", "--iters", "0"], "--iters: must be a positive integer"),
    (["compare", "paths", "--steps", "-1"], "--steps: must be a positive integer"),
    (["compare", "batchnorm", "--train-size", "10"], "--batch-size 100 is larger than the 10 training samples"),
    (["compare", "overfit", "--dropout", "1"], "--dropout: must be in (0, 1)"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_arguments_exit_2_before_loading_anything(argv, message, tmp_path, capsys):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    if argv[0] != "evaluate":
        argv += ["--out", str(tmp_path / "out")]
    if argv[:2] != ["compare", "paths"]:
        argv += ["--data-dir", str(tmp_path / "no-data")]  # loading would fail with another message
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_console_entry_point_exits_2_with_a_message():
    result = subprocess.run([sys.executable, "-m", "fastdl", "train", "--lr", "0"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "fastdl train: error: argument --lr: must be a number > 0, got 0" in result.stderr

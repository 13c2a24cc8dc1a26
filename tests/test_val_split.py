"""``fastdl train --val-split``: a held-out part of the training set chooses the best epoch, the test set is
looked at once, at the end.

Oracles: the split's definition (the first ``round(f * n)`` of ``RandomState(seed).permutation(n)``), the
network's own ``accuracy`` on the samples recomputed here, and straight runs of fewer epochs (constant lr).
The resume tests are in test_resume.py.
"""
import contextlib
import csv
import io
import json
import re
import shutil

import numpy as np
import pytest

import fastdl
from fastdl.app import train
from fastdl.app.checkpoint import CheckpointError, load_checkpoint
from fastdl.app.cli import main
from fastdl.app.loop import validation_split

RUN = ["train", "--train-size", "600", "--batch-size", "50", "--hidden", "20", "--dtype", "float64", "--seed", "3",
       "--threads", "1", "--lr", "0.05", "--lr-schedule", "constant", "--val-split", "0.25"]


def quiet_main(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def csv_rows(out):
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_split_is_the_seeds_permutation_and_leaves_the_global_rng_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    fit, val = validation_split(600, 0.25, 3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.testing.assert_array_equal(val, np.sort(np.random.RandomState(3).permutation(600)[:150]))
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), np.arange(600))
    assert np.all(np.diff(fit) > 0) and fit.size == 450
    np.testing.assert_array_equal(validation_split(600, 0.25, 3)[1], val)
    assert not np.array_equal(validation_split(600, 0.25, 4)[1], val)
    assert validation_split(60000, 0.1, 0)[1].size == 6000 and validation_split(10, 0.25, 0)[1].size == 2


@pytest.fixture(scope="module")
def val_run(mnist_dir, tmp_path_factory):
    """A 6-epoch run whose validation accuracy peaks at epoch 4, and what its network was trained on."""
    out = tmp_path_factory.mktemp("val") / "run"
    seen = {}

    class RecordingFeeder(train.BatchFeeder):
        def __init__(self, x, t, *args):
            seen["x"], seen["t"] = x.copy(), t.copy()
            super().__init__(x, t, *args)

    evaluated = []
    real_evaluate = train.evaluate

    def recording_evaluate(net, x, t, *chunk):
        evaluated.append(x.shape[0])
        return real_evaluate(net, x, t, *chunk)

    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setattr(train, "BatchFeeder", RecordingFeeder)
        patch.setattr(train, "evaluate", recording_evaluate)
        assert main([*RUN, "--epochs", "6", "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    return out, seen, evaluated, stdout.getvalue()


def test_training_never_sees_the_held_out_samples(val_run, mnist_dir):
    out, seen, evaluated, printed = val_run
    (x, t), _ = fastdl.load_mnist(data_dir=mnist_dir)
    fit, val = validation_split(600, 0.25, 3)
    np.testing.assert_array_equal(seen["x"], x[fit])
    np.testing.assert_array_equal(seen["t"], t[fit])
    # each epoch evaluates the 450 training and 150 validation samples; the 10,000 test samples only at the end
    assert evaluated == [450, 150] * 6 + [10000]
    assert "data: MNIST, 450 training / 150 validation (--val-split 0.25, seed 3) / 10,000 test samples" in printed


def test_metrics_have_val_columns_and_best_npz_is_the_best_epoch(val_run, mnist_dir, tmp_path):
    out, _, _, printed = val_run
    rows = csv_rows(out)
    assert list(rows[0]) == ["epoch", "steps", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds",
                             "eval_seconds"]
    accs = [float(row["val_acc"]) for row in rows]
    best_epoch = int(np.argmax(accs)) + 1
    assert best_epoch == 4 < len(rows)  # the run goes on after its best epoch
    best = load_checkpoint(out / "best.npz")
    assert best.run["epochs_done"] == 4 and best.run["best"]["epoch"] == 4
    assert load_checkpoint(out).run["best"] == best.run["best"] and load_checkpoint(out).run["epochs_done"] == 6
    (x, t), (x_test, t_test) = fastdl.load_mnist(data_dir=mnist_dir)
    _, val = validation_split(600, 0.25, 3)
    assert best.net.accuracy(x[val], t[val]) == accs[3]
    # the same network as a run stopped after 4 epochs
    short = tmp_path / "short"
    assert quiet_main([*RUN, "--epochs", "4", "--data-dir", str(mnist_dir), "--out", str(short)]) == 0
    np.testing.assert_array_equal(best.net.params.flat, load_checkpoint(short).net.params.flat)
    test_acc = best.net.accuracy(x_test, t_test)
    assert f"best epoch 4 (validation accuracy {accs[3]:.4f}" in printed
    assert f"kept in {out / 'best.npz'}: test accuracy {test_acc:.4f}" in printed
    assert "best.npz" in printed.splitlines()[-1]  # the saved: line


def test_evaluate_reads_best_npz(val_run, mnist_dir, capsys):
    out, *_ = val_run
    assert main(["evaluate", str(out / "best.npz"), "--data-dir", str(mnist_dir)]) == 0
    assert "trained 4 epochs" in capsys.readouterr().out


def test_evaluate_train_measures_the_fit_and_validation_samples_apart(val_run, mnist_dir, capsys):
    out, seen, *_ = val_run
    net = load_checkpoint(out / "model.npz").net
    (x, t), _ = fastdl.load_mnist(data_dir=mnist_dir)
    fit, val = validation_split(600, 0.25, 3)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--train", "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"train: accuracy {net.accuracy(x[fit], t[fit]):.4f}" in printed and "(450 samples)" in printed
    assert f"validation: accuracy {net.accuracy(x[val], t[val]):.4f}" in printed and "(150 samples)" in printed


def test_batchnorm_and_dropout_networks_split_too(mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert quiet_main([*RUN, "--epochs", "2", "--batchnorm", "--dropout", "0.2", "--data-dir", str(mnist_dir),
                       "--out", str(out)]) == 0
    best = load_checkpoint(out / "best.npz")
    assert best.spec["use_batchnorm"] and best.spec["use_dropout"] and "buffers/BatchNorm1.running_mean" in np.load(
        out / "best.npz").files


@pytest.mark.parametrize("value, message", [
    ("0", "argument --val-split: must be a fraction between 0 and 1 (e.g. 0.1), got 0"),
    ("1", "argument --val-split: must be a fraction between 0 and 1 (e.g. 0.1), got 1"),
    ("-0.1", "argument --val-split: must be a fraction between 0 and 1"),
    ("nan", "argument --val-split: must be a fraction between 0 and 1"),
    ("abc", "argument --val-split: expected a number, got 'abc'"),
    ("0.05", "--val-split 0.05 holds out 30 of the 600 training samples, less than one batch of 50 "
             "(--batch-size): give a larger fraction"),
    ("0.95", "--val-split 0.95 leaves 30 of the 600 training samples, less than one batch of 50 "
             "(--batch-size): give a smaller fraction"),
])
def test_unusable_fraction_exits_2_before_anything_is_created(value, message, tmp_path, capsys):
    argv = [arg if arg != "0.25" else value for arg in RUN]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, message", [
    (["--val-split", "0.5"], "--resume keeps the run's validation split: drop --val-split"),
    (["--train-size", "500"], r"--resume keeps the run's validation split \(0.25 of its training samples held "
                              r"out\): drop --train-size"),
    (["--dataset", "fashion"], "drop --dataset"),
])
def test_resume_refuses_to_change_the_split(val_run, tmp_path, mnist_dir, capsys, extra, message):
    out = tmp_path / "run"
    shutil.copytree(val_run[0], out)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(out), "--epochs", "1", *extra, "--data-dir", str(mnist_dir)])
    assert exc.value.code == 2 and re.search(message, capsys.readouterr().err)


def test_a_split_cannot_start_on_resume(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    plain = [arg for arg in RUN if arg not in ("--val-split", "0.25")]
    assert quiet_main([*plain, "--epochs", "1", "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(out), "--epochs", "1", "--val-split", "0.2", "--data-dir", str(mnist_dir)])
    assert exc.value.code == 2
    assert "--val-split is given when a run starts: the saved run trained on all its samples" in (
        capsys.readouterr().err)


def test_resume_with_another_seed_keeps_the_split_and_the_best(val_run, tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    shutil.copytree(val_run[0], out)
    best_before = (out / "best.npz").read_bytes()
    assert main(["train", "--resume", str(out), "--epochs", "1", "--seed", "4", "--lr", "0.0001",
                 "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr().out
    assert "450 training / 150 validation (--val-split 0.25, seed 3)" in printed
    saved = load_checkpoint(out)
    assert saved.run["seed"] == 4 and saved.run["val_seed"] == 3 and saved.run["epochs_done"] == 7
    rows = csv_rows(out)
    if float(rows[-1]["val_acc"]) <= max(float(row["val_acc"]) for row in rows[:-1]):
        assert (out / "best.npz").read_bytes() == best_before and saved.run["best"]["epoch"] == 4
    else:
        assert saved.run["best"]["epoch"] == 7


def rewrite_run(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    run = json.loads(str(arrays["run"]))
    change(run)
    arrays["run"] = np.array(json.dumps(run))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(val_split=1.5), "run 'val_split' must be a fraction between 0 and 1, got 1.5"),
    (lambda r: r.pop("val_seed"), "run lacks 'val_seed'"),
    (lambda r: r.update(best={"epoch": 9, "val_acc": 0.5, "val_loss": 1.0}), "run 'best' epoch 9 is after the 6"),
    (lambda r: r.update(best={"epoch": 2}), "run 'best' must be null or an object of 'epoch', 'val_acc', 'val_loss'"),
    (lambda r: r.update(val_acc="high"), "run 'val_acc' must be a number, got 'high'"),
    (lambda r: (r.pop("val_split"), r.pop("val_seed")),
     "run 'test_loss' and 'test_acc' must be numbers \\(the run has no val_split\\)"),
    (lambda r: r.update(step_in_epoch=9, interrupted=True),
     "run 'step_in_epoch' is 9, but an epoch of 450 samples in batches of 50 has 9 steps"),
])
def test_tampered_split_records_are_refused(val_run, tmp_path, change, message):
    path = tmp_path / "model.npz"
    shutil.copy(val_run[0] / "model.npz", path)
    rewrite_run(path, change)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_resume_into_another_directory_takes_the_best_along(val_run, tmp_path, mnist_dir, capsys):
    out = tmp_path / "more"
    assert main(["train", "--resume", str(val_run[0]), "--epochs", "1", "--lr", "0.0001", "--out", str(out),
                 "--data-dir", str(mnist_dir)]) == 0
    best_acc = float(csv_rows(val_run[0])[3]["val_acc"])
    assert f"best epoch 4 (validation accuracy {best_acc:.4f}" in capsys.readouterr().out
    assert (out / "best.npz").read_bytes() == (val_run[0] / "best.npz").read_bytes()
    moved = tmp_path / "moved"
    shutil.copytree(val_run[0], moved)
    (moved / "best.npz").unlink()
    assert main(["train", "--resume", str(moved), "--epochs", "1", "--out", str(tmp_path / "more2"),
                 "--data-dir", str(mnist_dir)]) == 0
    captured = capsys.readouterr()
    assert "best.npz is missing: the best epoch so far (4) is not at hand" in captured.err
    assert load_checkpoint(tmp_path / "more2" / "best.npz").run["epochs_done"] == 7


def test_resume_from_best_npz_continues_in_another_directory_only(val_run, tmp_path, mnist_dir, capsys):
    before = {path.name: path.read_bytes() for path in val_run[0].iterdir() if path.is_file()}
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(val_run[0] / "best.npz"), "--epochs", "1", "--data-dir", str(mnist_dir)])
    assert exc.value.code == 2
    assert "best.npz is a file: give its directory to continue that run there, or --out DIR" in capsys.readouterr().err
    out = tmp_path / "from-best"
    assert main(["train", "--resume", str(val_run[0] / "best.npz"), "--epochs", "1", "--out", str(out),
                 "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr().out
    assert "resuming" in printed and load_checkpoint(out).run["epochs_done"] == 5
    # epoch 5 (from the best, epoch 4) is measured against the best so far, which came along
    rows = csv_rows(out)
    best = load_checkpoint(out / "best.npz")
    if float(rows[-1]["val_acc"]) > float(csv_rows(val_run[0])[3]["val_acc"]):
        assert best.run["epochs_done"] == 5
    else:
        assert (out / "best.npz").read_bytes() == before["best.npz"]
    assert f"best epoch {best.run['epochs_done']} (validation accuracy" in printed
    assert {path.name: path.read_bytes() for path in val_run[0].iterdir() if path.is_file()} == before

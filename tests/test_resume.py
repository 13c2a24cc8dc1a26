"""Nothing lost: ``fastdl train`` checkpoints survive SIGKILL and Ctrl-C, and ``--resume`` continues bit for bit
(float64) as if the run had never stopped; damaged or mismatched checkpoints get an error naming the file and key."""
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import fastdl
from fastdl.app import checkpoint
from fastdl.app.checkpoint import CheckpointError, load_checkpoint, restore_network
from fastdl.app.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ["--train-size", "600", "--batch-size", "50", "--hidden", "20", "--dtype", "float64", "--seed", "3",
       "--dropout", "0.2", "--threads", "1"]
VAL = ("--val-split", "0.25", "--lr", "0.05", "--lr-schedule", "constant")
"""A run with a validation split whose best epoch (4 of 6: val accuracy 0.773, then 0.747, 0.740) is not its last."""
STATE_PREFIXES = ("params/", "buffers/", "optimizer/", "rng/")
TIMINGS = ("seconds", "eval_seconds")


def train_args(mnist_dir, out, *extra):
    return ["train", *RUN, "--data-dir", str(mnist_dir), "--out", str(out), *extra]


def quiet_main(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def assert_same_run(path, expected_path):
    """Same parameters, batch-norm statistics, optimizer state, RNG state, step losses and metrics, bit for bit."""
    got, expected = load_npz(path), load_npz(expected_path)
    state = sorted(key for key in expected if key.startswith(STATE_PREFIXES))
    assert state == sorted(key for key in got if key.startswith(STATE_PREFIXES))
    assert any(key.startswith("optimizer/m/") for key in state) and "rng/keys" in state
    for key in state + ["step_loss"]:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    rows, expected_rows = json.loads(str(got["metrics"])), json.loads(str(expected["metrics"]))
    strip = [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]
    assert strip == [{k: v for k, v in row.items() if k not in TIMINGS} for row in expected_rows]
    run, expected_run = json.loads(str(got["run"])), json.loads(str(expected["run"]))
    held = ("epochs_done", "test_acc", "test_loss", "val_acc", "val_loss", "val_split", "val_seed", "best")
    assert [run.get(key) for key in held] == [expected_run.get(key) for key in held]


@pytest.fixture(scope="module")
def straight(mnist_dir, tmp_path_factory):
    """``get(epochs, *extra options)``: model.npz of an uninterrupted run, trained once each."""
    root = tmp_path_factory.mktemp("straight")
    runs = {}

    def get(epochs, *extra):
        key = (epochs, *extra)
        if key not in runs:
            out = root / f"{epochs}-{len(runs)}"
            assert quiet_main(train_args(mnist_dir, out, "--epochs", str(epochs), *extra)) == 0
            runs[key] = out / "model.npz"
        return runs[key]

    return get


KILLED_WHILE_WRITING = """
import os, signal, sys
import numpy as np
from fastdl.app.cli import main

real_savez, saves = np.savez, []


def savez_then_die(file, **arrays):
    saves.append(file)
    real_savez(file, **arrays)
    if len(saves) == 2:  # the second epoch's checkpoint is half on disk, not yet renamed, when the kill comes
        with open(file, "r+b") as f:
            f.truncate(os.path.getsize(file) // 2)
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


np.savez = savez_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_while_writing_keeps_the_previous_checkpoint_and_resume_is_bit_for_bit(mnist_dir, tmp_path,
                                                                                       straight):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, *train_args(mnist_dir, out, "--epochs", "3")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr
    half_written = list(out.glob(".model.npz.*"))
    assert len(half_written) == 1
    with pytest.raises((zipfile.BadZipFile, ValueError, EOFError, OSError)):
        load_npz(half_written[0])
    saved = load_checkpoint(out)
    assert saved.run["epochs_done"] == 1 and len(saved.metrics) == 1 and saved.step_loss.shape == (12,)
    assert quiet_main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert_same_run(out / "model.npz", straight(3))
    assert [row["epoch"] for row in csv_rows(out)] == ["1", "2", "3"]


def csv_rows(out):
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("extra", [(), VAL], ids=["", "val-split"])
def test_sigkill_right_after_the_first_checkpoint_and_resume_is_bit_for_bit(mnist_dir, tmp_path, straight, extra):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "fastdl", *train_args(mnist_dir, out, "--epochs", "8", *extra)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not (out / "model.npz").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    saved = load_checkpoint(out)
    assert 1 <= saved.run["epochs_done"] < 8
    assert quiet_main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert_same_run(out / "model.npz", straight(8, *extra))
    if extra:
        assert_same_run(out / "best.npz", straight(8, *extra).parent / "best.npz")


def test_ctrl_c_mid_epoch_then_resume_is_bit_for_bit(mnist_dir, tmp_path, straight, monkeypatch, capsys):
    update, calls = fastdl.Adam.update, []

    def update_then_ctrl_c(self, params, grads):
        update(self, params, grads)
        calls.append(1)
        if len(calls) == 17:  # step 5 of epoch 2 (12 steps per epoch)
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(fastdl.Adam, "update", update_then_ctrl_c)
        assert main(train_args(mnist_dir, out, "--epochs", "3")) == 130
    assert "interrupted during epoch 2 after 5/12 steps" in capsys.readouterr().out
    saved = load_checkpoint(out)
    assert saved.run["interrupted"] and saved.run["epochs_done"] == 1 and saved.run["step_in_epoch"] == 5
    assert saved.epoch_order.shape == (600,) and saved.step_loss.shape == (17,)
    assert main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert ("after epoch 1 and 5 steps of epoch 2 with the saved optimizer state and the saved RNG and batch order"
            in capsys.readouterr().out)
    assert_same_run(out / "model.npz", straight(3))


def test_ctrl_c_with_a_validation_split_then_resume_keeps_the_split_and_the_best_bit_for_bit(
        mnist_dir, tmp_path, straight, monkeypatch, capsys):
    update, calls = fastdl.Adam.update, []

    def update_then_ctrl_c(self, params, grads):
        update(self, params, grads)
        calls.append(1)
        if len(calls) == 41:  # step 5 of epoch 5 (450 of the 600 samples train: 9 steps per epoch)
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(fastdl.Adam, "update", update_then_ctrl_c)
        assert main(train_args(mnist_dir, out, "--epochs", "6", *VAL)) == 130
    assert "interrupted during epoch 5 after 5/9 steps; saved the network as it is now: val accuracy" in (
        capsys.readouterr().out)
    saved = load_checkpoint(out)
    assert saved.run["best"]["epoch"] == 4 and saved.run["step_in_epoch"] == 5 and saved.epoch_order.shape == (450,)
    assert saved.run["val_split"] == 0.25 and saved.run["test_acc"] is None
    assert main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)]) == 0
    printed = capsys.readouterr().out
    assert "450 training / 150 validation (--val-split 0.25, seed 3)" in printed
    expected = straight(6, *VAL)
    assert_same_run(out / "model.npz", expected)
    assert_same_run(out / "best.npz", expected.parent / "best.npz")
    # the best epoch's network is the one a straight 4-epoch run ends with (constant lr: its first 4 epochs)
    np.testing.assert_array_equal(load_checkpoint(out / "best.npz").net.params.flat,
                                  load_checkpoint(straight(4, *VAL)).net.params.flat)
    assert re.search(r"best epoch 4 \(validation accuracy 0\.7733, loss 0\.8\d+\), kept in .*best\.npz: "
                     r"test accuracy 0\.\d{4}, test loss", printed)


def test_resume_of_a_finished_run_asks_for_epochs(straight, tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    shutil.copytree(straight(3).parent, out)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)])
    assert exc.value.code == 2
    assert "the run has finished its 3 epochs; give --epochs N to train N more" in capsys.readouterr().err


def test_resume_with_other_settings_says_what_it_does_not_keep(straight, tmp_path, mnist_dir, capsys):
    out = tmp_path / "run"
    shutil.copytree(straight(3).parent, out)
    assert main(["train", "--resume", str(out), "--epochs", "1", "--optimizer", "sgd", "--seed", "4",
                 "--data-dir", str(mnist_dir)]) == 0
    assert "with a fresh sgd state and a new data stream (data settings changed)" in capsys.readouterr().out
    saved = load_checkpoint(out)
    assert saved.run["epochs_done"] == 4 and saved.run["schedule"] == [3, 4] and saved.optimizer_state == {}


def test_checkpoint_holds_optimizer_state_metrics_and_rng(straight):
    saved = load_checkpoint(straight(3))
    adam = fastdl.Adam()
    adam.load_state_dict(saved.optimizer_state)
    assert adam.iter == 36 and set(saved.optimizer_state) == {"iter"} | {
        f"{name}/{key}" for name in ("m", "v") for key in saved.net.params}
    assert [row["epoch"] for row in saved.metrics] == [1, 2, 3] and saved.run["schedule"] == [0, 3]
    assert saved.rng_state[0] == "MT19937" and saved.rng_state[1].shape == (624,) and saved.epoch_order is None


def test_exact_loss_flag_reaches_the_network_and_the_checkpoint(mnist_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(mnist_dir, out, "--epochs", "1", "--exact-loss")) == 0
    assert "exact loss" in capsys.readouterr().out
    saved = load_checkpoint(out)
    assert saved.spec["exact_loss"] is True and saved.net.last_layer.exact is True
    with pytest.raises(SystemExit):
        main(["train", "--resume", str(out), "--exact-loss", "--epochs", "1"])
    assert "drop --exact-loss" in capsys.readouterr().err


# --- damaged or mismatched checkpoints -------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint_file(straight):
    return straight(3)


def rewrite(path, change):
    """The checkpoint's arrays through ``change(dict)``, saved again as an .npz."""
    arrays = load_npz(path)
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def set_json(name, change):
    def apply(arrays):
        value = json.loads(str(arrays[name]))
        change(value)
        arrays[name] = np.array(json.dumps(value))
    return apply


def flip_middle(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "truncated or corrupt"),
    "truncated to 10 bytes": (lambda p: p.write_bytes(p.read_bytes()[:10]), "truncated or corrupt"),
    "empty": (lambda p: p.write_bytes(b""), "truncated or corrupt"),
    "bytes flipped": (flip_middle, "truncated or corrupt"),
    "not an npz": (lambda p: p.write_text("W1,b1\n1,2\n"), "truncated or corrupt"),
    "no network entry": (lambda p: rewrite(p, lambda a: a.pop("network")), "is not a fastdl checkpoint"),
    "network entry not JSON": (lambda p: rewrite(p, lambda a: a.update(network=np.array("{W1"))),
                               "is not a fastdl checkpoint"),
    "unknown class": (lambda p: rewrite(p, set_json("network", lambda s: s.update({"class": "ConvNet"}))),
                      "unknown network class 'ConvNet'"),
    "spec of another shape": (lambda p: rewrite(p, set_json("network", lambda s: s.update(hidden_size_list=[25]))),
                              r"does not fit this MultiLayerNetExtend: params/W1 has shape \(784, 20\) in the file, "
                              r"\(784, 25\) in the network"),
    "a parameter missing": (lambda p: rewrite(p, lambda a: a.pop("params/b2")), r"it lacks params \['b2'\]"),
    "optimizer state of another shape": (lambda p: rewrite(p, lambda a: a.update({"optimizer/m/W1": np.zeros(3)})),
                                         r"optimizer/m/W1 has shape \(3,\), params\['W1'\] \(784, 20\)"),
    "unknown buffer": (lambda p: rewrite(p, lambda a: a.update({"buffers/Dropout9.running_mean": np.zeros(20)})),
                       "has buffer 'Dropout9.running_mean'"),
    "complex parameter": (lambda p: rewrite(p, lambda a: a.update({"params/W2": a["params/W2"] + 0j})),
                          r"params/W2 is complex128 \(20, 10\); expected a float array"),
    "string parameter": (lambda p: rewrite(p, lambda a: a.update({"params/W1": np.full((784, 20), "x")})),
                         r"params/W1 is <U1 \(784, 20\); expected a float array"),
    "empty run": (lambda p: rewrite(p, lambda a: a.update(run=np.array(""))), "'run' is not JSON"),
    "run of no keys": (lambda p: rewrite(p, lambda a: a.update(run=np.array("{}"))), "run lacks 'dataset'"),
    "run not an object": (lambda p: rewrite(p, lambda a: a.update(run=np.array("[1, 2]"))),
                          "'run' holds a list, expected a JSON object"),
    "run without interrupted": (lambda p: rewrite(p, set_json("run", lambda r: r.pop("interrupted"))),
                                "run lacks 'interrupted'"),
    "run without epochs_done": (lambda p: rewrite(p, set_json("run", lambda r: r.pop("epochs_done"))),
                                "run lacks 'epochs_done'"),
    "epochs_done a string": (lambda p: rewrite(p, set_json("run", lambda r: r.update(epochs_done="3"))),
                             "run 'epochs_done' must be an integer >= 0, got '3'"),
    "train_eval_size 0": (lambda p: rewrite(p, set_json("run", lambda r: r.update(train_eval_size=0))),
                          "run 'train_eval_size' must be null or an integer > 0, got 0"),
    "unusable hyperparameters": (lambda p: rewrite(p, set_json("run", lambda r: r["hyperparameters"].update(lr=-1))),
                                 "run 'hyperparameters' do not make a adam .*lr"),
    "int optimizer state": (lambda p: rewrite(p, lambda a: a.update({"optimizer/m/W1": np.zeros((784, 20), int)})),
                            r"optimizer/m/W1 is int64 \(784, 20\); expected a float array"),
    "float optimizer counter": (lambda p: rewrite(p, lambda a: a.update({"optimizer/iter": np.float64(3)})),
                                "optimizer/iter is float64 \\(\\); expected an integer"),
    "short rng keys": (lambda p: rewrite(p, lambda a: a.update({"rng/keys": a["rng/keys"][:10]})),
                       r"rng/keys is uint32 \(10,\); NumPy's MT19937 state needs uint32 shape \(624,\)"),
    "rng partly missing": (lambda p: rewrite(p, lambda a: a.pop("rng/pos")), r"lacks \['rng/pos'\]"),
    "absurd layer size": (lambda p: rewrite(p, set_json("network", lambda s: s.update(hidden_size_list=[10**12]))),
                          "network 'hidden_size_list' must be a list of integers in 1..1048576"),
    "large layer size": (lambda p: rewrite(p, set_json("network", lambda s: s.update(hidden_size_list=[10**6]))),
                         r"params/W1 has shape \(784, 20\) in the file, \(784, 1000000\) in the network"),
    "2-D step_loss": (lambda p: rewrite(p, lambda a: a.update(step_loss=a["step_loss"].reshape(-1, 1))),
                      r"step_loss has shape \(36, 1\); expected one loss per step"),
    "unknown entry": (lambda p: rewrite(p, lambda a: a.update(extra=np.zeros(3))),
                      "has an entry 'extra' that is no part of a fastdl checkpoint"),
    "step_in_epoch beyond the epoch": (
        lambda p: rewrite(p, lambda a: (set_json("run", lambda r: r.update(step_in_epoch=12, interrupted=True))(a),
                                        a.update(epoch_order=np.arange(600)))),
        "run 'step_in_epoch' is 12, but an epoch of 600 samples in batches of 50 has 12 steps"),
    "epoch_order outside the data": (
        lambda p: rewrite(p, lambda a: (set_json("run", lambda r: r.update(step_in_epoch=2, interrupted=True))(a),
                                        a.update(epoch_order=np.arange(600) + 1))),
        r"epoch_order holds 1..600, outside the 600 training samples \(0..599\)"),
    "epoch_order too short": (
        lambda p: rewrite(p, lambda a: (set_json("run", lambda r: r.update(step_in_epoch=2, interrupted=True))(a),
                                        a.update(epoch_order=np.arange(100)))),
        "epoch_order has 100 entries, an epoch of 12 batches of 50 needs 600"),
    "step_in_epoch without epoch_order": (
        lambda p: rewrite(p, set_json("run", lambda r: r.update(step_in_epoch=2, interrupted=True))),
        "run 'step_in_epoch' is 2 but epoch_order is missing"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_checkpoint_gets_an_error_naming_the_file(damage, checkpoint_file, tmp_path, mnist_dir, capsys):
    path = tmp_path / "model.npz"
    shutil.copy(checkpoint_file, path)
    spoil, fragment = DAMAGE[damage]
    spoil(path)
    with pytest.raises(CheckpointError, match=fragment) as error:
        load_checkpoint(path)
    assert str(error.value).startswith(str(path))
    for argv in (["evaluate", str(tmp_path)], ["train", "--resume", str(tmp_path), "--epochs", "1"]):
        with pytest.raises(SystemExit) as exc:
            main(argv + ["--data-dir", str(mnist_dir)])
        assert exc.value.code == 2 and str(path) in capsys.readouterr().err


def test_checkpoint_inflating_past_the_bound_is_refused_unread(checkpoint_file, tmp_path, monkeypatch):
    # fastdl stores its members uncompressed; deflated ones may declare at most MAX_INFLATED bytes in all,
    # checked from the zip directory before anything is inflated (here the bound is lowered to 1000 bytes).
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, **load_npz(checkpoint_file))
    monkeypatch.setattr(checkpoint, "MAX_INFLATED", 1000)
    with pytest.raises(CheckpointError, match=f"{re.escape(str(path))} is not a readable .*inflate to more than 1000"):
        load_checkpoint(path)


def test_restore_network_checks_every_entry_before_copying(checkpoint_file, tmp_path):
    path = tmp_path / "model.npz"
    shutil.copy(checkpoint_file, path)
    rewrite(path, lambda a: a.update({"params/W2": a["params/W2"] + 0j}))
    net = fastdl.MultiLayerNetExtend(784, [20], 10, use_dropout=True)
    before = net.params.flat.copy()
    with pytest.raises(CheckpointError, match=r"params/W2 is complex128"):
        restore_network(net, path)
    np.testing.assert_array_equal(net.params.flat, before)


def test_restoring_into_a_network_of_another_shape_names_the_key(checkpoint_file):
    with pytest.raises(CheckpointError, match=r"params/W1 has shape \(784, 20\) in the file, \(784, 30\)"):
        restore_network(fastdl.MultiLayerNetExtend(784, [30], 10, use_dropout=True), checkpoint_file)
    with pytest.raises(CheckpointError, match=r"it lacks params \['gamma1', 'beta1'\]"):
        restore_network(fastdl.MultiLayerNetExtend(784, [20], 10, use_batchnorm=True), checkpoint_file)
    with pytest.raises(CheckpointError, match=r"it has params \['W2', 'b2'\] the network does not"):
        restore_network(fastdl.MultiLayerNet(784, [], 10), checkpoint_file)


def test_restoring_into_a_network_of_the_same_shape_gives_the_saved_numbers(checkpoint_file, mnist_dir):
    saved = load_checkpoint(checkpoint_file)
    net = fastdl.MultiLayerNetExtend(784, [20], 10, use_dropout=True, dropout_ration=0.2)
    restore_network(net, checkpoint_file.parent)
    np.testing.assert_array_equal(net.params.flat, saved.net.params.flat)
    _, (x_test, t_test) = fastdl.load_mnist(data_dir=mnist_dir)
    assert net.accuracy(x_test, t_test) == saved.run["test_acc"]

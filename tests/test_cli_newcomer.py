"""The command line as a newcomer meets it: help, version, case, messages that name the option and the subcommand,
missing data reported before anything is created. The oracle is the expected text and exit status."""
import pytest

from fastdl import __version__
from helpers import run_cli


def test_bare_fastdl_prints_help():
    status, out, err = run_cli([])
    assert status == 0 and out.startswith("usage: fastdl") and "train" in out and err == ""


def test_version():
    assert run_cli(["--version"])[:2] == (0, f"fastdl {__version__}\n")


@pytest.mark.parametrize("argv, who, unknown", [
    (["train", "--bogus", "2"], "fastdl train", "--bogus 2"),
    (["compare", "optimizers", "--bogus"], "fastdl compare optimizers", "--bogus"),
    (["evaluate", "runs/x", "--fast"], "fastdl evaluate", "--fast")])
def test_unknown_option_is_reported_by_its_subcommand(argv, who, unknown):
    status, _, err = run_cli(argv)
    assert status == 2 and f"{who}: error: unrecognized arguments: {unknown}" in err
    assert err.startswith(f"usage: {who}")


@pytest.mark.parametrize("argv, message", [
    (["train", "--lr", "abc"], "argument --lr: expected a number, got 'abc'"),
    (["train", "--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
    (["train", "--seed", "x"], "argument --seed: expected an integer, got 'x'"),
    (["train", "--dropout", "half"], "argument --dropout: expected a number, got 'half'"),
    (["train", "--init", "big"], "argument --init: use relu, he, sigmoid, xavier or a positive number, got 'big'"),
    (["train", "--optimizer", "Adamm"], "argument --optimizer: invalid choice: 'adamm'"),
])
def test_invalid_values_say_what_was_expected(argv, message):
    status, _, err = run_cli(argv)
    assert status == 2 and message in err and "invalid positive_float value" not in err


def test_optimizer_names_in_any_case(mnist_dir, tmp_path):
    status, out, err = run_cli(["train", "--optimizer", "Adam", "--train-size", "200", "--batch-size", "100",
                            "--hidden", "5", "--epochs", "1", "--threads", "1", "--data-dir", str(mnist_dir),
                            "--out", str(tmp_path / "run")])
    assert status == 0, err
    assert "optimizer: Adam(lr=0.001" in out
    status, out, err = run_cli(["compare", "optimizers", "--optimizers", "SGD", "AdaGrad", "--iters", "2",
                            "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "cmp")])
    assert status == 0, err
    assert "2 x 784-100" in out


def test_compare_optimizers_takes_epochs(mnist_dir, tmp_path):
    status, out, err = run_cli(["compare", "optimizers", "--optimizers", "sgd", "--epochs", "2", "--train-size", "500",
                            "--batch-size", "100", "--threads", "1", "--data-dir", str(mnist_dir),
                            "--out", str(tmp_path)])
    assert status == 0, err
    assert "10 iterations of batch 100" in out  # 2 epochs of 500 // 100 steps
    assert run_cli(["compare", "optimizers", "--epochs", "1", "--iters", "5"])[0] == 2


@pytest.mark.parametrize("argv", [["train"], ["compare", "init"]])
def test_missing_data_is_reported_first_with_the_option_to_give(argv, tmp_path):
    out_dir = tmp_path / "out"
    status, out, err = run_cli([*argv, "--data-dir", str(tmp_path / "nowhere"), "--out", str(out_dir)])
    assert status == 1 and out == ""  # no plan printed
    assert f"{tmp_path / 'nowhere'}" in err and "--data-dir DIR" in err
    assert not out_dir.exists()


def test_an_lr_the_dtype_cannot_hold_is_refused_cleanly(mnist_dir, tmp_path):
    status, _, err = run_cli(["train", "--lr", "1e200", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "run")])
    assert status == 2 and "--lr 1e+200 does not fit float32" in err and "--dtype float64" in err
    assert "RuntimeWarning" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("lr, warnings", [("20", ["chance level"]), ("1e-9", ["chance level", "stopped falling"]),
                                          ("0.1", [])])
def test_a_run_that_learnt_nothing_is_told_so(lr, warnings, mnist_dir, tmp_path):
    status, _, err = run_cli(["train", "--optimizer", "sgd", "--lr", lr, "--train-size", "1000", "--epochs", "5",
                          "--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "run")])
    assert status == 0
    assert [line for line in err.splitlines() if line.startswith("fastdl: warning:")] == [
        line for line in err.splitlines() if any(w in line for w in warnings)]
    assert all(w in err for w in warnings)

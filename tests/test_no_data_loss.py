"""Nothing replaced unasked: --out refuses an existing run, one command at a time per --out, no stale temporaries.

The oracle is the file system: bytes of the earlier run unchanged, files present or gone.
"""
import contextlib
import fcntl
import io

import pytest

from fastdl.app.cli import main

TRAIN = ["train", "--train-size", "300", "--batch-size", "50", "--hidden", "10", "--dtype", "float64",
         "--threads", "1", "--epochs", "1"]


def quiet_main(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


@pytest.fixture(scope="module")
def earlier_run(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert quiet_main([*TRAIN, "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    return out


def test_train_refuses_to_replace_a_run_unasked(earlier_run, mnist_dir, capsys):
    before = {path.name: path.read_bytes() for path in earlier_run.iterdir()}
    assert quiet_main([*TRAIN, "--seed", "5", "--data-dir", str(mnist_dir), "--out", str(earlier_run)]) == 1
    err = capsys.readouterr().err
    assert f"--out {earlier_run} already holds a previous run" in err and "metrics.csv, model.npz" in err
    assert "--resume" in err and "--overwrite" in err
    assert {path.name: path.read_bytes() for path in earlier_run.iterdir()} == before


def test_train_overwrite_replaces_the_run(earlier_run, mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert quiet_main([*TRAIN, "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    first = (out / "model.npz").read_bytes()
    assert quiet_main([*TRAIN, "--seed", "5", "--data-dir", str(mnist_dir), "--out", str(out), "--overwrite"]) == 0
    assert (out / "model.npz").read_bytes() != first


def test_resume_into_another_existing_run_is_refused(earlier_run, mnist_dir, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    argv = ["train", "--resume", str(earlier_run), "--epochs", "1", "--data-dir", str(mnist_dir), "--out", str(other)]
    assert quiet_main(argv) == 1
    assert f"--out {other} already holds a previous run (notes.txt)" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "mine"


def paths(out, *extra):
    return ["compare", "paths", "--steps", "5", "--out", str(out), *extra]


def test_compare_refuses_to_replace_results_unasked(tmp_path, capsys):
    assert quiet_main(paths(tmp_path)) == 0
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert quiet_main(paths(tmp_path, "--steps", "9")) == 1
    assert f"--out {tmp_path} already holds a previous run" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    assert quiet_main(paths(tmp_path, "--steps", "9", "--overwrite")) == 0


def test_a_second_command_into_a_locked_out_is_refused(tmp_path, capsys):
    (tmp_path / ".fastdl.lock").touch()
    with open(tmp_path / ".fastdl.lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running fastdl command holds
        assert quiet_main(paths(tmp_path)) == 1
        assert "another fastdl command is writing into it" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == [".fastdl.lock"]
    assert quiet_main(paths(tmp_path)) == 0  # released: the next command goes ahead


def test_stale_temporaries_of_killed_writes_are_removed(earlier_run, mnist_dir, tmp_path):
    out = tmp_path / "run"
    assert quiet_main([*TRAIN, "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    stale = [out / ".model.npz.k3j_a9x2.npz", out / ".metrics.csv.0a1b2c3d.csv"]
    for path in stale:
        path.write_bytes(bytes(1000))
    keep = out / ".model.npz.notes"  # not a name atomic_path gives
    keep.write_text("mine")
    assert quiet_main(["train", "--resume", str(out), "--epochs", "1", "--data-dir", str(mnist_dir)]) == 0
    assert not any(path.exists() for path in stale) and keep.read_text() == "mine"

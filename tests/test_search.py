"""fastdl search: the book's ch06 trials, serial and on a real local Dask cluster."""
import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from fastdl.app import search as S
from fastdl.app.cli import main
from fastdl.datasets import load_mnist
from fastdl.networks import MultiLayerNet
from fastdl.trainer import Trainer
from tests.book.hyperparameter_optimization import hyperparameter_optimization

TINY = {"trials": 4, "epochs": 3, "train_size": 300, "space": S.BOOK["space"], "optimizer": "sgd", "seed": 7,
        "dtype": "float64"}  # the book's, for its numbers


def run(settings, out, mnist_dir, **kw):
    return S.search(settings, out, mnist_dir, echo=lambda line: None, **kw)


def curves(records):
    return {k: (r["params"], r["status"], r["val"], r["train"]) for k, r in records.items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory, mnist_dir):
    return run(TINY, tmp_path_factory.mktemp("serial"), mnist_dir, engine="serial")


def test_same_trials_as_the_books_script(serial, mnist_dir):
    """Same seed: the book's hyperparameters bit for bit, its curves up to float rounding."""
    (x, t), _ = load_mnist(normalize=True, data_dir=mnist_dir)
    book = hyperparameter_optimization(x, t, TINY["seed"], TINY["trials"], TINY["epochs"], TINY["train_size"])
    for k, (lr, weight_decay, val, train) in enumerate(book):
        r = serial[k]
        assert r["status"] == "ok"
        assert (r["params"]["lr"], r["params"]["weight_decay"]) == (lr, weight_decay)
        np.testing.assert_allclose(r["val"], val, atol=1e-12)
        np.testing.assert_allclose(r["train"], train, atol=1e-12)


def test_float32_trials_are_the_books_to_a_sample_or_two(mnist_dir, tmp_path):
    """fastdl's default dtype: the book's hyperparameters, and accuracies (of 60 validation, 240 training
    samples) at most two samples from the book's float64 ones."""
    (x, t), _ = load_mnist(normalize=True, data_dir=mnist_dir)
    book = hyperparameter_optimization(x, t, TINY["seed"], TINY["trials"], TINY["epochs"], TINY["train_size"])
    records = run(dict(TINY, dtype="float32"), tmp_path, mnist_dir, engine="serial")
    for k, (lr, weight_decay, val, train) in enumerate(book):
        assert (records[k]["params"]["lr"], records[k]["params"]["weight_decay"]) == (lr, weight_decay)
        np.testing.assert_allclose(records[k]["val"], val, atol=2 / 60 + 1e-12)
        np.testing.assert_allclose(records[k]["train"], train, atol=2 / 240 + 1e-12)


def test_replayed_generator_state_is_the_trials_own(mnist_dir):
    """The book's Trainer consumes exactly what plan_trials replays, so the next trial starts where the book's would."""
    permutation, plan = S.plan_trials(dict(TINY, trials=2))
    plan = list(plan)
    data = S.split_data(TINY, permutation, mnist_dir)
    before = np.random.get_state()
    np.random.set_state(plan[0]["state"])
    Trainer(MultiLayerNet(784, [100] * 6, 10), *data, epochs=TINY["epochs"], verbose=False).train()
    rs = np.random.RandomState()
    rs.set_state(np.random.get_state())
    np.random.set_state(before)
    for name, kind, lo, hi in TINY["space"]:
        assert S._draw(rs, kind, lo, hi) == plan[1]["params"][name]
    assert all(np.array_equal(a, b) for a, b in zip(rs.get_state(), plan[1]["state"]))


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")  # CI installs fastdl[distributed]
    with S.start_local_cluster(2, host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_equals_serial_trial_by_trial(serial, cluster, tmp_path, mnist_dir):
    records = run(TINY, tmp_path, mnist_dir, client=cluster)
    assert curves(records) == curves(serial)
    assert len({r["worker"] for r in records.values()}) == 2
    rows = list(csv.DictReader(open(tmp_path / "trials.csv")))
    assert [int(r["trial"]) for r in rows] == list(range(TINY["trials"]))
    assert [float(r["lr"]) for r in rows] == [serial[k]["params"]["lr"] for k in range(TINY["trials"])]
    assert (tmp_path / "best_curves.png").stat().st_size and (tmp_path / "scatter.png").stat().st_size
    assert json.loads((tmp_path / "results.json").read_text()) == [records[k] for k in sorted(records)]



def test_search_starts_and_closes_its_own_cluster(serial, tmp_path, mnist_dir):
    """Without a client the search starts a LocalCluster while it loads the data, and has closed it on return."""
    pytest.importorskip("distributed")
    before = set(multiprocessing.active_children())
    records = run(TINY, tmp_path, mnist_dir, workers=2)
    assert curves(records) == curves(serial)
    assert len({r["worker"] for r in records.values()}) == 2
    assert set(multiprocessing.active_children()) <= before

def test_the_command_on_a_cold_cache_without_thread_settings(tmp_path, mnist_dir):
    """A user's shell that sets no NUMBA_NUM_THREADS, and an empty Numba cache: both workers compile the
    kernels at once into the same cache, each with one thread, and every trial runs."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    subprocess.run([sys.executable, "-m", "fastdl", "search", "--trials", "2", "--epochs", "2", "--workers", "2",
                    "--data-dir", str(mnist_dir), "--out", str(tmp_path / "out")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    rows = list(csv.DictReader(open(tmp_path / "out" / "trials.csv")))
    assert [(r["trial"], r["status"], r["error"]) for r in rows] == [("0", "ok", ""), ("1", "ok", "")]


def test_workers_load_the_cached_kernels(serial, cluster, tmp_path, mnist_dir):
    """The serial trials filled the cache: no worker compiles a kernel, Numba's cache serves every one."""
    run(TINY, tmp_path, mnist_dir, client=cluster)
    def misses():
        import fastdl.kernels.layers as layers
        import fastdl.kernels.optim as optim
        found = [v for m in (layers, optim) for v in vars(m).values() if hasattr(v, "stats")]
        return sum(sum(d.stats.cache_misses.values()) for d in found), sum(
            sum(d.stats.cache_hits.values()) for d in found)
    for miss, hit in cluster.run(misses).values():
        assert miss == 0 and hit > 0


def test_killed_worker_trial_is_retried(serial, cluster, tmp_path, mnist_dir):
    settings = dict(TINY, epochs=30)
    pids = cluster.run(os.getpid)
    killed = []

    def kill_one():
        while not killed:
            busy = [w for w, keys in cluster.processing().items() if keys]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.05)
    threading.Thread(target=kill_one, daemon=True).start()
    records = run(settings, tmp_path, mnist_dir, client=cluster)
    assert killed
    assert sorted(records) == list(range(TINY["trials"]))
    reference = run(settings, tmp_path / "serial", mnist_dir, engine="serial")
    for k, r in records.items():
        assert r["status"] == "ok" and r["val"] == reference[k]["val"] or r["status"] == "failed"
    cluster.wait_for_workers(2, timeout=60)


def test_resume_runs_only_the_missing_trials(serial, tmp_path, mnist_dir):
    records = {k: serial[k] for k in (0, 2)}
    S.write_results(tmp_path, TINY, records, {})
    seen = []
    resumed = S.search(TINY, tmp_path, mnist_dir, engine="serial", echo=seen.append)
    assert seen[0] == "resuming: 2 of 4 trials already done, 2 to run"
    assert curves(resumed) == curves(serial)
    assert len(json.loads((tmp_path / "results.json").read_text())) == 4


@pytest.mark.parametrize("optimizer, space, status, error", [
    ("sgd", [["lr", "log", 1e3, 1e4]], "diverged", "loss"),           # the loss overflows
    ("momentum", [["momentum", "lin", 2.0, 3.0]], "failed", "momentum must be in [0, 1)"),
    # Two log axes: the scatter of no point still spans the searched ranges.
    ("momentum", [["lr", "log", 1e-3, 1e-2], ["momentum", "log", 2.0, 3.0]], "failed", "momentum must be in [0, 1)"),
])
def test_failed_trial_is_recorded_and_the_search_goes_on(optimizer, space, status, error, tmp_path, mnist_dir):
    settings = dict(TINY, optimizer=optimizer, space=space, trials=2)
    lines = []
    records = S.search(settings, tmp_path, mnist_dir, engine="serial", echo=lines.append)
    assert [r["status"] for r in records.values()] == [status, status]
    assert lines[-1] == f"no trial finished: 2 {status} (trials.csv has their errors)"
    assert not any(line.startswith("Best-") for line in lines)  # a diverged trial's last accuracy is no result
    assert error in records[1]["error"]
    rows = list(csv.DictReader(open(tmp_path / "trials.csv")))
    assert [r["status"] for r in rows] == [status, status]
    assert (tmp_path / "best_curves.png").exists() and (tmp_path / "scatter.png").exists()


def test_a_diverged_trial_is_not_ranked_above_finished_ones():
    """Its curve stops at the epoch before the NaN: that accuracy is not where its training ended."""
    records = {0: {"trial": 0, "status": "ok", "val": [0.3, 0.5]}, 1: {"trial": 1, "status": "diverged", "val": [0.9]},
               2: {"trial": 2, "status": "ok", "val": [0.4, 0.6]}, 3: {"trial": 3, "status": "failed", "val": []}}
    assert [r["trial"] for r in S.ranked(records)] == [2, 0]


@pytest.mark.parametrize("argv, message", [
    (["--space", "lr=log:0:1"], "log bounds must be > 0"),
    (["--space", "lr=log:1e-2:1e-6"], "LO < HI"),
    (["--space", "beta1=log:0.5:0.9"], "--space beta1: not an option of sgd"),
    (["--space", "lr"], "expected NAME=log:LO:HI"),
    (["--optimizer", "lbfgs"], "--optimizer 'lbfgs'"),
    (["--trials", "0"], "--trials must be >= 1"),
    (["--train-size", "70000"], "MNIST has 60000"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
    (["--resume", "nowhere"], "no search.json"),
])
def test_bad_arguments_exit_2_before_anything_starts(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        engine = [] if "--scheduler" in argv or "--workers" in argv else ["--serial"]
        main(["search", *argv, *engine])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_search_from_before_dtype_resumes_in_float64(tmp_path, capsys):
    """search.json without "dtype" was written by float64 searches: --resume keeps them float64."""
    S.write_json(tmp_path / "search.json", {k: v for k, v in TINY.items() if k != "dtype"})
    with pytest.raises(SystemExit) as exc:
        main(["search", "--resume", str(tmp_path), "--dtype", "float32", "--serial"])
    assert exc.value.code == 2 and "--dtype float32 differs from the saved float64" in capsys.readouterr().err


def test_an_existing_search_asks_for_resume(tmp_path, capsys):
    S.write_json(tmp_path / "search.json", TINY)
    with pytest.raises(SystemExit) as exc:
        main(["search", "--out", str(tmp_path), "--serial"])
    assert exc.value.code == 2 and f"--resume {tmp_path}" in capsys.readouterr().err


def test_missing_dask_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(SystemExit) as exc:
        main(["search", "--out", str(tmp_path / "out")])
    assert exc.value.code == 2 and "pip install 'fastdl[distributed]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_interrupted_search_keeps_finished_trials_and_resumes(serial, tmp_path, mnist_dir):
    def interrupt_after_two(line):
        if line.startswith("[2/"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        S.search(TINY, tmp_path, mnist_dir, engine="serial", echo=interrupt_after_two)
    kept = json.loads((tmp_path / "results.json").read_text())
    assert [r["trial"] for r in kept] == [0, 1]
    assert len(list(csv.DictReader(open(tmp_path / "trials.csv")))) == 2
    assert main(["search", "--resume", str(tmp_path), "--serial", "--data-dir", str(mnist_dir)]) == 0
    resumed = {r["trial"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert curves(resumed) == curves(serial)


def test_resume_may_grow_the_search_not_shrink_it(serial, tmp_path, mnist_dir, capsys):
    S.write_json(tmp_path / "search.json", dict(TINY, trials=2))
    S.write_results(tmp_path, TINY, {k: serial[k] for k in (0, 1)}, {})
    with pytest.raises(SystemExit) as exc:
        main(["search", "--resume", str(tmp_path), "--trials", "1", "--serial"])
    assert exc.value.code == 2 and "would drop trials" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["search", "--resume", str(tmp_path), "--seed", "8", "--serial"])
    assert exc.value.code == 2 and "--seed 8 differs from the saved 7" in capsys.readouterr().err
    assert main(["search", "--resume", str(tmp_path), "--trials", "4", "--serial", "--data-dir", str(mnist_dir)]) == 0
    grown = {r["trial"]: r for r in json.loads((tmp_path / "results.json").read_text())}
    assert curves(grown) == curves(serial)


def test_workers_reuse_heap_buffers_and_skip_matplotlib(cluster):
    """The local cluster's workers keep glibc's heap reuse (not Dask's trim threshold, which costs a
    page fault per 4 KiB of every batch) and do not import matplotlib to run trials."""
    def worker_state():
        import importlib
        import sys
        importlib.import_module("fastdl.app.search")
        return os.environ.get("MALLOC_MMAP_THRESHOLD_"), "matplotlib" in sys.modules
    assert set(cluster.run(worker_state).values()) == {(str(1 << 24), False)}

"""``fastdl search``: the book's ch06 random hyperparameter search, trials run in parallel on Dask.

The book's ``ch06/hyperparameter_optimization.py`` with ``np.random.seed(S)``
added at its top and ``fastdl search --seed S`` draw the same data split and,
trial by trial, the same hyperparameters (bit for bit), initial weights and
mini-batches: the book's trials share one global generator whose draws per
trial do not depend on the training's numbers (``randn`` for each weight
matrix, then ``np.random.choice`` once per step), so the driver replays those
draws (cheap) and hands each trial the generator state it would have had.
A trial is thus a function of (its hyperparameters, that state) alone, and a
parallel search equals a serial one trial by trial.

Files in ``--out``: ``search.json`` (the settings), ``results.json`` (every
finished trial with its curves) and ``trials.csv``, both rewritten whole
(atomically) after each trial, then ``best_curves.png`` (the book's 4x5 figure
of the best 20) and ``scatter.png``.
"""
import argparse
import contextlib
from collections import Counter
import inspect
import json
import math
import os
import socket
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..datasets import load_mnist, normalize_images
from ..diagnostics import NonFiniteLossError, check_finite_loss
from ..networks import MultiLayerNet
from ..optimizers import OPTIMIZERS, get_optimizer
from .report import atomic_path, new_figure, prepare_out_dir, save_figure, write_csv, write_json

BOOK = {
    "trials": 100, "epochs": 50, "train_size": 500, "validation_rate": 0.2, "batch_size": 100,
    "hidden_size_list": [100] * 6, "optimizer": "sgd",
    # The book draws weight decay first, then lr: the order is part of "the same trials".
    "space": [["weight_decay", "log", 1e-8, 1e-4], ["lr", "log", 1e-6, 1e-2]],
}
NETWORK_SPACE = {"weight_decay": "weight_decay_lambda"}
"""Searchable network options: the CLI name -> MultiLayerNet's argument (``weight_decay`` is the
book's L2 term, also with AdamW, whose own decoupled decay keeps its default)."""
GRAPH_DRAW_NUM = 20
INSTALL_HINT = "fastdl search needs Dask distributed: pip install 'fastdl[distributed]' (or use --serial)"
SETTINGS = ("trials", "epochs", "train_size", "space", "optimizer", "seed", "dtype")
DEFAULT_DTYPE = "float32"
"""fastdl's default, as ``fastdl train``'s: a float32 trial took half the CPU time of a float64 one (the
book's) and the same 6 book trials ended at the same validation accuracies. ``--dtype float64`` gives
the book's numbers; a search.json from before ``--dtype`` was float64."""
CSV_FIXED = ("trial", "status", "final_val_acc", "best_val_acc", "final_train_acc", "epochs", "seconds", "worker",
             "error")

# fastdl's networks draw from NumPy's global generator, so two trials in the threads of one worker
# process must not interleave: each holds this lock for its whole run.
_GLOBAL_RNG = threading.Lock()


class SearchError(ValueError):
    """A setting that cannot run (the CLI exits with status 2 before anything starts)."""


# ---------------------------------------------------------------- settings and the trial plan

def searchable(optimizer):
    """The names ``--space`` accepts with ``optimizer``: its constructor's arguments and the network's."""
    cls = OPTIMIZERS[optimizer]
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    return [*names, *NETWORK_SPACE]


def parse_space(text):
    """``name=log:lo:hi`` (10 ** uniform(log10 lo, log10 hi)) or ``name=lin:lo:hi`` -> [name, kind, lo, hi]."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or not name or len(parts) != 3 or parts[0] not in ("log", "lin"):
        raise argparse.ArgumentTypeError(f"expected NAME=log:LO:HI or NAME=lin:LO:HI (e.g. lr=log:1e-6:1e-2), "
                                         f"got {text!r}")
    try:
        lo, hi = float(parts[1]), float(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: bounds must be numbers, got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise argparse.ArgumentTypeError(f"{name}: need finite LO < HI, got {text!r}")
    if parts[0] == "log" and lo <= 0:
        raise argparse.ArgumentTypeError(f"{name}: log bounds must be > 0, got {text!r}")
    return [name, parts[0], lo, hi]


def check_settings(settings):
    """Raise :class:`SearchError` naming the first setting that cannot run."""
    optimizer = settings["optimizer"]
    if optimizer not in OPTIMIZERS:
        raise SearchError(f"--optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    allowed = searchable(optimizer)
    names = [dim[0] for dim in settings["space"]]
    for name in names:
        if name not in allowed:
            raise SearchError(f"--space {name}: not an option of {optimizer} or the network; "
                              f"searchable: {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise SearchError(f"--space names a hyperparameter twice: {names}")
    for key, minimum in (("trials", 1), ("epochs", 1), ("train_size", 2)):
        if settings[key] < minimum:
            raise SearchError(f"--{key.replace('_', '-')} must be >= {minimum}, got {settings[key]}")
    if settings["train_size"] > 60000:
        raise SearchError(f"--train-size {settings['train_size']}: MNIST has 60000 training samples")
    if not 0 <= settings["seed"] < 2 ** 32:
        raise SearchError(f"--seed must be in [0, 2**32), got {settings['seed']}")


def _draw(rs, kind, lo, hi):
    if kind == "log":
        # The book's own expression: 10 ** np.random.uniform(-8, -4).
        return 10 ** rs.uniform(math.log10(lo), math.log10(hi))
    return rs.uniform(lo, hi)


def plan_trials(settings):
    """The data permutation and, lazily, every trial's hyperparameters and generator state.

    Returns
    -------
    permutation : (train_size,) int array, the book's ``shuffle_dataset`` order.
    trials : iterator of dict with ``trial`` (0-based), ``params`` ({name: float}) and ``state``
        (the ``np.random.get_state()`` tuple the trial starts from), each drawn as it is taken, so
        a search hands out the first trials while it replays the draws of the next.

    The book's script with ``np.random.seed(seed)`` at its top consumes the
    global generator as replayed here: ``permutation`` once, then per trial the
    space's draws, ``randn`` per weight matrix and ``choice`` per step
    (``RandomState.choice(n, size)`` is ``randint(0, n, size)``, which skips its argument checks).
    """
    rs = np.random.RandomState(settings["seed"])
    permutation = rs.permutation(settings["train_size"])
    return permutation, _trial_draws(rs, settings)


def _trial_draws(rs, settings):
    n_train = settings["train_size"] - int(settings["train_size"] * BOOK["validation_rate"])
    sizes = [784, *BOOK["hidden_size_list"], 10]
    max_iter = int(settings["epochs"] * max(n_train / BOOK["batch_size"], 1))
    for k in range(settings["trials"]):
        params = {name: _draw(rs, kind, lo, hi) for name, kind, lo, hi in settings["space"]}
        yield {"trial": k, "params": params, "state": rs.get_state()}
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            rs.standard_normal((fan_in, fan_out))
        for _ in range(max_iter):
            rs.randint(0, n_train, BOOK["batch_size"])


def split_data(settings, permutation, data_dir=None):
    """The book's data: the first train_size MNIST training samples, shuffled; the first 20% validate."""
    # Only the samples used are normalized (all 60000 took 0.27 s), then converted once to the
    # network's dtype instead of in every batch (the book's float32 images meet float64 weights, so
    # with --dtype float64 the numbers are the book's).
    (x, t), _ = load_mnist(normalize=False, data_dir=data_dir)
    x, t = x[:settings["train_size"]][permutation], t[:settings["train_size"]][permutation]
    x = normalize_images(x).astype(settings["dtype"])
    n_val = int(settings["train_size"] * BOOK["validation_rate"])
    if n_val < 1:
        raise SearchError(f"--train-size {settings['train_size']} leaves no validation sample (20% is held out)")
    return x[n_val:], t[n_val:], x[:n_val], t[:n_val]


# ---------------------------------------------------------------- one trial

def _one_thread():
    """One Numba and one BLAS thread in this process, also on workers started without our environment."""
    import numba
    numba.set_num_threads(1)
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)


def train(network, optimizer, x_train, t_train, x_val, t_val, epochs, record):
    """The book's ``Trainer(..., epochs, mini_batch_size=100, verbose=False).train()``, curves into ``record``.

    The same batches, updates and per-epoch accuracies (float-modulo epoch
    boundaries), without the two passes the search never reads: the loss of
    each batch after its update and the final accuracy. A step whose loss
    (before its update) is NaN or infinite, or parameters that are not finite
    at an evaluation, stop the trial with NonFiniteLossError.
    """
    batch_size = BOOK["batch_size"]
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / batch_size, 1)
    for i in range(int(epochs * iter_per_epoch)):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        grads = network.gradient(x_batch, t_train[batch_mask])
        check_finite_loss(network.last_layer.loss, i + 1, optimizer, x_batch)
        optimizer.update(network.params, grads)
        if i % iter_per_epoch == 0:
            if not np.isfinite(network.params.flat).all():
                raise NonFiniteLossError(f"step {i + 1}: parameters are not finite ({type(optimizer).__name__}, "
                                         f"lr={getattr(optimizer, 'lr', None)})")
            record["train"].append(float(network.accuracy(x_train, t_train)))
            record["val"].append(float(network.accuracy(x_val, t_val)))


def run_trial(trial, params, state, data, settings):
    """Train the book's ch06 network once; a dict for results.json (never raises for a bad trial).

    Parameters
    ----------
    trial : int
    params : dict {name: float}, the trial's hyperparameters.
    state : tuple, ``np.random.get_state()`` the trial starts from (see :func:`plan_trials`).
    data : (x_train (n, 784) of the dtype, t_train (n,) uint8, x_val, t_val)
    settings : dict with ``epochs``, ``optimizer`` and ``dtype``.

    ``status`` is "ok", "diverged" (a NaN or infinite loss stopped the training;
    the curves so far are kept) or "failed" (any other error, in ``error``).
    """
    x_train, t_train, x_val, t_val = data
    net_args = {NETWORK_SPACE[k]: v for k, v in params.items() if k in NETWORK_SPACE}
    opt_args = {k: v for k, v in params.items() if k not in NETWORK_SPACE}
    record = {"trial": trial, "params": params, "status": "ok", "error": "",
              "worker": f"{socket.gethostname()}:{os.getpid()}", "val": [], "train": []}
    start = time.perf_counter()
    with _GLOBAL_RNG, _one_thread():
        saved = np.random.get_state()
        np.random.set_state(state)
        try:
            network = MultiLayerNet(784, list(BOOK["hidden_size_list"]), 10, dtype=settings["dtype"], **net_args)
            optimizer = get_optimizer(settings["optimizer"], **opt_args)
            train(network, optimizer, x_train, t_train, x_val, t_val, settings["epochs"], record)
        except NonFiniteLossError as exc:
            record.update(status="diverged", error=str(exc))
        except Exception as exc:  # a bad trial is a result, not the end of the search
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            np.random.set_state(saved)
    record["seconds"] = time.perf_counter() - start
    return record


def failed_record(trial, params, error):
    """The record of a trial the engine lost (its worker died too often)."""
    return {"trial": trial, "params": params, "status": "failed", "error": error, "worker": "", "seconds": 0.0,
            "val": [], "train": []}


# ---------------------------------------------------------------- engines

def _worker_env():
    env = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    import numba
    if numba.config.CACHE_DIR:  # the driver's cache, which its workers then share
        env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR
    return env


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise SearchError(INSTALL_HINT) from None
    return distributed


LOCAL_CLUSTER_CONFIG = {
    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's
    # dynamic mmap threshold: every array of 128 KiB or more (each batch, each evaluation's
    # activations) is then a fresh mmap faulted in page by page, ~70,000 page faults and +25% CPU per
    # trial (measured). Instead arrays up to 16 MiB come from the heap and are reused, and the heap
    # gives back what exceeds 32 MiB free.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1 << 25,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 1 << 24,
    # The workers' statistical profiler (every 10 ms) and the polls of memory (100 ms), system
    # (500 ms) and event loop (20 ms) cost a 2-worker cluster ~70 ms of CPU a second, taken from the
    # trials, for a dashboard nobody opens; at these intervals ~13 ms.
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
    # Each worker imports the trial's code as it starts, while the driver still loads the data,
    # instead of when the first trial reaches it.
    "distributed.worker.preload": [__name__],
    # Workers are forks of one server process that imported Dask once (see start_local_cluster), not
    # fresh interpreters that each import it again. The server starts with the pre-spawn environment
    # above, so its forks keep glibc's settings.
    "distributed.worker.multiprocessing-method": "forkserver",
}
"""Dask settings of the LocalCluster that ``fastdl search`` starts (a cluster at ``--scheduler`` keeps its own)."""


def start_local_cluster(workers, **kwargs):
    """A new LocalCluster of ``workers`` one-thread worker processes for trials (``kwargs`` go to it)."""
    import dask
    distributed = import_distributed()
    # The nannies read the settings when they are created and keep them for restarted workers, except
    # the start method, read at each start: a worker restarted later starts as Dask's configuration
    # says (spawned by default).
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        # The fork server imports Dask alone (Dask's own list adds every optional package it finds
        # installed). Not the trial's code: Numba, imported there with this process's environment,
        # would refuse the workers' NUMBA_NUM_THREADS=1 and fail every trial.
        distributed.utils.get_mp_context().set_forkserver_preload(["distributed"])
        # No dashboard; the scheduler's health and metrics routes take a free local port, not 8787,
        # which another cluster may hold (Dask would warn on every search).
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, env=_worker_env(),
                                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                                        **kwargs)


def connect(scheduler=None, workers=None):
    """(client, cluster): a client of the cluster at ``scheduler`` (cluster None), else of a new local one."""
    distributed = import_distributed()
    if scheduler:
        return distributed.Client(scheduler), None
    cluster = start_local_cluster(workers)
    try:
        return distributed.Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def disconnect(connecting):
    """Close the client and the cluster that the future ``connecting`` (of :func:`connect`) gave."""
    try:
        client, cluster = connecting.result()
    except Exception:  # raised already where the search waited for it
        return
    client.close()
    if cluster is not None:
        cluster.close()


def run_serial(todo, data, settings):
    for item in todo:
        yield run_trial(item["trial"], item["params"], item["state"], data, settings)


def run_dask(client, todo, data, settings):
    """Yield each trial's record as it finishes; a trial whose workers kept dying is recorded as failed.

    Each trial goes to the workers as soon as ``todo`` draws it, so they train the first trials while
    this process replays the draws of the rest. Each worker compiles or loads the kernels on its first
    trial: warming the cache here first kept both cores waiting for it (0.35 s), and Numba writes a
    cache file under a temporary name and renames it, so workers compiling at once on a cold cache
    do not corrupt it.
    """
    distributed = import_distributed()
    shared = client.scatter(data, broadcast=True)
    futures = {}
    finished = distributed.as_completed()
    try:
        for item in todo:
            future = client.submit(run_trial, item["trial"], item["params"], item["state"], shared, settings,
                                   pure=False)
            futures[future] = item
            finished.add(future)
        for future in finished:
            item = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # KilledWorker: the scheduler already retried on other workers
                yield failed_record(item["trial"], item["params"], f"{type(exc).__name__}: {exc}")
    finally:
        client.cancel(list(futures))


# ---------------------------------------------------------------- results

def _label(params):
    """The book's key: "lr:<lr>, weight decay:<wd>" (lr first), other names after."""
    names = sorted(params, key=lambda n: (n != "lr", n != "weight_decay", n))
    return ", ".join(f"{n.replace('_', ' ')}:{params[n]}" for n in names)


def summarize(record):
    val = record["val"]
    return {"final_val_acc": val[-1] if val else "", "best_val_acc": max(val) if val else "",
            "final_train_acc": record["train"][-1] if record["train"] else "", "epochs": len(val)}


def write_results(out, settings, records, encoded):
    """Rewrite results.json and trials.csv (atomically) with ``records`` {trial: record}.

    ``encoded`` {trial: text} keeps each record's JSON between calls (a record never changes once
    finished): encoding every curve again after each trial took 0.84 s of CPU per 100 trials.
    """
    names = [dim[0] for dim in settings["space"]]
    ordered = sorted(records.values(), key=lambda r: r["trial"])
    rows = [{"trial": r["trial"], "status": r["status"], **r["params"], **summarize(r),
             "seconds": round(r["seconds"], 3), "worker": r["worker"], "error": r["error"]} for r in ordered]
    for r in ordered:
        if r["trial"] not in encoded:
            encoded[r["trial"]] = textwrap.indent(json.dumps(r, indent=2), "  ")
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text("[\n" + ",\n".join(encoded[r["trial"]] for r in ordered) + "\n]\n")
    write_csv(out / "trials.csv", rows, [*CSV_FIXED[:2], *names, *CSV_FIXED[2:]])


def ranked(records):
    """The trials that finished, best final validation accuracy first (the book's order).

    A diverged trial keeps its curves up to the epoch before the NaN, but is not ranked: that last
    accuracy is not the result of its training.
    """
    return sorted((r for r in records.values() if r["status"] == "ok" and r["val"]), key=lambda r: r["val"][-1],
                  reverse=True)


def plot_best(path, records):
    """The book's figure: validation (solid) and training (dashed) accuracy of the best 20, 4x5 panels.

    Unlike the book, each panel's dashed curve is that trial's own (the book
    plots the last trial's training curve in every panel).
    """
    best = ranked(records)[:GRAPH_DRAW_NUM]
    # The book's plain grid: a layout engine doubled the figure's time (0.69 s against 0.33 s).
    fig, axes = new_figure(int(np.ceil(GRAPH_DRAW_NUM / 5)), 5, figsize=(12, 9), layout=None)
    for i, ax in enumerate(axes.flat):
        if i >= len(best):
            ax.set_axis_off()
            continue
        r = best[i]
        ax.set_title(f"Best-{i + 1}")
        ax.set_ylim(0.0, 1.0)
        if i % 5:
            ax.set_yticks([])
        ax.set_xticks([])
        x = np.arange(len(r["val"]))
        ax.plot(x, r["val"])
        ax.plot(x, r["train"], "--")
    save_figure(fig, path)


def plot_scatter(path, settings, records):
    """Final validation accuracy over the first two searched hyperparameters (log axes for log ranges).

    The axes span the searched ranges, so the figure is drawn also when no trial finished.
    """
    space = settings["space"]
    done = ranked(records)
    fig, axes = new_figure()
    ax = axes[0, 0]
    acc = [r["val"][-1] for r in done]
    xs = [r["params"][space[0][0]] for r in done]
    if len(space) >= 2:
        ys = [r["params"][space[1][0]] for r in done]
        points = ax.scatter(xs, ys, c=acc, cmap="viridis", vmin=0.0, vmax=1.0)
        fig.colorbar(points, ax=ax, label="final validation accuracy")
        ax.set_ylabel(space[1][0])
        if space[1][1] == "log":
            ax.set_yscale("log")
        ax.set_ylim(space[1][2], space[1][3])
    else:
        ax.scatter(xs, acc)
        ax.set_ylabel("final validation accuracy")
        ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(space[0][0])
    if space[0][1] == "log":
        ax.set_xscale("log")
    ax.set_xlim(space[0][2], space[0][3])
    save_figure(fig, path)


# ---------------------------------------------------------------- the search

def search(settings, out, data_dir=None, engine="dask", scheduler=None, workers=None, client=None,
           echo=print):
    """Run the trials of ``settings`` missing from ``out``; return all records {trial: record}.

    ``engine`` is "dask" (``client``, else a cluster at ``scheduler``, else a
    LocalCluster of ``workers`` processes, see :data:`LOCAL_CLUSTER_CONFIG`) or
    "serial" (this process). Each finished trial is written at once, so an
    interrupted search keeps it.
    """
    out = prepare_out_dir(out)
    records = {}
    if (out / "results.json").exists():
        records = {r["trial"]: r for r in json.loads((out / "results.json").read_text())
                   if r["trial"] < settings["trials"]}
    with contextlib.ExitStack() as stack:
        if engine != "serial" and client is None and len(records) < settings["trials"]:
            # The workers start (a second or two of imports) while this process loads the data.
            connecting = stack.enter_context(ThreadPoolExecutor(1)).submit(connect, scheduler, workers)
            stack.callback(disconnect, connecting)
        permutation, plan = plan_trials(settings)
        data = split_data(settings, permutation, data_dir)
        write_json(out / "search.json", settings)
        todo = (item for item in plan if item["trial"] not in records)
        missing = settings["trials"] - len(records)
        if records:
            echo(f"resuming: {len(records)} of {settings['trials']} trials already done, {missing} to run")
        if engine == "serial" or not missing:
            results = run_serial(todo, data, settings)
        else:
            if client is None:
                client, _ = connecting.result()
            nworkers = len(client.scheduler_info()["workers"])
            echo(f"{missing} trials on {nworkers} Dask workers ({client.scheduler.address})")
            results = run_dask(client, todo, data, settings)
        start = time.perf_counter()
        encoded = {}
        for record in results:
            records[record["trial"]] = record
            write_results(out, settings, records, encoded)
            echo(progress_line(record, records, settings["trials"], time.perf_counter() - start))
        # The cluster shuts down (a second or two of waiting on its processes) while this one plots.
        closing = threading.Thread(target=stack.pop_all().close)
        closing.start()
    plot_best(out / "best_curves.png", records)
    plot_scatter(out / "scatter.png", settings, records)
    closing.join()
    echo("=========== Hyper-Parameter Optimization Result ===========")
    for i, r in enumerate(ranked(records)[:GRAPH_DRAW_NUM]):
        echo(f"Best-{i + 1}(val acc:{r['val'][-1]}) | {_label(r['params'])}")
    unfinished = Counter(r["status"] for r in records.values() if r["status"] != "ok")
    if unfinished:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(unfinished.items()))
        lead = "not ranked" if ranked(records) else "no trial finished"
        echo(f"{lead}: {counts} (trials.csv has their errors)")
    return records


def progress_line(record, records, total, elapsed):
    best = ranked(records)
    head = f"[{len(records)}/{total} {elapsed:.0f}s] trial {record['trial']}: "
    if record["status"] == "ok":
        head += f"val acc:{record['val'][-1]} | {_label(record['params'])}"
    else:
        head += f"{record['status']} ({record['error']}) | {_label(record['params'])}"
    if best:
        head += f"  -- best so far {best[0]['val'][-1]} (trial {best[0]['trial']})"
    return head


# ---------------------------------------------------------------- command line

def add_arguments(parser):
    b = BOOK
    parser.add_argument("--trials", type=int, help=f"number of random trials (default: the book's {b['trials']})")
    parser.add_argument("--epochs", type=int, help=f"epochs per trial (default: {b['epochs']})")
    parser.add_argument("--train-size", type=int, help=f"MNIST training samples used, 20%% of them for "
                        f"validation (default: {b['train_size']})")
    parser.add_argument("--space", type=parse_space, action="append", metavar="NAME=log:LO:HI",
                        help="a searched hyperparameter, drawn in the order given (repeatable; default: the "
                             "book's weight_decay=log:1e-8:1e-4 lr=log:1e-6:1e-2)")
    parser.add_argument("--optimizer", type=str.lower, help=f"default: {b['optimizer']}")
    parser.add_argument("--seed", type=int, help="seed of NumPy's global generator, as np.random.seed(SEED) at "
                        "the top of the book's script (default: 0)")
    parser.add_argument("--dtype", choices=("float32", "float64"),
                        help=f"the networks' dtype (default: {DEFAULT_DTYPE}, half a float64 trial's time; "
                             f"float64 gives the book's numbers)")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: runs/search)")
    parser.add_argument("--resume", metavar="DIR", help="run the trials missing from DIR, with DIR's settings "
                        "(--trials may grow the search)")
    parser.add_argument("--data-dir", metavar="DIR", help="directory with the MNIST IDX .gz files")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    engine.add_argument("--workers", type=int, help="worker processes of the local Dask cluster "
                        "(default: all cores)")
    engine.add_argument("--serial", action="store_true", help="run the trials one by one in this process "
                        "(no Dask)")


def resolve(args):
    """Settings and output directory from the arguments; :class:`SearchError` for any that cannot run."""
    given = {"trials": args.trials, "epochs": args.epochs, "train_size": args.train_size, "space": args.space,
             "optimizer": args.optimizer, "seed": args.seed, "dtype": args.dtype}
    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise SearchError("--resume DIR writes into DIR: drop --out")
        saved_path = Path(args.resume) / "search.json"
        if not saved_path.is_file():
            raise SearchError(f"--resume {args.resume}: no search.json there")
        settings = {"dtype": "float64", **json.loads(saved_path.read_text())}
        for key, value in given.items():
            if value is not None and value != settings[key] and key != "trials":
                raise SearchError(f"--resume {args.resume}: --{key.replace('_', '-')} {value} differs from the "
                                  f"saved {settings[key]}")
        if args.trials is not None:
            if args.trials < settings["trials"]:
                raise SearchError(f"--resume {args.resume}: --trials {args.trials} would drop trials of the saved "
                                  f"{settings['trials']}")
            settings["trials"] = args.trials
        out = Path(args.resume)
    else:
        settings = {key: BOOK[key] if given[key] is None else given[key] for key in SETTINGS
                    if key not in ("seed", "dtype")}
        settings["seed"] = 0 if args.seed is None else args.seed
        settings["dtype"] = args.dtype or DEFAULT_DTYPE
        out = Path(args.out or "runs/search")
        if (out / "search.json").exists():
            raise SearchError(f"--out {out} holds a search already: continue it with --resume {out}")
    check_settings(settings)
    if args.workers is not None and args.workers < 1:
        raise SearchError(f"--workers must be >= 1, got {args.workers}")
    if not args.serial:
        import_distributed()
    return {key: settings[key] for key in SETTINGS}, out


def add_parser(commands):
    """The ``search`` subcommand of ``commands`` (an argparse subparsers object)."""
    p = commands.add_parser("search", help="the book's ch06 random hyperparameter search, in parallel on Dask",
                            description=__doc__.split("\n\n")[0])
    add_arguments(p)
    p.set_defaults(run=run_command, parser=p)


def run_command(args):
    """``fastdl search`` with the parsed ``args``; returns the exit status (2 for settings that cannot run)."""
    try:
        settings, out = resolve(args)
    except SearchError as exc:
        args.parser.error(str(exc))
    workers = args.workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    try:
        search(settings, out, args.data_dir, "serial" if args.serial else "dask", args.scheduler, workers)
    except KeyboardInterrupt:
        done = len(json.loads((out / "results.json").read_text())) if (out / "results.json").exists() else 0
        print(f"\ninterrupted: {done} finished trials kept in {out}; continue with --resume {out}", file=sys.stderr)
        return 130
    return 0

"""The book's 100-trial ch06 search: fastdl search on its local Dask cluster (float32, its default, and
float64, the book's) vs fastdl serial vs the book's script.

Each contender runs as its own command (what a user times), interleaved:
round r runs all four in an order rotated by r, so a machine shared with
other work slows them alike. Every command gets NUMBA_NUM_THREADS=1 and
OPENBLAS_NUM_THREADS=1 (the book included: at batch 100 a second BLAS thread
does not pay); the local engine starts one worker process per core. Times
include start-up, data loading and, for fastdl, writing the files and figures.
The book's script is the re-typed tests/book/hyperparameter_optimization.py
(same seed, so all four train the same 100 trials). Besides the wall time it
prints the CPU seconds (user + system) of each command and its processes: on a
machine shared with other work the wall time of the 2-worker run says little,
while the CPU time still shows what each contender costs.

Usage (from the repository root)::

    .venv/bin/python asv_benchmarks/search_speed.py [--trials 100] [--rounds 2] [--workers 2]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mnist"
BOOK = """
import sys
from fastdl.datasets import load_mnist
from tests.book.hyperparameter_optimization import hyperparameter_optimization
(x, t), _ = load_mnist(normalize=True, data_dir=sys.argv[2])
hyperparameter_optimization(x, t, 0, int(sys.argv[1]))
"""


def commands(trials, workers, scratch):
    search = [sys.executable, "-m", "fastdl", "search", "--trials", str(trials), "--seed", "0",
              "--data-dir", str(DATA)]
    return {
        "fastdl search (Dask, local)": search + ["--workers", str(workers), "--out", f"{scratch}/dask"],
        "fastdl search --dtype float64": search + ["--workers", str(workers), "--dtype", "float64", "--out", f"{scratch}/dask"],
        "fastdl search --serial": search + ["--serial", "--out", f"{scratch}/serial"],
        "book script": [sys.executable, "-c", BOOK, str(trials), str(DATA)],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    scratch = tempfile.mkdtemp(prefix="fastdl-search-bench-")
    times, cpus = {}, {}
    try:
        cmds = commands(args.trials, args.workers, scratch)
        names = list(cmds)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                shutil.rmtree(f"{scratch}/dask", ignore_errors=True)
                shutil.rmtree(f"{scratch}/serial", ignore_errors=True)
                load = os.getloadavg()[0]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(cmds[name], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
                seconds = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers are waited for too
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                times.setdefault(name, []).append(seconds)
                cpus.setdefault(name, []).append(cpu)
                print(f"round {r + 1}: {name:30s} {seconds:7.1f} s  CPU {cpu:6.1f} s  (1-min load before: {load:.2f})",
                      flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    dask = statistics.median(times[names[0]])
    print(f"\n{args.trials} trials, {os.cpu_count()} cores, median of {args.rounds} rounds:")
    for name in names:
        t = statistics.median(times[name])
        print(f"  {name:30s} {t:7.1f} s   {t / dask:4.2f}x the Dask time   CPU {statistics.median(cpus[name]):6.1f} s")


if __name__ == "__main__":
    main()

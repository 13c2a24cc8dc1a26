"""Peer comparison: fastdl against the book's NumPy code, a careful NumPy rewrite and PyTorch eager (CPU).

Every case runs its contenders interleaved in this one process (round-robin,
rotating the order each round), so a noisy machine slows all of them alike,
and reports per contender the median time per call, the interquartile range,
the ratio to fastdl and the fraction of the roofline:

* a training step's roofline is the time of the GEMMs the step truly needs
  (forward, dW, and dx except the first layer's), run alone back to back
  through the BLAS fastdl calls (Numba's ``np.dot``, SciPy's OpenBLAS),
  interleaved with the contenders, plus the step's elementwise bytes
  (``common.step_elementwise_bytes``) at the measured STREAM-triad bandwidth;
* an optimizer update's roofline is its bytes (read p, g, state; write p,
  state) at the triad bandwidth measured on arrays of the same size and
  dtype, in the same rounds (``STREAM triad``);
* an epoch's roofline is 600 steps' GEMMs and elementwise bytes plus the batch
  gathering (read and write each batch) at the triad bandwidth;
* a convolutional network's step (``conv``: the book's SimpleConvNet and
  DeepConvNet, batch 100) has as roofline its FLOPs (every convolution and
  affine product from the shapes, ``common.convnet_gemms``) at the GFLOP/s of
  a 1024x1024x1024 GEMM through the same BLAS (its fastest sample in the
  same rounds: a peak).

Usage (from the repository root)::

    .venv/bin/python asv_benchmarks/compare.py [--quick] [--threads 1|2]
        [--only step|update|epoch|conv|startup|memory] [--markdown-out FILE]

``--threads`` sets NUMBA_NUM_THREADS, OPENBLAS_NUM_THREADS and OMP_NUM_THREADS
before anything loads, and ``torch.set_num_threads``. PyTorch is optional
(``pip install torch==2.13.0``); without it its rows are left out.
"""
import argparse
import datetime
import gc
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc

SECTIONS = ["step", "update", "epoch", "conv", "startup", "memory"]
UPDATE_SIZES = (1_000_000, 10_000_000)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps: a smoke run, not a measurement")
    parser.add_argument("--threads", type=int, choices=[1, 2], default=1,
                        help="threads for Numba, OpenBLAS and PyTorch (default 1)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--markdown-out", type=pathlib.Path, help="also write the tables to this file")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    for variable in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[variable] = str(ARGS.threads)

ASV_DIR = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ASV_DIR))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from benchmarks import common  # noqa: E402  (imports fastdl: OMP_WAIT_POLICY=passive unless set)
from benchmarks.startup import FIRST_STEP  # noqa: E402
from fastdl.layers import Affine, Convolution, Dropout, Pooling, Relu  # noqa: E402

# After fastdl: Numba's parallel regions bind to the first libgomp loaded into
# the process (PyTorch bundles one), and libgomp reads OMP_WAIT_POLICY once,
# when it loads. Importing torch first leaves its spinning default in charge of
# fastdl's kernels too: 10x slower steps at 2 threads (784-200-200-10: 8 ms
# instead of 0.8 ms). One policy serves both libraries either way.
try:
    import torch
except ImportError:
    torch = None

TORCH_OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.01)),
    "momentum": ("SGD", dict(lr=0.01, momentum=0.9)),
    "nesterov": ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
    "adagrad": ("Adagrad", dict(lr=0.01)),
    "rmsprop": ("RMSprop", dict(lr=0.01, alpha=0.99)),
    "adam": ("Adam", dict(lr=0.001)),
    "adadelta": ("Adadelta", dict(lr=1.0, rho=0.95, eps=1e-6)),
    "adamw": ("AdamW", dict(lr=0.001, weight_decay=0.01)),
}
"""fastdl optimizer name -> (torch.optim class, the book's hyperparameters in PyTorch's names)."""
TORCH_VARIANTS = {"torch": {}, "torch foreach": {"foreach": True}, "torch fused": {"fused": True}}


# --------------------------------------------------------------------------- measurement

def triad_bandwidth(rounds, size=1 << 24):
    """Best STREAM-triad rate in bytes/s (24 bytes per element, no write-allocate) over 128 MiB arrays."""
    run = common.triad(size, np.float64)
    return 24 * size / min(_elapsed(run) for _ in range(rounds))


def _elapsed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def interleaved(contenders, rounds, sample_seconds=0.02):
    """Per-call times of each contender: ``rounds`` samples each, taken round-robin.

    Parameters
    ----------
    contenders : dict name -> zero-argument callable (already warmed up).

    Returns
    -------
    dict name -> (rounds,) array of seconds per call.
    """
    calls = {name: 1 for name in contenders}
    if sample_seconds:
        for name, func in contenders.items():
            once = min(_elapsed(func) for _ in range(3))
            calls[name] = max(1, int(sample_seconds / max(once, 1e-9)))
    samples = {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(rounds):
        gc.collect()
        gc.disable()
        try:
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                func, number = contenders[name], calls[name]
                start = time.perf_counter()
                for _ in range(number):
                    func()
                samples[name].append((time.perf_counter() - start) / number)
        finally:
            gc.enable()
    return {name: np.array(values) for name, values in samples.items()}


def gemm_only(sizes, batch, dtype):
    """A callable running the step's GEMMs (``common.step_gemms``) back to back, nothing else."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, sizes[0])).astype(dtype)
    weights = [rng.standard_normal((d_in, d_out)).astype(dtype) for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    outs = [np.empty((batch, d_out), dtype) for d_out in sizes[1:]]
    douts = [rng.standard_normal((batch, d_out)).astype(dtype) for d_out in sizes[1:]]
    dWs = [np.empty_like(W) for W in weights]
    dxs = [np.empty((batch, d_in), dtype) for d_in in sizes[:-1]]

    def run():
        inputs = x
        for W, out in zip(weights, outs):
            common.gemm(inputs, W, out)
            inputs = out
        for layer in reversed(range(len(weights))):
            inputs = x if layer == 0 else outs[layer - 1]
            common.gemm(inputs.T, douts[layer], dWs[layer])
            if layer:
                common.gemm(douts[layer], weights[layer].T, dxs[layer])

    run()
    return run


# --------------------------------------------------------------------------- PyTorch contenders

def torch_optimizer(optimizer_class, parameters, hyper, variant):
    """A ``torch.optim`` optimizer of ``variant`` (a TORCH_VARIANTS key), or None where CPU PyTorch lacks it."""
    try:
        return getattr(torch.optim, optimizer_class)(list(parameters), **hyper, **TORCH_VARIANTS[variant])
    except (RuntimeError, ValueError, TypeError):
        return None


def torch_model(sizes, dtype):
    layers = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(d_in, d_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).to(getattr(torch, np.dtype(dtype).name))


def torch_convnet(net):
    """The fastdl convnet ``net``'s architecture in ``torch.nn``, starting from ``net``'s current parameters.

    Each fastdl Convolution (its ReLU fused) becomes Conv2d + ReLU, Pooling
    MaxPool2d, the first Affine Flatten + Linear (the book's Affine flattens
    (N, C, H, W) in the same order), Dropout(p) Dropout(p): PyTorch's scales
    the kept units by 1/(1-p) while training, the book's at inference, the
    same work per step.
    """
    dtype = getattr(torch, net.params.flat.dtype.name)
    layers, parameters = [], []
    for layer in net.layers.values():
        if isinstance(layer, Convolution):
            filters, channels, filter_h, filter_w = layer.W.shape
            conv = torch.nn.Conv2d(channels, filters, (filter_h, filter_w), layer.stride, layer.pad, dtype=dtype)
            parameters += [(conv.weight, layer.W), (conv.bias, layer.b)]
            layers += [conv, torch.nn.ReLU()] if layer.relu else [conv]
        elif isinstance(layer, Pooling):
            layers.append(torch.nn.MaxPool2d((layer.pool_h, layer.pool_w), layer.stride, layer.pad))
        elif isinstance(layer, Affine):
            linear = torch.nn.Linear(*layer.W.shape, dtype=dtype)
            parameters += [(linear.weight, layer.W.T), (linear.bias, layer.b)]
            if not any(isinstance(done, torch.nn.Linear) for done in layers):
                layers.append(torch.nn.Flatten())
            layers.append(linear)
        elif isinstance(layer, Relu):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, Dropout):
            layers.append(torch.nn.Dropout(layer.dropout_ratio))
        else:
            raise TypeError(f"no torch.nn counterpart for {type(layer).__name__}")
    with torch.no_grad():
        for parameter, value in parameters:
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return torch.nn.Sequential(*layers)


def torch_step_contenders(make_model, x, t):
    """{name: step(x, t)} for each torch.optim.Adam variant, each over its own ``make_model()``."""
    steps = {}
    for name in TORCH_VARIANTS:
        model = make_model()
        opt = torch_optimizer("Adam", model.parameters(), TORCH_OPTIMIZERS["adam"][1], name)
        if opt is None:
            continue

        def step(x, t, model=model, opt=opt):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), t).backward()
            opt.step()

        step(x, t)
        steps[name] = step
    return steps


# --------------------------------------------------------------------------- sections

def stats(seconds):
    return np.median(seconds), np.percentile(seconds, 25), np.percentile(seconds, 75)


PEAK_GEMM = f"GEMM {common.LARGE_GEMM}³"
REFERENCES = ("GEMMs alone", "STREAM triad", PEAK_GEMM)
"""Pseudo-contenders timed in the same rounds to build the roofline; not listed as contenders."""


def table_rows(case, timings, roofline):
    """Markdown rows of one case: contender, median, IQR, ratio to fastdl, fraction of the roofline."""
    rows = []
    fastdl_median = np.median(timings["fastdl"])
    for name, seconds in timings.items():
        if name in REFERENCES:
            continue
        median, low, high = stats(seconds)
        rows.append(f"| {case} | {name} | {_fmt(median)} | {_fmt(low)}–{_fmt(high)} | "
                    f"{median / fastdl_median:.2f} | {100 * roofline / median:.0f}% |")
    return rows


def roofline_row(case, timings, elementwise, roofline):
    """The roofline's terms, and the share of fastdl's time its GEMMs alone take (a bound no step can reach)."""
    gemms = np.median(timings["GEMMs alone"])
    return (f"| {case} | *roofline* = GEMMs alone {_fmt(gemms)} + elementwise bytes at triad {_fmt(elementwise)} "
            f"| {_fmt(roofline)} | | | GEMMs alone = {100 * gemms / np.median(timings['fastdl']):.0f}% of fastdl |")


def _fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


TABLE_HEAD = ["| case | contender | median | IQR | time ÷ fastdl's | roofline ÷ time |", "|---|---|---|---|---|---|"]


def section_step(rounds, bandwidth):
    lines = ["### Training step (forward, loss, backward, Adam update)", "",
             "Roofline = the step's GEMMs alone (`GEMMs alone` median, same BLAS as fastdl) + elementwise bytes "
             "at the triad bandwidth.", ""] + TABLE_HEAD
    for name, (sizes, batch) in common.NETWORKS.items():
        for dtype in (np.float64, np.float32):
            x, t = common.random_batch(sizes, batch, dtype)
            contenders = {}
            for impl in common.IMPLS_WITH_NUMPY:
                _, step = common.network(impl, sizes, batch, dtype)
                step(x, t)
                contenders[impl] = (lambda step=step: step(x, t))
            if torch is not None:
                xt, tt = torch.from_numpy(x), torch.from_numpy(t)
                for variant, step in torch_step_contenders(lambda: torch_model(sizes, dtype), xt, tt).items():
                    contenders[variant] = (lambda step=step: step(xt, tt))
            contenders["GEMMs alone"] = gemm_only(sizes, batch, dtype)
            timings = interleaved(contenders, rounds)
            elementwise = common.step_elementwise_bytes(sizes, batch, np.dtype(dtype).itemsize) / bandwidth
            roofline = np.median(timings["GEMMs alone"]) + elementwise
            case = f"{name} {np.dtype(dtype).name}"
            lines += table_rows(case, timings, roofline)
            lines.append(roofline_row(case, timings, elementwise, roofline))
            del contenders, timings
    return lines


def section_update(rounds):
    lines = ["### Optimizer update alone (one flat set of parameters)", "",
             "Roofline = bytes moved (read p, g, state; write p, state) at the STREAM-triad bandwidth measured "
             "on arrays of the same size and dtype, in the same rounds.", ""] + TABLE_HEAD
    for size in UPDATE_SIZES:
        for dtype in (np.float32, np.float64):
            for name in common.OPTIMIZER_NAMES:
                contenders = {impl: common.optimizer_update(impl, name, size, np.dtype(dtype))
                              for impl in ("fastdl", "book")}
                if name == "adam":
                    contenders["numpy"] = common.optimizer_update("numpy", name, size, np.dtype(dtype))
                if torch is not None:
                    contenders.update(torch_update_contenders(name, size, dtype))
                contenders["STREAM triad"] = common.triad(size, dtype)
                timings = interleaved(contenders, rounds)
                triad_seconds = np.median(timings["STREAM triad"])
                roofline = common.optimizer_words(name) / 3 * triad_seconds
                case = f"{name} {size:.0e} {np.dtype(dtype).name}"
                lines += table_rows(case, timings, roofline)
                lines.append(f"| {case} | *roofline* = {common.optimizer_words(name)}/3 × triad of this size "
                             f"({3 * size * np.dtype(dtype).itemsize / triad_seconds / 1e9:.1f} GB/s) | "
                             f"{_fmt(roofline)} | | | |")
                del contenders, timings
    return lines


def torch_update_contenders(name, size, dtype):
    optimizer_class, hyper = TORCH_OPTIMIZERS[name]
    contenders = {}
    rng = np.random.default_rng(0)
    for variant in TORCH_VARIANTS:
        parameter = torch.nn.Parameter(torch.from_numpy(rng.random(size).astype(dtype)))
        parameter.grad = torch.from_numpy((rng.random(size) - 0.5).astype(dtype))
        opt = torch_optimizer(optimizer_class, [parameter], hyper, variant)
        if opt is not None:
            opt.step()
            contenders[variant] = opt.step
    return contenders


def section_epoch(rounds, bandwidth):
    sizes, batch = [784, 100, 100, 10], 100
    lines = ["### One MNIST epoch (60,000 images, batch 100, 784-100-100-10, Adam)", "",
             "Roofline = 600 × (the step's GEMMs alone + elementwise bytes at triad) + gathering each batch "
             "(read + write) at triad.", ""] + TABLE_HEAD
    x_train_uint8, t_train, _, _ = common.load_mnist_uint8()
    t_train = t_train.astype(np.int64)
    steps = len(x_train_uint8) // batch
    for dtype in (np.float64, np.float32):
        x_train = common.scaled(x_train_uint8, dtype)
        contenders = {}
        for impl in common.IMPLS_WITH_NUMPY:
            _, step = common.network(impl, sizes, batch, dtype)
            step(x_train[:batch], t_train[:batch])
            contenders[impl] = common.epoch(impl, step, x_train, t_train, batch)
        if torch is not None:
            contenders.update(torch_epoch_contenders(sizes, batch, dtype, x_train, t_train))
        gemms = gemm_only(sizes, batch, dtype)

        def gemms_of_an_epoch():
            for _ in range(steps):
                gemms()

        contenders["GEMMs alone"] = gemms_of_an_epoch
        timings = interleaved(contenders, rounds, sample_seconds=0)
        itemsize = np.dtype(dtype).itemsize
        moved = steps * (common.step_elementwise_bytes(sizes, batch, itemsize) + 2 * batch * sizes[0] * itemsize)
        roofline = np.median(timings["GEMMs alone"]) + moved / bandwidth
        case = f"MNIST epoch {np.dtype(dtype).name}"
        lines += table_rows(case, timings, roofline)
        lines.append(roofline_row(case, timings, moved / bandwidth, roofline))
    return lines


def torch_epoch_contenders(sizes, batch, dtype, x_train, t_train):
    """PyTorch's default and fused Adam epochs (foreach is left out: the step table shows it at the default's speed)."""
    x_all, t_all = torch.from_numpy(x_train), torch.from_numpy(t_train)
    order = np.random.default_rng(0).permutation(len(x_train))
    batches = [torch.from_numpy(mask) for mask in order[:len(order) // batch * batch].reshape(-1, batch)]
    contenders = {}
    for variant, step in torch_step_contenders(lambda: torch_model(sizes, dtype), x_all[:batch],
                                               t_all[:batch]).items():
        if variant == "torch foreach":
            continue

        def run(step=step):
            for mask in batches:
                step(x_all[mask], t_all[mask])

        contenders[variant] = run
    return contenders


def section_conv(rounds):
    lines = [f"### Convolutional networks: training step (batch {common.CONVNET_BATCH}: forward, loss, backward, "
             "Adam update)", "",
             "Roofline = the step's FLOPs (each convolution and affine product: forward, dW, and dx except the "
             f"first layer's) at the peak GFLOP/s of a square GEMM (`{PEAK_GEMM}`: the BLAS fastdl calls, its "
             "fastest sample in the same rounds). `torch` is torch.optim.Adam's default (its for-loop "
             "implementation on CPU).", ""]
    lines += TABLE_HEAD
    for name in common.CONVNETS:
        for dtype in (np.float64, np.float32):
            x, t = common.image_batch(common.CONVNET_BATCH, dtype)
            contenders = {}
            flops = common.convnet_flops(name)
            nets = {impl: common.convnet(impl, name, dtype) for impl in common.IMPLS}
            if torch is not None:
                # built before fastdl's first step: every contender starts from the same parameters
                xt, tt = torch.from_numpy(x), torch.from_numpy(t)
                torch_steps = torch_step_contenders(lambda: torch_convnet(nets["fastdl"][0]), xt, tt)
            for impl, (_, step) in nets.items():
                step(x, t)
                contenders[impl] = (lambda step=step: step(x, t))
            if torch is not None:
                for variant, step in torch_steps.items():
                    contenders[variant] = (lambda step=step: step(xt, tt))
            contenders[PEAK_GEMM] = common.large_gemm(dtype)
            timings = interleaved(contenders, rounds)
            peak = 2 * common.LARGE_GEMM ** 3 / np.min(timings[PEAK_GEMM])
            roofline = flops / peak
            case = f"{name} {np.dtype(dtype).name}"
            lines += table_rows(case, timings, roofline)
            lines.append(f"| {case} | *roofline* = {flops / 1e9:.3g} GFLOP at {peak / 1e9:.1f} GFLOP/s "
                         f"({PEAK_GEMM}) | {_fmt(roofline)} | | | fastdl: "
                         f"{flops / np.median(timings['fastdl']) / 1e9:.1f} GFLOP/s |")
            del contenders, timings, nets
    return lines


FIRST_STEP_TIMED = "import time\n_start = time.perf_counter()\n{code}\nprint(time.perf_counter() - _start)\n"
PEER_FIRST_STEPS = {
    "book (NumPy)": f"""
import sys
sys.path.insert(0, {str(common.REPO / 'tests')!r})
import numpy as np
from book.multi_layer_net import MultiLayerNet
from book.optimizer import Adam
rng = np.random.default_rng(0)
x, t = rng.random((100, 784)), rng.integers(0, 10, 100)
net = MultiLayerNet(784, [100, 100], 10)
Adam().update(net.params, net.gradient(x, t))
""",
    "torch": """
import numpy as np
import torch
rng = np.random.default_rng(0)
x, t = torch.from_numpy(rng.random((100, 784))), torch.from_numpy(rng.integers(0, 10, 100))
model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
                            torch.nn.ReLU(), torch.nn.Linear(100, 10)).double()
opt = torch.optim.Adam(model.parameters())
torch.nn.functional.cross_entropy(model(x), t).backward()
opt.step()
""",
}


def fresh_interpreter(code, env=None):
    """(whole-process wall seconds, in-process seconds of ``code``) of ``python -c``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FIRST_STEP_TIMED.format(code=code)], check=True,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    return time.perf_counter() - start, float(done.stdout.strip().splitlines()[-1])


def section_startup(warm_runs, cold_runs):
    lines = ["### Fresh interpreter: import + first training step (784-100-100-10, batch 100, float64, Adam)", "",
             "| contender | cache | runs | process wall (median) | import + step in-process (median) |",
             "|---|---|---|---|---|"]
    fresh_interpreter(FIRST_STEP)
    results = [("fastdl", "warm (this install's cache)", [fresh_interpreter(FIRST_STEP) for _ in range(warm_runs)])]
    cold = []
    for _ in range(cold_runs):
        with tempfile.TemporaryDirectory(prefix="fastdl-cold-cache-") as cache_dir:
            cold.append(fresh_interpreter(FIRST_STEP, {"NUMBA_CACHE_DIR": cache_dir}))
    results.append(("fastdl", "cold (empty NUMBA_CACHE_DIR)", cold))
    for name, code in PEER_FIRST_STEPS.items():
        if name == "torch" and torch is None:
            continue
        results.append((name, "n/a", [fresh_interpreter(code) for _ in range(warm_runs)]))
    for name, cache, runs in results:
        runs = np.array(runs)
        lines.append(f"| {name} | {cache} | {len(runs)} | {_fmt(np.median(runs[:, 0]))} | "
                     f"{_fmt(np.median(runs[:, 1]))} |")
    return lines


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def section_memory(steps):
    sizes, batch = [784, 100, 100, 10], 100
    lines = [f"### Memory over {steps:,} training steps (784-100-100-10, batch 100, Adam), after 100 warm-up steps",
             "", "Growth is measured from the end of the warm-up (tracemalloc already tracing) to the end of the run.",
             "", "| contender | dtype | steps | RSS growth | traced growth | traced peak above start |",
             "|---|---|---|---|---|---|"]
    for impl, dtype, count in (("fastdl", np.float64, steps), ("fastdl", np.float32, steps),
                               ("book", np.float64, max(steps // 10, 100))):
        step = common.training_step(impl, sizes, batch, dtype)
        tracemalloc.start()
        for _ in range(100):
            step()
        gc.collect()
        rss_before = resident_bytes()
        traced_before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(count):
            step()
        gc.collect()
        traced_after, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resident_bytes()
        lines.append(f"| {impl} | {np.dtype(dtype).name} | {count:,} | {(rss_after - rss_before) / 1024:.0f} KiB | "
                     f"{(traced_after - traced_before) / 1024:.1f} KiB | "
                     f"{(traced_peak - traced_before) / 1024:.1f} KiB |")
    return lines


# --------------------------------------------------------------------------- report

def machine_lines(threads, bandwidth, load_before):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    blas = "; ".join(f"{info['internal_api']} {info['version']} ({info.get('architecture')}, "
                     f"{info['num_threads']} threads, {pathlib.Path(info['filepath']).name})"
                     for info in threadpool_info() if info["user_api"] == "blas")
    return [f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- machine: {platform.node()}, {cpu}, {os.cpu_count()} CPUs; load average at start "
            f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}",
            f"- threads: {threads} (NUMBA_NUM_THREADS, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, torch); Numba "
            f"threading layer {numba.threading_layer()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} "
            f"(fastdl's default, in force for PyTorch's OpenMP too: one libgomp per process)",
            f"- Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, "
            f"PyTorch {torch.__version__ if torch is not None else 'not installed'}",
            f"- BLAS: {blas}",
            f"- STREAM triad ({threads} thread(s)): {bandwidth / 1e9:.1f} GB/s"]


def main(args):
    if torch is not None:
        torch.set_num_threads(args.threads)
    sections = args.only or SECTIONS
    rounds = 7 if args.quick else 21
    load_before = os.getloadavg()
    bandwidth = triad_bandwidth(5 if args.quick else 15)
    command = "python asv_benchmarks/compare.py " + " ".join(sys.argv[1:])
    lines = [f"## fastdl peer comparison (`{command.strip()}`)", ""] + machine_lines(args.threads, bandwidth,
                                                                                    load_before)
    print("\n".join(lines), flush=True)
    for section in sections:
        if section == "step":
            body = section_step(rounds, bandwidth)
        elif section == "update":
            body = section_update(rounds)
        elif section == "epoch":
            body = section_epoch(3 if args.quick else 7, bandwidth)
        elif section == "conv":
            body = section_conv(rounds)
        elif section == "startup":
            body = section_startup(3 if args.quick else 7, 1 if args.quick else 2)
        else:
            body = section_memory(1_000 if args.quick else 10_000)
        lines += [""] + body
        print("\n".join([""] + body), flush=True)
    load_after = os.getloadavg()
    lines += ["", f"Load average at the end: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"]
    print(lines[-1])
    if args.markdown_out:
        tmp = args.markdown_out.with_name(args.markdown_out.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, args.markdown_out)


if __name__ == "__main__":
    main(ARGS)

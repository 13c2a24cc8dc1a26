"""What the asv benchmarks and ``asv_benchmarks/compare.py`` share.

Contenders (the ``impl`` parameter):

* ``"fastdl"``: fastdl's networks and optimizers (fused Numba kernels over one flat buffer);
* ``"book"``: the book's NumPy code, ``tests/book`` (the test oracle; it never imports fastdl);
* ``"numpy"``: :mod:`numpy_prealloc`, a careful NumPy rewrite with preallocated
  buffers and no first-layer ``dx`` (the MLPs only).

The convolutional networks (``CONVNETS``: the book's chapter-7 SimpleConvNet
and chapter-8 DeepConvNet) have the "fastdl" and "book" contenders.

Thread count is a benchmark parameter: :meth:`Threaded.limit_threads` limits
Numba's pool and both OpenBLAS copies (NumPy's and SciPy's, which Numba's
``np.dot`` calls). Run asv without ``NUMBA_NUM_THREADS=1`` in the environment,
or the 2-thread combinations are skipped (the CI smoke run does so on purpose).
"""
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))  # the book's NumPy reference: ``import book``

import numba  # noqa: E402
import scipy.linalg.cython_blas  # noqa: E402,F401  (loads the OpenBLAS Numba's np.dot calls, for threadpoolctl)
from numba import prange  # noqa: E402
from book import deep_convnet as book_deep_convnet  # noqa: E402
from book import layers as book_layers  # noqa: E402,F401  (re-exported for layers.py)
from book import multi_layer_net as book_multi_layer_net  # noqa: E402
from book import multi_layer_net_extend as book_multi_layer_net_extend  # noqa: E402,F401  (for chapter6.py)
from book import optimizer as book_optimizer  # noqa: E402
from book import simple_convnet as book_simple_convnet  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastdl  # noqa: E402
from fastdl import networks as fastdl_networks  # noqa: E402
from fastdl import optimizers as fastdl_optimizers  # noqa: E402
from fastdl.kernels import kernel  # noqa: E402
from fastdl.layers import Affine, Convolution, Pooling  # noqa: E402
from fastdl.util import conv_output_size  # noqa: E402

from . import numpy_prealloc  # noqa: E402

IMPLS = ["fastdl", "book"]
IMPLS_WITH_NUMPY = ["fastdl", "numpy", "book"]
DTYPES = ["float32", "float64"]
THREADS = [1, 2]
OPTIMIZER_NAMES = list(fastdl_optimizers.OPTIMIZERS)

NETWORKS = {
    "784-100-100-10/b100": ([784, 100, 100, 10], 100),
    "784-200-200-10/b100": ([784, 200, 200, 10], 100),
    "784-100x4-10/b128": ([784, 100, 100, 100, 100, 10], 128),
    "784-1024-1024-10/b1024": ([784, 1024, 1024, 10], 1024),
}
"""The issue's training-step networks: name -> (layer sizes, batch size)."""

CONVNETS = {"SimpleConvNet": (fastdl_networks.SimpleConvNet, book_simple_convnet.SimpleConvNet),
            "DeepConvNet": (fastdl_networks.DeepConvNet, book_deep_convnet.DeepConvNet)}
"""The book's convolutional networks, with their default constructors: name -> (fastdl class, book class)."""
CONVNET_BATCH = 100
IMAGE_SHAPE = (1, 28, 28)

MNIST_DIR = pathlib.Path(os.environ.get("FASTDL_DATA", REPO.parent / "shared" / "data" / "mnist"))


class Threaded:
    """Base of the benchmarks whose last parameter is a thread count: call ``limit_threads`` in ``setup``."""

    thread_limit = None

    def limit_threads(self, threads):
        """Run Numba and both BLAS pools on ``threads`` threads until ``teardown``.

        Raises ``NotImplementedError`` (asv: "skipped") when Numba was
        started with fewer threads (``NUMBA_NUM_THREADS``).
        """
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise NotImplementedError(f"{threads} threads asked, NUMBA_NUM_THREADS="
                                      f"{numba.config.NUMBA_NUM_THREADS}")
        self.thread_limit = (numba.get_num_threads(), threadpool_limits(limits=threads, user_api="blas"))
        numba.set_num_threads(threads)

    def teardown(self, *params):
        if self.thread_limit is not None:
            numba_threads, blas_limit = self.thread_limit
            numba.set_num_threads(numba_threads)
            blas_limit.restore_original_limits()
            self.thread_limit = None


def random_batch(sizes, batch, dtype, seed=0):
    """MNIST-shaped random inputs (N, D) in [0, 1) of ``dtype`` and integer labels (N,)."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, sizes[0]), dtype=np.float64).astype(dtype)
    t = rng.integers(0, sizes[-1], batch).astype(np.int64)
    return x, t


def book_network(sizes, dtype, seed=0):
    """The book's MultiLayerNet with its parameters cast to ``dtype`` (and its layers rebound to them)."""
    np.random.seed(seed)
    net = book_multi_layer_net.MultiLayerNet(sizes[0], list(sizes[1:-1]), sizes[-1])
    for idx in range(1, len(sizes)):
        layer = net.layers[f"Affine{idx}"]
        layer.W = net.params[f"W{idx}"] = net.params[f"W{idx}"].astype(dtype)
        layer.b = net.params[f"b{idx}"] = net.params[f"b{idx}"].astype(dtype)
    return net


def training_step(impl, sizes, batch, dtype, optimizer="adam", seed=0):
    """A zero-argument callable doing one training step (forward, loss, backward, update) on a fixed batch.

    The first call has already been made (kernels compiled, optimizer state allocated).
    """
    x, t = random_batch(sizes, batch, dtype, seed)
    _, step = network(impl, sizes, batch, dtype, optimizer, seed)

    def one_step():
        step(x, t)

    one_step()
    return one_step


def network(impl, sizes, batch, dtype, optimizer="adam", seed=0):
    """A new ReLU network of ``impl`` and its ``step(x, t)``: one training step on a batch of ``batch`` rows.

    The network has ``accuracy(x, t)`` for impl "fastdl" and "book".
    """
    if impl == "fastdl":
        np.random.seed(seed)
        net = fastdl.MultiLayerNet(sizes[0], list(sizes[1:-1]), sizes[-1], dtype=dtype)
        opt = fastdl_optimizers.OPTIMIZERS[optimizer]()
    elif impl == "book":
        net = book_network(sizes, dtype, seed)
        opt = book_optimizer.OPTIMIZERS[optimizer]()
    elif impl == "numpy":
        if optimizer != "adam":
            raise NotImplementedError("the NumPy rewrite has Adam only")
        net = numpy_prealloc.MultiLayerNet(sizes, batch, dtype, seed)
        return net, net.train_step
    else:
        raise ValueError(f"unknown impl {impl!r}")

    def step(x, t):
        opt.update(net.params, net.gradient(x, t))

    return net, step


def image_batch(batch, dtype, seed=0):
    """MNIST-shaped random images (N, 1, 28, 28) in [0, 1) of ``dtype`` and integer labels (N,)."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch,) + IMAGE_SHAPE, dtype=np.float64).astype(dtype)
    t = rng.integers(0, 10, batch).astype(np.int64)
    return x, t


def convnet(impl, name, dtype, seed=0):
    """A new ``CONVNETS[name]`` network of ``impl`` (its defaults) and its ``step(x, t)``: gradient, then Adam.

    Both draw their weights from ``np.random.seed(seed)`` in the book's order,
    so they start from the same parameters. The book's network has its
    parameters cast to ``dtype`` (and its layers rebound to them).
    """
    fastdl_class, book_class = CONVNETS[name]
    np.random.seed(seed)
    if impl == "fastdl":
        net = fastdl_class(dtype=dtype)
        opt = fastdl_optimizers.Adam()
    elif impl == "book":
        net = book_class()
        layers = net.layers.values() if isinstance(net.layers, dict) else net.layers
        for layer in layers:
            if hasattr(layer, "W"):
                # the book's layers hold its params' arrays: find each layer's keys by identity
                key_W = next(key for key, value in net.params.items() if value is layer.W)
                key_b = "b" + key_W[1:]
                layer.W = net.params[key_W] = layer.W.astype(dtype)
                layer.b = net.params[key_b] = layer.b.astype(dtype)
        opt = book_optimizer.Adam()
    else:
        raise ValueError(f"unknown impl {impl!r} (a convnet is 'fastdl' or 'book')")

    def step(x, t):
        opt.update(net.params, net.gradient(x, t))

    return net, step


def convnet_gemms(net, batch):
    """The products a training step of the fastdl convnet ``net`` needs, as (what, M, K, N), from its shapes.

    A convolution of FN filters of C x FH x FW over OH x OW output positions is
    the product of the (FN, C*FH*FW) filters with the (C*FH*FW, batch*OH*OW)
    im2col columns: forward, dW ((FN, batch*OH*OW) @ (batch*OH*OW, C*FH*FW)) and
    dx (filters transposed times the output gradient), each 2*FN*C*FH*FW*batch*OH*OW
    FLOPs; an Affine (D_in, D_out) is forward, dW, dx as in :func:`step_gemms`.
    The first layer's dx is never needed. Input: ``IMAGE_SHAPE``.
    """
    channels, height, width = IMAGE_SHAPE
    gemms = []
    for name, layer in net.layers.items():
        first = not gemms
        if isinstance(layer, Convolution):
            filters, _, filter_h, filter_w = layer.W.shape
            height = int(conv_output_size(height, filter_h, layer.stride, layer.pad))
            width = int(conv_output_size(width, filter_w, layer.stride, layer.pad))
            taps, positions = channels * filter_h * filter_w, batch * height * width
            gemms += [(f"{name} forward", filters, taps, positions), (f"{name} dW", filters, positions, taps)]
            if not first:
                gemms.append((f"{name} dx", taps, filters, positions))
            channels = filters
        elif isinstance(layer, Pooling):
            height = (height + 2 * layer.pad - layer.pool_h) // layer.stride + 1
            width = (width + 2 * layer.pad - layer.pool_w) // layer.stride + 1
        elif isinstance(layer, Affine):
            d_in, d_out = layer.W.shape
            gemms += [(f"{name} forward", batch, d_in, d_out), (f"{name} dW", d_in, batch, d_out)]
            if not first:
                gemms.append((f"{name} dx", batch, d_out, d_in))
    return gemms


def gemm_flops(gemms):
    """FLOPs of (what, M, K, N) products: 2*M*K*N each."""
    return sum(2 * m * k * n for _, m, k, n in gemms)


def convnet_flops(name, batch=CONVNET_BATCH):
    """FLOPs of :func:`convnet_gemms` for a training step of ``CONVNETS[name]`` (the same count for every impl)."""
    return gemm_flops(convnet_gemms(CONVNETS[name][0](), batch))


@kernel()
def gemm(a, b, out):
    """out = a @ b through the BLAS fastdl's kernels call (Numba's ``np.dot``: SciPy's OpenBLAS)."""
    np.dot(a, b, out)


LARGE_GEMM = 1024
"""Size of the square GEMM whose rate is the peak a step's FLOPs are set against."""


def large_gemm(dtype, size=LARGE_GEMM):
    """A zero-argument callable doing one (size, size) @ (size, size) GEMM of ``dtype`` (2*size**3 FLOPs),
    its first call already made."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)).astype(dtype), rng.random((size, size)).astype(dtype)
    out = np.empty((size, size), dtype)
    gemm(a, b, out)
    return lambda: gemm(a, b, out)


def seconds_per_call(func, min_seconds=0.05, repeats=3):
    """Best time of one ``func()`` call over ``repeats`` calibrated loops (for ``track_`` rates)."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            func()
        elapsed = time.perf_counter() - start
        if elapsed * repeats >= min_seconds:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeats - 1):
        start = time.perf_counter()
        for _ in range(number):
            func()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def load_mnist_uint8():
    """MNIST as (x_train (60000, 784) uint8, t_train (60000,), x_test (10000, 784) uint8, t_test (10000,))."""
    from fastdl.datasets import load_mnist
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=False, data_dir=MNIST_DIR)
    return x_train, t_train, x_test, t_test


def scaled(images, dtype):
    """The book's normalisation (cast, then / 255) in ``dtype``."""
    return images.astype(dtype) / np.dtype(dtype).type(255)


def epoch(impl, step, x_train, t_train, batch, seed=0):
    """A zero-argument callable: one epoch of ``step`` over a fixed shuffle of (x_train, t_train).

    fastdl and the NumPy rewrite gather each batch into preallocated buffers
    (``np.take(..., out=)``); the book indexes ``x_train[batch_mask]`` as its scripts do.
    """
    order = np.random.default_rng(seed).permutation(len(x_train))
    batches = order[:len(order) // batch * batch].reshape(-1, batch)
    if impl == "book":
        def run():
            for batch_mask in batches:
                step(x_train[batch_mask], t_train[batch_mask])
        return run
    x_batch = np.empty((batch, x_train.shape[1]), x_train.dtype)
    t_batch = np.empty(batch, t_train.dtype)

    def run():
        for batch_mask in batches:
            np.take(x_train, batch_mask, axis=0, out=x_batch)
            np.take(t_train, batch_mask, out=t_batch)
            step(x_batch, t_batch)
    return run


def step_gemms(sizes, batch):
    """The GEMMs a training step truly needs, as (M, K, N) products: forward, dW, and dx except the first layer's."""
    gemms = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        gemms.append(("forward", batch, d_in, d_out))
        gemms.append(("dW", d_in, batch, d_out))
    for d_in, d_out in zip(sizes[1:-1], sizes[2:]):
        gemms.append(("dx", batch, d_out, d_in))
    return gemms


def step_flops(sizes, batch):
    """FLOPs of :func:`step_gemms` (2*M*K*N each); the elementwise work is negligible next to it."""
    return gemm_flops(step_gemms(sizes, batch))


def parameter_count(sizes):
    return sum(d_in * d_out + d_out for d_in, d_out in zip(sizes[:-1], sizes[1:]))


def optimizer_words(name):
    """Array elements an update moves per parameter: read p, g and each state; write p and each state."""
    states = len(fastdl_optimizers.OPTIMIZERS[name].state_names)
    return 3 + 2 * states


def step_elementwise_bytes(sizes, batch, itemsize, optimizer="adam"):
    """Bytes the non-GEMM part of a fully fused step must move.

    Per hidden layer: bias + ReLU read and write the activation (2 N M);
    the backward ReLU mask + db read the gradient and activation and write the
    gradient (3 N M). Logits: read, write their gradient (2 N C). The
    optimizer: :func:`optimizer_words` per parameter.
    """
    words = sum(5 * batch * width for width in sizes[1:-1])
    words += 2 * batch * sizes[-1]
    words += optimizer_words(optimizer) * parameter_count(sizes)
    return words * itemsize


def optimizer_update(impl, name, size, dtype, seed=0):
    """A zero-argument callable doing one ``name`` update of ``size`` parameters (first call already made)."""
    rng = np.random.default_rng(seed)
    p = rng.random(size).astype(dtype)
    g = (rng.random(size) - 0.5).astype(dtype)
    if impl == "fastdl":
        params = fastdl.FlatParams([("W", (size,))], dtype, flat=p)
        grads = fastdl.FlatParams([("W", (size,))], dtype, flat=g)
        opt = fastdl_optimizers.OPTIMIZERS[name]()
    elif impl == "book":
        params, grads = {"W": p}, {"W": g}
        opt = book_optimizer.OPTIMIZERS[name]()
    elif impl == "numpy":
        if name != "adam":
            raise NotImplementedError("the NumPy rewrite has Adam only")
        opt = numpy_prealloc.Adam(size, dtype)
        params, grads = p, g
    else:
        raise ValueError(f"unknown impl {impl!r}")

    def update():
        opt.update(params, grads)

    update()
    return update


@kernel(parallel=True)
def triad_kernel(a, b, c, scalar):
    """STREAM triad a = b + scalar * c over (n,) arrays, on Numba's threads."""
    for i in prange(a.size):
        a[i] = b[i] + scalar * c[i]


def triad(size, dtype):
    """A zero-argument callable doing one STREAM triad over three (size,) arrays of ``dtype``.

    It moves 3 * size * itemsize bytes (STREAM's count: no write-allocate).
    """
    a, b, c = np.zeros(size, dtype), np.ones(size, dtype), np.ones(size, dtype)
    scalar = np.dtype(dtype).type(3)
    triad_kernel(a, b, c, scalar)
    return lambda: triad_kernel(a, b, c, scalar)

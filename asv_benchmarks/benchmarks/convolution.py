"""Chapter 7: Convolution and Pooling layers, fastdl against the book's NumPy (tests/book/conv_layers.py).

The real shapes at batch 100: SimpleConvNet's first layer (1->30, 5x5 on 28x28)
and DeepConvNet's six 3x3 layers and its 2x2 stride-2 pools. The book's float32
row is the book's code given float32 W and x (its im2col still computes in float64).
"""
import statistics
import time

import numpy as np

from fastdl.layers import Convolution, Pooling

from .common import DTYPES, THREADS, Threaded
from book import conv_layers as book_conv  # noqa: E402  (tests/ is on sys.path through .common)

BATCH = 100
CONV_LAYERS = {
    # name: (input channels, filters, filter size, input height/width, pad)
    "simple-conv1": (1, 30, 5, 28, 0),
    "deep-conv1": (1, 16, 3, 28, 1),
    "deep-conv2": (16, 16, 3, 28, 1),
    "deep-conv3": (16, 32, 3, 14, 1),
    "deep-conv4": (32, 32, 3, 14, 2),
    "deep-conv5": (32, 64, 3, 8, 1),
    "deep-conv6": (64, 64, 3, 8, 1),
}
POOL_LAYERS = {"simple-pool1": (30, 24), "deep-pool1": (16, 28), "deep-pool2": (32, 16), "deep-pool3": (64, 8)}
IMPLS = ["fastdl", "book"]


def conv_layer(impl, name, dtype, seed=0):
    """``(layer, x, dout)``: a Convolution of ``impl`` on a random batch, forward already run once."""
    C, FN, k, H, pad = CONV_LAYERS[name]
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH, C, H, H)).astype(dtype)
    W = (0.1 * rng.standard_normal((FN, C, k, k))).astype(dtype)
    b = np.zeros(FN, dtype)
    layer = Convolution(W, b, pad=pad) if impl == "fastdl" else book_conv.Convolution(W, b, pad=pad)
    out = layer.forward(x)
    return layer, x, rng.standard_normal(out.shape).astype(dtype)


def pool_layer(impl, name, dtype, seed=0):
    """``(layer, x, dout)``: a 2x2 stride-2 Pooling of ``impl`` on a random batch, forward already run once."""
    C, H = POOL_LAYERS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, C, H, H)).astype(dtype)
    layer = Pooling(2, 2, stride=2) if impl == "fastdl" else book_conv.Pooling(2, 2, stride=2)
    out = layer.forward(x)
    return layer, x, rng.standard_normal(out.shape).astype(dtype)


class ConvolutionLayer(Threaded):
    """Forward and backward (dx, dW, db) of one convolution layer at batch 100."""

    params = (list(CONV_LAYERS), IMPLS, DTYPES, THREADS)
    param_names = ["layer", "impl", "dtype", "threads"]

    def setup(self, name, impl, dtype, threads):
        self.limit_threads(threads)
        self.layer, self.x, self.dout = conv_layer(impl, name, dtype)
        self.layer.backward(self.dout)

    def time_forward(self, *params):
        self.layer.forward(self.x)

    def time_backward(self, *params):
        self.layer.backward(self.dout)


class PoolingLayer(Threaded):
    """Forward and backward of one 2x2 stride-2 max pooling at batch 100."""

    params = (list(POOL_LAYERS), IMPLS, DTYPES, THREADS)
    param_names = ["layer", "impl", "dtype", "threads"]

    def setup(self, name, impl, dtype, threads):
        self.limit_threads(threads)
        self.layer, self.x, self.dout = pool_layer(impl, name, dtype)
        self.layer.backward(self.dout)

    def time_forward(self, *params):
        self.layer.forward(self.x)

    def time_backward(self, *params):
        self.layer.backward(self.dout)


class LayerSpeedup(Threaded):
    """The book's forward + backward time over fastdl's for each layer, both measured in this one run."""

    params = (list(CONV_LAYERS) + list(POOL_LAYERS), DTYPES, THREADS)
    param_names = ["layer", "dtype", "threads"]
    timeout = 300
    rounds = 7

    def setup(self, name, dtype, threads):
        self.limit_threads(threads)
        make = conv_layer if name in CONV_LAYERS else pool_layer
        self.layers = {impl: make(impl, name, dtype) for impl in IMPLS}

    def track_speedup_vs_book(self, *params):
        """Median of the book's forward+backward over fastdl's; the two alternate, so load hits both alike."""
        times = {impl: [] for impl in IMPLS}
        for _ in range(self.rounds):
            for impl, (layer, x, dout) in self.layers.items():
                start = time.perf_counter()
                layer.forward(x)
                layer.backward(dout)
                times[impl].append(time.perf_counter() - start)
        return statistics.median(times["book"]) / statistics.median(times["fastdl"])

    track_speedup_vs_book.unit = "x"

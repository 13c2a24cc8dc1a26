"""Every layer kernel, fastdl against the book, through the book's layer API (same calls for both)."""
import numpy as np

import fastdl

from .common import DTYPES, IMPLS, THREADS, Threaded, book_layers, seconds_per_call

LAYERS = {"fastdl": fastdl, "book": book_layers}


class Affine(Threaded):
    """``forward``: x @ W + b; ``backward``: dx, dW and db (the book's full backward)."""

    params = (["100x784x100", "100x100x10", "1024x784x1024"], DTYPES, IMPLS, THREADS)
    param_names = ["NxDxM", "dtype", "impl", "threads"]
    timeout = 120

    def setup(self, shape, dtype, impl, threads):
        self.limit_threads(threads)
        n, d, m = (int(size) for size in shape.split("x"))
        rng = np.random.default_rng(0)
        self.layer = LAYERS[impl].Affine(rng.standard_normal((d, m)).astype(dtype), np.zeros(m, dtype))
        self.x = rng.random((n, d)).astype(dtype)
        self.dout = rng.standard_normal((n, m)).astype(dtype)
        self.layer.forward(self.x)
        self.layer.backward(self.dout)
        self.flops = 2 * n * d * m

    def time_forward(self, *params):
        self.layer.forward(self.x)

    def time_backward(self, *params):
        self.layer.backward(self.dout)

    def track_forward_gflops(self, *params):
        return self.flops / seconds_per_call(lambda: self.layer.forward(self.x)) / 1e9

    track_forward_gflops.unit = "GFLOP/s"

    def track_backward_gflops(self, *params):
        return 2 * self.flops / seconds_per_call(lambda: self.layer.backward(self.dout)) / 1e9

    track_backward_gflops.unit = "GFLOP/s"


class Activation(Threaded):
    """ReLU and Sigmoid forward and backward over (n/100, 100) arrays; where ``parallel=True`` pays."""

    params = (["Relu", "Sigmoid"], [10_000, 100_000, 1_000_000], DTYPES, IMPLS, THREADS)
    param_names = ["layer", "n", "dtype", "impl", "threads"]

    def setup(self, name, n, dtype, impl, threads):
        self.limit_threads(threads)
        rng = np.random.default_rng(0)
        self.layer = getattr(LAYERS[impl], name)()
        self.x = rng.standard_normal((n // 100, 100)).astype(dtype)
        self.dout = rng.standard_normal((n // 100, 100)).astype(dtype)
        self.layer.forward(self.x)
        self.layer.backward(self.dout)
        itemsize = np.dtype(dtype).itemsize
        # Relu: read x, write out and a 1-byte mask; Sigmoid: read x, write out.
        self.forward_bytes = n * (2 * itemsize + (name == "Relu"))

    def time_forward(self, *params):
        self.layer.forward(self.x)

    def time_backward(self, *params):
        self.layer.backward(self.dout)

    def track_forward_bandwidth(self, *params):
        return self.forward_bytes / seconds_per_call(lambda: self.layer.forward(self.x)) / 1e9

    track_forward_bandwidth.unit = "GB/s"


class SoftmaxWithLoss:
    """Softmax, the book's cross-entropy and its gradient over (N, 10) logits."""

    params = ([100, 1024], DTYPES, IMPLS)
    param_names = ["N", "dtype", "impl"]

    def setup(self, n, dtype, impl):
        rng = np.random.default_rng(0)
        self.layer = LAYERS[impl].SoftmaxWithLoss()
        self.x = rng.standard_normal((n, 10)).astype(dtype)
        self.t = rng.integers(0, 10, n)
        self.time_forward_backward()

    def time_forward_backward(self, *params):
        self.layer.forward(self.x, self.t)
        self.layer.backward()

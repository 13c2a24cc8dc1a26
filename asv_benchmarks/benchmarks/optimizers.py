"""Every optimizer's update alone, on one flat set of parameters (fastdl: one fused kernel)."""
import numpy as np

from .common import DTYPES, IMPLS, OPTIMIZER_NAMES, THREADS, Threaded, optimizer_update, optimizer_words, \
    seconds_per_call, triad

SIZES = [100_000, 1_000_000, 10_000_000]


class OptimizerUpdate(Threaded):
    params = (OPTIMIZER_NAMES, SIZES, DTYPES, IMPLS, THREADS)
    param_names = ["optimizer", "params", "dtype", "impl", "threads"]
    timeout = 120

    def setup(self, name, size, dtype, impl, threads):
        self.limit_threads(threads)
        self.update = optimizer_update(impl, name, size, np.dtype(dtype))

    def time_update(self, *params):
        self.update()


class OptimizerBandwidth(Threaded):
    """fastdl's achieved bandwidth: bytes a fused update must move (read p, g, state; write p, state) per second.

    Compare with ``MemoryBandwidth.track_triad`` at the same size and dtype (the roofline).
    """

    params = (OPTIMIZER_NAMES, SIZES, DTYPES, THREADS)
    param_names = ["optimizer", "params", "dtype", "threads"]

    def setup(self, name, size, dtype, threads):
        self.limit_threads(threads)
        self.update = optimizer_update("fastdl", name, size, np.dtype(dtype))
        self.bytes = optimizer_words(name) * size * np.dtype(dtype).itemsize

    def track_bandwidth(self, *params):
        return self.bytes / seconds_per_call(self.update) / 1e9

    track_bandwidth.unit = "GB/s"


class MemoryBandwidth(Threaded):
    """STREAM triad ``a = b + s*c`` (3 * n * itemsize bytes): the bandwidth an update can reach at that size."""

    params = (SIZES, DTYPES, THREADS)
    param_names = ["n", "dtype", "threads"]

    def setup(self, size, dtype, threads):
        self.limit_threads(threads)
        self.triad = triad(size, np.dtype(dtype))
        self.bytes = 3 * size * np.dtype(dtype).itemsize

    def track_triad(self, *params):
        return self.bytes / seconds_per_call(self.triad) / 1e9

    track_triad.unit = "GB/s"

"""Chapter 6: a training step of MultiLayerNetExtend with batch norm and dropout, fastdl against the book.

784-[100]*5-10, batch 100, float64 parameters (the book's) and float32 inputs (what
``load_mnist(normalize=True)`` gives), ``gradient()`` then ``SGD(lr=0.01).update``.
"""
import statistics
import time

import numpy as np

import fastdl

from .common import THREADS, Threaded, book_multi_layer_net_extend, book_optimizer, random_batch

SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 100
IMPLS = ["fastdl", "book"]


def extend_step(impl, seed=0):
    """A zero-argument callable doing one training step with batch norm and dropout (first call already made)."""
    x, t = random_batch(SIZES, BATCH, np.float32, seed)
    kwargs = dict(use_batchnorm=True, use_dropout=True, dropout_ration=0.5)
    np.random.seed(seed)
    if impl == "fastdl":
        net = fastdl.MultiLayerNetExtend(SIZES[0], SIZES[1:-1], SIZES[-1], **kwargs)
        opt = fastdl.SGD(lr=0.01)
    elif impl == "book":
        net = book_multi_layer_net_extend.MultiLayerNetExtend(SIZES[0], SIZES[1:-1], SIZES[-1], **kwargs)
        opt = book_optimizer.SGD(lr=0.01)
    else:
        raise ValueError(f"unknown impl {impl!r}")

    def step():
        opt.update(net.params, net.gradient(x, t))

    step()
    return step


class BatchNormDropoutStep(Threaded):
    """One training step of 784-[100]*5-10 with batch norm and dropout."""

    params = (IMPLS, THREADS)
    param_names = ["impl", "threads"]

    def setup(self, impl, threads):
        self.limit_threads(threads)
        self.step = extend_step(impl)

    def time_step(self, *params):
        self.step()

    def peakmem_step(self, *params):
        self.step()


class BatchNormDropoutSpeedup(Threaded):
    """The book's step time over fastdl's, both measured in this one run (the issue's figure: at least 2)."""

    params = (THREADS,)
    param_names = ["threads"]
    timeout = 120
    rounds = 15
    steps_per_block = 20

    def setup(self, threads):
        self.limit_threads(threads)
        self.steps = {impl: extend_step(impl) for impl in IMPLS}

    def _block(self, step):
        start = time.perf_counter()
        for _ in range(self.steps_per_block):
            step()
        return time.perf_counter() - start

    def track_speedup_vs_book(self, threads):
        """Median block time of the book over fastdl's; blocks of 20 steps alternate, so load hits both alike."""
        times = {impl: [] for impl in IMPLS}
        for _ in range(self.rounds):
            for impl in IMPLS:
                times[impl].append(self._block(self.steps[impl]))
        return statistics.median(times["book"]) / statistics.median(times["fastdl"])

    track_speedup_vs_book.unit = "x"

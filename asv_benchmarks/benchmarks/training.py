"""Whole training steps and a whole MNIST epoch: ReLU networks and the book's convnets, softmax cross-entropy, Adam."""
import numpy as np

from .common import CONVNET_BATCH, CONVNETS, DTYPES, IMPLS, IMPLS_WITH_NUMPY, NETWORKS, THREADS, Threaded, \
    convnet, convnet_flops, epoch, image_batch, load_mnist_uint8, network, scaled, seconds_per_call, step_flops, \
    training_step

MNIST_SIZES = [784, 100, 100, 10]
MNIST_BATCH = 100


class _Step(Threaded):
    """What both training-step benchmarks measure of ``self.step``, whose FLOPs are ``self.flops``.

    asv skips names starting with "_", so this base is no benchmark of its own.
    """

    timeout = 300

    def time_step(self, *params):
        self.step()

    def peakmem_step(self, *params):
        self.step()

    def track_gflops(self, *params):
        """FLOPs the step needs (every product, no first-layer dx) per second: the same count for every impl."""
        return self.flops / seconds_per_call(self.step) / 1e9

    track_gflops.unit = "GFLOP/s"


class TrainingStep(_Step):
    """Forward, loss, backward and Adam update of one batch (the issue's four networks)."""

    params = (list(NETWORKS), DTYPES, IMPLS_WITH_NUMPY, THREADS)
    param_names = ["network", "dtype", "impl", "threads"]

    def setup(self, name, dtype, impl, threads):
        self.limit_threads(threads)
        sizes, batch = NETWORKS[name]
        self.step = training_step(impl, sizes, batch, dtype)
        self.flops = step_flops(sizes, batch)


class ConvNetTrainingStep(_Step):
    """Gradient (forward, loss, backward) and Adam update of one batch of 100 images: SimpleConvNet, DeepConvNet.

    The book's float32 row is its code given float32 parameters and images.
    PyTorch's rows, and the roofline, are in ``compare.py --only conv``.
    """

    params = (list(CONVNETS), DTYPES, IMPLS, THREADS)
    param_names = ["network", "dtype", "impl", "threads"]

    def setup(self, name, dtype, impl, threads):
        self.limit_threads(threads)
        self.flops = convnet_flops(name)
        _, step = convnet(impl, name, dtype)
        x, t = image_batch(CONVNET_BATCH, dtype)
        step(x, t)  # compiles fastdl's kernels and allocates every buffer and the optimizer's state
        self.step = lambda: step(x, t)


class MnistEpoch(Threaded):
    """One epoch of MNIST (60,000 images, batch 100, 784-100-100-10, Adam), batches gathered from a shuffle."""

    params = (DTYPES, IMPLS_WITH_NUMPY, THREADS)
    param_names = ["dtype", "impl", "threads"]
    timeout = 300

    def setup_cache(self):
        return load_mnist_uint8()

    def setup(self, data, dtype, impl, threads):
        self.limit_threads(threads)
        x_train, t_train = scaled(data[0], dtype), data[1]
        _, step = network(impl, MNIST_SIZES, MNIST_BATCH, dtype)
        step(x_train[:MNIST_BATCH], t_train[:MNIST_BATCH])
        self.epoch = epoch(impl, step, x_train, t_train, MNIST_BATCH)

    def time_epoch(self, *params):
        self.epoch()


class MnistAccuracy:
    """Test accuracy after a fixed 600 steps (one epoch, seed 0): the same number for every impl, to ~1e-3."""

    params = (DTYPES, IMPLS)
    param_names = ["dtype", "impl"]
    timeout = 300

    def setup_cache(self):
        return load_mnist_uint8()

    def track_test_accuracy(self, data, dtype, impl):
        x_train, t_train, x_test, t_test = scaled(data[0], dtype), data[1], scaled(data[2], dtype), data[3]
        net, step = network(impl, MNIST_SIZES, MNIST_BATCH, dtype)
        epoch(impl, step, x_train, t_train, MNIST_BATCH)()
        return float(net.accuracy(x_test, t_test.astype(np.int64)))

    track_test_accuracy.unit = "accuracy"

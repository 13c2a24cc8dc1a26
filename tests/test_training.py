"""A seeded training run on real MNIST follows the book's NumPy run step by step."""
import numpy as np
import pytest

import fastdl
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet
from book.optimizer import Adam as BookAdam


@pytest.fixture(scope="module")
def mnist_slice(mnist_dir):
    (x_train, t_train), _ = fastdl.load_mnist(data_dir=mnist_dir)
    return x_train[:2000], t_train[:2000]


def test_adam_run_matches_the_book_step_by_step(mnist_slice):
    x_train, t_train = mnist_slice
    np.random.seed(0)
    net, opt = fastdl.MultiLayerNet(784, [100, 100], 10), fastdl.Adam()
    np.random.seed(0)
    ref, ref_opt = BookMultiLayerNet(784, [100, 100], 10), BookAdam()
    batches = np.random.default_rng(1).integers(0, len(x_train), (60, 100))
    losses, ref_losses = [], []
    for mask in batches:
        x, t = x_train[mask], t_train[mask]
        opt.update(net.params, net.gradient(x, t))
        ref_opt.update(ref.params, ref.gradient(x, t))
        losses.append(net.loss(x, t))
        ref_losses.append(ref.loss(x, t))
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-9)
    assert ref_losses[-1] < 0.5 * ref_losses[0]
    for key in ref.params:
        np.testing.assert_allclose(net.params[key], ref.params[key], rtol=1e-7, atol=1e-10)
    assert net.accuracy(x_train, t_train) == ref.accuracy(x_train, t_train)


@pytest.mark.parametrize("name", sorted(fastdl.OPTIMIZERS))
def test_every_optimizer_trains_a_network_through_the_fused_path(mnist_slice, name):
    x_train, t_train = mnist_slice
    np.random.seed(0)
    net = fastdl.MultiLayerNet(784, [50], 10, dtype=np.float32)
    opt = fastdl.get_optimizer(name, **({"lr": 0.05} if name in ("sgd", "momentum", "nesterov", "adagrad") else {}))
    flat_before = net.params.flat
    first = net.loss(x_train[:500], t_train[:500])
    for start in range(0, 2000, 100):
        opt.update(net.params, net.gradient(x_train[start:start + 100], t_train[start:start + 100]))
    assert net.params.flat is flat_before and net.params.flat.dtype == np.float32
    assert net.loss(x_train[:500], t_train[:500]) < first

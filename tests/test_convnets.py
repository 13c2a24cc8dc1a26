"""fastdl's SimpleConvNet against the book's (tests/book/simple_convnet.py) and numerical gradients."""
import numpy as np

from fastdl.networks import SimpleConvNet
from tests.book.simple_convnet import SimpleConvNet as BookSimpleConvNet

SMALL = dict(input_dim=(1, 10, 10), conv_param={'filter_num': 10, 'filter_size': 3, 'pad': 0, 'stride': 1},
             hidden_size=10, output_size=10, weight_init_std=0.01)


def test_simple_convnet_matches_book_loss_and_gradients():
    np.random.seed(3)
    book = BookSimpleConvNet(**SMALL)
    np.random.seed(3)
    net = SimpleConvNet(**SMALL)
    x = np.random.rand(7, 1, 10, 10)
    t = np.random.randint(0, 10, 7)
    for key in book.params:
        np.testing.assert_array_equal(net.params[key], book.params[key])
    assert abs(net.loss(x, t) - book.loss(x, t)) < 1e-12
    grads, ref = net.gradient(x, t), book.gradient(x, t)
    for key in ref:
        np.testing.assert_allclose(grads[key], ref[key], rtol=1e-10, atol=1e-14)


def test_simple_convnet_numerical_gradient():
    # the book's ch07/gradient_check.py setup
    np.random.seed(0)
    net = SimpleConvNet(**SMALL)
    x = np.random.rand(1, 1, 10, 10)
    t = np.array([1])
    numerical = net.numerical_gradient(x, t)
    grads = net.gradient(x, t)
    # the book's check is the mean absolute difference: a few of the 10x8x8 ReLU inputs lie within
    # h = 1e-4 of the kink, where the central difference is off by design
    for key in numerical:
        assert np.mean(np.abs(grads[key] - numerical[key])) < 1e-5, key


def test_simple_convnet_accuracy_matches_book():
    np.random.seed(5)
    book = BookSimpleConvNet(**SMALL)
    np.random.seed(5)
    net = SimpleConvNet(**SMALL)
    x = np.random.rand(250, 1, 10, 10)
    t = np.random.randint(0, 10, 250)
    assert net.accuracy(x, t, batch_size=100) == book.accuracy(x, t, batch_size=100)

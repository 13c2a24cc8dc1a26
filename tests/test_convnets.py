"""fastdl's SimpleConvNet and DeepConvNet against the book's (tests/book/) and numerical gradients;
the book's pickles and pretrained DeepConvNet weights."""
import pickle
from pathlib import Path

import numpy as np
import pytest

from fastdl.datasets import load_mnist

from fastdl.networks import DeepConvNet, SimpleConvNet
from tests.book.deep_convnet import DeepConvNet as BookDeepConvNet
from tests.book.simple_convnet import SimpleConvNet as BookSimpleConvNet

DATA = Path(__file__).parent / "data"
# deep_convnet_params.pkl: the book's ch08 weights (MIT licence) as first published, oreilly-japan/
# deep-learning-from-scratch commit 0dda3d1 (2016). Commit b6f396f (2022) replaced them with weights that
# give 97.97% (and ch07/params.pkl with 96.0%), through the book's own code too.
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


DEEP_SMALL_SEED = 11


def test_deep_convnet_matches_book_loss_gradients_and_dropout():
    np.random.seed(DEEP_SMALL_SEED)
    book = BookDeepConvNet()
    np.random.seed(DEEP_SMALL_SEED)
    net = DeepConvNet()
    for key in book.params:
        np.testing.assert_array_equal(net.params[key], book.params[key])
    x = np.random.rand(4, 1, 28, 28)
    t = np.random.randint(0, 10, 4)
    state = np.random.get_state()
    ref = book.gradient(x, t)
    ref_loss = book.last_layer.loss
    np.random.set_state(state)
    grads = net.gradient(x, t)
    # the same global-RNG draws give the book's dropout masks, so training-mode losses agree
    np.random.set_state(state)
    assert abs(net.loss(x, t) - ref_loss) < 1e-12
    for key in ref:
        np.testing.assert_allclose(grads[key], ref[key], rtol=1e-9, atol=1e-13, err_msg=key)
    np.testing.assert_allclose(net.predict(x), book.predict(x), rtol=1e-12, atol=1e-13)


def test_book_pickles_round_trip(tmp_path):
    np.random.seed(2)
    net = SimpleConvNet(**SMALL)
    net.save_params(tmp_path / "params.pkl")
    book = BookSimpleConvNet(**SMALL)
    book.load_params(tmp_path / "params.pkl")
    for key in book.params:
        np.testing.assert_array_equal(book.params[key], net.params[key])
    other = SimpleConvNet(**SMALL, dtype=np.float32)
    other.load_params(tmp_path / "params.pkl")
    np.testing.assert_array_equal(other.params["W1"], net.params["W1"].astype(np.float32))


def test_load_params_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.pkl"
    with open(path, "wb") as f:
        pickle.dump({"W9": np.zeros(3)}, f)
    with pytest.raises(ValueError, match=r"bad\.pkl.*W9"):
        SimpleConvNet(**SMALL).load_params(path)
    with open(path, "wb") as f:
        pickle.dump({"W1": np.zeros(3)}, f)
    with pytest.raises(ValueError, match=r"bad\.pkl.*W1.*shape"):
        SimpleConvNet(**SMALL).load_params(path)


def test_book_deep_convnet_weights_give_the_books_accuracy(mnist_dir):
    (_, _), (x_test, t_test) = load_mnist(flatten=False, data_dir=mnist_dir)
    assert x_test.shape == (10000, 1, 28, 28)
    net = DeepConvNet()
    net.load_params(DATA / "deep_convnet_params.pkl")
    book = BookDeepConvNet()
    book.load_params(DATA / "deep_convnet_params.pkl")
    # the oracle on a subset (it takes seconds per thousand): the very same predictions
    np.testing.assert_array_equal(np.argmax(net.predict(x_test[:1000]), axis=1),
                                  np.argmax(book.predict(x_test[:1000]), axis=1))
    assert net.accuracy(x_test, t_test) == 0.9935  # the book's figure (ch08: 99.35%)

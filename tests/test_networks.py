"""Networks against the book's NumPy networks and against numerical gradients."""
import numpy as np
import pytest

import fastdl
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet
from book.multi_layer_net import TwoLayerNet as BookTwoLayerNet
from helpers import make_batch, seeded


@pytest.mark.parametrize("init", ["relu", "He", "sigmoid", "xavier", 0.01])
def test_init_draws_the_books_weights(init):
    net = seeded(fastdl.MultiLayerNet, 12, [7, 5], 4, weight_init_std=init)
    ref = seeded(BookMultiLayerNet, 12, [7, 5], 4, weight_init_std=init)
    assert list(net.params) == list(ref.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for key in ref.params:
        np.testing.assert_array_equal(net.params[key], ref.params[key])


def test_layers_share_the_flat_buffer():
    net = seeded(fastdl.MultiLayerNet, 12, [7], 4)
    assert list(net.layers) == ["Affine1", "Activation_function1", "Affine2"]
    for key in net.params:
        assert np.shares_memory(net.params[key], net.params.flat)
    assert net.layers["Affine1"].W is net.params["W1"]
    x, t = make_batch()
    before = net.loss(x, t)
    net.params["W1"] -= 0.5 * net.gradient(x, t)["W1"]
    assert net.layers["Affine1"].W is net.params["W1"] and np.shares_memory(net.params["W1"], net.params.flat)
    assert net.loss(x, t) < before
    net.params["W2"] = np.zeros((7, 4))
    assert np.all(net.layers["Affine2"].W == 0) and np.all(net.params.flat[-(7 * 4 + 4):] == 0)


def test_assigning_a_wrong_shape_names_the_key():
    net = seeded(fastdl.MultiLayerNet, 12, [7], 4)
    with pytest.raises(ValueError, match=r"params\['W1'\] has shape \(12, 7\)"):
        net.params["W1"] = np.zeros((7, 12))


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("weight_decay_lambda", [0, 0.1])
def test_gradient_matches_numerical_gradient(activation, weight_decay_lambda):
    net = seeded(fastdl.MultiLayerNet, 12, [6, 5], 4, activation=activation,
                 weight_init_std=0.5, weight_decay_lambda=weight_decay_lambda)
    x, t = make_batch(n=5)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    assert list(backprop) == list(numerical) == list(net.params)
    for key in net.params:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("weight_decay_lambda", [0, 0.1])
def test_loss_gradient_accuracy_match_the_book(weight_decay_lambda):
    net = seeded(fastdl.MultiLayerNet, 12, [8, 8], 4, weight_decay_lambda=weight_decay_lambda)
    ref = seeded(BookMultiLayerNet, 12, [8, 8], 4, weight_decay_lambda=weight_decay_lambda)
    x, t = make_batch()
    assert net.loss(x, t) == pytest.approx(ref.loss(x, t), rel=1e-13)
    grads, ref_grads = net.gradient(x, t), ref.gradient(x, t)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-12, atol=1e-15)
    one_hot = np.eye(4)[t]
    assert net.accuracy(x, t) == net.accuracy(x, one_hot) == ref.accuracy(x, t)
    np.testing.assert_allclose(net.predict(x), ref.predict(x), rtol=1e-13)


def test_two_layer_net_matches_the_book():
    net = seeded(fastdl.TwoLayerNet, 12, 9, 4)
    ref = seeded(BookTwoLayerNet, 12, 9, 4)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert isinstance(net.lastLayer, fastdl.SoftmaxWithLoss)
    x, t = make_batch()
    one_hot = np.eye(4)[t]
    assert net.loss(x, one_hot) == pytest.approx(ref.loss(x, one_hot), rel=1e-13)
    grads, ref_grads = net.gradient(x, one_hot), ref.gradient(x, one_hot)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-12, atol=1e-15)
    assert grads["W1"] is net.layers["Affine1"].dW


def test_seeded_sgd_training_follows_the_book_step_by_step():
    x_all, t_all = make_batch(n=200, d=12, classes=4, seed=3)
    net = seeded(fastdl.MultiLayerNet, 12, [10, 10], 4)
    ref = seeded(BookMultiLayerNet, 12, [10, 10], 4)
    rng = np.random.default_rng(7)
    for _ in range(100):
        mask = rng.choice(200, 16)
        x, t = x_all[mask], t_all[mask]
        grads, ref_grads = net.gradient(x, t), ref.gradient(x, t)
        for key in net.params:
            net.params[key] -= 0.1 * grads[key]
            ref.params[key] -= 0.1 * ref_grads[key]
        assert net.loss(x, t) == pytest.approx(ref.loss(x, t), rel=1e-11)
    for key in net.params:
        np.testing.assert_allclose(net.params[key], ref.params[key], rtol=1e-10, atol=1e-12)


def test_float32_network_stays_float32():
    net = seeded(fastdl.MultiLayerNet, 12, [8], 4, dtype=np.float32)
    ref = seeded(BookMultiLayerNet, 12, [8], 4)
    x, t = make_batch()
    grads = net.gradient(x, t)
    assert net.params.flat.dtype == np.float32 and grads.flat.dtype == np.float32
    assert net.predict(x).dtype == np.float32
    ref_grads = ref.gradient(x, t)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=2e-4, atol=1e-6)


def test_gradient_reuses_its_buffer_until_the_next_call():
    net = seeded(fastdl.MultiLayerNet, 12, [8], 4)
    x, t = make_batch()
    first = net.gradient(x, t)
    kept = {key: value.copy() for key, value in first.items()}
    second = net.gradient(x[:5], t[:5])
    assert second is first
    assert not np.allclose(first["W1"], kept["W1"])


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(activation="ReLU"), ValueError, "activation='ReLU'"),
    (dict(weight_init_std="gauss"), ValueError, "weight_init_std='gauss'"),
    (dict(weight_init_std=-1.0), ValueError, "positive"),
    (dict(weight_decay_lambda=-0.1), ValueError, "weight_decay_lambda"),
    (dict(dtype=np.int32), TypeError, "float32 or float64"),
])
def test_bad_network_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        fastdl.MultiLayerNet(12, [8], 4, **kwargs)


def test_wrong_input_width_is_named():
    net = seeded(fastdl.MultiLayerNet, 784, [8], 10)
    with pytest.raises(ValueError, match="expected width 784"):
        net.loss(np.zeros((2, 28)), np.array([1, 2]))

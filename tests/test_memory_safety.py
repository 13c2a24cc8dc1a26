"""Inputs that used to reach a kernel with the wrong extent, and checks that must hold before anything changes.

np.matrix (what scipy.sparse's ``todense()`` returns) stays 2-D under ``ravel()``; arrays resized
in place keep their identity; hyperparameters and parameters assigned after construction. The
oracle is closed-form arithmetic on plain arrays.
"""
import numpy as np
import pytest

from fastdl.layers import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss
from fastdl.networks import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet
from fastdl.optimizers import OPTIMIZERS, AdaDelta, Adam, AdamW, Momentum, RMSprop, SGD

pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


def test_relu_backward_zeroes_a_matrix_dout_in_place():
    x = np.array([[-1.0, 2.0, -3.0, 4.0]] * 50)
    relu = Relu()
    relu.forward(x)
    dout = np.asmatrix(np.ones((50, 4)))
    dx = relu.backward(dout)
    expected = np.where(x > 0, 1.0, 0.0)
    assert type(dx) is np.ndarray
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(np.asarray(dout), expected)  # in place, as the book


@pytest.mark.parametrize("side", ["params", "grads"])
def test_optimizer_updates_matrix_params_and_grads(side):
    p, g = np.ones((40, 30)), np.full((40, 30), 2.0)
    params = {"W": np.asmatrix(p) if side == "params" else p}
    SGD(lr=0.5).update(params, {"W": np.asmatrix(g) if side == "grads" else g})
    np.testing.assert_array_equal(np.asarray(params["W"]), np.zeros((40, 30)))


def test_layers_take_matrix_inputs_as_plain_arrays():
    x = np.arange(20.0).reshape(5, 4) / 10 - 1
    dout = np.asmatrix(np.ones((5, 4)))
    for layer, expected in ((Sigmoid(), 1 / (1 + np.exp(-x))), (Relu(), np.maximum(x, 0))):
        out = layer.forward(np.asmatrix(x))
        assert type(out) is np.ndarray and out.shape == (5, 4)
        np.testing.assert_allclose(out, expected)
        assert layer.backward(dout.copy()).shape == (5, 4)
    np.random.seed(0)
    dropout = Dropout(0.5)
    assert dropout.forward(np.asmatrix(x)).shape == (5, 4)
    assert dropout.backward(dout).shape == (5, 4)
    affine = Affine(np.asmatrix(np.ones((4, 3))), np.zeros(3))
    np.testing.assert_allclose(affine.forward(np.asmatrix(x)), x.sum(axis=1, keepdims=True) * np.ones((1, 3)))
    assert affine.backward(np.asmatrix(np.ones((5, 3)))).shape == (5, 4)
    loss = SoftmaxWithLoss().forward(np.asmatrix(np.zeros((5, 3))), np.asmatrix(np.eye(3)[[0, 1, 2, 0, 1]]))
    assert loss == pytest.approx(-np.log(1 / 3 + 1e-7))


def test_network_and_flat_params_take_matrices():
    np.random.seed(0)
    net = MultiLayerNetExtend(4, [5], 3, use_batchnorm=True, use_dropout=True)
    x, t = np.asmatrix(np.random.rand(10, 4)), np.arange(10) % 3
    assert net.predict(x).shape == (10, 3)
    grads = net.gradient(x, t)
    assert grads["W1"].shape == (4, 5)
    net.params["W1"] = np.asmatrix(np.full((4, 5), 2.0))
    assert type(net.params["W1"]) is np.ndarray and net.params["W1"].sum() == 40.0


def test_affine_refuses_a_bias_resized_after_forward():
    affine = Affine(np.ones((4, 3)), np.zeros(3))
    affine.forward(np.ones((2, 4)))
    affine.b.resize(2, refcheck=False)
    with pytest.raises(ValueError, match=r"Affine b has shape \(2,\).*expected \(3,\)"):
        affine.forward(np.ones((2, 4)))


def test_affine_refuses_weights_resized_after_forward():
    affine = Affine(np.ones((4, 3)), np.zeros(3))
    affine.forward(np.ones((2, 4)))
    affine.W.resize((4, 2), refcheck=False)
    with pytest.raises(ValueError, match=r"Affine b has shape \(3,\), but W has shape \(4, 2\)"):
        affine.forward(np.ones((2, 4)))


@pytest.mark.parametrize("name", ["beta", "running_mean", "running_var"])
@pytest.mark.parametrize("train_flg", [True, False])
def test_batchnorm_refuses_arrays_resized_after_forward(name, train_flg):
    bn = BatchNormalization(np.ones(4), np.zeros(4))
    bn.forward(np.random.rand(5, 4), train_flg=True)
    getattr(bn, name).resize(1, refcheck=False)
    with pytest.raises((TypeError, ValueError), match=rf"{name} .*shape .*\(4,\)"):
        bn.forward(np.random.rand(5, 4), train_flg)


@pytest.mark.parametrize("name", ["xc", "xn", "std"])
def test_batchnorm_backward_refuses_replaced_forward_state(name):
    bn = BatchNormalization(np.ones(4), np.zeros(4))
    bn.forward(np.random.rand(5, 4))
    setattr(bn, name, np.zeros(1))
    with pytest.raises(ValueError, match=rf"BatchNormalization.{name} was changed|training forward had \(1,\)"):
        bn.backward(np.ones((5, 4)))


HYPERPARAMETERS = [(SGD, "lr"), (Momentum, "lr"), (Momentum, "momentum"), (RMSprop, "decay_rate"),
                   (Adam, "beta1"), (Adam, "beta2"), (AdaDelta, "rho"), (AdaDelta, "eps"), (AdamW, "weight_decay")]


@pytest.mark.parametrize("cls, name", HYPERPARAMETERS)
@pytest.mark.parametrize("value, error", [(None, TypeError), (float("nan"), ValueError), (-1.0, ValueError),
                                          ("0.1", TypeError)])
def test_hyperparameter_assigned_later_is_checked(cls, name, value, error):
    optimizer = cls()
    with pytest.raises(error, match=name):
        setattr(optimizer, name, value)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_lr_assigned_later_is_checked_and_a_valid_one_used(name):
    optimizer = OPTIMIZERS[name]()
    with pytest.raises(TypeError, match="lr"):
        optimizer.lr = None
    optimizer.lr = np.float32(0.5)
    assert optimizer.lr == 0.5 and type(optimizer.lr) is float


def test_sgd_lr_none_leaves_params_untouched():
    optimizer = SGD(0.1)
    with pytest.raises(TypeError, match="lr"):
        optimizer.lr = None
    params = {"W": np.ones(3)}
    optimizer.update(params, {"W": np.ones(3)})
    np.testing.assert_allclose(params["W"], 0.9)


@pytest.mark.parametrize("value, error", [(None, TypeError), (-1, ValueError), (1.5, TypeError)])
def test_adam_iter_is_checked(value, error):
    with pytest.raises(error, match="iter"):
        Adam().iter = value


def test_params_update_checks_every_value_before_copying():
    net = TwoLayerNet(4, 5, 3)
    before = net.params.flat.copy()
    with pytest.raises(TypeError, match="b1"):
        net.params.update({"W1": np.zeros((4, 5)), "b1": np.zeros(5, complex)})
    with pytest.raises(ValueError, match="W2"):
        net.params.update(W1=np.zeros((4, 5)), W2=np.zeros(3))
    np.testing.assert_array_equal(net.params.flat, before)


@pytest.mark.parametrize("shape", [(0, 1, 28, 28), (0, 28, 28), (0, 784)])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_predict_on_an_empty_batch_gives_no_rows(shape, batchnorm):
    net = MultiLayerNetExtend(784, [5], 10, use_batchnorm=batchnorm)
    assert net.predict(np.zeros(shape)).shape == (0, 10)
    assert MultiLayerNet(784, [5], 10).predict(np.zeros(shape, np.float32)).shape == (0, 10)

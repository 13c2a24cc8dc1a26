"""Bad input at every public entry point: one row per case, the error type and a fragment of its message.

A second table holds inputs the book accepts (read-only uint8 labels, Fortran-ordered float32
weights, float16 and other non-float64 inputs, strided arrays): fastdl accepts them too and gives
the book's numbers (tests/book). NaN and inf in the data travel like NumPy's (the book's numbers
again); a training run notices the non-finite loss (tests/test_diagnostics.py).
"""
import numpy as np
import pytest
from book import layers as book
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet

import fastdl
from fastdl import (Adam, Affine, BatchNormalization, Dropout, FlatParams, Momentum, MultiLayerNet,
                    MultiLayerNetExtend, Relu, SGD, Sigmoid, SoftmaxWithLoss, Trainer, TwoLayerNet, load_mnist,
                    numerical_gradient)
from fastdl.datasets import DatasetError
from fastdl.optimizers import get_optimizer

RNG = np.random.default_rng(0)
X = RNG.random((6, 5))
T = RNG.integers(0, 3, 6).astype(np.uint8)


def affine():
    return Affine(RNG.standard_normal((5, 3)), np.zeros(3))


def after_forward(layer, x=X):
    layer.forward(x)
    return layer


def read_only(array):
    array = np.array(array)
    array.flags.writeable = False
    return array


def net(**kwargs):
    return MultiLayerNet(5, [4], 3, **kwargs)


def trainer(**kwargs):
    arguments = dict(network=net(), x_train=X, t_train=T, x_test=X, t_test=T, epochs=1, mini_batch_size=2,
                     verbose=False)
    return Trainer(**{**arguments, **kwargs})


def params_and_grads():
    params = {"W": RNG.standard_normal((3, 2)), "b": np.zeros(2)}
    return params, {key: np.ones_like(value) for key, value in params.items()}


def used_optimizer(cls=Adam):
    optimizer, (params, grads) = cls(), params_and_grads()
    optimizer.update(params, grads)
    return optimizer


def used_on_a_net(optimizer):
    network = net()
    optimizer.update(network.params, network.gradient(X, T))
    return optimizer


C = complex
BAD = [
    # --- Affine ---------------------------------------------------------------------------------
    ("affine x object", lambda: affine().forward(X.astype(object)), TypeError, "real numeric array, got dtype object"),
    ("affine x complex", lambda: affine().forward(X.astype(C)), TypeError, "got dtype complex128"),
    ("affine x wrong width", lambda: affine().forward(X[:, :4]), ValueError, r"width 4 .* expected width 5"),
    ("affine x scalar", lambda: affine().forward(np.float64(1)), ValueError, "got a scalar"),
    ("affine W float16", lambda: Affine(np.ones((5, 3), np.float16), np.zeros(3)).forward(X), TypeError,
     r"W has dtype float16; use W.astype\(np.float64\)"),
    ("affine W int", lambda: Affine(np.ones((5, 3), int), np.zeros(3)).forward(X), TypeError, "W has dtype int64"),
    ("affine W 1-D", lambda: Affine(np.ones(5), np.zeros(3)).forward(X), TypeError,
     r"2-D array, got ndarray of shape \(5,\)"),
    ("affine W list", lambda: Affine([[1.0] * 3] * 5, np.zeros(3)).forward(X), TypeError, "2-D array, got list"),
    ("affine b too long", lambda: Affine(np.ones((5, 3)), np.zeros(4)).forward(X), ValueError,
     r"b has shape \(4,\), but W has shape \(5, 3\): expected \(3,\)"),
    ("affine b too short", lambda: Affine(np.ones((5, 3)), np.zeros(2)).forward(X), ValueError, r"b has shape \(2,\)"),
    ("affine b 2-D", lambda: Affine(np.ones((5, 3)), np.zeros((1, 3))).forward(X), ValueError, r"b has shape \(1, 3\)"),
    ("affine b complex", lambda: Affine(np.ones((5, 3)), np.zeros(3, C)).forward(X), TypeError, "b must be a real"),
    ("affine backward first", lambda: affine().backward(np.ones((6, 3))), RuntimeError,
     r"Affine.backward needs a forward\(\)"),
    ("affine dout wrong shape", lambda: after_forward(affine()).backward(np.ones((6, 4))), ValueError,
     r"dout of shape \(6, 4\), the forward output was \(6, 3\)"),
    ("affine dout wrong rows", lambda: after_forward(affine()).backward(np.ones((5, 3))), ValueError, r"\(5, 3\)"),
    ("affine dout complex", lambda: after_forward(affine()).backward(np.ones((6, 3), C)), TypeError,
     "dout must be a real numeric array"),
    # --- Relu, Sigmoid ----------------------------------------------------------------------------
    ("relu x object", lambda: Relu().forward(np.ones(3, object)), TypeError, "dtype object"),
    ("relu backward first", lambda: Relu().backward(np.ones(3)), RuntimeError, "forward"),
    ("relu dout wrong shape", lambda: after_forward(Relu()).backward(np.ones((5, 6))), ValueError,
     r"dout of shape \(5, 6\), the forward input was \(6, 5\)"),
    ("relu dout read-only", lambda: after_forward(Relu()).backward(read_only(X)), ValueError,
     r"read-only: pass dout.copy\(\)"),
    ("relu dout list", lambda: after_forward(Relu()).backward(X.tolist()), TypeError, "must be an array, got list"),
    ("sigmoid x complex", lambda: Sigmoid().forward(X.astype(C)), TypeError, "complex128"),
    ("sigmoid backward first", lambda: Sigmoid().backward(np.ones(3)), RuntimeError, "forward"),
    ("sigmoid dout wrong shape", lambda: after_forward(Sigmoid()).backward(np.ones(3)), ValueError, r"\(3,\)"),
    # --- SoftmaxWithLoss --------------------------------------------------------------------------
    ("loss empty batch", lambda: SoftmaxWithLoss().forward(np.zeros((0, 3)), np.zeros(0, int)), ValueError,
     "empty batch"),
    ("loss no classes", lambda: SoftmaxWithLoss().forward(np.zeros((2, 0)), np.zeros(2, int)), ValueError,
     r"C >= 1, got \(2, 0\)"),
    ("loss 3-D logits", lambda: SoftmaxWithLoss().forward(np.zeros((2, 3, 1)), T[:2]), ValueError, r"\(2, 3, 1\)"),
    ("loss logits object", lambda: SoftmaxWithLoss().forward(np.zeros((2, 3), object), T[:2]), TypeError, "object"),
    ("loss label too large", lambda: SoftmaxWithLoss().forward(X, np.array([0, 1, 5, 2, 7, 0])), ValueError,
     r"label 5 is out of range for 5 classes \(valid: 0..4\)"),
    ("loss label negative", lambda: SoftmaxWithLoss().forward(X, np.array([0, -1, 0, 0, 0, 0])), ValueError,
     "label -1 is out of range"),
    ("loss label beyond int64", lambda: SoftmaxWithLoss().forward(X[:2], np.array([0, 2**63], np.uint64)),
     ValueError, "label 9223372036854775808 is out of range"),
    ("loss too few labels", lambda: SoftmaxWithLoss().forward(X, T[:5]), ValueError,
     r"labels of shape \(5,\) do not match logits of shape \(6, 5\)"),
    ("loss one-hot too wide", lambda: SoftmaxWithLoss().forward(X, np.eye(6)[T]), ValueError,
     r"expected \(6,\) class indices or \(6, 5\) one-hot rows"),
    ("loss float labels", lambda: SoftmaxWithLoss().forward(X, T.astype(float)), TypeError,
     "class-index labels must have an integer dtype, got float64"),
    ("loss bool labels", lambda: SoftmaxWithLoss().forward(X, T > 0), TypeError, "integer dtype, got bool"),
    ("loss string labels", lambda: SoftmaxWithLoss().forward(X, T.astype(str)), TypeError, "dtype <U"),
    ("loss complex one-hot", lambda: SoftmaxWithLoss().forward(X, np.eye(5, dtype=C)[T]), TypeError, "complex"),
    ("loss NaN one-hot", lambda: SoftmaxWithLoss().forward(X, np.where(np.eye(5)[T] > 0, np.nan, 0)), ValueError,
     "one-hot labels hold NaN or inf"),
    ("loss backward first", lambda: SoftmaxWithLoss().backward(), RuntimeError, "forward"),
    # --- BatchNormalization, Dropout ----------------------------------------------------------------
    ("batchnorm empty batch", lambda: BatchNormalization(np.ones(5), np.zeros(5)).forward(np.zeros((0, 5))),
     ValueError, "empty batch"),
    ("batchnorm gamma float16", lambda: BatchNormalization(np.ones(5, np.float16), np.zeros(5, np.float16)),
     TypeError, "gamma must be a 1-D float32/float64 array"),
    ("batchnorm beta other dtype", lambda: BatchNormalization(np.ones(5), np.zeros(5, np.float32)), TypeError,
     "beta must be a float64 array"),
    ("batchnorm momentum string", lambda: BatchNormalization(np.ones(5), np.zeros(5), momentum="0.9"), TypeError,
     "momentum must be a real number, got '0.9'"),
    ("batchnorm momentum NaN", lambda: BatchNormalization(np.ones(5), np.zeros(5), momentum=np.nan), ValueError,
     r"momentum must be a number in \[0, 1\], got nan"),
    ("batchnorm dout wrong shape", lambda: after_forward(BatchNormalization(np.ones(5), np.zeros(5))).backward(
        np.ones((5, 5))), ValueError, r"dout of shape \(5, 5\), the training forward had \(6, 5\)"),
    ("dropout ratio string", lambda: Dropout("0.5"), TypeError, "dropout_ratio must be a real number"),
    ("dropout ratio 1.5", lambda: Dropout(1.5), ValueError, r"dropout_ratio must be a number in \[0, 1\]"),
    ("dropout backward first", lambda: Dropout().backward(np.ones(3)), RuntimeError, "forward"),
    # --- networks ---------------------------------------------------------------------------------
    ("net hidden sizes int", lambda: MultiLayerNet(5, 4, 3), TypeError, "hidden_size_list must be a list"),
    ("net size zero", lambda: MultiLayerNet(5, [0], 3), ValueError, r"positive integers, got \[5, 0, 3\]"),
    ("net size float", lambda: MultiLayerNet(5, [4.0], 3), ValueError, "positive integers"),
    ("net size string", lambda: MultiLayerNet("5", [4], 3), ValueError, "positive integers"),
    ("two-layer hidden list", lambda: TwoLayerNet(5, [4], 3), ValueError, "positive integers"),
    ("net unknown activation", lambda: net(activation="tanh"), ValueError, "activation='tanh': choose one of"),
    ("net unknown init", lambda: net(weight_init_std="gauss"), ValueError, "weight_init_std='gauss'"),
    ("net init None", lambda: net(weight_init_std=None), ValueError, "weight_init_std=None"),
    ("net init NaN", lambda: net(weight_init_std=np.nan), ValueError, "positive number, got nan"),
    ("net init bool", lambda: net(weight_init_std=True), ValueError, "weight_init_std=True"),
    ("net weight decay string", lambda: net(weight_decay_lambda="0.1"), ValueError,
     "weight_decay_lambda must be a number >= 0, got '0.1'"),
    ("net weight decay negative", lambda: net(weight_decay_lambda=-1), ValueError, "weight_decay_lambda"),
    ("net dtype float16", lambda: net(dtype=np.float16), TypeError, "float32 or float64, got float16"),
    ("net dtype unknown", lambda: net(dtype="real"), TypeError, "float32 or float64, got 'real'"),
    ("net dtype complex", lambda: net(dtype=C), TypeError, "got complex128"),
    ("extend dropout ratio", lambda: MultiLayerNetExtend(5, [4], 3, use_dropout=True, dropout_ration=2), ValueError,
     "dropout_ratio"),
    ("net x wrong width", lambda: net().loss(X[:, :4], T), ValueError, "expected width 5"),
    ("net x complex", lambda: net().predict(X.astype(C)), TypeError, "complex128"),
    ("net empty batch loss", lambda: net().loss(X[:0], T[:0]), ValueError, "empty batch"),
    ("net empty batch gradient", lambda: net().gradient(X[:0], T[:0]), ValueError, "empty batch"),
    ("net empty batch accuracy", lambda: net().accuracy(X[:0], T[:0]), ValueError, "accuracy got an empty batch"),
    ("net label out of range", lambda: net().gradient(X, T + 3), ValueError, "out of range for 3 classes"),
    ("net accuracy label out of range", lambda: net().accuracy(X, T + 3), ValueError, "out of range for 3 classes"),
    ("net accuracy too few labels", lambda: net().accuracy(X, T[:5]), ValueError, r"labels of shape \(5,\)"),
    ("net accuracy one-hot too wide", lambda: net().accuracy(X, np.eye(4)[T]), ValueError, r"\(6, 4\)"),
    ("net params wrong shape", lambda: net().params.__setitem__("W1", np.zeros((4, 5))), ValueError,
     r"params\['W1'\] has shape \(5, 4\), cannot assign shape \(4, 5\)"),
    ("net params unknown key", lambda: net().params.__setitem__("W9", np.zeros(3)), KeyError,
     "'W9' is not a parameter"),
    ("net params complex", lambda: net().params.__setitem__("b1", np.zeros(4, C)), TypeError,
     "cannot assign an array of dtype complex128"),
    ("net params delete", lambda: net().params.pop("W1"), TypeError, "fixed set of keys"),
    # --- FlatParams -------------------------------------------------------------------------------
    ("flat repeated key", lambda: FlatParams([("W", (2,)), ("W", (3,))]), ValueError, r"repeats keys: \['W'\]"),
    ("flat negative dimension", lambda: FlatParams([("W", (2, -1))]), ValueError, r"'W' has a negative dimension"),
    ("flat shape not a tuple", lambda: FlatParams([("W", 3)]), ValueError, r"\(key, shape\) pairs"),
    ("flat shape of floats", lambda: FlatParams([("W", (2.0,))]), ValueError, r"\(key, shape\) pairs"),
    ("flat buffer wrong size", lambda: FlatParams([("W", (2,))], flat=np.zeros(3)), ValueError,
     r"of shape \(2,\), got float64 \(3,\)"),
    ("flat buffer strided", lambda: FlatParams([("W", (2,))], flat=np.zeros(4)[::2]), ValueError, "C-contiguous"),
    ("flat order not the keys", lambda: FlatParams([("W", (2,))], order=["V"]), ValueError, "not a permutation"),
    # --- optimizers ---------------------------------------------------------------------------------
    ("optimizer unknown name", lambda: get_optimizer("adamax"), ValueError, "unknown optimizer 'adamax'; valid names"),
    ("optimizer name None", lambda: get_optimizer(None), ValueError, "unknown optimizer None"),
    ("optimizer unknown argument", lambda: get_optimizer("sgd", lrr=0.1), TypeError,
     "unexpected keyword argument 'lrr'"),
    ("optimizer lr string", lambda: SGD(lr="0.1"), TypeError, "lr must be a real number, got '0.1'"),
    ("optimizer lr zero", lambda: SGD(lr=0), ValueError, "lr must be a finite number > 0"),
    ("optimizer lr inf", lambda: Adam(lr=np.inf), ValueError, "lr must be a finite number > 0, got inf"),
    ("optimizer lr NaN", lambda: Adam(lr=np.nan), ValueError, "lr must be a finite number > 0, got nan"),
    ("optimizer lr bool", lambda: SGD(lr=True), TypeError, "lr must be a real number, got True"),
    ("optimizer momentum 1", lambda: Momentum(momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
    ("optimizer beta2 negative", lambda: Adam(beta2=-0.1), ValueError, r"beta2 must be in \[0, 1\)"),
    ("optimizer weight decay negative", lambda: get_optimizer("adamw", weight_decay=-1), ValueError, "weight_decay"),
    ("optimizer eps zero", lambda: get_optimizer("adadelta", eps=0), ValueError, "eps must be a finite number > 0"),
    ("update grads lack a key", lambda: SGD().update({"W": np.ones(2), "b": np.ones(2)}, {"W": np.ones(2)}),
     KeyError, r"missing from grads \['b'\]"),
    ("update grads extra key", lambda: SGD().update({"W": np.ones(2)}, {"W": np.ones(2), "V": np.ones(2)}),
     KeyError, r"extra in grads \['V'\]"),
    ("update grad wrong shape", lambda: SGD().update({"W": np.ones(2)}, {"W": np.ones(3)}), ValueError,
     r"grads\['W'\] has shape \(3,\) but params\['W'\] has shape \(2,\)"),
    ("update grad bool", lambda: SGD().update({"W": np.ones(2)}, {"W": np.ones(2, bool)}), TypeError,
     r"grads\['W'\] has dtype bool"),
    ("update grad object", lambda: SGD().update({"W": np.ones(2)}, {"W": None}), TypeError, "dtype object"),
    ("update grad complex", lambda: SGD().update({"W": np.ones(2)}, {"W": np.ones(2, C)}), TypeError, "complex128"),
    ("update params int", lambda: SGD().update({"W": np.ones(2, int)}, {"W": np.ones(2)}), TypeError,
     r"params\['W'\] has dtype int64"),
    ("update params float16", lambda: SGD().update({"W": np.ones(2, np.float16)}, {"W": np.ones(2)}), TypeError,
     "float16"),
    ("update params read-only", lambda: SGD().update({"W": read_only(np.ones(2))}, {"W": np.ones(2)}), ValueError,
     r"params\['W'\] is read-only"),
    ("update params list", lambda: SGD().update({"W": [1.0, 2.0]}, {"W": np.ones(2)}), TypeError, "is a list"),
    ("update params not a dict", lambda: SGD().update([np.ones(2)], {"W": np.ones(2)}), TypeError,
     "params must be a dict"),
    ("update flat grads of another layout", lambda: SGD().update(net().params, MultiLayerNet(5, [6], 3).gradient(X, T)),
     ValueError, r"grads\['W1'\] has shape \(5, 6\) but params\['W1'\] has shape \(5, 4\)"),
    ("optimizer reused on another net", lambda: used_on_a_net(Adam()).update(net().params, net().gradient(X, T)),
     ValueError, "state was built for another FlatParams buffer"),
    ("optimizer reused from a net on a dict", lambda: used_on_a_net(Adam()).update(*params_and_grads()),
     ValueError, "state was built for another FlatParams buffer"),
    ("optimizer reused on other dict", lambda: used_optimizer(Momentum).update({"W": np.ones(2)}, {"W": np.ones(2)}),
     ValueError, r"keys differ: missing \['b'\], new \[\]"),
    ("optimizer reused on resized params", lambda: used_optimizer().update(
        {"W": np.ones((3, 3)), "b": np.ones(2)}, {"W": np.ones((3, 3)), "b": np.ones(2)}), ValueError,
     r"params\['W'\] was float64 \(3, 2\), now float64 \(3, 3\)"),
    # --- numerical_gradient ------------------------------------------------------------------------
    ("numerical gradient of ints", lambda: numerical_gradient(lambda w: 0.0, np.zeros(3, int)), TypeError,
     "x must be a float array, got ndarray of dtype int64"),
    ("numerical gradient of a list", lambda: numerical_gradient(lambda w: 0.0, [1.0]), TypeError, "got list"),
    ("numerical gradient read-only", lambda: numerical_gradient(lambda w: 0.0, read_only(np.zeros(3))), ValueError,
     "x is read-only"),
    ("numerical gradient f not callable", lambda: numerical_gradient(3, np.zeros(3)), TypeError, "needs a function f"),
    ("numerical gradient f returns array", lambda: numerical_gradient(lambda w: w, np.zeros(3)), ValueError,
     r"return one number \(the loss\), got shape \(3,\)"),
    # --- Trainer ------------------------------------------------------------------------------------
    ("trainer network None", lambda: trainer(network=None), TypeError, "NoneType lacks"),
    ("trainer unknown optimizer", lambda: trainer(optimizer="adamax"), ValueError, "unknown optimizer 'adamax'"),
    ("trainer optimizer_param string", lambda: trainer(optimizer_param="lr=0.1"), TypeError,
     "optimizer_param must be a dict"),
    ("trainer bad lr", lambda: trainer(optimizer_param={"lr": -1}), ValueError, "lr must be a finite number > 0"),
    ("trainer x and t lengths", lambda: trainer(t_train=T[:5]), ValueError,
     r"x_train and t_train .*\(6, 5\) and \(5,\)"),
    ("trainer empty train", lambda: trainer(x_train=X[:0], t_train=T[:0]), ValueError, "x_train is empty"),
    ("trainer empty test", lambda: trainer(x_test=X[:0], t_test=T[:0]), ValueError, "x_test is empty"),
    ("trainer scalar x", lambda: trainer(x_train=1.0), ValueError, "one row per sample"),
    ("trainer epochs float", lambda: trainer(epochs=1.5), ValueError, "epochs must be an integer >= 0, got 1.5"),
    ("trainer batch zero", lambda: trainer(mini_batch_size=0), ValueError, "mini_batch_size must be an integer >= 1"),
    ("trainer evaluate zero", lambda: trainer(evaluate_sample_num_per_epoch=0), ValueError, "evaluate_sample_num"),
    ("trainer labels out of range", lambda: trainer(t_train=T + 3).train(), ValueError, "out of range for 3 classes"),
    ("trainer x wrong width", lambda: trainer(x_test=X[:, :4]).train(), ValueError, "expected width 5"),
    # --- load_mnist (before any download is tried) ---------------------------------------------------
    ("load_mnist unknown dataset", lambda: load_mnist(dataset="cifar10"), DatasetError, "unknown dataset 'cifar10'"),
    ("load_mnist missing dir", lambda: load_mnist(data_dir="/nonexistent/mnist"), DatasetError,
     "/nonexistent/mnist .*does not exist"),
    ("load_mnist dir is a file", lambda: load_mnist(data_dir=__file__), DatasetError, "is not a directory"),
    ("load_mnist dir not a path", lambda: load_mnist(data_dir=3), TypeError, "os.PathLike"),
]


@pytest.mark.parametrize("call, error, fragment", [pytest.param(*row[1:], id=row[0]) for row in BAD])
def test_bad_input_is_refused_with_a_clear_message(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_mnist_files_loaded_as_fashion_are_named(mnist_dir):
    with pytest.raises(DatasetError, match="this is MNIST's train-images-idx3-ubyte.gz, not Fashion-MNIST's"):
        load_mnist(data_dir=mnist_dir, dataset="fashion")


def test_failed_update_leaves_params_and_state_unchanged():
    params, grads = params_and_grads()
    optimizer = Adam()
    optimizer.update(params, grads)
    before = {key: value.copy() for key, value in params.items()}
    state = optimizer.state_dict()
    with pytest.raises(ValueError):
        optimizer.update(params, {"W": grads["W"], "b": np.ones(3)})
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])
    for key, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(value, state[key])


# --- what the book accepts, fastdl accepts with the book's numbers ---------------------------------

def book_pair(x, t, **kwargs):
    """(fastdl loss and gradients, book loss and gradients) of one seeded network on (x, t)."""
    np.random.seed(3)
    ours = MultiLayerNet(5, [4], 3, **kwargs)
    np.random.seed(3)
    ref = BookMultiLayerNet(5, [4], 3, **kwargs)
    loss, grads = ours.loss(x, t), {key: value.copy() for key, value in ours.gradient(x, t).items()}
    return (loss, grads), (ref.loss(x, t), ref.gradient(x, t))


def assert_same_numbers(ours, ref):
    (loss, grads), (ref_loss, ref_grads) = ours, ref
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-11, atol=1e-15)


ACCEPTED_INPUTS = {
    "read-only uint8 labels": (X, read_only(T)),
    "read-only x": (read_only(X), T),
    "float16 x": (X.astype(np.float16), T),
    "float32 x": (X.astype(np.float32), T),
    "uint8 x": ((X * 255).astype(np.uint8), T),
    "int x": ((X * 10).astype(np.int32), T),
    "Fortran-ordered x": (np.asfortranarray(X), T),
    "strided x": (np.repeat(X, 2, axis=1)[:, ::2], T),
    "int64 labels": (X, T.astype(np.int64)),
    "strided labels": (X, np.repeat(T, 2)[::2]),
    "float one-hot labels": (X, np.eye(3)[T]),
    "int one-hot labels": (X, np.eye(3, dtype=np.int32)[T]),
    "read-only one-hot labels": (X, read_only(np.eye(3)[T])),
}


@pytest.mark.parametrize("case", ACCEPTED_INPUTS)
def test_network_accepts_what_the_book_accepts(case):
    x, t = ACCEPTED_INPUTS[case]
    assert_same_numbers(*book_pair(x, t))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_and_inf_inputs_give_the_books_non_finite_numbers():
    x = X.copy()
    x[0, 0] = np.nan
    assert np.isnan(book_pair(x, T)[0][0]) and np.isnan(book_pair(x, T)[1][0])
    x[0, 0] = np.inf
    ours, ref = book_pair(x, T)
    assert np.isnan(ours[0]) and np.isnan(ref[0])
    logits = np.array([[-np.inf, 0.0, 1.0], [0.0, 2.0, 1.0]])
    ref = book.SoftmaxWithLoss()
    assert SoftmaxWithLoss().forward(logits, np.array([2, 1])) == pytest.approx(
        ref.forward(logits, np.array([2, 1])), rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fortran_ordered_weights_give_the_books_numbers(dtype):
    W = np.asfortranarray(RNG.standard_normal((5, 3)).astype(dtype))
    b = RNG.standard_normal(3).astype(dtype)
    x, dout = RNG.random((4, 5)).astype(dtype), RNG.standard_normal((4, 3)).astype(dtype)
    layer, ref = Affine(W, b), book.Affine(W, b)
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(layer.forward(x), ref.forward(x), **tolerance)
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), **tolerance)
    np.testing.assert_allclose(layer.dW, ref.dW, **tolerance)
    np.testing.assert_allclose(layer.db, ref.db, **tolerance)
    assert layer.W is W and layer.forward(x).dtype == dtype


def test_fortran_ordered_float32_weights_load_into_a_network():
    """The book's sample_weight.pkl habit: ``network.params[key] = saved[key]`` (F-ordered float32)."""
    np.random.seed(4)
    ours, ref = MultiLayerNet(5, [4], 3), BookMultiLayerNet(5, [4], 3)
    saved = {key: np.asfortranarray(RNG.standard_normal(value.shape).astype(np.float32))
             for key, value in ref.params.items()}
    for key, value in saved.items():
        ours.params[key] = value
        ref.params[key] = value
    for layer_index in (1, 2):
        ref.layers[f"Affine{layer_index}"].W = ref.params[f"W{layer_index}"]
        ref.layers[f"Affine{layer_index}"].b = ref.params[f"b{layer_index}"]
    assert ours.loss(X, T) == pytest.approx(ref.loss(X, T), rel=1e-6)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6)


def test_strided_weights_and_other_dtype_bias_give_the_books_numbers():
    W = RNG.standard_normal((5, 6))[:, ::2]
    b = RNG.standard_normal(3).astype(np.float32)
    layer, ref = Affine(W, b), book.Affine(W, b)
    np.testing.assert_allclose(layer.forward(X), ref.forward(X), rtol=1e-13)
    dout = RNG.standard_normal((6, 3))
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), rtol=1e-13)
    np.testing.assert_allclose(layer.dW, ref.dW, rtol=1e-13)


def test_empty_batch_through_affine_is_empty_as_in_numpy():
    """The book's reshape(0, -1) fails; an empty product is well defined, so fastdl returns it."""
    W, b = RNG.standard_normal((5, 3)), np.zeros(3)
    assert Affine(W, b).forward(X[:0]).shape == (X[:0] @ W + b).shape == (0, 3)
    assert MultiLayerNet(5, [4], 3).predict(X[:0]).shape == (0, 3)


def test_relu_keeps_the_books_in_place_fallback_for_int_dout():
    layer, ref = after_forward(Relu(), X - 0.5), book.Relu()
    ref.forward(X - 0.5)
    dout = np.arange(30).reshape(6, 5)
    expected = ref.backward(dout.copy())
    assert layer.backward(dout) is dout
    np.testing.assert_array_equal(dout, expected)


def test_float16_input_to_a_float32_layer_stays_float32():
    out = Affine(np.ones((5, 3), np.float32), np.zeros(3, np.float32)).forward(X.astype(np.float16))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, X.astype(np.float16).astype(np.float64).sum(axis=1, keepdims=True) * np.ones(3),
                               rtol=1e-6)


def test_list_inputs_work_as_in_numpy():
    np.random.seed(3)
    ours = MultiLayerNet(5, [4], 3)
    np.random.seed(3)
    ref = BookMultiLayerNet(5, [4], 3)
    assert ours.loss(X.tolist(), T.tolist()) == pytest.approx(ref.loss(X, T), rel=1e-13)
    assert fastdl.SoftmaxWithLoss().forward(np.zeros(3), 1) == pytest.approx(-np.log(1 / 3 + 1e-7), rel=1e-14)

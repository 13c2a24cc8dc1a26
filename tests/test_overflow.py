"""Float overflow: a huge lr, huge inputs or huge weights give the book's IEEE numbers (inf, NaN) or a clear error
naming the value, and never a NumPy RuntimeWarning (every warning is an error in this module).

Oracles: the book's functions (tests/book) evaluated with NumPy's warnings silenced, closed forms, and the
parameters left unchanged by a refused update.
"""
import math

import numpy as np
import pytest

import fastdl
from book import conv_layers as book_conv
from book import gradient as book_gradient
from book import layers as book_layers
from book import optimizer as book_optimizer
from book.multi_layer_net_extend import BatchNormalization as BookBatchNormalization
from fastdl import diagnostics, functions
from helpers import run_cli

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

HUGE = {np.float32: 1e30, np.float64: 1e300}
"""An lr far beyond any that trains, yet within the dtype's range."""
BEYOND = {np.float32: 1e200}
"""A value float32 cannot hold (float64 can)."""


def book_quietly(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings silenced: the book's numbers, not its warnings."""
    with np.errstate(all="ignore"):
        return fn(*args)


@pytest.mark.parametrize("x", [[-1e4, 1e4, 0.0], [-np.inf, np.inf, np.nan]])
def test_sigmoid_and_softmax_give_the_books_numbers_quietly(x, dtype):
    x = np.array(x, dtype)
    np.testing.assert_array_equal(functions.sigmoid(x), book_quietly(lambda v: 1 / (1 + np.exp(-v)), x))
    rows = np.array([x, [1.0, 2.0, 3.0]], dtype)
    np.testing.assert_array_equal(functions.softmax(rows), book_quietly(book_layers.softmax, rows))
    assert functions.sigmoid_grad(np.array([-1e4], dtype))[0] == 0


def test_sum_squared_and_cross_entropy_overflow_quietly(dtype):
    big = np.array([np.finfo(dtype).max, -np.finfo(dtype).max], dtype)
    assert functions.sum_squared_error(big, np.zeros(2, dtype)) == np.inf
    y = np.array([[-1.0, 2.0]], dtype)  # not a probability: log of a negative is NaN, as in the book
    assert math.isnan(functions.cross_entropy_error(y, np.array([0])))
    assert math.isnan(book_quietly(book_layers.cross_entropy_error, y, np.array([0])))


def test_weight_decay_of_weights_past_the_dtype_is_inf_as_the_books_sum(dtype):
    np.random.seed(0)
    net = fastdl.MultiLayerNet(6, [5], 3, weight_decay_lambda=0.1, dtype=dtype)
    net.params["W1"] = np.full((6, 5), 1e20)  # each W**2 is 1e40: beyond float32 (3.4e38), fine in float64
    x, t = np.zeros((4, 6), dtype), np.array([0, 1, 2, 0])
    loss = net.loss(x, t)
    expected = 0.5 * 0.1 * 30 * 1e40 if dtype == np.float64 else math.inf
    assert loss == pytest.approx(expected, rel=1e-6) if math.isfinite(expected) else loss == math.inf
    assert net.gradient(x, t) is net.grads  # the backward pass runs without a warning too


def test_numerical_gradient_of_an_infinite_loss_is_nan_as_the_books(dtype):
    w = np.array([1.0, -2.0], dtype)
    got = fastdl.numerical_gradient(lambda v: np.float32(np.inf), w)
    expected = book_quietly(book_gradient.numerical_gradient, lambda v: np.float32(np.inf), w.copy())
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got).all()
    steep = fastdl.numerical_gradient(lambda v: 1e300 * float(v[0]), np.zeros(1, dtype))
    assert steep[0] == (np.inf if dtype == np.float32 else pytest.approx(1e300))


def test_gradient_norm_of_huge_finite_gradients_is_finite():
    assert diagnostics.gradient_norm({"W": np.full(4, 1e300)}) == pytest.approx(2e300, rel=1e-12)
    assert diagnostics.gradient_norm({"W": np.full((2, 2), 3e38, np.float32), "b": np.zeros(0)}) == pytest.approx(
        6e38, rel=1e-6)
    assert diagnostics.gradient_norm({"W": np.array([1e300, np.inf])}) == math.inf
    assert math.isnan(diagnostics.gradient_norm({"W": np.array([1e300, np.nan])}))
    assert diagnostics.gradient_norm({"W": np.array([3.0, 4.0])}) == 5.0


@pytest.mark.parametrize("name", list(fastdl.OPTIMIZERS))
def test_an_lr_float32_cannot_hold_is_refused_before_any_change(name):
    params = {"W": np.ones((3, 2), np.float32), "b": np.ones(2, np.float32)}
    grads = {"W": np.ones((3, 2), np.float32), "b": np.ones(2, np.float32)}
    optimizer = fastdl.OPTIMIZERS[name](lr=BEYOND[np.float32])
    with pytest.raises(ValueError, match=r"\(lr=1e\+200\): its step scales by .* which does not fit float32 "
                                         r"parameters \(largest 3.4e\+38\): use a smaller lr or float64"):
        optimizer.update(params, grads)
    assert all(np.array_equal(value, np.ones_like(value)) for value in params.values())
    net = fastdl.MultiLayerNet(4, [3], 2, dtype=np.float32)
    before = net.params.flat.copy()
    with pytest.raises(ValueError, match="does not fit float32"):
        fastdl.OPTIMIZERS[name](lr=BEYOND[np.float32]).update(net.params, net.gradient(np.ones((2, 4)), [0, 1]))
    np.testing.assert_array_equal(net.params.flat, before)
    # float64 holds it: the update goes through, as in the book (with inf or NaN parameters as the result)
    fastdl.OPTIMIZERS[name](lr=BEYOND[np.float32]).update({"W": np.ones(2)}, {"W": np.ones(2)})


@pytest.mark.parametrize("name", list(fastdl.OPTIMIZERS))
@pytest.mark.parametrize("case", ["huge lr", "huge grads", "huge params"])
def test_overflowing_updates_give_the_books_inf_and_nan(name, case, dtype):
    big = float(np.finfo(dtype).max) / 4
    lr, grad, param = {"huge lr": (HUGE[dtype], 1.0, 1.0), "huge grads": (0.01, big, 1.0),
                       "huge params": (0.01, 1.0, big)}[case]
    start = np.array([param, -param, 0.5, np.nan], dtype)
    grads = np.array([grad, grad, -grad, 1.0], dtype)
    got, expected = {"W": start.copy()}, {"W": start.copy()}
    ours, book = fastdl.OPTIMIZERS[name](lr=lr), book_optimizer.OPTIMIZERS[name](lr=lr)
    for _ in range(3):
        ours.update(got, {"W": grads})
        book_quietly(book.update, expected, {"W": grads.copy()})
    # the same pattern of inf, -inf and NaN as the book's NumPy; finite entries to rounding
    for kind in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(kind(got["W"]), kind(expected["W"]), err_msg=f"{kind.__name__}")
    finite = np.isfinite(expected["W"])
    np.testing.assert_allclose(got["W"][finite], expected["W"][finite], rtol=1e-5)


def test_a_weight_decay_the_dtype_cannot_hold_is_refused():
    with pytest.raises(ValueError, match=r"weight_decay_lambda=1e\+200 does not fit float32 \(largest 3.4e\+38\)"):
        fastdl.MultiLayerNet(4, [3], 2, weight_decay_lambda=1e200, dtype=np.float32)
    assert fastdl.MultiLayerNet(4, [3], 2, weight_decay_lambda=1e200, dtype=np.float64).weight_decay_lambda == 1e200


def test_a_diverging_lr_far_above_the_default_is_advised_the_default():
    with pytest.raises(fastdl.diagnostics.NonFiniteLossError, match=r"lr=1e\+30\).*e\.g\. lr=0\.01\."):
        diagnostics.check_finite_loss(math.inf, 3, fastdl.SGD(lr=1e30))
    with pytest.raises(fastdl.diagnostics.NonFiniteLossError, match=r"e\.g\. lr=10\."):
        diagnostics.check_finite_loss(math.nan, 3, fastdl.SGD(lr=100))


def test_trainer_stops_on_overflowing_weight_decay_without_a_warning(capsys):
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(100, 8)).astype(np.float32), rng.integers(0, 3, 100)
    np.random.seed(0)
    net = fastdl.MultiLayerNet(8, [6], 3, weight_decay_lambda=1e30, dtype=np.float32)
    trainer = fastdl.Trainer(net, x, t, x, t, epochs=2, mini_batch_size=50, optimizer="sgd",
                             optimizer_param={"lr": 10.0}, verbose=False)
    with pytest.raises(fastdl.diagnostics.NonFiniteLossError, match="the training loss became"):
        trainer.train()


@pytest.mark.parametrize("argv, flag", [
    (["train", "--weight-decay", "1e200"], "--weight-decay"),
    (["compare", "optimizers", "--weight-decay", "1e200"], "--weight-decay"),
    (["compare", "init", "--lr", "1e200"], "--lr"),
    (["compare", "lr", "--lr", "1e200"], "--lr"),
    (["compare", "batchnorm", "--lr", "1e200"], "--lr"),
    (["compare", "overfit", "--lr", "1e200"], "--lr"),
])
def test_cli_refuses_values_float32_cannot_hold_before_reading_data(argv, flag, tmp_path):
    status, _, err = run_cli([*argv, "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "out")])
    assert status == 2
    assert f"{flag}=1e+200 does not fit float32 (largest 3.4e+38): use a smaller value or float64" in err
    assert not (tmp_path / "out").exists()
    status, _, err = run_cli([*argv, "--dtype", "float64", "--data-dir", str(tmp_path / "no-data"),
                              "--out", str(tmp_path / "out")])
    assert status == 1 and "--data-dir" in err  # float64 holds it: the command goes on to look for the data


def test_train_with_overflowing_weight_decay_stops_with_its_message(mnist_dir, tmp_path):
    status, _, err = run_cli(["train", "--train-size", "500", "--hidden", "10", "--epochs", "1", "--threads", "1",
                              "--optimizer", "sgd", "--lr", "10", "--weight-decay", "1e30",
                              "--data-dir", str(mnist_dir), "--out", str(tmp_path / "run")])
    assert status == 1 and "fastdl: stopped: the training loss became" in err and "RuntimeWarning" not in err


@pytest.mark.parametrize("experiment, extra, names", [
    ("init", ["--iters", "3"], ["std=0.01", "Xavier", "He"]),
    ("lr", ["--iters", "3"], ["sgd (article)", "adagrad (book)"]),
    ("overfit", ["--epochs", "2", "--train-size", "200"], ["plain", "weight decay 0.1", "dropout 0.2"]),
    ("optimizers", ["--iters", "3", "--optimizers", "sgd", "adam"], ["sgd"]),
])
def test_compare_tells_which_networks_diverged(experiment, extra, names, mnist_dir, tmp_path):
    lr = ["--lr", "1e30"] if experiment != "optimizers" else []
    if experiment == "optimizers":  # compare optimizers runs each optimizer at its default lr: blow up its weights
        extra = [*extra, "--weight-decay", "1e30"]
    status, _, err = run_cli(["compare", experiment, *lr, *extra, "--threads", "1", "--data-dir", str(mnist_dir),
                              "--out", str(tmp_path / "out")])
    assert status == 0, err
    for name in names:
        assert f"fastdl: warning: {name}: the training loss became nan at iteration" in err, err
    assert "its curve ends there; try a smaller --lr" in err


def assert_same_ieee(got, expected, rtol=1e-5):
    """The same places of NaN, inf and -inf; the finite entries equal to rounding."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    for kind in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(kind(got), kind(expected), err_msg=kind.__name__)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=rtol, atol=1e-6)


def overflowing_batch(dtype, shape=(4, 6)):
    """Positive values past half the dtype's range, one inf and one NaN: any summation order overflows alike."""
    x = np.full(shape, np.finfo(dtype).max / 2, dtype)
    x.flat[1], x.flat[2], x.flat[3] = np.inf, np.nan, 1.0
    return x


def test_affine_relu_sigmoid_overflow_as_the_books(dtype):
    x = overflowing_batch(dtype)
    W, b = np.linspace(0.5, 2.0, 18).reshape(6, 3).astype(dtype), np.ones(3, dtype)
    ours, book = fastdl.layers.Affine(W, b), book_layers.Affine(W.copy(), b.copy())
    y = ours.forward(x)
    assert_same_ieee(y, book_quietly(book.forward, x))
    dout = np.full_like(y, np.finfo(dtype).max / 2)
    assert_same_ieee(ours.backward(dout), book_quietly(book.backward, dout))
    assert_same_ieee(ours.dW, book.dW)
    for ours, book in ((fastdl.layers.Relu(), book_layers.Relu()), (fastdl.layers.Sigmoid(), book_layers.Sigmoid())):
        signed = x * np.where(np.arange(x.size) % 2, 1, -1).reshape(x.shape).astype(dtype)
        assert_same_ieee(ours.forward(signed.copy()), book_quietly(book.forward, signed.copy()))
        dout = np.full_like(signed, np.finfo(dtype).max / 2)
        assert_same_ieee(ours.backward(dout.copy()), book_quietly(book.backward, dout.copy()))


@pytest.mark.parametrize("exact", [False, True])
def test_softmax_with_loss_of_logits_at_the_dtypes_ends(exact, dtype):
    big = np.finfo(dtype).max
    x = np.array([[big, -big, 0.0], [1.0, 2.0, 3.0], [-big, -big, -big]], dtype)
    t = np.array([1, 0, 2])
    ours, book = fastdl.layers.SoftmaxWithLoss(exact=exact), book_layers.SoftmaxWithLoss()
    loss, expected = ours.forward(x, t), book_quietly(book.forward, x, t)
    if exact:  # the first row's exact loss is 2 * max: inf in float64, finite in float32's float64 sum
        assert loss >= float(big) / 3
    else:
        assert loss == pytest.approx(float(expected), rel=1e-5)  # -log(0 + 1e-7) caps the first row at 16.1
    assert_same_ieee(ours.backward(), book_quietly(book.backward))


def test_batchnorm_whose_variance_overflows_gives_the_books_zeros(dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(6, 3)) * np.sqrt(np.finfo(dtype).max) * 4).astype(dtype)
    gamma, beta = np.ones(3, dtype), np.zeros(3, dtype)
    ours = fastdl.layers.BatchNormalization(gamma.copy(), beta.copy())
    book = BookBatchNormalization(gamma.copy(), beta.copy())
    y, expected = ours.forward(x, train_flg=True), book_quietly(book.forward, x, True)
    assert_same_ieee(y, expected)
    assert np.all(y == 0) and np.all(np.isposinf(ours.running_var))
    dout = np.ones_like(y)
    assert_same_ieee(ours.backward(dout), book_quietly(book.backward, dout))
    assert_same_ieee(ours.running_var, book.running_var)


def test_convolution_and_pooling_overflow_as_the_books(dtype):
    x = overflowing_batch(dtype, (2, 1, 4, 4))
    W, b = np.linspace(0.5, 1.5, 18).reshape(2, 1, 3, 3).astype(dtype), np.ones(2, dtype)
    ours, book = fastdl.layers.Convolution(W, b), book_conv.Convolution(W.copy(), b.copy())
    # the book's im2col builds float64 columns whatever the input: its numbers, rounded to the layer's dtype
    y = ours.forward(x)
    assert_same_ieee(y, book_quietly(lambda: book.forward(x).astype(dtype)))
    dout = np.full_like(y, np.finfo(dtype).max / 2)
    assert_same_ieee(ours.backward(dout), book_quietly(lambda: book.backward(dout).astype(dtype)))
    assert_same_ieee(ours.dW, book_quietly(lambda: book.dW.astype(dtype)))
    ours, book = fastdl.layers.Pooling(2, 2, 2), book_conv.Pooling(2, 2, 2)
    pooled = ours.forward(x)
    assert_same_ieee(pooled, book_quietly(book.forward, x))


@pytest.mark.parametrize("name", ["SimpleConvNet", "DeepConvNet"])
def test_convnets_with_huge_weights_stay_quiet(name):
    np.random.seed(0)
    net = getattr(fastdl.networks, name)(dtype=np.float32)
    net.params.flat[:] *= 1e30
    x, t = np.random.rand(2, 1, 28, 28).astype(np.float32), np.array([3, 7])
    loss = net.loss(x, t)
    assert not math.isfinite(loss) or loss > 10  # the logits overflow: a capped, inf or NaN loss, as NumPy gives
    net.gradient(x, t)
    assert 0 <= net.accuracy(x, t) <= 1

"""BatchNormalization, Dropout and MultiLayerNetExtend against the book's NumPy code
(tests/book/multi_layer_net_extend.py), closed forms and numerical gradients."""
import numpy as np
import pytest
from book import optimizer as book_optimizer
from book.gradient import numerical_gradient
from book.multi_layer_net_extend import BatchNormalization as BookBatchNorm
from book.multi_layer_net_extend import Dropout as BookDropout
from book.multi_layer_net_extend import MultiLayerNetExtend as BookNet

from fastdl.layers import BatchNormReluDropout
from fastdl.layers import BatchNormalization, Dropout, Relu
from fastdl.networks import MultiLayerNet, MultiLayerNetExtend
from fastdl.optimizers import get_optimizer
from helpers import make_batch, seeded

TOL = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=2e-4, atol=2e-5)}


def batch_norm_pair(rng, dtype, d=6):
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.standard_normal(d)
    layer = BatchNormalization(gamma.astype(dtype), beta.astype(dtype))
    return layer, BookBatchNorm(gamma, beta)


@pytest.mark.parametrize("shape", [(8, 6), (5, 2, 1, 3)], ids=["2d", "4d"])
def test_batch_norm_matches_the_book(rng, dtype, shape):
    layer, ref = batch_norm_pair(rng, dtype, d=int(np.prod(shape[1:])))
    for step in range(3):
        x = (rng.standard_normal(shape) * 3 + step).astype(dtype)
        out, want = layer.forward(x), ref.forward(x.astype(np.float64))
        assert out.shape == shape and out.dtype == dtype
        np.testing.assert_allclose(out, want, **TOL[dtype])
        dout = rng.standard_normal(shape).astype(dtype)
        dx, ref_dx = layer.backward(dout), ref.backward(dout.astype(np.float64))
        assert dx.shape == shape and dx.dtype == dtype
        for got, expected in [(dx, ref_dx), (layer.dgamma, ref.dgamma), (layer.dbeta, ref.dbeta),
                              (layer.xc, ref.xc), (layer.xn, ref.xn), (layer.std, ref.std),
                              (layer.running_mean, ref.running_mean), (layer.running_var, ref.running_var)]:
            assert got.dtype == dtype
            np.testing.assert_allclose(got, expected, **TOL[dtype])
        assert layer.batch_size == ref.batch_size == shape[0] and layer.input_shape == shape
    x = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(layer.forward(x, train_flg=False), ref.forward(x, train_flg=False), **TOL[dtype])


def test_batch_norm_float64_is_bitwise_the_books(rng):
    layer, ref = batch_norm_pair(rng, np.float64, d=7)
    for _ in range(2):
        x, dout = rng.standard_normal((9, 7)), rng.standard_normal((9, 7))
        np.testing.assert_array_equal(layer.forward(x), ref.forward(x))
        np.testing.assert_array_equal(layer.backward(dout), ref.backward(dout))
        np.testing.assert_array_equal(layer.dgamma, ref.dgamma)
        np.testing.assert_array_equal(layer.running_var, ref.running_var)
    np.testing.assert_array_equal(layer.forward(x, False), ref.forward(x, False))


def test_batch_norm_closed_form_eps_and_running_stats():
    layer = BatchNormalization(np.ones(2), np.zeros(2))
    x = np.array([[0.0, 5.0], [2.0, 5.0]])
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x / np.sqrt(1e-6))
    out = layer.forward(x)
    np.testing.assert_allclose(out[:, 0], [-1 / np.sqrt(1 + 1e-6), 1 / np.sqrt(1 + 1e-6)], rtol=1e-15)
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0])
    np.testing.assert_allclose(layer.running_mean, [0.1 * 1.0, 0.1 * 5.0], rtol=1e-15)
    np.testing.assert_allclose(layer.running_var, [0.1 * 1.0, 0.0], rtol=1e-15)
    layer.forward(x)
    np.testing.assert_allclose(layer.running_mean, [0.19, 0.95], rtol=1e-15)


def test_batch_norm_copies_given_running_stats():
    running_mean, running_var = np.array([1.0, 2.0]), np.array([4.0, 9.0])
    layer = BatchNormalization(np.ones(2), np.zeros(2), running_mean=running_mean, running_var=running_var)
    x = np.array([[3.0, 5.0]])
    np.testing.assert_allclose(layer.forward(x, train_flg=False), [[2 / np.sqrt(4 + 1e-6), 3 / np.sqrt(9 + 1e-6)]])
    layer.forward(np.array([[0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_array_equal(running_mean, [1.0, 2.0])
    np.testing.assert_allclose(layer.running_mean, [1.0, 1.9])


def test_batch_norm_backward_matches_numerical_gradient(rng):
    gamma, beta = rng.uniform(0.5, 2.0, 4), rng.standard_normal(4)
    layer = BatchNormalization(gamma, beta)
    x, weights = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    f = lambda _: float(np.sum(layer.forward(x) * weights))  # noqa: E731
    numerical = {name: numerical_gradient(f, array) for name, array in [("x", x), ("gamma", gamma), ("beta", beta)]}
    layer.forward(x)
    dx = layer.backward(weights)
    for got, name in [(dx, "x"), (layer.dgamma, "gamma"), (layer.dbeta, "beta")]:
        np.testing.assert_allclose(got, numerical[name], rtol=1e-6, atol=1e-8)


def test_dropout_draws_the_books_masks_from_the_global_rng(rng, dtype):
    x = rng.standard_normal((7, 5)).astype(dtype)
    layer, ref = Dropout(0.3), BookDropout(0.3)
    np.random.seed(11)
    out = layer.forward(x).copy()
    after = np.random.rand()
    np.random.seed(11)
    want = ref.forward(x)
    assert np.random.rand() == after
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(layer.mask, ref.mask)
    dout = rng.standard_normal((7, 5)).astype(dtype)
    np.testing.assert_array_equal(layer.backward(dout), ref.backward(dout))
    assert layer.backward(dout).dtype == dtype
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), ref.forward(x, train_flg=False))
    np.testing.assert_allclose(layer.forward(x, train_flg=False), x * dtype(0.7), rtol=1e-7)


def fresh_batch_norm():
    return BatchNormalization(np.ones(3), np.zeros(3))


@pytest.mark.parametrize("make, error, fragment", [
    (lambda: fresh_batch_norm().forward(np.zeros((2, 4))), ValueError, "4 features, gamma has 3"),
    (lambda: fresh_batch_norm().forward(np.zeros((2, 3, 1))), ValueError, r"shape \(2, 3, 1\)"),
    (lambda: fresh_batch_norm().backward(np.zeros((2, 3))), RuntimeError, "forward"),
    (lambda: BatchNormalization(np.ones(3, int), np.zeros(3)), TypeError, "gamma"),
    (lambda: BatchNormalization(np.ones(3), np.zeros(3), running_mean=np.zeros(2)), ValueError, "running_mean"),
    (lambda: Dropout(1.5), ValueError, "dropout_ratio"),
    (lambda: Dropout().backward(np.zeros(3)), RuntimeError, "forward"),
])
def test_bad_layer_use_is_named(make, error, fragment):
    with pytest.raises(error, match=fragment):
        make()


def test_extend_keys_and_layers_follow_the_book():
    kwargs = dict(use_batchnorm=True, use_dropout=True, dropout_ration=0.2)
    net = seeded(MultiLayerNetExtend, 12, [8, 6], 4, **kwargs)
    ref = seeded(BookNet, 12, [8, 6], 4, **kwargs)
    assert list(net.params) == list(ref.params) == \
        ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"]
    assert list(net.layers) == list(ref.layers) == \
        ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
         "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    for key in ref.params:
        np.testing.assert_array_equal(net.params[key], ref.params[key])
    assert net.layers["BatchNorm1"].gamma is net.params["gamma1"]
    assert net.layers["Dropout2"].dropout_ratio == 0.2 and net.use_dropout and net.use_batchnorm
    x, t = make_batch()
    grads_order = ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert list(net.gradient(x, t)) == list(ref.gradient(x, t)) == grads_order
    assert net.gradient(x, t).layout == net.params.layout


def test_multi_layer_net_use_batchnorm_builds_the_same_network():
    x, t = make_batch()
    net = seeded(MultiLayerNet, 12, [8, 6], 4, use_batchnorm=True)
    ext = seeded(MultiLayerNetExtend, 12, [8, 6], 4, use_batchnorm=True)
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Activation_function1",
                                "Affine2", "BatchNorm2", "Activation_function2", "Affine3"]
    assert list(net.params) == list(ext.params)
    grads, ext_grads = net.gradient(x, t), ext.gradient(x, t)
    assert list(grads) == list(ext_grads)
    np.testing.assert_array_equal(grads.flat, ext_grads.flat)
    assert net.loss(x, t) == ext.loss(x, t)


@pytest.mark.parametrize("batch", [1, 5], ids=["one-sample", "five-samples"])
@pytest.mark.parametrize("weight_decay_lambda", [0, 0.1])
def test_batch_norm_network_gradient_check(batch, weight_decay_lambda):
    """The book's ch06 batch_norm_gradient_check, scaled down from 784-[100, 100]-10."""
    net = seeded(MultiLayerNetExtend, 12, [10, 8], 4, weight_init_std=0.5, use_batchnorm=True,
                 weight_decay_lambda=weight_decay_lambda)
    net.params.flat[:] += np.random.default_rng(0).standard_normal(net.params.flat.size) * 0.1
    x, t = make_batch(n=batch)
    numerical = net.numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    assert list(numerical) == list(backprop)
    for key in numerical:
        np.testing.assert_allclose(backprop[key], numerical[key], rtol=1e-4, atol=5e-6, err_msg=key)


def test_loss_defaults_to_inference_mode():
    kwargs = dict(use_batchnorm=True, use_dropout=True)
    net, ref = seeded(MultiLayerNetExtend, 12, [8], 4, **kwargs), seeded(BookNet, 12, [8], 4, **kwargs)
    x, t = make_batch()
    for step in range(3):
        np.random.seed(step)
        net.gradient(x, t)
        np.random.seed(step)
        ref.gradient(x, t)
    assert net.loss(x, t) == pytest.approx(ref.loss(x, t), rel=1e-12)
    np.testing.assert_allclose(net.predict(x), ref.predict(x), rtol=1e-12)
    assert net.accuracy(x, t) == ref.accuracy(x, t)
    np.random.seed(7)
    train_loss = net.loss(x, t, train_flg=True)
    np.random.seed(7)
    assert train_loss == pytest.approx(ref.loss(x, t, train_flg=True), rel=1e-12)
    assert train_loss != pytest.approx(net.loss(x, t), rel=1e-3)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_seeded_training_with_batch_norm_and_dropout_follows_the_book(optimizer):
    x_all, t_all = make_batch(n=200, d=12, classes=4, seed=3)
    kwargs = dict(use_batchnorm=True, use_dropout=True, dropout_ration=0.3, weight_decay_lambda=0.01)
    net = seeded(MultiLayerNetExtend, 12, [10, 10, 10], 4, **kwargs)
    ref = seeded(BookNet, 12, [10, 10, 10], 4, **kwargs)
    opt = get_optimizer(optimizer, lr=0.05)
    ref_opt = book_optimizer.OPTIMIZERS[optimizer](lr=0.05)
    np.random.seed(5)
    for _ in range(60):
        state = np.random.get_state()
        mask = np.random.choice(200, 16)
        opt.update(net.params, net.gradient(x_all[mask], t_all[mask]))
        np.random.set_state(state)
        mask = np.random.choice(200, 16)
        ref_opt.update(ref.params, ref.gradient(x_all[mask], t_all[mask]))
        assert net.loss(x_all[mask], t_all[mask]) == pytest.approx(ref.loss(x_all[mask], t_all[mask]), rel=1e-10)
    for key in ref.params:  # atol: the biases feeding batch norm get ~1e-17 gradients, noise under Adam
        np.testing.assert_allclose(net.params[key], ref.params[key], rtol=1e-9, atol=1e-10, err_msg=key)
    np.testing.assert_allclose(net.layers["BatchNorm2"].running_var, ref.layers["BatchNorm2"].running_var, rtol=1e-9)


def test_float32_extend_network_stays_float32():
    kwargs = dict(use_batchnorm=True, use_dropout=True)
    net = seeded(MultiLayerNetExtend, 12, [8, 8], 4, dtype=np.float32, **kwargs)
    ref = seeded(BookNet, 12, [8, 8], 4, **kwargs)
    x, t = make_batch()
    np.random.seed(9)
    grads = net.gradient(x, t)
    np.random.seed(9)
    ref_grads = ref.gradient(x, t)
    assert grads.flat.dtype == np.float32 and net.params.flat.dtype == np.float32
    assert net.layers["BatchNorm1"].running_mean.dtype == np.float32
    assert net.predict(x).dtype == np.float32 and net.predict(x, train_flg=True).dtype == np.float32
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=2e-3, atol=2e-5, err_msg=key)


def layer_by_layer_gradient(net, x, t):
    """The book's gradient algorithm over ``net``'s own layers, called one by one (no fused steps)."""
    out = x
    for key, layer in net.layers.items():
        out = layer.forward(out, True) if "BatchNorm" in key or "Dropout" in key else layer.forward(out)
    loss = net.last_layer.forward(out, t)
    dout = net.last_layer.backward(1)
    layers = list(net.layers.values())
    for layer in reversed(layers[1:]):
        dout = layer.backward(dout)
    layers[0].backward(dout)
    return loss, {key: value.copy() for key, value in net.grads.items()}


def layer_state(net):
    """What the layers keep after a training pass: masks, batch-norm intermediates and running statistics."""
    state = {}
    for key, layer in net.layers.items():
        for attr in ("mask", "xc", "xn", "std", "running_mean", "running_var", "dgamma", "dbeta"):
            if getattr(layer, attr, None) is not None:
                state[f"{key}.{attr}"] = getattr(layer, attr).copy()
    return state


@pytest.mark.parametrize("use_dropout", [True, False], ids=["dropout", "no-dropout"])
def test_fused_training_pass_equals_the_layers_called_one_by_one(dtype, use_dropout):
    kwargs = dict(use_batchnorm=True, use_dropout=use_dropout, dropout_ration=0.4, dtype=dtype)
    fused, by_layer = (seeded(MultiLayerNetExtend, 12, [9, 7, 9], 4, **kwargs) for _ in range(2))
    x, t = make_batch(n=30)
    for step in range(3):
        np.random.seed(step)
        loss = fused.loss(x, t, train_flg=True)
        grads = {key: value.copy() for key, value in fused.gradient(x, t).items()}
        after = np.random.rand()
        np.random.seed(step)
        ref_loss = by_layer.loss(x, t, train_flg=True)
        ref_loss_grad, ref_grads = layer_by_layer_gradient(by_layer, x, t)
        assert np.random.rand() == after
        assert any(isinstance(step, BatchNormReluDropout) for step in fused._steps)
        assert loss == ref_loss
        assert fused.last_layer.loss == ref_loss_grad
        for key in ref_grads:
            np.testing.assert_array_equal(grads[key], ref_grads[key], err_msg=key)
        ref_state = layer_state(by_layer)
        assert layer_state(fused).keys() == ref_state.keys()
        for key, value in layer_state(fused).items():
            np.testing.assert_array_equal(value, ref_state[key], err_msg=key)


def test_a_replaced_layer_turns_the_fused_pass_off():
    kwargs = dict(use_batchnorm=True, use_dropout=True)
    net, ref = seeded(MultiLayerNetExtend, 12, [8, 8], 4, **kwargs), seeded(BookNet, 12, [8, 8], 4, **kwargs)
    seen = []

    class RecordingRelu(Relu):
        def forward(self, x):
            seen.append(x.shape)
            return super().forward(x)

    net.layers["Activation_function2"] = RecordingRelu()
    x, t = make_batch()
    np.random.seed(4)
    grads = net.gradient(x, t)
    np.random.seed(4)
    ref_grads = ref.gradient(x, t)
    assert seen == [(20, 8)]
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_another_global_generator_still_gives_the_books_masks():
    kwargs = dict(use_batchnorm=True, use_dropout=True)
    net, ref = seeded(MultiLayerNetExtend, 12, [8, 8], 4, **kwargs), seeded(BookNet, 12, [8, 8], 4, **kwargs)
    x, t = make_batch()
    original = np.random.get_bit_generator()
    try:
        np.random.set_bit_generator(np.random.PCG64(8))
        grads = net.gradient(x, t)
        np.random.set_bit_generator(np.random.PCG64(8))
        ref_grads = ref.gradient(x, t)
    finally:
        np.random.set_bit_generator(original)
    np.testing.assert_array_equal(net.layers["Dropout1"].mask, ref.layers["Dropout1"].mask)
    for key in ref_grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-10, atol=1e-13, err_msg=key)


@pytest.mark.parametrize("attr, value, error, fragment", [
    ("running_mean", np.zeros(2), ValueError, "running_mean has shape"),
    ("running_var", np.zeros(4), ValueError, "running_var has shape"),
    ("beta", np.zeros(2), TypeError, "beta must be"),
    ("gamma", np.ones(3, np.int64), TypeError, "gamma must be"),
])
def test_arrays_replaced_after_a_forward_are_checked_again(attr, value, error, fragment):
    layer = fresh_batch_norm()
    layer.forward(np.ones((2, 3)))
    setattr(layer, attr, value)
    with pytest.raises(error, match=fragment):
        layer.forward(np.ones((2, 3)))

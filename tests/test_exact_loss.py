"""The exact log-sum-exp cross-entropy option against closed forms and numerical gradients.

The book's ``-log(y + 1e-7)`` stays the default; ``exact=True`` (``exact_loss=True`` on the
networks) computes ``logsumexp(x_n) - x_n,t`` in the same fused kernel, whose gradient
``(softmax - onehot) / N`` is the one ``backward`` returns at any logit gap.
"""
import numpy as np
import pytest
from book.gradient import numerical_gradient as book_numerical_gradient
from book.layers import SoftmaxWithLoss as BookSoftmaxWithLoss
from scipy.special import logsumexp

import fastdl

GAPS = [2, 10, 20, 40]


def confidently_wrong(gap, n=4, c=5, seed=0):
    """Logits (n, c) near 0 except one wrong class per row ``gap`` above the target's, and targets 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, (n, c))
    x[np.arange(n), 1 + np.arange(n) % (c - 1)] += gap
    return x, np.zeros(n, dtype=np.uint8)


def exact_reference(x, t):
    """Mean of logsumexp(x_n) - x_n,t in float64 (scipy)."""
    x = np.asarray(x, np.float64)
    return np.mean(logsumexp(x, axis=1) - x[np.arange(len(t)), t])


def gradient_error(exact, gap):
    """Largest |backward() - numerical gradient of forward()| over the logits of one sample."""
    x, t = confidently_wrong(gap, n=1)
    layer = fastdl.SoftmaxWithLoss(exact=exact)
    layer.forward(x, t)
    analytic = layer.backward().copy()
    numerical = book_numerical_gradient(lambda _: layer.forward(x, t), x)
    return np.max(np.abs(analytic - numerical))


@pytest.mark.parametrize("gap", GAPS)
def test_exact_gradient_check_passes_at_every_gap(gap):
    assert gradient_error(True, gap) < 1e-7


def test_book_loss_fails_the_gradient_check_at_gap_20():
    """Measured: 9e-7 at gap 2, 2e-3 at gap 10, 0.98 at gap 20 (the 1e-7 swallows y_t)."""
    assert gradient_error(False, 2) < 1e-5
    assert gradient_error(False, 10) > 1e-3
    assert gradient_error(False, 20) > 0.5


@pytest.mark.parametrize("gap", GAPS)
def test_exact_loss_is_logsumexp_and_the_book_loss_is_capped(gap):
    x, t = confidently_wrong(gap)
    exact, book_form = fastdl.SoftmaxWithLoss(exact=True), fastdl.SoftmaxWithLoss()
    assert exact.forward(x, t) == pytest.approx(exact_reference(x, t), rel=1e-13)
    assert book_form.forward(x, t) == pytest.approx(BookSoftmaxWithLoss().forward(x, t), rel=1e-13)
    assert book_form.loss <= -np.log(1e-7) + 1e-9
    np.testing.assert_array_equal(exact.y, book_form.y)
    np.testing.assert_array_equal(exact.backward(), book_form.backward())


def test_confident_right_answers_cost_zero_not_less():
    x, t = confidently_wrong(40)
    t = (1 + np.arange(4) % 4).astype(np.uint8)
    assert fastdl.SoftmaxWithLoss().forward(x, t) < 0
    exact = fastdl.SoftmaxWithLoss(exact=True).forward(x, t)
    assert 0 <= exact == pytest.approx(exact_reference(x, t), rel=1e-6, abs=1e-15)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-13), (np.float32, 1e-6)])
@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_exact_loss_with_huge_logits(dtype, rtol, scale):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((16, 10)) * scale).astype(dtype)
    t = rng.integers(0, 10, 16)
    layer = fastdl.SoftmaxWithLoss(exact=True)
    assert layer.forward(x, t) == pytest.approx(exact_reference(x, t), rel=rtol)
    assert np.isfinite(layer.y).all() and np.isfinite(layer.backward()).all()


def test_one_hot_labels_give_the_same_exact_loss_as_indices():
    x, t = confidently_wrong(20)
    by_index, by_one_hot = fastdl.SoftmaxWithLoss(exact=True), fastdl.SoftmaxWithLoss(exact=True)
    assert by_index.forward(x, t) == by_one_hot.forward(x, np.eye(5)[t])
    np.testing.assert_array_equal(by_index.backward(), by_one_hot.backward())


def saturated(net_class, *args, **kwargs):
    """A network whose last layer's weights are scaled up so its logits saturate (gaps of tens)."""
    np.random.seed(5)
    net = net_class(*args, exact_loss=True, **kwargs)
    last = [key for key in net.params if key.startswith("W")][-1]
    net.params[last] *= 60
    return net


NETWORKS = {
    "TwoLayerNet": (fastdl.TwoLayerNet, (6, 5, 4), {"weight_init_std": 0.5}, "lastLayer"),
    "MultiLayerNet": (fastdl.MultiLayerNet, (6, [5], 4), {"weight_decay_lambda": 0.01}, "last_layer"),
    "MultiLayerNetExtend": (fastdl.MultiLayerNetExtend, (6, [5], 4), {"use_batchnorm": True}, "last_layer"),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_networks_take_exact_loss_and_pass_the_gradient_check_when_saturated(name):
    net_class, args, kwargs, last_layer = NETWORKS[name]
    net = saturated(net_class, *args, **kwargs)
    assert getattr(net, last_layer).exact is True
    rng = np.random.default_rng(2)
    x, t = rng.random((5, 6)), rng.integers(0, 4, 5)
    scores = net.predict(x, train_flg=True)
    gaps = np.max(scores, axis=1) - scores[np.arange(5), t]
    assert gaps.max() > 20
    weights = [net.params[key] for key in net.params if key.startswith("W")]
    decay = 0.5 * kwargs.get("weight_decay_lambda", 0) * sum(np.sum(w ** 2) for w in weights)
    assert net.loss(x, t, train_flg=True) == pytest.approx(exact_reference(scores, t) + decay, rel=1e-12)
    grads = {key: value.copy() for key, value in net.gradient(x, t).items()}
    for key in grads:
        numerical = book_numerical_gradient(lambda _: net.loss(x, t, train_flg=True), net.params[key])
        np.testing.assert_allclose(grads[key], numerical, rtol=1e-5, atol=1e-7, err_msg=key)


def test_the_default_is_the_books_loss():
    for net in (fastdl.TwoLayerNet(6, 5, 4).lastLayer, fastdl.MultiLayerNet(6, [5], 4).last_layer,
                fastdl.MultiLayerNetExtend(6, [5], 4).last_layer, fastdl.SoftmaxWithLoss()):
        assert net.exact is False

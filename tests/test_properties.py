"""Property-based tests: the kernels (through the layers and optimizers) against the book's NumPy
over random shapes, float32/float64 and value ranges, extreme logits (|x| ~ 1e4) included.

Two dtypes and C-contiguous arrays only, so each kernel compiles at most twice.
"""
import numpy as np
import pytest
from book import layers as book
from book import optimizer as book_optimizer
from book.multi_layer_net_extend import BatchNormalization as BookBatchNormalization
from book.multi_layer_net_extend import Dropout as BookDropout
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp

import fastdl
from fastdl.optimizers import OPTIMIZERS

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the book's exp overflows, as NumPy's
PROPERTY = settings(max_examples=40, deadline=None)
DTYPES = st.sampled_from([np.float64, np.float32])
EPS = {np.float64: 1e-13, np.float32: 2e-6}


def floats_array(dtype, shape, bound):
    width = 64 if dtype == np.float64 else 32
    bound = float(np.dtype(dtype).type(bound))
    elements = st.floats(-bound, bound, allow_nan=False, width=width)
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def matrices(draw, bound=1e3, min_cols=1, max_side=12):
    dtype = draw(DTYPES)
    rows = draw(st.integers(1, max_side))
    cols = draw(st.integers(min_cols, max_side))
    return draw(floats_array(dtype, (rows, cols), bound))


@st.composite
def affine_case(draw):
    dtype = draw(DTYPES)
    n, d, m = (draw(st.integers(1, 12)) for _ in range(3))
    bound = draw(st.sampled_from([1.0, 1e3]))
    return tuple(draw(floats_array(dtype, shape, bound)) for shape in [(n, d), (d, m), (m,), (n, m)])


def within_rounding(actual, expected, magnitude, dtype):
    """|actual - expected| within a few ulps of the magnitude of the terms that were summed."""
    np.testing.assert_array_less(np.abs(actual.astype(np.float64) - expected), 8 * EPS[dtype] * (magnitude + 1e-30))


@PROPERTY
@given(affine_case())
def test_affine(case):
    x, W, b, dout = case
    dtype = x.dtype.type
    layer, ref = fastdl.Affine(W, b), book.Affine(W, b)
    out = layer.forward(x)
    assert out.dtype == dtype
    within_rounding(out, ref.forward(x), np.abs(x) @ np.abs(W) + np.abs(b), dtype)
    dx = layer.backward(dout)
    within_rounding(dx, ref.backward(dout), np.abs(dout) @ np.abs(W).T, dtype)
    within_rounding(layer.dW, ref.dW, np.abs(x).T @ np.abs(dout), dtype)
    within_rounding(layer.db, ref.db, np.abs(dout).sum(axis=0), dtype)


@PROPERTY
@given(matrices())
def test_relu_is_the_books_exactly(x):
    layer, ref = fastdl.Relu(), book.Relu()
    np.testing.assert_array_equal(layer.forward(x), ref.forward(x))
    np.testing.assert_array_equal(layer.mask, ref.mask)
    dout = x[::-1].copy()
    np.testing.assert_array_equal(layer.backward(dout.copy()), ref.backward(dout.copy()))


@PROPERTY
@given(matrices(bound=1e3))
def test_sigmoid(x):
    layer, ref = fastdl.Sigmoid(), book.Sigmoid()
    out = layer.forward(x)
    expected = ref.forward(x)
    np.testing.assert_allclose(out, expected, rtol=8 * EPS[x.dtype.type], atol=1e-30)
    dout = x[::-1].copy()
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), rtol=32 * EPS[x.dtype.type],
                               atol=1e-30 + 4 * EPS[x.dtype.type] * np.abs(dout).max())


@st.composite
def logits_case(draw):
    # C >= 2: with one class, N labels have the size of the logits and the book reads them as one-hot
    x = draw(matrices(bound=draw(st.sampled_from([1.0, 30.0, 1e4])), min_cols=2, max_side=10))
    t = draw(hnp.arrays(np.int64, x.shape[0], elements=st.integers(0, x.shape[1] - 1)))
    return x, t


@PROPERTY
@given(logits_case(), st.booleans())
def test_softmax_with_loss_book_form(case, one_hot):
    x, t = case
    labels = np.eye(x.shape[1])[t] if one_hot else t
    layer, ref = fastdl.SoftmaxWithLoss(), book.SoftmaxWithLoss()
    loss = layer.forward(x, labels)
    expected = ref.forward(x, labels)
    assert np.isfinite(loss) and loss == pytest.approx(expected, rel=16 * EPS[x.dtype.type], abs=1e-6)
    np.testing.assert_allclose(layer.y, ref.y, rtol=1e-5, atol=16 * EPS[x.dtype.type])
    np.testing.assert_allclose(layer.backward(), ref.backward(), rtol=1e-5, atol=16 * EPS[x.dtype.type])
    np.testing.assert_allclose(layer.y.sum(axis=1), 1, rtol=16 * EPS[x.dtype.type] * x.shape[1])


@PROPERTY
@given(logits_case())
def test_softmax_with_loss_exact_form_is_logsumexp(case):
    x, t = case
    layer = fastdl.SoftmaxWithLoss(exact=True)
    loss = layer.forward(x, t)
    x64 = x.astype(np.float64)
    per_sample = logsumexp(x64, axis=1) - x64[np.arange(len(t)), t]
    assert loss == pytest.approx(per_sample.mean(), rel=16 * EPS[x.dtype.type], abs=4 * EPS[x.dtype.type])
    assert loss >= 0 and np.isfinite(layer.backward()).all()


@st.composite
def batchnorm_case(draw):
    dtype = draw(DTYPES)
    n, d = draw(st.integers(2, 10)), draw(st.integers(1, 8))
    x = draw(floats_array(dtype, (n, d), 100.0))
    gamma = draw(floats_array(dtype, (d,), 2.0))
    beta = draw(floats_array(dtype, (d,), 2.0))
    dout = draw(floats_array(dtype, (n, d), 1.0))
    return x, gamma, beta, dout


@PROPERTY
@given(batchnorm_case())
def test_batchnorm_training_pass(case):
    x, gamma, beta, dout = case
    dtype = x.dtype.type
    layer, ref = fastdl.BatchNormalization(gamma, beta), BookBatchNormalization(gamma, beta)
    out = layer.forward(x)
    expected = ref.forward(x)
    # 1/std reaches 1e3 for constant columns: the tolerance follows it
    scale = 1 + np.abs(gamma) * (np.abs(x).max() + 1) / layer.std
    within_rounding(out, expected, 64 * np.broadcast_to(scale, x.shape), dtype)
    np.testing.assert_allclose(layer.running_mean, ref.running_mean, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-3 if dtype == np.float32 else 1e-12)
    dx = layer.backward(dout)
    expected_dx = ref.backward(dout)
    within_rounding(dx, expected_dx, 1e3 * np.broadcast_to(scale * (np.abs(dout).max() + 1), x.shape), dtype)


@PROPERTY
@given(matrices(bound=10.0), st.sampled_from([0.0, 0.2, 0.5, 1.0]), st.integers(0, 2**31))
def test_dropout_draws_the_books_masks(x, ratio, seed):
    layer, ref = fastdl.Dropout(ratio), BookDropout(ratio)
    np.random.seed(seed)
    out = layer.forward(x)
    np.random.seed(seed)
    np.testing.assert_array_equal(out, ref.forward(x))
    np.testing.assert_array_equal(layer.mask, ref.mask)
    np.testing.assert_array_equal(layer.backward(x), ref.backward(x))
    np.testing.assert_allclose(layer.forward(x, train_flg=False), ref.forward(x, train_flg=False),
                               rtol=EPS[x.dtype.type])


HYPERPARAMETERS = {
    "sgd": {"lr": st.floats(1e-4, 1.0)},
    "momentum": {"lr": st.floats(1e-4, 1.0), "momentum": st.floats(0.0, 0.99)},
    "nesterov": {"lr": st.floats(1e-4, 1.0), "momentum": st.floats(0.0, 0.99)},
    "adagrad": {"lr": st.floats(1e-4, 1.0)},
    "rmsprop": {"lr": st.floats(1e-4, 1.0), "decay_rate": st.floats(0.0, 0.999)},
    "adam": {"lr": st.floats(1e-4, 1.0), "beta1": st.floats(0.0, 0.99), "beta2": st.floats(0.0, 0.9999)},
    "adadelta": {"lr": st.floats(1e-2, 1.0), "rho": st.floats(0.0, 0.99), "eps": st.floats(1e-8, 1e-3)},
    "adamw": {"lr": st.floats(1e-4, 1.0), "weight_decay": st.floats(0.0, 0.5)},
}


@st.composite
def optimizer_case(draw):
    name = draw(st.sampled_from(sorted(OPTIMIZERS)))
    kwargs = {key: draw(strategy) for key, strategy in HYPERPARAMETERS[name].items()}
    dtype = draw(DTYPES)
    shapes = draw(st.lists(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6), min_size=1, max_size=3))
    bound = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    params = {f"p{i}": draw(floats_array(dtype, shape, bound)) for i, shape in enumerate(shapes)}
    steps = [{key: draw(floats_array(dtype, value.shape, bound)) for key, value in params.items()}
             for _ in range(draw(st.integers(1, 4)))]
    return name, kwargs, params, steps


# float32 1 - float32(0.9999) is 2e-4 off: the complements must be taken in float64, as the book does
ONE_MINUS_BETA2_IN_FLOAT32 = (("adam", {"lr": 1.0, "beta1": 0.0, "beta2": 0.9999}, {"p0": np.zeros(1, np.float32)},
                               [{"p0": np.array([4.4938e-4], np.float32)}]), False)


@PROPERTY
@given(optimizer_case(), st.booleans())
@example(*ONE_MINUS_BETA2_IN_FLOAT32)
def test_optimizers(case, flat):
    """float64: the book's numbers bit for bit; float32: the book's float32 run within a few ulps
    (fastdl rounds each hyperparameter to float32 where the book's NumPy rounds Python floats as it goes)."""
    name, kwargs, params, steps = case
    dtype = next(iter(params.values())).dtype.type
    expected = {key: value.copy() for key, value in params.items()}
    reference = book_optimizer.OPTIMIZERS[name](**kwargs)
    if flat:
        ours = fastdl.FlatParams([(key, value.shape) for key, value in params.items()], dtype)
        ours.update(params)
    else:
        ours = {key: value.copy() for key, value in params.items()}
    optimizer = OPTIMIZERS[name](**kwargs)
    for grads in steps:
        if flat:
            flat_grads = ours.zeros_like()
            flat_grads.update(grads)
            optimizer.update(ours, flat_grads)
        else:
            optimizer.update(ours, grads)
        reference.update(expected, grads)
    for key in params:
        assert ours[key].dtype == dtype
        if dtype == np.float64:
            np.testing.assert_array_equal(ours[key], expected[key])
        else:
            scale = np.abs(expected[key]) + np.abs(params[key]) + kwargs["lr"] * len(steps)
            np.testing.assert_array_less(np.abs(ours[key] - expected[key]), 1e-5 * scale)

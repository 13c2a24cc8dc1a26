"""Each layer against the book's NumPy layers (tests/book/layers.py)."""
import numpy as np
import pytest

import fastdl
from book import layers as book

TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}


def test_affine_matches_book_on_4d_input(rng, dtype):
    x = rng.standard_normal((5, 2, 3, 4)).astype(dtype)
    W = rng.standard_normal((24, 7)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    dout = rng.standard_normal((5, 7)).astype(dtype)
    layer, ref = fastdl.Affine(W, b), book.Affine(W.copy(), b.copy())
    np.testing.assert_allclose(layer.forward(x), ref.forward(x), **TOL[dtype])
    dx = layer.backward(dout)
    ref_dx = ref.backward(dout)
    assert dx.shape == x.shape and layer.x.shape == (5, 24) and layer.original_x_shape == x.shape
    for got, want in [(dx, ref_dx), (layer.dW, ref.dW), (layer.db, ref.db)]:
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])
    assert layer.W is W and layer.b is b


def test_affine_casts_float32_input_to_float64_weights(rng):
    x = rng.random((4, 6)).astype(np.float32)
    W, b = rng.standard_normal((6, 3)), np.zeros(3)
    out = fastdl.Affine(W, b).forward(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, x.astype(np.float64) @ W, rtol=1e-13)


def test_affine_reads_weights_in_place_each_call(rng):
    W, b = rng.standard_normal((3, 2)), np.zeros(2)
    layer, x = fastdl.Affine(W, b), rng.standard_normal((4, 3))
    layer.forward(x)
    W *= 2.0
    b += 1.0
    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-13)


def test_affine_rejects_wrong_input_width(rng):
    layer = fastdl.Affine(np.zeros((784, 10)), np.zeros(10))
    with pytest.raises(ValueError, match=r"width 783.*expected width 784"):
        layer.forward(np.zeros((2, 783)))


def test_affine_rejects_integer_weights():
    with pytest.raises(TypeError, match="int64"):
        fastdl.Affine(np.zeros((3, 2), dtype=np.int64), np.zeros(2)).forward(np.zeros((1, 3)))


def test_relu_matches_book_and_mutates_dout(rng, dtype):
    x = rng.standard_normal((6, 5)).astype(dtype)
    x[0, 0] = 0.0
    x_before = x.copy()
    layer, ref = fastdl.Relu(), book.Relu()
    np.testing.assert_array_equal(layer.forward(x), ref.forward(x))
    np.testing.assert_array_equal(layer.mask, ref.mask)
    np.testing.assert_array_equal(x, x_before)
    dout = rng.standard_normal((6, 5)).astype(dtype)
    want = ref.backward(dout.copy())
    got = layer.backward(dout)
    assert got is dout and got[0, 0] == 0
    np.testing.assert_array_equal(got, want)


def test_sigmoid_matches_book(rng, dtype):
    x = (rng.standard_normal((4, 2, 3)) * 5).astype(dtype)
    x[0, 0, 0] = -800.0 if dtype == np.float64 else -100.0
    layer, ref = fastdl.Sigmoid(), book.Sigmoid()
    with np.errstate(over="ignore"):
        want = ref.forward(x)
    got = layer.forward(x)
    assert got.dtype == dtype and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, **TOL[dtype])
    dout = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), **TOL[dtype])


@pytest.mark.parametrize("label_dtype", [np.uint8, np.int32, np.int64])
def test_softmax_with_loss_index_labels(rng, dtype, label_dtype):
    x = (rng.standard_normal((8, 10)) * 3).astype(dtype)
    t = rng.integers(0, 10, 8).astype(label_dtype)
    layer, ref = fastdl.SoftmaxWithLoss(), book.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert isinstance(loss, np.float64)
    np.testing.assert_allclose(loss, ref.forward(x.astype(np.float64), t), **TOL[dtype])
    np.testing.assert_allclose(layer.y, ref.y, **TOL[dtype])
    np.testing.assert_allclose(layer.backward(), ref.backward(), **TOL[dtype])
    assert layer.t is t and layer.loss == loss
    np.testing.assert_array_equal(layer.backward(5.0), layer.backward())


def test_softmax_with_loss_one_hot_equals_indices(rng):
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    one_hot = np.eye(4)[t]
    by_index, by_one_hot = fastdl.SoftmaxWithLoss(), fastdl.SoftmaxWithLoss()
    assert by_index.forward(x, t) == pytest.approx(by_one_hot.forward(x, one_hot), rel=1e-15)
    np.testing.assert_allclose(by_index.backward(), by_one_hot.backward(), rtol=1e-15)
    ref = book.SoftmaxWithLoss()
    ref.forward(x, one_hot)
    np.testing.assert_allclose(by_one_hot.backward(), ref.backward(), rtol=1e-13)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [5e3, 5e3, 5e3]])
    layer = fastdl.SoftmaxWithLoss()
    loss = layer.forward(x, np.array([0, 1]))
    np.testing.assert_allclose(layer.y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)
    np.testing.assert_allclose(loss, -(np.log(1 + 1e-7) + np.log(1 / 3 + 1e-7)) / 2, rtol=1e-14)


def test_softmax_with_loss_accepts_column_labels():
    x = np.array([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]])
    ref = book.SoftmaxWithLoss()
    assert fastdl.SoftmaxWithLoss().forward(x, np.array([[1], [0], [1]])) == \
        pytest.approx(ref.forward(x, np.array([1, 0, 1])), rel=1e-14)


@pytest.mark.parametrize("labels, error, fragment", [
    (np.array([0, 10, 1]), ValueError, "label 10 is out of range for 10 classes"),
    (np.array([0, -1, 1]), ValueError, "label -1 is out of range"),
    (np.array([0, 1]), ValueError, r"labels of shape \(2,\) do not match logits of shape \(3, 10\)"),
    (np.array([0.0, 1.0, 2.0]), TypeError, "integer dtype"),
    (np.array(["a", "b", "c"]), TypeError, "dtype <U1"),
])
def test_softmax_with_loss_rejects_bad_labels(labels, error, fragment):
    with pytest.raises(error, match=fragment):
        fastdl.SoftmaxWithLoss().forward(np.zeros((3, 10)), labels)

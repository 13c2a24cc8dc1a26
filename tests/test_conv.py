"""Convolution, Pooling, im2col and col2im against the book's NumPy code (tests/book/) and numerical gradients."""
import numpy as np
import pytest

from book import conv_layers as book
from book.layers import Relu as BookRelu
from book import util as book_util
from book.gradient import numerical_gradient
from fastdl import convolution, util
from fastdl.convolution import ConvolutionPooling
from fastdl.layers import Convolution, Pooling

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}
# (filter size, stride, pad) over a 7x7 input: plain, strided with padding, padding wider than the filter overhang
GEOMETRIES = [(3, 1, 0), (3, 2, 1), (2, 1, 2)]


@pytest.mark.parametrize("fs,stride,pad", GEOMETRIES)
def test_im2col_and_col2im_equal_the_books_exactly(rng, fs, stride, pad):
    x = rng.standard_normal((3, 2, 7, 7))
    col = util.im2col(x, fs, fs, stride, pad)
    np.testing.assert_array_equal(col, book_util.im2col(x, fs, fs, stride, pad))
    np.testing.assert_array_equal(util.col2im(col, x.shape, fs, fs, stride, pad),
                                  book_util.col2im(col, x.shape, fs, fs, stride, pad))


def test_im2col_keeps_float32_and_conv_output_size_is_the_books_float():
    x = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    col = util.im2col(x, 2, 2, stride=2)
    assert col.dtype == np.float32 and col.shape == (8, 4)
    np.testing.assert_array_equal(col, book_util.im2col(x, 2, 2, stride=2))
    assert util.col2im(col, x.shape, 2, 2, stride=2).dtype == np.float32
    assert util.conv_output_size(28, 5) == 24.0 and util.conv_output_size(7, 3, 2, 1) == 4.0


@pytest.mark.parametrize("fs,stride,pad", GEOMETRIES)
def test_convolution_matches_book_forward_and_backward(rng, dtype, fs, stride, pad):
    x = rng.standard_normal((4, 3, 7, 7)).astype(dtype)
    W = (rng.standard_normal((5, 3, fs, fs)) * 0.3).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    layer, ref = Convolution(W, b, stride, pad), book.Convolution(W.astype(np.float64), b.astype(np.float64),
                                                                   stride, pad)
    out, ref_out = layer.forward(x), ref.forward(x.astype(np.float64))
    assert out.dtype == dtype and layer.col_W.shape == ref.col_W.shape
    np.testing.assert_array_equal(layer.col, ref.col.astype(dtype))
    np.testing.assert_allclose(out, ref_out, **TOL[dtype])
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, ref_dx = layer.backward(dout), ref.backward(dout.astype(np.float64))
    for got, want in [(dx, ref_dx), (layer.dW, ref.dW), (layer.db, ref.db)]:
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[dtype])
    assert layer.W is W and layer.b is b


@pytest.mark.parametrize("pool", [False, True])
def test_kx_rows_on_rectangular_images_and_filters_match_book(rng, dtype, pool):
    # The kx-row path (stride 1, several channels) indexes rows by the padded width and shifts windows
    # by whole padded rows: a height unlike the width and a filter unlike its transpose catch a mix-up.
    x = rng.standard_normal((3, 2, 5, 8)).astype(dtype)  # output 6x8
    W = (rng.standard_normal((4, 2, 2, 3)) * 0.3).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    conv = Convolution(W, b, pad=1, relu=True)
    refs = [book.Convolution(W.astype(np.float64), b.astype(np.float64), pad=1), BookRelu()]
    if pool:
        step = ConvolutionPooling(conv, Pooling(2, 2, 2))
        refs.append(book.Pooling(2, 2, stride=2))
    else:
        step = conv
    ref_out = x.astype(np.float64)
    for layer in refs:
        ref_out = layer.forward(ref_out)
    np.testing.assert_allclose(step.forward(x), ref_out, **TOL[dtype])
    dout = rng.standard_normal(ref_out.shape).astype(dtype)
    ref_dx = dout.astype(np.float64)
    for layer in reversed(refs):
        ref_dx = layer.backward(ref_dx)
    np.testing.assert_allclose(step.backward(dout), ref_dx, **TOL[dtype])
    np.testing.assert_allclose(conv.dW, refs[0].dW, **TOL[dtype])
    np.testing.assert_allclose(conv.db, refs[0].db, **TOL[dtype])


def test_fused_relu_and_params_only_backward_match_book_conv_then_relu(rng):
    x = rng.standard_normal((3, 2, 6, 6))
    W, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    layer, ref, relu = Convolution(W, b, pad=1, relu=True), book.Convolution(W, b, pad=1), book.Relu()
    np.testing.assert_allclose(layer.forward(x), relu.forward(ref.forward(x)), **TOL[np.float64])
    dout = rng.standard_normal((3, 4, 6, 6))
    assert layer.backward_params(dout.copy()) is None
    ref.backward(relu.backward(dout.copy()))
    np.testing.assert_allclose(layer.dW, ref.dW, **TOL[np.float64])
    np.testing.assert_allclose(layer.db, ref.db, **TOL[np.float64])


def test_convolution_gradients_match_numerical_gradient(rng):
    x = rng.standard_normal((2, 2, 5, 5))
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    weights = rng.standard_normal((2, 3, 3, 3))
    layer = Convolution(W, b, stride=2, pad=1, relu=True)

    def loss(_):
        return float(np.sum(layer.forward(x) * weights))

    layer.forward(x)
    dx = layer.backward(weights).copy()
    dW, db = layer.dW.copy(), layer.db.copy()
    for got, param in [(dx, x), (dW, W), (db, b)]:
        np.testing.assert_allclose(got, numerical_gradient(loss, param), rtol=1e-6, atol=1e-7)


def test_convolution_reads_weights_in_place_each_call(rng):
    x = rng.standard_normal((2, 1, 5, 5))
    W, b = rng.standard_normal((2, 1, 3, 3)), np.zeros(2)
    layer = Convolution(W, b)
    first = layer.forward(x).copy()
    W *= 2.0
    np.testing.assert_allclose(layer.forward(x), 2.0 * first, rtol=1e-13)


@pytest.mark.parametrize("min_columns", [1, 100, 10**9])
@pytest.mark.parametrize("filters", [4, 30])  # fewer filters than taps (dW transposed in the kernel) and more
@pytest.mark.parametrize("channels", [1, 3])  # full columns in chunks; kx rows one sample at a time for stride 1
@pytest.mark.parametrize("fs,stride,pad", GEOMETRIES)
def test_convolution_in_chunks_of_samples_matches_book(rng, monkeypatch, fs, stride, pad, channels, filters,
                                                       min_columns):
    # 5 samples in chunks of 1, of a few (the last one shorter), or all at once
    monkeypatch.setattr(convolution, "MIN_GEMM_COLUMNS", min_columns)
    x = rng.standard_normal((5, channels, 7, 7))
    W, b = rng.standard_normal((filters, channels, fs, fs)) * 0.3, rng.standard_normal(filters)
    layer, ref = Convolution(W, b, stride, pad), book.Convolution(W, b, stride, pad)
    np.testing.assert_allclose(layer.forward(x), ref.forward(x), **TOL[np.float64])
    dout = rng.standard_normal(ref.forward(x).shape)
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), **TOL[np.float64])
    np.testing.assert_allclose(layer.dW, ref.dW, **TOL[np.float64])
    np.testing.assert_allclose(layer.db, ref.db, **TOL[np.float64])


def test_pooling_matches_book_including_arg_max(rng, dtype):
    x = rng.standard_normal((3, 4, 8, 8)).astype(dtype)
    x[0, 0, :2, :2] = 1.5  # a tie: np.argmax keeps the first maximum
    layer, ref = Pooling(2, 2), book.Pooling(2, 2, stride=2)
    out = layer.forward(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, ref.forward(x))
    np.testing.assert_array_equal(layer.arg_max, ref.arg_max)
    assert layer.arg_max[0] == 0
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = layer.backward(dout)
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, ref.backward(dout))


def test_pooling_follows_np_argmax_on_nan(rng, dtype):
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    x[0, 0, 0, 1] = x[0, 1, 1, 1] = x[1, 2, 3, 2] = np.nan  # one NaN in each of three 2x2 windows
    x[0, 2, 0, 0] = x[0, 2, 1, 0] = np.nan  # two in one window: the first counts
    layer, ref = Pooling(2, 2), book.Pooling(2, 2, stride=2)
    np.testing.assert_array_equal(layer.forward(x), ref.forward(x))
    np.testing.assert_array_equal(layer.arg_max, ref.arg_max)


# (conv filter, stride, pad, pool window, pool stride) over 8x8: the networks' 2x2 pools, an overlapping pool
FUSED = [(3, 1, 1, 2, 2), (5, 1, 0, 2, 2), (3, 1, 0, 3, 1)]


@pytest.mark.parametrize("fs,stride,pad,pool,pool_stride", FUSED)
def test_convolution_pooling_step_matches_books_conv_relu_pool(rng, dtype, fs, stride, pad, pool, pool_stride):
    x = rng.standard_normal((3, 2, 8, 8)).astype(dtype)
    x[0, 0, 2, 3] = np.nan  # NaN passes the ReLU and wins its pooling windows, as in the book
    W = (rng.standard_normal((4, 2, fs, fs)) * 0.3).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    conv, pool = Convolution(W, b, stride, pad, relu=True), Pooling(pool, pool, pool_stride)
    step = ConvolutionPooling(conv, pool)
    refs = [book.Convolution(W.astype(np.float64), b.astype(np.float64), stride, pad), BookRelu(),
            book.Pooling(pool.pool_h, pool.pool_w, stride=pool_stride)]
    outs = [x.astype(np.float64)]
    for layer in refs:
        outs.append(layer.forward(outs[-1]))
    out = step.forward(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, outs[3], **TOL[dtype])  # NaN where the book has NaN
    np.testing.assert_array_equal(pool.arg_max, refs[2].arg_max)
    np.testing.assert_allclose(pool.x, outs[2], **TOL[dtype])  # the ReLU'd convolution, as conv.forward leaves it
    assert pool.x is conv.forward(x)
    dout = rng.standard_normal(out.shape).astype(dtype)
    ref_dx = dout.astype(np.float64)
    for layer in reversed(refs):
        ref_dx = layer.backward(ref_dx)
    step.forward(x)
    dx = step.backward(dout)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, ref_dx, **TOL[dtype])
    np.testing.assert_allclose(conv.dW, refs[0].dW, **TOL[dtype])  # NaN where the NaN pixel's taps are
    np.testing.assert_allclose(conv.db, refs[0].db, **TOL[dtype])
    conv.dW[:] = 0
    assert step.backward_params(dout) is None
    np.testing.assert_allclose(conv.dW, refs[0].dW, **TOL[dtype])


def test_overlapping_pooling_adds_gradients_of_shared_maxima(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    layer, ref = Pooling(3, 3, stride=1), book.Pooling(3, 3, stride=1)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, ref.forward(x))
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(layer.backward(dout), ref.backward(dout), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("make,x_shape,match", [
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)), (4, 3, 5), r"\(N, C, H, W\).*\(4, 3, 5\)"),
    (lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)), (4, 1, 5, 5), r"1 channels.*\(2, 3, 3, 3\)"),
    (lambda: Convolution(np.ones((2, 1, 5, 5)), np.zeros(2)), (4, 1, 3, 3), r"5x5 is larger.*\(4, 1, 3, 3\)"),
    (lambda: Convolution(np.ones((2, 1, 3, 3)), np.zeros(2), stride=2), (4, 1, 6, 6), r"not an integer"),
    (lambda: Convolution(np.ones((2, 1, 3, 3)), np.zeros(2), stride=0), (4, 1, 6, 6), r"stride must be >= 1"),
    (lambda: Convolution(np.ones((2, 1, 3, 3)), np.zeros(3)), (4, 1, 6, 6), r"b has shape \(3,\)"),
    (lambda: Pooling(2, 2, stride=2), (4, 1, 5, 5), r"\(4, 1, 5, 5\).*not an integer"),
    (lambda: Pooling(2, 2, stride=0), (4, 1, 4, 4), r"stride must be >= 1"),
    (lambda: Pooling(200, 200, stride=1), (1, 1, 200, 200), r"200x200 has more than 32767"),
])
def test_bad_input_names_the_shapes(make, x_shape, match):
    with pytest.raises(ValueError, match=match):
        make().forward(np.zeros(x_shape))


def test_bad_backward_and_col2im_shapes():
    layer = Convolution(np.ones((2, 1, 3, 3)), np.zeros(2))
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((1, 2, 2, 2)))
    layer.forward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 3\).*\(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"col of shape \(5, 9\)"):
        util.col2im(np.zeros((5, 9)), (1, 1, 4, 4), 3, 3)


def test_padded_pooling_sizes_its_output_with_the_pad_and_pads_with_zeros():
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    layer = Pooling(2, 2, stride=2, pad=1)
    np.testing.assert_array_equal(layer.forward(x), x)  # each window holds one pixel and three zeros
    np.testing.assert_array_equal(layer.arg_max, [3, 2, 1, 0])
    np.testing.assert_array_equal(layer.backward(np.full((1, 1, 2, 2), 0.5)), np.full((1, 1, 2, 2), 0.5))
    np.testing.assert_array_equal(layer.forward(-x), np.zeros((1, 1, 2, 2)))  # the padding's zero wins
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 2, 2))), np.zeros((1, 1, 2, 2)))


def test_convolution_takes_one_bias_for_every_filter_as_the_book(rng):
    """The book's ch07/apply_filter.py passes ``b = 0``: NumPy broadcasts it in the book's Convolution."""
    W, x = rng.standard_normal((3, 1, 5, 5)), rng.random((2, 1, 9, 9))
    expected = book.Convolution(W, 0.5).forward(x)
    np.testing.assert_allclose(Convolution(W, 0.5).forward(x), expected, rtol=1e-12, atol=1e-12)

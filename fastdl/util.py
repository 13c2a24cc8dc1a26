"""The book's helpers from ``common/util.py``: curve smoothing, shuffling, and chapter 7's im2col/col2im."""
import numbers

import numpy as np

from .kernels import conv as CK

SMOOTH_WINDOW = 11


def smooth_curve(x):
    """Smooth a loss curve as the book's figures do; the result has the input's length.

    The series is padded at both ends with its reflection (10 samples each
    side), convolved with a normalised Kaiser window (length 11, beta 2) and
    trimmed by 5 at each end.

    Parameters
    ----------
    x : (n,) list or array of float, n >= 11

    Returns
    -------
    (n,) float64 array
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < SMOOTH_WINDOW:
        raise ValueError(f"smooth_curve needs a 1-D series of at least {SMOOTH_WINDOW} points, "
                         f"got shape {x.shape}")
    s = np.r_[x[SMOOTH_WINDOW - 1:0:-1], x, x[-1:-SMOOTH_WINDOW:-1]]
    w = np.kaiser(SMOOTH_WINDOW, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def shuffle_dataset(x, t):
    """Shuffle samples and labels with one ``np.random.permutation`` (the global RNG, as the book).

    Parameters
    ----------
    x : (N, ...) array
    t : (N,) or (N, C) array

    Returns
    -------
    (x, t) : new arrays in the same permuted order.

    Unlike the book, x may have any number of dimensions (the book's raises
    IndexError for 3-D x).
    """
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim == 0 or t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(f"x and t must have the same number of samples, got shapes {x.shape} and {t.shape}")
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """The book's ``(input_size + 2*pad - filter_size) / stride + 1``: a float, as the book's (true division)."""
    return (input_size + 2 * pad - filter_size) / stride + 1


def _whole(name, value, minimum):
    """``value`` as an int >= ``minimum`` (a Python or NumPy integer), else a TypeError/ValueError."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def window_output_shape(who, x_shape, filter_h, filter_w, stride, pad):
    """``(out_h, out_w)`` of a filter_h x filter_w window sliding over (N, C, H, W) input, checked.

    ValueError, naming the shapes, for input that is not 4-D, a window larger
    than the padded input, or a stride that does not land exactly on the
    padded input's last row/column (the book would floor it silently in
    im2col and crash in Pooling's reshape); TypeError/ValueError for a
    non-integer or non-positive filter size or stride, or a negative pad.
    """
    filter_h = _whole(f"{who} filter height", filter_h, 1)
    filter_w = _whole(f"{who} filter width", filter_w, 1)
    stride = _whole(f"{who} stride", stride, 1)
    pad = _whole(f"{who} pad", pad, 0)
    if len(x_shape) != 4:
        raise ValueError(f"{who} needs (N, C, H, W) input, got shape {tuple(x_shape)}")
    H, W = x_shape[2] + 2 * pad, x_shape[3] + 2 * pad
    if filter_h > H or filter_w > W:
        raise ValueError(f"{who}: window {filter_h}x{filter_w} is larger than the input {tuple(x_shape)} "
                         f"padded by {pad} ({H}x{W})")
    if (H - filter_h) % stride or (W - filter_w) % stride:
        raise ValueError(f"{who}: window {filter_h}x{filter_w} with stride {stride} does not fit the input "
                         f"{tuple(x_shape)} padded by {pad} ({H}x{W}) a whole number of times: "
                         f"the output size {conv_output_size(x_shape[2], filter_h, stride, pad)}"
                         f"x{conv_output_size(x_shape[3], filter_w, stride, pad)} is not an integer")
    return (H - filter_h) // stride + 1, (W - filter_w) // stride + 1


def _float_images(name, x):
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """The book's im2col: every filter_h x filter_w window of the zero-padded input as one row.

    Parameters
    ----------
    input_data : (N, C, H, W) array
    filter_h, filter_w, stride, pad : int

    Returns
    -------
    col : (N*out_h*out_w, C*filter_h*filter_w) array, rows ordered (n, oy, ox) and
        columns (c, ky, kx) as the book's; float32 input stays float32 (the
        book's is always float64), anything else becomes float64.
    """
    x = _float_images("im2col input_data", input_data)
    out_h, out_w = window_output_shape("im2col", x.shape, filter_h, filter_w, stride, pad)
    N, C = x.shape[:2]
    col = np.empty((N * out_h * out_w, C * filter_h * filter_w), x.dtype)
    CK.im2col(x, int(filter_h), int(filter_w), int(stride), int(pad), col)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The book's col2im: the inverse layout of :func:`im2col`, adding up overlapping windows.

    Parameters
    ----------
    col : (N*out_h*out_w, C*filter_h*filter_w) array (any shape of that size, as the book reshapes it)
    input_shape : (N, C, H, W)
    filter_h, filter_w, stride, pad : int

    Returns
    -------
    (N, C, H, W) array of col's float dtype, equal to the book's bit for bit:
    each pixel is the sum, in the book's order, of every col entry whose
    window covers it (so ``col2im(im2col(x))`` is x times its coverage count).
    """
    col = _float_images("col2im col", col)
    input_shape = tuple(input_shape)
    out_h, out_w = window_output_shape("col2im", input_shape, filter_h, filter_w, stride, pad)
    N, C, H, W = (int(v) for v in input_shape)
    rows, width = N * out_h * out_w, C * filter_h * filter_w
    if col.size != rows * width:
        raise ValueError(f"col2im: col of shape {col.shape} does not hold ({rows}, {width}) for input shape "
                         f"{input_shape} and a {filter_h}x{filter_w} window, stride {stride}, pad {pad}")
    img = np.empty((N, C, H, W), col.dtype)
    CK.col2im(col.reshape(rows, width), int(filter_h), int(filter_w), int(stride), int(pad), img)
    return img

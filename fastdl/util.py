"""The book's helpers from ``common/util.py`` used by the training scripts and experiments."""
import numpy as np

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

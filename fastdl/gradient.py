"""The book's numerical gradient (``common/gradient.py``)."""
import numpy as np


def numerical_gradient(f, x):
    """Central-difference gradient of ``f`` at ``x``, with h = 1e-4, as the book.

    Parameters
    ----------
    f : callable
        Called as ``f(x)`` with ``x`` itself, perturbed in place one element at
        a time; the networks pass ``lambda W: self.loss(x, t)``, which ignores
        its argument and works because the layers read the very same array.
    x : float ndarray, any shape
        Restored element by element, so it ends unchanged.

    Returns
    -------
    grad : ndarray of x's shape and dtype; a loss of inf or NaN gives NaN there, and a slope beyond
        the dtype's range inf, as in the book (without its RuntimeWarning)
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient(f, x) needs a function f, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"numerical_gradient perturbs x in place by 1e-4, so x must be a float array, "
                        f"got {type(x).__name__} of dtype {getattr(x, 'dtype', None)}; "
                        f"use np.asarray(x, dtype=np.float64)")
    if not x.flags.writeable:
        raise ValueError("numerical_gradient perturbs x in place by 1e-4, but x is read-only")
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + h
        f_plus = _scalar(f(x))
        x[idx] = saved - h
        f_minus = _scalar(f(x))
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf is NaN, 1e300 in float32 inf: as the book's
            grad[idx] = (f_plus - f_minus) / (2 * h)
        x[idx] = saved
    return grad


def _scalar(value):
    if np.ndim(value) != 0:
        raise ValueError(f"numerical_gradient needs f to return one number (the loss), got shape {np.shape(value)}")
    return value

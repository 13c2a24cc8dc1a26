"""The book's numerical gradients (``common/gradient.py``): ``numerical_gradient`` and ``numerical_gradient_2d``."""
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
    _check("numerical_gradient", f, x)
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


def numerical_gradient_2d(f, X):
    """The book's ``numerical_gradient_2d`` (ch04 ``gradient_2d.py``): the gradient of ``f`` row by row.

    Parameters
    ----------
    f : callable
        For a 1-D ``X``, called as ``f(X)``; for a 2-D ``X``, called with one
        row ``X[i]`` (a view, perturbed in place) at a time, as the book's: the
        gradient of ``f`` at each row, e.g. ``f = lambda x: np.sum(x**2)`` gives ``2 * X``.
    X : float ndarray, (n,) or (rows, n)
        Restored element by element, so it ends unchanged.

    Returns
    -------
    grad : ndarray of X's shape and dtype (h = 1e-4, central differences)

    Raises
    ------
    ValueError
        ``X`` has another rank (the book's loop would index past each row).
    """
    _check("numerical_gradient_2d", f, X)
    if X.ndim not in (1, 2):
        raise ValueError(f"numerical_gradient_2d takes a 1-D or 2-D X, got shape {X.shape}; "
                         f"use numerical_gradient for any shape")
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for idx, x in enumerate(X):
        grad[idx] = numerical_gradient(f, x)
    return grad


def _check(name, f, x):
    if not callable(f):
        raise TypeError(f"{name}(f, x) needs a function f, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{name} perturbs x in place by 1e-4, so x must be a float array, "
                        f"got {type(x).__name__} of dtype {getattr(x, 'dtype', None)}; "
                        f"use np.asarray(x, dtype=np.float64)")
    if not x.flags.writeable:
        raise ValueError(f"{name} perturbs x in place by 1e-4, but x is read-only")


def _scalar(value):
    if np.ndim(value) != 0:
        raise ValueError(f"numerical_gradient needs f to return one number (the loss), got shape {np.shape(value)}")
    return value

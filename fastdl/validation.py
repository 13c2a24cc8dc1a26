"""The checks every part of the library makes on its arguments, each raising a TypeError or ValueError naming them."""
import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes fastdl computes in."""


def as_float_array(x, dtype=None, name="x"):
    """``x`` as a C-contiguous float32/float64 array, copying only when needed.

    ``dtype`` forces the dtype (a layer's parameter dtype); otherwise float32
    and float64 stay as they are and anything else that is real becomes float64.
    The first test returns the common case (an array that already fits) at
    once: a training step makes dozens of these calls.
    """
    if type(x) is np.ndarray and (x.dtype is dtype or dtype is None and x.dtype in FLOAT_DTYPES) \
            and x.flags.c_contiguous:
        return x
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype in FLOAT_DTYPES else np.float64
    return np.asarray(x, dtype=dtype, order="C")


def compute_dtype(dtype):
    """``dtype`` as a NumPy dtype, float32 or float64, else a TypeError naming it."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def is_real_number(value):
    """True for a Python or NumPy real number other than a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def real_number(name, value):
    """``float(value)`` for a real number (not a bool), else a TypeError naming ``name``."""
    if not is_real_number(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def positive(name, value):
    """``float(value)`` for a finite real number > 0, else a TypeError/ValueError naming ``name``."""
    if not (math.isfinite(real_number(name, value)) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def non_negative(name, value):
    """``float(value)`` for a finite real number >= 0, else a TypeError/ValueError naming ``name``."""
    if not (math.isfinite(real_number(name, value)) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(name, value, include_one=True):
    """``float(value)`` for a real number in [0, 1], or in [0, 1) when ``include_one`` is False.

    The layers take the book's momentum and dropout_ratio in [0, 1]; the
    optimizers' decay rates (momentum, beta1, beta2, decay_rate, rho) must stay
    below 1. Anything else is a TypeError (not a real number) or a ValueError.
    """
    number = real_number(name, value)
    if include_one and not 0 <= number <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not include_one and not 0 <= number < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return number


def check_fits_dtype(name, value, dtype):
    """ValueError naming ``name`` when the finite number ``value`` is beyond ``dtype``'s range.

    Cast to the dtype such a value becomes inf (NumPy: "overflow encountered in
    cast"), and every update or product it enters is then inf or NaN; a float32
    network cannot use an lr of 1e200 however its gradients look.
    """
    largest = float(np.finfo(dtype).max)
    if math.isfinite(value) and abs(value) > largest:
        raise ValueError(f"{name}={value:g} does not fit {np.dtype(dtype)} (largest {largest:.3g}): "
                         f"use a smaller value or float64")

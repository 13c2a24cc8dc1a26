"""Flat parameter buffers: many named arrays living in one contiguous 1-D array.

A network's ``params`` is a :class:`FlatParams`: a dict whose values are views
into ``params.flat``. Its gradients and every optimizer state live in buffers
of the same layout, so an optimizer update is one kernel over ``flat``.
"""
import operator

import numpy as np


class FlatParams(dict):
    """A dict of named arrays that are views into one contiguous buffer.

    Parameters
    ----------
    layout : sequence of (str, tuple)
        ``(key, shape)`` pairs in insertion order, e.g. ``[("W1", (784, 50)), ("b1", (50,))]``.
    dtype : numpy dtype, default float64
        dtype of the buffer (float32 or float64).
    flat : ndarray, optional
        ``(P,)`` buffer to adopt (C-contiguous, of ``dtype``); zeros when omitted.
    order : sequence of str, optional
        The order the keys iterate in, when it differs from the memory layout
        (the book lists a network's gradients in another order than its
        parameters; sharing the layout keeps the optimizer's one-kernel path).

    Notes
    -----
    The keys and shapes are fixed. Assigning ``params[key] = array`` copies the
    values into the existing view (the book's ``load_params`` habit keeps
    working, and the layers holding the view see the new values); it never
    rebinds the key to another array.
    """

    def __init__(self, layout, dtype=np.float64, flat=None, order=None):
        super().__init__()
        self.layout = tuple(_checked_entry(entry) for entry in layout)
        keys = [key for key, _ in self.layout]
        if len(set(keys)) != len(keys):
            raise ValueError(f"layout repeats keys: {sorted({key for key in keys if keys.count(key) > 1})}")
        sizes = [int(np.prod(shape)) for _, shape in self.layout]
        if flat is None:
            flat = np.zeros(sum(sizes), dtype=dtype)
        elif flat.shape != (sum(sizes),) or flat.dtype != np.dtype(dtype) or not flat.flags.c_contiguous:
            raise ValueError(f"flat buffer must be C-contiguous {np.dtype(dtype)} of shape "
                             f"({sum(sizes)},), got {flat.dtype} {flat.shape}")
        self.flat = flat
        views, offset = {}, 0
        for (key, shape), size in zip(self.layout, sizes):
            views[key] = flat[offset:offset + size].reshape(shape)
            offset += size
        order = list(views) if order is None else list(order)
        if sorted(order) != sorted(views):
            raise ValueError(f"key order {order} is not a permutation of the layout's keys {list(views)}")
        for key in order:
            dict.__setitem__(self, key, views[key])

    def zeros_like(self):
        """A new :class:`FlatParams` of the same layout and dtype, filled with zeros."""
        return FlatParams(self.layout, self.flat.dtype, order=list(self))

    def _checked(self, key, value):
        """``(view, value as a plain array)`` for ``self[key] = value``, else the error, before any copy."""
        if key not in self:
            raise KeyError(f"{key!r} is not a parameter of this buffer; keys are {list(self)}")
        view = dict.__getitem__(self, key)
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"params[{key!r}] holds real numbers, cannot assign an array of dtype {value.dtype}")
        if value.shape != view.shape:
            raise ValueError(f"params[{key!r}] has shape {view.shape}, cannot assign shape {value.shape}")
        return view, value

    def __setitem__(self, key, value):
        view, value = self._checked(key, value)
        view[...] = value

    def update(self, *args, **kwargs):
        """``dict.update`` that checks every value first, so a bad one leaves all parameters as they were."""
        checked = [self._checked(key, value) for key, value in dict(*args, **kwargs).items()]
        for view, value in checked:
            view[...] = value

    def _fixed_layout(self, *args, **kwargs):
        raise TypeError("FlatParams has a fixed set of keys: copy it with dict(params) to edit keys")

    __delitem__ = pop = popitem = clear = setdefault = _fixed_layout

    def __reduce__(self):
        return (FlatParams, (self.layout, self.flat.dtype, self.flat.copy(), list(self)))


def _checked_entry(entry):
    """A layout entry as ``(key, shape tuple of ints >= 0)``, else a ValueError naming it."""
    try:
        key, shape = entry
        shape = tuple(operator.index(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"layout entries are (key, shape) pairs with a tuple of ints, got {entry!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"layout entry {key!r} has a negative dimension: {shape}")
    return key, shape

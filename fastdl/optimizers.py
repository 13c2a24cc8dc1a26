"""The book's optimizers (``common/optimizer.py``) plus AdaDelta and AdamW, each one fused kernel.

``update(params, grads)`` changes ``params`` in place, as the book's does, and
the state keeps the book's attribute names (``v``, ``h``, ``m``, ``iter``),
created on the first ``update``. Two drivers feed the same kernel from
:mod:`fastdl.kernels.optim`:

* ``params`` and ``grads`` are :class:`~fastdl.flat.FlatParams` of one layout
  (a fastdl network's ``params`` and gradients): the state is a ``FlatParams``
  of that layout too, and the kernel runs once over the ``.flat`` buffers.
* any other dict, of NumPy arrays (any shape, float32 or float64, contiguous
  or not) or of Python floats (the book's ``optimizer_compare_naive.py``): the
  kernel runs on each key's array, raveled. A float is updated as a
  1-element float64 array and written back as ``params[key] = float(...)``.

The arithmetic runs in the parameters' dtype, so float32 stays float32.
Unlike the book, ``params`` and ``grads`` must have the same keys.

``state_dict()`` and ``load_state_dict(state)`` save and restore the state
(a plain dict of arrays and ints, ready for ``np.savez``), so a resumed run
takes the very steps an uninterrupted one would.
"""
import math
from collections.abc import Mapping

import numpy as np

from fastdl.flat import FlatParams
from fastdl.kernels import optim
from fastdl.validation import FLOAT_DTYPES, check_fraction, is_real_number, non_negative, positive

LARGEST = {dtype: float(np.finfo(dtype).max) for dtype in FLOAT_DTYPES}
"""The largest finite value of each compute dtype: a step scalar beyond it would be cast to inf."""


class Hyperparameter:
    """A checked attribute: ``opt.lr = None`` raises at once, as the constructor would.

    ``check(name, value)`` returns the value to store (a float) or raises a
    TypeError/ValueError naming the attribute; the book's code reads and
    assigns ``opt.lr`` as a plain attribute, which keeps working.
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(self.name, value)


def _below_one(name, value):
    """A momentum or decay rate: a real number in [0, 1) (at 1 the state would never forget)."""
    return check_fraction(name, value, include_one=False)


def _count(name, value):
    """A step counter (Adam's ``iter``): an integer >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return int(value)


def _check_param_array(name, value):
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {value.dtype}; optimizers update float32 or "
                        f"float64 arrays in place: convert it with .astype(np.float64)")
    if not value.flags.writeable:
        raise ValueError(f"{name} is read-only; the optimizer updates it in place")


def _check_grad(key, grad, shape):
    if grad.dtype.kind not in "fiu":
        raise TypeError(f"grads[{key!r}] has dtype {grad.dtype}; expected real numbers")
    if grad.shape != shape:
        raise ValueError(f"grads[{key!r}] has shape {grad.shape} but params[{key!r}] has shape {shape}")


def _check_keys(params, grads):
    for name, value in (("params", params), ("grads", grads)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict of arrays or floats, got {type(value).__name__}")
    missing = [key for key in params if key not in grads]
    extra = [key for key in grads if key not in params]
    if missing or extra:
        raise KeyError(f"params and grads have different keys: missing from grads {missing}, "
                       f"extra in grads {extra}")


def _spec(params):
    """``{key: (shape, dtype)}`` of ``params``, validating every value."""
    spec = {}
    for key, value in params.items():
        if isinstance(value, np.ndarray):
            _check_param_array(f"params[{key!r}]", value)
            spec[key] = (value.shape, value.dtype)
        elif is_real_number(value):
            spec[key] = ((), np.dtype(np.float64))
        else:
            raise TypeError(f"params[{key!r}] is a {type(value).__name__}; expected a float32/float64 "
                            f"array or a real number")
    return spec


def _describe_difference(built, spec):
    missing = [key for key in built if key not in spec]
    extra = [key for key in spec if key not in built]
    if missing or extra:
        return f"keys differ: missing {missing}, new {extra}"
    for key, (shape, dtype) in spec.items():
        if built[key] != (shape, dtype):
            return f"params[{key!r}] was {built[key][1]} {built[key][0]}, now {dtype} {shape}"
    return None


def _flat_grads(params, grads):
    """``grads.flat`` in the dtype of ``params.flat``, cast once when they differ."""
    if grads.flat.dtype == params.flat.dtype:
        return grads.flat
    if grads.flat.dtype.kind not in "fiu":
        raise TypeError(f"grads has dtype {grads.flat.dtype}; expected real numbers")
    return grads.flat.astype(params.flat.dtype)


class Optimizer:
    """Base class: hyperparameter checks, lazy state, and the two drivers of one kernel.

    A subclass lists its state arrays in ``state_names``, its integer state
    (Adam's ``iter``) in ``counter_names``, and implements
    ``update(params, grads)`` as the per-step scalars followed by one call of
    ``self._run(kernel, params, grads, *scalars)``.
    """

    state_names = ()
    counter_names = ()

    def __init__(self):
        self._built_for = None
        self._loaded = None
        for name in self.state_names:
            setattr(self, name, None)

    def state_dict(self):
        """The state as a plain dict of copies, e.g. ``{'iter': 3, 'm/W1': ..., 'v/W1': ..., ...}``.

        Keys are the counters (``'iter'``) and ``'<state>/<param key>'`` for each
        state array; before the first ``update`` there are no arrays. Save it
        with ``np.savez(path, **optimizer.state_dict())``.
        """
        state = {name: getattr(self, name) for name in self.counter_names}
        for name in self.state_names:
            buffers = getattr(self, name) if self._loaded is None else self._loaded[name]
            for key, value in (buffers or {}).items():
                state[f"{name}/{key}"] = np.array(value)
        return state

    def load_state_dict(self, state):
        """Restore a :meth:`state_dict` (the dict itself, or ``np.load`` of its ``.npz``).

        The arrays are checked against the parameters they belong to: now when
        this optimizer has already updated them, else at the next ``update``
        (which then changes nothing if they do not fit). Raises ``KeyError`` for
        missing or unknown entries and ``ValueError`` for a shape that does not
        fit, naming the entry.
        """
        state = dict(state)
        counters = {name: _counter(name, state.pop(name, None)) for name in self.counter_names}
        loaded = {name: {} for name in self.state_names}
        for entry, value in state.items():
            name, _, key = entry.partition("/")
            if name not in loaded or not key:
                raise KeyError(f"{type(self).__name__} has no state {entry!r}; its state is "
                               f"{list(self.counter_names) + [name + '/<key>' for name in self.state_names]}")
            loaded[name][key] = np.asarray(value)
        keys = [sorted(buffers) for buffers in loaded.values()]
        if any(k != keys[0] for k in keys):
            raise KeyError(f"{type(self).__name__} state arrays cover different keys: "
                           f"{dict(zip(self.state_names, keys))}")
        if self._built_for is not None:
            _fill({name: getattr(self, name) for name in self.state_names}, loaded, type(self).__name__)
        else:
            self._loaded = loaded if keys and keys[0] else None
        for name, value in counters.items():
            setattr(self, name, value)

    def _run(self, kernel, params, grads, *scalars):
        """Validate, create the state on first use, then call ``kernel(p, g, *state, *scalars)``."""
        if (isinstance(params, FlatParams) and isinstance(grads, FlatParams) and params.layout == grads.layout
                and not isinstance(self._built_for, dict)):
            self._run_flat(kernel, params, grads, scalars)
        else:
            _check_keys(params, grads)
            self._run_per_key(kernel, params, grads, scalars)

    def _cast_scalars(self, scalars, dtype):
        """The step's scalars in the parameters' dtype; ValueError (before any change) for one beyond its range."""
        largest = LARGEST[dtype]
        for value in scalars:
            if abs(value) > largest and math.isfinite(value):
                raise ValueError(f"{type(self).__name__}(lr={self.lr:g}): its step scales by {value:g}, which does not "
                                 f"fit {dtype} parameters (largest {largest:.3g}): use a smaller lr or float64")
        return tuple(dtype.type(value) for value in scalars)

    def _run_flat(self, kernel, params, grads, scalars):
        _check_param_array("params.flat", params.flat)
        g = _flat_grads(params, grads)
        scalars = self._cast_scalars(scalars, params.flat.dtype)
        states = self._states(params, None)
        kernel(params.flat, g, *(state.flat for state in states), *scalars)

    def _run_per_key(self, kernel, params, grads, scalars):
        spec = _spec(params)
        grad_arrays = {key: np.asarray(grads[key]) for key in params}
        for key, (shape, _) in spec.items():
            _check_grad(key, grad_arrays[key], shape)
        cast = {dtype: self._cast_scalars(scalars, dtype) for _, dtype in spec.values()}
        states = self._states(params, spec)
        for key, (shape, dtype) in spec.items():
            value = params[key]
            if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
                # np.matrix stays 2-D under reshape(-1); the kernel updates a plain view of its memory
                value = value.view(np.ndarray)
            in_place = isinstance(value, np.ndarray) and value.flags.c_contiguous
            p = value.reshape(-1) if in_place else np.array(value, dtype=dtype).reshape(-1)
            g = np.ascontiguousarray(grad_arrays[key], dtype=dtype).reshape(-1)
            kernel(p, g, *(state[key].reshape(-1) for state in states), *cast[dtype])
            if not isinstance(value, np.ndarray):
                params[key] = float(p[0])
            elif not in_place:
                value[...] = p.reshape(shape)

    def _states(self, params, spec):
        """The state containers, built on the first call; refuses params they were not built for."""
        if not self.state_names:
            return ()
        if self._built_for is None:
            states = {name: params.zeros_like() if isinstance(params, FlatParams) else
                      {key: np.zeros(shape, dtype) for key, (shape, dtype) in spec.items()}
                      for name in self.state_names}
            if self._loaded is not None:
                _fill(states, self._loaded, type(self).__name__)
                self._loaded = None
            self._built_for = params.flat if isinstance(params, FlatParams) else spec
            for name, value in states.items():
                setattr(self, name, value)
        elif isinstance(self._built_for, np.ndarray):
            if not (isinstance(params, FlatParams) and params.flat is self._built_for):
                raise ValueError(f"{type(self).__name__} state was built for another FlatParams buffer; "
                                 f"create one optimizer per set of parameters")
        else:
            difference = _describe_difference(self._built_for, spec)
            if difference:
                raise ValueError(f"{type(self).__name__} state was built for other params ({difference}); "
                                 f"create one optimizer per set of parameters")
        return tuple(getattr(self, name) for name in self.state_names)


def _counter(name, value):
    """An optimizer counter (Adam's ``iter``) from a state dict: an int >= 0."""
    if value is None:
        raise KeyError(f"optimizer state lacks {name!r}")
    number = np.asarray(value)
    if number.shape != () or number.dtype.kind not in "iu" or number < 0:
        raise ValueError(f"optimizer state {name!r} must be an integer >= 0, got {value!r}")
    return int(number)


def _fill(states, loaded, owner):
    """Copy ``loaded[name][key]`` into ``states[name][key]``, checking every key and shape first."""
    for name, buffers in states.items():
        missing = [key for key in buffers if key not in loaded[name]]
        extra = [key for key in loaded[name] if key not in buffers]
        if missing or extra:
            raise KeyError(f"{owner} state does not fit these params: missing {[f'{name}/{k}' for k in missing]}, "
                           f"unknown {[f'{name}/{k}' for k in extra]}")
        for key, value in loaded[name].items():
            if value.shape != buffers[key].shape or value.dtype.kind != "f":
                raise ValueError(f"{owner} state {name}/{key} is {value.dtype} {value.shape}, but "
                                 f"params[{key!r}] is {buffers[key].dtype} {buffers[key].shape}")
    for name, buffers in states.items():
        for key, value in loaded[name].items():
            buffers[key][...] = value


class SGD(Optimizer):
    """Stochastic gradient descent: ``p -= lr*g``.

    Stateless, so one instance may update several networks (the book's
    scripts do). Same as ``torch.optim.SGD(lr=lr)``.
    """

    lr = Hyperparameter(positive)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def update(self, params, grads):
        self._run(optim.sgd_update, params, grads, self.lr)


class Momentum(Optimizer):
    """Momentum SGD: ``v = momentum*v - lr*g; p += v``.

    PyTorch's ``SGD(momentum=...)`` keeps ``v`` without ``lr``
    (``b = momentum*b + g; p -= lr*b``): the same steps while ``lr`` is
    constant, different ones after ``lr`` changes.
    """

    lr = Hyperparameter(positive)
    momentum = Hyperparameter(_below_one)

    state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum

    def update(self, params, grads):
        self._run(optim.momentum_update, params, grads, self.lr, self.momentum)


class Nesterov(Momentum):
    """Nesterov momentum in the book's current form (since 2021).

    ``p += momentum*momentum*v; p -= (1+momentum)*lr*g; v = momentum*v - lr*g``,
    i.e. ``p += -momentum*v_old + (1+momentum)*v_new``. Equal to PyTorch's
    ``SGD(momentum=..., nesterov=True)`` while ``lr`` is constant. Older
    printings of the book update ``v`` first and use the new ``v`` in both terms.
    Same arguments and state as :class:`Momentum`.
    """

    def update(self, params, grads):
        self._run(optim.nesterov_update, params, grads, self.lr, self.momentum)


class AdaGrad(Optimizer):
    """AdaGrad: ``h += g*g; p -= lr*g / (sqrt(h) + 1e-7)``.

    PyTorch's ``Adagrad`` adds ``eps=1e-10`` instead of the book's ``1e-7``.
    """

    lr = Hyperparameter(positive)

    state_names = ("h",)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def update(self, params, grads):
        self._run(optim.adagrad_update, params, grads, self.lr)


class RMSprop(Optimizer):
    """RMSprop: ``h = decay_rate*h + (1-decay_rate)*g*g; p -= lr*g / (sqrt(h) + 1e-7)``.

    PyTorch's ``RMSprop`` calls ``decay_rate`` ``alpha`` and adds ``eps=1e-8``
    instead of the book's ``1e-7``.
    """

    lr = Hyperparameter(positive)
    decay_rate = Hyperparameter(_below_one)

    state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr = lr
        self.decay_rate = decay_rate

    def update(self, params, grads):
        self._run(optim.rmsprop_update, params, grads, self.lr, self.decay_rate, 1 - self.decay_rate)


class Adam(Optimizer):
    """Adam with the book's folded bias correction.

    Per ``update`` (``iter`` counts calls, not keys):
    ``lr_t = lr*sqrt(1-beta2**iter)/(1-beta1**iter)``, then
    ``m += (1-beta1)*(g-m); v += (1-beta2)*(g*g-v); p -= lr_t*m / (sqrt(v) + 1e-7)``.

    PyTorch's ``Adam`` adds ``eps=1e-8`` to ``sqrt`` of the *bias-corrected*
    ``v``; here ``1e-7`` is added to ``sqrt`` of the uncorrected ``v``, an
    effective eps of ``1e-7/sqrt(1-beta2**iter)``, larger early in training.
    """

    lr = Hyperparameter(positive)
    beta1 = Hyperparameter(_below_one)
    beta2 = Hyperparameter(_below_one)
    iter = Hyperparameter(_count)

    state_names = ("m", "v")
    counter_names = ("iter",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0

    def _lr_t(self, t):
        return self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def update(self, params, grads):
        t = self.iter + 1
        self._run(optim.adam_update, params, grads, self._lr_t(t), 1 - self.beta1, 1 - self.beta2)
        self.iter = t


class AdaDelta(Optimizer):
    """AdaDelta (Zeiler 2012), with PyTorch's ``lr`` multiplier on the step.

    ``h = rho*h + (1-rho)*g*g; delta = sqrt(acc_delta+eps) / sqrt(h+eps) * g;
    acc_delta = rho*acc_delta + (1-rho)*delta*delta; p -= lr*delta``

    ``rho=0.95`` and ``eps=1e-6`` are Zeiler's values; PyTorch's ``Adadelta``
    defaults to ``rho=0.9``. ``h`` and ``acc_delta`` are Zeiler's E[g^2] and
    E[dx^2]. The book has no AdaDelta.
    """

    rho = Hyperparameter(_below_one)
    eps = Hyperparameter(positive)
    lr = Hyperparameter(positive)

    state_names = ("h", "acc_delta")

    def __init__(self, rho=0.95, eps=1e-6, lr=1.0):
        super().__init__()
        self.rho = rho
        self.eps = eps
        self.lr = lr

    def update(self, params, grads):
        self._run(optim.adadelta_update, params, grads, self.lr, self.rho, 1 - self.rho, self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    ``p -= lr*weight_decay*p``, then :class:`Adam`'s step with the book's
    folded ``lr_t`` and ``1e-7``. PyTorch's ``AdamW`` decays the same way
    (``p *= 1 - lr*weight_decay``) but takes PyTorch's Adam step (see
    :class:`Adam`). Unlike an L2 term in the loss, the decay is not scaled by
    the adaptive denominator. The book has no AdamW.
    """

    weight_decay = Hyperparameter(non_negative)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.01):
        super().__init__(lr, beta1, beta2)
        self.weight_decay = weight_decay

    def update(self, params, grads):
        t = self.iter + 1
        self._run(optim.adamw_update, params, grads, self._lr_t(t), 1 - self.beta1, 1 - self.beta2,
                  self.lr * self.weight_decay)
        self.iter = t


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam, "adadelta": AdaDelta, "adamw": AdamW}
"""Optimizer classes by the book ``Trainer``'s lowercase names."""


def get_optimizer(name, **kwargs):
    """``OPTIMIZERS[name.lower()](**kwargs)``; ``ValueError`` listing the valid names on a miss."""
    cls = OPTIMIZERS.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(OPTIMIZERS)}")
    return cls(**kwargs)

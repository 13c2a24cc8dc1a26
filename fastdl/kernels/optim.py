"""Optimizer updates: one fused in-place pass over 1-D buffers per algorithm.

Every ``<algorithm>_update`` takes the parameters ``p``, the gradients ``g`` and
the state buffers, all ``(P,)`` C-contiguous arrays of one dtype, then scalar
hyperparameters already cast to that dtype. It updates ``p`` and the state in
place and returns nothing.

Each element step repeats the book's NumPy expression operation by operation
(same operands, same order), so float64 results are bit-identical to the
book's ``common/optimizer.py``. Constants (``1``, ``1e-7``) are built in the
buffer's dtype with ``p.dtype.type``: a bare literal is float64 in Numba and
would turn float32 arithmetic into float64. Complements such as ``1 - beta2``
come from the caller, computed in float64 as the book does, then cast: in
float32, ``1 - float32(0.9999)`` is off by 2e-4 relative.

The step of each algorithm lives in one ``_<algorithm>_step(..., i, ...)``
helper shared by the serial loop (``P < PARALLEL_MIN_SIZE``: a thread launch
costs more than it saves) and the ``prange`` loop. A helper reads each element
once into a local and stores it once: the compiler cannot rule out that the
buffers alias, and re-reading an element just stored made the serial loop
up to 2x slower.
"""
import math

from numba import prange

from fastdl.kernels import PARALLEL_MIN_SIZE, STREAMING_PARALLEL_MIN_SIZE, kernel


@kernel()
def _sgd_step(p, g, i, lr):
    p[i] -= lr * g[i]


@kernel(parallel=True)
def sgd_update(p, g, lr):
    """SGD: ``p -= lr*g``.

    Parameters
    ----------
    p, g : (P,)
        Parameters (updated in place) and gradients.
    lr : scalar of p's dtype
    """
    if p.size < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _sgd_step(p, g, i, lr)
    else:
        for i in prange(p.size):
            _sgd_step(p, g, i, lr)


@kernel()
def _momentum_step(p, g, v, i, lr, momentum):
    vi = momentum * v[i] - lr * g[i]
    v[i] = vi
    p[i] += vi


@kernel(parallel=True)
def momentum_update(p, g, v, lr, momentum):
    """Momentum SGD: ``v = momentum*v - lr*g; p += v``.

    Parameters
    ----------
    p, g, v : (P,)
        Parameters and velocity (updated in place), gradients.
    lr, momentum : scalars of p's dtype
    """
    if p.size < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _momentum_step(p, g, v, i, lr, momentum)
    else:
        for i in prange(p.size):
            _momentum_step(p, g, v, i, lr, momentum)


@kernel()
def _nesterov_step(p, g, v, i, lr, momentum):
    gi = g[i]
    vi = v[i]
    p[i] = p[i] + momentum * momentum * vi - (p.dtype.type(1) + momentum) * lr * gi
    v[i] = vi * momentum - lr * gi


@kernel(parallel=True)
def nesterov_update(p, g, v, lr, momentum):
    """Nesterov momentum in the book's current order.

    ``p += momentum*momentum*v; p -= (1+momentum)*lr*g; v *= momentum; v -= lr*g``

    Parameters
    ----------
    p, g, v : (P,)
        Parameters and velocity (updated in place), gradients.
    lr, momentum : scalars of p's dtype
    """
    if p.size < STREAMING_PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _nesterov_step(p, g, v, i, lr, momentum)
    else:
        for i in prange(p.size):
            _nesterov_step(p, g, v, i, lr, momentum)


@kernel()
def _adagrad_step(p, g, h, i, lr):
    gi = g[i]
    hi = h[i] + gi * gi
    h[i] = hi
    p[i] -= lr * gi / (math.sqrt(hi) + p.dtype.type(1e-7))


@kernel(parallel=True)
def adagrad_update(p, g, h, lr):
    """AdaGrad: ``h += g*g; p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    p, g, h : (P,)
        Parameters and sum of squared gradients (updated in place), gradients.
    lr : scalar of p's dtype
    """
    if p.size < PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _adagrad_step(p, g, h, i, lr)
    else:
        for i in prange(p.size):
            _adagrad_step(p, g, h, i, lr)


@kernel()
def _rmsprop_step(p, g, h, i, lr, decay_rate, one_minus_decay_rate):
    gi = g[i]
    hi = h[i] * decay_rate + one_minus_decay_rate * gi * gi
    h[i] = hi
    p[i] -= lr * gi / (math.sqrt(hi) + p.dtype.type(1e-7))


@kernel(parallel=True)
def rmsprop_update(p, g, h, lr, decay_rate, one_minus_decay_rate):
    """RMSprop: ``h *= decay_rate; h += (1-decay_rate)*g*g; p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    p, g, h : (P,)
        Parameters and running mean of squared gradients (updated in place), gradients.
    lr, decay_rate, one_minus_decay_rate : scalars of p's dtype
    """
    if p.size < PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _rmsprop_step(p, g, h, i, lr, decay_rate, one_minus_decay_rate)
    else:
        for i in prange(p.size):
            _rmsprop_step(p, g, h, i, lr, decay_rate, one_minus_decay_rate)


@kernel()
def _adam_delta(g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2):
    """Update ``m[i]``, ``v[i]``; return the step ``lr_t*m/(sqrt(v) + 1e-7)`` to subtract from ``p[i]``."""
    gi = g[i]
    mi = m[i]
    mi += one_minus_beta1 * (gi - mi)
    vi = v[i]
    vi += one_minus_beta2 * (gi * gi - vi)
    m[i] = mi
    v[i] = vi
    return lr_t * mi / (math.sqrt(vi) + g.dtype.type(1e-7))


@kernel()
def _adam_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2):
    p[i] -= _adam_delta(g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2)


@kernel(parallel=True)
def adam_update(p, g, m, v, lr_t, one_minus_beta1, one_minus_beta2):
    """Adam with the book's folded bias correction.

    ``m += (1-beta1)*(g-m); v += (1-beta2)*(g*g-v); p -= lr_t*m / (sqrt(v) + 1e-7)``
    where the caller computes ``lr_t = lr*sqrt(1-beta2**t)/(1-beta1**t)``.

    Parameters
    ----------
    p, g, m, v : (P,)
        Parameters, first and second moments (updated in place), gradients.
    lr_t, one_minus_beta1, one_minus_beta2 : scalars of p's dtype
    """
    if p.size < PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _adam_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2)
    else:
        for i in prange(p.size):
            _adam_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2)


@kernel()
def _adamw_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2, lr_weight_decay):
    pi = p[i]
    p[i] = (pi - lr_weight_decay * pi) - _adam_delta(g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2)


@kernel(parallel=True)
def adamw_update(p, g, m, v, lr_t, one_minus_beta1, one_minus_beta2, lr_weight_decay):
    """AdamW: decoupled weight decay ``p -= lr*weight_decay*p``, then :func:`adam_update`'s step.

    Parameters
    ----------
    p, g, m, v : (P,)
        Parameters, first and second moments (updated in place), gradients.
    lr_t, one_minus_beta1, one_minus_beta2 : scalars of p's dtype
    lr_weight_decay : scalar of p's dtype, the product ``lr*weight_decay``
    """
    if p.size < PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _adamw_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2, lr_weight_decay)
    else:
        for i in prange(p.size):
            _adamw_step(p, g, m, v, i, lr_t, one_minus_beta1, one_minus_beta2, lr_weight_decay)


@kernel()
def _adadelta_step(p, g, h, acc_delta, i, lr, rho, one_minus_rho, eps):
    gi = g[i]
    hi = rho * h[i] + one_minus_rho * gi * gi
    ai = acc_delta[i]
    delta = math.sqrt(ai + eps) / math.sqrt(hi + eps) * gi
    h[i] = hi
    acc_delta[i] = rho * ai + one_minus_rho * delta * delta
    p[i] -= lr * delta


@kernel(parallel=True)
def adadelta_update(p, g, h, acc_delta, lr, rho, one_minus_rho, eps):
    """AdaDelta (Zeiler 2012) with PyTorch's ``lr`` multiplier.

    ``h = rho*h + (1-rho)*g*g; delta = sqrt(acc_delta+eps) / sqrt(h+eps) * g;
    acc_delta = rho*acc_delta + (1-rho)*delta*delta; p -= lr*delta``

    Parameters
    ----------
    p, g, h, acc_delta : (P,)
        Parameters, running means of squared gradients and of squared steps
        (updated in place), gradients.
    lr, rho, one_minus_rho, eps : scalars of p's dtype
    """
    if p.size < PARALLEL_MIN_SIZE:
        for i in range(p.size):
            _adadelta_step(p, g, h, acc_delta, i, lr, rho, one_minus_rho, eps)
    else:
        for i in prange(p.size):
            _adadelta_step(p, g, h, acc_delta, i, lr, rho, one_minus_rho, eps)

"""The book's optimizers (common/optimizer.py), plus AdaDelta and AdamW, which the book lacks.

SGD to Adam follow the book's common/optimizer.py: dicts keyed like params, state built
lazily with ``np.zeros_like``, ``params[key] -= ...`` in place (Python floats
are rebound). AdaDelta follows Zeiler 2012 in PyTorch's form (an ``lr``
multiplier on the step); AdamW decays the weights by ``lr*weight_decay`` and
then takes the book's Adam step.
"""
import numpy as np


class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)
        for key in params.keys():
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]


class AdaGrad:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key]**2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


class AdaDelta:
    """Zeiler 2012, Algorithm 1: RMS[dx]_{t-1} / RMS[g]_t * g, both RMS with eps inside the root."""

    def __init__(self, rho=0.95, eps=1e-6, lr=1.0):
        self.rho = rho
        self.eps = eps
        self.lr = lr
        self.h = None
        self.acc_delta = None

    def update(self, params, grads):
        if self.h is None:
            self.h, self.acc_delta = {}, {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)
                self.acc_delta[key] = np.zeros_like(val)
        for key in params.keys():
            g = grads[key]
            self.h[key] = self.rho * self.h[key] + (1 - self.rho) * g * g
            delta = np.sqrt(self.acc_delta[key] + self.eps) / np.sqrt(self.h[key] + self.eps) * g
            self.acc_delta[key] = self.rho * self.acc_delta[key] + (1 - self.rho) * delta * delta
            params[key] -= self.lr * delta


class AdamW(Adam):
    """Loshchilov & Hutter 2019: the decay is applied to the weights, outside the adaptive step."""

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, weight_decay=0.01):
        super().__init__(lr, beta1, beta2)
        self.weight_decay = weight_decay

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * self.weight_decay * params[key]
        super().update(params, grads)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam, "adadelta": AdaDelta, "adamw": AdamW}

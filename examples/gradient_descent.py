"""Gradient descent with a numerical gradient, then the SGD class on a dict, from
"Deep Learning における最適化手法" (Mashykom WebSite).

The article's numerical_gradient is fastdl.numerical_gradient (the book's, h = 1e-4) and its
SGD class is fastdl.SGD. Same function, start, steps and figure.

FASTDL_EXAMPLE_STEPS changes the number of gradient-descent steps (default: the article's 20).
"""
import os

import matplotlib.pylab as plt
import numpy as np

from fastdl import SGD, numerical_gradient


def gradient_descent(f, init_x, eta=0.01, ite_num=100):
    x = init_x
    x_history = []
    for i in range(ite_num):
        x_history.append(x.copy())
        grad = numerical_gradient(f, x)
        x -= eta * grad
    return x, np.array(x_history)


def function_2(x):
    return (x[0] - 1)**2 + (x[1] - 2)**2


init_x = np.array([0.0, 0.0])
eta = 0.1
ite_num = int(os.environ.get("FASTDL_EXAMPLE_STEPS", 20))
x, x_history = gradient_descent(function_2, init_x, eta, ite_num)
print(f"gradient descent: {ite_num} steps from (0, 0) to ({x[0]:.6f}, {x[1]:.6f})")

plt.plot([-5, 5], [2, 2], "--b")
plt.plot([1, 1], [-5, 5], "--b")
plt.plot(x_history[:, 0], x_history[:, 1], "o")
plt.xlim(-3.5, 3.5)
plt.ylim(-4.5, 4.5)
plt.xlabel("X0")
plt.ylabel("X1")
plt.savefig("gradient_descent.png")


# The article's SGD class updates a dict of parameters, here the same function's two coordinates.
def grad(x, y):
    return 2 * (x - 1), 2 * (y - 2)


params = {"x": 0.0, "y": 0.0}
grads = {}
optimizer = SGD()
for i in range(300):
    grads["x"], grads["y"] = grad(params["x"], params["y"])
    optimizer.update(params, grads)
print(f"SGD(lr=0.01): 300 steps from (0, 0) to ({params['x']:.6f}, {params['y']:.6f})")

if plt.get_backend().lower() != "agg":
    plt.show()

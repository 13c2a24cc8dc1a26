"""Adam on f(x, y) = x**2/20 + y**2, from the E資格 article on Adam.

The article defines its own Adam class (the book's); here it is fastdl.Adam, updating the
same dict of Python floats. Same start, steps and figure.

FASTDL_EXAMPLE_STEPS changes the number of steps (default: the article's 30).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import Adam


def f(x, y):
    return (1 / 20) * x**2 + y**2


def gradient_f(x, y):
    return np.array([x / 10, 2 * y])


optimizer = Adam(lr=0.3)
params = {"x": -7.0, "y": 2.0}
path = [(params["x"], params["y"])]

for i in range(int(os.environ.get("FASTDL_EXAMPLE_STEPS", 30))):
    grads = {"x": gradient_f(params["x"], params["y"])[0], "y": gradient_f(params["x"], params["y"])[1]}
    optimizer.update(params, grads)
    path.append((params["x"], params["y"]))

path = np.array(path)
print(f"from (-7, 2) to ({path[-1, 0]:.4f}, {path[-1, 1]:.4f}): f = {f(*path[-1]):.6f}")

x = np.arange(-10, 10, 0.1)
y = np.arange(-5, 5, 0.1)
X, Y = np.meshgrid(x, y)
Z = f(X, Y)

plt.figure(figsize=(10, 8))
plt.contour(X, Y, Z, levels=np.logspace(-2, 2, 20))
plt.plot(path[:, 0], path[:, 1], "o-", color="red")
plt.xlabel("x")
plt.ylabel("y")
plt.title("Adam Optimization")
plt.grid()
plt.savefig("adam_path.png")
if plt.get_backend().lower() != "agg":
    plt.show()

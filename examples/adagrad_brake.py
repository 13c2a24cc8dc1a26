"""AdaGrad's "brake", from the teacher's article 「数式で挫折させない!「Adagrad」を直感的に教える」.

The article's Adagrad class is fastdl.AdaGrad: ``h += g*g`` (the remembered steepness, the
"tired legs") and ``p -= lr * g / (sqrt(h) + 1e-7)`` (the brake). On the book's toy problem
f(x, y) = x**2/20 + y**2 it shows both of the article's points: the steep y axis gets a small
effective learning rate lr / (sqrt(h) + 1e-7) and the flat x axis a large one, and since h only
grows, the effective learning rates only fall: on a long run learning stalls (the weakness
RMSprop and Adam fix by forgetting old gradients).

FASTDL_EXAMPLE_STEPS changes the number of steps (default 100).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import AdaGrad


def f(x, y):
    return x**2 / 20 + y**2


optimizer = AdaGrad(lr=1.5)
params = {"x": -7.0, "y": 2.0}
path = [(params["x"], params["y"])]
effective_lr = []  # lr / (sqrt(h) + 1e-7) per parameter: the brake at each step

for i in range(int(os.environ.get("FASTDL_EXAMPLE_STEPS", 100))):
    grads = {"x": params["x"] / 10, "y": 2 * params["y"]}
    optimizer.update(params, grads)
    path.append((params["x"], params["y"]))
    effective_lr.append([optimizer.lr / (np.sqrt(optimizer.h[key]) + 1e-7) for key in ("x", "y")])

path, effective_lr = np.array(path), np.array(effective_lr)
print(f"h after {len(effective_lr)} steps: x {float(optimizer.h['x']):.4f}, y {float(optimizer.h['y']):.4f}")
print(f"effective lr, first step: x {effective_lr[0, 0]:.4f}, y {effective_lr[0, 1]:.4f}; "
      f"last step: x {effective_lr[-1, 0]:.4f}, y {effective_lr[-1, 1]:.4f}")
print(f"from (-7, 2) to ({path[-1, 0]:.4f}, {path[-1, 1]:.4f}): f = {f(*path[-1]):.6f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
X, Y = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
left.contour(X, Y, f(X, Y), levels=np.logspace(-2, 2, 20))
left.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3)
left.set(xlabel="x", ylabel="y", title="AdaGrad(lr=1.5) on x**2/20 + y**2")
right.semilogy(np.arange(1, len(effective_lr) + 1), effective_lr[:, 0], label="x (flat: small h, big steps)")
right.semilogy(np.arange(1, len(effective_lr) + 1), effective_lr[:, 1], label="y (steep: big h, small steps)")
right.set(xlabel="step", ylabel="lr / (sqrt(h) + 1e-7)", title="the brake only tightens")
right.legend()
fig.tight_layout()
plt.savefig("adagrad_brake.png")
if plt.get_backend().lower() != "agg":
    plt.show()

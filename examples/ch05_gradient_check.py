"""The book's ch05/gradient_check.py on fastdl: backprop against the numerical gradient.

Prints each parameter's mean absolute difference; all are tiny (about 1e-10 to 1e-7). The book's
script draws unseeded weights; seeded here, because about one draw in ten puts a ReLU input within
h = 1e-4 of its kink at 0, where the central difference straddles the kink and W1/b1 differ by ~1e-6.
Saves ch05_gradient_check.png: the differences on a log axis.
"""
import matplotlib.pyplot as plt
import numpy as np

from fastdl import TwoLayerNet, load_mnist

# データの読み込み
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

np.random.seed(0)
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

x_batch = x_train[:3]
t_batch = t_train[:3]

grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)

diffs = {}
for key in grad_numerical.keys():
    diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
    print(key + ":" + str(diff))
    diffs[key] = diff

plt.bar(list(diffs), list(diffs.values()))
plt.yscale("log")
plt.ylabel("mean |backprop - numerical|")
plt.title("gradient check")
plt.savefig("ch05_gradient_check.png")
if plt.get_backend().lower() != "agg":
    plt.show()

"""AdaGrad on MNIST, from the article "AIって結局何なのかよく分からないので、とりあえず100日間勉強してみた Day62".

The article's NeuralNetwork (784-200-200-10, ReLU, weights 0.01 * randn) is fastdl's
MultiLayerNet(784, [200, 200], 10, weight_init_std=0.01), and its AdaGrad class is
fastdl.AdaGrad. Same seed, steps and figure. One difference: the article's softmax backward
returns y - t without the book's division by the batch size. AdaGrad hardly notices (it divides
by the gradients' own scale); SGD does: `fastdl compare lr` shows both.

FASTDL_EXAMPLE_STEPS shortens the run (default: the article's 1000 steps).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import AdaGrad, MultiLayerNet, load_mnist

(X_train, y_train), (X_test, y_test) = load_mnist(normalize=True, one_hot_label=True)

train_size = X_train.shape[0]
batch_size = 100
np.random.seed(8)
lr = 0.001
step_num = int(os.environ.get("FASTDL_EXAMPLE_STEPS", 1000))
input_size = 784
hidden_size = 200
output_size = 10

network = MultiLayerNet(input_size, [hidden_size, hidden_size], output_size, weight_init_std=0.01)
optimizer = AdaGrad(lr)

loss_history = []
for i in range(step_num):
    batch_mask = np.random.choice(train_size, batch_size)
    X_batch = X_train[batch_mask]
    y_batch = y_train[batch_mask]

    grads = network.gradient(X_batch, y_batch)
    loss = network.last_layer.loss  # this batch's loss before the update, from the gradient's forward pass
    loss_history.append(loss)
    optimizer.update(network.params, grads)
    print(f"Step {i+1}, Loss: {loss}")

plt.plot(range(1, step_num + 1), loss_history)
plt.xlabel("Step")
plt.ylabel("cross entropy loss")
plt.title(f"backpropagation AdaGrad {step_num} steps learning")
plt.savefig("adagrad_mnist.png")
if plt.get_backend().lower() != "agg":
    plt.show()

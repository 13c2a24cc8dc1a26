"""The book's ch05/train_neuralnet.py on fastdl: TwoLayerNet(784, 50, 10), hand-written SGD, lr 0.1.

Saves ch05_train_neuralnet.png: train and test accuracy per epoch, the figure of the book's ch04
train_neuralnet.py (the ch05 script only prints them).

FASTDL_EXAMPLE_STEPS shortens the run (default: the book's 10000 iterations).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import TwoLayerNet, load_mnist

# データの読み込み
(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)

network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

iters_num = int(os.environ.get("FASTDL_EXAMPLE_STEPS", 10000))
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1

train_loss_list = []
train_acc_list = []
test_acc_list = []

iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]

    # 勾配
    grad = network.gradient(x_batch, t_batch)

    # 更新
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]

    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)

print(f"after {iters_num} iterations: train acc {network.accuracy(x_train, t_train)}, "
      f"test acc {network.accuracy(x_test, t_test)}")

# グラフの描画 (the book's ch04 figure)
x = np.arange(len(train_acc_list))
plt.plot(x, train_acc_list, marker='o', label='train acc')
plt.plot(x, test_acc_list, marker='s', label='test acc', linestyle='--')
plt.xlabel("epochs")
plt.ylabel("accuracy")
plt.ylim(0, 1.0)
plt.legend(loc='lower right')
plt.savefig("ch05_train_neuralnet.png")
if plt.get_backend().lower() != "agg":
    plt.show()

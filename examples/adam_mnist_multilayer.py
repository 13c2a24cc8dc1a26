"""A hand-written Adam loop over MultiLayerNet.params, from the article
「E資格合格に向けて 深層学習day2(学習率最適化手法)」.

The article's script unchanged but for the imports: fastdl's MultiLayerNet and load_mnist.
The loop updates network.params[key] in place, which is fastdl's flat parameter buffer.

FASTDL_EXAMPLE_STEPS shortens the run (default: the article's 1000 iterations).
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import MultiLayerNet, load_mnist

# データの読み込み
(x_train, d_train), (x_test, d_test) = load_mnist(normalize=True, one_hot_label=True)

print("データ読み込み完了")

# batch_normalizationの設定 ================================
# use_batchnorm = True
use_batchnorm = False
# ====================================================

network = MultiLayerNet(input_size=784, hidden_size_list=[40, 20], output_size=10, activation='sigmoid',
                        weight_init_std=0.01, use_batchnorm=use_batchnorm)

iters_num = int(os.environ.get("FASTDL_EXAMPLE_STEPS", 1000))
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.01
beta1 = 0.9
beta2 = 0.999

train_loss_list = []
accuracies_train = []
accuracies_test = []

plot_interval = 10

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    d_batch = d_train[batch_mask]

    # 勾配
    grad = network.gradient(x_batch, d_batch)
    if i == 0:
        m = {}
        v = {}
    learning_rate_t = learning_rate * np.sqrt(1.0 - beta2 ** (i + 1)) / (1.0 - beta1 ** (i + 1))
    for key in ('W1', 'W2', 'W3', 'b1', 'b2', 'b3'):
        if i == 0:
            m[key] = np.zeros_like(network.params[key])
            v[key] = np.zeros_like(network.params[key])

        m[key] += (1 - beta1) * (grad[key] - m[key])
        v[key] += (1 - beta2) * (grad[key] ** 2 - v[key])
        network.params[key] -= learning_rate_t * m[key] / (np.sqrt(v[key]) + 1e-7)

    if (i + 1) % plot_interval == 0:
        accr_test = network.accuracy(x_test, d_test)
        accuracies_test.append(accr_test)
        accr_train = network.accuracy(x_batch, d_batch)
        accuracies_train.append(accr_train)
        loss = network.loss(x_batch, d_batch)
        train_loss_list.append(loss)

        print('Generation: ' + str(i + 1) + '. 正答率(トレーニング) = ' + str(accr_train))
        print('                : ' + str(i + 1) + '. 正答率(テスト) = ' + str(accr_test))

lists = range(plot_interval, iters_num + 1, plot_interval)  # the iterations the accuracies were measured at
plt.plot(lists, accuracies_train, label="training set")
plt.plot(lists, accuracies_test, label="test set")
plt.legend(loc="lower right")
plt.title("accuracy")
plt.xlabel("count")
plt.ylabel("accuracy")
plt.ylim(0, 1.0)
# グラフの表示
plt.savefig("adam_mnist_multilayer.png")
if plt.get_backend().lower() != "agg":
    plt.show()

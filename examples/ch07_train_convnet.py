"""The book's ch07/train_convnet.py on fastdl: SimpleConvNet, Adam lr 0.001, 20 epochs, batch 100.

Saves params.pkl (the book's pickle, which ch07_visualize_filter.py and ch07_apply_filter.py load)
and ch07_train_convnet.png: train and test accuracy per epoch (on 1,000 samples each, as the book's
Trainer evaluates).

FASTDL_EXAMPLE_STEPS=N shortens the run to N iterations: 2 epochs over the first N * 50 training
samples, tested on the first 1,000 test samples (the book's own comment suggests a smaller data set
"if it takes too long"). `fastdl train --model simple-convnet` trains the same network in float32,
faster.
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import Trainer, load_mnist
from fastdl.networks import SimpleConvNet

# データの読み込み
(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)

# 処理に時間のかかる場合はデータを削減
#x_train, t_train = x_train[:5000], t_train[:5000]
#x_test, t_test = x_test[:1000], t_test[:1000]

max_epochs = 20
steps = os.environ.get("FASTDL_EXAMPLE_STEPS")
if steps:
    max_epochs = 2
    x_train, t_train = x_train[:int(steps) * 50], t_train[:int(steps) * 50]
    x_test, t_test = x_test[:1000], t_test[:1000]

network = SimpleConvNet(input_dim=(1,28,28),
                        conv_param = {'filter_num': 30, 'filter_size': 5, 'pad': 0, 'stride': 1},
                        hidden_size=100, output_size=10, weight_init_std=0.01)

trainer = Trainer(network, x_train, t_train, x_test, t_test,
                  epochs=max_epochs, mini_batch_size=100,
                  optimizer='Adam', optimizer_param={'lr': 0.001},
                  evaluate_sample_num_per_epoch=1000)
trainer.train()

# パラメータの保存
network.save_params("params.pkl")
print("Saved Network Parameters!")

# グラフの描画
markers = {'train': 'o', 'test': 's'}
x = np.arange(max_epochs)
plt.plot(x, trainer.train_acc_list, marker='o', label='train', markevery=2)
plt.plot(x, trainer.test_acc_list, marker='s', label='test', markevery=2)
plt.xlabel("epochs")
plt.ylabel("accuracy")
plt.ylim(0, 1.0)
plt.legend(loc='lower right')
plt.savefig("ch07_train_convnet.png")
if plt.get_backend().lower() != "agg":
    plt.show()

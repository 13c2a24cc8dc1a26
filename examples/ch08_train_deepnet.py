"""The book's ch08/train_deepnet.py on fastdl: DeepConvNet, Adam lr 0.001, 20 epochs, batch 100.

Saves deep_convnet_params.pkl (the book's pickle, which ch08_misclassified_mnist.py and
ch08_half_float_network.py take as their argument). As the book's, float64: hours on a small
machine; `fastdl train --model deep-convnet` trains the same network in float32, with checkpoints.

FASTDL_EXAMPLE_STEPS=N shortens the run to N iterations: 2 epochs over the first N * 50 training
samples, tested on the first 1,000 test samples.
"""
import os

import matplotlib.pyplot as plt
import numpy as np

from fastdl import Trainer, load_mnist
from fastdl.networks import DeepConvNet

(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)

epochs = 20
steps = os.environ.get("FASTDL_EXAMPLE_STEPS")
if steps:
    epochs = 2
    x_train, t_train = x_train[:int(steps) * 50], t_train[:int(steps) * 50]
    x_test, t_test = x_test[:1000], t_test[:1000]

network = DeepConvNet()
trainer = Trainer(network, x_train, t_train, x_test, t_test,
                  epochs=epochs, mini_batch_size=100,
                  optimizer='Adam', optimizer_param={'lr':0.001},
                  evaluate_sample_num_per_epoch=1000)
trainer.train()

# パラメータの保存
network.save_params("deep_convnet_params.pkl")
print("Saved Network Parameters!")

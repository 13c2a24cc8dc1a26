"""The book's ch08/half_float_network.py on fastdl: DeepConvNet's accuracy with its weights rounded to float16.

Loads the pickle named as the first argument, else the book's pretrained weights
(tests/data/deep_convnet_params.pkl). As in the book's NumPy code, the network still computes in
float64: ``param[...] = param.astype(np.float16)`` rounds each weight to float16 inside the float64
buffer, and the float16 images are read as float64, so the script measures float16 storage
precision. FASTDL_EXAMPLE_STEPS=N uses the first N * 100 test samples (the book: 10,000).
"""
import os
import sys
from pathlib import Path

import numpy as np

from fastdl import load_mnist
from fastdl.networks import DeepConvNet

params_file = (sys.argv[1] if len(sys.argv) > 1
               else Path(__file__).resolve().parents[1] / "tests" / "data" / "deep_convnet_params.pkl")

(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)

network = DeepConvNet()
network.load_params(params_file)

sampled = 10000 # 高速化のため
steps = os.environ.get("FASTDL_EXAMPLE_STEPS")
if steps:
    sampled = int(steps) * 100
x_test = x_test[:sampled]
t_test = t_test[:sampled]

print("caluculate accuracy (float64) ... ")
print(network.accuracy(x_test, t_test))

# float16に型変換
x_test = x_test.astype(np.float16)
for param in network.params.values():
    param[...] = param.astype(np.float16)

print("caluculate accuracy (float16) ... ")
print(network.accuracy(x_test, t_test))

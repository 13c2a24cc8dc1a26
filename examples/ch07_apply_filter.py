"""The book's ch07/apply_filter.py on fastdl: 16 learned first-layer filters applied to one image.

The book reads ../dataset/lena_gray.png, which fastdl does not ship: this script uses the first
MNIST test digit (a 7, 28x28) instead, the kind of image the filters were trained on; each 5x5
filter gives a 24x24 response, in which edges of one orientation light up. Loads params.pkl
(saved by ch07_train_convnet.py) or the pickle named as the first argument. Saves
ch07_apply_filter_filters.png (the 16 filters) and ch07_apply_filter.png (their responses).
"""
import sys

import matplotlib.pyplot as plt
import numpy as np

from fastdl import load_mnist
from fastdl.layers import Convolution
from fastdl.networks import SimpleConvNet

params_file = sys.argv[1] if len(sys.argv) > 1 else "params.pkl"


def filter_show(filters, nx=4, show_num=16):
    """
    c.f. https://gist.github.com/aidiary/07d530d5e08011832b12#file-draw_weight-py
    """
    FN, C, FH, FW = filters.shape
    ny = int(np.ceil(show_num / nx))

    fig = plt.figure()
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, hspace=0.05, wspace=0.05)

    for i in range(show_num):
        ax = fig.add_subplot(4, 4, i+1, xticks=[], yticks=[])
        ax.imshow(filters[i, 0], cmap=plt.cm.gray_r, interpolation='nearest')
    fig.savefig("ch07_apply_filter_filters.png")


network = SimpleConvNet(input_dim=(1,28,28),
                        conv_param = {'filter_num':30, 'filter_size':5, 'pad':0, 'stride':1},
                        hidden_size=100, output_size=10, weight_init_std=0.01)

# 学習後の重み
try:
    network.load_params(params_file)
except FileNotFoundError:
    sys.exit(f"{params_file} not found: run ch07_train_convnet.py here first (it saves params.pkl), "
             f"or name a SimpleConvNet pickle: ch07_apply_filter.py PATH")

filter_show(network.params['W1'], 16)

# the book: img = imread('../dataset/lena_gray.png'); here the first MNIST test digit, as float64
_, (x_test, _) = load_mnist(flatten=False)
img = x_test[0, 0].astype(np.float64)
img = img.reshape(1, 1, *img.shape)

fig = plt.figure()

w_idx = 1

for i in range(16):
    w = network.params['W1'][i]
    b = 0  # network.params['b1'][i]

    w = w.reshape(1, *w.shape)
    #b = b.reshape(1, *b.shape)
    conv_layer = Convolution(w, b)
    out = conv_layer.forward(img)
    out = out.reshape(out.shape[2], out.shape[3])
    print(f"filter {i}: response {out.shape[0]}x{out.shape[1]}, min {out.min():.4f}, max {out.max():.4f}")

    ax = fig.add_subplot(4, 4, i+1, xticks=[], yticks=[])
    ax.imshow(out, cmap=plt.cm.gray_r, interpolation='nearest')

fig.savefig("ch07_apply_filter.png")
if plt.get_backend().lower() != "agg":
    plt.show()

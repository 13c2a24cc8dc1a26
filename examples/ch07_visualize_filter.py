"""The book's ch07/visualize_filter.py on fastdl: SimpleConvNet's 30 first-layer filters, before and after training.

Loads the parameters that ch07_train_convnet.py saves (params.pkl in the current directory), or
the book-style pickle named as the first argument. Saves ch07_visualize_filter_initial.png (random
initialisation) and ch07_visualize_filter_learned.png instead of showing each figure.
"""
import sys

import matplotlib.pyplot as plt
import numpy as np

from fastdl.networks import SimpleConvNet

params_file = sys.argv[1] if len(sys.argv) > 1 else "params.pkl"


def filter_show(filters, nx=8, margin=3, scale=10, file_name="ch07_visualize_filter.png"):
    """
    c.f. https://gist.github.com/aidiary/07d530d5e08011832b12#file-draw_weight-py
    """
    FN, C, FH, FW = filters.shape
    ny = int(np.ceil(FN / nx))

    fig = plt.figure()
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, hspace=0.05, wspace=0.05)

    for i in range(FN):
        ax = fig.add_subplot(ny, nx, i+1, xticks=[], yticks=[])
        ax.imshow(filters[i, 0], cmap=plt.cm.gray_r, interpolation='nearest')
    fig.savefig(file_name)
    if plt.get_backend().lower() != "agg":
        plt.show()


network = SimpleConvNet()
# ランダム初期化後の重み
filter_show(network.params['W1'], file_name="ch07_visualize_filter_initial.png")

# 学習後の重み
try:
    network.load_params(params_file)
except FileNotFoundError:
    sys.exit(f"{params_file} not found: run ch07_train_convnet.py here first (it saves params.pkl), "
             f"or name a SimpleConvNet pickle: ch07_visualize_filter.py PATH")
filter_show(network.params['W1'], file_name="ch07_visualize_filter_learned.png")

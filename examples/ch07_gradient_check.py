"""The book's ch07/gradient_check.py on fastdl: SimpleConvNet's backprop against its numerical gradient.

A small SimpleConvNet (1x10x10 input, 10 filters 3x3, hidden 10) and one random sample; prints each
parameter's mean absolute difference. The book's script is unseeded; seeded here (0), as
ch05_gradient_check.py: some draws put a ReLU input within h = 1e-4 of its kink, where the central
difference straddles it (seed 1 gives b2 1.4e-4, the book's own code the very same number).
"""
import numpy as np

from fastdl.networks import SimpleConvNet

np.random.seed(0)
network = SimpleConvNet(input_dim=(1,10, 10),
                        conv_param = {'filter_num':10, 'filter_size':3, 'pad':0, 'stride':1},
                        hidden_size=10, output_size=10, weight_init_std=0.01)

X = np.random.rand(100).reshape((1, 1, 10, 10))
T = np.array([1]).reshape((1,1))

grad_num = network.numerical_gradient(X, T)
grad = network.gradient(X, T)

for key, val in grad_num.items():
    print(key, np.abs(grad_num[key] - grad[key]).mean())

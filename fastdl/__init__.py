"""fastdl: the layers, networks and optimizers of "Deep Learning from Scratch",
as fused Numba kernels over flat parameter buffers."""
from . import runtime  # noqa: F401  (first: the thread and cache policy applies before Numba loads)
from .datasets import DatasetError, load_mnist
from .diagnostics import NonFiniteLossError, check_finite_loss, gradient_norm
from .flat import FlatParams
from .gradient import numerical_gradient, numerical_gradient_2d
from .layers import Affine, BatchNormalization, Convolution, Dropout, Pooling, Relu, Sigmoid, SoftmaxWithLoss
from .networks import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, TwoLayerNet
from .optimizers import (OPTIMIZERS, AdaDelta, AdaGrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RMSprop, SGD,
                         get_optimizer)
from .trainer import Trainer

__version__ = "0.1.0"

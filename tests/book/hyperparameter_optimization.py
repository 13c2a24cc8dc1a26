"""The book's ch06/hyperparameter_optimization.py, re-typed as a function (plain NumPy).

Changes: ``np.random.seed(seed)`` at the top (the book has none), the trial
count, epochs and sample count as arguments, the data passed in, no printing
or plotting; it returns the trials in the order the book runs them.
"""
import numpy as np

from .multi_layer_net import MultiLayerNet
from .trainer import Trainer


def shuffle_dataset(x, t):
    """common/util.py."""
    permutation = np.random.permutation(x.shape[0])
    x = x[permutation, :] if x.ndim == 2 else x[permutation, :, :, :]
    t = t[permutation]
    return x, t


def hyperparameter_optimization(x_train, t_train, seed, optimization_trial=100, epocs=50, train_num=500):
    """Returns a list of (lr, weight_decay, val_acc_list, train_acc_list), one per trial."""
    np.random.seed(seed)
    x_train = x_train[:train_num]
    t_train = t_train[:train_num]
    validation_rate = 0.20
    validation_num = int(x_train.shape[0] * validation_rate)
    x_train, t_train = shuffle_dataset(x_train, t_train)
    x_val = x_train[:validation_num]
    t_val = t_train[:validation_num]
    x_train = x_train[validation_num:]
    t_train = t_train[validation_num:]

    def __train(lr, weight_decay, epocs=50):
        network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100, 100, 100],
                                output_size=10, weight_decay_lambda=weight_decay)
        trainer = Trainer(network, x_train, t_train, x_val, t_val,
                          epochs=epocs, mini_batch_size=100,
                          optimizer="sgd", optimizer_param={"lr": lr}, verbose=False)
        trainer.train()
        return trainer.test_acc_list, trainer.train_acc_list

    results = []
    for _ in range(optimization_trial):
        weight_decay = 10 ** np.random.uniform(-8, -4)
        lr = 10 ** np.random.uniform(-6, -2)
        val_acc_list, train_acc_list = __train(lr, weight_decay, epocs)
        results.append((lr, weight_decay, val_acc_list, train_acc_list))
    return results

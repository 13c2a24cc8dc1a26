"""The book's ``Trainer`` (``common/trainer.py``), with every fastdl optimizer by name."""
from collections.abc import Mapping

import numpy as np

from .diagnostics import check_finite_loss, gradient_norm
from .optimizers import get_optimizer

NETWORK_METHODS = ("gradient", "loss", "accuracy")


def _check_pair(name, x, t):
    if np.ndim(x) == 0 or np.ndim(t) == 0 or len(x) != len(t):
        raise ValueError(f"x_{name} and t_{name} must have one row per sample, got shapes "
                         f"{np.shape(x)} and {np.shape(t)}")
    if len(x) == 0:
        raise ValueError(f"x_{name} is empty")


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class Trainer:
    """Mini-batch training with the book's bookkeeping.

    Parameters
    ----------
    network : a network with ``params``, ``gradient(x, t)``, ``loss(x, t)`` and ``accuracy(x, t)``.
    x_train, t_train, x_test, t_test : arrays with one row (or label) per sample.
    epochs : int
    mini_batch_size : int
    optimizer : str
        A name of :data:`fastdl.optimizers.OPTIMIZERS`, any case ('SGD', 'Adam', 'AdaDelta', ...).
    optimizer_param : dict
        Keyword arguments of the optimizer (the book's default ``{'lr': 0.01}`` also
        reaches Adam, whose own default is 0.001).
    evaluate_sample_num_per_epoch : int, optional
        Evaluate the per-epoch accuracies on the first k samples only.
    verbose : bool
        Print the book's ``train loss:`` and ``=== epoch:...`` lines.
    record_grad_norm : bool
        Also record each step's :func:`~fastdl.diagnostics.gradient_norm` in
        ``grad_norm_list`` (printed as ``grad norm:`` when verbose).

    As the book: ``iter_per_epoch = max(train_size / mini_batch_size, 1)`` is a
    float and ``max_iter = int(epochs * iter_per_epoch)``; each step samples a
    batch with replacement (``np.random.choice``), updates, then records the
    inference-mode loss of that batch; the accuracies are recorded when
    ``current_iter % iter_per_epoch == 0`` (float modulo: with 1000 samples,
    batch 128 and 20 epochs that happens twice, not 20 times).

    Unlike the book, a step whose loss is NaN or infinite stops the training
    with :class:`~fastdl.diagnostics.NonFiniteLossError`, naming the step, the
    optimizer and its ``lr`` (the loss is still appended to ``train_loss_list``).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param={"lr": 0.01}, evaluate_sample_num_per_epoch=None,  # noqa: B006
                 verbose=True, record_grad_norm=False):
        missing = [name for name in NETWORK_METHODS if not callable(getattr(network, name, None))]
        if missing or not hasattr(network, "params"):
            raise TypeError(f"network must be a fastdl or book network (params, {', '.join(NETWORK_METHODS)}); "
                            f"{type(network).__name__} lacks {missing or ['params']}")
        x_train, t_train, x_test, t_test = (np.asarray(a) for a in (x_train, t_train, x_test, t_test))
        _check_pair("train", x_train, t_train)
        _check_pair("test", x_test, t_test)
        if not isinstance(optimizer_param, Mapping):
            raise TypeError(f"optimizer_param must be a dict of the optimizer's arguments, e.g. {{'lr': 0.01}}, "
                            f"got {optimizer_param!r}")
        _check_count("epochs", epochs, 0)
        _check_count("mini_batch_size", mini_batch_size, 1)
        if evaluate_sample_num_per_epoch is not None:
            _check_count("evaluate_sample_num_per_epoch", evaluate_sample_num_per_epoch, 1)
        self.network = network
        self.verbose = verbose
        self.record_grad_norm = record_grad_norm
        self.x_train = x_train
        self.t_train = t_train
        self.x_test = x_test
        self.t_test = t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = get_optimizer(optimizer, **optimizer_param)
        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []
        self.grad_norm_list = []

    def train_step(self):
        """One update on a sampled batch; the accuracies too at the float-modulo epoch boundary."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        if self.record_grad_norm:
            self.grad_norm_list.append(gradient_norm(grads))
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
            if self.record_grad_norm:
                print("grad norm:" + str(self.grad_norm_list[-1]))
        check_finite_loss(loss, self.current_iter + 1, self.optimizer, x_batch)
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            k = self.evaluate_sample_num_per_epoch
            train_acc = self.network.accuracy(self.x_train[:k], self.t_train[:k])
            test_acc = self.network.accuracy(self.x_test[:k], self.t_test[:k])
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc)
                      + ", test acc:" + str(test_acc) + " ===")
        self.current_iter += 1

    def train(self):
        """``max_iter`` steps, then the accuracy on the full test set (printed, not stored)."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))

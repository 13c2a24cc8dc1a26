"""fastdl.trainer.Trainer against the book's Trainer (tests/book/trainer.py)."""
import numpy as np
import pytest
from book.multi_layer_net_extend import MultiLayerNetExtend as BookNet
from book.trainer import Trainer as BookTrainer

from fastdl.networks import MultiLayerNetExtend
from fastdl.optimizers import OPTIMIZERS, AdaDelta, Adam
from fastdl.trainer import Trainer


def dataset(n_train=1000, n_test=200, d=12, classes=4):
    rng = np.random.default_rng(2)
    centers = rng.standard_normal((classes, d)) * 2
    t = rng.integers(0, classes, n_train + n_test).astype(np.uint8)
    x = (centers[t] + rng.standard_normal((n_train + n_test, d))).astype(np.float32)
    return x[:n_train], t[:n_train], x[n_train:], t[n_train:]


def run(trainer_class, net_class, data, seed=0, net_kwargs=None, **kwargs):
    np.random.seed(seed)
    net = net_class(12, [10, 10], 4, **(net_kwargs or {}))
    trainer = trainer_class(net, *data, **kwargs)
    trainer.train()
    return trainer


@pytest.mark.parametrize("optimizer, optimizer_param", [("SGD", {"lr": 0.1}), ("Adam", {"lr": 0.01})])
def test_training_follows_the_books_trainer(optimizer, optimizer_param, capsys):
    data = dataset()
    kwargs = dict(epochs=20, mini_batch_size=128, optimizer=optimizer, optimizer_param=optimizer_param,
                  evaluate_sample_num_per_epoch=150,
                  net_kwargs=dict(use_batchnorm=True, use_dropout=True, dropout_ration=0.2))
    trainer = run(Trainer, MultiLayerNetExtend, data, **kwargs)
    out = capsys.readouterr().out.splitlines()
    ref = run(BookTrainer, BookNet, data, **kwargs)
    ref_out = capsys.readouterr().out.splitlines()
    assert trainer.iter_per_epoch == ref.iter_per_epoch == 7.8125
    assert trainer.max_iter == ref.max_iter == 156
    assert len(trainer.train_acc_list) == len(ref.train_acc_list) == 2
    assert trainer.current_epoch == 2 and trainer.current_iter == 156
    assert trainer.train_acc_list == ref.train_acc_list and trainer.test_acc_list == ref.test_acc_list
    np.testing.assert_allclose(trainer.train_loss_list, ref.train_loss_list, rtol=1e-9)
    assert all(isinstance(loss, np.float64) for loss in trainer.train_loss_list)
    assert [line.split(":")[0] for line in out] == [line.split(":")[0] for line in ref_out]
    assert [line for line in out if "acc" in line] == [line for line in ref_out if "acc" in line]


def test_evaluations_follow_the_float_modulo():
    data = dataset(n_train=300, n_test=50)
    trainer = run(Trainer, MultiLayerNetExtend, data, epochs=301, mini_batch_size=100, verbose=False,
                  evaluate_sample_num_per_epoch=20)
    assert trainer.iter_per_epoch == 3.0 and trainer.max_iter == 903
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 301
    assert len(trainer.train_loss_list) == 903


def test_small_training_set_gives_one_iteration_per_epoch():
    data = dataset(n_train=50, n_test=10)
    trainer = run(Trainer, MultiLayerNetExtend, data, epochs=3, mini_batch_size=100, verbose=False)
    assert trainer.iter_per_epoch == 1 and trainer.max_iter == 3 and len(trainer.test_acc_list) == 3


def test_loss_is_recorded_after_the_update_in_inference_mode():
    x_train, t_train, x_test, t_test = dataset()
    kwargs = dict(use_batchnorm=True, use_dropout=True)
    np.random.seed(0)
    trainer = Trainer(MultiLayerNetExtend(12, [10, 10], 4, **kwargs), x_train, t_train, x_test, t_test, verbose=False)
    np.random.seed(0)
    ref = BookNet(12, [10, 10], 4, **kwargs)
    np.random.seed(1)
    trainer.train_step()
    np.random.seed(1)
    mask = np.random.choice(1000, 100)
    grads = ref.gradient(x_train[mask], t_train[mask])
    for key in ref.params:
        ref.params[key] -= 0.01 * grads[key]
    assert trainer.train_loss_list == [pytest.approx(ref.loss(x_train[mask], t_train[mask]), rel=1e-12)]
    assert trainer.train_loss_list[0] != pytest.approx(ref.loss(x_train[mask], t_train[mask], train_flg=True), rel=1e-6)


@pytest.mark.parametrize("name", [name.upper() for name in OPTIMIZERS] + ["AdaDelta", "rmsProp"])
def test_every_fastdl_optimizer_is_available_by_name(name):
    data = dataset(n_train=100, n_test=20)
    trainer = run(Trainer, MultiLayerNetExtend, data, epochs=1, optimizer=name, verbose=False,
                  optimizer_param={"lr": 0.01})
    assert type(trainer.optimizer) is OPTIMIZERS[name.lower()]
    assert np.isfinite(trainer.train_loss_list).all()


def test_default_optimizer_param_reaches_adam():
    trainer = Trainer(MultiLayerNetExtend(12, [4], 4), *dataset(n_train=10, n_test=5), optimizer="adam")
    assert isinstance(trainer.optimizer, Adam) and trainer.optimizer.lr == 0.01
    trainer = Trainer(MultiLayerNetExtend(12, [4], 4), *dataset(n_train=10, n_test=5), optimizer="adadelta",
                      optimizer_param={"rho": 0.9})
    assert isinstance(trainer.optimizer, AdaDelta) and trainer.optimizer.rho == 0.9


@pytest.mark.parametrize("kwargs, error, fragment", [
    (dict(optimizer="adamax"), ValueError, "unknown optimizer 'adamax'; valid names: sgd, momentum"),
    (dict(mini_batch_size=0), ValueError, "mini_batch_size must be an integer >= 1"),
    (dict(epochs=-1), ValueError, "epochs must be an integer >= 0"),
    (dict(evaluate_sample_num_per_epoch=0), ValueError, "evaluate_sample_num_per_epoch"),
    (dict(t_train=np.zeros(9, np.uint8)), ValueError, r"x_train and t_train .* \(10, 12\) and \(9,\)"),
])
def test_bad_trainer_arguments(kwargs, error, fragment):
    x_train, t_train, x_test, t_test = dataset(n_train=10, n_test=5)
    arrays = dict(x_train=x_train, t_train=kwargs.pop("t_train", t_train), x_test=x_test, t_test=t_test)
    with pytest.raises(error, match=fragment):
        Trainer(MultiLayerNetExtend(12, [4], 4), **arrays, **kwargs)

"""Numerical trouble is reported, not hidden: a non-finite training loss stops the run with the
step, the optimizer and its lr; gradient norms can be logged per step."""
import math

import numpy as np
import pytest
from book.multi_layer_net import MultiLayerNet as BookMultiLayerNet
from book.trainer import Trainer as BookTrainer

import fastdl
from fastdl.diagnostics import NonFiniteLossError, check_finite_loss, gradient_norm


def dataset(n=200, d=12, classes=4):
    rng = np.random.default_rng(0)
    return rng.random((n, d)).astype(np.float32), rng.integers(0, classes, n).astype(np.uint8)


def diverging_run(trainer_class, net_class):
    """SGD with lr=100 and weight decay: the weights overflow to inf within a few steps."""
    x, t = dataset()
    np.random.seed(0)
    net = net_class(12, [10, 10], 4, weight_decay_lambda=0.1)
    trainer = trainer_class(net, x, t, x, t, epochs=5, mini_batch_size=20, optimizer="SGD",
                            optimizer_param={"lr": 100.0}, verbose=False)
    return trainer


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_training_stops_at_the_books_first_non_finite_step():
    ref = diverging_run(BookTrainer, BookMultiLayerNet)
    ref.train()
    first_bad = next(i for i, loss in enumerate(ref.train_loss_list) if not np.isfinite(loss))
    trainer = diverging_run(fastdl.Trainer, fastdl.MultiLayerNet)
    with pytest.raises(NonFiniteLossError) as error:
        trainer.train()
    message = str(error.value)
    assert f"at step {first_bad + 1} (SGD with lr=100): the updates diverged (the batch is finite" in message
    assert "Try a smaller learning rate, e.g. lr=10." in message
    assert isinstance(error.value, FloatingPointError)
    assert len(trainer.train_loss_list) == first_bad + 1 and not np.isfinite(trainer.train_loss_list[-1])
    np.testing.assert_allclose(trainer.train_loss_list[:first_bad], ref.train_loss_list[:first_bad], rtol=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_data_stops_at_the_first_step(bad):
    x, t = dataset()
    x[:, 3] = bad
    trainer = fastdl.Trainer(fastdl.MultiLayerNet(12, [10], 4), x, t, x, t, epochs=1, mini_batch_size=20,
                             optimizer="adam", optimizer_param={"lr": 0.001}, verbose=False)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 1 \(Adam with lr=0.001\): the batch holds "
                                                 r"NaN or inf\.$"):
        trainer.train()


def test_a_finite_batch_is_named_with_its_largest_value():
    """Huge finite data overflows the forward pass: the message says the batch is finite and how large."""
    x, t = dataset()
    x = x.astype(np.float64) * 1e200  # finite in float64, the network's dtype
    trainer = fastdl.Trainer(fastdl.MultiLayerNet(12, [10], 4), x, t, x, t, epochs=1, mini_batch_size=20,
                             optimizer="adam", optimizer_param={"lr": 0.001}, verbose=False)
    with pytest.raises(NonFiniteLossError, match=r"at step \d \(Adam with lr=0.001\): the batch is finite but holds "
                                                 r"values up to [\d.]+e\+\d+: the updates diverged, or the input is too "
                                                 r"large for the network \(scale it"):
        with np.errstate(over="ignore", invalid="ignore"):
            trainer.train()


def test_check_finite_loss_passes_finite_losses_and_names_the_optimizer():
    check_finite_loss(np.float64(1e300), 1, fastdl.SGD())
    with pytest.raises(NonFiniteLossError, match=r"became inf at step 7 \(AdaDelta with lr=1\).*e.g. lr=0.1\."):
        check_finite_loss(np.float64(np.inf), 7, fastdl.AdaDelta())

    class Custom:
        pass

    with pytest.raises(NonFiniteLossError, match=r"became nan at step 2 \(Custom\): the updates diverged") as error:
        check_finite_loss(float("nan"), 2, Custom())
    assert "learning rate" not in str(error.value)


def test_gradient_norm_of_flat_and_plain_gradients():
    np.random.seed(1)
    net = fastdl.MultiLayerNet(12, [10], 4)
    np.random.seed(1)
    ref = BookMultiLayerNet(12, [10], 4)
    x, t = dataset(n=30)
    expected = math.sqrt(sum(float(np.sum(g ** 2)) for g in ref.gradient(x, t).values()))
    assert gradient_norm(net.gradient(x, t)) == pytest.approx(expected, rel=1e-12)
    assert gradient_norm(ref.gradient(x, t)) == pytest.approx(expected, rel=1e-14)
    assert gradient_norm({"w": np.array([3.0]), "b": np.array([[4.0]], np.float32)}) == 5.0


def test_trainer_records_the_gradient_norm_of_every_step(capsys):
    x, t = dataset()
    np.random.seed(2)
    trainer = fastdl.Trainer(fastdl.MultiLayerNet(12, [10], 4), x, t, x, t, epochs=1, mini_batch_size=50,
                             record_grad_norm=True)
    np.random.seed(2)
    ref = BookMultiLayerNet(12, [10], 4)
    np.random.seed(3)
    trainer.train()
    np.random.seed(3)
    expected = []
    for _ in range(trainer.max_iter):
        mask = np.random.choice(200, 50)
        grads = ref.gradient(x[mask], t[mask])
        expected.append(math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values())))
        for key in ref.params:
            ref.params[key] -= 0.01 * grads[key]
    np.testing.assert_allclose(trainer.grad_norm_list, expected, rtol=1e-10)
    lines = capsys.readouterr().out.splitlines()
    printed = [line for line in lines if line.startswith("grad norm:")]
    assert printed == [f"grad norm:{norm}" for norm in trainer.grad_norm_list]
    assert fastdl.Trainer(fastdl.MultiLayerNet(12, [10], 4), x, t, x, t, verbose=False).grad_norm_list == []

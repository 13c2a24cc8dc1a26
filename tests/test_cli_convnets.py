"""``fastdl train --model simple-convnet|deep-convnet``: the book's ch07/ch08 networks through the same command,
checked against the book's NumPy networks (tests/book/), and resumed bit for bit (float64)."""
import contextlib
import io
import json
import re
import signal

import numpy as np
import pytest

import fastdl
from book.deep_convnet import DeepConvNet as BookDeepConvNet
from book.optimizer import Adam as BookAdam
from book.simple_convnet import SimpleConvNet as BookSimpleConvNet
from fastdl.app.checkpoint import CheckpointError, load_checkpoint
from fastdl.app.cli import main
from helpers import book_step_losses
from test_resume import assert_same_run, load_npz, rewrite, set_json

TRAIN_SIZE = {"simple-convnet": 1000, "deep-convnet": 200}
BATCH, SEED = 50, 5


def conv_run(mnist_dir, out, model, *extra):
    return ["train", "--model", model, "--train-size", str(TRAIN_SIZE[model]), "--batch-size", str(BATCH),
            "--dtype", "float64", "--seed", str(SEED), "--threads", "1", "--data-dir", str(mnist_dir),
            "--out", str(out), *extra]


def quiet_main(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


@pytest.fixture(scope="module")
def mnist_images(mnist_dir):
    return fastdl.load_mnist(flatten=False, data_dir=mnist_dir)


@pytest.fixture(scope="module")
def simple_run(mnist_dir, tmp_path_factory):
    """A 1-epoch SimpleConvNet run on 1,000 samples: (out directory, its stdout)."""
    out = tmp_path_factory.mktemp("simple") / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(conv_run(mnist_dir, out, "simple-convnet", "--epochs", "1")) == 0
    return out, stdout.getvalue()


@pytest.fixture(scope="module")
def deep_straight(mnist_dir, tmp_path_factory):
    """A 2-epoch DeepConvNet run never stopped (its dropout masks come from NumPy's global RNG)."""
    out = tmp_path_factory.mktemp("deep") / "run"
    assert quiet_main(conv_run(mnist_dir, out, "deep-convnet", "--epochs", "2")) == 0
    return out / "model.npz"


def test_simple_convnet_follows_the_book_and_its_outputs_reproduce(simple_run, mnist_images):
    """Same weights, batches and Adam steps as the book's SimpleConvNet seeded the same way; the saved
    network gives the recorded test metrics through the book's code."""
    out, stdout = simple_run
    assert "SimpleConvNet conv 30x5x5, relu, pool 2x2, 4320-100-10, weight_init_std 0.01, float64" in stdout
    assert "Adam(lr=0.002, beta1=0.9, beta2=0.999)" in stdout  # the conv default (the book's 0.001 ends lower)
    (x, t), (x_test, t_test) = mnist_images
    np.random.seed(SEED)
    ref, ref_opt = BookSimpleConvNet(), BookAdam(lr=0.002)
    order = np.random.permutation(TRAIN_SIZE["simple-convnet"])
    expected = book_step_losses(ref, ref_opt, x, t, order, BATCH, 3)
    saved = load_npz(out / "model.npz")
    np.testing.assert_allclose(saved["step_loss"][:3], expected, rtol=1e-9)
    ref = BookSimpleConvNet()  # its layers hold its params arrays: fill them in place
    for key in ref.params:
        ref.params[key][...] = saved[f"params/{key}"]
    loss, correct = 0.0, 0
    for start in range(0, t_test.size, 1000):
        scores = ref.predict(x_test[start:start + 1000])
        loss += ref.last_layer.forward(scores, t_test[start:start + 1000]) * 1000
        correct += int(np.sum(np.argmax(scores, axis=1) == t_test[start:start + 1000]))
    run = json.loads(str(saved["run"]))
    assert correct / t_test.size == run["test_acc"] and run["test_acc"] > 0.5  # it learnt: chance is 0.1
    assert loss / t_test.size == pytest.approx(run["test_loss"], rel=1e-9)
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reloads_a_conv_net(simple_run, mnist_dir, capsys):
    recorded = load_checkpoint(simple_run[0]).run["test_acc"]
    assert main(["evaluate", str(simple_run[0]), "--data-dir", str(mnist_dir)]) == 0
    stdout = capsys.readouterr().out
    assert "network: SimpleConvNet conv 30x5x5" in stdout and f"test: accuracy {recorded:.4f}" in stdout


def test_deep_convnet_follows_the_book_with_its_dropout(deep_straight, mnist_images):
    """Weights, batches and dropout masks drawn from NumPy's RNG in the book's order: the first steps'
    losses are the book's DeepConvNet's, seeded the same way."""
    (x, t), _ = mnist_images
    np.random.seed(SEED)
    ref, ref_opt = BookDeepConvNet(), BookAdam(lr=0.001)
    order = np.random.permutation(TRAIN_SIZE["deep-convnet"])
    expected = book_step_losses(ref, ref_opt, x, t, order, BATCH, 2)
    np.testing.assert_allclose(load_npz(deep_straight)["step_loss"][:2], expected, rtol=1e-9)


def test_deep_convnet_ctrl_c_mid_epoch_then_resume_is_bit_for_bit(deep_straight, mnist_dir, tmp_path, monkeypatch,
                                                                  capsys):
    update, calls = fastdl.Adam.update, []

    def update_then_ctrl_c(self, params, grads):
        update(self, params, grads)
        calls.append(1)
        if len(calls) == 6:  # step 2 of epoch 2 (4 steps per epoch)
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(fastdl.Adam, "update", update_then_ctrl_c)
        assert main(conv_run(mnist_dir, out, "deep-convnet", "--epochs", "2")) == 130
    stdout = capsys.readouterr().out
    assert "DeepConvNet (conv 3x3, relu) x 6" in stdout and "interrupted during epoch 2 after 2/4 steps" in stdout
    assert main(["train", "--resume", str(out), "--data-dir", str(mnist_dir)]) == 0
    assert "after epoch 1 and 2 steps of epoch 2" in capsys.readouterr().out
    assert_same_run(out / "model.npz", deep_straight)


def test_simple_convnet_with_a_validation_split_keeps_its_best_epoch(mnist_dir, mnist_images, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(conv_run(mnist_dir, out, "simple-convnet", "--epochs", "2", "--val-split", "0.2")) == 0
    stdout = capsys.readouterr().out
    best = load_checkpoint(out / "best.npz")
    _, (x_test, t_test) = mnist_images
    acc = best.net.accuracy(x_test, t_test)  # the network's own batched accuracy, on (N, 1, 28, 28) images
    assert re.search(rf"best epoch \d \(validation accuracy [0-9.]+, loss [0-9.]+\), kept in .*best.npz: "
                     rf"test accuracy {acc:.4f}", stdout)


BAD_ARGUMENTS = [
    (["--model", "lenet"], "invalid choice: 'lenet'"),
    (["--model", "simple-convnet", "--hidden", "100", "50"],
     "--hidden 100 50: SimpleConvNet has one hidden Affine layer (its hidden_size): give one size"),
    (["--model", "deep-convnet", "--batchnorm", "--dropout", "0.2"],
     "--model deep-convnet: --batchnorm, --dropout apply to --model mlp only"),
    (["--model", "simple-convnet", "--activation", "sigmoid"], "--activation sigmoid apply to --model mlp only"),
    (["--model", "simple-convnet", "--weight-decay", "0.1"], "--weight-decay apply to --model mlp only"),
    (["--model", "simple-convnet", "--exact-loss"], "--exact-loss apply to --model mlp only"),
    (["--model", "simple-convnet", "--init", "he"], "--init he: SimpleConvNet's weight_init_std is a number"),
    (["--model", "deep-convnet", "--init", "0.1"], "--init 0.1: DeepConvNet is He-initialised"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_options_a_conv_net_has_no_use_for_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv, "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "no-data")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_conv_net_measures_its_training_metrics_on_10000_samples(mnist_dir, tmp_path, capsys):
    """The conv default: evaluating all 60,000 training samples took 20-30% of an epoch."""
    out = tmp_path / "run"
    assert main(["train", "--model", "simple-convnet", "--train-size", "10100", "--epochs", "1", "--threads", "1",
                 "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert ("evaluation: training metrics on the first 10,000 of the 10,100 training samples (--train-eval-size), "
            "test metrics on all 10,000") in stdout
    assert load_checkpoint(out).run["train_eval_size"] == 10000
    rewrite(out / "model.npz", set_json("run", lambda run: run.pop("train_eval_size")))  # as before the option
    assert main(["train", "--resume", str(out), "--epochs", "1", "--data-dir", str(mnist_dir)]) == 0
    assert "training metrics on the first 10,000 of the 10,100" in capsys.readouterr().out


def test_a_resumed_conv_net_keeps_its_model(simple_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(simple_run[0]), "--model", "mlp", "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "--resume continues the saved network: drop --model" in capsys.readouterr().err


CONV_DAMAGE = {
    "hidden_size a string": (set_json("network", lambda s: s.update(hidden_size="100")),
                             "network 'hidden_size' must be an integer in 1..1048576, got '100'"),
    "hidden_size of another network": (set_json("network", lambda s: s.update(hidden_size=60)),
                                       r"does not fit this SimpleConvNet: params/W2 has shape \(4320, 100\) in "
                                       r"the file, \(4320, 60\) in the network"),
    "no weight_init_std": (set_json("network", lambda s: s.pop("weight_init_std")),
                           "network lacks 'weight_init_std'"),
    "negative weight_init_std": (set_json("network", lambda s: s.update(weight_init_std=-1)),
                                 "network 'weight_init_std' must be a number > 0, got -1"),
    "a DeepConvNet's class": (set_json("network", lambda s: s.update({"class": "DeepConvNet"})),
                              r"does not fit this DeepConvNet: it lacks params \['W4'"),
    "a buffer": (lambda a: a.update({"buffers/BatchNorm1.running_mean": np.zeros(100)}),
                 "has buffer 'BatchNorm1.running_mean', which this SimpleConvNet does not have"),
}


@pytest.mark.parametrize("damage", list(CONV_DAMAGE))
def test_damaged_conv_checkpoint_names_the_entry(damage, simple_run, tmp_path):
    change, message = CONV_DAMAGE[damage]
    path = tmp_path / "model.npz"
    path.write_bytes((simple_run[0] / "model.npz").read_bytes())
    rewrite(path, change)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)

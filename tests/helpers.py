"""Small builders shared by the tests."""
import contextlib
import io

import numpy as np

from fastdl.app.cli import main


def make_batch(n=20, d=12, classes=4, seed=1):
    """A float32 (n, d) batch in [0, 1) and uint8 labels, as load_mnist gives them."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32), rng.integers(0, classes, n).astype(np.uint8)


def seeded(cls, *args, **kwargs):
    """``cls(*args, **kwargs)`` built right after ``np.random.seed(42)``, so fastdl and the book draw the same weights."""
    np.random.seed(42)
    return cls(*args, **kwargs)


def run_cli(argv):
    """``(exit status, stdout, stderr)`` of ``fastdl argv``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def book_step_losses(net, optimizer, x, t, order, batch_size, steps):
    """The losses of the first ``steps`` training steps of the book's ``net`` and ``optimizer``, the batches taken
    from ``order`` in turn (what ``fastdl train`` records as ``step_loss``)."""
    losses = []
    for step in range(steps):
        idx = order[step * batch_size:(step + 1) * batch_size]
        grads = net.gradient(x[idx], t[idx])
        losses.append(net.last_layer.loss)
        optimizer.update(net.params, grads)
    return losses

"""Pieces of a training loop shared by ``fastdl train`` and ``fastdl compare``.

Batches gathered into reused buffers, evaluation in chunks, thread counts, and
a Ctrl-C that stops at a step boundary.
"""
import contextlib
import signal

import numba
import numpy as np
from threadpoolctl import threadpool_limits

EVAL_CHUNK = 10000


def val_size(n, fraction):
    """Samples that ``--val-split fraction`` holds out of ``n`` training samples: ``round(fraction * n)``
    (0 when ``fraction`` is None)."""
    return round(fraction * n) if fraction else 0


def validation_split(n, fraction, seed):
    """``(fit, val)``: sorted indices of the ``n`` training samples to train on and to hold out.

    The held-out ``val_size(n, fraction)`` samples are the first of
    ``np.random.RandomState(seed).permutation(n)``: a generator of their own, so
    the split depends on the seed alone and NumPy's global RNG (weights, batches,
    dropout masks) draws what it draws without a split. Not stratified: the split
    is then known from ``n`` before the labels are read (so ``--val-split`` is
    checked before any data is loaded), and a random tenth of MNIST's 60,000
    samples holds each digit within 0.9 percentage points of its ~10% share
    (measured for seeds 0-4).
    """
    order = np.random.RandomState(seed).permutation(n)
    k = val_size(n, fraction)
    return np.sort(order[k:]), np.sort(order[:k])


def check_run_size(train_size, batch_size, threads, available, val_split=None):
    """ValueError naming the option when the sizes or the thread count cannot work.

    ``train_size`` None means all ``available`` training samples; ``val_split``
    (a fraction, None: none) must leave at least one batch to train on and hold out one.
    """
    if train_size and train_size > available:
        raise ValueError(f"--train-size {train_size} is larger than the {available:,} training samples")
    if batch_size > (train_size or available):
        raise ValueError(f"--batch-size {batch_size} is larger than the {train_size or available:,} training samples")
    if val_split is not None:
        n = train_size or available
        held = val_size(n, val_split)
        if not 0 < val_split < 1:
            raise ValueError(f"--val-split {val_split:g}: must be a fraction between 0 and 1 (e.g. 0.1)")
        for side, count in (("holds out", held), ("leaves", n - held)):
            if count < batch_size:
                raise ValueError(f"--val-split {val_split:g} {side} {count:,} of the {n:,} training samples, "
                                 f"less than one batch of {batch_size} (--batch-size): "
                                 f"give a {'larger' if side == 'holds out' else 'smaller'} fraction")
    if threads > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"--threads {threads}: Numba was started with {numba.config.NUMBA_NUM_THREADS} "
                         f"threads (NUMBA_NUM_THREADS); ask for at most that many")


@contextlib.contextmanager
def compute_threads(numba_threads, blas_threads):
    """Numba's and BLAS's thread counts inside the block, restored afterwards.

    On the book's sizes (batch 100) a GEMM is too small to share: a second
    BLAS thread made steps 3-5x slower on a busy 2-core machine, while Numba's
    threads only start for large elementwise passes (evaluation).
    """
    import scipy.linalg.cython_blas  # noqa: F401  (Numba's np.dot calls this BLAS: load it so the limit reaches it)

    previous = numba.get_num_threads()
    numba.set_num_threads(numba_threads)
    try:
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)


def evaluate(net, x, t, chunk=EVAL_CHUNK):
    """Mean loss (with the weight-decay term, as the book's ``loss``) and accuracy, in inference mode.

    One forward pass per ``chunk`` samples gives both: the accuracy is read
    from the softmax output the loss layer keeps.
    """
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], chunk):
        xc, tc = x[start:start + chunk], t[start:start + chunk]
        # train_flg=False said outright: DeepConvNet's loss, as the book's, defaults to training mode (dropout on)
        total_loss += float(net.loss(xc, tc, train_flg=False)) * xc.shape[0]
        correct += int(np.count_nonzero(np.argmax(net.last_layer.y, axis=1) == tc))
    return total_loss / x.shape[0], correct / x.shape[0]


class BatchFeeder:
    """Mini-batches copied into buffers that every step reuses.

    ``sampling='shuffle'`` walks a new permutation each epoch (the last
    ``N % batch_size`` samples of it sit that epoch out); ``'replace'`` draws
    every batch with ``np.random.choice(N, batch_size)`` as the book's scripts do.
    """

    def __init__(self, x, t, batch_size, dtype, sampling):
        self.x, self.t = x, t
        self.batch_size = batch_size
        self.sampling = sampling
        self.steps = x.shape[0] // batch_size
        shape = (batch_size,) + x.shape[1:]
        self.xb = np.empty(shape, dtype)
        # np.take cannot convert while it copies: gather in the data's dtype, then convert.
        self._gathered = None if x.dtype == dtype else np.empty(shape, x.dtype)
        self.tb = np.empty(batch_size, t.dtype)

    def epoch_order(self):
        n = self.x.shape[0]
        if self.sampling == "replace":
            return np.random.choice(n, self.steps * self.batch_size)
        return np.random.permutation(n)

    def gather(self, order, step):
        idx = order[step * self.batch_size:(step + 1) * self.batch_size]
        if self._gathered is None:
            np.take(self.x, idx, axis=0, out=self.xb, mode="clip")  # 'clip': no buffered copy
        else:
            np.take(self.x, idx, axis=0, out=self._gathered, mode="clip")
            self.xb[...] = self._gathered
        np.take(self.t, idx, out=self.tb, mode="clip")
        return self.xb, self.tb


class StopRequest:
    """Ctrl-C asks the loop to stop after the current step; a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)

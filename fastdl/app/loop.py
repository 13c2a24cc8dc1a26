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


def check_run_size(train_size, batch_size, threads, available):
    """ValueError naming the option when the sizes or the thread count cannot work.

    ``train_size`` None means all ``available`` training samples.
    """
    if train_size and train_size > available:
        raise ValueError(f"--train-size {train_size} is larger than the {available:,} training samples")
    if batch_size > (train_size or available):
        raise ValueError(f"--batch-size {batch_size} is larger than the {train_size or available:,} training samples")
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


def evaluate(net, x, t):
    """Mean loss (with the weight-decay term, as the book's ``loss``) and accuracy, in inference mode.

    One forward pass per chunk of ``EVAL_CHUNK`` samples gives both: the
    accuracy is read from the softmax output the loss layer keeps.
    """
    total_loss, correct = 0.0, 0
    for start in range(0, x.shape[0], EVAL_CHUNK):
        xc, tc = x[start:start + EVAL_CHUNK], t[start:start + EVAL_CHUNK]
        total_loss += float(net.loss(xc, tc)) * xc.shape[0]
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

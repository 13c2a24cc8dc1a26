"""The one Numba decorator setup shared by every fastdl kernel.

Every kernel is compiled with ``cache=True`` (unless ``FASTDL_NUMBA_CACHE=0``
or no cache directory is writable, see :mod:`fastdl.runtime`),
``error_model="numpy"`` (division by zero gives inf/nan instead of a per-divisor
check that blocks vectorisation: ~10x on Adam) and without fastmath, so the
kernels reproduce the book's float64 numbers and NaN checks keep working.

A kernel's callees live in its own file: Numba's cache of a kernel does not
notice an edit to a callee in another file.
"""
import numba

from ..runtime import CACHE

PARALLEL_MIN_SIZE = 1 << 17
"""Elementwise loops with an exp, sqrt or division per element run serially
below this size inside parallel kernels: a 2-thread fork/join (60-90 us here)
costs more than it saves (sigmoid pays from ~3e4-6e4 elements, Adam ~2.5e5)."""

STREAMING_PARALLEL_MIN_SIZE = 1 << 20
"""The same gate for loops that only stream memory (ReLU, bias add, dropout
masks, SGD and momentum updates): a second thread pays only past ~1e6 elements."""


def kernel(parallel=False):
    """Decorator for every fastdl kernel: ``@kernel()`` or ``@kernel(parallel=True)``."""
    return numba.njit(cache=CACHE, error_model="numpy", parallel=parallel)

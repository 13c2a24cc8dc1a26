"""The one Numba decorator setup shared by every fastdl kernel.

Every kernel is compiled with ``cache=True`` (unless ``FASTDL_NUMBA_CACHE=0``),
``error_model="numpy"`` (division by zero gives inf/nan instead of a per-divisor
check that blocks vectorisation: ~10x on Adam) and without fastmath, so the
kernels reproduce the book's float64 numbers and NaN checks keep working.
"""
import os
import tempfile

# Before Numba loads libgomp: a spinning OpenMP barrier against a busy OpenBLAS
# pool runs 30x slower (numba-notes §2.4).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402

PARALLEL_MIN_SIZE = 1 << 17
"""Elementwise loops shorter than this run serially inside parallel kernels:
below ~1e5 elements a 2-thread fork/join costs more than it saves."""


def _cache_enabled():
    """Pick a writable Numba cache directory; False when caching is switched off.

    Numba raises at import when no cache locator is writable (a read-only
    install with a read-only home), so fall back to a temporary directory.
    """
    if os.environ.get("FASTDL_NUMBA_CACHE", "1") == "0":
        return False
    if numba.config.CACHE_DIR:
        return True
    here = os.path.dirname(os.path.abspath(__file__))
    if os.access(here, os.W_OK):
        return True
    user_cache = os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "numba")
    try:
        os.makedirs(user_cache, exist_ok=True)
        if os.access(user_cache, os.W_OK):
            return True
    except OSError:
        pass
    numba.config.CACHE_DIR = os.path.join(tempfile.gettempdir(), "fastdl-numba-cache")
    return True


CACHE = _cache_enabled()


def kernel(parallel=False):
    """Decorator for every fastdl kernel: ``@kernel()`` or ``@kernel(parallel=True)``."""
    return numba.njit(cache=CACHE, error_model="numpy", parallel=parallel)

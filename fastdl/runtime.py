"""What fastdl sets up when it is imported, before any kernel compiles: threads, OpenMP and the Numba cache.

* ``OMP_WAIT_POLICY=passive`` (unless set) before Numba loads libgomp, and Numba's
  workqueue threading layer when another library loaded libgomp first;
* ``CACHE``: whether kernels are cached on disk, and where (a writable directory, else none);
* one BLAS thread for the GEMMs inside the kernels (``FASTDL_BLAS_THREADS`` to change it).

:mod:`fastdl.kernels` imports this module first; nothing else needs to.
"""
import os
import tempfile

_OMP_POLICY_SET_BY_USER = "OMP_WAIT_POLICY" in os.environ
# Before Numba loads libgomp: a spinning OpenMP barrier against a busy OpenBLAS
# pool runs 30x slower (measured with 2 Numba threads against a 2-thread BLAS).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402

def _openmp_loaded_before_fastdl():
    """True when a library (PyTorch bundles one) loaded libgomp before fastdl did.

    libgomp reads OMP_WAIT_POLICY once, when it loads, and Numba's OpenMP
    layer binds to the libgomp already in the process: its spinning default
    then makes 2-thread steps 10x slower against a 2-thread BLAS.
    """
    try:
        with open("/proc/self/maps") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return False


if not _OMP_POLICY_SET_BY_USER and "NUMBA_THREADING_LAYER" not in os.environ and _openmp_loaded_before_fastdl():
    numba.config.THREADING_LAYER = "workqueue"


def _writable(path):
    """True when ``path`` exists or can be created, and a file can be written in it."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _cache_enabled():
    """Pick a writable Numba cache directory; False (compile in every process) when there is none.

    Numba raises at import when no cache locator is writable (a read-only
    install with a read-only home, or an unwritable ``NUMBA_CACHE_DIR``), so
    check first and fall back to a per-user temporary directory.
    """
    if os.environ.get("FASTDL_NUMBA_CACHE", "1") == "0":
        return False
    if numba.config.CACHE_DIR:
        return _writable(numba.config.CACHE_DIR)
    if _writable(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels", "__pycache__")):
        return True
    if _writable(os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "numba")):
        return True
    owner = os.getuid() if hasattr(os, "getuid") else None
    fallback = os.path.join(tempfile.gettempdir(), f"fastdl-numba-cache-{owner}" if owner is not None
                            else "fastdl-numba-cache")
    if _writable(fallback) and (owner is None or os.stat(fallback).st_uid == owner):
        numba.config.CACHE_DIR = fallback
        return True
    return False


CACHE = _cache_enabled()


def _limit_gemm_threads():
    """Run fastdl's GEMMs on one BLAS thread unless the user asked for another count.

    The kernels' ``np.dot`` calls SciPy's OpenBLAS (a library apart from
    NumPy's, so NumPy keeps its own threads). At the book's sizes (batch 100)
    a second BLAS thread saves nothing and makes steps 3-10x slower whenever
    the other core is busy. ``FASTDL_BLAS_THREADS=n`` sets the count (2 pays
    for large layers on an idle machine); an explicit ``OPENBLAS_NUM_THREADS``
    or ``OMP_NUM_THREADS`` is left alone.
    """
    requested = os.environ.get("FASTDL_BLAS_THREADS")
    if requested is None and ("OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ):
        return
    if requested is not None and not (requested.isdigit() and int(requested) > 0):
        raise ValueError(f"FASTDL_BLAS_THREADS={requested!r}: expected a positive integer")
    import scipy.linalg.cython_blas  # noqa: F401  (load the library Numba's np.dot calls)
    from threadpoolctl import ThreadpoolController
    for blas in ThreadpoolController().select(user_api="blas").lib_controllers:
        if "scipy" in os.path.basename(os.path.dirname(blas.filepath)):
            blas.set_num_threads(int(requested or 1))


_limit_gemm_threads()


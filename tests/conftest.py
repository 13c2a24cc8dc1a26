"""Test-wide settings: single-threaded Numba and BLAS unless a test asks otherwise.

The variables must be set before Numba or NumPy's BLAS is loaded, which is why
this happens at import time of conftest (pytest imports it before any test).
"""
import os
import pathlib

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

MNIST_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def mnist_dir():
    return MNIST_DIR

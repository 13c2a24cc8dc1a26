"""``import fastdl`` plus the first training step, in a fresh interpreter, with a warm and a cold Numba cache."""
import subprocess
import sys

FIRST_STEP = """
import numpy as np
import fastdl
from fastdl.optimizers import Adam
rng = np.random.default_rng(0)
x, t = rng.random((100, 784)), rng.integers(0, 10, 100)
net = fastdl.MultiLayerNet(784, [100, 100], 10)
Adam().update(net.params, net.gradient(x, t))
"""

EMPTY_CACHE_DIR = """
import atexit, os, shutil, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastdl-cold-cache-")
atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], True)
"""


class ImportFirstStepWarm:
    """Where Numba keeps the cache for this install (or ``NUMBA_CACHE_DIR``), filled beforehand."""

    repeat = (1, 5, 30.0)
    rounds = 1

    def setup(self):
        subprocess.run([sys.executable, "-c", FIRST_STEP], check=True)

    def timeraw_import_first_step(self):
        return FIRST_STEP


class ImportFirstStepCold:
    """An empty ``NUMBA_CACHE_DIR``: every kernel the step needs is compiled (float64), as after an install."""

    repeat = 1
    rounds = 1
    timeout = 300

    def timeraw_import_first_step(self):
        return FIRST_STEP, EMPTY_CACHE_DIR

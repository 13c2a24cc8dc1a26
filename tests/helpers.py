"""Small builders shared by the network tests."""
import numpy as np


def make_batch(n=20, d=12, classes=4, seed=1):
    """A float32 (n, d) batch in [0, 1) and uint8 labels, as load_mnist gives them."""
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32), rng.integers(0, classes, n).astype(np.uint8)


def seeded(cls, *args, **kwargs):
    """``cls(*args, **kwargs)`` built right after ``np.random.seed(42)``, so fastdl and the book draw the same weights."""
    np.random.seed(42)
    return cls(*args, **kwargs)

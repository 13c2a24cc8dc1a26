"""Long and interrupted runs: optimizer state saved and restored continues bit for bit, 10,000 steps
keep memory flat, and the same seed gives the same parameters run to run and with 1 or 2 Numba threads."""
import gc
import hashlib
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import fastdl
from fastdl.optimizers import OPTIMIZERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dataset(n=300, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.integers(0, classes, n).astype(np.uint8)


def batches(steps, n=300, batch=16, seed=1):
    return np.random.default_rng(seed).integers(0, n, (steps, batch))


def fresh_network(seed=0):
    np.random.seed(seed)
    return fastdl.MultiLayerNet(12, [10, 8], 4)


def train(net, optimizer, x, t, masks):
    for mask in masks:
        optimizer.update(net.params, net.gradient(x[mask], t[mask]))


# --- optimizer state: save, load, continue bit for bit ------------------------------------------

@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resumed_run_continues_bit_for_bit(name, tmp_path):
    x, t = dataset()
    masks = batches(40)
    straight, straight_optimizer = fresh_network(), OPTIMIZERS[name]()
    train(straight, straight_optimizer, x, t, masks)

    first, first_optimizer = fresh_network(), OPTIMIZERS[name]()
    train(first, first_optimizer, x, t, masks[:17])
    np.savez(tmp_path / "params.npz", **first.params)
    np.savez(tmp_path / "optimizer.npz", **first_optimizer.state_dict())

    resumed, resumed_optimizer = fresh_network(seed=99), OPTIMIZERS[name]()
    with np.load(tmp_path / "params.npz") as saved:
        for key in resumed.params:
            resumed.params[key] = saved[key]
    with np.load(tmp_path / "optimizer.npz") as saved:
        resumed_optimizer.load_state_dict(saved)
    train(resumed, resumed_optimizer, x, t, masks[17:])
    np.testing.assert_array_equal(resumed.params.flat, straight.params.flat)
    for key, value in straight_optimizer.state_dict().items():
        np.testing.assert_array_equal(resumed_optimizer.state_dict()[key], value)


def test_state_dict_holds_the_books_state_names_and_adams_iter():
    x, t = dataset()
    net, optimizer = fresh_network(), fastdl.Adam()
    assert optimizer.state_dict() == {"iter": 0}
    train(net, optimizer, x, t, batches(3))
    state = optimizer.state_dict()
    assert state["iter"] == 3
    assert sorted(state) == sorted(["iter"] + [f"{name}/{key}" for name in ("m", "v") for key in net.params])
    np.testing.assert_array_equal(state["m/W1"], optimizer.m["W1"])
    assert not np.shares_memory(state["m/W1"], optimizer.m.flat)
    assert fastdl.SGD().state_dict() == {}


def test_state_loads_into_an_optimizer_that_already_has_state():
    x, t = dataset()
    masks = batches(12)
    source_net, source = fresh_network(), fastdl.Momentum()
    train(source_net, source, x, t, masks[:6])
    target_net, target = fresh_network(), fastdl.Momentum()
    train(target_net, target, x, t, masks[6:8])
    target.load_state_dict(source.state_dict())
    target_net.params.flat[:] = source_net.params.flat
    train(source_net, source, x, t, masks[6:])
    train(target_net, target, x, t, masks[6:])
    np.testing.assert_array_equal(target_net.params.flat, source_net.params.flat)


def test_state_of_plain_dicts_and_floats_round_trips():
    params = {"x": -7.0, "y": np.array([2.0, -1.0])}
    straight, first, resumed = fastdl.Adam(lr=0.3), fastdl.Adam(lr=0.3), fastdl.Adam(lr=0.3)
    grads = [{"x": 0.2 * k, "y": np.array([k, 1.0 - k])} for k in range(6)]
    p_straight = {"x": params["x"], "y": params["y"].copy()}
    for g in grads:
        straight.update(p_straight, g)
    p = {"x": params["x"], "y": params["y"].copy()}
    for g in grads[:2]:
        first.update(p, g)
    resumed.load_state_dict(first.state_dict())
    for g in grads[2:]:
        resumed.update(p, g)
    assert p["x"] == p_straight["x"]
    np.testing.assert_array_equal(p["y"], p_straight["y"])


BAD_STATES = [
    ("state of a smaller net", lambda: (fastdl.Adam(), used_state(fastdl.MultiLayerNet(12, [6, 8], 4))), ValueError,
     r"state m/W1 is float64 \(12, 6\), but params\['W1'\] is float64 \(12, 10\)"),
    ("state of another optimizer", lambda: (fastdl.Momentum(), used_state(fresh_network(), fastdl.Adam())), KeyError,
     "Momentum has no state 'iter'"),
    ("state lacking iter", lambda: (fastdl.Adam(), {}), KeyError, "optimizer state lacks 'iter'"),
    ("iter not an integer", lambda: (fastdl.Adam(), {"iter": 2.5}), ValueError, "'iter' must be an integer >= 0"),
    ("iter negative", lambda: (fastdl.Adam(), {"iter": -1}), ValueError, "'iter' must be an integer >= 0"),
    ("state array missing", lambda: (fastdl.Adam(), {k: v for k, v in used_state(fresh_network()).items()
                                                    if k != "v/b3"}), KeyError, "cover different keys"),
    ("unknown entry", lambda: (fastdl.Momentum(), {"v/W1": np.zeros((12, 10)), "lr": 0.1}), KeyError,
     "Momentum has no state 'lr'"),
    ("missing key for these params", lambda: (fastdl.Momentum(), {"v/W1": np.zeros((12, 10))}), KeyError,
     r"missing \['v/b1', 'v/W2'"),
    ("integer state array", lambda: (fastdl.Momentum(), {f"v/{k}": np.zeros(v.shape, int)
                                                        for k, v in fresh_network().params.items()}), ValueError,
     r"state v/W1 is int64 \(12, 10\)"),
]


def used_state(net, optimizer=None):
    optimizer = optimizer or fastdl.Adam()
    x, t = dataset()
    train(net, optimizer, x, t, batches(2))
    return optimizer.state_dict()


@pytest.mark.parametrize("make, error, fragment", [pytest.param(*row[1:], id=row[0]) for row in BAD_STATES])
def test_state_that_does_not_fit_is_refused_and_nothing_changes(make, error, fragment):
    optimizer, state = make()
    x, t = dataset()
    net = fresh_network()
    before = net.params.flat.copy()
    with pytest.raises(error, match=fragment):
        optimizer.load_state_dict(state)
        optimizer.update(net.params, net.gradient(x[:16], t[:16]))
    np.testing.assert_array_equal(net.params.flat, before)


# --- long runs ------------------------------------------------------------------------------------

def test_ten_thousand_steps_keep_memory_flat():
    """Every buffer is allocated in the first steps; later steps allocate and free only temporaries.

    ``gc.collect()`` empties CPython's free lists, whose blocks tracemalloc still counts.
    """
    x, t = dataset(n=256, d=20)
    np.random.seed(0)
    net, optimizer = fastdl.MultiLayerNet(20, [16], 4), fastdl.Adam()
    masks = batches(10_000, n=256, batch=8)
    train(net, optimizer, x, t, masks[:200])
    tracemalloc.start()
    try:
        train(net, optimizer, x, t, masks[200:1000])
        gc.collect()
        after_1000, _ = tracemalloc.get_traced_memory()
        train(net, optimizer, x, t, masks[1000:])
        gc.collect()
        after_10000, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after_10000 - after_1000 < 1024, f"grew {after_10000 - after_1000} bytes over 9,000 steps"
    assert optimizer.iter == 10_000 and np.isfinite(net.params.flat).all()


# --- determinism ----------------------------------------------------------------------------------

TRAIN_SCRIPT = textwrap.dedent("""
    import sys
    import numba
    import numpy as np
    import fastdl
    # A batch of 1024 through 1024 hidden units (2**20 activations) and 850k parameters pass both
    # parallel gates: every prange branch runs with 2 threads.
    rng = np.random.default_rng(0)
    x, t = rng.random((2000, 820)).astype(np.float32), rng.integers(0, 10, 2000)
    np.random.seed(0)
    net = fastdl.MultiLayerNet(820, [1024], 10, dtype=np.{dtype})
    optimizer = fastdl.Adam()
    for step in range(4):
        mask = np.random.choice(2000, 1024)
        optimizer.update(net.params, net.gradient(x[mask], t[mask]))
    assert numba.get_num_threads() == {numba_threads}
    np.save(sys.argv[1], net.params.flat)
""")


def train_in_subprocess(tmp_path, dtype, numba_threads, blas_threads=1):
    """Parameters after 4 Adam steps of a seeded run in a fresh interpreter with these thread counts."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(numba_threads), OPENBLAS_NUM_THREADS=str(blas_threads),
               OMP_NUM_THREADS="1")
    out = tmp_path / f"{dtype}-{numba_threads}-{blas_threads}.npy"
    script = TRAIN_SCRIPT.format(dtype=dtype, numba_threads=numba_threads)
    result = subprocess.run([sys.executable, "-c", script, str(out)], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return np.load(out)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_and_two_numba_threads_give_bit_identical_params(dtype, tmp_path):
    """The kernels parallelise over output elements only and sum serially: bit for bit."""
    np.testing.assert_array_equal(train_in_subprocess(tmp_path, dtype, 1), train_in_subprocess(tmp_path, dtype, 2))


def test_another_blas_thread_count_changes_only_the_last_bits(tmp_path):
    """OpenBLAS splits a GEMM's sums by thread count: equal to rounding, not bit for bit."""
    one, two = train_in_subprocess(tmp_path, "float64", 1, 1), train_in_subprocess(tmp_path, "float64", 1, 2)
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-12 * np.abs(one).max())


def test_the_same_seed_gives_bit_identical_params_run_to_run():
    x, t = dataset()

    def run():
        np.random.seed(5)
        net = fastdl.MultiLayerNetExtend(12, [10, 8], 4, use_batchnorm=True, use_dropout=True, dropout_ration=0.2)
        trainer = fastdl.Trainer(net, x, t, x, t, epochs=3, mini_batch_size=20, optimizer="adam", verbose=False)
        trainer.train()
        return net.params.flat.copy(), trainer.train_loss_list

    (first, first_losses), (second, second_losses) = run(), run()
    assert hashlib.sha256(first.tobytes()).digest() == hashlib.sha256(second.tobytes()).digest()
    assert first_losses == second_losses

"""Smoke test of the asv benchmarks: every benchmark runs once, at its first (cheapest) parameters.

Nothing here is timed. It catches benchmarks that no longer run against the
current API, and checks that the contenders compute what they claim to.
"""
import importlib
import inspect
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ASV_DIR = pathlib.Path(__file__).resolve().parents[1] / "asv_benchmarks"
sys.path.insert(0, str(ASV_DIR))

from benchmarks import common, numpy_prealloc  # noqa: E402

BENCHMARK_PREFIXES = ("time_", "peakmem_", "mem_", "track_", "timeraw_")
MODULES = sorted(path.stem for path in (ASV_DIR / "benchmarks").glob("*.py") if path.stem != "__init__")


def benchmark_classes():
    for module_name in MODULES:
        module = importlib.import_module(f"benchmarks.{module_name}")
        for name, cls in vars(module).items():
            # asv's own rule: names starting with "_" are no benchmarks (training._Step is a base)
            if inspect.isclass(cls) and cls.__module__ == module.__name__ and not name.startswith("_") \
                    and any(attr.startswith(BENCHMARK_PREFIXES) for attr in dir(cls)):
                yield pytest.param(cls, id=f"{module_name}.{name}")


def first_params(cls):
    params = getattr(cls, "params", [])
    if params and not isinstance(params[0], (list, tuple)):
        params = [params]
    return [values[0] for values in params]


def run_in_fresh_interpreter(stmt, setup=""):
    code = setup + "\n" + stmt
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_every_module_has_benchmarks():
    assert {"layers", "optimizers", "training", "startup"} <= set(MODULES)
    assert len(list(benchmark_classes())) >= 8


@pytest.mark.parametrize("cls", list(benchmark_classes()))
def test_benchmark_runs_once(cls):
    bench = cls()
    args = [bench.setup_cache()] if hasattr(bench, "setup_cache") else []
    args += first_params(cls)
    if hasattr(bench, "setup"):
        bench.setup(*args)
    try:
        for name in sorted(attr for attr in dir(cls) if attr.startswith(BENCHMARK_PREFIXES)):
            method = getattr(bench, name)
            result = method(*args)
            if name.startswith("track_"):
                assert np.isfinite(result) and result > 0, (name, result)
                if getattr(method, "unit", None) == "accuracy":
                    assert 0.9 < result <= 1, (name, result)
            elif name.startswith("timeraw_"):
                stmt, setup = result if isinstance(result, tuple) else (result, "")
                if "NUMBA_CACHE_DIR" in setup:
                    # Running it would compile every kernel into an empty cache (~10 s):
                    # run the setup, and only compile the statement (the warm benchmark runs it).
                    run_in_fresh_interpreter("import os; assert os.listdir(os.environ['NUMBA_CACHE_DIR']) == []",
                                             setup)
                    compile(stmt, name, "exec")
                else:
                    run_in_fresh_interpreter(stmt, setup)
            else:
                assert result is None
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*args)


def test_thread_limit_is_restored():
    import numba
    bench = importlib.import_module("benchmarks.training").TrainingStep()
    before = numba.get_num_threads()
    bench.setup(*first_params(type(bench)))
    bench.teardown()
    assert numba.get_num_threads() == before
    with pytest.raises(NotImplementedError, match="NUMBA_NUM_THREADS"):
        bench.limit_threads(numba.config.NUMBA_NUM_THREADS + 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_rewrite_matches_the_book(dtype):
    sizes = [12, 7, 5, 4]
    x, t = common.random_batch(sizes, 6, dtype)
    book = common.book_network(sizes, dtype, seed=3)
    rewrite = numpy_prealloc.MultiLayerNet(sizes, 6, dtype, seed=3)
    book_loss = book.loss(x, t)
    grads = book.gradient(x, t)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rewrite.loss_gradient(x, t), book_loss, **tol)
    for idx in range(len(sizes) - 1):
        np.testing.assert_array_equal(rewrite.W[idx], book.params[f"W{idx + 1}"])
        np.testing.assert_allclose(rewrite.dW[idx], grads[f"W{idx + 1}"], **tol)
        np.testing.assert_allclose(rewrite.db[idx], grads[f"b{idx + 1}"], **tol)


def test_numpy_rewrite_adam_matches_the_book():
    from book.optimizer import Adam as BookAdam
    rng = np.random.default_rng(0)
    p = rng.standard_normal(50)
    expected = {"W": p.copy()}
    adam, book_adam = numpy_prealloc.Adam(50, np.float64), BookAdam()
    for _ in range(3):
        g = rng.standard_normal(50)
        adam.update(p, g)
        book_adam.update(expected, {"W": g})
    np.testing.assert_allclose(p, expected["W"], rtol=1e-13)


def test_step_gemms_skip_the_first_layer_dx():
    gemms = common.step_gemms([784, 100, 10], 100)
    assert sorted(gemms) == sorted([("forward", 100, 784, 100), ("forward", 100, 100, 10),
                                    ("dW", 784, 100, 100), ("dW", 100, 100, 10), ("dx", 100, 10, 100)])
    assert common.step_flops([784, 100, 10], 100) == 2 * 100 * (2 * 784 * 100 + 3 * 100 * 10)


def test_optimizer_words_count_state_buffers():
    assert common.optimizer_words("sgd") == 3
    assert common.optimizer_words("momentum") == 5
    assert common.optimizer_words("adam") == 7


def test_compare_script_parses_its_options():
    done = subprocess.run([sys.executable, str(ASV_DIR / "compare.py"), "--help"], check=True,
                          capture_output=True, text=True, timeout=60)
    for option in ("--quick", "--threads", "--only", "--markdown-out", "conv"):
        assert option in done.stdout


def test_convnet_gemms_count_every_product_from_the_shapes():
    simple = common.convnet_gemms(common.CONVNETS["SimpleConvNet"][0](), 100)
    # conv 30 filters of 1x5x5 over 24x24 positions: forward and dW only (the first layer's dx is never needed)
    assert [what for what, *_ in simple] == ["Conv1 forward", "Conv1 dW", "Affine1 forward", "Affine1 dW",
                                              "Affine1 dx", "Affine2 forward", "Affine2 dW", "Affine2 dx"]
    conv, affine1, affine2 = 2 * 30 * 25 * 100 * 24 * 24, 2 * 100 * 4320 * 100, 2 * 100 * 100 * 10
    assert common.convnet_flops("SimpleConvNet") == 2 * conv + 3 * affine1 + 3 * affine2
    # DeepConvNet: (input channels, filters, 3x3 taps, output side) per convolution; pools halve the side
    convs = [(1, 16, 28), (16, 16, 28), (16, 32, 14), (32, 32, 16), (32, 64, 8), (64, 64, 8)]
    flops = [2 * filters * channels * 9 * 100 * side * side for channels, filters, side in convs]
    expected = 2 * flops[0] + 3 * sum(flops[1:]) + 3 * 2 * 100 * 1024 * 50 + 3 * 2 * 100 * 50 * 10
    assert common.convnet_flops("DeepConvNet") == expected


@pytest.mark.parametrize("name", list(common.CONVNETS))
def test_book_convnet_in_float32_starts_where_fastdl_does(name):
    """The book's float32 contender holds float32 parameters, its layers bound to them, and computes fastdl's step."""
    x, t = common.image_batch(4, np.float32)
    book, _ = common.convnet("book", name, np.float32)
    fastdl_net, _ = common.convnet("fastdl", name, np.float32)
    layers = book.layers.values() if isinstance(book.layers, dict) else book.layers
    bound = [layer.W for layer in layers if hasattr(layer, "W")]
    assert len(bound) == len(book.params) // 2
    assert all(any(W is value for value in book.params.values()) for W in bound)
    for key, value in book.params.items():
        assert value.dtype == np.float32, key
        np.testing.assert_array_equal(value, fastdl_net.params[key])
    np.random.seed(1)  # the same dropout masks for both (DeepConvNet draws them from NumPy's global RNG)
    book_grads = book.gradient(x, t)
    np.random.seed(1)
    fastdl_grads = fastdl_net.gradient(x, t)
    for key in book.params:
        np.testing.assert_allclose(book_grads[key], fastdl_grads[key], rtol=1e-4, atol=1e-6, err_msg=key)

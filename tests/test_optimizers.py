"""fastdl.optimizers against the book's NumPy optimizers (tests/book/optimizer.py) and closed forms."""
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from book import optimizer as book_optimizer

from fastdl.flat import FlatParams
from fastdl.kernels import STREAMING_PARALLEL_MIN_SIZE

PRANGE_SIZE = STREAMING_PARALLEL_MIN_SIZE  # at or above both gates: every kernel takes its prange branch
from fastdl.kernels import optim as optim_kernels
from fastdl.optimizers import OPTIMIZERS, SGD, Adam, AdamW, Momentum, Optimizer, get_optimizer

NAMES = list(OPTIMIZERS)
LAYOUT = (("W1", (6, 4)), ("b1", (4,)), ("W2", (4, 3)), ("b2", (3,)))
STEPS = 50
STATE = {"sgd": (), "momentum": ("v",), "nesterov": ("v",), "adagrad": ("h",), "rmsprop": ("h",),
         "adam": ("m", "v"), "adadelta": ("h", "acc_delta"), "adamw": ("m", "v")}


def random_dict(rng, dtype, layout=LAYOUT):
    return {key: rng.standard_normal(shape).astype(dtype) for key, shape in layout}


def random_flat(rng, dtype, layout=LAYOUT):
    flat = FlatParams(layout, dtype)
    flat.flat[:] = rng.standard_normal(flat.flat.size)
    return flat


def copy_dict(params):
    return {key: np.array(value) for key, value in params.items()}


def assert_book_close(actual, expected, dtype):
    """float64: bit-identical to the book. float32: a few ulps apart, since fastdl computes in
    float32 where the book's float64 scalars promote the arithmetic to float64."""
    if np.dtype(dtype) == np.float64:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6)


# --- the book's numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_matches_book_on_dict_of_arrays(name, dtype, rng):
    params = random_dict(rng, dtype)
    expected = copy_dict(params)
    grad_steps = [random_dict(rng, dtype) for _ in range(STEPS)]
    optimizer, reference = OPTIMIZERS[name](), book_optimizer.OPTIMIZERS[name]()
    for grads in grad_steps:
        optimizer.update(params, grads)
        reference.update(expected, grads)
    for key in params:
        assert params[key].dtype == dtype
        assert_book_close(params[key], expected[key], dtype)
        for state in STATE[name]:
            assert_book_close(getattr(optimizer, state)[key], getattr(reference, state)[key], dtype)


def gradient_f(x, y):
    """The book's optimizer_compare_naive.py: f(x, y) = x**2/20 + y**2."""
    return x / 10.0, 2.0 * y


@pytest.mark.parametrize("name", NAMES)
def test_matches_book_on_dict_of_floats(name):
    params, expected = {"x": -7.0, "y": 2.0}, {"x": -7.0, "y": 2.0}
    optimizer, reference = OPTIMIZERS[name](lr=0.3), book_optimizer.OPTIMIZERS[name](lr=0.3)
    for _ in range(30):
        grads = dict(zip("xy", gradient_f(params["x"], params["y"])))
        optimizer.update(params, grads)
        reference.update(expected, dict(zip("xy", gradient_f(expected["x"], expected["y"]))))
        assert type(params["x"]) is float and type(params["y"]) is float
        assert params == {"x": float(expected["x"]), "y": float(expected["y"])}


def two_steps_closed_form(name, p, g):
    """Two updates with the defaults from p with a fixed gradient g, written out by hand."""
    if name == "sgd":
        return p - 2 * 0.01 * g
    if name == "momentum":  # v1 = -0.01 g, v2 = 0.9 v1 - 0.01 g
        return p - (0.01 + 0.019) * g
    if name == "nesterov":  # -(1.9*0.01) g, then 0.81*v1 - 1.9*0.01 g with v1 = -0.01 g
        return p - (0.019 + 0.0081 + 0.019) * g
    if name == "adagrad":
        return p - 0.01 * g / (abs(g) + 1e-7) - 0.01 * g / (math.sqrt(2) * abs(g) + 1e-7)
    if name == "rmsprop":  # h1 = 0.01 g^2, h2 = 0.0199 g^2
        return p - 0.01 * g / (0.1 * abs(g) + 1e-7) - 0.01 * g / (math.sqrt(0.0199) * abs(g) + 1e-7)
    adam_steps = [0.001 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (math.sqrt(v) + 1e-7)
                  for t, m, v in ((1, 0.1 * g, 0.001 * g * g), (2, 0.19 * g, 0.001999 * g * g))]
    if name == "adam":
        return p - adam_steps[0] - adam_steps[1]
    if name == "adamw":
        return (p * (1 - 1e-5) - adam_steps[0]) * (1 - 1e-5) - adam_steps[1]
    assert name == "adadelta"  # rho 0.95, eps 1e-6, lr 1
    delta1 = math.sqrt(1e-6) / math.sqrt(0.05 * g * g + 1e-6) * g
    delta2 = math.sqrt(0.05 * delta1**2 + 1e-6) / math.sqrt(0.0975 * g * g + 1e-6) * g
    return p - delta1 - delta2


# The book's update rules by hand: x, y after two steps from x=-7.0, y=2.0 with gx=-0.7, gy=4.0
BOOK_PROBE = {"sgd": ("-6.986", "1.92"), "momentum": ("-6.9797", "1.884"),
              "nesterov": ("-6.96773", "1.8156"), "adagrad": ("-6.98292893433", "1.98292893256"),
              "rmsprop": ("-6.82911209414", "1.82911191706"), "adam": ("-6.99800000771", "1.99800000135")}


@pytest.mark.parametrize("name", NAMES)
def test_two_steps_closed_form_and_book_probe(name):
    params, grads = {"x": -7.0, "y": 2.0}, {"x": -0.7, "y": np.float64(4.0)}
    optimizer = OPTIMIZERS[name]()
    optimizer.update(params, grads)
    optimizer.update(params, grads)
    for key, p, g in (("x", -7.0, -0.7), ("y", 2.0, 4.0)):
        assert params[key] == pytest.approx(two_steps_closed_form(name, p, g), rel=1e-13)
    for key, printed in zip("xy", BOOK_PROBE.get(name, ())):
        decimals = len(printed.split(".")[1])
        assert abs(params[key] - float(printed)) <= 0.5 * 10.0**-decimals


# --- one kernel, two drivers --------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_flat_fast_path_equals_per_key_path(name, dtype, rng):
    flat_params = random_flat(rng, dtype)
    dict_params = copy_dict(flat_params)
    mixed_params = random_flat(rng, dtype)
    mixed_params.flat[:] = flat_params.flat
    flat_opt, dict_opt, mixed_opt = (OPTIMIZERS[name]() for _ in range(3))
    for _ in range(STEPS):
        flat_grads = random_flat(rng, dtype)
        flat_opt.update(flat_params, flat_grads)
        dict_opt.update(dict_params, copy_dict(flat_grads))
        mixed_opt.update(mixed_params, copy_dict(flat_grads))  # FlatParams params, plain grads
    for key in dict_params:
        np.testing.assert_array_equal(flat_params[key], dict_params[key])
        np.testing.assert_array_equal(mixed_params[key], dict_params[key])
        for state in STATE[name]:
            np.testing.assert_array_equal(getattr(flat_opt, state)[key], getattr(dict_opt, state)[key])
    for state in STATE[name]:
        assert isinstance(getattr(flat_opt, state), FlatParams)
        assert getattr(flat_opt, state).layout == flat_params.layout


@pytest.mark.parametrize("name", NAMES)
def test_fast_path_is_one_kernel_call_per_key_path_one_per_key(name, rng, monkeypatch):
    kernel = getattr(optim_kernels, f"{name}_update")
    calls = []

    def recording_kernel(p, g, *rest):
        calls.append(p)
        kernel(p, g, *rest)

    monkeypatch.setattr(optim_kernels, f"{name}_update", recording_kernel)
    params = random_flat(rng, np.float64)
    OPTIMIZERS[name]().update(params, random_flat(rng, np.float64))
    assert len(calls) == 1 and calls[0] is params.flat
    calls.clear()
    OPTIMIZERS[name]().update(copy_dict(params), copy_dict(params))
    assert [p.size for p in calls] == [params[key].size for key, _ in LAYOUT]


def test_fast_path_casts_grads_of_another_dtype_once(rng):
    params = random_flat(rng, np.float64)
    expected = copy_dict(params)
    grads32 = random_flat(rng, np.float32)
    Adam().update(params, grads32)
    Adam().update(expected, {key: value.astype(np.float64) for key, value in grads32.items()})
    for key in expected:
        np.testing.assert_array_equal(params[key], expected[key])
    assert params.flat.dtype == np.float64


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name, rng):
    flat_params, dict_params = random_flat(rng, np.float32), random_dict(rng, np.float32)
    flat_opt, dict_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    flat_opt.update(flat_params, random_flat(rng, np.float32))
    dict_opt.update(dict_params, random_dict(rng, np.float64))  # float64 grads are cast to float32
    assert flat_params.flat.dtype == np.float32
    assert all(value.dtype == np.float32 for value in dict_params.values())
    for state in STATE[name]:
        assert getattr(flat_opt, state).flat.dtype == np.float32
        assert all(value.dtype == np.float32 for value in getattr(dict_opt, state).values())


# --- book behaviours: lazy state, Adam's iter, in-place identity, aliasing ----------------------

@pytest.mark.parametrize("name", NAMES)
def test_state_is_created_lazily_with_the_books_names(name, rng):
    optimizer = OPTIMIZERS[name]()
    for state in STATE[name]:
        assert getattr(optimizer, state) is None
    params = random_dict(rng, np.float64)
    optimizer.update(params, random_dict(rng, np.float64))
    for state in STATE[name]:
        value = getattr(optimizer, state)
        assert list(value) == list(params)
        assert all(value[key].shape == params[key].shape for key in params)


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_iter_counts_update_calls_not_keys(cls, rng):
    optimizer = cls()
    assert optimizer.iter == 0
    params = random_dict(rng, np.float64)
    for step in range(1, 4):
        optimizer.update(params, random_dict(rng, np.float64))
        assert optimizer.iter == step
    with pytest.raises(KeyError):
        optimizer.update(params, {"W1": params["W1"]})
    assert optimizer.iter == 3


def test_failed_update_changes_nothing(rng):
    params = random_dict(rng, np.float64)
    before = copy_dict(params)
    grads = random_dict(rng, np.float64)
    grads["b2"] = np.zeros(4)
    optimizer = Momentum()
    with pytest.raises(ValueError, match="b2"):
        optimizer.update(params, grads)
    assert optimizer.v is None
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])


@pytest.mark.parametrize("name", NAMES)
def test_params_stay_the_same_objects_even_when_not_contiguous(name, dtype, rng):
    base = rng.standard_normal((8, 6)).astype(dtype)
    params = {"T": base.T, "S": rng.standard_normal((8, 6)).astype(dtype)[::2, 1:5],
              "F": np.asfortranarray(base[:3]), "C": base[5:].copy(), "0d": np.array(1.5, dtype)}
    held = dict(params)
    expected = copy_dict(params)
    optimizer, reference = OPTIMIZERS[name](), book_optimizer.OPTIMIZERS[name]()
    for _ in range(5):
        grads = {key: rng.standard_normal(np.shape(value)).astype(dtype) for key, value in params.items()}
        optimizer.update(params, grads)
        reference.update(expected, grads)
    for key in params:
        assert params[key] is held[key]
        assert_book_close(params[key], expected[key], dtype)


def test_flat_views_still_alias_the_buffer_after_updates(rng):
    params = random_flat(rng, np.float64)
    held_W1 = params["W1"]
    optimizer = Adam()
    for _ in range(3):
        optimizer.update(params, random_flat(rng, np.float64))
    assert params["W1"] is held_W1
    assert np.shares_memory(held_W1, params.flat)
    np.testing.assert_array_equal(held_W1.ravel(), params.flat[:held_W1.size])
    params.flat[0] = 42.0
    assert held_W1[0, 0] == 42.0


def test_sgd_is_stateless_and_shared_across_networks(rng):
    optimizer = SGD(lr=0.1)
    first, second = random_flat(rng, np.float64), random_dict(rng, np.float64, (("W", (2, 2)),))
    expected_first = first.flat - 0.1 * 1.0
    optimizer.update(first, {key: np.ones_like(value) for key, value in first.items()})
    optimizer.update(second, {"W": np.ones((2, 2))})
    np.testing.assert_array_equal(first.flat, expected_first)


# --- thread counts ------------------------------------------------------------------------------

def parallel_sized_results():
    """Three updates of every optimizer on a buffer big enough to take the prange branch."""
    results = {}
    for dtype in (np.float64, np.float32):
        for name, cls in OPTIMIZERS.items():
            rng = np.random.default_rng(7)
            layout = (("W", (PRANGE_SIZE // 2 + 1, 2)), ("b", (3,)))
            params, optimizer = random_flat(rng, dtype, layout), cls()
            for _ in range(3):
                optimizer.update(params, random_flat(rng, dtype, layout))
            results[f"{name}_{np.dtype(dtype).name}"] = params.flat
    return results


@pytest.mark.parametrize("name", NAMES)
def test_parallel_branch_matches_book(name, rng):
    layout = (("W", (PRANGE_SIZE + 1,)),)
    params = random_flat(rng, np.float64, layout)
    expected = copy_dict(params)
    optimizer, reference = OPTIMIZERS[name](), book_optimizer.OPTIMIZERS[name]()
    for _ in range(3):
        grads = random_flat(rng, np.float64, layout)
        optimizer.update(params, grads)
        reference.update(expected, copy_dict(grads))
    np.testing.assert_array_equal(params["W"], expected["W"])


def test_one_and_two_threads_agree(tmp_path):
    out = tmp_path / "two_threads.npz"
    script = ("import sys, numba, numpy as np\n"
              "from test_optimizers import parallel_sized_results\n"
              "assert numba.get_num_threads() == 2\n"
              "np.savez(sys.argv[1], **parallel_sized_results())\n")
    subprocess.run([sys.executable, "-c", script, str(out)], cwd=pathlib.Path(__file__).parent,
                   env=dict(os.environ, NUMBA_NUM_THREADS="2"), check=True, timeout=600)
    one_thread = parallel_sized_results()
    with np.load(out) as two_threads:
        assert sorted(two_threads.files) == sorted(one_thread)
        for key, value in one_thread.items():
            assert value.size >= PRANGE_SIZE
            np.testing.assert_array_equal(two_threads[key], value, err_msg=key)


# --- errors at the boundary ---------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_key_mismatch_lists_missing_and_extra_keys(name, rng):
    params = random_dict(rng, np.float64)
    grads = random_dict(rng, np.float64)
    del grads["b1"]
    grads["W9"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"missing from grads \['b1'\], extra in grads \['W9'\]"):
        OPTIMIZERS[name]().update(params, grads)


@pytest.mark.parametrize("name", NAMES)
def test_shape_mismatch_names_key_and_shapes(name, rng):
    params = random_dict(rng, np.float64)
    grads = random_dict(rng, np.float64)
    grads["W2"] = grads["W2"].T
    message = r"grads\['W2'\] has shape \(3, 4\) but params\['W2'\] has shape \(4, 3\)"
    with pytest.raises(ValueError, match=message):
        OPTIMIZERS[name]().update(params, grads)


@pytest.mark.parametrize("bad", [np.arange(3), np.ones(3, bool), np.ones(3, complex), np.ones(3, np.float16)])
def test_non_float_param_arrays_are_refused(bad):
    with pytest.raises(TypeError, match=rf"params\['w'\] has dtype {bad.dtype}.*astype\(np.float64\)"):
        Adam().update({"w": bad}, {"w": np.ones(3)})


@pytest.mark.parametrize("bad", [True, 1 + 2j, "1.0", None, [1.0, 2.0]])
def test_non_real_scalar_params_are_refused(bad):
    with pytest.raises(TypeError, match=r"params\['x'\]"):
        SGD().update({"x": bad}, {"x": 1.0})


def test_non_real_grads_are_refused():
    with pytest.raises(TypeError, match=r"grads\['w'\] has dtype complex128"):
        SGD().update({"w": np.ones(2)}, {"w": np.ones(2, complex)})
    with pytest.raises(TypeError, match="grads has dtype complex64"):
        SGD().update(FlatParams([("w", (2,))]), FlatParams([("w", (2,))], np.complex64))


def test_read_only_params_are_refused():
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\['w'\] is read-only"):
        SGD().update({"w": frozen}, {"w": np.ones(3)})


def test_params_and_grads_must_be_dicts():
    with pytest.raises(TypeError, match="params must be a dict"):
        SGD().update([np.ones(2)], {"w": np.ones(2)})
    with pytest.raises(TypeError, match="grads must be a dict"):
        SGD().update({"w": np.ones(2)}, np.ones(2))


@pytest.mark.parametrize("name", [name for name in NAMES if STATE[name]])
def test_reuse_on_other_params_is_refused(name, rng):
    optimizer = OPTIMIZERS[name]()
    params = random_dict(rng, np.float64)
    optimizer.update(params, random_dict(rng, np.float64))
    other_keys = random_dict(rng, np.float64, LAYOUT[:2])
    with pytest.raises(ValueError, match=r"built for other params \(keys differ: missing \['W2', 'b2'\]"):
        optimizer.update(other_keys, copy_dict(other_keys))
    other_shapes = random_dict(rng, np.float64, LAYOUT[:3] + (("b2", (5,)),))
    with pytest.raises(ValueError, match=r"params\['b2'\] was float64 \(3,\), now float64 \(5,\)"):
        optimizer.update(other_shapes, copy_dict(other_shapes))
    other_dtype = random_dict(rng, np.float32)
    with pytest.raises(ValueError, match=r"params\['W1'\] was float64 \(6, 4\), now float32 \(6, 4\)"):
        optimizer.update(other_dtype, copy_dict(other_dtype))

    flat_optimizer = OPTIMIZERS[name]()
    flat_optimizer.update(random_flat(rng, np.float64), random_flat(rng, np.float64))
    with pytest.raises(ValueError, match="built for another FlatParams buffer"):
        flat_optimizer.update(random_flat(rng, np.float64), random_flat(rng, np.float64))


@pytest.mark.parametrize("cls, kwargs, error, fragment", [
    (SGD, {"lr": -0.1}, ValueError, r"lr must be a finite number > 0, got -0.1"),
    (SGD, {"lr": 0}, ValueError, r"lr .* got 0"),
    (SGD, {"lr": float("nan")}, ValueError, r"lr .* got nan"),
    (SGD, {"lr": float("inf")}, ValueError, r"lr .* got inf"),
    (SGD, {"lr": "0.1"}, TypeError, r"lr must be a real number, got '0.1'"),
    (SGD, {"lr": True}, TypeError, r"lr must be a real number"),
    (Momentum, {"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    (OPTIMIZERS["nesterov"], {"momentum": -0.5}, ValueError, r"momentum must be in \[0, 1\), got -0.5"),
    (OPTIMIZERS["rmsprop"], {"decay_rate": 1}, ValueError, r"decay_rate must be in \[0, 1\), got 1"),
    (Adam, {"beta1": -0.1}, ValueError, r"beta1 must be in \[0, 1\), got -0.1"),
    (Adam, {"beta2": 1.0}, ValueError, r"beta2 must be in \[0, 1\), got 1.0"),
    (OPTIMIZERS["adadelta"], {"rho": 1.5}, ValueError, r"rho must be in \[0, 1\), got 1.5"),
    (OPTIMIZERS["adadelta"], {"eps": 0.0}, ValueError, r"eps must be a finite number > 0, got 0.0"),
    (AdamW, {"weight_decay": -1e-3}, ValueError, r"weight_decay must be a finite number >= 0, got -0.001"),
    (AdamW, {"lr": -1}, ValueError, r"lr must be a finite number > 0, got -1"),
])
def test_invalid_hyperparameters(cls, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        cls(**kwargs)


# --- registry -----------------------------------------------------------------------------------

def test_registry_has_the_trainers_names_plus_adadelta_and_adamw():
    assert list(OPTIMIZERS) == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                                "adadelta", "adamw"]
    assert all(issubclass(cls, Optimizer) for cls in OPTIMIZERS.values())


@pytest.mark.parametrize("spelling", ["adam", "Adam", "ADAM"])
def test_get_optimizer_is_case_insensitive_and_passes_kwargs(spelling):
    optimizer = get_optimizer(spelling, lr=0.01, beta2=0.99)
    assert type(optimizer) is Adam
    assert (optimizer.lr, optimizer.beta1, optimizer.beta2) == (0.01, 0.9, 0.99)


@pytest.mark.parametrize("name", ["adamax", "rmsprpo", None])
def test_get_optimizer_lists_valid_names_on_a_miss(name):
    with pytest.raises(ValueError, match=r"unknown optimizer .*valid names: sgd, momentum, .*adamw"):
        get_optimizer(name)


def test_get_optimizer_passes_bad_hyperparameters_through():
    with pytest.raises(ValueError, match="lr"):
        get_optimizer("sgd", lr=-1)

"""The kernel that draws ``np.random.rand``'s numbers from NumPy's own global generator,
against NumPy itself: the same doubles, the same generator state afterwards."""
import numpy as np
import pytest
from book.multi_layer_net_extend import Dropout as BookDropout

from fastdl.kernels.batchnorm_dropout import random_sample
from fastdl.layers import Dropout
from fastdl.numpy_rng import global_mt19937


@pytest.fixture
def restore_global_rng():
    """Put NumPy's global generator back as it was, whatever the test installs."""
    bit_generator = np.random.get_bit_generator()
    state = np.random.get_state()
    yield
    np.random.set_bit_generator(bit_generator)
    np.random.set_state(state)


def numpy_state():
    _, key, pos, *_ = np.random.get_state()
    return key.copy(), pos


# Sizes around a key block (624 words = 312 doubles) and the kernel's 312-double chunks;
# leading draws shift the start to odd positions, so pairs straddle two blocks.
@pytest.mark.parametrize("size", [0, 1, 7, 311, 312, 313, 624, 625, 10_000, 100_001])
@pytest.mark.parametrize("lead", [0, 1, 155, 311])
def test_kernel_draws_numpys_doubles_and_leaves_numpys_state(size, lead, restore_global_rng):
    rng = global_mt19937()
    assert rng is not None
    np.random.seed(7)
    np.random.rand(lead)
    expected = np.random.rand(size)
    key, pos = numpy_state()
    np.random.seed(7)
    np.random.rand(lead)
    drawn = np.empty(size)
    random_sample(rng.state, rng.words, drawn)
    np.testing.assert_array_equal(drawn, expected)
    got_key, got_pos = numpy_state()
    assert got_pos == pos
    np.testing.assert_array_equal(got_key, key)


def test_dropout_after_set_state_and_reseed_keeps_the_books_masks(rng, restore_global_rng):
    x = rng.standard_normal((100, 37))
    layer, ref = Dropout(0.4), BookDropout(0.4)
    state = np.random.get_state()
    for reset in (lambda: np.random.seed(3), lambda: np.random.set_state(state)):
        reset()
        layer.forward(x)
        after = np.random.rand(5)
        reset()
        ref.forward(x)
        np.testing.assert_array_equal(layer.mask, ref.mask)
        np.testing.assert_array_equal(np.random.rand(5), after)


@pytest.mark.parametrize("generator, kernel_draws", [(np.random.PCG64, False), (np.random.MT19937, True)],
                         ids=["PCG64: np.random.rand", "new MT19937: kernel"])
def test_a_newly_installed_global_generator_gives_the_books_masks(generator, kernel_draws, rng,
                                                                  restore_global_rng):
    np.random.set_bit_generator(generator(5))
    assert (global_mt19937() is not None) == kernel_draws
    x = rng.standard_normal((30, 41))
    layer, ref = Dropout(0.3), BookDropout(0.3)
    np.random.set_bit_generator(generator(9))
    out = layer.forward(x).copy()
    np.random.set_bit_generator(generator(9))
    np.testing.assert_array_equal(out, ref.forward(x))
    np.testing.assert_array_equal(layer.mask, ref.mask)

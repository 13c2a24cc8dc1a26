"""NumPy's global random generator, as buffers a kernel draws ``np.random.rand``'s numbers from.

:func:`global_mt19937` hands out the state of ``np.random.get_bit_generator()``
itself, seen as uint32 words, for :func:`fastdl.kernels.batchnorm_dropout.random_sample`:
the kernel then draws the very numbers ``np.random.rand`` would and leaves the
state where that call would, so ``np.random.seed`` keeps reproducing the book.
The state's memory layout is NumPy's C struct, not a public API, so each
generator is checked once: the kernel's first draws must equal NumPy's from
the same state. A generator that fails the check (another NumPy layout, or a
non-MT19937 generator installed with ``np.random.set_bit_generator``) gets
None, and callers draw with ``np.random.rand`` itself: slower, never different.
"""
import ctypes
from typing import NamedTuple

import numpy as np

from .kernels.batchnorm_dropout import STATE_WORDS, WORDS_SCRATCH, random_sample

UNIFORMS_SCRATCH = 1024
"""Doubles a kernel draws at a time: 8 KiB stays in L1, and each draw's setup is paid once per 1024."""


class KernelRNG(NamedTuple):
    """What a kernel needs to draw from NumPy's global MT19937; hold ``lock`` while it runs."""

    state: np.ndarray
    """(625,) uint32: the generator's own key words and position, advanced in place."""
    words: np.ndarray
    """(WORDS_SCRATCH,) uint32 scratch of ``random_sample``."""
    uniforms: np.ndarray
    """(UNIFORMS_SCRATCH,) float64 scratch for the doubles of one draw."""
    lock: object


_last = (None, None)
"""The last generator seen and its KernelRNG, or None where the kernel would not match NumPy."""


def _kernel_rng(bit_generator):
    """``bit_generator`` as a KernelRNG, or None when the kernel would not draw NumPy's numbers."""
    if not isinstance(bit_generator, np.random.MT19937):
        return None
    words = (ctypes.c_uint32 * STATE_WORDS).from_address(bit_generator.ctypes.state_address)
    rng = KernelRNG(np.frombuffer(words, dtype=np.uint32), np.empty(WORDS_SCRATCH, np.uint32),
                    np.empty(UNIFORMS_SCRATCH), bit_generator.lock)
    saved = bit_generator.state
    try:
        # 701 doubles span a key regeneration and a pair split across two key blocks.
        drawn = np.empty(701)
        random_sample(rng.state, rng.words, drawn)
        after_kernel = bit_generator.state["state"]
        bit_generator.state = saved
        expected = np.random.rand(drawn.size)
        after_numpy = bit_generator.state["state"]
    finally:
        bit_generator.state = saved
    same = (np.array_equal(drawn, expected) and after_kernel["pos"] == after_numpy["pos"]
            and np.array_equal(after_kernel["key"], after_numpy["key"]))
    return rng if same else None


def global_mt19937():
    """NumPy's global generator as a :class:`KernelRNG`, or None: then draw with ``np.random.rand``."""
    global _last
    bit_generator = np.random.get_bit_generator()
    if _last[0] is not bit_generator:
        _last = (bit_generator, _kernel_rng(bit_generator))
    return _last[1]

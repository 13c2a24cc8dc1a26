"""NumPy's legacy ``random_sample`` (``np.random.rand``) as a Numba kernel over the generator's own state.

The book draws every dropout mask with ``np.random.rand``: at batch 100 that
call (a C function-pointer call per double, plus a new array) costs more than
the rest of the dropout layer. This kernel produces the very same doubles from
the same MT19937 state, advancing it exactly as NumPy does, so seeded runs
keep the book's masks and every later draw from the global RNG is unchanged.

The state is NumPy's ``mt19937_state`` struct seen as 625 uint32 words:
``key[0:624]`` then ``pos`` (see :mod:`fastdl.numpy_rng`, which checks the
layout against NumPy before trusting it).
"""
import numpy as np

from . import kernel

STATE_WORDS = 625
_N = 624
_M = 397
WORDS_SCRATCH = _N + 2
"""Length of ``random_sample``'s uint32 scratch: one key block plus a carried word, rounded to whole pairs."""


@kernel()
def _twist(key):
    """Regenerate the 624 key words in place (NumPy's ``mt19937_gen``)."""
    upper, lower, matrix_a = np.uint32(0x80000000), np.uint32(0x7fffffff), np.uint32(0x9908b0df)
    one, zero = np.uint32(1), np.uint32(0)
    for i in range(_N - _M):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _M] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)
    for i in range(_N - _M, _N - 1):
        y = (key[i] & upper) | (key[i + 1] & lower)
        key[i] = key[i + _M - _N] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)
    y = (key[_N - 1] & upper) | (key[0] & lower)
    key[_N - 1] = key[_M - 1] ^ (y >> one) ^ ((zero - (y & one)) & matrix_a)


@kernel()
def _temper(y):
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9d2c5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xefc60000)
    return y ^ (y >> np.uint32(18))


@kernel()
def random_sample(state, words, out):
    """Fill ``out`` with the doubles ``np.random.rand(out.size)`` would return from ``state``.

    Parameters
    ----------
    state : (625,) uint32, NumPy's MT19937 key words then ``pos``; advanced in place.
    words : (WORDS_SCRATCH,) uint32 scratch.
    out : (M,) float64 output.

    Each pass tempers the key words it needs into ``words``, after the word
    left over from the previous block if any; each double is then one
    (first, second) pair read as one little-endian uint64. Both loops are
    contiguous, so the compiler vectorises them.
    """
    key = state[:_N]
    pos = np.intp(state[_N])
    pairs_view = words.view(np.uint64)
    low, a_shift, b_shift = np.uint64(0xffffffff), np.uint64(5), np.uint64(38)
    done = 0
    carried = 0
    while done < out.size:
        if pos == _N:
            _twist(key)
            pos = 0
        take = min(_N - pos, 2 * (out.size - done) - carried)
        block, scratch = key[pos:pos + take], words[carried:]
        for j in range(take):
            scratch[j] = _temper(block[j])
        pairs = (carried + take) // 2
        dest = out[done:done + pairs]
        for j in range(pairs):
            a = np.int32((pairs_view[j] & low) >> a_shift)
            b = np.int32(pairs_view[j] >> b_shift)
            dest[j] = (np.float64(a) * 67108864.0 + np.float64(b)) / 9007199254740992.0
        done += pairs
        carried = carried + take - 2 * pairs
        if carried:
            words[0] = words[2 * pairs]
        pos += take
    state[_N] = np.uint32(pos)

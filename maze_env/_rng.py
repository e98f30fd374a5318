"""Counter-free random numbers for numba kernels, seeded per maze.

Every kernel receives one 64-bit key per maze (drawn from a ``numpy.random.Generator``) and
derives its stream with SplitMix64, so results depend only on the key: never on global state,
process, thread or batch size.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = 1.0 / 9007199254740992.0


@nb.njit(cache=True, inline="always")
def next_u64(state: np.ndarray) -> np.uint64:
    """Advance ``state[0]`` (a uint64 array of length 1) and return a 64-bit output."""
    state[0] = state[0] + _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@nb.njit(cache=True, inline="always")
def uniform(state: np.ndarray) -> float:
    """A float in [0, 1)."""
    return float(next_u64(state) >> _S11) * _TWO53


@nb.njit(cache=True, inline="always")
def randbelow(state: np.ndarray, k: int) -> int:
    """An int in [0, k) (k >= 1)."""
    return int(uniform(state) * k)


class PerItem:
    """One Generator per batch item, accepted wherever the batch APIs take a seed.

    Item i's keys are drawn from ``generators[i]``, so a batch equals its items generated one at
    a time with those Generators (what a vector env needs to match its single envs).
    """

    def __init__(self, generators):
        self.generators = list(generators)


class KeyBlock:
    """Keys drawn ahead, (n, k), for a chain of batch calls that each take the next columns.

    Drawing all of a chain's keys in one go (one call per ``PerItem`` generator instead of one
    per call and generator) gives the very keys the chain would draw call by call.
    """

    def __init__(self, keys: np.ndarray):
        self.keys, self.used = keys, 0

    def take(self, shape) -> np.ndarray:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        n, width = self.keys.shape
        take = int(np.prod(shape[1:], dtype=np.int64))
        if shape[0] != n or self.used + take > width:
            raise ValueError(
                f"KeyBlock of {n}x{width} keys ({self.used} columns used) cannot give {shape}"
            )
        self.used += take
        return self.keys[:, self.used - take : self.used].reshape(shape)


def draw_keys(rng: np.random.Generator | PerItem | KeyBlock, shape) -> np.ndarray:
    """Per-item uint64 keys from a numpy Generator (row-major, so prefixes are stable)."""
    if isinstance(rng, KeyBlock):
        return rng.take(shape)
    if not isinstance(rng, PerItem):
        return _keys(rng, shape)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if shape[0] != len(rng.generators):
        raise ValueError(f"PerItem holds {len(rng.generators)} generators for {shape[0]} items")
    out = np.empty(shape, np.uint64)
    rows = out.reshape(shape[0], -1)
    width = rows.shape[1]
    raw = np.zeros(shape[0], np.bool_)
    for i, gen in enumerate(rng.generators):  # a vector env's resets land here: keep it lean
        if type(gen.bit_generator) is np.random.PCG64:
            rows[i], raw[i] = gen.bit_generator.random_raw(width), True
        else:
            rows[i] = _keys(gen, width)
    rows[raw] >>= np.uint64(1)  # _keys's PCG64 shortcut, once for the whole batch
    return out


def _keys(gen: np.random.Generator, shape) -> np.ndarray:
    if type(gen.bit_generator) is np.random.PCG64:
        # the very values of the last line (Lemire's method on a 2**63 range is x >> 1), 10x faster
        return gen.bit_generator.random_raw(shape) >> np.uint64(1)
    return gen.integers(0, 2**63, size=shape, dtype=np.int64).astype(np.uint64)


def as_generator(seed) -> np.random.Generator | PerItem | KeyBlock:
    """Accept an int seed, ``None``, an existing Generator, a ``PerItem`` or a ``KeyBlock``."""
    if isinstance(seed, (np.random.Generator, PerItem, KeyBlock)):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be an int, None or numpy.random.Generator, got {type(seed).__name__}"
    )

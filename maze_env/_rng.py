"""Counter-free random numbers for numba kernels, seeded per maze.

Every kernel receives one 64-bit key per maze (drawn from a ``numpy.random.Generator``, or, in
the envs, from the episode's own SplitMix64 key stream) and derives its stream with SplitMix64,
so results depend only on the key: never on global state, process, thread or batch size.
"""

from __future__ import annotations

import numpy as np

from maze_env._jit import kernel

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = 1.0 / 9007199254740992.0


@kernel(inline="always")
def next_u64(state: np.ndarray) -> np.uint64:
    """Advance ``state[0]`` (a uint64 array of length 1) and return a 64-bit output."""
    state[0] = state[0] + _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@kernel(inline="always")
def uniform(state: np.ndarray) -> float:
    """A float in [0, 1)."""
    return float(next_u64(state) >> _S11) * _TWO53


@kernel(inline="always")
def randbelow(state: np.ndarray, k: int) -> int:
    """An int in [0, k) (k >= 1)."""
    return int(uniform(state) * k)


@kernel(inline="always")
def shuffle_pairs(a: np.ndarray, b: np.ndarray, n: int, state: np.ndarray) -> None:
    """Shuffle ``a[:n]`` and ``b[:n]`` in place by the same permutation (Fisher-Yates)."""
    for i in range(n - 1, 0, -1):
        j = randbelow(state, i + 1)
        a[i], a[j] = a[j], a[i]
        b[i], b[j] = b[j], b[i]


@kernel
def draw_stream_keys(streams: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
    """``out[j]`` = the next ``out.shape[1]`` outputs of SplitMix stream ``streams[idx[j]]``,
    advancing those streams in place (a vector env keeps one stream per sub-env)."""
    for j in range(idx.shape[0]):
        state = streams[idx[j] : idx[j] + 1]
        for q in range(out.shape[1]):
            out[j, q] = next_u64(state)


def stream_seed(gen: np.random.Generator) -> np.uint64:
    """A SplitMix stream's starting state, drawn from ``gen``."""
    return _keys(gen, 1)[0]


class KeyBlock:
    """Keys drawn ahead, (n, k), for a chain of batch calls that each take the next columns
    (an env reset: maze, endpoints and prompt from one row of keys per episode)."""

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


def draw_keys(rng: np.random.Generator | KeyBlock, shape) -> np.ndarray:
    """Per-item uint64 keys from a numpy Generator (row-major, so prefixes are stable)."""
    if isinstance(rng, KeyBlock):
        return rng.take(shape)
    return _keys(rng, shape)


def _keys(gen: np.random.Generator, shape) -> np.ndarray:
    if type(gen.bit_generator) is np.random.PCG64:
        # the very values of the last line (Lemire's method on a 2**63 range is x >> 1), 10x faster
        return gen.bit_generator.random_raw(shape) >> np.uint64(1)
    return gen.integers(0, 2**63, size=shape, dtype=np.int64).astype(np.uint64)


def as_generator(seed) -> np.random.Generator | KeyBlock:
    """Accept an int seed, ``None``, an existing Generator or a ``KeyBlock``."""
    if isinstance(seed, (np.random.Generator, KeyBlock)):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be an int, None or numpy.random.Generator, got {type(seed).__name__}"
    )

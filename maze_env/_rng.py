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


def draw_keys(rng: np.random.Generator, shape) -> np.ndarray:
    """Per-item uint64 keys from a numpy Generator (row-major, so prefixes are stable)."""
    return rng.integers(0, 2**63, size=shape, dtype=np.int64).astype(np.uint64)


def as_generator(seed) -> np.random.Generator:
    """Accept an int seed, ``None`` or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, None or numpy.random.Generator, got {type(seed).__name__}")

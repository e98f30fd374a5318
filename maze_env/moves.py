"""``Move``: the action codes of the move envs (``TokenMazeMoves-v0``)."""

from __future__ import annotations

from enum import IntEnum

from maze_env._graph import DIRECTIONS


class Move(IntEnum):
    """Compass moves on the lattice (north = row - 1), then stop (emits ``<PATH_END>``)."""

    N = 0
    S = 1
    W = 2
    E = 3
    STOP = 4

    @property
    def delta(self) -> tuple[int, int]:
        """(d_row, d_col) of a compass move."""
        if self is Move.STOP:
            raise ValueError("Move.STOP has no direction")
        return DIRECTIONS[self]

    @classmethod
    def between(cls, a: tuple[int, int], b: tuple[int, int]) -> Move:
        """The compass move from cell ``a`` to the lattice-adjacent cell ``b``."""
        step = (b[0] - a[0], b[1] - a[1])
        if step not in DIRECTIONS:
            raise ValueError(f"{tuple(b)} is not lattice-adjacent to {tuple(a)}")
        return cls(DIRECTIONS.index(step))

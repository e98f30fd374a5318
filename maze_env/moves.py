"""``Move``: the action codes of the move envs (``TokenMazeMoves-v0``), and ``legal_moves``,
their action mask for a walk read back from tokens."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np

from maze_env._graph import DIRECTIONS
from maze_env.maze import Coord, Maze


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


def legal_moves(maze: Maze, path: Sequence[Coord], target: Coord) -> np.ndarray:
    """The move envs' action mask for a walk ``path`` (origin first) on ``maze``: bool (5,) by
    ``Move``.  A compass move is legal along an open connection to a cell not yet on the path;
    STOP at the target, or when no move is legal (the env's own rule, as ``action_masks()``)."""
    here, visited = tuple(path[-1]), {tuple(c) for c in path}
    open_cells = set(maze.neighbors(here))
    mask = np.zeros(len(Move), np.bool_)
    for move, (dr, dc) in zip(Move, DIRECTIONS, strict=False):
        step = (here[0] + dr, here[1] + dc)
        mask[move] = step in open_cells and step not in visited
    mask[Move.STOP] = here == tuple(target) or not mask[: Move.STOP].any()
    return mask

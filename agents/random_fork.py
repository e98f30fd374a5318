"""``random-fork``: the seed post's baseline solver.

It follows open connections, never backtracks, picks uniformly among the open unvisited
neighbours at each fork, and stops (``<PATH_END>``) at the target or at a dead end.  With
``bias`` > 0, at each fork it first takes, with probability ``bias``, a neighbour that is one
step closer to the target (the correct branch), and otherwise chooses uniformly as before.
"""

from __future__ import annotations

import numpy as np

from agents.planned import PlannedAgent, open_unvisited
from maze_env import Coord, Maze


class RandomForkAgent(PlannedAgent):
    """Seeded random walk without backtracking; ``bias`` in [0, 1] leans toward the target."""

    kind = "baseline: uniform at forks, no backtracking, stops at dead ends"

    def __init__(self, seed: int | np.random.Generator | None = None, bias: float = 0.0):
        if not 0.0 <= float(bias) <= 1.0:
            raise ValueError(f"bias must be in [0, 1], got {bias!r}")
        super().__init__(seed)
        self.bias = float(bias)

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        to_target = maze.distances(target) if self.bias > 0 else None
        path, visited = [origin], {origin}
        while path[-1] != target:
            options = open_unvisited(maze, path[-1], visited)
            if not options:
                break
            if len(options) > 1 and to_target is not None and rng.random() < self.bias:
                here = to_target[path[-1]]
                options = [n for n in options if 0 <= to_target[n] < here] or options
            step = options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]
            path.append(step)
            visited.add(step)
        return path

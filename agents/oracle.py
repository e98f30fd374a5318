"""``oracle``: the BFS shortest path (optimal on cyclic mazes too)."""

from __future__ import annotations

import numpy as np

from agents.planned import PlannedAgent
from maze_env import Coord, Maze


class OracleAgent(PlannedAgent):
    """Emit ``Maze.shortest_path`` (ties broken N, S, W, E); give up at once if unreachable."""

    kind = "planner: BFS, complete and exact on every maze"

    def __init__(self):
        super().__init__(seed=0)

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        try:
            return maze.shortest_path(origin, target)
        except ValueError:  # the target is unreachable
            return [origin]

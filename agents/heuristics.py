"""Classic maze heuristics: greedy Manhattan, dead-end filling, wall following.

They span "pure heuristic" (greedy) to "search in disguise" (wall follower, dead-end filling),
the contrast the research post draws.  Two of them are *planners*: ``DeadEndFillingAgent``
(``dead-end-filling-planner``) and ``WallFollowerPlanner`` (``wall-follower-planner``) search
the whole maze before they move and emit a simple path, so on a tree (one path between any two
cells) they are complete: always the shortest path.  ``WallFollowerAgent`` (``wall-follower``)
emits the walk the hand rule really makes, dead ends and returns included: it reaches the
target on every tree but is rarely exact.  A plan that stops short of the target is how a
heuristic gives up.
"""

from __future__ import annotations

import numpy as np

from agents.planned import PlannedAgent, erase_loops, open_unvisited
from maze_env import DIRECTIONS, Coord, Maze

_CLOCKWISE = (0, 3, 1, 2)  # N, E, S, W as indices into DIRECTIONS


def _manhattan(a: Coord, b: Coord) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


class GreedyAgent(PlannedAgent):
    """Step to the open unvisited neighbour closest to the target by Manhattan distance.

    Ties go to the first in N, S, W, E order; it stops when no unvisited neighbour is open, so
    a fork whose nearer branch is a dead end (a deceptive fork) defeats it.
    """

    kind = "heuristic: nearest-to-target step, no search"

    def __init__(self):
        super().__init__(seed=0)

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        path, visited = [origin], {origin}
        while path[-1] != target:
            options = open_unvisited(maze, path[-1], visited)
            if not options:
                break
            step = min(options, key=lambda n: _manhattan(n, target))
            path.append(step)
            visited.add(step)
        return path


class DeadEndFillingAgent(PlannedAgent):
    """The post's "back-filling": repeatedly discard dead ends other than origin and target,
    then walk what remains.

    On a tree what remains is exactly the solution, so the walk is the shortest path.  On a
    cyclic maze every cycle between origin and target survives the filling; the walk then picks
    uniformly (seeded) among the remaining open unvisited neighbours at each fork, so it may take
    a longer way round or close a loop on itself and stop short of the target.  On an open field
    (no dead ends) nothing is filled and the walk *is* random-fork's: with the same seed both
    emit the same paths.
    """

    kind = "planner: complete on trees (fills dead ends first); random walk over what remains"

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        keep = np.ones(maze.shape, np.bool_)
        degree = maze.degrees.copy()
        ends = [cell for cell in maze.dead_ends if cell not in (origin, target)]
        while ends:
            cell = ends.pop()
            keep[cell] = False
            for n in maze.neighbors(cell):
                if keep[n]:
                    degree[n] -= 1
                    if degree[n] == 1 and n not in (origin, target):
                        ends.append(n)
        path, visited = [origin], {origin}
        while path[-1] != target:
            options = [n for n in open_unvisited(maze, path[-1], visited) if keep[n]]
            if not options:
                break
            step = options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]
            path.append(step)
            visited.add(step)
        return path


class WallFollowerAgent(PlannedAgent):
    """Keep one hand on the wall (``hand="left"`` or ``"right"``), starting out facing north, and
    emit every step the rule takes: dead ends are walked into and back out of, so the path
    revisits cells (the env counts each ``backtrack`` / ``revisit``).

    The walk stops at the target, when it would leave the origin by its first move again (it
    has gone round a loop that does not touch the target, e.g. the target sits on an island of
    a cyclic maze), or after ``max_steps`` moves (default 4 × cells, enough to trace any face).
    On a tree the wall follower always reaches the target.
    """

    kind = "walker: the hand rule's own walk, dead ends and returns included"

    def __init__(self, hand: str = "left", max_steps: int | None = None):
        if hand not in ("left", "right"):
            raise ValueError(f"hand must be 'left' or 'right', got {hand!r}")
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")
        super().__init__(seed=0)
        self.hand = hand
        self.max_steps = max_steps
        turns = (-1, 0, 1, 2) if hand == "left" else (1, 0, -1, 2)  # relative to the heading
        self._order = {
            h: [_CLOCKWISE[(_CLOCKWISE.index(h) + t) % 4] for t in turns] for h in range(4)
        }

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        cap = self.max_steps if self.max_steps is not None else 4 * maze.n_cells
        walk, heading, first = [origin], 0, None
        while walk[-1] != target and len(walk) <= cap:
            cell = walk[-1]
            open_cells = maze.neighbors(cell)
            for d in self._order[heading]:
                step = (cell[0] + DIRECTIONS[d][0], cell[1] + DIRECTIONS[d][1])
                if step in open_cells:
                    break
            else:
                break  # an isolated cell
            if first is None:
                first = (cell, d)
            elif (cell, d) == first:
                break
            walk.append(step)
            heading = d
        return walk


class WallFollowerPlanner(WallFollowerAgent):
    """The wall follower as a planner: the same walk (``WallFollowerAgent``) traced before
    moving, then emitted with its loops erased, so always a simple path; on a tree the erased
    walk is the solution."""

    kind = "planner: complete on trees (the hand rule's walk, loops erased)"

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        return erase_loops(super().plan(maze, origin, target, rng))

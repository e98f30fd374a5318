"""Per-episode metrics judged from (maze, origin, target, emitted tokens) alone.

The agent's *emitted* tokens are the ones it produced after the prompt (which ends with
``<PATH_START>`` and the origin), normally ending with ``<PATH_END>``.  They are walked from the
origin one cell token at a time:

- a token that is not a coordinate of the grid (or, in the ``coords`` scheme, not a row/column
  number pair) counts one ``invalid_token`` and does not move;
- every cell token moves the walker there (the path is the list of cells, origin first) and
  counts at most one of ``non_adjacent_jump`` (not a lattice neighbour) / ``wall_crossing`` (a
  neighbour behind a closed connection) and at most one of ``backtrack`` (the cell just left) /
  ``revisit`` (any other cell already on the path, the current one included) — the same rules
  as the env's ``info["violations"]``;
- ``no_path_end`` is 1 when the tokens stop without ``<PATH_END>`` (a half coordinate left
  then is unfinished, not an ``invalid_token``; one closed by ``<PATH_END>`` is invalid).

Metrics (``EpisodeMetrics``):

- ``exact_path``: ``<PATH_END>`` closes a path that is *a* shortest path (token for token; on
  cyclic mazes any of the shortest paths counts) and nothing else was emitted;
- ``target_reached``: the walk ends on the target;
- ``valid_path``: every step follows an open connection to a new cell and no token is invalid;
- ``success``: valid, ends on the target and closed by ``<PATH_END>`` (the env's success);
- ``node_overlap``: |pred ∩ sol| / |sol| over cell sets, origin included, where ``sol`` is the
  shortest path *closest to the prediction* (the one sharing the most cells with it — on a tree
  this is the unique shortest path);
- ``fork_correct`` / ``fork_total``: forks (``Maze.forks``: the path continues and > 1 unvisited
  neighbour is open; the target excluded) met while the walk is still a prefix of a shortest
  path, and how many of those choices keep it one; ``fork_accuracy`` = their ratio (None if 0);
- ``length_ratio``: steps taken / shortest distance, only when the target is reached (else None);
- ``prefix_steps``: how many steps the walk follows a shortest path before it first leaves one
  (``optimal_length`` when it never does): where a miss starts;
- ``violations``: the counts above, by kind (``VIOLATION_KINDS``).

The benchmark harness (``benchmarks.metrics`` aggregates these) and the training-time
evaluation (``agents.transformer.evaluate``) both judge episodes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from maze_env.maze import Coord, Maze
from maze_env.rules import STEP_KINDS, VIOLATION_KINDS
from maze_env.tokens import PATH_END, read_cell, read_number


@dataclass(frozen=True)
class Walk:
    """The emitted tokens read as a walk: cells (origin first), violations, closed by PATH_END."""

    path: list[Coord]
    violations: dict[str, int]
    ended: bool


@dataclass(frozen=True)
class EpisodeMetrics:
    """Every per-episode metric (see the module docstring)."""

    success: bool
    exact_path: bool
    target_reached: bool
    valid_path: bool
    node_overlap: float
    fork_correct: int
    fork_total: int
    length_ratio: float | None
    path_length: int
    optimal_length: int
    violations: dict[str, int] = field(default_factory=dict)
    prefix_steps: int = 0

    @property
    def fork_accuracy(self) -> float | None:
        return self.fork_correct / self.fork_total if self.fork_total else None

    def to_dict(self) -> dict:
        return asdict(self)


def _cells(tokens: Sequence[str], scheme: str, shape: tuple[int, int]):
    """Yield (cell or None, is_path_end) per emitted cell unit; None marks an invalid token."""
    rows, cols = shape
    pending: int | None = None
    for tok in tokens:
        if tok == PATH_END:
            if pending is not None:
                yield None, False
            yield None, True
            return
        if scheme == "coords":
            number = read_number(tok)
            if number is None:
                pending = None  # a dropped half coordinate counts with this token, once
                yield None, False
            elif pending is None:
                pending = number
            else:
                r, c = pending, number
                pending = None
                yield ((r, c) if r < rows and c < cols else None), False
            continue
        cell = read_cell(tok)
        yield (cell if cell is not None and cell[0] < rows and cell[1] < cols else None), False
    # a half coordinate left when the tokens stop is unfinished, not invalid (as in the env):
    # ``no_path_end`` records how the walk ended


def walk(maze: Maze, origin: Coord, tokens: Sequence[str], scheme: str = "aotp") -> Walk:
    """Read emitted tokens as a walk from ``origin`` (see the module docstring for the rules)."""
    counts = dict.fromkeys(VIOLATION_KINDS, 0)
    path = [tuple(origin)]
    seen = {path[0]}
    ended = False
    for cell, is_end in _cells(tokens, scheme, maze.shape):
        if is_end:
            ended = True
            break
        if cell is None:
            counts["invalid_token"] += 1
            continue
        here = path[-1]
        step = abs(cell[0] - here[0]) + abs(cell[1] - here[1])
        if step > 1:
            counts["non_adjacent_jump"] += 1
        elif step == 1 and not maze.connected(here, cell):
            counts["wall_crossing"] += 1
        if len(path) > 1 and cell == path[-2]:
            counts["backtrack"] += 1
        elif cell in seen:
            counts["revisit"] += 1
        path.append(cell)
        seen.add(cell)
    counts["no_path_end"] = int(not ended)
    return Walk(path, counts, ended)


def closest_shortest_path(
    maze: Maze, origin: Coord, target: Coord, prediction: Sequence[Coord]
) -> list[Coord]:
    """The shortest origin→target path sharing the most cells with ``prediction``.

    Dynamic programming over the shortest-path DAG (cells with d(o, x) + d(x, t) = d(o, t));
    ties broken by the N, S, W, E neighbour order.  Raises ValueError if target is unreachable.
    """
    d_o, d_t = maze.distances(origin), maze.distances(target)
    total = int(d_o[target])
    if total < 0:
        raise ValueError(f"target {tuple(target)} is unreachable from origin {tuple(origin)}")
    pred = set(map(tuple, prediction))
    # best[x] = most predicted cells on a shortest path from x to the target (x included)
    best: dict[Coord, int] = {}
    nxt: dict[Coord, Coord] = {}
    on_dag = [
        (int(r), int(c))
        for r, c in zip(*np.nonzero((d_o >= 0) & (d_o + d_t == total)), strict=True)
    ]
    for x in sorted(on_dag, key=lambda x: -d_o[x]):
        best[x] = int(x in pred)
        steps = [n for n in maze.neighbors(x) if n in best and d_o[n] == d_o[x] + 1]
        if steps:
            n = max(steps, key=lambda n: best[n])  # max keeps the first of ties
            best[x] += best[n]
            nxt[x] = n
    path = [tuple(origin)]
    while path[-1] != tuple(target):
        path.append(nxt[path[-1]])
    return path


def _shortest_prefix(maze: Maze, path: list[Coord], d_o: np.ndarray, d_t: np.ndarray) -> int:
    """The last index k such that path[:k+1] is a prefix of some shortest path."""
    total = int(d_o[path[0]] + d_t[path[0]])
    k = 0
    while (
        k + 1 < len(path)
        and maze.connected(path[k], path[k + 1])
        and d_o[path[k + 1]] == k + 1
        and d_t[path[k + 1]] == total - k - 1
    ):
        k += 1
    return k


def score(
    maze: Maze, origin: Coord, target: Coord, tokens: Sequence[str], scheme: str = "aotp"
) -> EpisodeMetrics:
    """Judge one episode from the maze, its endpoints and the tokens the agent emitted."""
    origin, target = tuple(origin), tuple(target)
    w = walk(maze, origin, tokens, scheme)
    path = w.path
    d_o, d_t = maze.distances(origin), maze.distances(target)
    optimal = int(d_o[target])
    if optimal < 0:
        raise ValueError(f"target {target} is unreachable from origin {origin}: no metric applies")
    reached = path[-1] == target
    bad_steps = sum(w.violations[k] for k in VIOLATION_KINDS[:STEP_KINDS])
    valid = bad_steps == 0
    steps = len(path) - 1
    exact = valid and reached and w.ended and steps == optimal
    solution = closest_shortest_path(maze, origin, target, path)
    overlap = len(set(path) & set(solution)) / len(solution)
    k = _shortest_prefix(maze, path, d_o, d_t)
    forks = [i for i in maze.forks(path[: k + 2]) if path[i] != target]
    correct = sum(i < k for i in forks)
    ratio = None
    if reached:
        ratio = steps / optimal if optimal else float(steps == 0)
    return EpisodeMetrics(
        success=valid and reached and w.ended,
        exact_path=exact,
        target_reached=reached,
        valid_path=valid,
        node_overlap=overlap,
        fork_correct=correct,
        fork_total=len(forks),
        length_ratio=ratio,
        path_length=steps,
        optimal_length=optimal,
        violations=dict(w.violations),
        prefix_steps=k,
    )

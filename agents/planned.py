"""Agents that plan a whole path from the parsed prompt, then emit it step by step.

``PlannedAgent`` does the shared work: read the maze, origin and target from the observation
tokens (``maze_env.parse``), ask the subclass for a path (``plan``), and turn that path into the
env's actions — coordinate tokens then ``<PATH_END>`` for ``"token"`` envs (two tokens per cell,
row then column, for the ``coords`` scheme), or moves 0..3 = N, S, W, E then 4 = STOP for
``"move"`` envs.  The step is read from the observation's length, so ``act`` is idempotent and
``act_batch`` serves vector envs (a new episode is noticed when the prompt changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from maze_env import (
    Coord,
    Maze,
    Move,
    as_generator,
    parse,
    split_infos,
    tokens_per_cell,
    vocabulary,
)
from maze_env.tokens import PATH_END, PATH_START


def sequence(obs: Mapping) -> np.ndarray:
    """The token ids so far, ``obs["tokens"][:obs["length"]]`` (one env's observation)."""
    length = int(np.asarray(obs["length"]).reshape(-1)[0])
    return np.asarray(obs["tokens"])[:length]


def grid_shape(info: Mapping) -> tuple[int, int] | None:
    """The episode's grid (rows, cols) from ``info["shape"]`` (None for an env without it: parse
    then infers the grid from the coordinates it sees)."""
    if "shape" not in info:
        return None
    rows, cols = np.asarray(info["shape"]).reshape(-1)[:2]
    return int(rows), int(cols)


def erase_loops(walk: Sequence[Coord]) -> list[Coord]:
    """Chronological loop erasure: cut every cycle out of a walk (a simple path remains)."""
    path: list[Coord] = []
    index: dict[Coord, int] = {}
    for cell in walk:
        if cell in index:
            for dropped in path[index[cell] + 1 :]:
                del index[dropped]
            del path[index[cell] + 1 :]
        else:
            index[cell] = len(path)
            path.append(cell)
    return path


def open_unvisited(maze: Maze, cell: Coord, visited: set[Coord]) -> list[Coord]:
    """Open neighbours of ``cell`` (N, S, W, E order) not in ``visited``."""
    return [n for n in maze.neighbors(cell) if n not in visited]


@dataclass
class _Episode:
    prompt: np.ndarray  # token ids through <PATH_START> and the origin
    actions: np.ndarray  # the whole action sequence, ending with <PATH_END> / STOP
    per_action: int  # tokens each action appends to the observation


class PlannedAgent:
    """Base class: subclasses implement ``plan(maze, origin, target, rng) -> list[cells]``.

    The plan starts at ``origin``; it is emitted as-is and closed with ``<PATH_END>`` / STOP
    (a plan that stops short of the target is how an agent gives up).  ``kind`` is the one
    line the benchmark report shows about the agent (planner, walker, heuristic, ...).
    """

    kind: str | None = None

    def __init__(self, seed: int | np.random.Generator | None = None):
        self.rng = as_generator(seed)
        self._episodes: list[_Episode | None] = []

    def plan(
        self, maze: Maze, origin: Coord, target: Coord, rng: np.random.Generator
    ) -> list[Coord]:
        raise NotImplementedError

    # ------------------------------------------------------------------ Agent protocol
    def reset(self, obs: Mapping, info: Mapping) -> None:
        self._episodes[:1] = [self._start(sequence(obs), info)]

    def act(self, obs: Mapping, info: Mapping) -> int:
        return self._act(0, sequence(obs), info)

    def act_batch(self, obs_batch: Mapping, infos) -> np.ndarray:
        """One action per sub-env of a vector env (``obs_batch["tokens"]`` is (n, L))."""
        tokens = np.asarray(obs_batch["tokens"])
        lengths = np.asarray(obs_batch["length"]).reshape(len(tokens))
        out = np.empty(len(tokens), np.int64)
        for i, info in enumerate(split_infos(infos, range(len(tokens)))):
            out[i] = self._act(i, tokens[i, : lengths[i]], info)
        return out

    # ------------------------------------------------------------------ internals
    def _act(self, slot: int, seq: np.ndarray, info: Mapping) -> int:
        if len(self._episodes) <= slot:
            self._episodes.extend([None] * (slot + 1 - len(self._episodes)))
        ep = self._episodes[slot]
        n = 0 if ep is None else len(ep.prompt)
        if ep is None or len(seq) < n or not np.array_equal(seq[:n], ep.prompt):
            ep = self._episodes[slot] = self._start(seq, info)
            n = len(ep.prompt)
        step = (len(seq) - n) // ep.per_action
        return int(ep.actions[min(step, len(ep.actions) - 1)])

    def _start(self, seq: np.ndarray, info: Mapping) -> _Episode:
        scheme, action_type = str(info["scheme"]), str(info["action_type"])
        vocab = vocabulary(int(info["max_grid"]))
        starts = np.flatnonzero(seq == vocab.special[PATH_START])
        if len(starts) == 0:
            raise ValueError("the observation holds no <PATH_START> token: not a TokenMaze prompt")
        k = tokens_per_cell(scheme)
        prompt = np.array(seq[: starts[0] + 1 + k])
        ex = parse(vocab.decode(prompt), scheme=scheme, shape=grid_shape(info))
        path = self.plan(ex.maze, ex.origin, ex.target, self.rng)
        if not path or tuple(path[0]) != ex.origin:
            raise RuntimeError(
                f"{type(self).__name__}.plan must return a path starting at the origin"
            )
        if action_type == "move":
            moves = [Move.between(a, b) for a, b in pairwise(path)]
            return _Episode(prompt, np.array([*moves, Move.STOP], np.int64), k)
        if action_type != "token":
            raise ValueError(f"unknown info['action_type'] {action_type!r}; expected token or move")
        cells = vocab.cell_tokens(scheme, ex.maze.shape)
        cols = ex.maze.shape[1]
        ids = [int(t) for r, c in path[1:] for t in cells[r * cols + c]]
        return _Episode(prompt, np.array([*ids, vocab.special[PATH_END]], np.int64), 1)

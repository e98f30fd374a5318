"""Solved examples as full token sequences, with the cell each position spells.

Only the ``aotp`` scheme (one token per coordinate) is supported: every experiment here reads
a coordinate as one token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import maze_env
from agents.transformer.data import DataConfig, eval_set
from agents.transformer.model import GPT
from maze_env.maze import Coord
from maze_env.tokens import PATH_END, PATH_START, TARGET_START


@dataclass(frozen=True)
class Solved:
    """One maze, its endpoints, its shortest path and the token ids of the solved example."""

    maze: maze_env.Maze
    origin: Coord
    target: Coord
    path: tuple[Coord, ...]
    tokens: np.ndarray  # [p] int64: prompt, path tokens, <PATH_END>
    cells: np.ndarray  # [p] flat cell each position spells, -1 for other tokens

    @property
    def path_start(self) -> int:
        """Position of ``<PATH_START>``."""
        return len(self.tokens) - len(self.path) - 2

    @property
    def path_positions(self) -> np.ndarray:
        """Positions of the path tokens (origin first)."""
        return self.path_start + 1 + np.arange(len(self.path))

    @property
    def target_position(self) -> int:
        """Position of the target token (after ``<TARGET_START>``)."""
        return self.path_start - 2

    @property
    def prompt(self) -> np.ndarray:
        """The prompt the model is given: through ``<PATH_START>`` and the origin."""
        return self.tokens[: self.path_start + 2]


def solved(
    maze: maze_env.Maze,
    origin: Coord,
    target: Coord,
    vocab: maze_env.Vocabulary,
    seed: int | np.random.Generator = 0,
    prompt: np.ndarray | None = None,
) -> Solved:
    """Build a ``Solved`` from a maze (``prompt``: reuse these ids through the origin)."""
    origin, target = tuple(map(int, origin)), tuple(map(int, target))
    path = tuple(maze.shortest_path(origin, target))
    if prompt is None:
        prompt = vocab.encode(maze_env.tokenize(maze, origin, target, seed=seed))
        prompt = np.append(prompt, vocab.coord_ids[origin])
    rest = [vocab.coord_ids[c] for c in path[1:]] + [vocab.special[PATH_END]]
    tokens = np.concatenate([prompt, rest]).astype(np.int64)
    if tokens[len(prompt) - 2] != vocab.special[PATH_START]:
        raise ValueError("prompt must end with <PATH_START> and the origin")
    if tokens[len(prompt) - 5] != vocab.special[TARGET_START]:
        raise ValueError("prompt must be in the aotp layout (... <TARGET_START> t <TARGET_END>)")
    return Solved(maze, origin, target, path, tokens, vocab.cell_of_ids(maze.shape)[tokens])


def held_out(data: DataConfig, n: int, seed: int = 0) -> list[Solved]:
    """``n`` held-out solved examples (``agents.transformer.data.eval_set``)."""
    if data.scheme != "aotp":
        raise ValueError(f"the interp toolkit reads aotp prompts, got scheme={data.scheme!r}")
    held = eval_set(data, n, seed)
    probs = held.problems
    return [
        solved(
            maze_env.Maze(probs.conns[i]),
            probs.origins[i],
            probs.targets[i],
            data.vocab,
            prompt=held.prompts[i],
        )
        for i in range(n)
    ]


def as_batch(tokens: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(tokens, np.int64))[None]


def residual_names(model: GPT) -> list[str]:
    """The residual stream before layer 0 and after each layer (``n_layers + 1`` points)."""
    n = model.cfg.n_layers
    return ["blocks.0.hook_resid_pre"] + [f"blocks.{i}.hook_resid_post" for i in range(n)]


@torch.no_grad()
def residuals(model: GPT, tokens: np.ndarray) -> torch.Tensor:
    """Residual stream [n_layers + 1, p, d_model] of one sequence."""
    names = residual_names(model)
    _, cache = model.run_with_cache(as_batch(tokens), names_filter=lambda n: n in names)
    return torch.stack([cache[n][0] for n in names])

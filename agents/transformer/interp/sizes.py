"""Where does the mechanism break as mazes grow?  Adjacency-head lift and fork decisions per size.

For each maze side the model's vocabulary can read, held-out mazes of that side (at random
offsets in the model's canvas, as ``evaluate --size`` plays them) are solved teacher-forced:

- ``graph_lift`` / ``lattice_lift``: the best head's adjacency lift (``attention.head_scores``).
  Lift is mass over chance, and chance falls as the prompt grows, so compare sizes by
  ``graph_mass`` (the share of that head's attention on maze neighbours, per query) against
  ``graph_chance`` (what uniform attention would give): a head that still finds neighbours in a
  longer prompt keeps its mass;
- ``first_fork``: the share of mazes whose first fork on the shortest path the model decides
  right (argmax next token = the path's next cell), given the true path up to the fork;
- ``forks``: the same over every fork on the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.transformer.data import DataConfig
from agents.transformer.interp import attention
from agents.transformer.interp.prompts import Solved, as_batch, held_out
from agents.transformer.length_scaling import RotaryScaling
from agents.transformer.model import GPT


@dataclass(frozen=True)
class SizeRow:
    size: int
    mazes: int
    graph_lift: float
    lattice_lift: float
    graph_mass: float  # the best graph head's attention on neighbours, per query
    graph_chance: float
    first_fork: float | None  # None: no maze of this size had a fork
    forks: float | None
    fork_count: int


@torch.no_grad()
def fork_decisions(model: GPT, ex: Solved, scaling: RotaryScaling | None = None) -> list[bool]:
    """Per fork on the shortest path (in order), whether the teacher-forced argmax is right."""
    forks = ex.maze.forks(list(ex.path))
    if not forks:
        return []
    logits = model(as_batch(ex.tokens),
                   rotary_frequencies=attention.frequencies_for(model, ex, scaling))[0]  # fmt: skip
    positions = ex.path_positions  # position of path cell i
    right = []
    for i in forks:
        predicted = int(logits[positions[i]].argmax())
        right.append(predicted == int(ex.tokens[positions[i] + 1]))
    return right


def size_profile(
    model: GPT, data: DataConfig, sizes: list[int], n: int, seed: int = 0,
    scaling: RotaryScaling | None = None,
):  # fmt: skip
    """One ``SizeRow`` per maze side in ``sizes`` (``n`` held-out mazes each); ``scaling``:
    measured under length-scaled rotary frequencies, as the agent decodes by default."""
    rows = []
    for size in sizes:
        examples = held_out(data.at_size(size), n, seed)
        scores = attention.head_scores(model, examples, scaling)
        best = np.unravel_index(np.argmax(scores.graph), scores.graph.shape)
        decisions = [fork_decisions(model, ex, scaling) for ex in examples]
        first = [d[0] for d in decisions if d]
        every = [x for d in decisions for x in d]
        rows.append(
            SizeRow(
                size=size,
                mazes=n,
                graph_lift=float(scores.graph.max()),
                lattice_lift=float(scores.lattice.max()),
                graph_mass=float(scores.graph_mass[best]),
                graph_chance=float(scores.graph_chance),
                first_fork=float(np.mean(first)) if first else None,
                forks=float(np.mean(every)) if every else None,
                fork_count=len(every),
            )
        )
    return rows


def readable_sizes(data: DataConfig, smallest: int = 3) -> list[int]:
    """Every maze side the model's vocabulary covers, from ``smallest``."""
    return list(range(smallest, data.max_grid + 1))

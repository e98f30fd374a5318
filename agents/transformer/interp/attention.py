"""Adjacency heads: how much a head attends from a coordinate token to its neighbours' tokens.

For a query position spelling cell c, a *related* key is an earlier (or same) position whose
token spells a lattice neighbour of c (Manhattan distance 1: "lattice adjacency") or a cell
connected to c in the maze ("graph adjacency", the ``<-->`` structure).  A head's *mass* is its
attention on related keys; *chance* is what uniform attention over the visible keys would put
there.  The score is the lift ``sum(mass) / sum(chance)`` over queries with a related key:
1 = chance, higher = the head seeks neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import maze_env
from agents.transformer.interp.plots import draw_maze, figure
from agents.transformer.interp.prompts import Solved, as_batch
from agents.transformer.length_scaling import RotaryScaling
from agents.transformer.model import GPT


def lattice_relation(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """bool [p, p]: key k (<= q) spells a lattice neighbour of the cell query q spells."""
    cols = shape[1]
    r, c = np.divmod(cells, cols)
    dist = np.abs(r[:, None] - r[None]) + np.abs(c[:, None] - c[None])
    valid = (cells >= 0)[:, None] & (cells >= 0)[None]
    return valid & (dist == 1) & np.tri(len(cells), dtype=bool)


def graph_relation(cells: np.ndarray, maze: maze_env.Maze) -> np.ndarray:
    """bool [p, p]: key k (<= q) spells a cell connected to the cell query q spells."""
    n = maze.n_cells
    cols = maze.shape[1]
    adj = np.zeros((n + 1, n + 1), bool)  # index n stands for "not a cell"
    for (r1, c1), (r2, c2) in maze.edges:
        adj[r1 * cols + c1, r2 * cols + c2] = adj[r2 * cols + c2, r1 * cols + c1] = True
    idx = np.where(cells >= 0, cells, n)
    return adj[idx[:, None], idx[None]] & np.tri(len(cells), dtype=bool)


def mass_and_chance(pattern: torch.Tensor, relation: np.ndarray) -> tuple[np.ndarray, float]:
    """Summed related-key attention per head, and its chance level, over queries with a key.

    pattern [..., q, k] (rows sum to 1 over keys <= q); relation bool [q, k].
    """
    rel = torch.as_tensor(relation, dtype=pattern.dtype)
    queries = torch.as_tensor(relation.any(1))
    mass = (pattern * rel).sum(-1)[..., queries].sum(-1)
    visible = np.arange(1, len(relation) + 1)
    chance = float((relation.sum(1) / visible)[relation.any(1)].sum())
    return mass.numpy(), chance


@dataclass
class HeadScores:
    """Lift over chance per (layer, head), for lattice and graph adjacency."""

    lattice: np.ndarray  # [layers, heads]
    graph: np.ndarray  # [layers, heads]
    lattice_mass: np.ndarray  # [layers, heads] mean related mass per query
    graph_mass: np.ndarray
    lattice_chance: float  # mean chance mass per query
    graph_chance: float


def frequencies_for(model: GPT, ex: Solved, scaling: RotaryScaling | None):
    """The rotary frequencies the agent would decode ``ex`` with (None: the trained ones)."""
    return None if scaling is None else scaling.frequencies(model.cfg, [len(ex.prompt)])


def pattern_names(model: GPT) -> list[str]:
    return [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]


@torch.no_grad()
def patterns(
    model: GPT, tokens: np.ndarray, rotary_frequencies: torch.Tensor | None = None
) -> torch.Tensor:
    """Attention patterns [layers, heads, q, k] of one sequence (``rotary_frequencies``: as
    ``GPT.forward`` takes them, for length-scaled decoding)."""
    names = pattern_names(model)
    _, cache = model.run_with_cache(as_batch(tokens), names_filter=lambda n: n in names,
                                    rotary_frequencies=rotary_frequencies)  # fmt: skip
    return torch.stack([cache[n][0] for n in names])


def head_scores(
    model: GPT, examples: list[Solved], scaling: RotaryScaling | None = None
) -> HeadScores:
    """Lattice- and graph-adjacency lifts of every head, summed over ``examples`` (with
    ``scaling``: under each prompt's length-scaled rotary frequencies, as the agent decodes)."""
    shape = (model.cfg.n_layers, model.cfg.n_heads)
    sums = {k: np.zeros(shape) for k in ("lattice", "graph")}
    chance = {"lattice": 0.0, "graph": 0.0}
    queries = {"lattice": 0, "graph": 0}
    for ex in examples:
        pat = patterns(model, ex.tokens, frequencies_for(model, ex, scaling))
        for kind, rel in (
            ("lattice", lattice_relation(ex.cells, ex.maze.shape)),
            ("graph", graph_relation(ex.cells, ex.maze)),
        ):
            mass, ch = mass_and_chance(pat, rel)
            sums[kind] += mass
            chance[kind] += ch
            queries[kind] += int(rel.any(1).sum())
    return HeadScores(
        lattice=sums["lattice"] / max(chance["lattice"], 1e-12),
        graph=sums["graph"] / max(chance["graph"], 1e-12),
        lattice_mass=sums["lattice"] / max(queries["lattice"], 1),
        graph_mass=sums["graph"] / max(queries["graph"], 1),
        lattice_chance=chance["lattice"] / max(queries["lattice"], 1),
        graph_chance=chance["graph"] / max(queries["graph"], 1),
    )


def rank_heads(scores: np.ndarray, top: int = 5) -> list[tuple[int, int, float]]:
    """The ``top`` (layer, head, score) triples, best first."""
    order = np.argsort(scores, axis=None)[::-1][:top]
    return [
        (int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.flat[i])) for i in order
    ]


def attention_by_cell(pattern_row: torch.Tensor, cells: np.ndarray, shape) -> np.ndarray:
    """One query's attention [k] summed over the positions spelling each cell → (rows, cols)."""
    out = np.zeros(shape[0] * shape[1])
    row = pattern_row.numpy()[: len(cells)]
    np.add.at(out, cells[cells >= 0], row[cells >= 0])
    return out.reshape(shape)


def plot_head(model: GPT, ex: Solved, layer: int, head: int, query: int | None = None):
    """A figure of head (layer, head)'s attention from ``query`` (default: the origin token,
    where the model predicts the first step) summed per cell, over the maze."""
    query = int(ex.path_positions[0]) if query is None else query
    pat = patterns(model, ex.tokens)[layer, head, query]
    fig, (ax,) = figure()
    draw_maze(
        ax,
        ex.maze,
        attention_by_cell(pat, ex.cells, ex.maze.shape),
        list(ex.path),
        f"L{layer}H{head} attention from position {query} per cell",
    )
    return fig

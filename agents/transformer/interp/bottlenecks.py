"""Bottlenecks and dead ends.

* Bottleneck attention: bottlenecks are articulation points of the maze graph that lie on the
  solution (origin and target excluded; in a tree maze these are the interior path cells of
  degree >= 2).  From every path position, per head: mean attention per adjacency-list token
  spelling a bottleneck, divided by the mean per token spelling a cell off the solution.
* Dead-end logit lens: at every path position and residual point, the mean logit (centred over
  the grid's coordinate tokens) of dead ends off the solution, of other off-solution cells and
  of the cells on the remaining path.  "Discarding dead ends" predicts dead ends fall below
  other off-path cells in early layers.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

import maze_env
from agents.transformer.interp.attention import patterns
from agents.transformer.interp.lens import layer_logits
from agents.transformer.interp.prompts import Solved
from agents.transformer.model import GPT

LENS_GROUPS = ("dead ends off path", "other off-path cells", "remaining path")


def bottlenecks(maze: maze_env.Maze, path) -> set[tuple[int, int]]:
    """Articulation points of the maze graph on ``path``, endpoints excluded."""
    graph = nx.Graph(maze.edges)
    cuts = set(nx.articulation_points(graph))
    return {c for c in path[1:-1] if c in cuts}


def bottleneck_attention(model: GPT, examples: list[Solved]) -> np.ndarray:
    """[layers, heads] ratio of per-token attention on bottleneck vs off-solution cell tokens."""
    shape = (model.cfg.n_layers, model.cfg.n_heads)
    on, off = np.zeros(shape), np.zeros(shape)
    cols = examples[0].maze.shape[1]
    for ex in examples:
        pat = patterns(model, ex.tokens)[:, :, ex.path_positions]  # [l, h, m, k]
        listed = np.arange(len(ex.tokens)) < ex.path_start  # the adjacency list and endpoints
        flat = {r * cols + c for r, c in bottlenecks(ex.maze, ex.path)}
        path_cells = {r * cols + c for r, c in ex.path}
        is_b = listed & np.isin(ex.cells, list(flat))
        is_off = listed & (ex.cells >= 0) & ~np.isin(ex.cells, list(path_cells))
        if not is_b.any() or not is_off.any():
            continue
        on += pat[..., torch.as_tensor(is_b)].mean((-1, -2)).numpy()
        off += pat[..., torch.as_tensor(is_off)].mean((-1, -2)).numpy()
    return on / np.maximum(off, 1e-12)


def dead_end_lens(model: GPT, examples: list[Solved], coord_ids: np.ndarray) -> np.ndarray:
    """[n_layers + 1, len(LENS_GROUPS)] mean centred logit per cell group."""
    grid = torch.as_tensor(np.asarray(coord_ids).ravel())
    sums = np.zeros((model.cfg.n_layers + 1, len(LENS_GROUPS)))
    counts = np.zeros(len(LENS_GROUPS))
    cols = examples[0].maze.shape[1]
    for ex in examples:
        pos = ex.path_positions[:-1]
        logits = layer_logits(model, ex, pos)[..., grid]  # [layers, m, cells]
        logits = (logits - logits.mean(-1, keepdim=True)).numpy()
        path_cells = {r * cols + c for r, c in ex.path}
        dead = {r * cols + c for r, c in ex.maze.dead_ends} - path_cells
        other = set(range(ex.maze.n_cells)) - path_cells - dead
        for k in range(len(pos)):
            ahead = {r * cols + c for r, c in ex.path[k + 1 :]}
            for g, cells in enumerate((dead, other, ahead)):
                if cells:
                    sums[:, g] += logits[:, k, sorted(cells)].mean(-1)
                    counts[g] += 1
    return sums / np.maximum(counts, 1)

"""Activation patching: a clean and a corrupted prompt that differ by one moved wall.

The corrupted maze removes one connection on the solution and opens another lattice edge
across the cut, so it is still a tree and its prompt has the same length: only the two cell
tokens of one adjacency-list entry change.  Both prompts are teacher-forced along the common
prefix of the two solutions, up to the step where they diverge; the metric is the logit
difference ``clean next cell - corrupted next cell`` at the last position.  Patching the clean
residual stream (``blocks.{l}.hook_resid_pre``, and the final ``hook_resid_post``) into the
corrupted run at some positions gives a *restoration*: 0 = corrupted, 1 = clean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import maze_env
from agents.transformer.interp.prompts import Solved, as_batch
from agents.transformer.model import GPT
from maze_env.tokens import ADJ_END, ORIGIN_START

GROUPS = (
    "moved edge",
    "edges of a solution",
    "other edges",
    "origin/target",
    "path so far",
    "current token",
)


@dataclass
class Pair:
    """Aligned clean/corrupted token ids and the two competing next tokens."""

    clean: np.ndarray  # [p]
    corrupt: np.ndarray  # [p]
    clean_next: int
    corrupt_next: int
    groups: np.ndarray  # [len(GROUPS), p] bool: position groups


def _set_edge(conn: np.ndarray, a, b, value: bool) -> None:
    """Open or close the lattice edge a-b in a (2, rows, cols) connections array."""
    (r1, c1), (r2, _) = sorted([a, b])
    conn[0 if r1 != r2 else 1, r1, c1] = value


def moved_wall(maze: maze_env.Maze, path, rng: np.random.Generator) -> tuple[tuple, tuple] | None:
    """(removed connection on ``path``, added lattice edge across the cut), or None."""
    rows, cols = maze.shape
    for i in rng.permutation(len(path) - 1):
        a, b = path[i], path[i + 1]
        conn = maze.connections.copy()
        _set_edge(conn, a, b, False)
        side = maze_env.Maze(conn).distances(path[0]) >= 0  # the origin's component
        options = [
            ((r, c), (r + dr, c + dc))
            for r in range(rows)
            for c in range(cols)
            for dr, dc in ((1, 0), (0, 1))
            if r + dr < rows
            and c + dc < cols
            and side[r, c] != side[r + dr, c + dc]
            and {(r, c), (r + dr, c + dc)} != {a, b}
        ]
        if options:
            return (a, b), options[int(rng.integers(len(options)))]
    return None


def _with_edge(maze: maze_env.Maze, removed, added) -> maze_env.Maze:
    conn = maze.connections.copy()
    _set_edge(conn, *removed, False)
    _set_edge(conn, *added, True)
    return maze_env.Maze(conn)


def make_pair(ex: Solved, vocab: maze_env.Vocabulary, rng: np.random.Generator) -> Pair | None:
    """A moved-wall pair from ``ex`` (None if the maze offers no such move)."""
    move = moved_wall(ex.maze, ex.path, rng)
    if move is None:
        return None
    removed, added = move
    other = _with_edge(ex.maze, removed, added)
    alt = other.shortest_path(ex.origin, ex.target)
    m = next(i for i, (x, y) in enumerate(zip(ex.path, alt)) if x != y)
    cut = ex.path_start + m + 1  # sequence through path[m - 1]
    ids = [vocab.coord_ids[c] for c in removed]
    entry = next(
        i
        for i in range(len(ex.tokens) - 2)
        if {int(ex.tokens[i]), int(ex.tokens[i + 2])} == set(map(int, ids))
    )
    clean = ex.tokens[:cut].copy()
    corrupt = clean.copy()
    corrupt[entry], corrupt[entry + 2] = vocab.coord_ids[added[0]], vocab.coord_ids[added[1]]
    groups = np.zeros((len(GROUPS), cut), bool)
    adj_end = int(np.flatnonzero(clean == vocab.special[ADJ_END])[0])
    origin_start = int(np.flatnonzero(clean == vocab.special[ORIGIN_START])[0])
    on_solution = {vocab.coord_ids[c] for c in (*ex.path, *alt)}
    for start in range(1, adj_end, 4):  # entries: a <--> b ;
        span = slice(start, start + 4)
        if start == entry:
            groups[0, span] = True
        elif {int(clean[start]), int(clean[start + 2])} <= on_solution:
            groups[1, span] = True
        else:
            groups[2, span] = True
    groups[2, [0, adj_end]] = True
    groups[3, origin_start : ex.path_start + 1] = True
    groups[4, ex.path_start + 1 : cut - 1] = True
    groups[5, cut - 1] = True
    return Pair(
        clean, corrupt, int(vocab.coord_ids[ex.path[m]]), int(vocab.coord_ids[alt[m]]), groups
    )


def patch_points(model: GPT) -> list[str]:
    """Residual points patched: before each layer, and after the last."""
    n = model.cfg.n_layers
    return [f"blocks.{i}.hook_resid_pre" for i in range(n)] + [f"blocks.{n - 1}.hook_resid_post"]


@torch.no_grad()
def logit_diff(model: GPT, pair: Pair, tokens: np.ndarray) -> float:
    logits = model(as_batch(tokens))[0, -1]
    return float(logits[pair.clean_next] - logits[pair.corrupt_next])


@torch.no_grad()
def patch_sweep(model: GPT, source: np.ndarray, dest: np.ndarray, masks: np.ndarray, pair: Pair):
    """Logit difference [len(patch_points), len(masks)] of ``dest`` runs where, for row g, the
    residual at the positions in ``masks[g]`` comes from the ``source`` run."""
    names = patch_points(model)
    _, cache = model.run_with_cache(as_batch(source), names_filter=lambda n: n in names)
    sel = torch.as_tensor(masks)[:, :, None]
    batch = as_batch(dest).expand(len(masks), -1)
    out = np.zeros((len(names), len(masks)))
    for i, name in enumerate(names):
        clean = cache[name]

        def hook(act, hook, clean=clean):
            return torch.where(sel, clean, act)

        logits = model.run_with_hooks(batch, fwd_hooks=[(name, hook)])[:, -1]
        out[i] = (logits[:, pair.clean_next] - logits[:, pair.corrupt_next]).numpy()
    return out


def restoration(model: GPT, pair: Pair, masks: np.ndarray) -> np.ndarray:
    """(patched - corrupt) / (clean - corrupt) logit difference, [points, masks]."""
    clean, corrupt = logit_diff(model, pair, pair.clean), logit_diff(model, pair, pair.corrupt)
    patched = patch_sweep(model, pair.clean, pair.corrupt, masks, pair)
    return (patched - corrupt) / (clean - corrupt)


def group_patching(
    model: GPT, examples: list[Solved], vocab: maze_env.Vocabulary, seed: int = 0
) -> tuple[np.ndarray, int, int]:
    """Mean restoration [points, GROUPS] over the pairs the model gets right both ways.

    Returns (restoration, pairs used, pairs built)."""
    rng = np.random.default_rng(seed)
    total, used, built = np.zeros((len(patch_points(model)), len(GROUPS))), 0, 0
    for ex in examples:
        pair = make_pair(ex, vocab, rng)
        if pair is None:
            continue
        built += 1
        if logit_diff(model, pair, pair.clean) <= 0 or logit_diff(model, pair, pair.corrupt) >= 0:
            continue
        total += restoration(model, pair, pair.groups)
        used += 1
    return total / max(used, 1), used, built


def first_pair(examples: list[Solved], vocab, seed: int = 0) -> Pair | None:
    rng = np.random.default_rng(seed)
    return next((p for p in (make_pair(ex, vocab, rng) for ex in examples) if p), None)

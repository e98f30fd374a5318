"""Clustering of coordinate-token representations per layer (the seed post's t-SNE experiment).

Points: the residual stream at every coordinate token of the adjacency list, at each residual
point (embeddings, then after each layer); label: is that token's cell on the solution path?
The adjacency list comes before ``<ORIGIN_START>`` and ``<TARGET_START>``, so under causal
attention these positions cannot know the endpoints: any separation beyond the embedding row
(token identity alone) comes from what the model reads of the maze around the cell (dead ends,
corridors lie on fewer paths), not from a plan.

Two numbers per layer: the silhouette of the two groups (Euclidean, on a seeded subsample;
0 = no clustering, 1 = tight separate clusters) and the held-out balanced accuracy of a linear
probe (``probes.fit_probe``, split by maze).  The figure is a 2-D PCA per layer (no t-SNE:
scikit-learn is not a dependency, and PCA keeps distances honest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.transformer.interp.probes import fit_probe
from agents.transformer.interp.prompts import Solved, residuals
from agents.transformer.model import GPT


@dataclass
class ClusterResult:
    pca: np.ndarray  # [points, m, 2] the subsample in each point's top-2 principal components
    on_path: np.ndarray  # [m] bool, the subsample's labels
    silhouette: np.ndarray  # [points]
    balanced: np.ndarray  # [points] held-out probe balanced accuracy


def adjacency_coordinates(ex: Solved) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the adjacency list's coordinate tokens, bool: cell on the path)."""
    positions = np.flatnonzero(ex.cells[: ex.path_start - 6] >= 0)  # before <ADJLIST_END>
    cols = ex.maze.shape[1]
    path = {r * cols + c for r, c in ex.path}
    return positions, np.isin(ex.cells[positions], list(path))


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a two-group labelling (Euclidean distances)."""
    x = np.asarray(x, np.float64)
    sq = (x**2).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * x @ x.T, 0))
    same = labels[:, None] == labels[None]
    np.fill_diagonal(same, False)
    a = (d * same).sum(1) / np.maximum(same.sum(1), 1)
    other = labels[:, None] != labels[None]
    b = (d * other).sum(1) / np.maximum(other.sum(1), 1)
    return float(np.mean((b - a) / np.maximum(np.maximum(a, b), 1e-12)))


def pca2(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def coordinate_clusters(
    model: GPT, examples: list[Solved], seed: int = 0, sample: int = 1500, train_frac: float = 0.75
) -> ClusterResult:
    """Silhouette, probe and PCA of on-path vs off-path adjacency-list coordinate tokens."""
    feats, labels, maze = [], [], []
    for i, ex in enumerate(examples):
        positions, on = adjacency_coordinates(ex)
        feats.append(residuals(model, ex.tokens)[:, positions].numpy())
        labels.append(on)
        maze.append(np.full(len(on), i))
    x, y, maze = np.concatenate(feats, 1), np.concatenate(labels), np.concatenate(maze)
    split = min(max(1, round(len(examples) * train_frac)), len(examples) - 1)
    train = maze < split
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(y), min(sample, len(y)), replace=False)
    balanced = [
        fit_probe(layer[train], y[train, None], layer[~train], y[~train, None], seed).balanced
        for layer in x
    ]
    return ClusterResult(
        pca=np.stack([pca2(layer[pick]) for layer in x]),
        on_path=y[pick],
        silhouette=np.array([silhouette(layer[pick], y[pick]) for layer in x]),
        balanced=np.array(balanced),
    )

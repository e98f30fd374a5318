"""Geometry of the coordinate embeddings and of the heads' OV / QK circuits.

* Spearman correlation between embedding distance (cosine) and lattice (Manhattan) distance.
* PCA of the coordinate embeddings; R^2 of (row, col) from the top two components.
* Per head, the coordinate-by-coordinate QK matrix ``E W_Q W_K^T E^T`` (E = coordinate
  embeddings through ``ln1``; rotary ignored, i.e. read at relative position 0): how much
  higher it scores lattice neighbours than other pairs (a z-score), and the OV matrix
  ``E W_V W_O W_U`` read on coordinate tokens: how often a token's top output is itself
  (copying) or a lattice neighbour.  The top singular vectors of ``W_V W_O`` are read against
  the embeddings (the tokens with the largest cosine).  Beyond layer 0 the residual is not the
  embedding, so these are first-order reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from agents.transformer.interp.plots import figure
from agents.transformer.model import GPT


def coordinate_embeddings(model: GPT, coord_ids: np.ndarray) -> np.ndarray:
    """[rows * cols, d_model] embeddings of the grid's coordinate tokens (row-major)."""
    return model.W_E[torch.as_tensor(coord_ids.ravel())].detach().numpy()


def lattice_distances(shape: tuple[int, int]) -> np.ndarray:
    r, c = np.divmod(np.arange(shape[0] * shape[1]), shape[1])
    return np.abs(r[:, None] - r[None]) + np.abs(c[:, None] - c[None])


def distance_correlation(emb: np.ndarray, shape: tuple[int, int]) -> float:
    """Spearman rho of cosine distance vs Manhattan distance over all cell pairs."""
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos_dist = 1 - unit @ unit.T
    upper = np.triu_indices(len(emb), 1)
    return float(spearmanr(cos_dist[upper], lattice_distances(shape)[upper]).statistic)


def pca(emb: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(projections [n, k], explained variance ratio [k])."""
    centred = emb - emb.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T, (s[:k] ** 2) / (s**2).sum()


def pca_r2(proj: np.ndarray, shape: tuple[int, int]) -> float:
    """Mean R^2 of a least-squares fit of row and col from the projections."""
    r, c = np.divmod(np.arange(shape[0] * shape[1]), shape[1])
    x = np.column_stack([proj, np.ones(len(proj))])
    scores = []
    for y in (r, c):
        fit = x @ np.linalg.lstsq(x, y, rcond=None)[0]
        scores.append(1 - ((y - fit) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12))
    return float(np.mean(scores))


def plot_pca(proj: np.ndarray, shape: tuple[int, int], title: str = ""):
    """Coordinate embeddings on their top two PCs, lattice edges drawn."""
    fig, (ax,) = figure(width=5, height=5)
    rows, cols = shape
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        for j in ((r + 1) * cols + c if r + 1 < rows else None, i + 1 if c + 1 < cols else None):
            if j is not None:
                ax.plot(proj[[i, j], 0], proj[[i, j], 1], color="0.8", lw=0.8, zorder=0)
        ax.annotate(f"{r},{c}", proj[i], fontsize=7, ha="center", va="center")
    ax.scatter(
        proj[:, 0], proj[:, 1], c=np.arange(rows * cols) // cols, cmap="coolwarm", s=60, alpha=0.5
    )
    ax.set_title(title, fontsize=9)
    return fig


@dataclass
class HeadGeometry:
    """Per (layer, head) reads on the coordinate tokens."""

    qk_neighbour_z: np.ndarray  # [layers, heads]
    ov_copy: np.ndarray  # [layers, heads] share of tokens whose top OV output is themselves
    ov_neighbour: np.ndarray  # [layers, heads] share whose top OV output is a lattice neighbour
    ov_top_tokens: list[list[list[int]]]  # [layers][heads] -> cells most aligned with top sing. vec


@torch.no_grad()
def head_geometry(
    model: GPT, coord_ids: np.ndarray, shape: tuple[int, int], top: int = 3
) -> HeadGeometry:
    ids = torch.as_tensor(coord_ids.ravel())
    adjacent = torch.as_tensor(lattice_distances(shape) == 1)
    n, h = model.cfg.n_layers, model.cfg.n_heads
    qk_z, copy, neigh = np.zeros((n, h)), np.zeros((n, h)), np.zeros((n, h))
    tokens: list[list[list[int]]] = []
    emb_unit = model.W_E[ids] / model.W_E[ids].norm(dim=1, keepdim=True)
    for i, block in enumerate(model.blocks):
        e = block.ln1(model.W_E[ids])
        tokens.append([])
        for j in range(h):
            att = block.attn
            qk = (e @ att.W_Q[j]) @ (e @ att.W_K[j]).T
            off = ~torch.eye(len(ids), dtype=torch.bool)
            rest = qk[off & ~adjacent]
            qk_z[i, j] = float((qk[adjacent].mean() - rest.mean()) / (rest.std() + 1e-12))
            ov = att.W_V[j] @ att.W_O[j]  # [d, d]
            out = (e @ ov @ model.W_U[:, ids]).argmax(1)
            copy[i, j] = float((out == torch.arange(len(ids))).float().mean())
            neigh[i, j] = float(adjacent[torch.arange(len(ids)), out].float().mean())
            vt = torch.linalg.svd(ov).Vh
            sims = emb_unit @ vt[0]  # the top output direction against the embeddings
            tokens[i].append([int(x) for x in sims.abs().argsort(descending=True)[:top]])
    return HeadGeometry(qk_z, copy, neigh, tokens)

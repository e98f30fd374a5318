"""Linear probes on the residual stream, per layer (torch logistic regression, seeded).

* walls: at ``<PATH_START>`` and at the origin token after it, decode whether each lattice edge
  of the grid is open.
* future path: at each path position, decode for every cell whether it lies on the remaining
  path (the seed post's "precognition" hypothesis).
* walls, other readings (``wall_probe_designs``): the whole maze at ``<ADJLIST_END>``, and at
  each ``;`` of the adjacency list the one edge its connection names (where Spies et al. find
  connectivity consolidated).

Examples are split by maze into train/held-out; accuracy is on the held-out mazes, against the
majority-class baseline learned on the training mazes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.transformer.interp.prompts import Solved, residuals
from agents.transformer.model import GPT
from maze_env.tokens import ADJ_END, CONNECTOR, SEP


@dataclass
class ProbeResult:
    """Held-out accuracy (mean over features), majority baseline, balanced accuracy."""

    accuracy: float
    baseline: float
    balanced: float


def _fit_linear(x_train, x_test, y_train, n_out: int, loss, seed, steps, lr, weight_decay):
    """Fit ``x @ w + b`` (features standardised on the training rows, seeded init, Adam) under
    ``loss(logits, y_train)``; return the held-out logits."""
    xtr, xte = (torch.as_tensor(a, dtype=torch.float32) for a in (x_train, x_test))
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(xtr.shape[1], n_out, generator=gen) * 0.01).requires_grad_()
    b = torch.zeros(n_out, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        loss(xtr @ w + b, y_train).backward()
        opt.step()
    with torch.no_grad():
        return xte @ w + b


def fit_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    seed: int = 0,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-3,
) -> ProbeResult:
    """One logistic regression per label column; x [n, d] float, y [n, k] bool."""
    ytr = torch.as_tensor(y_train, dtype=torch.float32)
    logits = _fit_linear(
        x_train, x_test, ytr, ytr.shape[1],
        torch.nn.functional.binary_cross_entropy_with_logits, seed, steps, lr, weight_decay,
    )  # fmt: skip
    pred = (logits > 0).numpy()
    y_test = np.asarray(y_test, bool)
    majority = np.asarray(y_train, bool).mean(0) >= 0.5
    pos, neg = y_test.sum(0), (~y_test).sum(0)
    both = (pos > 0) & (neg > 0)
    tpr = (pred & y_test).sum(0)[both] / pos[both]
    tnr = (~pred & ~y_test).sum(0)[both] / neg[both]
    return ProbeResult(
        accuracy=float((pred == y_test).mean()),
        baseline=float((majority[None] == y_test).mean()),
        balanced=float(((tpr + tnr) / 2).mean()) if both.any() else float("nan"),
    )


def fit_classifier(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    seed: int = 0,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-3,
) -> ProbeResult:
    """One softmax regression over classes ``y`` [n] int; ``accuracy`` is held-out top-1,
    ``baseline`` the most frequent training class, ``balanced`` the mean per-class recall."""
    k = int(max(y_train.max(), y_test.max())) + 1
    ytr = torch.as_tensor(y_train, dtype=torch.long)
    logits = _fit_linear(
        x_train, x_test, ytr, k, torch.nn.functional.cross_entropy, seed, steps, lr, weight_decay
    )
    pred = logits.argmax(1).numpy()
    seen = np.unique(y_test)
    return ProbeResult(
        accuracy=float((pred == y_test).mean()),
        baseline=float((y_test == np.bincount(y_train).argmax()).mean()),
        balanced=float(np.mean([(pred[y_test == c] == c).mean() for c in seen])),
    )


def lattice_edges(maze) -> np.ndarray:
    """bool [edges]: every lattice edge of the grid (down edges, then right edges), open or not."""
    conn = maze.connections
    return np.concatenate([conn[0, :-1, :].ravel(), conn[1, :, :-1].ravel()])


def remaining_path(ex: Solved, k: int) -> np.ndarray:
    """bool [cells]: the cells of ``ex.path[k + 1:]``."""
    out = np.zeros(ex.maze.n_cells, bool)
    cols = ex.maze.shape[1]
    for r, c in ex.path[k + 1 :]:
        out[r * cols + c] = True
    return out


def _probe_layers(feats: list[np.ndarray], labels: list[np.ndarray], split: int, seed: int):
    """feats: per example [layers, m, d]; labels per example [m, k]; first ``split`` train."""
    x = [np.concatenate(f, 1) for f in (feats[:split], feats[split:])]
    y = [np.concatenate(lab, 0) for lab in (labels[:split], labels[split:])]
    return [
        fit_probe(x[0][layer], y[0], x[1][layer], y[1], seed=seed) for layer in range(x[0].shape[0])
    ]


def _split(n: int, train_frac: float) -> int:
    if n < 2:
        raise ValueError(f"probes need at least 2 examples, got {n}")
    return min(max(1, round(n * train_frac)), n - 1)


WALL_PROBE_POSITIONS = ("path_start", "origin")


def wall_probes(
    model: GPT, examples: list[Solved], seed: int = 0, train_frac: float = 0.75
) -> dict[str, list[ProbeResult]]:
    """Per residual point (embeddings, then after each layer): decode every lattice edge, at
    ``<PATH_START>`` and at the origin token after it (where the first move is predicted)."""
    feats: dict[str, list[np.ndarray]] = {at: [] for at in WALL_PROBE_POSITIONS}
    labels = []
    for ex in examples:
        resid = residuals(model, ex.tokens)
        feats["path_start"].append(resid[:, [ex.path_start]].numpy())
        feats["origin"].append(resid[:, [ex.path_positions[0]]].numpy())
        labels.append(lattice_edges(ex.maze)[None])
    split = _split(len(examples), train_frac)
    return {at: _probe_layers(f, labels, split, seed) for at, f in feats.items()}


def future_path_probes(
    model: GPT, examples: list[Solved], seed: int = 0, train_frac: float = 0.75
) -> list[ProbeResult]:
    """Per residual point: at each path token but the last, decode "cell on the remaining path"."""
    feats, labels = [], []
    for ex in examples:
        k = np.arange(len(ex.path) - 1)
        feats.append(residuals(model, ex.tokens)[:, ex.path_positions[k]].numpy())
        labels.append(np.stack([remaining_path(ex, i) for i in k]))
    return _probe_layers(feats, labels, _split(len(examples), train_frac), seed)


def listed_edges(ex: Solved, vocab) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the adjacency list's ``;`` tokens, one-hot [n, lattice edges] of the edge
    each one closes), edges ordered as ``lattice_edges``."""
    rows, cols = ex.maze.shape
    n_down = (rows - 1) * cols
    sep, conn = vocab.special[SEP], vocab.special[CONNECTOR]
    positions = np.flatnonzero(ex.tokens[: ex.path_start] == sep)
    labels = np.zeros((len(positions), n_down + rows * (cols - 1)), bool)
    for i, p in enumerate(positions):
        if ex.tokens[p - 2] != conn:
            raise ValueError(f"position {p}: expected 'a <--> b ;' before the ';'")
        (r1, c1), (r2, _) = sorted(divmod(int(ex.cells[q]), cols) for q in (p - 3, p - 1))
        labels[i, r1 * cols + c1 if r2 > r1 else n_down + r1 * (cols - 1) + c1] = True
    return positions, labels


def wall_probe_designs(
    model: GPT, examples: list[Solved], vocab, seed: int = 0, train_frac: float = 0.75
) -> dict[str, list[ProbeResult]]:
    """Per residual point: every lattice edge open? at ``<ADJLIST_END>`` (the whole list read),
    and "which edge does this connection name?" at each ``;`` (one softmax over the edges:
    accuracy is top-1, balanced the mean per-edge recall, chance 1 / edges)."""
    end = vocab.special[ADJ_END]
    at_end, at_sep, walls, named = [], [], [], []
    for ex in examples:
        resid = residuals(model, ex.tokens)
        positions, labels = listed_edges(ex, vocab)
        at_end.append(resid[:, np.flatnonzero(ex.tokens == end)[:1]].numpy())
        at_sep.append(resid[:, positions].numpy())
        walls.append(lattice_edges(ex.maze)[None])
        named.append(labels)
    split = _split(len(examples), train_frac)
    x = [np.concatenate(f, 1) for f in (at_sep[:split], at_sep[split:])]
    y = [np.concatenate(lab, 0).argmax(1) for lab in (named[:split], named[split:])]
    return {
        "walls at <ADJLIST_END>": _probe_layers(at_end, walls, split, seed),
        "edge named, at each ;": [
            fit_classifier(x[0][layer], y[0], x[1][layer], y[1], seed) for layer in range(len(x[0]))
        ],
    }

"""Matplotlib helpers (Agg backend): a maze drawn as a heat map, atomic PNG saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from maze_env.files import write_file

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import maze_env


def draw_maze(ax, maze: maze_env.Maze, values: np.ndarray | None = None, path=None, title=""):
    """Cells coloured by ``values`` (rows, cols), walls as black lines, ``path`` as a line."""
    rows, cols = maze.shape
    if values is not None:
        im = ax.imshow(values, cmap="viridis", extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
    conn = maze.connections
    for r in range(rows):
        for c in range(cols):
            if r + 1 < rows and not conn[0, r, c]:
                ax.plot([c - 0.5, c + 0.5], [r + 0.5, r + 0.5], "k", lw=2)
            if c + 1 < cols and not conn[1, r, c]:
                ax.plot([c + 0.5, c + 0.5], [r - 0.5, r + 0.5], "k", lw=2)
    ax.plot(
        [-0.5, cols - 0.5, cols - 0.5, -0.5, -0.5],
        [-0.5, -0.5, rows - 0.5, rows - 0.5, -0.5],
        "k",
        lw=2,
    )
    if path:
        ys, xs = zip(*path)
        ax.plot(xs, ys, "r-", lw=1.5)
        ax.plot(xs[0], ys[0], "wo", ms=8)
        ax.plot(xs[-1], ys[-1], "wx", ms=10, mew=2)
    ax.set_xlim(-0.6, cols - 0.4)
    ax.set_ylim(rows - 0.4, -0.6)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_title(title, fontsize=9)


def save(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    try:
        return write_file(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight"), ".png")
    finally:
        plt.close(fig)


def figure(ncols: int = 1, width: float = 4.5, height: float = 4.0, nrows: int = 1):
    """A figure and its axes, flat (``width`` x ``height`` inches per panel)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()

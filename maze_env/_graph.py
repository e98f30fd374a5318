"""Numba graph kernels on lattice mazes (cells indexed ``r * cols + c``).

Connections follow maze-dataset's layout: ``conn[0, r, c]`` joins (r, c)–(r+1, c) and
``conn[1, r, c]`` joins (r, c)–(r, c+1).  Neighbour order everywhere is N, S, W, E.
"""

from __future__ import annotations

import numpy as np

from maze_env._jit import kernel

DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # N, S, W, E


@kernel(inline="always")
def is_open(conn: np.ndarray, r: int, c: int, d: int) -> bool:
    """Whether the edge from (r, c) in direction d (0 N, 1 S, 2 W, 3 E) is open."""
    rows, cols = conn.shape[1], conn.shape[2]
    if d == 0:
        return r > 0 and conn[0, r - 1, c]
    if d == 1:
        return r < rows - 1 and conn[0, r, c]
    if d == 2:
        return c > 0 and conn[1, r, c - 1]
    return c < cols - 1 and conn[1, r, c]


@kernel(inline="always")
def neighbor(cell: int, d: int, cols: int) -> int:
    """The flat cell one step from ``cell`` in direction d (0 N, 1 S, 2 W, 3 E); meaningful
    where ``is_open`` says the edge exists (an open edge never leaves the grid)."""
    if d == 0:
        return cell - cols
    if d == 1:
        return cell + cols
    if d == 2:
        return cell - 1
    return cell + 1


@kernel
def bfs_distances(conn: np.ndarray, src: int, dist: np.ndarray, queue: np.ndarray) -> None:
    """Fill ``dist`` (flat, int32) with BFS distances from ``src``; -1 where unreachable."""
    cols = conn.shape[2]
    dist[:] = -1
    dist[src] = 0
    queue[0] = src
    head, tail = 0, 1
    while head < tail:
        cell = queue[head]
        head += 1
        r, c = cell // cols, cell % cols
        for d in range(4):
            if is_open(conn, r, c, d):
                nxt = neighbor(cell, d, cols)
                if dist[nxt] < 0:
                    dist[nxt] = dist[cell] + 1
                    queue[tail] = nxt
                    tail += 1


@kernel
def path_from_distances(
    conn: np.ndarray, dist_to_dst: np.ndarray, src: int, out: np.ndarray
) -> int:
    """Walk downhill in ``dist_to_dst`` from ``src``; write cells to ``out``; return length.

    Ties are broken by neighbour order (N, S, W, E), so the result is deterministic.
    Returns 0 when the destination is unreachable.
    """
    cols = conn.shape[2]
    if dist_to_dst[src] < 0:
        return 0
    cell = src
    n = 0
    out[n] = cell
    n += 1
    while dist_to_dst[cell] > 0:
        r, c = cell // cols, cell % cols
        for d in range(4):
            if is_open(conn, r, c, d):
                nxt = neighbor(cell, d, cols)
                if dist_to_dst[nxt] == dist_to_dst[cell] - 1:
                    cell = nxt
                    break
        out[n] = cell
        n += 1
    return n


@kernel
def solve_batch(
    conns: np.ndarray, origins: np.ndarray, targets: np.ndarray, paths: np.ndarray
) -> np.ndarray:
    """Shortest paths for a batch: ``paths`` (n, max_len) is filled (-1 padded); returns lengths."""
    n = conns.shape[0]
    cells = conns.shape[2] * conns.shape[3]
    dist = np.empty(cells, np.int32)
    queue = np.empty(cells, np.int32)
    lengths = np.zeros(n, np.int32)
    paths[:] = -1
    for i in range(n):
        bfs_distances(conns[i], targets[i], dist, queue)
        lengths[i] = path_from_distances(conns[i], dist, origins[i], paths[i])
    return lengths


@kernel
def degrees(conn: np.ndarray) -> np.ndarray:
    """Number of open connections of every cell, shape (rows, cols)."""
    rows, cols = conn.shape[1], conn.shape[2]
    deg = np.zeros((rows, cols), np.int32)
    for r in range(rows):
        for c in range(cols):
            if conn[0, r, c]:
                deg[r, c] += 1
                deg[r + 1, c] += 1
            if conn[1, r, c]:
                deg[r, c] += 1
                deg[r, c + 1] += 1
    return deg


@kernel
def component_size(conn: np.ndarray, src: int) -> int:
    """Number of cells reachable from ``src`` (itself included)."""
    cells = conn.shape[1] * conn.shape[2]
    dist = np.empty(cells, np.int32)
    queue = np.empty(cells, np.int32)
    bfs_distances(conn, src, dist, queue)
    return int((dist >= 0).sum())

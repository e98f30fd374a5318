"""The immutable ``Maze``: a rectangular lattice with a set of open connections."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from maze_env._graph import DIRECTIONS, bfs_distances, degrees, path_from_distances

Coord = tuple[int, int]
Shape = tuple[int, int]


def is_int(value) -> bool:
    """An int (numpy ints too) that is not a bool: how every kwarg check reads "an int"."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


MAX_SIDE = 4096  # the longest side of a maze (16.8M cells): bounds what a typo can allocate


def normalize_shape(shape, what: str = "shape") -> Shape:
    """``6`` or ``(6, 6)`` → ``(6, 6)``; anything else raises a ValueError naming ``what``."""
    if is_int(shape):
        shape = (shape, shape)
    try:
        rows, cols = shape
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or (rows, cols), got {shape!r}") from None
    if not (is_int(rows) and is_int(cols)):
        raise ValueError(f"{what} must be an int or (rows, cols) of ints, got {shape!r}")
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
        raise ValueError(f"{what}: each side must be in [1, {MAX_SIDE}], got {shape!r}")
    return int(rows), int(cols)


class Maze:
    """A lattice maze: ``connections[0, i, j]`` opens (i,j)–(i+1,j), ``[1, i, j]`` (i,j)–(i,j+1).

    Immutable, hashable, comparable and picklable.  Build it with ``Maze.from_connections``
    or a generator (``maze_env.generate``).
    """

    __slots__ = ("_conn", "_hash")

    def __init__(self, connections: np.ndarray):
        conn = np.array(connections, dtype=np.bool_, copy=True)
        if conn.ndim != 3 or conn.shape[0] != 2 or conn.shape[1] < 1 or conn.shape[2] < 1:
            raise ValueError(f"connections must have shape (2, rows, cols), got {conn.shape}")
        if conn[0, -1, :].any() or conn[1, :, -1].any():
            raise ValueError(
                "connections open an edge leaving the grid: connections[0, -1, :] and "
                "connections[1, :, -1] must be False"
            )
        conn.setflags(write=False)
        self._conn = conn
        self._hash: int | None = None

    @classmethod
    def from_connections(cls, connections) -> Maze:
        """Build a maze from a bool array of shape (2, rows, cols) (maze-dataset's layout)."""
        return cls(np.asarray(connections))

    @classmethod
    def from_hex(cls, shape: Shape | int, text: str) -> Maze:
        """The maze ``to_hex`` wrote (with its shape): results files store mazes this way."""
        rows, cols = normalize_shape(shape)
        try:
            packed = np.frombuffer(bytes.fromhex(text), np.uint8)
        except ValueError as err:
            raise ValueError(f"not a maze's hex string: {err}") from None
        if len(packed) != -(-2 * rows * cols // 8):
            raise ValueError(f"{len(packed)} bytes of hex do not hold a {rows}x{cols} maze "
                             f"(needs {-(-2 * rows * cols // 8)})")  # fmt: skip
        bits = np.unpackbits(packed)[: 2 * rows * cols]
        return cls(bits.reshape(2, rows, cols).astype(bool))

    def to_hex(self) -> str:
        """The connections bit-packed as hex (``from_hex`` with the shape reads them back)."""
        return np.packbits(self._conn).tobytes().hex()

    @classmethod
    def from_edges(cls, shape: Shape | int, edges: Iterable[tuple[Coord, Coord]]) -> Maze:
        """Build a maze from ``((r, c), (r2, c2))`` pairs of lattice-adjacent cells."""
        rows, cols = normalize_shape(shape)
        conn = np.zeros((2, rows, cols), np.bool_)
        for a, b in edges:
            (r1, c1), (r2, c2) = sorted((tuple(a), tuple(b)))
            if not (0 <= r1 < rows and 0 <= c1 < cols and 0 <= r2 < rows and 0 <= c2 < cols):
                raise ValueError(f"edge {a}–{b} leaves the {rows}x{cols} grid")
            if (r2 - r1, c2 - c1) == (1, 0):
                conn[0, r1, c1] = True
            elif (r2 - r1, c2 - c1) == (0, 1):
                conn[1, r1, c1] = True
            else:
                raise ValueError(f"edge {a}–{b} joins cells that are not lattice-adjacent")
        return cls(conn)

    # ------------------------------------------------------------------ basic structure
    @property
    def connections(self) -> np.ndarray:
        """Read-only bool array (2, rows, cols)."""
        return self._conn

    @property
    def shape(self) -> Shape:
        return self._conn.shape[1], self._conn.shape[2]

    @property
    def n_cells(self) -> int:
        return self._conn.shape[1] * self._conn.shape[2]

    def _check(self, cell) -> Coord:
        try:
            r, c = int(cell[0]), int(cell[1])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"a cell must be (row, col), got {cell!r}") from None
        rows, cols = self.shape
        if not (0 <= r < rows and 0 <= c < cols) or len(cell) != 2:
            raise ValueError(f"cell {tuple(cell)} is outside the {rows}x{cols} grid")
        return r, c

    def neighbors(self, cell: Coord) -> list[Coord]:
        """Open neighbours of ``cell`` in N, S, W, E order."""
        r, c = self._check(cell)
        return [(r + dr, c + dc) for dr, dc in DIRECTIONS if self._is_open(r, c, dr, dc)]

    def _is_open(self, r: int, c: int, dr: int, dc: int) -> bool:
        rows, cols = self.shape
        nr, nc = r + dr, c + dc
        if not (0 <= nr < rows and 0 <= nc < cols):
            return False
        if dc == 0:
            return bool(self._conn[0, min(r, nr), c])
        return bool(self._conn[1, r, min(c, nc)])

    def connected(self, a: Coord, b: Coord) -> bool:
        """Whether a and b are lattice neighbours joined by an open connection."""
        (r, c), (r2, c2) = self._check(a), self._check(b)
        if abs(r - r2) + abs(c - c2) != 1:
            return False
        return self._is_open(r, c, r2 - r, c2 - c)

    @property
    def edges(self) -> list[tuple[Coord, Coord]]:
        """Open connections as ``((r, c), (r2, c2))`` with the first cell lower, row-major."""
        down = [
            ((int(r), int(c)), (int(r) + 1, int(c))) for r, c in zip(*np.nonzero(self._conn[0]))
        ]
        right = [
            ((int(r), int(c)), (int(r), int(c) + 1)) for r, c in zip(*np.nonzero(self._conn[1]))
        ]
        return sorted(down + right)

    @property
    def n_edges(self) -> int:
        return int(self._conn.sum())

    @property
    def degrees(self) -> np.ndarray:
        """Open connections per cell, int array (rows, cols)."""
        return degrees(self._conn)

    @property
    def dead_ends(self) -> list[Coord]:
        """Cells with exactly one open connection, row-major."""
        return [(int(r), int(c)) for r, c in zip(*np.nonzero(self.degrees == 1))]

    @property
    def active_cells(self) -> np.ndarray:
        """Bool mask (rows, cols) of cells with at least one connection."""
        return self.degrees > 0

    def is_tree(self) -> bool:
        """Connected over its active cells and acyclic."""
        active = int(self.active_cells.sum())
        if active == 0:
            return False
        first = np.flatnonzero(self.active_cells)[0]
        reach = int((self.distances((first // self.shape[1], first % self.shape[1])) >= 0).sum())
        return reach == active and self.n_edges == active - 1

    # ------------------------------------------------------------------ search
    def distances(self, origin: Coord) -> np.ndarray:
        """BFS distances from ``origin``, int array (rows, cols); -1 where unreachable."""
        r, c = self._check(origin)
        dist = np.empty(self.n_cells, np.int32)
        queue = np.empty(self.n_cells, np.int32)
        bfs_distances(self._conn, r * self.shape[1] + c, dist, queue)
        return dist.reshape(self.shape)

    def shortest_path(self, origin: Coord, target: Coord) -> list[Coord]:
        """A shortest path (BFS) from origin to target, both included; ties broken N, S, W, E.

        Raises ValueError when target is unreachable.
        """
        o, t = self._check(origin), self._check(target)
        cols = self.shape[1]
        dist = self.distances(t).ravel()
        out = np.empty(self.n_cells, np.int32)
        n = path_from_distances(self._conn, dist, o[0] * cols + o[1], out)
        if n == 0:
            raise ValueError(f"target {t} is unreachable from origin {o}")
        return [(int(x) // cols, int(x) % cols) for x in out[:n]]

    def count_shortest_paths(self, origin: Coord, target: Coord) -> int:
        """The number of distinct shortest paths (exact, Python ints); 0 if unreachable."""
        o, t = self._check(origin), self._check(target)
        dist = self.distances(o)
        if dist[t] < 0:
            return 0
        counts = {o: 1}
        order = sorted(
            ((int(r), int(c)) for r, c in zip(*np.nonzero((dist >= 0) & (dist <= dist[t])))),
            key=lambda x: dist[x],
        )
        for cell in order[1:]:
            counts[cell] = sum(
                counts.get(n, 0) for n in self.neighbors(cell) if dist[n] == dist[cell] - 1
            )
        return counts[t]

    def forks(self, path: Sequence[Coord]) -> list[int]:
        """Indices i along ``path`` where the path continues and > 1 unvisited neighbour is open."""
        visited: set[Coord] = set()
        out = []
        for i, cell in enumerate(path[:-1]):
            cell = self._check(cell)
            visited.add(cell)
            if sum(n not in visited for n in self.neighbors(cell)) > 1:
                out.append(i)
        return out

    def is_valid_path(self, path: Sequence[Coord]) -> bool:
        """Non-empty, every step an open connection, no cell visited twice."""
        if len(path) == 0:
            return False
        try:
            cells = [self._check(p) for p in path]
        except ValueError:
            return False
        if len(set(cells)) != len(cells):
            return False
        return all(self.connected(a, b) for a, b in itertools.pairwise(cells))

    # ------------------------------------------------------------------ identity
    def canonical_hash(self) -> str:
        """A stable hex digest of the shape and connections (identical mazes ↔ equal hashes)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.asarray(self.shape, np.int64).tobytes())
        h.update(np.packbits(self._conn).tobytes())  # the bytes to_hex spells
        return h.hexdigest()

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Maze)
            and other.shape == self.shape
            and np.array_equal(other._conn, self._conn)
        )

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.shape, np.packbits(self._conn).tobytes()))
        return self._hash

    def __reduce__(self):
        return (Maze, (np.array(self._conn),))

    def __repr__(self) -> str:
        return f"Maze(shape={self.shape}, edges={self.n_edges})"

    def __str__(self) -> str:
        return self.ascii()

    def ascii(self, marks: dict[Coord, str] | None = None) -> str:
        """ASCII drawing: ``#`` walls, ``marks`` maps cells to a single character (e.g. path)."""
        rows, cols = self.shape
        marks = marks or {}
        grid = [["#"] * (2 * cols + 1) for _ in range(2 * rows + 1)]
        for r in range(rows):
            for c in range(cols):
                grid[2 * r + 1][2 * c + 1] = marks.get((r, c), " ")
                if r < rows - 1 and self._conn[0, r, c]:
                    grid[2 * r + 2][2 * c + 1] = " "
                if c < cols - 1 and self._conn[1, r, c]:
                    grid[2 * r + 1][2 * c + 2] = " "
        return "\n".join("".join(row) for row in grid)

"""Origin/target sampling under constraints (distance, dead ends, allowed regions).

Regions are cell masks; ``region_mask`` turns a spec into one:

- ``None`` — every cell;  a bool array (rows, cols) — used as is;
- ``"quadrant:NW" | "quadrant:NE" | "quadrant:SW" | "quadrant:SE"``, ``"corners"``, ``"center"``,
  ``"border"``, ``"rect:r0,c0,r1,c1"`` (inclusive–exclusive), and ``"!SPEC"`` for the complement.

Sampling picks the origin uniformly among cells that have at least one valid target, then the
target uniformly among that origin's valid targets.  If no valid pair exists, ``NoValidEndpoints``
(a ValueError) says which constraints were in force — never a hang.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from maze_env._graph import bfs_distances, degrees
from maze_env._jit import kernel
from maze_env._rng import as_generator, draw_keys, randbelow
from maze_env.maze import Coord, Maze, Shape, is_int

QUADRANTS = ("NW", "NE", "SW", "SE")


class NoValidEndpoints(ValueError):
    """No (origin, target) pair satisfies the constraints in this maze."""


def region_mask(spec, shape: Shape) -> np.ndarray:
    """Resolve a region spec (see module docstring) to a bool mask of ``shape``."""
    rows, cols = shape
    if spec is None:
        return np.ones(shape, np.bool_)
    if isinstance(spec, np.ndarray):
        if spec.shape != tuple(shape) or spec.dtype != np.bool_:
            raise ValueError(
                f"region mask must be a bool array of shape {tuple(shape)}, "
                f"got {spec.dtype} {spec.shape}"
            )
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"region must be None, a bool mask or a string, got {spec!r}")
    if spec.startswith("!"):
        return ~region_mask(spec[1:], shape)
    mask = np.zeros(shape, np.bool_)
    hr, hc = (rows + 1) // 2, (cols + 1) // 2  # the middle row/col belongs to N/W when odd
    if spec.startswith("quadrant:"):
        q = spec.split(":", 1)[1].upper()
        if q not in QUADRANTS:
            raise ValueError(f"unknown quadrant {q!r} in region {spec!r}; use one of {QUADRANTS}")
        rs = slice(0, hr) if q[0] == "N" else slice(hr, rows)
        cs = slice(0, hc) if q[1] == "W" else slice(hc, cols)
        mask[rs, cs] = True
    elif spec == "corners":
        for r in (0, rows - 1):
            for c in (0, cols - 1):
                mask[r, c] = True
    elif spec == "center":
        mask[rows // 4 : rows - rows // 4, cols // 4 : cols - cols // 4] = True
    elif spec == "border":
        mask[[0, -1], :] = True
        mask[:, [0, -1]] = True
    elif spec.startswith("rect:"):
        try:
            r0, c0, r1, c1 = (int(x) for x in spec[5:].split(","))
        except ValueError:
            raise ValueError(f"region {spec!r} must be 'rect:r0,c0,r1,c1'") from None
        if not (0 <= r0 < r1 and 0 <= c0 < c1):
            raise ValueError(
                f"region {spec!r}: need 0 <= r0 < r1 and 0 <= c0 < c1 (rows r0..r1-1, "
                "columns c0..c1-1)"
            )
        mask[r0:r1, c0:c1] = True
    else:
        raise ValueError(
            f"unknown region {spec!r}; use quadrant:NW|NE|SW|SE, corners, center, border, "
            "rect:r0,c0,r1,c1, a bool mask, or prefix '!' for the complement"
        )
    return mask


MAX_DISTANCE = 2**31 - 1


@dataclass(frozen=True)
class EndpointSpec:
    """Constraints on (origin, target).

    min_distance: least BFS distance between them (1 = distinct, 0 allows origin == target).
    max_distance: greatest BFS distance between them (None: no bound) — with ``min_distance``
    it holds the shortest path's length fixed while the maze grows.
    origin_dead_end / target_dead_end: require a cell of degree 1.
    origin_region / target_region: allowed cells (see ``region_mask``).
    """

    min_distance: int = 1
    max_distance: int | None = None
    origin_dead_end: bool = False
    target_dead_end: bool = False
    origin_region: object = None
    target_region: object = None

    def __post_init__(self):
        if not is_int(self.min_distance) or not 0 <= self.min_distance <= MAX_DISTANCE:
            raise ValueError(
                f"min_distance must be an int in [0, {MAX_DISTANCE}], got {self.min_distance!r}"
            )
        if self.max_distance is not None and (
            not is_int(self.max_distance)
            or not self.min_distance <= self.max_distance <= MAX_DISTANCE
        ):
            raise ValueError(
                f"max_distance must be None or an int in [min_distance={self.min_distance}, "
                f"{MAX_DISTANCE}], got {self.max_distance!r}"
            )
        for name in ("origin_dead_end", "target_dead_end"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("origin_region", "target_region"):
            if isinstance(getattr(self, name), str):
                region_mask(getattr(self, name), (2, 2))  # the spec's syntax, before any maze

    @property
    def distance_bound(self) -> int:
        """``max_distance`` as the kernels take it (no bound: the largest int32)."""
        return MAX_DISTANCE if self.max_distance is None else int(self.max_distance)

    def describe(self) -> str:
        return ", ".join(
            f"{k}={v!r}" for k, v in asdict(self).items() if not isinstance(v, np.ndarray)
        )

    def no_pair(self, index: int) -> NoValidEndpoints:
        """The error for maze ``index`` of a batch, which has no pair under these constraints."""
        return NoValidEndpoints(
            f"maze {index} of the batch has no (origin, target) pair with {self.describe()}"
        )

    def region_masks(self, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
        """The origin and target regions as flat bool cell masks for a ``shape`` grid."""
        return (
            region_mask(self.origin_region, shape).ravel(),
            region_mask(self.target_region, shape).ravel(),
        )

    def masks(self, conns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Allowed origin and target cells, flat bool: (cells,) each for one connections array
        (2, rows, cols), (n, cells) each for a batch (n, 2, rows, cols)."""
        batch = np.ascontiguousarray(conns[None] if conns.ndim == 3 else conns, np.bool_)
        n, _, rows, cols = batch.shape
        o_region, t_region = self.region_masks((rows, cols))
        o = np.empty((n, rows * cols), np.bool_)
        t = np.empty((n, rows * cols), np.bool_)
        _allowed_batch(batch, o_region, t_region, self.origin_dead_end, self.target_dead_end, o, t)
        return (o[0], t[0]) if conns.ndim == 3 else (o, t)


@kernel
def allowed_cells(conn, origin_region, target_region, origin_dead_end, target_dead_end, o, t):
    """Fill the flat masks ``o`` / ``t`` with one maze's allowed origin / target cells: in the
    region, with an open connection, and of degree 1 where a dead end is required."""
    deg = degrees(conn).ravel()
    for c in range(deg.shape[0]):
        o[c] = origin_region[c] and deg[c] > 0 and (deg[c] == 1 or not origin_dead_end)
        t[c] = target_region[c] and deg[c] > 0 and (deg[c] == 1 or not target_dead_end)


@kernel
def _allowed_batch(conns, origin_region, target_region, origin_dead_end, target_dead_end, o, t):
    for i in range(conns.shape[0]):
        allowed_cells(conns[i], origin_region, target_region, origin_dead_end, target_dead_end,
                      o[i], t[i])  # fmt: skip


@kernel
def sample_pair(conn, state, origin_ok, target_ok, min_distance, max_distance, dist, queue, order,
                valid):  # fmt: skip
    """One maze's flat (origin, target), or (-1, -1) if no pair is valid.

    Draws from ``state`` (a SplitMix state); ``dist``, ``queue``, ``order`` and ``valid`` are
    scratch arrays of one entry per cell.  On success ``dist`` holds the BFS distances from the
    origin (so ``dist[target]`` is the shortest path's length in moves).
    """
    cells = conn.shape[1] * conn.shape[2]
    m = 0
    for c in range(cells):
        if origin_ok[c]:
            order[m] = c
            m += 1
    for j in range(m - 1, 0, -1):  # random order over candidate origins
        k = randbelow(state, j + 1)
        order[j], order[k] = order[k], order[j]
    for j in range(m):
        bfs_distances(conn, order[j], dist, queue)
        v = 0
        for c in range(cells):
            if target_ok[c] and min_distance <= dist[c] <= max_distance:
                valid[v] = c
                v += 1
        if v > 0:
            return order[j], valid[randbelow(state, v)]
    return -1, -1


@kernel
def _sample_pairs(conns, keys, origin_ok, target_ok, min_distance, max_distance, out) -> int:
    """Fill ``out`` (n, 2) with flat origin/target cells; return the first failing index or -1."""
    cells = conns.shape[2] * conns.shape[3]
    dist = np.empty(cells, np.int32)
    queue = np.empty(cells, np.int32)
    order = np.empty(cells, np.int64)
    valid = np.empty(cells, np.int64)
    state = np.empty(1, np.uint64)
    for i in range(conns.shape[0]):
        state[0] = keys[i]
        out[i, 0], out[i, 1] = sample_pair(
            conns[i], state, origin_ok[i], target_ok[i], min_distance, max_distance, dist, queue,
            order, valid,
        )  # fmt: skip
        if out[i, 0] < 0:
            return i
    return -1


def sample_endpoints_batch(
    conns: np.ndarray, seed: int | np.random.Generator | None = 0, spec: EndpointSpec | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Origins and targets for connections (n, 2, R, C), as (n, 2) int arrays of (row, col)."""
    spec = spec or EndpointSpec()
    rng = as_generator(seed)
    n, _, _, cols = conns.shape
    keys = draw_keys(rng, n)
    origin_ok, target_ok = spec.masks(conns)
    out = np.empty((n, 2), np.int64)
    failed = _sample_pairs(
        conns, keys, origin_ok, target_ok, spec.min_distance, spec.distance_bound, out
    )
    if failed >= 0:
        raise spec.no_pair(failed)
    origins = np.stack([out[:, 0] // cols, out[:, 0] % cols], 1)
    targets = np.stack([out[:, 1] // cols, out[:, 1] % cols], 1)
    return origins, targets


def sample_endpoints(
    maze: Maze,
    seed: int | np.random.Generator | None = 0,
    spec: EndpointSpec | None = None,
    **constraints,
) -> tuple[Coord, Coord]:
    """One (origin, target) pair; constraints as an ``EndpointSpec`` or its fields as kwargs."""
    if constraints:
        if spec is not None:
            raise TypeError("give either spec or constraint kwargs, not both")
        try:
            spec = EndpointSpec(**constraints)
        except TypeError as err:
            raise TypeError(f"unknown endpoint constraint: {err}") from None
    o, t = sample_endpoints_batch(maze.connections[None], seed, spec)
    return (int(o[0, 0]), int(o[0, 1])), (int(t[0, 0]), int(t[0, 1]))

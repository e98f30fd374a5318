"""Maze generators: a registry of named algorithms, each driven by an explicit seed.

Built-in generators are numba kernels that take one 64-bit key per maze (drawn from a
``numpy.random.Generator``), so ``generate_batch(name, shape, n, seed)`` produces exactly the
mazes that ``n`` successive ``generate(name, shape, seed=rng)`` calls with the same Generator do.

User generators register a plain function ``fn(shape, rng, **kwargs) -> connections``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from maze_env._graph import component_size
from maze_env._jit import kernel
from maze_env._rng import as_generator, draw_keys, randbelow, shuffle_pairs, uniform
from maze_env.maze import MAX_SIDE, Maze, Shape, is_int, normalize_shape

# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: its defaults and either a numba kernel or a Python function."""

    name: str
    defaults: dict[str, Any]
    description: str
    kernel: Callable | None = None  # numba: kernel(out, state, params)
    to_params: Callable[[dict], np.ndarray] | None = None
    function: Callable | None = None  # python: fn(shape, rng, **kwargs) -> (2, R, C) bool
    validate: Callable[[dict], None] = field(default=lambda kw: None)
    acyclic: bool = False


GENERATORS: dict[str, GeneratorSpec] = {}


MAX_OBSTACLES = 10_000  # open_field rectangles (each try costs a pass over the grid)
MAX_DEPTH = 2**31 - 1  # rdfs max_depth (any depth beyond the cell count is no limit)


def _check_probability(kw: dict) -> None:
    p = kw["p"]
    if (
        isinstance(p, (bool, np.bool_))
        or not isinstance(p, (int, float, np.integer, np.floating))
        or not 0.0 <= float(p) <= 1.0
    ):
        raise ValueError(f"generator kwarg p={p!r} must be a number in [0, 1]")


def _check_int(kw: dict, key: str, low: int, high: int) -> None:
    if not is_int(kw[key]) or not low <= kw[key] <= high:
        raise ValueError(f"generator kwarg {key}={kw[key]!r} must be an int in [{low}, {high}]")


def _check_open_field(kw: dict) -> None:
    _check_int(kw, "obstacles", 0, MAX_OBSTACLES)
    _check_int(kw, "obstacle_max_size", 1, MAX_SIDE)


def _check_rdfs(kw: dict) -> None:
    if not isinstance(kw["forks"], (bool, np.bool_)):
        raise ValueError(f"generator kwarg forks={kw['forks']!r} must be True or False")
    if kw["max_depth"] is not None:
        if is_int(kw["max_depth"]) and kw["max_depth"] == 0:
            raise ValueError(
                "generator kwarg max_depth=0 must be None or an int in [1, 2147483647] (a "
                "depth of 0 opens no connection, so no origin and target can be joined)"
            )
        _check_int(kw, "max_depth", 1, MAX_DEPTH)


_KERNELS: list[Callable] = []  # the numba generators in registration order: a kernel's kind


def _numba_generator(name, defaults, description, to_params=None, validate=None, acyclic=False):
    """Register the decorated numba kernel ``kernel(out, state, params)`` as generator ``name``.

    This is the one place a built-in generator is declared: its kind (the number
    ``generate_into`` switches on) is its registration order, ``to_params`` turns its merged
    kwargs into the float array the kernel reads (none by default).
    """

    def register(kern: Callable) -> Callable:
        _KERNELS.append(kern)
        GENERATORS[name] = GeneratorSpec(
            name=name,
            defaults=defaults,
            description=description,
            kernel=kern,
            to_params=to_params or (lambda kw: np.zeros(1)),
            validate=validate or (lambda kw: None),
            acyclic=acyclic,
        )
        return kern

    return register


# --------------------------------------------------------------------------- kernels


@kernel(inline="always")
def _open(out: np.ndarray, a: int, b: int, cols: int) -> None:
    """Open the lattice edge between flat cells a and b (adjacent)."""
    if a > b:
        a, b = b, a
    if b - a == 1 and a // cols == b // cols:
        out[1, a // cols, a % cols] = True
    else:
        out[0, a // cols, a % cols] = True


@kernel
def _lattice_neighbors(cell: int, rows: int, cols: int, buf: np.ndarray) -> int:
    r, c = cell // cols, cell % cols
    k = 0
    if r > 0:
        buf[k] = cell - cols
        k += 1
    if r < rows - 1:
        buf[k] = cell + cols
        k += 1
    if c > 0:
        buf[k] = cell - 1
        k += 1
    if c < cols - 1:
        buf[k] = cell + 1
        k += 1
    return k


@_numba_generator(
    "rdfs",
    {"forks": True, "max_depth": None},
    "randomized depth-first search; forks=False: a forkless hallway; max_depth limits the stack",
    lambda kw: np.array(
        [1.0 if kw["forks"] else 0.0, -1.0 if kw["max_depth"] is None else kw["max_depth"]]
    ),
    _check_rdfs,
    acyclic=True,
)
@kernel
def _rdfs(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """params: [forks (0/1), max_depth (<0: none)]."""
    rows, cols = out.shape[1], out.shape[2]
    cells = rows * cols
    forks = params[0] > 0.5
    max_depth = int(params[1])
    visited = np.zeros(cells, np.bool_)
    stack = np.empty(cells, np.int64)
    nbrs = np.empty(4, np.int64)
    cand = np.empty(4, np.int64)
    start = randbelow(state, cells)
    visited[start] = True
    stack[0] = start
    top = 1
    while top > 0:
        cur = stack[top - 1]
        k = _lattice_neighbors(cur, rows, cols, nbrs)
        m = 0
        for j in range(k):
            if not visited[nbrs[j]]:
                cand[m] = nbrs[j]
                m += 1
        if m == 0 or (max_depth >= 0 and top > max_depth):
            if not forks:
                return
            top -= 1
            continue
        nxt = cand[randbelow(state, m)]
        _open(out, cur, nxt, cols)
        visited[nxt] = True
        stack[top] = nxt
        top += 1


@_numba_generator("wilson", {}, "uniform spanning tree (Wilson)", acyclic=True)
@kernel
def _wilson(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """Uniform spanning tree by loop-erased random walks."""
    rows, cols = out.shape[1], out.shape[2]
    cells = rows * cols
    in_tree = np.zeros(cells, np.bool_)
    nxt = np.full(cells, -1, np.int64)
    nbrs = np.empty(4, np.int64)
    in_tree[randbelow(state, cells)] = True
    for start in range(cells):
        if in_tree[start]:
            continue
        cur = start
        while not in_tree[cur]:
            k = _lattice_neighbors(cur, rows, cols, nbrs)
            nxt[cur] = nbrs[randbelow(state, k)]
            cur = nxt[cur]
        cur = start
        while not in_tree[cur]:
            in_tree[cur] = True
            _open(out, cur, nxt[cur], cols)
            cur = nxt[cur]


@kernel
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@_numba_generator("kruskal", {}, "randomized Kruskal", acyclic=True)
@kernel
def _kruskal(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """Randomized Kruskal: shuffle all lattice edges, join cells of different trees."""
    rows, cols = out.shape[1], out.shape[2]
    cells = rows * cols
    n_edges = (rows - 1) * cols + rows * (cols - 1)
    a = np.empty(n_edges, np.int64)
    b = np.empty(n_edges, np.int64)
    k = 0
    for r in range(rows):
        for c in range(cols):
            if r < rows - 1:
                a[k], b[k] = r * cols + c, (r + 1) * cols + c
                k += 1
            if c < cols - 1:
                a[k], b[k] = r * cols + c, r * cols + c + 1
                k += 1
    shuffle_pairs(a, b, n_edges, state)
    parent = np.arange(cells)
    joined = 0
    for i in range(n_edges):
        ra, rb = _find(parent, a[i]), _find(parent, b[i])
        if ra != rb:
            parent[ra] = rb
            _open(out, a[i], b[i], cols)
            joined += 1
            if joined == cells - 1:
                return


@_numba_generator("prim", {}, "randomized Prim (uniform frontier edge)", acyclic=True)
@kernel
def _prim(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """Randomized Prim: grow one tree by a uniformly chosen frontier edge at each step."""
    rows, cols = out.shape[1], out.shape[2]
    cells = rows * cols
    in_tree = np.zeros(cells, np.bool_)
    front_a = np.empty(4 * cells, np.int64)
    front_b = np.empty(4 * cells, np.int64)
    nbrs = np.empty(4, np.int64)
    start = randbelow(state, cells)
    in_tree[start] = True
    m = 0
    k = _lattice_neighbors(start, rows, cols, nbrs)
    for j in range(k):
        front_a[m], front_b[m] = start, nbrs[j]
        m += 1
    while m > 0:
        i = randbelow(state, m)
        a, b = front_a[i], front_b[i]
        m -= 1
        front_a[i], front_b[i] = front_a[m], front_b[m]
        if in_tree[b]:
            continue
        in_tree[b] = True
        _open(out, a, b, cols)
        k = _lattice_neighbors(b, rows, cols, nbrs)
        for j in range(k):
            if not in_tree[nbrs[j]]:
                front_a[m], front_b[m] = b, nbrs[j]
                m += 1


@_numba_generator("recursive_division", {}, "recursive division", acyclic=True)
@kernel
def _recursive_division(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """Open field split recursively by walls with one gap each (a perfect maze)."""
    rows, cols = out.shape[1], out.shape[2]
    out[0, : rows - 1, :] = True
    out[1, :, : cols - 1] = True
    stack = np.empty((rows * cols + 1, 4), np.int64)
    stack[0] = (0, 0, rows, cols)
    top = 1
    while top > 0:
        top -= 1
        r0, c0, h, w = stack[top]
        if h < 2 or w < 2:
            continue
        horizontal = h > w or (h == w and uniform(state) < 0.5)
        if horizontal:
            k = 1 + randbelow(state, h - 1)  # wall below row r0 + k - 1
            gap = c0 + randbelow(state, w)
            for c in range(c0, c0 + w):
                out[0, r0 + k - 1, c] = c == gap
            stack[top] = (r0, c0, k, w)
            stack[top + 1] = (r0 + k, c0, h - k, w)
        else:
            k = 1 + randbelow(state, w - 1)  # wall right of column c0 + k - 1
            gap = r0 + randbelow(state, h)
            for r in range(r0, r0 + h):
                out[1, r, c0 + k - 1] = r == gap
            stack[top] = (r0, c0, h, k)
            stack[top + 1] = (r0, c0 + k, h, w - k)
        top += 2


@kernel
def _percolate(out: np.ndarray, state: np.ndarray, p: float) -> None:
    rows, cols = out.shape[1], out.shape[2]
    for r in range(rows - 1):
        for c in range(cols):
            if uniform(state) < p:
                out[0, r, c] = True
    for r in range(rows):
        for c in range(cols - 1):
            if uniform(state) < p:
                out[1, r, c] = True


@_numba_generator(
    "percolation",
    {"p": 0.5},
    "each lattice edge open with probability p",
    lambda kw: np.array([float(kw["p"])]),
    _check_probability,
)
@kernel
def _percolation(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """params: [p]. Each lattice edge open independently with probability p."""
    _percolate(out, state, params[0])


@_numba_generator(
    "rdfs_percolation",
    {"p": 0.1},
    "rdfs spanning tree plus percolation edges with probability p (cyclic)",
    lambda kw: np.array([float(kw["p"])]),
    _check_probability,
)
@kernel
def _rdfs_percolation(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """params: [p]. An rdfs spanning tree plus percolation edges (cyclic)."""
    tree_params = np.array([1.0, -1.0])
    _rdfs(out, state, tree_params)
    _percolate(out, state, params[0])


@kernel
def _block_cells(out: np.ndarray, blocked: np.ndarray) -> None:
    rows, cols = out.shape[1], out.shape[2]
    for r in range(rows):
        for c in range(cols):
            if blocked[r, c]:
                if r > 0:
                    out[0, r - 1, c] = False
                if r < rows - 1:
                    out[0, r, c] = False
                if c > 0:
                    out[1, r, c - 1] = False
                if c < cols - 1:
                    out[1, r, c] = False


@_numba_generator(
    "open_field",
    {"obstacles": 0, "obstacle_max_size": 2},
    "no walls; optional blocked rectangles that keep the free cells connected",
    lambda kw: np.array([float(kw["obstacles"]), float(kw["obstacle_max_size"])]),
    _check_open_field,
)
@kernel
def _open_field(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """params: [obstacles, obstacle_max_size]. No walls, minus blocked rectangles.

    Each rectangle is placed only where the free cells stay connected (up to 50 tries each).
    """
    rows, cols = out.shape[1], out.shape[2]
    n_obstacles, max_size = int(params[0]), int(params[1])
    blocked = np.zeros((rows, cols), np.bool_)
    trial = np.empty_like(out)
    for _ in range(n_obstacles):
        for _try in range(50):
            h = 1 + randbelow(state, min(max_size, rows))
            w = 1 + randbelow(state, min(max_size, cols))
            r0 = randbelow(state, rows - h + 1)
            c0 = randbelow(state, cols - w + 1)
            cand = blocked.copy()
            cand[r0 : r0 + h, c0 : c0 + w] = True
            free = rows * cols - int(cand.sum())
            if free < 2:
                continue
            trial[:] = False
            trial[0, : rows - 1, :] = True
            trial[1, :, : cols - 1] = True
            _block_cells(trial, cand)
            first = 0
            while cand.ravel()[first]:
                first += 1
            if component_size(trial, first) == free:
                blocked = cand
                break
    out[0, : rows - 1, :] = True
    out[1, :, : cols - 1] = True
    _block_cells(out, blocked)


def _check_tile(kw: dict) -> None:
    _check_int(kw, "tile", 2, MAX_SIDE)


@_numba_generator(
    "rdfs_tiles",
    {"tile": 6},
    "independent rdfs mazes on tile x tile blocks, no passage between blocks (the prompt of a "
    "large grid, the problems of small mazes)",
    lambda kw: np.array([float(kw["tile"])]),
    _check_tile,
    acyclic=True,
)
@kernel
def _rdfs_tiles(out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """params: [tile]. An rdfs spanning tree in each block (the last row / column of blocks
    smaller where the side is not a multiple of ``tile``); no connection between blocks."""
    rows, cols, tile = out.shape[1], out.shape[2], int(params[0])
    tree_params = np.array([1.0, -1.0])
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            _rdfs(out[:, r0 : min(r0 + tile, rows), c0 : min(c0 + tile, cols)], state, tree_params)


@kernel
def _no_generator(kind: int, out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
    """The end of the chain: no kernel has this kind (kinds come from ``kernel_plan``)."""


def _link(rest: Callable, kern: Callable, number: int) -> Callable:
    """A dispatcher that runs ``kern`` for kind ``number`` and hands any other kind to ``rest``."""

    @kernel
    def dispatch(kind: int, out: np.ndarray, state: np.ndarray, params: np.ndarray) -> None:
        if kind == number:
            kern(out, state, params)
        else:
            rest(kind, out, state, params)

    return dispatch


def _dispatcher(kernels: list[Callable]) -> Callable:
    """``generate_into(kind, out, state, params)``: run ``kernels[kind]`` into ``out``.

    A chain of links, each comparing ``kind`` with its own constant, built from the registry. Not
    a kernel passed as an argument: that would defeat numba's on-disk cache, and this way every
    process loads the compiled callers (``_run_batch``, the env's fused reset) from disk.
    """
    dispatch = _no_generator
    for number, kern in enumerate(kernels):
        dispatch = _link(dispatch, kern, number)
    return dispatch


generate_into = _dispatcher(_KERNELS)
"""Run generator kernel number ``kind`` into ``out`` (2, rows, cols), zero-filled."""


@kernel
def _run_batch(kind: int, keys: np.ndarray, rows: int, cols: int, params: np.ndarray) -> np.ndarray:
    out = np.zeros((keys.shape[0], 2, rows, cols), np.bool_)
    state = np.empty(1, np.uint64)
    for i in range(keys.shape[0]):
        state[0] = keys[i]
        generate_into(kind, out[i], state, params)
    return out


def register_generator(
    name: str, function: Callable, defaults: dict | None = None, description: str = ""
) -> None:
    """Register ``function(shape, rng, **kwargs) -> bool (2, rows, cols)`` under ``name``."""
    if name in GENERATORS:
        raise ValueError(f"generator {name!r} is already registered")
    GENERATORS[name] = GeneratorSpec(name, dict(defaults or {}), description, function=function)


def _resolve(name: str, kwargs: dict) -> tuple[GeneratorSpec, dict]:
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; known: {', '.join(sorted(GENERATORS))}")
    spec = GENERATORS[name]
    unknown = set(kwargs) - set(spec.defaults)
    if unknown:
        accepted = ", ".join(sorted(spec.defaults)) or "none"
        raise TypeError(
            f"generator {name!r} got unknown kwarg(s) {', '.join(sorted(unknown))}; "
            f"accepted: {accepted}"
        )
    merged = {**spec.defaults, **kwargs}
    spec.validate(merged)
    return spec, merged


def kernel_plan(name: str, kwargs: dict) -> tuple[int, np.ndarray] | None:
    """(kernel index, params) for ``generate_into`` if ``name`` is a numba generator, else None."""
    spec, kw = _resolve(name, kwargs)
    if spec.kernel is None:
        return None
    return _KERNELS.index(spec.kernel), spec.to_params(kw)


def _place(conns: np.ndarray, canvas: Shape, offsets: np.ndarray) -> np.ndarray:
    n, _, rows, cols = conns.shape
    out = np.zeros((n, 2, canvas[0], canvas[1]), np.bool_)
    for i in range(n):
        r, c = offsets[i]
        out[i, :, r : r + rows, c : c + cols] = conns[i]
    return out


def _offsets(shape: Shape, canvas: Shape | None, offset, keys: np.ndarray) -> np.ndarray:
    if canvas is None:
        if offset is not None:
            raise ValueError("offset given without canvas")
        return np.zeros((len(keys), 2), np.int64)
    if canvas[0] < shape[0] or canvas[1] < shape[1]:
        raise ValueError(f"canvas {canvas} is smaller than the maze shape {shape}")
    span_r, span_c = canvas[0] - shape[0] + 1, canvas[1] - shape[1] + 1
    if offset is None:
        return np.zeros((len(keys), 2), np.int64)
    if isinstance(offset, str):
        if offset != "random":
            raise ValueError(f"offset must be (row, col), None or 'random', got {offset!r}")
        k = keys.astype(np.uint64)
        return np.stack(
            [(k % span_r).astype(np.int64), ((k // span_r) % span_c).astype(np.int64)], 1
        )
    try:
        r, c = offset
    except (TypeError, ValueError):
        raise ValueError(f"offset must be (row, col), None or 'random', got {offset!r}") from None
    if not (is_int(r) and is_int(c)):
        raise ValueError(f"offset must be (row, col) of ints, got {offset!r}")
    if not (0 <= r < span_r and 0 <= c < span_c):
        raise ValueError(f"offset {offset} puts a {shape} maze outside the canvas {canvas}")
    return np.tile(np.array([r, c], np.int64), (len(keys), 1))


def generate_batch(
    name: str,
    shape: Shape | int,
    n: int,
    seed: int | np.random.Generator | None = 0,
    *,
    canvas: Shape | int | None = None,
    offset: tuple[int, int] | str | None = None,
    **kwargs,
) -> np.ndarray:
    """Generate ``n`` mazes as one bool array of shape (n, 2, rows, cols).

    With ``canvas`` the mazes sit inside a larger lattice at ``offset`` ((row, col), or
    ``"random"`` for a per-maze offset drawn from the maze's key).
    """
    shape = normalize_shape(shape, "shape")
    canvas = None if canvas is None else normalize_shape(canvas, "canvas")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    spec, kw = _resolve(name, kwargs)
    rng = as_generator(seed)
    keys = draw_keys(rng, (n, 2))
    if spec.kernel is not None:
        kind = _KERNELS.index(spec.kernel)
        conns = _run_batch(kind, keys[:, 0].copy(), shape[0], shape[1], spec.to_params(kw))
    else:
        conns = np.zeros((n, 2, *shape), np.bool_)
        for i in range(n):
            made = np.asarray(spec.function(shape, np.random.default_rng(int(keys[i, 0])), **kw))
            if made.shape != (2, *shape):
                raise ValueError(
                    f"generator {name!r} returned connections of shape {made.shape} "
                    f"for a {shape[0]}x{shape[1]} maze; expected {(2, *shape)}"
                )
            conns[i] = Maze.from_connections(made).connections
    if canvas is not None:
        conns = _place(conns, canvas, _offsets(shape, canvas, offset, keys[:, 1]))
    else:
        _offsets(shape, None, offset, keys[:, 1])
    return conns


def generate(
    name: str,
    shape: Shape | int,
    seed: int | np.random.Generator | None = 0,
    *,
    canvas: Shape | int | None = None,
    offset: tuple[int, int] | str | None = None,
    **kwargs,
) -> Maze:
    """Generate one maze (the first of ``generate_batch`` with the same arguments)."""
    conns = generate_batch(name, shape, 1, seed, canvas=canvas, offset=offset, **kwargs)
    return Maze(conns[0])

"""Generators: spanning trees, percolation density, obstacles, Wilson uniformity, determinism."""

import itertools
import os
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mazegraph import to_graph
from scipy.stats import chisquare

import maze_env
from maze_env import GENERATORS, Maze, generate, generate_batch

TREES = ["rdfs", "wilson", "kruskal", "prim", "recursive_division"]
SHAPES = st.tuples(st.integers(1, 9), st.integers(1, 9))
SEEDS = st.integers(0, 2**32)


def is_spanning_tree(conn: np.ndarray) -> bool:
    g = to_graph(conn)
    return g.number_of_edges() == g.number_of_nodes() - 1 and nx.is_connected(g)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(TREES), SHAPES, SEEDS)
def test_tree_generators_give_spanning_trees(name, shape, seed):
    assert GENERATORS[name].acyclic
    for conn in generate_batch(name, shape, 4, seed=seed):
        assert is_spanning_tree(conn)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(TREES), st.tuples(st.integers(1, 5), st.integers(1, 5)), SEEDS)
def test_canvas_placement_keeps_the_maze_inside_its_window(name, shape, seed):
    canvas = (shape[0] + 3, shape[1] + 2)
    conns = generate_batch(name, shape, 6, seed=seed, canvas=canvas, offset="random")
    assert conns.shape == (6, 2, *canvas)
    for conn in conns:
        m = Maze(conn)
        cells = np.argwhere(m.active_cells)
        if shape == (1, 1):
            assert len(cells) == 0
            continue
        (r0, c0), (r1, c1) = cells.min(0), cells.max(0)
        assert (r1 - r0 + 1, c1 - c0 + 1) == shape
        assert is_spanning_tree(conn[:, r0 : r1 + 1, c0 : c1 + 1])
    fixed = generate(name, shape, seed=seed, canvas=canvas, offset=(3, 2))
    plain = generate(name, shape, seed=seed)
    assert np.array_equal(fixed.connections[:, 3:, 2:], plain.connections)


@settings(max_examples=20, deadline=None)
@given(st.tuples(st.integers(2, 13), st.integers(2, 13)), st.integers(2, 7), SEEDS)
def test_rdfs_tiles_are_one_spanning_tree_per_block_and_nothing_between(shape, tile, seed):
    (conn,) = generate_batch("rdfs_tiles", shape, 1, seed=seed, tile=tile)
    g = to_graph(conn)
    blocks = {(r // tile, c // tile) for r in range(shape[0]) for c in range(shape[1])}
    components = list(nx.connected_components(g))
    assert len(components) == len(blocks)  # isolated cells of 1x1 blocks count as nodes too
    for cells in components:
        assert len({(r // tile, c // tile) for r, c in cells}) == 1  # no passage between blocks
        r0, c0 = next(iter(cells))
        rows = min(tile, shape[0] - r0 // tile * tile)
        cols = min(tile, shape[1] - c0 // tile * tile)
        assert len(cells) == rows * cols and nx.is_tree(g.subgraph(cells))
    if tile >= max(shape):  # one block: exactly the rdfs maze the same key draws
        assert np.array_equal(conn, generate_batch("rdfs", shape, 1, seed=seed)[0])


@settings(max_examples=12, deadline=None)
@given(st.floats(0.0, 1.0), SEEDS)
def test_percolation_edge_density_is_p(p, seed):
    conns = generate_batch("percolation", (10, 10), 200, seed=seed, p=p)
    lattice_edges = 2 * 10 * 9
    density = conns.sum() / (200 * lattice_edges)
    assert abs(density - p) < 0.015  # ~5 standard deviations at p = 0.5
    if p in (0.0, 1.0):
        assert density == p


@settings(max_examples=20, deadline=None)
@given(SHAPES, st.floats(0.0, 1.0), SEEDS)
def test_rdfs_percolation_is_a_spanning_tree_plus_edges(shape, p, seed):
    cyclic = generate_batch("rdfs_percolation", shape, 3, seed=seed, p=p)
    tree = generate_batch("rdfs", shape, 3, seed=seed)  # same keys: the same rdfs tree underneath
    for conn, base in zip(cyclic, tree, strict=True):
        assert is_spanning_tree(base)
        assert not (base & ~conn).any()
        assert nx.is_connected(to_graph(conn))
    if p == 0.0:
        assert np.array_equal(cyclic, tree)


def test_rdfs_percolation_has_cycles():
    conns = generate_batch("rdfs_percolation", (8, 8), 50, seed=1, p=0.2)
    extra = conns.sum((1, 2, 3)) - 63
    assert extra.min() >= 0 and extra.mean() > 0.2 * (112 - 63) * 0.5


@settings(max_examples=20, deadline=None)
@given(SHAPES, st.integers(1, 6), st.integers(1, 4), SEEDS)
def test_obstacles_are_never_entered(shape, obstacles, max_size, seed):
    m = generate("open_field", shape, seed=seed, obstacles=obstacles, obstacle_max_size=max_size)
    free = m.active_cells
    g = to_graph(m.connections).subgraph([tuple(map(int, x)) for x in np.argwhere(free)])
    if free.sum() > 1:
        assert nx.is_connected(g)
        # inside the free region every lattice edge is open: blocked cells are the only walls
        assert g.number_of_edges() == sum(
            1 for (a, b) in nx.grid_2d_graph(*shape).edges if free[a] and free[b]
        )
        origin, target = maze_env.sample_endpoints(m, seed=seed)
        assert free[origin] and free[target]
        assert all(free[cell] for cell in m.shortest_path(origin, target))


def test_open_field_without_obstacles_is_fully_open():
    m = generate("open_field", (4, 6))
    assert m.n_edges == 3 * 6 + 4 * 5
    with_obstacles = generate_batch("open_field", (8, 8), 20, seed=0, obstacles=3)
    assert (with_obstacles.sum((1, 2, 3)) < 2 * 8 * 7).all()


def spanning_trees(shape) -> list[frozenset]:
    """Every spanning tree of the rows x cols lattice, by brute force over edge subsets."""
    lattice = list(nx.grid_2d_graph(*shape).edges)
    n = shape[0] * shape[1]
    out = []
    for subset in itertools.combinations(lattice, n - 1):
        g = nx.Graph(subset)
        if g.number_of_nodes() == n and nx.is_connected(g):
            out.append(frozenset(frozenset(e) for e in subset))
    return out


def tree_counts(name: str, shape, n: int, seed: int) -> np.ndarray:
    index = {t: i for i, t in enumerate(spanning_trees(shape))}
    counts = np.zeros(len(index), np.int64)
    for conn in generate_batch(name, shape, n, seed=seed):
        edges = frozenset(frozenset(e) for e in Maze(conn).edges)
        counts[index[edges]] += 1
    return counts


def test_wilson_is_uniform_over_spanning_trees():
    counts = tree_counts("wilson", (3, 3), 192 * 40, seed=7)
    assert len(counts) == 192  # the 3x3 lattice has 192 spanning trees
    assert chisquare(counts).pvalue > 1e-3
    # the same test rejects rdfs, so it has power
    assert chisquare(tree_counts("rdfs", (3, 3), 192 * 40, seed=7)).pvalue < 1e-6


def test_prim_differs_from_rdfs():
    prim = generate_batch("prim", (10, 10), 200, seed=3)
    rdfs = generate_batch("rdfs", (10, 10), 200, seed=3)

    def mean_dead_ends(conns):
        return np.mean([len(Maze(c).dead_ends) for c in conns])

    assert mean_dead_ends(prim) > 1.5 * mean_dead_ends(rdfs)


def test_rdfs_hallway_and_max_depth():
    for conn in generate_batch("rdfs", (6, 6), 20, seed=0, forks=False):
        m = Maze(conn)
        assert m.is_tree() and m.degrees.max() <= 2  # a single forkless corridor
    for conn in generate_batch("rdfs", (8, 8), 20, seed=0, max_depth=3):
        m = Maze(conn)
        assert m.is_tree()
        active = [tuple(map(int, x)) for x in np.argwhere(m.active_cells)]
        radius = min(int(m.distances(c).max()) for c in active)
        assert radius <= 3 and len(active) < 64


BUILTIN = sorted(name for name, spec in GENERATORS.items() if spec.kernel is not None)


@pytest.mark.parametrize("name", BUILTIN)
def test_batch_equals_successive_single_calls(name):
    rng = np.random.default_rng(11)
    batch = generate_batch(name, (5, 4), 7, seed=rng, canvas=(7, 7), offset="random")
    rng = np.random.default_rng(11)
    singles = [generate(name, (5, 4), seed=rng, canvas=(7, 7), offset="random") for _ in range(7)]
    assert all(np.array_equal(b, s.connections) for b, s in zip(batch, singles, strict=True))
    assert np.array_equal(
        generate_batch(name, (5, 4), 7, seed=11), generate_batch(name, (5, 4), 7, seed=11)
    )
    assert generate(name, (5, 4), seed=11) == Maze(generate_batch(name, (5, 4), 3, seed=11)[0])


@pytest.mark.parametrize("name", BUILTIN)
def test_the_dispatcher_runs_each_registered_kernel_for_its_kind(name):
    """One registration (the kernel's decorator) is all a numba generator needs: the batch path
    (``generate_into`` switching on the kind ``kernel_plan`` gives) runs that very kernel."""
    from maze_env.generators import kernel_plan

    spec = GENERATORS[name]
    kind, params = kernel_plan(name, {})
    keys = np.random.default_rng(3).integers(0, 2**63, 6).astype(np.uint64)
    direct = np.zeros((6, 2, 5, 6), np.bool_)
    for i, key in enumerate(keys):
        spec.kernel(direct[i], np.array([key], np.uint64), params)
    batch = np.zeros_like(direct)
    for i, key in enumerate(keys):
        maze_env.generators.generate_into(kind, batch[i], np.array([key], np.uint64), params)
    assert np.array_equal(direct, batch)
    assert direct.any()
    kinds = [kernel_plan(n, {})[0] for n in BUILTIN]
    assert sorted(kinds) == list(range(len(BUILTIN)))


DIGEST_SCRIPT = """
import hashlib, numpy as np, maze_env
h = hashlib.sha256()
for name in sorted(n for n, spec in maze_env.GENERATORS.items() if spec.kernel is not None):
    conns = maze_env.generate_batch(name, (6, 5), 20, seed=123)
    h.update(conns.tobytes())
    o, t = maze_env.sample_endpoints_batch(conns, seed=5)
    paths = np.zeros((20, 30), np.int32)
    lens = maze_env.solve_batch(conns, o[:, 0] * 5 + o[:, 1], t[:, 0] * 5 + t[:, 1], paths)
    for scheme in maze_env.SCHEMES:
        ids, n = maze_env.encode_batch(conns, o, t, paths, lens, scheme=scheme, seed=9)
        h.update(ids.tobytes()); h.update(n.tobytes())
        m = maze_env.Maze(conns[0])
        tokens = maze_env.tokenize(m, tuple(o[0]), tuple(t[0]), scheme=scheme, seed=4)
        h.update(" ".join(tokens).encode())
print(h.hexdigest())
"""


def test_same_seed_same_bytes_in_another_process():
    other = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT], capture_output=True, text=True, check=True
    )
    here = {}
    exec(DIGEST_SCRIPT.replace("print(h.hexdigest())", "digest = h.hexdigest()"), here)
    assert other.stdout.strip() == here["digest"]


def test_bad_generator_arguments_name_the_problem():
    with pytest.raises(ValueError, match="unknown generator 'nope'"):
        generate("nope", 4)
    with pytest.raises(ValueError, match="shape"):
        generate("rdfs", 0)
    with pytest.raises(ValueError, match="shape"):
        generate("rdfs", (3, -1))
    with pytest.raises(ValueError, match="shape"):
        generate("rdfs", "big")
    for p in (-0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="p="):
            generate("percolation", 4, p=p)
        with pytest.raises(ValueError, match="p="):
            generate("rdfs_percolation", 4, p=p)
    with pytest.raises(TypeError, match=r"unknown kwarg.*colour"):
        generate("wilson", 4, colour="red")
    with pytest.raises(TypeError, match=r"unknown kwarg.*p"):
        generate("rdfs", 4, p=0.1)
    with pytest.raises(ValueError, match="max_depth"):
        generate("rdfs", 4, max_depth=-1)
    with pytest.raises(ValueError, match="obstacles"):
        generate("open_field", 4, obstacles=-2)
    with pytest.raises(ValueError, match="obstacle_max_size"):
        generate("open_field", 4, obstacles=1, obstacle_max_size=0)
    for tile in (1, 2.5, True):
        with pytest.raises(ValueError, match=r"tile=.*\[2, "):
            generate("rdfs_tiles", 6, tile=tile)
    with pytest.raises(ValueError, match="canvas"):
        generate("rdfs", 5, canvas=4)
    with pytest.raises(ValueError, match="offset"):
        generate("rdfs", 3, canvas=5, offset=(3, 0))
    with pytest.raises(ValueError, match="offset"):
        generate("rdfs", 3, offset=(0, 0))
    with pytest.raises(ValueError, match="n must be"):
        generate_batch("rdfs", 3, -1)
    with pytest.raises(TypeError, match="seed"):
        generate("rdfs", 3, seed="zero")


def test_register_a_user_generator():
    def ring(shape, rng, width=1):
        conn = np.zeros((2, *shape), bool)
        conn[1, 0, : shape[1] - 1] = True
        conn[0, : shape[0] - 1, 0] = rng.random() < 2  # always
        return conn

    maze_env.register_generator("test_ring", ring, {"width": 1}, "an L")
    try:
        m = generate("test_ring", (3, 4), seed=0, width=2)
        assert m.n_edges == 3 + 2 and m.is_tree()
        assert np.array_equal(generate_batch("test_ring", (3, 4), 2, seed=0)[1], m.connections)
        with pytest.raises(ValueError, match="already registered"):
            maze_env.register_generator("test_ring", ring)
        with pytest.raises(TypeError, match="unknown kwarg"):
            generate("test_ring", 3, depth=2)
    finally:
        del GENERATORS["test_ring"]


CALLER = """
from pathlib import Path
import numba as nb
from maze_env._jit import stamp_package_kernels
STAMP = True
if STAMP:
    stamp_package_kernels(Path(__file__).parent)
from kernels_pkg.callee import value
@nb.njit(cache=True)
def caller():
    return value()
"""


@pytest.mark.parametrize("stamp", [True, False])
def test_a_cached_kernel_follows_a_change_in_the_kernel_it_calls(tmp_path, stamp):
    """numba keys a cache on the function's own file; with ``stamp_package_kernels`` (as
    maze_env's kernels are) a change in a callee's file recompiles the caller."""
    pkg = tmp_path / "kernels_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "caller.py").write_text(CALLER.replace("STAMP = True", f"STAMP = {stamp}"))
    run = [sys.executable, "-c", "from kernels_pkg.caller import caller; print(caller())"]
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.getcwd()}"}
    results = []
    for value in (1, 2):  # the same file length: only its bytes change
        (pkg / "callee.py").write_text(
            f"import numba as nb\n@nb.njit(cache=True)\ndef value():\n    return {value}\n"
        )
        out = subprocess.run(run, capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
        results.append(int(out.stdout))
    # unstamped, numba's stale cache answers (should numba one day track callees, this half
    # fails and the stamp can go)
    assert results == ([1, 2] if stamp else [1, 1])

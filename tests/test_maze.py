"""Maze structure, BFS (cross-checked with networkx), path counting (brute force), identity."""

import pickle

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mazegraph import to_graph

import maze_env
from maze_env import Maze

CYCLIC = st.sampled_from([("percolation", {"p": 0.6}), ("rdfs_percolation", {"p": 0.3})])
SHAPES = st.tuples(st.integers(1, 7), st.integers(1, 7))


def small_example() -> Maze:
    """A 2x3 maze: (0,0)-(0,1)-(0,2), (0,0)-(1,0), (0,2)-(1,2); (1,1) isolated."""
    return Maze.from_edges(
        (2, 3), [((0, 0), (0, 1)), ((0, 1), (0, 2)), ((0, 0), (1, 0)), ((0, 2), (1, 2))]
    )


def test_structure_of_a_known_maze():
    m = small_example()
    assert m.shape == (2, 3) and m.n_cells == 6 and m.n_edges == 4
    assert m.neighbors((0, 1)) == [(0, 0), (0, 2)]
    assert m.neighbors((0, 0)) == [(1, 0), (0, 1)]  # N, S, W, E order
    assert m.neighbors((1, 1)) == []
    assert m.connected((0, 0), (0, 1)) and m.connected((0, 1), (0, 0))
    assert not m.connected((0, 1), (1, 1)) and not m.connected((0, 0), (1, 1))
    assert m.edges == [((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 1), (0, 2)), ((0, 2), (1, 2))]
    assert m.degrees.tolist() == [[2, 2, 2], [1, 0, 1]]
    assert m.dead_ends == [(1, 0), (1, 2)]
    assert m.active_cells.tolist() == [[True, True, True], [True, False, True]]
    assert m.is_tree()  # over its active cells: (1,1) is isolated, the rest is a tree
    assert str(m) == "\n".join(["#######", "#     #", "# ### #", "# # # #", "#######"])
    assert m.ascii({(0, 0): "o"}).splitlines()[1] == "#o    #"


def test_connections_round_trip_and_validation():
    m = small_example()
    assert Maze.from_connections(m.connections) == m
    assert Maze.from_edges(m.shape, m.edges) == m
    with pytest.raises(ValueError, match="shape"):
        Maze(np.zeros((3, 2, 2), bool))
    bad = np.zeros((2, 2, 2), bool)
    bad[0, 1, 0] = True
    with pytest.raises(ValueError, match="leaving the grid"):
        Maze(bad)
    with pytest.raises(ValueError, match="lattice-adjacent"):
        Maze.from_edges(2, [((0, 0), (1, 1))])
    with pytest.raises(ValueError, match="outside"):
        m.neighbors((2, 0))
    with pytest.raises(ValueError, match=r"\(row, col\)"):
        m.neighbors(3)


def test_immutable_equal_hashable_picklable():
    conn = np.array(small_example().connections)
    m = Maze(conn)
    conn[1, 0, 0] = False  # the maze copied its input
    assert m.connected((0, 0), (0, 1))
    with pytest.raises(ValueError):
        m.connections[0, 0, 0] = False
    with pytest.raises(AttributeError):
        m.foo = 1
    twin = pickle.loads(pickle.dumps(m))
    assert twin == m and hash(twin) == hash(m) and twin.canonical_hash() == m.canonical_hash()
    other = Maze.from_edges((2, 3), m.edges[:-1])
    assert other != m and other.canonical_hash() != m.canonical_hash()
    assert len({m, twin, other}) == 2
    # same connections, different shape: different mazes
    assert (
        Maze(np.zeros((2, 2, 3), bool)).canonical_hash()
        != Maze(np.zeros((2, 3, 2), bool)).canonical_hash()
    )


@settings(max_examples=40, deadline=None)
@given(CYCLIC, SHAPES, st.integers(0, 2**32))
def test_bfs_matches_networkx_on_cyclic_mazes(gen, shape, seed):
    name, kw = gen
    m = maze_env.generate(name, shape, seed=seed, **kw)
    g = to_graph(m.connections)
    rng = np.random.default_rng(seed)
    origin = (int(rng.integers(shape[0])), int(rng.integers(shape[1])))
    reference = nx.single_source_shortest_path_length(g, origin)
    dist = m.distances(origin)
    for cell in g.nodes:
        assert dist[cell] == reference.get(cell, -1)
    for target in g.nodes:
        if target in reference:
            path = m.shortest_path(origin, target)
            assert path[0] == origin and path[-1] == target
            assert len(path) == reference[target] + 1 and m.is_valid_path(path)
        else:
            with pytest.raises(ValueError, match="unreachable"):
                m.shortest_path(origin, target)
            assert m.count_shortest_paths(origin, target) == 0


def brute_force_shortest_paths(m: Maze, origin, target) -> int:
    """Enumerate every simple path by DFS; count those of minimum length."""
    lengths: list[int] = []

    def walk(cell, seen):
        if cell == target:
            lengths.append(len(seen))
            return
        for nxt in m.neighbors(cell):
            if nxt not in seen:
                seen.append(nxt)
                walk(nxt, seen)
                seen.pop()

    walk(origin, [origin])
    return lengths.count(min(lengths)) if lengths else 0


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.integers(1, 4), st.integers(1, 4)), st.floats(0.4, 1.0), st.integers(0, 2**32))
def test_count_shortest_paths_by_brute_force(shape, p, seed):
    m = maze_env.generate("percolation", shape, seed=seed, p=p)
    cells = [(r, c) for r in range(shape[0]) for c in range(shape[1])]
    for origin in cells[:: max(1, len(cells) // 4)]:
        for target in cells:
            assert m.count_shortest_paths(origin, target) == brute_force_shortest_paths(
                m, origin, target
            )


def test_count_shortest_paths_open_field_is_binomial():
    m = maze_env.generate("open_field", (5, 7))
    assert m.count_shortest_paths((0, 0), (4, 6)) == 210  # C(10, 4)
    assert m.count_shortest_paths((2, 3), (2, 3)) == 1


def test_forks_and_valid_paths():
    m = small_example()
    assert m.forks([(1, 0), (0, 0), (0, 1), (0, 2), (1, 2)]) == []
    assert m.forks([(0, 1), (0, 2), (1, 2)]) == [0]  # (0,1) has two unvisited open neighbours
    assert m.forks([(0, 1)]) == []
    open_field = maze_env.generate("open_field", 3)
    path = [(0, 0), (0, 1), (1, 1), (2, 1), (2, 2)]
    assert open_field.forks(path) == [0, 1, 2, 3]
    assert open_field.is_valid_path(path)
    assert not open_field.is_valid_path([])
    assert not open_field.is_valid_path([(0, 0), (1, 1)])  # a jump
    assert not open_field.is_valid_path([(0, 0), (0, 1), (0, 0)])  # a revisit
    assert not open_field.is_valid_path([(0, 0), (0, -1)])  # off the grid
    assert not m.is_valid_path([(1, 0), (1, 1)])  # through a wall


@settings(max_examples=30, deadline=None)
@given(CYCLIC, SHAPES, st.integers(0, 2**32))
def test_degrees_dead_ends_and_tree_check_match_networkx(gen, shape, seed):
    name, kw = gen
    m = maze_env.generate(name, shape, seed=seed, **kw)
    g = to_graph(m.connections)
    assert all(m.degrees[cell] == g.degree[cell] for cell in g.nodes)
    assert m.dead_ends == sorted(cell for cell in g.nodes if g.degree[cell] == 1)
    active = g.subgraph([cell for cell in g.nodes if g.degree[cell] > 0])
    assert m.is_tree() == (active.number_of_nodes() > 0 and nx.is_tree(active))
    assert m.n_edges == g.number_of_edges()


@settings(deadline=None)  # the first draw compiles the generator
@given(CYCLIC, SHAPES, st.integers(0, 2**32))
def test_hex_codec_round_trips_and_rejects_a_wrong_shape(gen, shape, seed):
    m = maze_env.generate(gen[0], shape, seed=seed, **gen[1])
    text = m.to_hex()
    assert Maze.from_hex(m.shape, text) == m
    assert text == np.packbits(m.connections).tobytes().hex()  # the results-file bytes
    with pytest.raises(ValueError, match="do not hold a"):
        Maze.from_hex((m.shape[0] + 5, m.shape[1]), text)  # >= 10 more bits
    with pytest.raises(ValueError, match="not a maze's hex string"):
        Maze.from_hex(m.shape, "zz" + text)

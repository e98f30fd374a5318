"""Metrics on hand-built episodes, and a cross-check against an independent networkx judge."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.metrics import aggregate, bootstrap_mean, wilson
from maze_env import Maze, generate
from maze_env.judge import closest_shortest_path, score, walk

END = "<PATH_END>"


def toks(*cells, end=True):
    return [f"({r},{c})" for r, c in cells] + ([END] if end else [])


# A 3x3 tree:      (0,0)-(0,1)-(0,2)
#                    |
#                  (1,0)-(1,1)  (1,2)
#                    |            |
#                  (2,0)-(2,1)-(2,2)
TREE = Maze.from_edges(
    3,
    [((0, 0), (0, 1)), ((0, 1), (0, 2)), ((0, 0), (1, 0)), ((1, 0), (1, 1)), ((1, 0), (2, 0)),
     ((2, 0), (2, 1)), ((2, 1), (2, 2)), ((1, 2), (2, 2))],
)  # fmt: skip
# A 3x3 open field: many shortest paths between opposite corners (6 from (0,0) to (2,2)).
OPEN = Maze(np.array([np.pad(np.ones((2, 3), bool), ((0, 1), (0, 0))),
                      np.pad(np.ones((3, 2), bool), ((0, 0), (0, 1)))]))  # fmt: skip


def test_fixtures():
    assert TREE.is_tree()
    assert OPEN.count_shortest_paths((0, 0), (2, 2)) == 6


def test_optimal_path_on_a_tree():
    m = score(TREE, (0, 2), (1, 2), toks((0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2)))
    assert m.success and m.exact_path and m.target_reached and m.valid_path
    assert m.node_overlap == 1.0 and m.length_ratio == 1.0
    assert m.path_length == m.optimal_length == 7
    assert (m.fork_correct, m.fork_total) == (1, 1)  # (1,0): (1,1) or (2,0)
    assert all(v == 0 for v in m.violations.values())


def test_wrong_fork_dead_end():
    m = score(TREE, (0, 2), (1, 2), toks((0, 1), (0, 0), (1, 0), (1, 1)))
    assert not (m.success or m.exact_path or m.target_reached)
    assert m.valid_path and m.length_ratio is None
    assert (m.fork_correct, m.fork_total) == (0, 1)
    assert m.node_overlap == pytest.approx(4 / 8)


@pytest.mark.parametrize(
    "cells",
    [
        [(0, 1), (0, 2), (1, 2), (2, 2)],
        [(1, 0), (2, 0), (2, 1), (2, 2)],
        [(0, 1), (1, 1), (2, 1), (2, 2)],
    ],
)
def test_any_shortest_path_counts_on_cyclic_mazes(cells):
    m = score(OPEN, (0, 0), (2, 2), toks(*cells))
    assert m.exact_path and m.node_overlap == 1.0 and m.length_ratio == 1.0
    assert closest_shortest_path(OPEN, (0, 0), (2, 2), [(0, 0), *cells]) == [(0, 0), *cells]


def test_cyclic_detour_and_closest_solution():
    cells = [(0, 1), (0, 2), (1, 2), (1, 1), (2, 1), (2, 2)]  # 6 steps, optimal 4
    m = score(OPEN, (0, 0), (2, 2), toks(*cells))
    assert m.success and m.valid_path and not m.exact_path
    assert m.length_ratio == 1.5
    # closest shortest path shares 4 of its 5 cells: e.g. (0,0)(0,1)(0,2)(1,2)(2,2)
    assert m.node_overlap == pytest.approx(1.0)  # every cell of that path is predicted
    # forks on the shortest prefix (0,0),(0,1),(0,2),(1,2): (0,0) and (0,1) stay on one;
    # at (1,2) the walk leaves: (1,1) is not on any shortest path from there
    assert (m.fork_correct, m.fork_total) == (2, 3)


@pytest.mark.parametrize(
    ("emitted", "kind"),
    [
        (toks((1, 1), (1, 2)), "non_adjacent_jump"),
        (toks((0, 0), (0, 1)), "revisit"),  # the same cell again
        (toks((0, 1), (1, 1)), "wall_crossing"),
        (toks((0, 1), (0, 0), (0, 1)), "backtrack"),
        (toks((0, 1), (0, 2), (1, 2), (1, 1), (0, 1)), "wall_crossing"),
        (["(0,1)", "<-->", "(7,7)", "(0,2)", END], "invalid_token"),
        (toks((0, 1), end=False), "no_path_end"),
    ],
)
def test_violation_kinds(emitted, kind):
    m = score(TREE, (0, 0), (2, 2), emitted)
    assert m.violations[kind] >= 1
    assert not m.exact_path and not m.success
    if kind != "no_path_end":
        assert not m.valid_path


def test_revisit_on_a_cycle():
    cells = [(0, 1), (1, 1), (1, 0), (0, 0)]
    w = walk(OPEN, (0, 0), toks(*cells))
    assert w.violations["revisit"] == 1 and w.violations["backtrack"] == 0
    assert w.path == [(0, 0), *cells]


def test_tokens_after_path_end_are_ignored_and_coords_scheme():
    a = score(TREE, (0, 0), (0, 2), [*toks((0, 1), (0, 2)), "(1,1)"])
    assert a.exact_path
    b = score(TREE, (0, 0), (0, 2), ["0", "1", "0", "2", END], scheme="coords")
    assert b.exact_path
    c = score(TREE, (0, 0), (0, 2), ["0", "1", "0", END], scheme="coords")
    assert c.violations["invalid_token"] == 1 and not c.target_reached


def test_wilson_and_bootstrap():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert all(math.isnan(x) for x in wilson(0, 0))
    x = np.random.default_rng(0).normal(5, 1, 400)
    lo, hi = bootstrap_mean(x, seed=1)
    assert lo < x.mean() < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)
    assert bootstrap_mean(x, seed=1) == (lo, hi)


def test_aggregate():
    good = toks((0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2))
    wrong = toks((0, 1), (0, 0), (1, 0), (1, 1))
    eps = [score(TREE, (0, 2), (1, 2), good), score(TREE, (0, 2), (1, 2), wrong)]
    agg = aggregate(eps)
    assert agg["success"]["value"] == 0.5 and agg["success"]["n"] == 2
    assert agg["fork_accuracy"]["value"] == 0.5 and agg["fork_accuracy"]["n"] == 2
    assert agg["length_ratio"] == {"value": 1.0, "lo": 1.0, "hi": 1.0, "n": 1}
    assert agg["violations.no_path_end"]["value"] == 0.0
    assert aggregate([e.to_dict() for e in eps]) == agg


# --------------------------------------------------------------------------- networkx judge


def nx_graph(conn: np.ndarray) -> nx.Graph:
    """The maze from its raw connections array, without maze_env."""
    _, rows, cols = conn.shape
    g = nx.Graph()
    g.add_nodes_from(itertools.product(range(rows), range(cols)))
    for r, c in zip(*np.nonzero(conn[0]), strict=True):
        g.add_edge((int(r), int(c)), (int(r) + 1, int(c)))
    for r, c in zip(*np.nonzero(conn[1]), strict=True):
        g.add_edge((int(r), int(c)), (int(r), int(c) + 1))
    return g


def judge(conn, origin, target, cells, ended):
    """Independent reference: cells are the emitted cells (all inside the grid)."""
    g = nx_graph(conn)
    path = [origin, *cells]
    steps = list(itertools.pairwise(path))
    valid = all(g.has_edge(a, b) for a, b in steps) and len(set(path)) == len(path)
    sps = [tuple(p) for p in nx.all_shortest_paths(g, origin, target)]
    reached = path[-1] == target
    overlap = max(len(set(path) & set(p)) / len(p) for p in sps)
    # forks: follow the walk while it is a prefix of some shortest path
    correct = total = 0
    for i in range(len(path) - 1):
        prefix = tuple(path[: i + 1])
        if not any(p[: i + 1] == prefix for p in sps):
            break
        if path[i] == target:
            continue
        unvisited = [n for n in g.neighbors(path[i]) if n not in prefix]
        if len(unvisited) > 1:
            total += 1
            correct += any(p[: i + 2] == tuple(path[: i + 2]) for p in sps)
    return {
        "exact_path": ended and tuple(path) in sps,
        "valid_path": valid,
        "target_reached": reached,
        "success": valid and reached and ended,
        "node_overlap": overlap,
        "fork": (correct, total),
        "length_ratio": (len(path) - 1) / (len(sps[0]) - 1) if reached else None,
    }


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    p=st.sampled_from([0.0, 0.2, 0.5]),
    noise=st.sampled_from([0.0, 0.1, 0.4]),
    ended=st.booleans(),
)
def test_against_networkx_judge(seed, rows, cols, p, noise, ended):
    rng = np.random.default_rng(seed)
    maze = generate("rdfs_percolation", (rows, cols), seed=rng, p=p)
    origin, target = ((int(rng.integers(rows)), int(rng.integers(cols))) for _ in range(2))
    if origin == target:
        return
    # a rollout: greedy-ish random walk that sometimes jumps, crosses walls or backtracks
    sp = maze.shortest_path(origin, target)
    cells, here = [], origin
    for _ in range(int(rng.integers(0, 2 * rows * cols))):
        if rng.random() < noise:
            nxt = (int(rng.integers(rows)), int(rng.integers(cols)))
        elif rng.random() < 0.5 and here in sp and here != target:
            nxt = sp[sp.index(here) + 1]
        else:
            opts = maze.neighbors(here)
            nxt = opts[int(rng.integers(len(opts)))]
        cells.append(nxt)
        here = nxt
        if here == target and rng.random() < 0.7:
            break
    m = score(maze, origin, target, toks(*cells, end=ended))
    ref = judge(maze.connections, origin, target, cells, ended)
    assert m.exact_path == ref["exact_path"]
    assert m.valid_path == ref["valid_path"]
    assert m.target_reached == ref["target_reached"]
    assert m.success == ref["success"]
    assert m.node_overlap == pytest.approx(ref["node_overlap"])
    assert (m.fork_correct, m.fork_total) == ref["fork"]
    assert m.length_ratio == (
        None if ref["length_ratio"] is None else pytest.approx(ref["length_ratio"])
    )
    assert m.violations["no_path_end"] == int(not ended)
    g, path = nx_graph(maze.connections), [origin, *cells]
    steps = list(zip(path[:-1], cells, strict=True))
    assert m.violations["non_adjacent_jump"] + m.violations["wall_crossing"] == sum(
        a != b and not g.has_edge(a, b) for a, b in steps
    )
    assert m.violations["backtrack"] + m.violations["revisit"] == sum(
        b in path[: i + 1] for i, (_, b) in enumerate(steps)
    )


def test_the_judge_reads_cells_in_the_vocabularys_spelling_only():
    """A token the vocabulary cannot spell is invalid, never read as a cell (nor a crash):
    leading zeros, non-ASCII digits, a coordinate longer than any grid side."""
    from maze_env.judge import walk

    maze = generate("open_field", (3, 3), seed=0)
    for scheme, bad in [
        ("aotp", "(01,0)"),
        ("aotp", "(1,٠)"),
        ("aotp", "(1,00000000000000000000)"),
        ("coords", "²"),
        ("coords", "01"),
    ]:
        emitted = (
            ["(1,0)", bad, "<PATH_END>"] if scheme == "aotp" else ["1", "0", bad, "<PATH_END>"]
        )
        w = walk(maze, (0, 0), emitted, scheme)
        assert w.path == [(0, 0), (1, 0)] and w.violations["invalid_token"] == 1, (scheme, bad)

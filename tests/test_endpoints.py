"""Endpoint sampling: constraints hold, regions resolve, impossible constraints fail fast."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import maze_env
from maze_env import (
    EndpointSpec,
    NoValidEndpoints,
    region_mask,
    sample_endpoints,
    sample_endpoints_batch,
)

SEEDS = st.integers(0, 2**32)
GENS = st.sampled_from(
    [("rdfs", {}), ("wilson", {}), ("rdfs_percolation", {"p": 0.2}), ("percolation", {"p": 0.5})]
)


@settings(max_examples=40, deadline=None)
@given(
    GENS,
    st.tuples(st.integers(1, 8), st.integers(2, 8)),
    st.integers(0, 6),
    st.booleans(),
    st.booleans(),
    SEEDS,
)
def test_sampled_endpoints_satisfy_the_constraints(gen, shape, min_distance, o_dead, t_dead, seed):
    name, kw = gen
    m = maze_env.generate(name, shape, seed=seed, **kw)
    spec = EndpointSpec(min_distance=min_distance, origin_dead_end=o_dead, target_dead_end=t_dead)
    try:
        origin, target = sample_endpoints(m, seed=seed, spec=spec)
    except NoValidEndpoints:
        # verify that no pair exists, by brute force
        cells = [tuple(map(int, x)) for x in np.argwhere(m.active_cells)]
        for a in cells:
            d = m.distances(a)
            for b in cells:
                ok = d[b] >= min_distance and (not o_dead or m.degrees[a] == 1)
                assert not (ok and (not t_dead or m.degrees[b] == 1))
        return
    assert m.distances(origin)[target] >= max(min_distance, 0)
    assert m.active_cells[origin] and m.active_cells[target]
    if min_distance >= 1:
        assert origin != target
    if o_dead:
        assert origin in m.dead_ends
    if t_dead:
        assert target in m.dead_ends


@pytest.mark.parametrize(
    ("region", "cells"),
    [
        ("quadrant:NW", {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)}),
        ("quadrant:se", {(3, 3), (3, 4), (4, 3), (4, 4)}),
        ("corners", {(0, 0), (0, 4), (4, 0), (4, 4)}),
        ("center", {(r, c) for r in range(1, 4) for c in range(1, 4)}),
        ("rect:1,2,3,4", {(1, 2), (1, 3), (2, 2), (2, 3)}),
        ("!border", {(r, c) for r in range(1, 4) for c in range(1, 4)}),
    ],
)
def test_region_masks(region, cells):
    mask = region_mask(region, (5, 5))
    assert {tuple(map(int, x)) for x in np.argwhere(mask)} == cells


def test_border_and_mask_regions():
    assert region_mask("border", (3, 4)).sum() == 3 * 4 - 2
    assert region_mask(None, (2, 3)).all()
    mask = np.zeros((3, 3), bool)
    mask[1, 2] = True
    assert region_mask(mask, (3, 3)) is mask
    quadrants = [region_mask(f"quadrant:{q}", (5, 6)) for q in ("NW", "NE", "SW", "SE")]
    assert (sum(q.astype(int) for q in quadrants) == 1).all()  # a partition


def test_bad_regions_and_specs_name_the_problem():
    with pytest.raises(ValueError, match="unknown region 'middle'"):
        region_mask("middle", (3, 3))
    with pytest.raises(ValueError, match="quadrant 'XX'"):
        region_mask("quadrant:XX", (3, 3))
    with pytest.raises(ValueError, match="rect:r0,c0,r1,c1"):
        region_mask("rect:1,2", (3, 3))
    with pytest.raises(ValueError, match="shape"):
        region_mask(np.ones((2, 2), bool), (3, 3))
    with pytest.raises(ValueError, match="min_distance"):
        EndpointSpec(min_distance=-1)
    m = maze_env.generate("rdfs", 4)
    with pytest.raises(TypeError, match="mindist"):
        sample_endpoints(m, seed=0, mindist=3)
    with pytest.raises(TypeError, match="either spec or"):
        sample_endpoints(m, 0, EndpointSpec(), min_distance=2)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["NW", "NE", "SW", "SE"]), st.sampled_from(["NW", "NE", "SW", "SE"]), SEEDS)
def test_regions_constrain_origin_and_target(q_origin, q_target, seed):
    m = maze_env.generate("wilson", (6, 7), seed=seed)
    spec = EndpointSpec(origin_region=f"quadrant:{q_origin}", target_region=f"quadrant:{q_target}")
    origin, target = sample_endpoints(m, seed=seed, spec=spec)
    assert region_mask(spec.origin_region, m.shape)[origin]
    assert region_mask(spec.target_region, m.shape)[target]


def test_impossible_constraints_fail_fast_with_a_clear_error():
    m = maze_env.generate("rdfs", (30, 30), seed=0)
    open_field = maze_env.generate("open_field", (30, 30))
    cases = [
        (m, EndpointSpec(min_distance=10_000)),
        (m, EndpointSpec(origin_region="rect:40,40,41,41")),
        (open_field, EndpointSpec(origin_dead_end=True)),
        (maze_env.generate("rdfs", 1), EndpointSpec()),
        (maze_env.generate("percolation", 6, p=0.0), EndpointSpec()),
    ]
    for maze, spec in cases:
        start = time.perf_counter()
        with pytest.raises(NoValidEndpoints, match="no \\(origin, target\\) pair"):
            sample_endpoints(maze, seed=0, spec=spec)
        assert time.perf_counter() - start < 5.0
    with pytest.raises(NoValidEndpoints, match="min_distance=10000"):
        sample_endpoints(m, seed=0, min_distance=10_000)


def test_min_distance_zero_allows_equal_endpoints():
    m = maze_env.generate("rdfs", 1)  # a single cell without connections is never active
    two = maze_env.generate("open_field", (1, 2))
    seen = {sample_endpoints(two, seed=s, min_distance=0) for s in range(40)}
    assert ((0, 0), (0, 0)) in seen and ((0, 0), (0, 1)) in seen
    assert m.n_edges == 0


def test_batch_equals_single_calls_and_is_deterministic():
    conns = maze_env.generate_batch("rdfs_percolation", (7, 6), 12, seed=2, p=0.1)
    spec = EndpointSpec(min_distance=4, target_region="quadrant:SE")
    origins, targets = sample_endpoints_batch(conns, np.random.default_rng(9), spec)
    rng = np.random.default_rng(9)
    for conn, o, t in zip(conns, origins, targets, strict=True):
        assert sample_endpoints(maze_env.Maze(conn), rng, spec) == (tuple(o), tuple(t))
    again = sample_endpoints_batch(conns, 9, spec)
    assert np.array_equal(again[0], origins) and np.array_equal(again[1], targets)


def test_origins_are_spread_over_the_grid():
    m = maze_env.generate("open_field", (3, 3))
    origins, _ = sample_endpoints_batch(np.repeat(m.connections[None], 900, 0), seed=0)
    counts = np.bincount(origins[:, 0] * 3 + origins[:, 1], minlength=9)
    assert counts.min() > 60  # ~100 each

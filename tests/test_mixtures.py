"""Size and generator mixtures in the training data, randomized positions, max_distance."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mazegraph import to_graph

import maze_env
from agents.transformer.data import (
    DataConfig,
    draw_mazes,
    eval_set,
    randomize_positions,
    training_batch,
    training_maze_hashes,
)
from agents.transformer.decode import generate
from agents.transformer.model import GPT, GPTConfig
from agents.transformer.policy import training_distribution
from agents.transformer.train import query_logits
from benchmarks.plots import in_training

MIX = DataConfig(
    sizes=[3, {"size": 5, "weight": 3}],
    generators=["rdfs", {"name": "open_field", "kwargs": {"obstacles": 0}, "weight": 1}],
    max_grid=8, canvas=8, offset="random", queries_per_maze=2,
)  # fmt: skip


def footprint(conn: np.ndarray) -> tuple[int, int]:
    """(rows, cols) of the bounding box of the cells with an open connection."""
    deg = maze_env.Maze(conn).degrees
    rows, cols = np.nonzero(deg)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_mixture_gives_the_stated_proportions_and_is_deterministic():
    conns = draw_mazes(MIX, 2000, np.random.default_rng(0))
    assert conns.shape == (2000, 2, 8, 8)
    sizes = np.array([footprint(c)[0] for c in conns])
    assert set(sizes) == {3, 5}
    assert abs((sizes == 5).mean() - 0.75) < 0.04  # weight 3 : 1, binomial SE ~0.01
    cells = np.array([maze_env.Maze(c).degrees.astype(bool).sum() for c in conns])
    edges = np.array([len(maze_env.Maze(c).edges) for c in conns])
    open_field = edges > cells - 1  # a spanning tree has cells - 1 edges, an open field more
    assert abs(open_field.mean() - 0.5) < 0.04  # rdfs : open_field = 1 : 1
    again = draw_mazes(MIX, 2000, np.random.default_rng(0))
    assert np.array_equal(conns, again)


def test_single_source_mixture_equals_the_plain_config():
    plain = DataConfig(size=4, max_grid=6, canvas=6, offset="random")
    mixed = DataConfig(sizes=[4], generators=["rdfs"], max_grid=6, canvas=6, offset="random")
    a = draw_mazes(plain, 50, np.random.default_rng(3))
    b = draw_mazes(mixed, 50, np.random.default_rng(3))
    assert a.shape == b.shape and {footprint(c) for c in b} == {(4, 4)}


def test_mixture_config_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"data\.canvas"):
        DataConfig(sizes=[3, 4], max_grid=6)
    with pytest.raises(ValueError, match="max_grid"):
        DataConfig(sizes=[3, 6], canvas=6, max_grid=4)
    with pytest.raises(ValueError, match="weight"):
        DataConfig(sizes=[{"size": 3, "weight": 0}], max_grid=3)
    with pytest.raises(ValueError, match=r"data\.sizes entry"):
        DataConfig(sizes=[{"size": 3, "kwargs": {"p": 0.1}}], max_grid=3)  # kwargs: generators
    with pytest.raises(ValueError, match=r"data\.max_grid must be an int >= 6"):
        DataConfig(sizes=[3, 6], canvas=6, max_grid=4)
    with pytest.raises(ValueError, match=r"data\.generator='nope'"):
        DataConfig(generator="nope")
    with pytest.raises(ValueError, match=r"data\.endpoints"):
        DataConfig(endpoints={"min_distance": 3, "max_distance": 2})


LISTED = DataConfig(
    components=[
        {"size": 3, "generator": "rdfs", "weight": 3},
        {"size": 8, "generator": "rdfs_tiles", "kwargs": {"tile": 4}},
    ],
    max_grid=8, canvas=8, offset="random", queries_per_maze=2,
)  # fmt: skip


def test_listed_components_give_their_pairs_only_in_the_stated_proportions():
    """``components``: (size, generator) pairs that are not a product: 3x3 rdfs mazes and 8x8
    grids of 4x4 tiles, but never an 8x8 rdfs maze or a 3x3 grid of tiles."""
    conns = draw_mazes(LISTED, 1200, np.random.default_rng(0))
    parts = np.array([nx.number_connected_components(to_graph(c)) for c in conns])
    tiles = parts == 4  # four 4x4 trees fill the grid (a lone 3x3 leaves 55 isolated cells)
    lone = np.array([footprint(c) == (3, 3) for c in conns])
    assert (tiles | lone).all() and not (tiles & lone).any()
    assert abs(lone.mean() - 0.75) < 0.04  # weight 3 : 1
    assert np.array_equal(conns, draw_mazes(LISTED, 1200, np.random.default_rng(0)))
    trained = training_distribution(LISTED)
    assert in_training({"size": 8, "generator": "rdfs_tiles", "generator_kwargs": {"tile": 4}},
                       trained)  # fmt: skip
    assert not in_training({"size": 8, "generator": "rdfs"}, trained)  # size and name, not pair
    assert in_training({"size": 3}, trained) and LISTED.at_size(8).sources()[0].generator == "rdfs"
    for bad, words in (
        ({"components": [{"size": 3}]}, r"components\[0\].*'generator'"),
        ({"components": [{"size": 3, "generator": "rdfs", "wieght": 2}]}, "optionally"),
        ({"components": [], "max_grid": 3}, "non-empty list"),
        ({"components": [{"size": 3, "generator": "rdfs"}], "sizes": [3]}, "instead of"),
        ({"components": [{"size": 3, "generator": "rdfs", "weight": -1}]}, "weight must be"),
    ):
        with pytest.raises(ValueError, match=words):
            DataConfig(**{"max_grid": 3, **bad})


def test_data_components_are_env_configs_and_bound_every_sequence():
    """Each mixture component is the EnvConfig an env plays; no training or held-out sequence
    is longer than ``longest_sequence`` (the length rotary scaling is fitted to)."""
    configs = MIX.env_configs
    assert [(c.size, c.generator, c.canvas, c.max_grid) for c in configs] == [
        (shape, gen, (8, 8), 8) for shape in [(3, 3), (5, 5)] for gen in ["rdfs", "open_field"]
    ]
    env = maze_env.TokenMazeEnv(config=configs[1])
    assert env.observation_space["tokens"].shape == (configs[1].obs_length(),)
    longest = MIX.longest_sequence()
    for seed in range(3):
        batch, _ = training_batch(MIX, 16, np.random.default_rng(seed))
        assert int(batch.query_positions.max()) + 1 <= longest  # positions restart per query


def test_small_maze_at_random_offset_tokenizes_inside_the_canvas_vocabulary():
    batch, _ = training_batch(MIX, 8, np.random.default_rng(1))
    vocab = MIX.vocab
    assert int(batch.prefix.max()) < len(vocab) and int(batch.queries.max()) < len(vocab)
    seen = set(vocab.decode(batch.prefix.flatten().tolist()))
    rows = {tok.strip("()").split(",")[0] for tok in seen if tok.startswith("(")}
    assert max(int(r) for r in rows) >= 5  # mazes sit beyond the top-left 5x5


def test_held_out_mixture_mazes_never_appear_in_the_training_stream():
    cfg = DataConfig(sizes=[2, 3], max_grid=3, canvas=3, offset="random", queries_per_maze=1)
    held = eval_set(cfg, 40, seed=0)
    first_draw = training_maze_hashes(cfg, seed=0, steps=30, batch_mazes=8)
    assert held.hashes & first_draw  # 2x2/3x3 mazes repeat: the check has something to catch
    trained = training_maze_hashes(cfg, seed=0, steps=30, batch_mazes=8, exclude=held.hashes)
    assert not (held.hashes & trained)


def tiny_randomized(vocab_size: int) -> GPT:
    shape = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 64}
    return GPT(GPTConfig(vocab_size, positional="randomized", max_position=512, **shape))


def test_randomized_positions_keep_shared_prefix_logits_equal_to_plain_sequences():
    cfg = DataConfig(size=3, max_grid=3, queries_per_maze=3)
    model = tiny_randomized(len(cfg.vocab))
    plain_batch, _ = training_batch(cfg, 3, np.random.default_rng(1), row_tokens=24)
    batch = randomize_positions(plain_batch, np.random.default_rng(2), 512)
    assert not torch.equal(batch.query_positions, plain_batch.query_positions)
    packed = query_logits(model, batch)
    pad, start = cfg.vocab.pad_id, cfg.vocab.special["<ORIGIN_START>"]
    for i, row in enumerate(batch.queries):
        maze = int(batch.query_prefix[i])
        real = batch.prefix[maze] != pad
        prefix, prefix_pos = batch.prefix[maze][real], batch.prefix_positions[maze][real]
        assert bool((prefix_pos.diff() > 0).all())  # sorted, distinct ids
        bounds = [*(row == start).nonzero()[:, 0].tolist(), int((row != pad).sum())]
        for a, b in itertools.pairwise(bounds):
            tokens = torch.cat([prefix, row[a:b]])[None]
            positions = torch.cat([prefix_pos, batch.query_positions[i, a:b]])[None]
            assert int(positions.max()) < 512 and bool((positions.diff() > 0).all())
            plain = model(tokens, positions)[0, len(prefix) :]
            assert (plain - packed[i, a:b]).abs().max() < 1e-4


def test_randomized_model_decodes_with_evenly_spaced_positions():
    cfg = DataConfig(size=3, max_grid=3)
    model = tiny_randomized(len(cfg.vocab))
    prompt = eval_set(cfg, 1).prompts[0]
    stride = model.cfg.position_stride(len(prompt) + 5)
    assert stride == 512 // (len(prompt) + 5) > 1
    out = generate(model, [prompt], stop_token=-1, max_new=5, pad=cfg.vocab.pad_id)[0]
    tokens = torch.from_numpy(np.concatenate([prompt, out[:4]]))[None]
    positions = torch.arange(tokens.shape[1])[None] * stride
    greedy = model(tokens, positions)[0, len(prompt) - 1 :].argmax(-1)
    assert greedy.tolist() == out.tolist()  # KV-cache decoding used the same spaced ids


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(0, 4))
def test_max_distance_is_honoured(seed, lo, span):
    conns = maze_env.generate_batch("rdfs", (6, 6), 20, seed=seed)
    spec = maze_env.EndpointSpec(min_distance=lo, max_distance=lo + span)
    origins, targets = maze_env.sample_endpoints_batch(conns, seed, spec)
    for c, o, t in zip(conns, origins, targets):
        d = maze_env.Maze(c).distances(tuple(o))[tuple(t)]
        assert lo <= d <= lo + span


def test_max_distance_holds_in_the_env_and_errors_name_the_range():
    env = maze_env.env.TokenMazeEnv(size=8, endpoints={"min_distance": 5, "max_distance": 5})
    for s in range(10):
        _, info = env.reset(seed=s)
        assert info["optimal_length"] == 5
    with pytest.raises(ValueError, match="max_distance"):
        maze_env.EndpointSpec(min_distance=4, max_distance=3)
    with pytest.raises(ValueError, match="min_distance"):
        maze_env.EndpointSpec(min_distance=True)
    conns = maze_env.generate_batch("rdfs", (3, 3), 4, seed=0)
    with pytest.raises(maze_env.NoValidEndpoints, match="max_distance=30"):
        maze_env.sample_endpoints_batch(conns, 0, maze_env.EndpointSpec(20, 30))

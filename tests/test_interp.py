"""The interpretability toolkit, each tool on a tiny random GPT (planted checks where possible)."""

from __future__ import annotations

import json
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest
import torch

import maze_env
from agents.transformer.checkpoint import save_model
from agents.transformer.data import DataConfig
from agents.transformer.interp import (
    attention,
    bottlenecks,
    clusters,
    geometry,
    lens,
    patching,
    probes,
    retarget,
)
from agents.transformer.interp.__main__ import main
from agents.transformer.interp.prompts import held_out
from agents.transformer.interp.walls import main as walls_main
from agents.transformer.length_scaling import RotaryScaling, scaling_for
from agents.transformer.model import GPT, GPTConfig
from maze_env.endpoints import QUADRANTS

DATA = DataConfig(size=4, max_grid=4)
TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 128}


def tiny(seed: int = 0) -> GPT:
    return GPT(GPTConfig(vocab_size=len(DATA.vocab), **TINY), seed=seed)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Many tiny forwards: one torch thread is far faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def examples():
    return held_out(DATA, 12, seed=0)


def test_examples_decode_to_the_bfs_solution(examples):
    for ex in examples:
        parsed = maze_env.parse(DATA.vocab.decode(ex.tokens))
        assert parsed.maze == ex.maze and parsed.path == list(ex.path) and parsed.complete
        assert ex.cells[ex.target_position] == ex.target[0] * 4 + ex.target[1]


def planted(cells: np.ndarray, relation: np.ndarray) -> torch.Tensor:
    """Head 0: uniform over related keys (or over all visible keys when none)."""
    p = len(cells)
    visible = np.tri(p, dtype=bool)
    keys = np.where(relation.any(1, keepdims=True), relation, visible)
    return torch.as_tensor(keys / keys.sum(1, keepdims=True), dtype=torch.float32)


def shuffled(pattern: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each row's weights permuted among the keys it can see."""
    out = pattern.clone()
    for q in range(len(pattern)):
        out[q, : q + 1] = pattern[q, rng.permutation(q + 1)]
    return out


def test_planted_lattice_head_scores_high_and_shuffled_at_chance(examples):
    rng = np.random.default_rng(0)
    tot = {"planted": 0.0, "shuffled": 0.0}
    chance = 0.0
    for ex in examples:
        rel = attention.lattice_relation(ex.cells, ex.maze.shape)
        pat = planted(ex.cells, rel)
        heads = torch.stack([pat, shuffled(pat, rng)])
        mass, ch = attention.mass_and_chance(heads, rel)
        tot["planted"] += mass[0]
        tot["shuffled"] += mass[1]
        chance += ch
        assert mass[0] == pytest.approx(rel.any(1).sum(), rel=1e-5)  # all mass on neighbours
    assert tot["planted"] / chance > 4
    assert tot["shuffled"] / chance == pytest.approx(1.0, abs=0.15)


def test_relations_match_an_independent_graph(examples):
    ex = examples[0]
    graph = nx.Graph(ex.maze.edges)
    rel = attention.graph_relation(ex.cells, ex.maze)
    lat = attention.lattice_relation(ex.cells, ex.maze.shape)
    for q, k in zip(*np.nonzero(rel)):
        a, b = divmod(int(ex.cells[q]), 4), divmod(int(ex.cells[k]), 4)
        assert k <= q and graph.has_edge(a, b) and lat[q, k]
    assert rel.sum() > 0 and (lat & ~rel).sum() > 0  # walls between lattice neighbours exist


def test_random_model_heads_score_near_chance(examples):
    scores = attention.head_scores(tiny(), examples[:4])
    assert scores.lattice.shape == (2, 2)
    assert np.allclose(scores.lattice, 1.0, atol=0.05) and np.allclose(scores.graph, 1.0, atol=0.05)
    assert attention.rank_heads(scores.lattice, 2)[0][2] == scores.lattice.max()
    fig = attention.plot_head(tiny(), examples[0], 1, 0)
    assert fig.axes


def test_probe_reads_a_planted_linear_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 16))
    w = rng.normal(size=(16, 3))
    y = x @ w > 0.3
    res = probes.fit_probe(x[:400], y[:400], x[400:], y[400:], seed=0)
    assert res.accuracy > 0.97 and res.balanced > 0.95 and res.baseline < 0.8
    again = probes.fit_probe(x[:400], y[:400], x[400:], y[400:], seed=0)
    assert again == res


def test_classifier_reads_a_planted_class():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(900, 16))
    y = (x[:, :5] * 3).argmax(1)  # the class is the largest of five coordinates
    res = probes.fit_classifier(x[:600], y[:600], x[600:], y[600:], seed=0)
    assert res.accuracy > 0.9 and res.balanced > 0.9 and res.baseline < 0.3
    noise = probes.fit_classifier(x[:600], rng.permutation(y[:600]), x[600:], y[600:], seed=0)
    assert noise.accuracy < 0.35


def test_walls_cli_prints_every_design(tmp_path, capsys):
    save_model(tmp_path / "ckpt", tiny(), {"model": tiny().cfg.to_dict(), "data": DATA.to_dict()})
    walls_main(["--checkpoint", str(tmp_path / "ckpt"), "--mazes", "6"])
    out = capsys.readouterr().out
    assert "edge named, at each ;" in out and "walls at <ADJLIST_END>" in out
    assert len(out.strip().splitlines()) == 2 + TINY["n_layers"] + 1


def test_probes_run_per_layer(examples):
    walls = probes.wall_probes(tiny(), examples, seed=0)
    future = probes.future_path_probes(tiny(), examples, seed=0)
    assert set(walls) == set(probes.WALL_PROBE_POSITIONS)
    results = [*walls["path_start"], *walls["origin"], *future]
    assert len(future) == len(walls["origin"]) == TINY["n_layers"] + 1
    assert all(0 <= r.accuracy <= 1 and 0 <= r.baseline <= 1 for r in results)
    assert probes.lattice_edges(examples[0].maze).sum() == examples[0].maze.n_edges


def test_each_semicolon_names_one_listed_edge_and_every_open_edge_once(examples):
    for ex in examples:
        positions, named = probes.listed_edges(ex, DATA.vocab)
        assert np.all(ex.tokens[positions] == DATA.vocab.special[";"])
        assert np.array_equal(named.sum(1), np.ones(len(positions)))  # one edge per ';'
        assert np.array_equal(named.sum(0), probes.lattice_edges(ex.maze))  # each open edge once


def test_wall_probe_designs_run_per_layer(examples):
    res = probes.wall_probe_designs(tiny(), examples, DATA.vocab, seed=0)
    assert set(res) == {"walls at <ADJLIST_END>", "edge named, at each ;"}
    assert all(len(r) == TINY["n_layers"] + 1 for r in res.values())


def test_silhouette_separates_planted_clusters_and_not_shuffled_labels():
    rng = np.random.default_rng(0)
    labels = np.arange(200) < 100
    x = rng.normal(size=(200, 8)) + 6 * labels[:, None]
    assert clusters.silhouette(x, labels) > 0.6
    assert abs(clusters.silhouette(x, rng.permutation(labels))) < 0.05
    xy = clusters.pca2(x)
    assert xy.shape == (200, 2) and xy[:, 0].var() > 5 * xy[:, 1].var()  # PC1: the split


def test_coordinate_clusters_label_the_adjacency_list_cells(examples):
    for ex in examples[:4]:
        positions, on = clusters.adjacency_coordinates(ex)
        end = int(np.flatnonzero(ex.tokens == DATA.vocab.special["<ADJLIST_END>"])[0])
        assert positions.max() < end and len(positions) == 2 * ex.maze.n_edges
        path = {r * 4 + c for r, c in ex.path}
        assert [int(ex.cells[p]) in path for p in positions] == on.tolist()
    res = clusters.coordinate_clusters(tiny(), examples, sample=300)
    assert res.pca.shape == (TINY["n_layers"] + 1, 300, 2) and res.on_path.shape == (300,)
    assert np.all(np.abs(res.silhouette) <= 1) and np.all((res.balanced >= 0) & (res.balanced <= 1))


def test_direct_logit_attribution_sums_to_the_logit_difference(examples):
    model = tiny()
    dla = lens.direct_logit_attribution(model, examples[:3], DATA.vocab.coord_ids)
    parts = dla.embed + dla.heads.sum() + dla.mlps.sum() + dla.biases
    assert parts == pytest.approx(dla.total, abs=1e-4)
    res = lens.logit_lens(model, examples[:3])
    assert res.accuracy.shape == (TINY["n_layers"] + 1,)
    ex = examples[0]
    pos, _ = lens.decision_positions(ex)
    final = lens.layer_logits(model, ex, pos)[-1]
    assert torch.allclose(final, model(torch.as_tensor(ex.tokens)[None])[0, pos], atol=1e-4)


def test_moved_wall_pair_is_aligned_and_changes_the_answer(examples):
    rng = np.random.default_rng(0)
    for ex in examples:
        pair = patching.make_pair(ex, DATA.vocab, rng)
        assert pair is not None
        assert len(pair.clean) == len(pair.corrupt) and (pair.clean != pair.corrupt).sum() <= 2
        assert pair.clean_next != pair.corrupt_next
        corrupt = maze_env.parse(DATA.vocab.decode(pair.corrupt))
        assert corrupt.maze.is_tree() and corrupt.maze.n_edges == ex.maze.n_edges
        assert pair.groups.sum(0).tolist() == [1] * len(pair.clean)  # a partition


def test_patching_a_run_with_its_own_activations_restores_it_exactly(examples):
    model = tiny()
    pair = patching.make_pair(examples[0], DATA.vocab, np.random.default_rng(0))
    p = len(pair.clean)
    clean = patching.logit_diff(model, pair, pair.clean)
    masks = np.eye(p, dtype=bool)
    own = patching.patch_sweep(model, pair.clean, pair.clean, masks, pair)
    assert np.array_equal(own, np.full_like(own, own[0, 0])) and own[0, 0] == pytest.approx(clean)
    full = patching.restoration(model, pair, np.ones((1, p), bool))
    assert np.allclose(full, 1.0, atol=1e-4)
    none = patching.restoration(model, pair, np.zeros((1, p), bool))
    assert np.allclose(none, 0.0, atol=1e-4)


def test_patching_the_target_embedding_equals_prompting_the_new_target(examples):
    model = tiny(seed=3)
    exs = examples[:4]
    targets = retarget.new_targets(exs, seed=0)
    a = [ex.prompt for ex in exs]
    b = [ex.prompt.copy() for ex in exs]
    for row, ex, t in zip(b, exs, targets):
        row[ex.target_position] = DATA.vocab.coord_ids[t]
    pos = [ex.target_position for ex in exs]
    hooks = retarget.target_hooks(model, a, b, pos, [0])
    patched = retarget.generate_with(model, a, DATA.vocab, (4, 4), hooks)
    direct = retarget.generate_with(model, b, DATA.vocab, (4, 4))
    assert all(np.array_equal(x, y) for x, y in zip(patched, direct))
    res = retarget.retarget(model, exs, DATA.vocab, seed=0)
    assert res.layers == ["L0", "L1", "all"] and res.to_new[0] == res.control_new


def test_geometry_finds_a_planted_grid_embedding():
    model = tiny()
    ids = DATA.vocab.coord_ids
    r, c = np.divmod(np.arange(16), 4)
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, TINY["d_model"]))
    with torch.no_grad():
        emb = np.column_stack([r, c]) @ basis + 5 * rng.normal(size=TINY["d_model"])
        model.W_E[torch.as_tensor(ids.ravel())] = torch.as_tensor(emb, dtype=torch.float32)
    emb = geometry.coordinate_embeddings(model, ids)
    assert geometry.distance_correlation(emb, (4, 4)) > 0.8
    proj, var = geometry.pca(emb)
    assert geometry.pca_r2(proj, (4, 4)) > 0.99 and var.sum() > 0.99
    heads = geometry.head_geometry(model, ids, (4, 4))
    assert heads.qk_neighbour_z.shape == (2, 2) and len(heads.ov_top_tokens[0][0]) == 3


def test_bottlenecks_in_a_tree_are_the_interior_path_cells(examples):
    for ex in examples:
        interior = {c for c in ex.path[1:-1] if ex.maze.degrees[c] >= 2}
        assert bottlenecks.bottlenecks(ex.maze, ex.path) == interior
    model = tiny()
    assert bottlenecks.bottleneck_attention(model, examples[:3]).shape == (2, 2)
    lens_table = bottlenecks.dead_end_lens(model, examples[:3], DATA.vocab.coord_ids)
    assert lens_table.shape == (TINY["n_layers"] + 1, len(bottlenecks.LENS_GROUPS))


def test_target_shift_takes_a_checkpoint(tmp_path):
    config = {"model": tiny().cfg.to_dict(), "data": DATA.to_dict()}
    save_model(tmp_path / "ckpt", tiny(), config)
    res = retarget.target_shift(tmp_path / "ckpt", "quadrant:SE", n=6, seed=1)
    assert res.n == 6 and 0 <= res.reached <= 1 and res.ends.shape == (4, 4)
    assert res.ends.sum() == round(6 * (1 - res.reached))


def test_excluded_region_reads_a_complement_target_region():
    assert retarget.excluded_region(replace(DATA, endpoints={"target_region": "!quadrant:NE"})) == (
        "quadrant:NE"
    )
    assert retarget.excluded_region(replace(DATA, endpoints={"target_region": "corners"})) is None
    assert retarget.excluded_region(DATA) is None


def test_cli_writes_a_report(tmp_path):
    config = {"model": tiny().cfg.to_dict(), "data": DATA.to_dict()}
    save_model(tmp_path / "ckpt", tiny(), config)
    no_ne = replace(DATA, endpoints={"target_region": "!quadrant:NE"})
    save_model(tmp_path / "no_ne", tiny(), {"model": tiny().cfg.to_dict(), "data": no_ne.to_dict()})
    main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "rep"), "--quick",
          "--mazes", "8", "--no-progress",
          "--shift-checkpoint", str(tmp_path / "no_ne")])  # fmt: skip
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "`no_ne` never saw training targets in `quadrant:NE`" in text
    shift = json.loads((tmp_path / "rep" / "results.json").read_text())["target_shift"]
    assert set(shift) == {"this model", "no_ne"} and set(shift["this model"]) == set(QUADRANTS)
    assert shift["no_ne"]["held_back"]["region"] == "quadrant:NE"
    for n in range(1, 11):
        assert f"## {n}." in text
    pngs = sorted(p.name for p in (tmp_path / "rep").glob("*.png"))
    assert "probes.png" in pngs and "retarget.png" in pngs and len(pngs) >= 10
    for name in (s.split("](")[1].rstrip(")") for s in text.split("![")[1:]):
        assert (tmp_path / "rep" / name.split(")")[0]).is_file()
    assert (tmp_path / "rep" / "results.json").is_file()


def test_cli_runs_only_the_named_sections(tmp_path, capsys):
    config = {"model": tiny().cfg.to_dict(), "data": DATA.to_dict()}
    save_model(tmp_path / "ckpt", tiny(), config)
    main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "rep"), "--quick",
          "--mazes", "4", "--no-progress", "--shift-checkpoint", "none",
          "--sections", "lens,attention"])  # fmt: skip
    text = (tmp_path / "rep" / "report.md").read_text()
    numbers = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert numbers["stages"] == ["attention", "lens"]  # the report's order, not the option's
    assert "## 1." in text and "## 3." in text and "## 2." not in text and "## 10." not in text
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "r2"),
              "--sections", "size"])  # fmt: skip
    assert "--sections: unknown ['size']; known: ['attention'" in capsys.readouterr().err


def test_shift_section_takes_a_held_back_region_that_is_not_a_quadrant(tmp_path, examples):
    from agents.transformer.interp import report

    no_corners = replace(DATA, endpoints={"target_region": "!corners"})
    rep = report.Report(tmp_path)
    report._shift(rep, tiny(), DATA, examples[:4], 0, (4, 4), (tiny(), no_corners, "no_corners"))
    held = rep.numbers["target_shift"]["no_corners"]["held_back"]
    assert held["region"] == "corners" and np.asarray(held["misses_end"]).shape == (4, 4)


def test_size_profile_fork_decisions_agree_with_free_decoding():
    """Teacher-forced fork decisions on the shipped model: a greedily decoded exact path makes
    every fork decision right, and a wrong first fork never decodes exactly."""
    from agents.transformer.checkpoint import load_model
    from agents.transformer.decode import generate
    from agents.transformer.interp import sizes
    from agents.transformer.policy import SHIPPED

    model, config = load_model(SHIPPED)
    data = DataConfig(**config["data"])
    examples = held_out(data, 24, seed=3)
    vocab = data.vocab
    outs = generate(model, [ex.prompt for ex in examples], vocab.special["<PATH_END>"], 40,
                    vocab.pad_id)  # fmt: skip
    exact = [list(o) == list(ex.tokens[len(ex.prompt) :]) for o, ex in zip(outs, examples)]
    checked = 0
    for ex, ok in zip(examples, exact):
        decisions = sizes.fork_decisions(model, ex)
        if ok:
            assert all(decisions)
        elif decisions and not decisions[0]:
            checked += 1
    assert any(exact) and checked >= 1
    (row,) = sizes.size_profile(model, data, [6], 12, seed=3)
    assert row.graph_lift > 2 and row.graph_mass > 2 * row.graph_chance
    assert row.first_fork is not None and row.first_fork > 0.5
    # in-range prompts measure the same under the scaling the agent decodes with
    scaling = scaling_for(model.cfg, data)
    assert sizes.size_profile(model, data, [6], 12, seed=3, scaling=scaling) == [row]
    stretched = RotaryScaling(len(examples[0].prompt) // 2)  # as if training were half as long
    (other,) = sizes.size_profile(model, data, [6], 12, seed=3, scaling=stretched)
    assert other != row
    small = replace(data, canvas=None).at_size(4)
    assert small.canvas == 6 and small.offset == "random" and small.size == 4

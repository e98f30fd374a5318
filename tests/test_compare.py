"""``python -m benchmarks compare``: two checkpoints on the same held-out mazes, paired."""

import json

import pytest

from agents.transformer import evaluate
from agents.transformer.shipped import resolve_checkpoint
from benchmarks.__main__ import main


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_each_side_scores_what_evaluate_scores_and_a_model_ties_with_itself(capsys):
    evaluate.main(["--checkpoint", "shipped_6x6", "--n", "8"])
    alone = last_json(capsys)
    path = str(resolve_checkpoint("shipped_6x6"))  # the same model under a second name
    assert main(["compare", "shipped_6x6", path, "--n", "8"]) == 0
    out = last_json(capsys)
    assert out["exact"] == {"shipped_6x6": alone["exact"], path: alone["exact"]}
    assert (out["a_minus_b"], out["ci95"], out["only_a"], out["only_b"]) == (0, [0, 0], 0, 0)
    assert out["n"] == 8 and out["size"] == 6


def test_checkpoints_with_different_held_out_sets_are_refused():
    with pytest.raises(SystemExit, match="different held-out sets"):
        main(["compare", "shipped_6x6", "small_to_large", "--n", "4"])


def test_generator_kwargs_on_the_command_line_reach_the_held_out_mazes():
    import networkx as nx
    from mazegraph import to_graph

    from agents.transformer.checkpoint import load_model
    from agents.transformer.cli import evaluate_parser, generator_kwargs

    args = evaluate_parser().parse_args(["--generator", "rdfs_tiles", "--tile", "3"])
    assert generator_kwargs(args) == {"tile": 3}
    _, config = load_model(resolve_checkpoint("shipped_6x6"))
    data, held_out = evaluate.held_out_for(config, 4, 0, "rdfs_tiles", {"tile": 3})
    assert (data.generator, data.generator_kwargs) == ("rdfs_tiles", {"tile": 3})
    assert held_out.problems.conns.shape == (4, 2, 6, 6)
    for conn in held_out.problems.conns:  # a 6x6 grid of four independent 3x3 mazes
        assert nx.number_connected_components(to_graph(conn)) == 4

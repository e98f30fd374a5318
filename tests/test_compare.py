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

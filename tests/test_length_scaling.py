"""Rotary base scaling for long prompts: in-distribution decoding untouched, every row its own
base (batched = alone, cached = recomputed), settings validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import agents
from agents.transformer.cli import evaluate_parser
from agents.transformer.data import DataConfig, eval_set
from agents.transformer.decode import generate
from agents.transformer.length_scaling import RotaryScaling, scaling_for
from agents.transformer.model import GPT, GPTConfig

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 256}
TRAINED = DataConfig(size=3, max_grid=5, canvas=5, offset="random", queries_per_maze=3)


def tiny(positional: str = "rotary") -> GPT:
    return GPT(GPTConfig(vocab_size=len(TRAINED.vocab), positional=positional, **TINY), seed=1)


def decode(model, prompts, scaling=None, use_cache=True):
    stop, pad = TRAINED.vocab.special["<PATH_END>"], TRAINED.vocab.pad_id
    return generate(model, prompts, stop, 24, pad, scaling=scaling, use_cache=use_cache)


def test_a_per_row_base_equal_to_the_trained_one_gives_the_same_logits():
    model = tiny()
    tokens = torch.from_numpy(np.stack(eval_set(TRAINED, 3).prompts[:3]))
    same = model(tokens, rotary_base=torch.full((3,), model.cfg.rotary_base))
    assert torch.equal(same, model(tokens))
    assert not torch.allclose(model(tokens, rotary_base=torch.full((3,), 1e6)), same)


def test_prompts_from_the_training_distribution_decode_as_without_scaling():
    model, scaling = tiny(), scaling_for(tiny().cfg, TRAINED, 4.0)
    prompts = eval_set(TRAINED, 12).prompts
    assert max(len(p) for p in prompts) <= scaling.trained_length
    assert torch.equal(scaling.bases(model.cfg, [len(p) for p in prompts]),
                       torch.full((12,), model.cfg.rotary_base))  # fmt: skip
    plain, scaled = decode(model, prompts), decode(model, prompts, scaling)
    assert all(np.array_equal(a, b) for a, b in zip(plain, scaled, strict=True))


def test_longer_prompts_decode_with_their_own_base_batched_as_alone():
    model = tiny()
    scaling = scaling_for(model.cfg, TRAINED, 2.0)
    prompts = eval_set(TRAINED.at_size(5), 4).prompts + eval_set(TRAINED.at_size(4), 4).prompts
    lengths = np.array([len(p) for p in prompts])
    assert (lengths > scaling.trained_length).all() and len(set(lengths)) > 1
    expected = model.cfg.rotary_base * (lengths / scaling.trained_length) ** 2.0
    assert np.allclose(scaling.bases(model.cfg, lengths).numpy(), expected, rtol=1e-6)
    together = decode(model, prompts, scaling)
    for prompt, row in zip(prompts, together, strict=True):
        assert np.array_equal(decode(model, [prompt], scaling)[0], row)
    recomputed = decode(model, prompts, scaling, use_cache=False)
    assert all(np.array_equal(a, b) for a, b in zip(together, recomputed, strict=True))


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=20), st.floats(0, 6))
def test_bases_keep_the_trained_base_up_to_the_trained_length_then_grow(lengths, power):
    cfg = tiny().cfg
    bases = RotaryScaling(400, power).bases(cfg, lengths).numpy()
    lengths = np.array(lengths)
    assert (bases[lengths <= 400] == np.float32(cfg.rotary_base)).all()
    assert (bases >= np.float32(cfg.rotary_base)).all()
    order = np.argsort(lengths, kind="stable")
    assert (np.diff(bases[order]) >= 0).all()


def test_settings_are_checked_by_name():
    rotary, none = tiny().cfg, tiny("none").cfg
    assert scaling_for(rotary, TRAINED, "off") is None
    assert scaling_for(none, TRAINED, "auto") is None
    assert scaling_for(rotary, TRAINED, "auto").trained_length == TRAINED.longest_sequence()
    with pytest.raises(ValueError, match="rotary_scaling must be one of"):
        scaling_for(rotary, TRAINED, "ntk")
    with pytest.raises(ValueError, match=r"needs a rotary model.*'none'"):
        scaling_for(none, TRAINED, 2.0)
    with pytest.raises(ValueError, match="power must be a number >= 0"):
        scaling_for(rotary, TRAINED, -1.0)
    with pytest.raises(ValueError, match="rotary_scaling must be one of"):
        agents.make("transformer", rotary_scaling="ntk")
    assert agents.make("transformer", rotary_scaling="off").scaling is None


def test_evaluate_reads_the_setting():
    parser = evaluate_parser()
    assert parser.parse_args(["--rotary-scaling", "2.5"]).rotary_scaling == 2.5
    assert parser.parse_args([]).rotary_scaling == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["--rotary-scaling", "fast"])

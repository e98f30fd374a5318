"""Rotary frequency scaling for long prompts: in-distribution decoding untouched, every row its
own frequencies (batched = alone, cached = recomputed), settings validated."""

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
from agents.transformer.model import GPT, GPTConfig, rotary_frequencies

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 256}
TRAINED = DataConfig(size=3, max_grid=5, canvas=5, offset="random", queries_per_maze=3)


def tiny(positional: str = "rotary") -> GPT:
    return GPT(GPTConfig(vocab_size=len(TRAINED.vocab), positional=positional, **TINY), seed=1)


def decode(model, prompts, scaling=None, use_cache=True):
    stop, pad = TRAINED.vocab.special["<PATH_END>"], TRAINED.vocab.pad_id
    return generate(model, prompts, stop, 24, pad, scaling=scaling, use_cache=use_cache)


def test_per_row_frequencies_equal_to_the_trained_ones_give_the_same_logits():
    model = tiny()
    tokens = torch.from_numpy(np.stack(eval_set(TRAINED, 3).prompts[:3]))
    trained = rotary_frequencies(model.cfg.d_head, model.cfg.rotary_base)
    same = model(tokens, rotary_frequencies=trained.expand(3, -1))
    assert torch.equal(same, model(tokens))
    assert not torch.allclose(model(tokens, rotary_frequencies=trained.expand(3, -1) / 3), same)


def test_prompts_from_the_training_distribution_decode_as_without_scaling():
    model = tiny()
    scaling = scaling_for(model.cfg, TRAINED)
    prompts = eval_set(TRAINED, 12).prompts
    assert max(len(p) for p in prompts) <= scaling.trained_length
    trained = rotary_frequencies(model.cfg.d_head, model.cfg.rotary_base)
    assert torch.equal(scaling.frequencies(model.cfg, [len(p) for p in prompts]),
                       trained.expand(12, -1))  # fmt: skip
    plain, scaled = decode(model, prompts), decode(model, prompts, scaling)
    assert all(np.array_equal(a, b) for a, b in zip(plain, scaled, strict=True))


def test_longer_prompts_decode_with_their_own_frequencies_batched_as_alone():
    model = tiny()
    scaling = scaling_for(model.cfg, TRAINED)
    prompts = eval_set(TRAINED.at_size(5), 4).prompts + eval_set(TRAINED.at_size(4), 4).prompts
    lengths = np.array([len(p) for p in prompts])
    assert (lengths > scaling.trained_length).all() and len(set(lengths)) > 1
    freqs = scaling.frequencies(model.cfg, lengths)
    assert len({tuple(f.tolist()) for f in freqs}) == len(set(lengths))  # one set per length
    together = decode(model, prompts, scaling)
    first = torch.from_numpy(prompts[0])[None]
    assert not torch.allclose(model(first, rotary_frequencies=freqs[:1]), model(first))
    for prompt, row in zip(prompts, together, strict=True):
        assert np.array_equal(decode(model, [prompt], scaling)[0], row)
    recomputed = decode(model, prompts, scaling, use_cache=False)
    assert all(np.array_equal(a, b) for a, b in zip(together, recomputed, strict=True))


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=20))
def test_fast_frequencies_are_kept_slow_ones_slowed_by_the_stretch(lengths):
    """A frequency that turns beta times over the trained length is kept, one that turns at
    most alpha times is divided by length / trained length; none ever speeds up."""
    cfg = GPTConfig(vocab_size=8, d_model=256, n_heads=2)  # d_head 128: 64 frequencies
    scaling = RotaryScaling(400)
    trained = rotary_frequencies(cfg.d_head, cfg.rotary_base)
    turns = 400 * trained / (2 * np.pi)
    freqs = scaling.frequencies(cfg, lengths)
    stretch = np.maximum(1.0, np.array(lengths, np.float64) / 400)[:, None]
    assert (freqs <= trained).all()
    assert torch.equal(freqs[:, turns >= scaling.beta], trained[turns >= scaling.beta].expand(
        len(lengths), -1))  # fmt: skip
    slow = (turns <= scaling.alpha).numpy()
    assert slow.any() and np.allclose(
        freqs[:, slow].numpy(), trained[slow].numpy() / stretch, rtol=1e-5
    )


def test_settings_are_checked_by_name():
    rotary, none = tiny().cfg, tiny("none").cfg
    assert scaling_for(rotary, TRAINED, "off") is None
    assert scaling_for(none, TRAINED, "auto") is None
    assert scaling_for(rotary, TRAINED, "auto").trained_length == TRAINED.longest_sequence()
    with pytest.raises(ValueError, match="rotary_scaling must be one of"):
        scaling_for(rotary, TRAINED, "ntk")
    with pytest.raises(ValueError, match="need 0 <= alpha < beta"):
        RotaryScaling(100, alpha=4, beta=2)
    with pytest.raises(ValueError, match="rotary_scaling must be one of"):
        agents.make("transformer", rotary_scaling="ntk")
    assert agents.make("transformer", rotary_scaling="off").scaling is None


def test_evaluate_reads_the_setting():
    parser = evaluate_parser()
    assert parser.parse_args(["--rotary-scaling", "off"]).rotary_scaling == "off"
    assert parser.parse_args([]).rotary_scaling == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["--rotary-scaling", "fast"])

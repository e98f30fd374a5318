"""Rotary frequency scaling for long prompts: in-distribution decoding untouched, every row its
own frequencies (batched = alone, cached = recomputed), settings validated."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import agents
from agents.transformer.cli import evaluate_parser
from agents.transformer.data import DataConfig, eval_set, training_batch
from agents.transformer.decode import generate
from agents.transformer.length_scaling import RotaryScaling, StretchAugmentation, scaling_for
from agents.transformer.model import GPT, GPTConfig, rotary_frequencies
from agents.transformer.train import TrainConfig, Trainer, loss_on, query_logits

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


def stretched_batch(p: float, seed: int = 2):
    model = tiny()
    batch, _ = training_batch(TRAINED, 6, np.random.default_rng(1), row_tokens=40)
    scaling = RotaryScaling(TRAINED.longest_sequence())
    augmented = StretchAugmentation(3.0, p).apply(batch, np.random.default_rng(seed), model.cfg,
                                                  scaling)  # fmt: skip
    return model, batch, augmented


def test_stretched_frequencies_keep_shared_prefix_logits_equal_to_plain_sequences():
    """Each maze's own frequencies reach its prefix and all its query rows: the packed batch
    scores every query as that maze's plain sequence alone with those frequencies."""
    model, _, batch = stretched_batch(p=1.0)
    freqs = batch.rotary_frequencies
    assert len({tuple(f.tolist()) for f in freqs}) == len(freqs)  # every maze its own
    packed = query_logits(model, batch)
    pad, start = TRAINED.vocab.pad_id, TRAINED.vocab.special["<ORIGIN_START>"]
    for i, row in enumerate(batch.queries):
        maze = int(batch.query_prefix[i])
        real = batch.prefix[maze] != pad
        prefix, prefix_pos = batch.prefix[maze][real], batch.prefix_positions[maze][real]
        bounds = [*(row == start).nonzero()[:, 0].tolist(), int((row != pad).sum())]
        for a, b in itertools.pairwise(bounds):
            tokens = torch.cat([prefix, row[a:b]])[None]
            positions = torch.cat([prefix_pos, batch.query_positions[i, a:b]])[None]
            alone = model(tokens, positions, rotary_frequencies=freqs[maze : maze + 1])
            assert (alone[0, len(prefix) :] - packed[i, a:b]).abs().max() < 1e-4
            assert (model(tokens, positions)[0, len(prefix) :] - packed[i, a:b]).abs().max() > 1e-4


def test_without_stretch_the_loss_is_the_plain_one_and_draws_are_seeded():
    model, plain, none_stretched = stretched_batch(p=0.0)
    assert torch.equal(loss_on(model, none_stretched), loss_on(model, plain))
    _, _, a = stretched_batch(p=0.5, seed=7)
    _, _, b = stretched_batch(p=0.5, seed=7)
    assert torch.equal(a.rotary_frequencies, b.rotary_frequencies)
    trained = rotary_frequencies(model.cfg.d_head, model.cfg.rotary_base)
    kept = (a.rotary_frequencies == trained).all(1)
    assert 0 < int(kept.sum()) < len(kept)  # some mazes stretched, some not (seed 7)
    sliced = a.mazes(2, 5)
    assert torch.equal(sliced.rotary_frequencies, a.rotary_frequencies[2:5])


def test_stretch_draws_cover_the_range_in_the_stated_proportion():
    model = tiny()
    scaling = RotaryScaling(100)
    batch, _ = training_batch(TRAINED, 1, np.random.default_rng(0), row_tokens=40)
    batch = batch.mazes(0, 1)
    trained = rotary_frequencies(model.cfg.d_head, model.cfg.rotary_base)
    aug = StretchAugmentation(4.0, p=0.25)
    many = dataclasses.replace(batch, prefix=batch.prefix.expand(4000, -1))  # 4000 draws
    freqs = aug.apply(many, np.random.default_rng(0), model.cfg, scaling).rotary_frequencies
    slowest = (trained[-1] / freqs[:, -1]).numpy()  # the stretch itself (slowest: fully slowed)
    stretched = slowest > 1
    assert abs(stretched.mean() - 0.25) < 0.03
    assert slowest.max() <= 4.0 + 1e-5 and np.quantile(slowest[stretched], 0.9) > 3.5


def test_stretch_config_is_checked(tmp_path):
    base = {"model": TINY, "data": {"size": 3}, "steps": 2}
    for bad, match in [
        ({"max_stretch": 0.5}, "max_stretch must be >= 1"),
        ({"max_stretch": 2, "p": 1.5}, "p must be in"),
        ({"max": 2}, "takes 'max_stretch'"),
    ]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**base, rotary_stretch=bad)
    with pytest.raises(ValueError, match="needs a rotary model"):
        TrainConfig(**{**base, "model": {**TINY, "positional": "none"}},
                    rotary_stretch={"max_stretch": 2})  # fmt: skip
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**base, "rotary_stretch": {"max_stretch": 2.5}, "eval_size": 4,
                                "batch_mazes": 2, "warmup_steps": 1}))  # fmt: skip
    cfg = TrainConfig.from_json(path)
    trainer = Trainer(cfg, tmp_path / "run")
    losses = [trainer.train_step() for _ in range(2)]
    assert all(np.isfinite(losses))

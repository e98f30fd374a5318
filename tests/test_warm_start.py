"""Warm starts: a trained model seeds a run with a larger vocabulary (issue #16)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch

from agents.transformer.checkpoint import CheckpointError, load_model
from agents.transformer.data import DataConfig, training_batch
from agents.transformer.policy import SHIPPED
from agents.transformer.train import TrainConfig, Trainer, query_logits
from agents.transformer.warm_start import warm_start

SHAPE = {"d_model": 128, "n_layers": 8, "n_heads": 4, "d_mlp": 512, "n_ctx": 1024}
CANVAS = {"sizes": [3, 4, 5, 6], "max_grid": 12, "canvas": 12, "offset": "random"}


def grown(steps: int = 2, **changes) -> TrainConfig:
    cfg = TrainConfig(
        name="warm", model={**SHAPE, "positional": "randomized"}, data=CANVAS, batch_mazes=2,
        steps=steps, warmup_steps=1, eval_every=1000, eval_size=4, checkpoint_every=1,
        init_from="shipped_6x6",
    )  # fmt: skip
    return dataclasses.replace(cfg, **changes)


def test_warm_start_carries_the_shipped_model_over_to_a_larger_vocabulary(tmp_path):
    shipped, config = load_model(SHIPPED)
    old_data = DataConfig(**config["data"])
    old = len(old_data.vocab)
    assert DataConfig(**CANVAS).vocab.tokens[:old] == old_data.vocab.tokens
    trainer = Trainer(grown(), tmp_path / "run")
    assert trainer.init_from == {
        "from": "shipped_6x6",
        "path": str(SHIPPED),
        "sha256": hashlib.sha256((SHIPPED / "model.safetensors").read_bytes()).hexdigest(),
        "vocab_rows_copied": old,
    }
    model = trainer.model.eval()
    # On the shipped model's own problems (6x6 at offset 0, plain positions) the grown model
    # gives the same logits for every old token: the new rows change nothing else.
    batch, _ = training_batch(old_data, 3, np.random.default_rng(5))
    with torch.no_grad():
        assert torch.equal(query_logits(model, batch)[..., :old], query_logits(shipped, batch))
    # The new tokens keep the run's own seeded initialisation.
    fresh = Trainer(grown(init_from=None), tmp_path / "fresh").model
    assert torch.equal(model.W_E[old:], fresh.W_E[old:])
    assert torch.equal(model.W_U[:, old:], fresh.W_U[:, old:])
    assert not torch.equal(model.W_E[:old], fresh.W_E[:old])


def test_warm_start_is_recorded_and_survives_a_resume(tmp_path):
    first = Trainer(grown(steps=1), tmp_path / "r")
    first.run(progress=False)
    recorded = load_model(tmp_path / "r")[1]["training"]["summary"]["init_from"]
    assert recorded == first.init_from
    again = Trainer(grown(steps=2), tmp_path / "r")
    again.resume()
    again.run(progress=False)
    assert load_model(tmp_path / "r")[1]["training"]["summary"]["init_from"] == recorded


def test_warm_start_refuses_what_it_cannot_seed(tmp_path):
    with pytest.raises(CheckpointError, match="same d_model"):
        Trainer(grown(model={**SHAPE, "d_mlp": 256}), tmp_path / "a")
    with pytest.raises(CheckpointError, match="learned positions"):
        Trainer(grown(model={**SHAPE, "positional": "learned"}), tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="neither a path nor a shipped model"):
        Trainer(grown(init_from="nosuch"), tmp_path / "c")
    Trainer(grown(steps=1, init_from=None), tmp_path / "big").run(progress=False)
    small = Trainer(grown(data={"size": 4, "max_grid": 4}, init_from=None), tmp_path / "d")
    with pytest.raises(CheckpointError, match="not a prefix"):
        warm_start(small.model, small.data, tmp_path / "big")

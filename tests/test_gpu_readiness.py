"""GPU readiness flags, run on CPU: bf16 autocast and torch.compile of the training forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.transformer.data import DataConfig, training_batch
from agents.transformer.train import TrainConfig, Trainer

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 128}
DATA = DataConfig(size=3, max_grid=3, queries_per_maze=3)


def _trainer(tmp_path, **kw) -> Trainer:
    cfg = TrainConfig(model=TINY, data=DATA.to_dict(), batch_mazes=3, eval_size=4, **kw)
    return Trainer(cfg, tmp_path)


def _batch():
    return training_batch(DATA, 3, np.random.default_rng(0))[0]


def test_bf16_autocast_runs_the_forward_in_bfloat16_and_keeps_fp32_weights(tmp_path):
    fp32, bf16 = _trainer(tmp_path), _trainer(tmp_path, precision="bf16")
    with torch.no_grad():
        want, got = fp32.batch_loss(_batch()), bf16.batch_loss(_batch())
    assert float(got) != float(want)  # autocast engaged: bf16 matmuls round differently
    assert float(got) == pytest.approx(float(want), rel=2e-2)
    loss = bf16.train_step()
    assert np.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())
    assert all(p.grad.dtype == torch.float32 for p in bf16.model.parameters())


def test_compiled_forward_gives_the_eager_loss(tmp_path):
    eager, comp = _trainer(tmp_path), _trainer(tmp_path, compile="eager")
    assert comp.net._orig_mod.model is comp.model  # a torch.compile OptimizedModule
    with torch.no_grad():
        assert float(comp.batch_loss(_batch())) == pytest.approx(
            float(eager.batch_loss(_batch())), abs=1e-6
        )


@pytest.mark.parametrize(
    "kw, word",
    [({"precision": "fp16"}, "precision must be 'fp32' or 'bf16'"), ({"compile": True}, "backend")],
)
def test_bad_precision_or_compile_names_the_key(kw, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**kw)

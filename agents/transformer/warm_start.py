"""Warm start: initialise a new run's model from a trained checkpoint.

The vocabulary is prefix-ordered (``maze_env.Vocabulary``: the tokens of a smaller grid come
first), so a model trained with ``max_grid`` 6 carries its embeddings and unembeddings over to a
run with ``max_grid`` 12: the first rows are copied, the new tokens keep the run's own seeded
initialisation.  Every other tensor must have the same shape.  Positional encodings without
parameters (rotary, randomized, none) may differ between source and run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from agents.transformer.checkpoint import (
    CONFIG_FILE,
    MODEL_FILE,
    CheckpointError,
    load_model,
    sha256_hex,
)
from agents.transformer.data import DataConfig
from agents.transformer.model import GPT

VOCAB_ROWS = {"W_E": 0, "W_U": 1, "b_U": 0}
"""Parameters indexed by token id, and along which axis."""


def warm_start(model: GPT, data: DataConfig, source: Path) -> dict:
    """Copy ``source``'s weights into ``model`` (trained on ``data``); returns the provenance
    record ``{"path", "sha256", "vocab_rows_copied"}``.  Raises CheckpointError when the source
    cannot seed this model: another shape, or a vocabulary that is not a prefix of the run's."""
    source = Path(source)
    trained, config = load_model(source)
    if "data" not in config:
        raise CheckpointError(f"{source / CONFIG_FILE}: no 'data' section (its vocabulary)")
    old_tokens = DataConfig(**config["data"]).vocab.tokens
    new_tokens = data.vocab.tokens
    if new_tokens[: len(old_tokens)] != old_tokens:
        raise CheckpointError(
            f"init_from {source}: its vocabulary ({len(old_tokens)} tokens) is not a prefix of "
            f"the run's ({len(new_tokens)} tokens); warm starts can only grow max_grid"
        )
    learned = "learned" in (trained.cfg.positional, model.cfg.positional)
    if learned and trained.cfg.positional != model.cfg.positional:
        raise CheckpointError(
            f"init_from {source}: positional {trained.cfg.positional!r} cannot seed "
            f"{model.cfg.positional!r} (learned positions are parameters)"
        )
    target = model.state_dict()
    state = trained.state_dict()
    if set(state) != set(target):
        raise CheckpointError(
            f"init_from {source}: its tensors differ from the run's model "
            f"({sorted(set(state) ^ set(target))[:5]})"
        )
    for name, tensor in state.items():
        if name not in VOCAB_ROWS and tensor.shape != target[name].shape:
            raise CheckpointError(
                f"init_from {source}: {name} has shape {tuple(tensor.shape)}, the run's model "
                f"needs {tuple(target[name].shape)} (same d_model, layers, heads, d_mlp)"
            )
    with torch.no_grad():
        for name, tensor in state.items():
            axis = VOCAB_ROWS.get(name)
            rows = target[name] if axis is None else target[name].narrow(axis, 0, len(old_tokens))
            rows.copy_(tensor)
    return {
        "path": str(source),
        "sha256": sha256_hex((source / MODEL_FILE).read_bytes()),
        "vocab_rows_copied": len(old_tokens),
    }

"""The shipped transformers (``agents.shipped``, kind ``"transformer"``) and checkpoint
resolution; no torch."""

from __future__ import annotations

from pathlib import Path

from agents.shipped import MODELS, resolve, shipped

SHIPPED = MODELS / "shipped_6x6"
DEFAULT = SHIPPED.name


def shipped_models() -> list[str]:
    """Names of the transformers that ship with the package (``checkpoint=`` accepts them)."""
    return sorted(shipped("transformer"))


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """A model directory, or the name of a shipped model; None is the shipped 6x6 model."""
    return SHIPPED if checkpoint is None else resolve("transformer", checkpoint)

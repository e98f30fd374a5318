"""Rotary base scaling for prompts longer than training's: an inference-time lever for size
generalization.

A rotary model trained on sequences of at most ``L`` tokens has never seen its slow rotary
frequencies turn through the angles that a longer prompt's distances give.  Raising the base
for a longer sequence slows every frequency, so a long prompt's distances map back into angles
training saw ("NTK-aware" RoPE scaling, bloc97 2023; chosen per sequence, as "dynamic" scaling
does).  Here each sequence gets its own base from its prompt's length ``l``::

    base(l) = rotary_base * max(1, l / L) ** power

``L`` is the longest sequence (prompt and path) the training data can make
(``DataConfig.longest_sequence``), so any input from the training distribution decodes
exactly as without scaling; only longer ones change.  ``power`` was calibrated on held-out
mazes of sizes the model never trained on (table: ``configs/calibration/README.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agents.transformer.data import DataConfig
from agents.transformer.model import GPTConfig

DEFAULT_POWER = 3.0
SETTINGS = ("auto", "off")


@dataclass(frozen=True)
class RotaryScaling:
    """Per-sequence rotary bases: ``rotary_base * max(1, length / trained_length) ** power``."""

    trained_length: int
    power: float = DEFAULT_POWER

    def __post_init__(self):
        if isinstance(self.trained_length, bool) or not isinstance(self.trained_length, int) or (
            self.trained_length < 1
        ):  # fmt: skip
            raise ValueError(f"trained_length must be an int >= 1, got {self.trained_length!r}")
        if isinstance(self.power, bool) or not isinstance(self.power, (int, float)) or not (
            self.power >= 0
        ):  # fmt: skip
            raise ValueError(f"rotary scaling power must be a number >= 0, got {self.power!r}")

    def bases(self, cfg: GPTConfig, lengths: Sequence[int]) -> torch.Tensor:
        """One rotary base per sequence, from its prompt's length: a (b,) float32 tensor."""
        stretch = np.maximum(1.0, np.asarray(lengths, np.float64) / self.trained_length)
        return torch.tensor(cfg.rotary_base * stretch**self.power, dtype=torch.float32)


def scaling_for(
    cfg: GPTConfig, data: DataConfig, setting: str | float = "auto"
) -> RotaryScaling | None:
    """The scaling a model trained on ``data`` decodes with: ``"auto"`` (rotary models: the
    calibrated power; other position schemes: none), ``"off"``, or a power (rotary only)."""
    if setting == "off":
        return None
    rotary = cfg.positional == "rotary"  # randomized positions already train long distances
    if setting == "auto":
        return RotaryScaling(data.longest_sequence()) if rotary else None
    if isinstance(setting, str):
        raise ValueError(f"rotary_scaling must be one of {SETTINGS} or a power >= 0, got "
                         f"{setting!r}")  # fmt: skip
    if not rotary:
        raise ValueError(
            f"rotary_scaling={setting!r} needs a rotary model; this one uses "
            f"positional={cfg.positional!r}"
        )
    return RotaryScaling(data.longest_sequence(), setting)

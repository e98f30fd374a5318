"""Rotary frequency scaling for prompts longer than training's: an inference-time lever for
size generalization.

A rotary model trained on sequences of at most ``L`` tokens has never seen its slow rotary
frequencies turn through the angles that a longer prompt's distances give, while its fast ones
have turned through every angle many times.  For a prompt ``s = l / L > 1`` times longer than
that, each frequency is kept or slowed by its turns over ``L`` ("NTK-by-parts", the frequency
part of YaRN, Peng et al. 2023): ``r = L * f / 2pi`` full turns; ``r >= beta``: kept; ``r <=
alpha``: divided by ``s`` (a long prompt's distances map back into trained angles); between,
a linear blend.  Each sequence gets its own frequencies from its prompt's length, so a batch
decodes as each row would alone, and any input no longer than ``L``
(``DataConfig.longest_sequence``: every input from the training distribution) decodes exactly
as without scaling.

Calibrated side by side with a single larger base ("NTK-aware" scaling) on held-out sizes the
model never trained on (``configs/calibration/README.md``): a larger base gains as much on
average but has deep notches (at one base a size falls from 24% to 2% exact) where this does
not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agents.transformer.data import Batch, DataConfig
from agents.transformer.model import GPTConfig, rotary_frequencies
from maze_env.maze import is_int

SETTINGS = ("auto", "off")


@dataclass(frozen=True)
class RotaryScaling:
    """Per-sequence rotary frequencies for sequences longer than ``trained_length``."""

    trained_length: int
    alpha: float = 1.0  # at most this many turns over the trained length: slowed by s
    beta: float = 32.0  # at least this many: kept

    def __post_init__(self):
        if not is_int(self.trained_length) or self.trained_length < 1:
            raise ValueError(f"trained_length must be an int >= 1, got {self.trained_length!r}")
        if not 0 <= self.alpha < self.beta:
            raise ValueError(f"need 0 <= alpha < beta, got alpha={self.alpha}, beta={self.beta}")

    def frequencies(self, cfg: GPTConfig, lengths: Sequence[int]) -> torch.Tensor:
        """Each sequence's rotary frequencies from its prompt's length: (b, d_head/2)."""
        lengths = torch.tensor(lengths, dtype=torch.float32)
        return self.stretched(cfg, lengths / self.trained_length)

    def stretched(self, cfg: GPTConfig, stretch: torch.Tensor) -> torch.Tensor:
        """The frequencies for sequences ``stretch`` (b,) times the trained length (at most 1:
        the trained frequencies): (b, d_head/2)."""
        trained = rotary_frequencies(cfg.d_head, cfg.rotary_base)
        turns = self.trained_length * trained / (2 * math.pi)
        keep = ((turns - self.alpha) / (self.beta - self.alpha)).clamp(0.0, 1.0)
        stretch = stretch.to(torch.float32)[:, None]
        scaled = (1 - keep) * trained / stretch + keep * trained
        return torch.where(stretch > 1, scaled, trained.expand_as(scaled))


@dataclass(frozen=True)
class StretchAugmentation:
    """Training with the frequencies of longer prompts: each maze of a batch, with probability
    ``p``, gets the frequencies ``RotaryScaling`` would give a prompt ``s`` times the longest
    training sequence, ``s`` uniform in ``[1, max_stretch]``, so the model learns to read with
    the slowed frequencies it decodes longer prompts with (calibration:
    ``configs/calibration/README.md``)."""

    max_stretch: float
    p: float = 0.5

    def __post_init__(self):
        if not self.max_stretch >= 1:
            raise ValueError(f"rotary_stretch max_stretch must be >= 1, got {self.max_stretch!r}")
        if not 0 <= self.p <= 1:
            raise ValueError(f"rotary_stretch p must be in [0, 1], got {self.p!r}")

    def apply(
        self, batch: Batch, rng: np.random.Generator, cfg: GPTConfig, scaling: RotaryScaling
    ) -> Batch:
        """``batch`` with each maze's rotary frequencies drawn (from ``rng``)."""
        m = batch.prefix.shape[0]
        stretch = 1 + rng.random(m) * (self.max_stretch - 1)
        stretch[rng.random(m) >= self.p] = 1.0
        freqs = scaling.stretched(cfg, torch.from_numpy(stretch))
        return dataclasses.replace(batch, rotary_frequencies=freqs)


def scaling_for(cfg: GPTConfig, data: DataConfig, setting: str = "auto") -> RotaryScaling | None:
    """The scaling a model trained on ``data`` decodes with: ``"auto"`` (rotary models;
    randomized positions already train long distances, others have no rotary) or ``"off"``."""
    if setting not in SETTINGS:
        raise ValueError(f"rotary_scaling must be one of {SETTINGS}, got {setting!r}")
    if setting == "off" or cfg.positional != "rotary":
        return None
    return RotaryScaling(data.longest_sequence())

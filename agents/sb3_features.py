"""The token encoder SB3 policies should read TokenMaze observations with (``TokenFeatures``).

This is also where the project imports Stable-Baselines3 / sb3-contrib (with an install hint).

SB3's default ``MultiInputPolicy`` flattens ``obs["tokens"]`` into floats, so token id 41 sits
"next to" id 40 and the policy learns little (after 20k steps MaskablePPO matches random-fork,
PPO and DQN solve nothing).  ``policy_kwargs()`` swaps in ``TokenFeatures``::

    MaskablePPO("MultiInputPolicy", env, policy_kwargs=agents.sb3.policy_kwargs())
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_env import vocabulary
from maze_env.tokens import PATH_START

try:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        "the sb3 agent needs Stable-Baselines3 and sb3-contrib: pip install 'tokenmaze[rl]'"
    ) from err

__all__ = ["MaskablePPO", "TokenFeatures", "policy_kwargs"]

_PATH_START_ID = vocabulary(1).special[PATH_START]  # special ids are shared by every vocabulary


class TokenFeatures(BaseFeaturesExtractor):
    """A cheap token encoder over ``obs["tokens"][:obs["length"]]``.

    ``nn.Embedding`` + learned positions, one residual width-3 convolution (so each ``<-->``
    sees both ends of its edge), then two queries — the current cell (the last token) and the
    target (two before ``<PATH_START>``) — attend over the sequence.  Output (batch, 4 * d_model):
    both query tokens and both attention read-outs.  Positions past the batch's longest sequence
    (and its first pad) are cut before the encoder, as they cannot change the output.
    """

    def __init__(self, observation_space: gym.spaces.Dict, d_model: int = 32, n_heads: int = 2):
        tokens = observation_space["tokens"]
        super().__init__(observation_space, features_dim=4 * d_model)
        self.vocab_size = int(np.max(tokens.high)) + 1
        self.max_len = int(tokens.shape[0])
        self.embed = nn.Embedding(self.vocab_size, d_model)
        self.pos = nn.Embedding(self.max_len, d_model)
        self.mix = nn.Conv1d(d_model, d_model, 3, padding=1)
        self.attend = nn.MultiheadAttention(d_model, n_heads, batch_first=True)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        length = obs["length"].long().reshape(len(obs["tokens"])).clamp(1, self.max_len)  # [batch]
        # nothing reads past the longest sequence's first pad (its last token's convolution)
        width = min(int(length.max()) + 1, self.max_len)
        ids = obs["tokens"][:, :width].long()  # [batch, pos]
        positions = torch.arange(width, device=ids.device)
        pad = positions[None, :] >= length[:, None]  # [batch, pos]
        x = self.embed(ids) + self.pos(positions)  # [batch, pos, d_model]
        x = x + torch.relu(self.mix(x.transpose(1, 2))).transpose(1, 2)
        rows = torch.arange(len(ids), device=ids.device)
        start = ((ids == _PATH_START_ID) & ~pad).float().argmax(1)  # [batch]
        queries = torch.stack([x[rows, length - 1], x[rows, (start - 2).clamp(min=0)]], 1)
        read, _ = self.attend(queries, x, x, key_padding_mask=pad, need_weights=False)
        return torch.cat([queries.flatten(1), read.flatten(1)], 1)  # [batch, 4 * d_model]


def policy_kwargs(d_model: int = 32, n_heads: int = 2, net_arch: Any = None) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` that read the tokens through ``TokenFeatures``.

    ``net_arch`` is passed to SB3 as is (default ``{"pi": [64], "vf": [64]}``, the actor-critic
    heads of the shipped model; give a list such as ``[64]`` for DQN).
    """
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
        raise ValueError(f"d_model must be an int >= 1, got {d_model!r}")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"n_heads must be an int >= 1, got {n_heads!r}")
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
    return {
        "features_extractor_class": TokenFeatures,
        "features_extractor_kwargs": {"d_model": d_model, "n_heads": n_heads},
        "net_arch": {"pi": [64], "vf": [64]} if net_arch is None else net_arch,
    }

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
    sees both ends of its edge), then ``n_rounds`` rounds of message passing over the maze graph
    (default 0: none), then two queries — the current cell (the last token) and the
    target (two before ``<PATH_START>``) — attend over the sequence.  Output (batch, 4 * d_model):
    both query tokens and both attention read-outs.  Positions past the batch's longest sequence
    (and its first pad) are cut before the encoder, as they cannot change the output.

    A round: every token adds what the tokens with its own id hold (their mean and how many
    there are: for a cell, all its edges, so its degree and its neighbours), then a width-3
    convolution carries that to each edge's other end.  After k rounds a cell can know facts k
    hops away (a dead end next to it), which one attention read-out cannot compute.  A round
    costs O(length) — self-attention layers here measured 3.5x slower training per layer.
    """

    def __init__(
        self, observation_space: gym.spaces.Dict, d_model: int = 32, n_heads: int = 2,
        n_rounds: int = 0,
    ):  # fmt: skip
        tokens = observation_space["tokens"]
        super().__init__(observation_space, features_dim=4 * d_model)
        self.vocab_size = int(np.max(tokens.high)) + 1
        self.max_len = int(tokens.shape[0])
        self.embed = nn.Embedding(self.vocab_size, d_model)
        self.pos = nn.Embedding(self.max_len, d_model)
        self.mix = nn.Conv1d(d_model, d_model, 3, padding=1)
        self.pools = nn.ModuleList(nn.Linear(d_model + 1, d_model) for _ in range(n_rounds))
        self.mixes = nn.ModuleList(
            nn.Conv1d(d_model, d_model, 3, padding=1) for _ in range(n_rounds)
        )
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
        for pool, mix in zip(self.pools, self.mixes):
            x = x.masked_fill(pad[..., None], 0.0)  # pads hold nothing a row's length can change
            x = x + torch.relu(pool(self._same_id_mean(ids, x, pad)))
            x = x + torch.relu(mix(x.transpose(1, 2))).transpose(1, 2)
        rows = torch.arange(len(ids), device=ids.device)
        start = ((ids == _PATH_START_ID) & ~pad).float().argmax(1)  # [batch]
        queries = torch.stack([x[rows, length - 1], x[rows, (start - 2).clamp(min=0)]], 1)
        read, _ = self.attend(queries, x, x, key_padding_mask=pad, need_weights=False)
        return torch.cat([queries.flatten(1), read.flatten(1)], 1)  # [batch, 4 * d_model]

    def _same_id_mean(self, ids: torch.Tensor, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """[batch, pos, d_model + 1]: at each token, the mean of ``x`` over the (non-pad) tokens
        with its id, and their count / 4."""
        keep = (~pad).to(x.dtype)[..., None]  # [batch, pos, 1]
        values = torch.cat([x * keep, keep], -1)  # [batch, pos, d_model + 1]
        index = ids[..., None].expand_as(values)
        table = values.new_zeros(len(ids), self.vocab_size, values.shape[-1])
        table = table.scatter_add(1, index, values).gather(1, index)  # sums over each id
        count = table[..., -1:]
        return torch.cat([table[..., :-1] / count.clamp(min=1.0), count / 4], -1)


def policy_kwargs(
    d_model: int = 32, n_heads: int = 2, net_arch: Any = None, n_rounds: int = 0
) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` that read the tokens through ``TokenFeatures`` (with ``n_rounds``
    rounds of message passing).

    ``net_arch`` is passed to SB3 as is (default ``{"pi": [64], "vf": [64]}``, the actor-critic
    heads of the shipped model; give a list such as ``[64]`` for DQN).
    """
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
        raise ValueError(f"d_model must be an int >= 1, got {d_model!r}")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
        raise ValueError(f"n_heads must be an int >= 1, got {n_heads!r}")
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, int) or n_rounds < 0:
        raise ValueError(f"n_rounds must be an int >= 0, got {n_rounds!r}")
    if d_model % n_heads:
        raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
    return {
        "features_extractor_class": TokenFeatures,
        "features_extractor_kwargs": {"d_model": d_model, "n_heads": n_heads, "n_rounds": n_rounds},
        "net_arch": {"pi": [64], "vf": [64]} if net_arch is None else net_arch,
    }

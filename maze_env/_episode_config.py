"""An ``EnvConfig`` bound to an action type (``Config``): what the episode state and the
Gymnasium spaces read; ``make_config`` is the one place env kwargs and ``config=`` meet."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from gymnasium import spaces

from maze_env.config import ACTION_TYPES, EnvConfig
from maze_env.maze import Shape
from maze_env.moves import Move


@dataclass(frozen=True)
class Config:
    """An ``EnvConfig`` bound to an action type: what ``Episodes`` and the spaces read."""

    env: EnvConfig
    action_type: str

    def __post_init__(self):
        if self.action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {self.action_type!r}")

    def __getattr__(self, name: str):  # the EnvConfig's fields and answers
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def shape(self) -> Shape:
        return self.env.size

    @cached_property
    def max_steps(self) -> int:
        return self.env.steps_limit(self.action_type)

    @cached_property
    def max_len(self) -> int:
        return self.env.obs_length(self.action_type)

    @property
    def n_actions(self) -> int:
        return len(Move) if self.action_type == "move" else len(self.vocab)

    @property
    def token_dtype(self) -> type[np.unsignedinteger]:
        """The smallest unsigned int dtype that holds every token id (uint8 up to 256 tokens)."""
        return next(
            t for t in (np.uint8, np.uint16, np.uint32) if len(self.vocab) <= np.iinfo(t).max + 1
        )

    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                "tokens": spaces.Box(0, len(self.vocab) - 1, (self.max_len,), self.token_dtype),
                "length": spaces.Box(0, self.max_len, (1,), np.int64),
                "action_mask": spaces.MultiBinary(self.n_actions),
            }
        )

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_actions)


def make_config(action_type: str, config: EnvConfig | None = None, **kwargs) -> Config:
    """Bind ``config`` (or an ``EnvConfig`` built from ``kwargs``) to ``action_type``.  Env kwargs
    given beside ``config`` must agree with it (a registered id's kwargs arrive this way)."""
    if config is None:
        return Config(EnvConfig(**kwargs), action_type)
    if not isinstance(config, EnvConfig):
        raise TypeError(f"config must be a maze_env.EnvConfig, got {config!r}")
    if kwargs:
        merged = config.replace(**kwargs)
        clash = {k: v for k, v in kwargs.items() if getattr(merged, k) != getattr(config, k)}
        if clash:
            raise ValueError(
                f"env kwargs {clash} disagree with config= ("
                + ", ".join(f"{k}={getattr(config, k)!r}" for k in clash)
                + "); pass one or the other"
            )
    return Config(config, action_type)


def check_render_mode(render_mode: str | None, modes: list[str]) -> None:
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {modes}, got {render_mode!r}")

"""An SB3 ``VecEnv`` over the native batched vector env (``maze_env.vector``).

SB3 cannot take a Gymnasium ``VectorEnv``, so without this it steps ``DummyVecEnv``: one Python
``env.step`` per sub-env.  ``SB3VecEnv`` steps the whole batch in one numba call and maps the
conventions, so that it is a drop-in for ``DummyVecEnv`` over the single env (the tests check
them step for step on the same seeds):

- autoreset: the native env resets a finished sub-env on the *next* step (``NEXT_STEP``); SB3
  wants it reset in the same step.  ``step_wait`` resets the finished sub-envs at once
  (``reset(options={"reset_mask": done})``), returns their first observation, and puts the last
  one in ``infos[i]["terminal_observation"]``;
- ``infos`` is a list of per-env dicts (the single env's keys) plus ``"TimeLimit.truncated"``;
  ``reset_infos`` holds each sub-env's latest reset info; rewards are float32 and
  ``dones = terminated | truncated``, as ``DummyVecEnv`` gives them;
- seeding: ``seed(s)`` then ``reset()`` starts sub-env ``i`` from seed ``s + i`` (SB3's and the
  native env's convention), so sub-env ``i`` plays exactly ``gym.make(id)`` reset with ``s + i``;
- action masks: ``env_method("action_masks")`` (what sb3-contrib's ``get_action_masks`` calls)
  returns the batch's legal-action rows.

The single env ignores reset options, and so does this adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from agents.sb3_features import MaskablePPO  # noqa: F401  (checks that SB3 is installed)
from maze_env import TokenMazeVectorEnv, split_infos

from stable_baselines3.common.vec_env import VecEnv, VecMonitor  # isort: skip


class SB3VecEnv(VecEnv):
    """``venv`` (a ``maze_env`` native vector env, either action type) as an SB3 ``VecEnv``."""

    def __init__(self, venv: TokenMazeVectorEnv):
        if not isinstance(venv, TokenMazeVectorEnv):
            raise TypeError(
                "SB3VecEnv wraps an unwrapped maze_env vector env (gym.make_vec(id, num_envs=N) "
                f"of a TokenMaze id), got {venv!r}"
            )
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._rows = np.arange(venv.num_envs)
        self._actions: np.ndarray | None = None

    def reset(self):
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, infos = self.venv.reset(seed=seeds)
        self.reset_infos = split_infos(infos, self._rows)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        step_infos = split_infos(infos, self._rows)
        for info, cut in zip(step_infos, (truncated & ~terminated).tolist(), strict=True):
            info["TimeLimit.truncated"] = cut
        if dones.any():
            idx = np.flatnonzero(dones)
            for i in idx.tolist():
                step_infos[i]["terminal_observation"] = {k: v[i] for k, v in obs.items()}
            obs, reset_infos = self.venv.reset(options={"reset_mask": dones})
            for i, info in zip(idx.tolist(), split_infos(reset_infos, idx), strict=True):
                self.reset_infos[i] = info
        return obs, rewards.astype(np.float32), dones, step_infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.render_mode != "rgb_array":
            return [None] * self.num_envs
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        """The vector env's attribute, once per selected sub-env (they share it)."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        if list(self._get_indices(indices)) != self._rows.tolist():
            raise ValueError("set_attr: the sub-envs share one vector env; set all of them")
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        if method_name != "action_masks" or method_args or method_kwargs:
            raise AttributeError(
                f"SB3VecEnv.env_method supports 'action_masks' only, got {method_name!r}: the "
                "sub-envs are one batch (call methods of .venv directly)"
            )
        masks = self.venv.action_masks()
        return [masks[i] for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def make_vec_env(
    env_id: str = "TokenMazeMoves-v0",
    n_envs: int = 8,
    seed: int | None = None,
    monitor: bool = True,
    **env_kwargs,
) -> VecEnv:
    """SB3's ``make_vec_env`` for TokenMaze ids, on the native vector env: ``n_envs`` sub-envs
    of ``gym.make(env_id, **env_kwargs)``, seeded ``seed + i``, in a ``VecMonitor`` (episode
    returns and lengths for SB3's logs) unless ``monitor=False``."""
    venv = gym.make_vec(
        env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **env_kwargs
    )
    env: VecEnv = SB3VecEnv(venv)
    if seed is not None:
        env.seed(seed)
    return VecMonitor(env) if monitor else env

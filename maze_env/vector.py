"""Native batched vector envs: ``gym.make_vec("TokenMaze-v0", num_envs=N)`` builds one of these.

All ``N`` episodes live in one ``maze_env._episodes.Episodes``: a step is one numba call over the
batch, and the episodes that need a reset are reset together (one numba call that generates,
solves and tokenizes their mazes).

Autoreset (Gymnasium 1.x, ``metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP``, the same as
``SyncVectorEnv``'s default): when sub-env ``i`` terminates or truncates, ``step`` returns that
last observation as usual; on the *next* ``step`` the action for ``i`` is ignored, ``i`` starts a
new episode and returns its first observation with reward 0, ``terminated = truncated = False``
and the reset's info (no ``success``).  So a training loop must not store the transition of the
step that follows a ``done`` (Gymnasium issue #1265; https://farama.org/Vector-Autoreset-Mode).
``autoreset_mode=AutoresetMode.DISABLED`` never resets on its own: a finished sub-env keeps its
last observation, ignores its actions (reward 0, ``terminated`` / ``truncated`` stay as they
ended) until ``reset(options={"reset_mask": m})`` starts it again, so a batch of episodes can be
played to the end of the slowest one (``episode(i)`` reads each back, as a single env's
``maze`` / ``origin`` / ``target`` / ``tokens``).

Seeding matches ``SyncVectorEnv``: ``reset(seed=s)`` seeds sub-env ``i`` with ``s + i`` (or takes
a list of seeds), and each sub-env keeps its own key stream (started from
``gymnasium.utils.seeding.np_random(seed)``, as a single env's from its ``np_random``), so
sub-env ``i`` produces exactly the transitions of ``gym.make(id)`` reset with the same seed.
``info`` has the layout ``SyncVectorEnv`` gives the single envs' infos: one array per key plus a
``_key`` mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from maze_env._episode_config import check_render_mode, make_config
from maze_env._episodes import Episodes
from maze_env.config import EnvConfig
from maze_env.maze import is_int


class TokenMazeVectorEnv(VectorEnv):
    """``num_envs`` token-action mazes (``TokenMazeEnv``) stepped as one numpy/numba batch.

    Takes ``num_envs`` plus every ``TokenMazeEnv`` kwarg.  ``render_mode`` ``"rgb_array"`` or
    ``"ansi"`` renders every sub-env (a tuple, like ``SyncVectorEnv``).
    ``action_masks()`` returns the (num_envs, n_actions) bool legal-action matrix.
    ``autoreset_mode``: ``NEXT_STEP`` (default) or ``DISABLED`` (see the module docstring).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    action_type: ClassVar[str] = "token"

    def __init__(
        self,
        num_envs: int = 1,
        config: EnvConfig | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **kwargs,
    ):
        if (
            isinstance(num_envs, bool)
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.config = make_config(self.action_type, config, **kwargs)
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.metadata = {**self.metadata, "autoreset_mode": _autoreset_mode(autoreset_mode)}
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.single_observation_space = self.config.observation_space()
        self.single_action_space = self.config.action_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._episodes = Episodes(self.config, self.num_envs)
        self._seeded = np.zeros(self.num_envs, np.bool_)  # key stream started (by reset)
        self._autoreset = np.zeros(self.num_envs, np.bool_)
        self._ready = False

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """Reset every sub-env: ``seed`` None, an int (sub-env i gets seed + i) or a list.

        ``options={"reset_mask": m}`` (a bool array of shape (num_envs,), as for
        ``SyncVectorEnv``) resets only the sub-envs where ``m`` is True (and uses their seeds);
        the others keep their episodes, and the info's ``_key`` masks are ``m``.
        """
        n = self.num_envs
        if seed is None:
            seeds = [None] * n
        elif is_int(seed):
            seeds = [int(seed) + i for i in range(n)]
        else:
            if not isinstance(seed, (list, tuple, np.ndarray)) or not all(
                s is None or is_int(s) for s in seed
            ):
                raise TypeError(
                    f"seed must be None, an int or a list of num_envs={n} ints (or None), "
                    f"got {seed!r}"
                )
            seeds = list(seed)
            if len(seeds) != n:
                raise ValueError(
                    f"seed: a list of seeds needs num_envs={n} entries, got {len(seeds)}"
                )
        mask = self._reset_mask(options)
        idx = np.flatnonzero(mask)
        fresh = [i for i in idx if seeds[i] is not None or not self._seeded[i]]
        self._episodes.seed(fresh, [seeding.np_random(seeds[i])[0] for i in fresh])
        self._seeded[fresh] = True
        self._episodes.reset(idx)
        self._autoreset[idx] = False
        self._ready = True
        infos = self._episodes.infos(None)
        if not mask.all():
            infos = _masked(infos, mask)
        return self._episodes.observations(), infos

    def _reset_mask(self, options: dict | None) -> np.ndarray:
        if not options or "reset_mask" not in options:
            return np.ones(self.num_envs, np.bool_)
        mask = options["reset_mask"]
        if (
            not isinstance(mask, np.ndarray)
            or mask.dtype != np.bool_
            or mask.shape != (self.num_envs,)
        ):
            raise ValueError(
                f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},), "
                f"got {mask!r}"
            )
        if not mask.any():
            raise ValueError("options['reset_mask'] must select at least one sub-env")
        if not self._ready and not mask.all():
            raise RuntimeError("reset every sub-env once before a partial reset (reset_mask)")
        return mask

    def step(self, actions):
        if not self._ready:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions must be an int array of shape ({self.num_envs},), got {actions!r}"
            )
        ep = self._episodes
        restart = self._autoreset
        bad = ep.step(actions.astype(np.int64, copy=False), ~restart)
        if bad >= 0:
            raise ValueError(
                f"actions must lie in [0, {self.single_action_space.n}), got {int(actions[bad])} "
                f"for sub-env {bad}"
            )
        if self.metadata["autoreset_mode"] == AutoresetMode.DISABLED:
            ep.rewards[restart] = 0.0  # finished and not reset: it stays as it ended
        elif restart.any():
            idx = np.flatnonzero(restart)
            ep.reset(idx)  # also zeroes their rewards, terminated and truncated
        ended = ep.terminated | ep.truncated
        self._autoreset = ended
        return (
            ep.observations(),
            ep.rewards.copy(),
            ep.terminated.copy(),
            ep.truncated.copy(),
            ep.infos(ended),
        )

    def action_masks(self) -> np.ndarray:
        return self._episodes.mask.copy()

    def episode(self, i: int) -> dict[str, Any]:
        """Sub-env ``i``'s episode so far, as a single env's properties give it: ``maze``,
        ``origin``, ``target``, ``path`` (cells visited, origin first), ``violations`` and
        ``tokens`` (the whole sequence, prompt first, as strings)."""
        if not is_int(i) or not 0 <= i < self.num_envs:
            raise IndexError(f"episode(i): i must be an int in [0, {self.num_envs}), got {i!r}")
        if not self._ready:
            raise RuntimeError("call reset() before episode()")
        ep = self._episodes
        view = ep.frame_data(int(i))
        del view["bad"]
        return {**view, "tokens": ep.token_strings(int(i))}

    def render(self):
        from maze_env import render

        if self.render_mode is None:
            return None
        ep = self._episodes
        if self.render_mode == "ansi":
            return tuple(
                render.ansi_frame(**ep.frame_data(i), tokens=ep.token_strings(i))
                for i in range(self.num_envs)
            )
        return tuple(render.rgb_frame(**ep.frame_data(i)) for i in range(self.num_envs))


class TokenMazeMovesVectorEnv(TokenMazeVectorEnv):
    """``num_envs`` move-action mazes (``TokenMazeMovesEnv``) stepped as one batch."""

    action_type: ClassVar[str] = "move"


def split_infos(infos: Mapping[str, Any] | Sequence[dict], rows: Sequence[int]) -> list[dict]:
    """Per-env info dicts for sub-envs ``rows`` from a vector env's infos (one array per key
    and ``_key`` presence masks, nested for ``violations``), with the single env's types: Python
    scalars, one fresh array per row (a scalar or 0-d value is every env's).  A list of per-env
    dicts is indexed as it is."""
    if not isinstance(infos, Mapping):
        return [infos[i] for i in rows]
    rows = np.asarray(rows, np.int64)
    out: list[dict[str, Any]] = [{} for _ in rows]
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        if isinstance(value, Mapping):
            column = split_infos(value, rows)
        elif isinstance(value, list | tuple):
            column = [value[i] for i in rows.tolist()]
        elif not isinstance(value, np.ndarray) or value.ndim == 0:  # one value for every env
            column = [value] * len(rows)
        elif value.ndim == 1:
            column = value[rows].tolist()
        else:
            column = list(value[rows])
        present = infos.get(f"_{key}")
        for d, i, v in zip(out, rows.tolist(), column, strict=True):
            if present is None or present[i]:
                d[key] = v
    return out


def _autoreset_mode(mode) -> AutoresetMode:
    allowed = (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED)
    for choice in allowed:
        if mode == choice or mode == choice.value:
            return choice
    raise ValueError(f"autoreset_mode must be one of {[m.value for m in allowed]}, got {mode!r}")


def _masked(infos: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """``infos`` with every ``_key`` presence mask (nested ones too) replaced by ``mask``."""
    return {
        k: mask.copy() if k.startswith("_") else (_masked(v, mask) if isinstance(v, dict) else v)
        for k, v in infos.items()
    }

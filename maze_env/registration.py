"""Registration of every TokenMaze id with Gymnasium (``import maze_env`` runs it)."""

from __future__ import annotations

import gymnasium as gym

_ENV = "maze_env.env:TokenMazeEnv"
_VECTOR = "maze_env.vector:TokenMazeVectorEnv"
_MOVES_ENV = "maze_env.env:TokenMazeMovesEnv"
_MOVES_VECTOR = "maze_env.vector:TokenMazeMovesVectorEnv"

# (generator, generator_kwargs, rows, cols) of the registered TokenMaze-<generator>-<R>x<C>-v0
CONFIGURATIONS = (
    ("rdfs", {}, 4, 4),
    ("rdfs", {}, 8, 8),
    ("rdfs", {}, 10, 10),
    ("wilson", {}, 6, 6),
    ("rdfs_percolation", {"p": 0.1}, 6, 6),
    ("open_field", {}, 6, 6),
)


def _register(env_id: str, entry_point: str, vector_entry_point: str, **kwargs) -> None:
    if env_id not in gym.registry:  # idempotent: re-importing must not warn about overrides
        gym.register(env_id, entry_point, vector_entry_point=vector_entry_point, kwargs=kwargs)


def register_envs() -> None:
    """Register ``TokenMaze-v0``, ``TokenMazeMoves-v0`` and ``TokenMaze-<gen>-<R>x<C>-v0``.

    No ``max_episode_steps``: each env truncates itself at its ``max_steps`` (default
    ``2 × tokens per move × rows × cols``), so the limit follows ``size``/``scheme`` kwargs.
    """
    # EnvConfig's defaults (6x6 rdfs, aotp tokens): no kwargs, so ``config=`` can set anything
    _register("TokenMaze-v0", _ENV, _VECTOR)
    _register("TokenMazeMoves-v0", _MOVES_ENV, _MOVES_VECTOR)
    # configurations by generator and size
    for generator, generator_kwargs, rows, cols in CONFIGURATIONS:
        _register(
            f"TokenMaze-{generator}-{rows}x{cols}-v0", _ENV, _VECTOR, size=[rows, cols],
            generator=generator, generator_kwargs=dict(generator_kwargs),
        )  # fmt: skip

"""Shared cases for the env tests: every registered TokenMaze id, plus the other token schemes."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np

import maze_env

REGISTERED = sorted(
    env_id for env_id, spec in gym.registry.items() if str(spec.entry_point).startswith("maze_env.")
)
# (id, extra kwargs): each registered id as is, then the coords / walls schemes
CASES = [(env_id, {}) for env_id in REGISTERED] + [
    ("TokenMaze-v0", {"scheme": "coords"}),
    ("TokenMaze-v0", {"scheme": "walls"}),
    ("TokenMazeMoves-v0", {"scheme": "coords"}),
]
CASE_IDS = [env_id + "".join(f"-{v}" for v in kw.values()) for env_id, kw in CASES]


def random_actions(env, seed: int, n: int, legal_share: float = 0.7):
    """``n`` actions: mostly a random legal action (so episodes can succeed), else any action."""
    rng = np.random.default_rng(seed)

    def pick(info) -> int:
        if rng.random() < legal_share:
            return int(rng.choice(np.flatnonzero(info["action_mask"])))
        return int(rng.integers(env.action_space.n))

    return pick


def assert_equal(a, b, where: str = "") -> None:
    """Deep equality of nested dicts / arrays / scalars, with the path of the first mismatch."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, type(a)) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (
            f"{where}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
        )
        assert np.array_equal(a, b), f"{where}: {a} != {b}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def oracle_actions(env) -> list[int]:
    """The actions that walk a shortest path and stop, for either action type and any scheme."""
    u = env.unwrapped
    path = u.maze.shortest_path(u.origin, u.target)
    if u.config.action_type == "move":
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(path)]
        return [[(-1, 0), (1, 0), (0, -1), (0, 1)].index(s) for s in steps] + [4]
    vocab = maze_env.vocabulary(u.config.max_grid)
    tokens = maze_env.tokenize(u.maze, u.origin, u.target, path, scheme=u.config.scheme)
    start = tokens.index("<PATH_START>") + 1 + u.config.tokens_per_cell  # after the origin
    return [vocab.index[t] for t in tokens[start:]]


def play_episode(agent, env, seed: int):
    """Run ``agent`` for one episode of ``env``; return the last info and the unwrapped env."""
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    return info, env.unwrapped

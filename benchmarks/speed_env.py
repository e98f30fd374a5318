"""Env throughput, each number against a reference measured in the same run:

- single env, ``gym.make("TokenMaze-v0")`` vs Minigrid's ``MiniGrid-Empty-8x8-v0`` (target >= 5x);
- native vector env (``gym.make_vec``, 1024 envs) vs ``SyncVectorEnv`` of the same env
  (target >= 100x and >= 1M steps/s);
- ``rgb_array`` frames per second (6x6 maze, after a few steps).

Actions are uniformly random over the action space (episodes end by ``<PATH_END>`` or
truncation, so resets are part of the cost).  Each measurement runs until ``--budget`` seconds
pass, after a warm-up that compiles the numba kernels.

    python -m benchmarks.speed_env --quick
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import maze_env  # noqa: F401  (registers the envs)


def _rate(work: Callable[[], int], budget: float) -> float:
    """Units per second: call ``work`` (which returns the units it did) until ``budget`` passes."""
    work()  # warm-up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        done += work()
    return done / elapsed


def single_env_rate(env_id: str, budget: float, chunk: int = 500) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = int(env.action_space.n)

    def work() -> int:
        for a in rng.integers(n, size=chunk).tolist():
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        return chunk

    return _rate(work, budget)


def vector_env_rate(num_envs: int, mode: str, budget: float, chunk: int) -> float:
    venv = gym.make_vec("TokenMaze-v0", num_envs=num_envs, vectorization_mode=mode)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    n = int(venv.single_action_space.n)

    def work() -> int:
        for _ in range(chunk):
            venv.step(rng.integers(n, size=num_envs))
        return chunk * num_envs

    rate = _rate(work, budget)
    venv.close()
    return rate


def frame_rate(budget: float, chunk: int = 50) -> float:
    env = gym.make("TokenMaze-v0", render_mode="rgb_array")
    _, info = env.reset(seed=0)
    for _ in range(4):
        _, _, _, _, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))

    def work() -> int:
        for _ in range(chunk):
            env.render()
        return chunk

    return _rate(work, budget)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed_env", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short budgets (a smoke run)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--num-envs", type=int, default=1024, help="vector env width (1024)")
    args = parser.parse_args(argv)
    budget = args.budget or (0.5 if args.quick else 3.0)

    ours = single_env_rate("TokenMaze-v0", budget)
    print(f"single env   TokenMaze-v0            {ours:12,.0f} steps/s")
    try:
        import minigrid  # noqa: F401  (registers MiniGrid-*)

        ref = single_env_rate("MiniGrid-Empty-8x8-v0", budget)
        print(f"single env   MiniGrid-Empty-8x8-v0   {ref:12,.0f} steps/s")
        print(f"  ratio {ours / ref:.1f}x  (target >= 5x)")
    except ImportError:
        print("  minigrid is not installed: `pip install minigrid` for the reference")

    n = args.num_envs
    native = vector_env_rate(n, "vector_entry_point", budget, chunk=20)
    sync = vector_env_rate(n, "sync", budget, chunk=1)
    print(f"vector env   native x{n}            {native:12,.0f} steps/s  (target >= 1,000,000)")
    print(f"vector env   SyncVectorEnv x{n}     {sync:12,.0f} steps/s")
    print(f"  ratio {native / sync:.1f}x  (target >= 100x)")

    print(f"render       rgb_array 6x6           {frame_rate(budget):12,.0f} frames/s")


if __name__ == "__main__":
    main()

"""Env throughput, each number against a reference measured in the same run:

- single env, ``gym.make("TokenMaze-v0")`` vs Minigrid's ``MiniGrid-Empty-8x8-v0`` (target >= 5x);
- native vector env (``gym.make_vec``, 1024 envs) vs ``SyncVectorEnv`` of the same env
  (target >= 100x and >= 1M steps/s);
- ``rgb_array`` frames per second (6x6 maze, after a few steps).

Actions are uniformly random over the action space (episodes end by ``<PATH_END>`` or
truncation, so resets are part of the cost), drawn before timing, so the time is the env's and
not the action sampler's.  After a warm-up call (which compiles the numba kernels) the measures
of a comparison take turns for ``--rounds`` rounds of ``--budget / rounds`` seconds each, and
each reports its best round: a burst of load on this shared machine then hits one round of one
side, not the ratio.

    python -m benchmarks speed env [--quick]
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import maze_env  # noqa: F401  (registers the envs)
from benchmarks.timing import Work, best_rates

ACTION_POOL = 512  # action batches drawn before timing; the envs cycle through them


def single_env_work(env_id: str, chunk: int = 500) -> Work:
    env = gym.make(env_id)
    env.reset(seed=0)
    n = int(env.action_space.n)
    pool = np.random.default_rng(0).integers(n, size=ACTION_POOL * chunk).tolist()
    step = 0

    def work() -> int:
        nonlocal step
        for _ in range(chunk):
            _, _, terminated, truncated, _ = env.step(pool[step % len(pool)])
            step += 1
            if terminated or truncated:
                env.reset()
        return chunk

    return work


def vector_env_work(num_envs: int, mode: str, chunk: int) -> Work:
    venv = gym.make_vec("TokenMaze-v0", num_envs=num_envs, vectorization_mode=mode)
    venv.reset(seed=0)
    n = int(venv.single_action_space.n)
    pool = np.random.default_rng(0).integers(n, size=(ACTION_POOL, num_envs))
    step = 0

    def work() -> int:
        nonlocal step
        for _ in range(chunk):
            venv.step(pool[step % ACTION_POOL])
            step += 1
        return chunk * num_envs

    return work


def frame_work(chunk: int = 50) -> Work:
    env = gym.make("TokenMaze-v0", render_mode="rgb_array")
    _, info = env.reset(seed=0)
    for _ in range(4):
        _, _, _, _, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))

    def work() -> int:
        for _ in range(chunk):
            env.render()
        return chunk

    return work


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks speed env",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short budgets (a smoke run)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per measure (6)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--num-envs", type=int, default=1024, help="vector env width (1024)")
    args = parser.parse_args(argv)
    budget = args.budget or (1.0 if args.quick else 6.0)

    try:
        import minigrid  # noqa: F401  (registers MiniGrid-*)

        ids = ["TokenMaze-v0", "MiniGrid-Empty-8x8-v0"]
    except ImportError:
        ids = ["TokenMaze-v0"]
    rates = best_rates([single_env_work(i) for i in ids], budget, args.rounds)
    for env_id, rate in zip(ids, rates):
        print(f"single env   {env_id:22s}  {rate:12,.0f} steps/s")
    if len(rates) == 2:
        print(f"  ratio {rates[0] / rates[1]:.1f}x  (target >= 5x)")
    else:
        print("  minigrid is not installed: `pip install minigrid` for the reference")

    n = args.num_envs
    native, sync = best_rates(
        [vector_env_work(n, "vector_entry_point", chunk=20), vector_env_work(n, "sync", chunk=1)],
        budget,
        args.rounds,
    )
    print(f"vector env   native x{n}            {native:12,.0f} steps/s  (target >= 1,000,000)")
    print(f"vector env   SyncVectorEnv x{n}     {sync:12,.0f} steps/s")
    print(f"  ratio {native / sync:.1f}x  (target >= 100x)")

    (frames,) = best_rates([frame_work()], budget, args.rounds)
    print(f"render       rgb_array 6x6           {frames:12,.0f} frames/s")


if __name__ == "__main__":
    main()

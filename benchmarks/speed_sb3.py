"""SB3 training throughput: MaskablePPO on the native vector env through ``agents.sb3``'s
``SB3VecEnv`` vs SB3's ``DummyVecEnv`` over the single env (the reference), in the same run.

Both sides train the same model from the same seed (the ``TokenFeatures`` policy of
``agents.sb3.policy_kwargs()``, ``--n-envs`` sub-envs of ``TokenMazeMoves-v0`` 6×6 ``rdfs``,
the PPO settings of the documented 6×6 baseline command); the adapter is tested to give the same
transitions, so only the env side differs.  One unit of work is one PPO iteration (``--n-steps``
per sub-env of rollout, then the update); after a warm-up iteration the two take turns for
``--rounds`` rounds and each reports its best round (``benchmarks.timing``).  Printed: training
env-steps/s both ways and their ratio, and the rollout share (collection only, no update).

    python -m benchmarks speed sb3 [--quick] [--n-envs 64]
"""

from __future__ import annotations

import argparse

import torch

from agents.sb3 import TrainArgs, policy_kwargs
from agents.sb3_features import MaskablePPO
from agents.sb3_train import make_env
from benchmarks.timing import Work, best_rates

BASELINE = TrainArgs(out="")  # the 6x6 baseline: the train command's defaults


def training_work(vec: str, n_envs: int, n_steps: int, epochs: int) -> Work:
    """One PPO iteration per call (``epochs=0``: rollout collection only)."""
    env_kwargs = {"size": BASELINE.size, "generator": BASELINE.generator}
    env = make_env(vec, n_envs, seed=0, env_kwargs=env_kwargs)
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=n_steps,
        batch_size=min(BASELINE.batch_size, n_steps * n_envs),
        n_epochs=max(epochs, 1),
        learning_rate=BASELINE.learning_rate,
        policy_kwargs=policy_kwargs(),
        seed=0,
        device="cpu",
    )
    if epochs == 0:
        model.train = lambda: None  # skip the update: time the rollouts alone
    steps = n_steps * n_envs

    def work() -> int:
        model.learn(steps, reset_num_timesteps=False)
        return steps

    return work


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks speed sb3",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short budgets (a smoke run)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per measure (12)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--n-envs", type=int, default=BASELINE.n_envs, help="sub-envs")
    parser.add_argument(
        "--n-steps", type=int, default=BASELINE.n_steps, help="rollout steps per sub-env"
    )
    args = parser.parse_args(argv)
    budget = args.budget or (2.0 if args.quick else 12.0)
    torch.set_num_threads(BASELINE.threads)

    n, k = args.n_envs, args.n_steps
    for epochs, what in ((BASELINE.n_epochs, "training"), (0, "rollouts only")):
        native, dummy = best_rates(
            [training_work(v, n, k, epochs) for v in ("native", "dummy")], budget, args.rounds
        )
        print(f"MaskablePPO {what:13s} x{n} SB3VecEnv (native)  {native:10,.0f} steps/s")
        print(f"MaskablePPO {what:13s} x{n} DummyVecEnv          {dummy:10,.0f} steps/s")
        print(f"  ratio {native / dummy:.2f}x")


if __name__ == "__main__":
    main()

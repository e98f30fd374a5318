"""Train MaskablePPO on ``TokenMazeMoves-v0`` (``python -m agents.sb3 train``).

Writes ``OUT`` (the SB3 zip) and its manifest ``OUT`` with ``.json`` (sha256, the env id and
kwargs it was trained on, the training arguments) together, atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import MISSING, asdict, fields
from pathlib import Path

import torch

from agents.sb3 import TrainArgs
from agents.sb3_agent import manifest_path, read_manifest
from agents.sb3_features import MaskablePPO, policy_kwargs
from maze_env.files import write_files

ENV_ID = "TokenMazeMoves-v0"


def make_env(vec: str, n_envs: int, seed: int, env_kwargs: dict):
    """``n_envs`` training envs: the native vector env through ``SB3VecEnv`` (``"native"``) or
    SB3's ``DummyVecEnv`` of single envs (``"dummy"``); the same episodes either way."""
    if vec == "native":
        from agents.sb3_vec import make_vec_env

        return make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, **env_kwargs)
    if vec == "dummy":
        from stable_baselines3.common.env_util import make_vec_env

        import maze_env  # noqa: F401  (registers the envs)

        return make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    raise ValueError(f"vec must be 'native' or 'dummy', got {vec!r}")


def train(args: TrainArgs) -> Path:
    """Train and save; returns the zip's path (``.zip`` appended if missing).

    ``max_minutes`` stops training early (the model so far is saved) once that much wall time
    has passed.  PPO collects ``n_steps`` per env between updates (``n_steps * n_envs`` steps).
    ``resume``: continue that zip's run (the other settings must be its own).
    """
    env_kwargs = {"size": args.size, "generator": args.generator}
    # ---- seeding: torch here, the envs and PPO through ``seed``
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    env = make_env(args.vec, args.n_envs, args.seed, env_kwargs)
    if args.resume is not None:
        return _continue(args, env, env_kwargs)
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.learning_rate,
        gamma=args.gamma,
        ent_coef=args.ent_coef,
        policy_kwargs=policy_kwargs(
            d_model=args.d_model, n_heads=args.n_heads, n_rounds=args.n_rounds
        ),
        seed=args.seed,
        device="cpu",
        verbose=args.verbose,
    )
    return _learn(model, args, env_kwargs, reset=True)


def _continue(args: TrainArgs, env, env_kwargs: dict) -> Path:
    """Go on training ``args.resume`` (weights, optimizer, step count) on the same settings."""
    earlier = read_manifest(args.resume)
    mine = {k: v for k, v in asdict(args).items() if k not in RUN_ONLY}
    # options added since that run was trained had their default then
    recorded = {f.name: f.default for f in fields(TrainArgs) if f.default is not MISSING}
    recorded |= earlier.get("train_args", {})
    theirs = {k: v for k, v in recorded.items() if k not in RUN_ONLY}
    if mine != theirs:
        changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        raise ValueError(f"--resume {args.resume}: options differ from its manifest's: {changed}")
    model = MaskablePPO.load(args.resume, env=env, device="cpu")
    return _learn(model, args, env_kwargs, reset=False, earlier=earlier)


# Options that may differ between a run and its continuation.
RUN_ONLY = ("out", "timesteps", "max_minutes", "progress_bar", "verbose", "threads", "resume")


def _learn(model, args: TrainArgs, env_kwargs: dict, reset: bool, earlier=None) -> Path:
    from stable_baselines3.common.callbacks import BaseCallback

    class WallClock(BaseCallback):
        def __init__(self, minutes: float):
            super().__init__()
            self.deadline = time.monotonic() + 60 * minutes

        def _on_step(self) -> bool:
            return time.monotonic() < self.deadline

    callback = None if args.max_minutes is None else WallClock(args.max_minutes)
    start = time.monotonic()
    # a continued run learns for what is left (SB3 adds its step count to ``total_timesteps``)
    steps = args.timesteps if reset else max(0, args.timesteps - model.num_timesteps)
    model.learn(total_timesteps=steps, callback=callback, progress_bar=args.progress_bar,
                reset_num_timesteps=reset)  # fmt: skip
    seconds = time.monotonic() - start + (earlier or {}).get("train_seconds", 0.0)
    out = Path(args.out)
    if out.suffix != ".zip":
        out = out.with_suffix(out.suffix + ".zip")
    buffer = io.BytesIO()
    model.save(buffer)
    data = buffer.getvalue()
    manifest = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "env_id": ENV_ID,
        "env_kwargs": env_kwargs,
        "timesteps": int(model.num_timesteps),
        "train_seconds": round(seconds, 1),
        "train_args": asdict(args),
    }
    if earlier is not None:  # the runs this one continues, oldest first
        manifest["continues"] = [*earlier.get("continues", []), {
            k: earlier[k] for k in ("sha256", "timesteps", "train_seconds", "train_args")
        }]  # fmt: skip
    write_files(
        {
            out: lambda tmp: Path(tmp).write_bytes(data),
            manifest_path(out): lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)),
        }
    )
    return out

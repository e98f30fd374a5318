"""``sb3``: Stable-Baselines3 on TokenMaze — MaskablePPO agents, the token encoder, a fast VecEnv.

- ``policy_kwargs()``: SB3 ``policy_kwargs`` that read tokens through ``TokenFeatures`` (an
  ``nn.Embedding`` encoder) instead of SB3's default of raw token ids as floats;
- ``make_vec_env(env_id, n_envs, seed, **env_kwargs)`` / ``SB3VecEnv``: an SB3 ``VecEnv`` over the
  native batched vector env, action masks included (a drop-in for ``DummyVecEnv``);
- ``load_model(path, env=None, trusted=False)`` / ``SB3Agent`` (``agents.make("sb3")``): an SB3
  zip is cloudpickle, i.e. code; a shipped zip loads after its sha256 check, any other only
  with ``trusted=True``;
- ``train(out, **TrainArgs fields)`` / ``python -m agents.sb3 train``.

This module stays light (``--help`` is instant); the names above load their modules on first use.

Train (progress bar; writes ``OUT`` and its manifest ``OUT`` with ``.json`` atomically; the
defaults are the 6×6 baseline, ``--help`` lists them)::

    python -m agents.sb3 train --out agents/models/sb3_6x6/model.zip
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field, fields
from typing import Any

_LAZY = {
    "TokenFeatures": "agents.sb3_features",
    "policy_kwargs": "agents.sb3_features",
    "SB3Agent": "agents.sb3_agent",
    "load_model": "agents.sb3_agent",
    "UntrustedModelError": "agents.sb3_agent",
    "DEFAULT_MODEL": "agents.sb3_agent",
    "shipped_models": "agents.sb3_agent",
    "read_manifest": "agents.sb3_agent",
    "SB3VecEnv": "agents.sb3_vec",
    "make_vec_env": "agents.sb3_vec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents.sb3' has no attribute {name!r}")


def _arg(default, text: str, kind: type | None = None, choices: tuple | None = None):
    """A ``TrainArgs`` field: its default, ``--help`` text, CLI type (default: the default's) and
    choices."""
    return field(
        default=default,
        metadata={"help": text, "type": kind or type(default), "choices": choices},
    )


@dataclass(frozen=True)
class TrainArgs:
    """``python -m agents.sb3 train``'s options (also ``train(out, **fields)``).

    The defaults are the 6×6 baseline: ``python -m agents.sb3 train --out
    agents/models/sb3_6x6/model.zip`` (at most 55 minutes on one core; see README.md).
    """

    out: str = field(metadata={"help": "where to write the model zip (and its .json manifest)"})
    size: int = _arg(6, "maze side length")
    generator: str = _arg("rdfs", "maze generator name")
    timesteps: int = _arg(3_000_000, "environment steps (at most)")
    n_envs: int = _arg(32, "parallel envs (in one process)")
    vec: str = _arg(
        "native", "'native': the batched vector env; 'dummy': SB3's DummyVecEnv", None,
        ("native", "dummy"),
    )  # fmt: skip
    n_steps: int = _arg(64, "steps per env between PPO updates")
    batch_size: int = _arg(256, "PPO minibatch size")
    n_epochs: int = _arg(4, "PPO epochs per update")
    learning_rate: float = _arg(3e-4, "Adam learning rate")
    gamma: float = _arg(0.99, "discount")
    ent_coef: float = _arg(0.01, "entropy bonus")
    d_model: int = _arg(32, "TokenFeatures width")
    n_heads: int = _arg(2, "TokenFeatures attention heads")
    n_rounds: int = _arg(0, "TokenFeatures rounds of message passing over the maze graph")
    seed: int = _arg(0, "seeds torch, the envs (seed + i) and PPO")
    threads: int = _arg(1, "torch threads (the PPO update is most of the time)")
    max_minutes: float | None = _arg(55.0, "stop and save after this many minutes (inf: no)", float)
    resume: str | None = _arg(
        None, "continue training this zip (yours: it is unpickled) up to --timesteps in all; "
        "the other options must match its manifest's", str,
    )  # fmt: skip
    progress_bar: bool = _arg(True, "show a progress bar")
    verbose: int = _arg(0, "SB3 log level (1 prints rollout stats)")


def train(out, **kwargs):
    """Train MaskablePPO (``TrainArgs`` fields as kwargs); returns the zip's path."""
    from agents.sb3_train import train as run

    return run(TrainArgs(out=str(out), **kwargs))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agents.sb3", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "train",
        help="train MaskablePPO on TokenMazeMoves-v0",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in fields(TrainArgs):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "out":
            p.add_argument(flag, required=True, default=argparse.SUPPRESS, help=f.metadata["help"])
        elif f.metadata["type"] is bool:
            p.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=f.default,
                help=f.metadata["help"],
            )  # fmt: skip
        else:
            p.add_argument(
                flag, type=f.metadata["type"], default=f.default, help=f.metadata["help"],
                choices=f.metadata.get("choices"),
            )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    args.pop("command")
    path = train(args.pop("out"), **args)
    print(f"saved {path}")


__all__ = ["TrainArgs", "main", "train", *_LAZY]

if __name__ == "__main__":
    main()

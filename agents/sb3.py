"""``sb3``: MaskablePPO (sb3-contrib) on the move-action env ``TokenMazeMoves-v0``.

The policy reads the token observation through ``TokenFeatures``: an ``nn.Embedding`` of the
token ids (not SB3's one-hot of the whole vocabulary) and a small encoder (a convolution, then
the current cell and the target attend over the prompt), cheap enough to train on a CPU.
``SB3Agent`` passes ``action_masks`` at predict time (MaskablePPO otherwise emits masked
actions, sb3-contrib#212) and also plays the token env by translating its moves into
coordinate tokens.

Train (progress bar; writes ``PATH`` atomically)::

    python -m agents.sb3 train --size 5 --timesteps 200000 --out agents/models/sb3_5x5/model.zip

Security: an SB3 ``.zip`` holds pickled Python objects, and loading it can run arbitrary code.
Load only files you trust (your own, or the one shipped in this repository).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.base import Unsupported
from agents.planned import STOP, grid_shape, sequence
from maze_env import DIRECTIONS, parse, vocabulary
from maze_env.files import write_file
from maze_env.tokens import PATH_END, PATH_START

try:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
except ImportError as err:  # pragma: no cover - depends on the install
    raise ImportError(
        "the sb3 agent needs Stable-Baselines3 and sb3-contrib: pip install 'tokenmaze[rl]'"
    ) from err

DEFAULT_MODEL = Path(__file__).parent / "models" / "sb3_5x5" / "model.zip"
_PATH_START_ID = vocabulary(1).special[PATH_START]  # special ids are shared by every vocabulary


class TokenFeatures(BaseFeaturesExtractor):
    """A cheap token encoder over ``obs["tokens"][:obs["length"]]``.

    ``nn.Embedding`` + learned positions, one residual width-3 convolution (so each ``<-->``
    sees both ends of its edge), then two queries — the current cell (the last token) and the
    target (two before ``<PATH_START>``) — attend over the sequence.  Output (batch, 4 * d_model):
    both query tokens and both attention read-outs.
    """

    def __init__(self, observation_space: gym.spaces.Dict, d_model: int = 32, n_heads: int = 2):
        tokens = observation_space["tokens"]
        super().__init__(observation_space, features_dim=4 * d_model)
        self.vocab_size = int(np.max(tokens.high)) + 1
        self.max_len = int(tokens.shape[0])
        self.embed = nn.Embedding(self.vocab_size, d_model)
        self.pos = nn.Embedding(self.max_len, d_model)
        self.mix = nn.Conv1d(d_model, d_model, 3, padding=1)
        self.attend = nn.MultiheadAttention(d_model, n_heads, batch_first=True)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        ids = obs["tokens"].long()  # [batch, pos]
        length = obs["length"].long().reshape(len(ids)).clamp(1, self.max_len)  # [batch]
        positions = torch.arange(self.max_len, device=ids.device)
        pad = positions[None, :] >= length[:, None]  # [batch, pos]
        x = self.embed(ids) + self.pos(positions)  # [batch, pos, d_model]
        x = x + torch.relu(self.mix(x.transpose(1, 2))).transpose(1, 2)
        rows = torch.arange(len(ids), device=ids.device)
        start = ((ids == _PATH_START_ID) & ~pad).float().argmax(1)  # [batch]
        queries = torch.stack([x[rows, length - 1], x[rows, (start - 2).clamp(min=0)]], 1)
        read, _ = self.attend(queries, x, x, key_padding_mask=pad, need_weights=False)
        return torch.cat([queries.flatten(1), read.flatten(1)], 1)  # [batch, 4 * d_model]


class SB3Agent:
    """A trained MaskablePPO policy (``path``: an SB3 zip; default: the shipped 5×5 model).

    Works on ``"move"`` envs directly and on ``"token"`` envs by emitting the coordinate
    token(s) of the cell each move reaches (``<PATH_END>`` for STOP).  Observations must fit
    the model's token length and vocabulary.  Loading unpickles the zip: trusted files only.
    """

    def __init__(self, path: str | os.PathLike | None = None, deterministic: bool = True):
        path = Path(path) if path is not None else DEFAULT_MODEL
        if not path.is_file():
            raise FileNotFoundError(
                f"no SB3 model at {path}; train one with "
                "`python -m agents.sb3 train --size 5 --timesteps 200000 --out PATH`"
            )
        self.model = MaskablePPO.load(path, device="cpu")
        self.deterministic = deterministic
        self._tokens_space = self.model.observation_space["tokens"]
        self._pending: list[int] = []  # the column token of a ``coords`` cell, still to emit

    def reset(self, obs: Mapping, info: Mapping) -> None:
        self._pending = []

    def act(self, obs: Mapping, info: Mapping) -> int:
        """Re-read the whole sequence, mask the moves the env would mask, and predict."""
        if self._pending:
            return self._pending.pop(0)
        seq = sequence(obs)
        ex = parse(
            vocabulary(int(info["max_grid"])).decode(seq),
            scheme=str(info["scheme"]),
            shape=grid_shape(info),
        )
        here, visited, open_cells = ex.path[-1], set(ex.path), ex.maze.neighbors(ex.path[-1])
        mask = np.zeros(5, np.bool_)
        for d, (dr, dc) in enumerate(DIRECTIONS):
            step = (here[0] + dr, here[1] + dc)
            mask[d] = step in open_cells and step not in visited
        mask[STOP] = here == ex.target or not mask[:STOP].any()
        move, _ = self.model.predict(
            self._model_obs(seq, mask), action_masks=mask, deterministic=self.deterministic
        )
        move = int(np.asarray(move).reshape(-1)[0])
        if str(info["action_type"]) == "move":
            return move
        vocab = vocabulary(int(info["max_grid"]))
        if move == STOP:
            return vocab.special[PATH_END]
        rows, cols = ex.maze.shape
        r, c = here[0] + DIRECTIONS[move][0], here[1] + DIRECTIONS[move][1]
        ids = [int(t) for t in vocab.cell_tokens(ex.scheme, (rows, cols))[r * cols + c]]
        self._pending = ids[1:]
        return ids[0]

    def _model_obs(self, seq: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        max_len, vocab_size = self._tokens_space.shape[0], int(np.max(self._tokens_space.high)) + 1
        misfits = [f"{len(seq)} tokens, more than its {max_len}"] if len(seq) > max_len else []
        if seq.max() >= vocab_size:
            misfits.append(f"token id {seq.max()}, beyond its {vocab_size} ids")
        if misfits:
            raise Unsupported(
                f"this observation does not fit the SB3 model ({'; '.join(misfits)}): play "
                "mazes of its training size",
                short="larger than its observations" if len(seq) > max_len else "beyond its ids",
            )
        tokens = np.full(max_len, vocabulary(1).pad_id, self._tokens_space.dtype)
        tokens[: len(seq)] = seq
        spaces = self.model.observation_space.spaces
        length = np.full(spaces["length"].shape, len(seq), spaces["length"].dtype)
        out = {"tokens": tokens, "length": length}
        for key, space in spaces.items():
            if key not in out:  # the action mask, whatever the env helper named it
                out[key] = mask.astype(space.dtype).reshape(space.shape)
        return out


# --------------------------------------------------------------------------- training


def train(
    out: str | os.PathLike,
    size: int = 5,
    timesteps: int = 200_000,
    generator: str = "rdfs",
    n_envs: int = 8,
    seed: int = 0,
    progress_bar: bool = True,
    verbose: int = 0,
    max_minutes: float | None = None,
) -> Path:
    """Train MaskablePPO on ``TokenMazeMoves-v0`` and save the zip to ``out`` atomically.

    ``max_minutes`` stops training early (the model so far is saved) once that much wall time
    has passed.
    """
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class WallClock(BaseCallback):
        def __init__(self, minutes: float):
            super().__init__()
            self.deadline = time.monotonic() + 60 * minutes

        def _on_step(self) -> bool:
            return time.monotonic() < self.deadline

    import maze_env  # noqa: F401  (registers the envs)

    # ---- seeding: torch here, the envs and PPO through ``seed``
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # small batches: extra threads only contend
    env = make_vec_env(
        "TokenMazeMoves-v0",
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"size": size, "generator": generator},
    )
    model = MaskablePPO(
        "MultiInputPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=4,
        learning_rate=3e-4,
        gamma=0.99,
        ent_coef=0.01,
        policy_kwargs={
            "features_extractor_class": TokenFeatures,
            "net_arch": {"pi": [64], "vf": [64]},
        },
        seed=seed,
        device="cpu",
        verbose=verbose,
    )
    callback = None if max_minutes is None else WallClock(max_minutes)
    model.learn(total_timesteps=timesteps, callback=callback, progress_bar=progress_bar)
    out = Path(out)
    if out.suffix != ".zip":
        out = out.with_suffix(out.suffix + ".zip")
    return write_file(out, model.save, ".zip")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.sb3", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train MaskablePPO on TokenMazeMoves-v0")
    p.add_argument("--out", required=True, help="where to write the model zip")
    p.add_argument("--size", type=int, default=5, help="maze side length")
    p.add_argument("--timesteps", type=int, default=200_000, help="environment steps")
    p.add_argument("--generator", default="rdfs", help="maze generator name")
    p.add_argument("--n-envs", type=int, default=8, help="parallel envs (in one process)")
    p.add_argument("--seed", type=int, default=0, help="seeds torch, the envs and PPO")
    p.add_argument("--verbose", type=int, default=0, help="SB3 log level (1 prints rollouts)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this")
    args = parser.parse_args(argv)
    path = train(
        args.out,
        size=args.size,
        timesteps=args.timesteps,
        generator=args.generator,
        n_envs=args.n_envs,
        seed=args.seed,
        verbose=args.verbose,
        max_minutes=args.max_minutes,
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()

"""Loading SB3 zips safely (``load_model``) and the ``sb3`` agent that plays them (``SB3Agent``).

An SB3 ``.zip`` is cloudpickle: loading one runs whatever code it carries.  So ``load_model``
loads a zip shipped in ``agents/models/<name>/model.zip`` only after its sha256 matches the one
recorded beside it in ``model.json``, and any other zip only with ``trusted=True``.
``model.json`` also names the env the zip was trained on (``env_id``, ``env_kwargs``), so SB3's
own ``MaskablePPO.load(zip, env=gym.make(env_id, **env_kwargs))`` works on it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from agents.base import Unsupported
from agents.planned import grid_shape, sequence
from agents.sb3_features import MaskablePPO
from agents.shipped import MODELS, shipped
from agents.shipped import resolve as resolve_shipped
from maze_env import Move, legal_moves, parse, vocabulary
from maze_env.tokens import PATH_END

DEFAULT_MODEL = MODELS / "sb3_5x5" / "model.zip"
TRAIN_HINT = "`python -m agents.sb3 train --out PATH` (see --help)"


class UntrustedModelError(ValueError):
    """An SB3 zip that ``load_model`` will not unpickle (not shipped, or changed since)."""


def manifest_path(zip_path: str | os.PathLike) -> Path:
    """Where a zip's ``model.json`` lives: beside it, same stem."""
    return Path(zip_path).with_suffix(".json")


def read_manifest(zip_path: str | os.PathLike) -> dict:
    """A zip's manifest: ``sha256``, ``env_id``, ``env_kwargs`` (and how it was trained)."""
    return json.loads(manifest_path(zip_path).read_text())


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shipped_models() -> dict[str, Path]:
    """The zips shipped with the package, by folder name (``"sb3_5x5"``)."""
    return shipped("sb3")


def resolve(path: str | os.PathLike | None) -> Path:
    """``path`` as a file: None is the default model, a shipped model's name its zip."""
    return DEFAULT_MODEL if path is None else resolve_shipped("sb3", path, strict=False)


def check_trust(path: Path, trusted: bool) -> None:
    """Raise ``UntrustedModelError`` unless ``path`` may be unpickled (see the module doc)."""
    if trusted:
        return
    shipped = path.resolve() in {p.resolve() for p in shipped_models().values()}
    if not shipped:
        raise UntrustedModelError(
            f"{path} is not an SB3 model shipped with tokenmaze; an SB3 zip is a cloudpickle "
            "file and loading it runs the code inside it. If you trust this file, pass "
            "trusted=True (agents.make('sb3', path=..., trusted=True); in a suite, "
            "kwargs = { path = ..., trusted = true })"
        )
    expected = read_manifest(path).get("sha256")
    actual = sha256(path)
    if actual != expected:
        raise UntrustedModelError(
            f"{path} does not match the sha256 recorded in {manifest_path(path).name} "
            f"(expected {expected}, got {actual}): the shipped model was changed; restore it "
            "(git checkout) or pass trusted=True if you replaced it yourself"
        )


def load_model(path: str | os.PathLike | None = None, env=None, trusted: bool = False):
    """``MaskablePPO.load`` after the trust check (``path``: a zip, a shipped model's name, or
    None for the shipped 5×5 model; ``env``: as for ``MaskablePPO.load``)."""
    path = resolve(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SB3 model at {path}; train one with {TRAIN_HINT}")
    check_trust(path, trusted)
    return MaskablePPO.load(path, env=env, device="cpu")


class SB3Agent:
    """A trained MaskablePPO policy (``path``: an SB3 zip or a shipped model's name; default: the
    shipped 5×5 model).  A zip that is not shipped loads only with ``trusted=True``.

    Works on ``"move"`` envs directly and on ``"token"`` envs by emitting the coordinate
    token(s) of the cell each move reaches (``<PATH_END>`` for STOP).  Observations must fit
    the model's token length and vocabulary.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        deterministic: bool = True,
        trusted: bool = False,
    ):
        self.model = load_model(path, trusted=trusted)
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
        here, mask = ex.path[-1], legal_moves(ex.maze, ex.path, ex.target)
        move, _ = self.model.predict(
            self._model_obs(seq, mask), action_masks=mask, deterministic=self.deterministic
        )
        move = int(np.asarray(move).reshape(-1)[0])
        if str(info["action_type"]) == "move":
            return move
        vocab = vocabulary(int(info["max_grid"]))
        if move == Move.STOP:
            return vocab.special[PATH_END]
        rows, cols = ex.maze.shape
        dr, dc = Move(move).delta
        r, c = here[0] + dr, here[1] + dc
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

"""The transformer as a TokenMaze agent: batched greedy (or sampled) decoding with a KV cache.

At the first step of an episode the agent decodes its whole continuation of the prompt at once
(greedy decoding of its own outputs is exactly what step-by-step decoding would produce) and
then replays it token by token; ``act_batch`` does this for every fresh episode of a vector env
in one batched decode.  Nothing is masked: the env sees exactly what the model emits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agents.base import Unsupported
from agents.transformer.checkpoint import load_model
from agents.transformer.data import DataConfig
from agents.transformer.decode import generate
from agents.transformer.length_scaling import scaling_for
from agents.transformer.shipped import MODELS, SHIPPED, resolve_checkpoint, shipped_models
from maze_env import split_infos, tokens_per_cell
from maze_env.tokens import PATH_END, PATH_START, vocabulary

__all__ = ["MODELS", "SHIPPED", "TransformerAgent", "resolve_checkpoint", "shipped_models"]


class TransformerAgent:
    """``agents.make("transformer", checkpoint=None, temperature=0.0, seed=0, max_new=None,
    rotary_scaling="auto")``.

    checkpoint: a model directory (``model.safetensors`` + ``config.json``) or a shipped model's
    name (``shipped_models()``); None = the shipped 6x6 model.  temperature: 0 = greedy, else
    softmax sampling seeded by ``seed``.  rotary_scaling: ``"auto"`` slows a rotary model's
    slow frequencies for prompts longer than any in training
    (``agents.transformer.length_scaling``), ``"off"`` keeps the trained ones everywhere;
    inputs from the training distribution decode the same either way.
    """

    kind = "learned: GPT policy decoding the path token by token"

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_new: int | None = None,
        rotary_scaling: str = "auto",
    ):
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.checkpoint = resolve_checkpoint(checkpoint)
        self.model, self.config = load_model(self.checkpoint)
        self.scheme = self.config["data"]["scheme"]
        self.vocab = vocabulary(self.config["data"]["max_grid"])
        self.max_grid = self.vocab.max_grid
        """The grid side its token ids cover: play smaller mazes with the env's ``max_grid``
        set to this (the benchmark harness does), so its ids are the env's."""
        trained = DataConfig(**self.config["data"])
        self.scaling = scaling_for(self.model.cfg, trained, rotary_scaling)
        self.training = training_distribution(trained)
        """What it was trained on: grid shapes, generators, canvas, endpoints (JSON-able)."""
        self.temperature = temperature
        self.generator = torch.Generator().manual_seed(seed)
        self.max_new = max_new
        self._plans: dict[int, tuple[int, np.ndarray]] = {}

    # ----------------------------------------------------------------- decoding
    def _check_obs(self, obs, info: dict) -> np.ndarray:
        if info.get("action_type", "token") != "token":
            raise Unsupported(
                "the transformer agent emits tokens: use a token-action env (TokenMaze-v0)",
                short="token actions only",
            )
        if info.get("scheme", self.scheme) != self.scheme:
            raise Unsupported(
                f"this model reads the {self.scheme!r} scheme, the env uses {info['scheme']!r}",
                short=f"reads the {self.scheme} scheme only",
            )
        ids = np.asarray(obs["tokens"])[: int(np.asarray(obs["length"]).reshape(-1)[0])]
        if ids.size and ids.max() >= len(self.vocab):
            raise Unsupported(
                "the maze needs tokens beyond this model's vocabulary "
                f"(max_grid {self.vocab.max_grid}); train on a larger canvas for larger mazes",
                short=f"beyond max_grid {self.vocab.max_grid}",
            )
        return ids

    def solve(self, prompts: list[np.ndarray]) -> list[np.ndarray]:
        """Continue token-id prompts until ``<PATH_END>`` (or the step limit), batched."""
        width = tokens_per_cell(self.scheme)
        limit = self.max_new or 2 * self.vocab.max_grid**2 * width  # the env's default max_steps
        return generate(self.model, prompts, self.vocab.special[PATH_END], limit, self.vocab.pad_id,
                        self.temperature, self.generator, scaling=self.scaling)  # fmt: skip

    # ----------------------------------------------------------------- agent protocol
    def reset(self, obs, info: dict) -> None:
        ids = self._check_obs(obs, info)
        self._plans[0] = (len(ids), self.solve([ids])[0])

    def act(self, obs, info: dict) -> int:
        ids = self._check_obs(obs, info)
        start, plan = self._plans.get(0, (len(ids), np.empty(0, np.int64)))
        return self._next(ids, start, plan, 0)

    def _next(self, ids: np.ndarray, start: int, plan: np.ndarray, slot: int) -> int:
        done = len(ids) - start
        if done < 0 or not np.array_equal(ids[start:], plan[:done]):  # diverged: re-plan
            start, plan = len(ids), self.solve([ids])[0]
            self._plans[slot] = (start, plan)
            done = 0
        return int(plan[done]) if done < len(plan) else self.vocab.special[PATH_END]

    def act_batch(self, obs_batch, infos) -> np.ndarray:
        """Actions for a vector env; fresh episodes (prompt just ended) are decoded together."""
        n = len(np.asarray(obs_batch["length"]))
        rows = [
            self._check_obs({k: v[i] for k, v in obs_batch.items()}, info)
            for i, info in enumerate(split_infos(infos, range(n)))
        ]
        width = tokens_per_cell(self.scheme)
        path_start = self.vocab.special[PATH_START]
        fresh = [
            i for i, ids in enumerate(rows) if len(ids) > width and ids[-1 - width] == path_start
        ]
        if fresh:
            for i, plan in zip(fresh, self.solve([rows[i] for i in fresh])):
                self._plans[i] = (len(rows[i]), plan)
        out = np.empty(n, np.int64)
        for i, ids in enumerate(rows):
            start, plan = self._plans.get(i, (len(ids), np.empty(0, np.int64)))
            out[i] = self._next(ids, start, plan, i)
        return out


def training_distribution(data: DataConfig) -> dict:
    """A model's training mazes in the env's words: the shapes and generators of its mixture,
    and its (shape, generator) pairs (``components``; a mixture need not be their product)."""
    sources = data.sources()
    generators = {(s.generator, repr(sorted(s.generator_kwargs.items()))): s for s in sources}
    return {
        "sizes": sorted({s.shape for s in sources}),
        "components": [
            {"size": list(s.shape), "name": s.generator, "kwargs": s.generator_kwargs}
            for s in sources
        ],
        "generators": [
            {"name": s.generator, "kwargs": s.generator_kwargs} for s in generators.values()
        ],
        "canvas": data.canvas,
        "max_grid": data.max_grid,
        "endpoints": dict(data.endpoints),
    }

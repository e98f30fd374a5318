"""The batched episode state behind every TokenMaze env, single and vector.

``Episodes`` holds ``n`` episodes of one ``Config`` in flat arrays.  Each episode owns a
SplitMix64 key stream (``streams``, started from a numpy Generator by ``seed``); ``reset`` draws
``KEYS_PER_RESET`` keys from it per new episode and makes maze, endpoints and prompt from them —
in one numba call (``_reset_fused``) for the built-in generators on a plain grid, else through
the batch APIs (``generate_batch``, ``sample_endpoints_batch``, ``solve_batch``,
``encode_batch``), which give the same episodes from the same keys.  So a batch of resets equals
the same resets done one at a time.  ``step`` advances every active episode in one numba call
(``maze_env._kernels``).  The single envs are ``Episodes`` of size 1.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from maze_env._episode_config import Config
from maze_env._graph import solve_batch
from maze_env._kernels import (
    KEYS_PER_RESET,
    LENGTH,
    N_INT,
    OPTIMAL,
    ORIGIN,
    PATH_LEN,
    POS,
    SUCCESS,
    TARGET,
    VIOL,
    _gather_infos,
    _reset,
    _reset_fused,
    _step,
)
from maze_env._rng import KeyBlock, draw_stream_keys, stream_seed
from maze_env.endpoints import sample_endpoints_batch
from maze_env.generators import generate_batch, kernel_plan
from maze_env.maze import Coord, Maze
from maze_env.rules import VIOLATION_KINDS
from maze_env.tokens import PATH_END, encode_batch, special_ids


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class Episodes:
    """``n`` episodes of one ``Config`` as flat arrays, reset and stepped in batches."""

    def __init__(self, config: Config, n: int):
        self.config, self.n = config, n
        rows, cols = config.grid
        vocab = config.vocab
        self.cell_ids = vocab.cell_tokens(config.scheme, (rows, cols)).astype(np.int64)
        self.number_ids = vocab.number_ids.astype(np.int64)
        table = np.full((len(vocab), 2), -1, np.int64)  # token id -> (flat cell, number)
        table[:, 0] = vocab.cell_of_ids((rows, cols))
        table[self.number_ids, 1] = np.arange(vocab.max_grid)
        self.token_table = table
        self.iparams = np.array(
            [
                config.action_type == "move",
                config.scheme == "coords",
                vocab.special[PATH_END],
                config.max_steps,
                config.invalid_action == "terminate",
            ],
            np.int64,
        )
        self.fparams = np.array([config.success_reward, config.step_cost, config.violation_penalty])
        self.conns = np.zeros((n, 2, rows, cols), np.bool_)
        self.ints = np.zeros((n, N_INT), np.int64)
        self.visited = np.zeros((n, rows * cols), np.bool_)
        self.path = np.zeros((n, config.max_steps + 1), np.int64)
        self.bad = np.zeros((n, config.max_steps + 1), np.bool_)
        self.tokens = np.full((n, config.max_len), vocab.pad_id, config.token_dtype)
        self.mask = np.zeros((n, config.n_actions), np.bool_)
        self.streams = np.zeros(n, np.uint64)  # per-episode SplitMix key streams
        self._fused = self._fused_args()
        self.rewards = np.zeros(n, np.float64)
        self.terminated = np.zeros(n, np.bool_)
        self.truncated = np.zeros(n, np.bool_)
        self._outcomes = (self.rewards, self.terminated, self.truncated)
        self.state = (self.conns, self.ints, self.visited, self.path, self.bad, self.tokens,
                      self.mask)  # fmt: skip
        self.tables = (self.cell_ids, self.number_ids, self.token_table, self.iparams,
                       self.fparams)  # fmt: skip

    def seed(self, idx: np.ndarray, generators: list[np.random.Generator]) -> None:
        """Start the key streams of episodes ``idx``, one from each of ``generators``."""
        for i, gen in zip(idx, generators, strict=True):
            self.streams[i] = stream_seed(gen)

    def reset(self, idx: np.ndarray) -> None:
        """Start new episodes for ``idx``, each drawing its keys from its own stream.

        Numba generators on the plain grid take one fused kernel (``_reset_fused``); the rest go
        through the batch APIs with the same keys, so both give the same episodes.
        """
        idx = np.asarray(idx, np.int64)
        if self._fused is None:
            keys = np.empty((len(idx), KEYS_PER_RESET), np.uint64)
            draw_stream_keys(self.streams, idx, keys)
            self._reset_batched(idx, keys)
            return
        failed = _reset_fused(
            idx, self.streams, self._fused, self.state, self.tables, self._outcomes
        )
        if failed >= 0:
            raise self.config.endpoints.no_pair(failed)

    def _reset_batched(self, idx: np.ndarray, keys: np.ndarray) -> None:
        cfg = self.config
        m = len(idx)
        seeds = KeyBlock(keys)
        conns = generate_batch(
            cfg.generator, cfg.shape, m, seeds, canvas=cfg.canvas, offset=cfg.offset,
            **cfg.generator_kwargs,
        )  # fmt: skip
        origins, targets = sample_endpoints_batch(conns, seeds, cfg.endpoints)
        cols = cfg.grid[1]
        o = origins[:, 0] * cols + origins[:, 1]
        t = targets[:, 0] * cols + targets[:, 1]
        optimal = solve_batch(conns, o, t, np.empty((m, self.visited.shape[1]), np.int64))
        prompts, lengths = encode_batch(
            conns, origins, targets, scheme=cfg.scheme, vocab=cfg.vocab, seed=seeds,
            max_len=cfg.max_len,
        )  # fmt: skip
        if seeds.used != KEYS_PER_RESET:
            raise RuntimeError(f"a reset drew {seeds.used} keys per episode, not {KEYS_PER_RESET}")
        _reset(idx, conns, o, t, optimal, prompts, lengths, self.state, self.tables, self._outcomes)

    def _fused_args(self) -> tuple | None:
        """The config's arguments for ``_reset_fused``, or None where it does not apply (a
        Python generator, a canvas, or the ``walls`` scheme, whose edge list is not ``conns``)."""
        cfg = self.config
        plan = kernel_plan(cfg.generator, cfg.generator_kwargs)
        if plan is None or cfg.canvas is not None or cfg.scheme == "walls":
            return None
        spec = cfg.endpoints
        o_region, t_region = spec.region_masks(cfg.shape)
        return (
            *plan, o_region, t_region, spec.origin_dead_end, spec.target_dead_end,
            spec.min_distance, spec.distance_bound, special_ids(cfg.vocab, cfg.scheme),
            cfg.vocab.pad_id,
        )  # fmt: skip

    def step(self, actions: np.ndarray, active: np.ndarray) -> int:
        """Advance the ``active`` episodes; results land in rewards / terminated / truncated.

        Returns -1, or (with nothing changed) the index of the first out-of-range action."""
        return _step(actions, active, self.state, self.tables, self._outcomes)

    # ------------------------------------------------------------------ observations and info
    def observation(self, i: int) -> dict[str, np.ndarray]:
        return {
            "tokens": self.tokens[i].copy(),
            "length": self.ints[i, LENGTH : LENGTH + 1].copy(),
            "action_mask": self.mask[i].view(np.int8).copy(),
        }

    def observations(self) -> dict[str, np.ndarray]:
        return {
            "tokens": self.tokens.copy(),
            "length": self.ints[:, LENGTH : LENGTH + 1].copy(),
            "action_mask": self.mask.view(np.int8).copy(),
        }

    def info(self, i: int, ended: bool) -> dict[str, Any]:
        """One episode's info dict (``success`` only once the episode has ended)."""
        ints, cols = self.ints[i], self.config.grid[1]
        info = {
            "action_type": self.config.action_type,
            "scheme": self.config.scheme,
            "max_grid": self.config.max_grid,
            "shape": np.array(self.config.grid, np.int64),
            "action_mask": self.mask[i].view(np.int8).copy(),  # obs["action_mask"]'s dtype
            "position": np.array(divmod(int(ints[POS]), cols), np.int64),
            "violations": dict(zip(VIOLATION_KINDS, ints[VIOL:].tolist(), strict=True)),
            "optimal_length": int(ints[OPTIMAL]),
        }
        if ended:
            info["success"] = bool(ints[SUCCESS])
        return info

    def infos(self, ended: np.ndarray | None) -> dict[str, Any]:
        """Every episode's info, laid out as Gymnasium's ``SyncVectorEnv`` merges single infos:
        one array per key plus a ``_key`` bool mask of the episodes that have it.  Fields that
        never change (the config words, the all-true masks) are shared read-only arrays."""
        info = dict(self._constant_infos)
        viol = dict(self._constant_violation_masks)
        position = np.empty((self.n, 2), np.int64)
        counts = np.empty((len(VIOLATION_KINDS), self.n), np.int64)  # a row per kind
        optimal = np.empty(self.n, np.int64)
        success = np.empty(self.n, np.bool_)
        _gather_infos(self.ints, self.config.grid[1], position, counts, optimal, success)
        for k, kind in enumerate(VIOLATION_KINDS):
            viol[kind] = counts[k]
        info["action_mask"] = self.mask.view(np.int8).copy()
        info["position"] = position
        info["violations"] = viol
        info["optimal_length"] = optimal
        if ended is not None and ended.any():
            info["success"] = success & ended
            info["_success"] = ended.copy()
        return info

    @cached_property
    def _constant_infos(self) -> dict[str, np.ndarray]:
        n, cfg = self.n, self.config
        everyone = _read_only(np.ones(n, np.bool_))
        info = {
            "action_type": _read_only(np.full(n, cfg.action_type, object)),
            "scheme": _read_only(np.full(n, cfg.scheme, object)),
            "max_grid": _read_only(np.full(n, cfg.max_grid, np.int64)),
            "shape": _read_only(np.tile(np.array(cfg.grid, np.int64), (n, 1))),
        }
        for key in (*info, "action_mask", "position", "violations", "optimal_length"):
            info[f"_{key}"] = everyone
        return info

    @cached_property
    def _constant_violation_masks(self) -> dict[str, np.ndarray]:
        return {f"_{kind}": self._constant_infos["_violations"] for kind in VIOLATION_KINDS}

    # ------------------------------------------------------------------ views for users / renderers
    def maze(self, i: int) -> Maze:
        return Maze(self.conns[i])

    def cell(self, i: int, column: int) -> Coord:
        return divmod(int(self.ints[i, column]), self.config.grid[1])

    def origin(self, i: int) -> Coord:
        return self.cell(i, ORIGIN)

    def target(self, i: int) -> Coord:
        return self.cell(i, TARGET)

    def position(self, i: int) -> Coord:
        return self.cell(i, POS)

    def path_cells(self, i: int) -> list[Coord]:
        cols = self.config.grid[1]
        return [divmod(int(x), cols) for x in self.path[i, : self.ints[i, PATH_LEN]]]

    def frame_data(self, i: int) -> dict[str, Any]:
        """What the renderers draw: maze, origin, target, path, per-cell ``bad`` flags (the move
        into that cell broke a rule) and the violation counts."""
        return {
            "maze": self.maze(i),
            "origin": self.origin(i),
            "target": self.target(i),
            "path": self.path_cells(i),
            "bad": self.bad[i, : self.ints[i, PATH_LEN]].tolist(),
            "violations": self.violations(i),
        }

    def token_strings(self, i: int) -> list[str]:
        tokens = self.config.vocab.tokens
        return [tokens[t] for t in self.tokens[i, : self.ints[i, LENGTH]].tolist()]

    def violations(self, i: int) -> dict[str, int]:
        return dict(zip(VIOLATION_KINDS, self.ints[i, VIOL:].tolist(), strict=True))

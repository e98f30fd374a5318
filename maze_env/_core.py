"""The batched episode state behind every TokenMaze env, single and vector, and its numba kernels.

``Episodes`` holds ``n`` episodes of one ``Config`` in flat arrays.  Each episode owns a
SplitMix64 key stream (``streams``, started from a numpy Generator by ``seed``); ``reset`` draws
``KEYS_PER_RESET`` keys from it per new episode and makes maze, endpoints and prompt from them —
in one numba call (``_reset_fused``) for the built-in generators on a plain grid, else through
the batch APIs (``generate_batch``, ``sample_endpoints_batch``, ``solve_batch``,
``encode_batch``), which give the same episodes from the same keys.  So a batch of resets equals
the same resets done one at a time.  ``step`` advances every active episode in one numba call.
The single envs are ``Episodes`` of size 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from gymnasium import spaces

from maze_env._graph import is_open, solve_batch
from maze_env._jit import kernel
from maze_env._rng import KeyBlock, draw_stream_keys, stream_seed
from maze_env.config import ACTION_TYPES, EnvConfig
from maze_env.endpoints import (
    allowed_cells,
    sample_endpoints_batch,
    sample_pair,
)
from maze_env.generators import generate_batch, generate_into, kernel_plan
from maze_env.maze import Coord, Maze, Shape
from maze_env.moves import Move
from maze_env.rules import STEP_KINDS, VIOLATION_KINDS
from maze_env.tokens import (
    PATH_END,
    encode_batch,
    encode_into,
    special_ids,
)

KEYS_PER_RESET = 4  # per episode: maze (2: shape, offset), endpoints (1), edge shuffle (1)

# columns of the int state matrix (n, N_INT)
POS, PREV, PENDING, STEPS, PATH_LEN, LENGTH, ORIGIN, TARGET, OPTIMAL, SUCCESS = range(10)
VIOL = 10  # VIOL + kind index, one column per violation kind
N_INT = VIOL + len(VIOLATION_KINDS)
_JUMP, _WALL, _BACK, _REVISIT, _INVALID, _NO_END = range(len(VIOLATION_KINDS))
_MOVE_KINDS = _INVALID  # the kinds a move into a cell can break: jump, wall, backtrack, revisit
_STOP_MOVE = int(Move.STOP)  # a plain int constant for the kernels
_DR = np.array([-1, 1, 0, 0], np.int64)
_DC = np.array([0, 0, -1, 1], np.int64)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """An ``EnvConfig`` bound to an action type: what ``Episodes`` and the spaces read."""

    env: EnvConfig
    action_type: str

    def __post_init__(self):
        if self.action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {self.action_type!r}")

    def __getattr__(self, name: str):  # the EnvConfig's fields and answers
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def shape(self) -> Shape:
        return self.env.size

    @cached_property
    def max_steps(self) -> int:
        return self.env.steps_limit(self.action_type)

    @cached_property
    def max_len(self) -> int:
        return self.env.obs_length(self.action_type)

    @property
    def n_actions(self) -> int:
        return len(Move) if self.action_type == "move" else len(self.vocab)

    @property
    def token_dtype(self) -> type[np.unsignedinteger]:
        """The smallest unsigned int dtype that holds every token id (uint8 up to 256 tokens)."""
        return next(
            t for t in (np.uint8, np.uint16, np.uint32) if len(self.vocab) <= np.iinfo(t).max + 1
        )

    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                "tokens": spaces.Box(0, len(self.vocab) - 1, (self.max_len,), self.token_dtype),
                "length": spaces.Box(0, self.max_len, (1,), np.int64),
                "action_mask": spaces.MultiBinary(self.n_actions),
            }
        )

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_actions)


def make_config(action_type: str, config: EnvConfig | None = None, **kwargs) -> Config:
    """Bind ``config`` (or an ``EnvConfig`` built from ``kwargs``) to ``action_type``.  Env kwargs
    given beside ``config`` must agree with it (a registered id's kwargs arrive this way)."""
    if config is None:
        return Config(EnvConfig(**kwargs), action_type)
    if not isinstance(config, EnvConfig):
        raise TypeError(f"config must be a maze_env.EnvConfig, got {config!r}")
    if kwargs:
        merged = config.replace(**kwargs)
        clash = {k: v for k, v in kwargs.items() if getattr(merged, k) != getattr(config, k)}
        if clash:
            raise ValueError(
                f"env kwargs {clash} disagree with config= ("
                + ", ".join(f"{k}={getattr(config, k)!r}" for k in clash)
                + "); pass one or the other"
            )
    return Config(config, action_type)


def check_render_mode(render_mode: str | None, modes: list[str]) -> None:
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {modes}, got {render_mode!r}")


# --------------------------------------------------------------------------- kernels


@kernel(inline="always")
def _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams):
    """Legal actions of episode i: an open connection to an unvisited cell; stop at the target
    (with no half-emitted coordinate) or when nothing else is legal."""
    move_env, coords, stop = iparams[0] == 1, iparams[1] == 1, iparams[2]
    conn, cols = conns[i], conns.shape[3]
    for a in range(mask.shape[1]):
        mask[i, a] = False
    pos, pending = ints[i, POS], ints[i, PENDING]
    r, c = pos // cols, pos % cols
    legal = False
    for d in range(4):
        if not is_open(conn, r, c, d):
            continue
        nr, nc = r + _DR[d], c + _DC[d]
        cell = nr * cols + nc
        if visited[i, cell]:
            continue
        if move_env:
            mask[i, d] = True
        elif coords:
            if pending < 0:
                mask[i, number_ids[nr]] = True
            elif pending == nr:
                mask[i, number_ids[nc]] = True
            else:
                continue
        else:
            mask[i, cell_ids[cell, 0]] = True
        legal = True
    if not legal or (pos == ints[i, TARGET] and pending < 0):
        mask[i, _STOP_MOVE if move_env else stop] = True


@kernel(inline="always")
def _count(ints, i, kinds):
    """Episode i's violations of the first ``kinds`` kinds, summed."""
    total = 0
    for k in range(kinds):
        total += ints[i, VIOL + k]
    return total


@kernel(inline="always")
def _visit(i, cell, conns, ints, visited, path, bad):
    """Move episode i to ``cell``, recording every rule the move breaks."""
    cols = conns.shape[3]
    pos = ints[i, POS]
    r, c, r2, c2 = pos // cols, pos % cols, cell // cols, cell % cols
    dist = abs(r - r2) + abs(c - c2)
    before = _count(ints, i, _MOVE_KINDS)
    if dist > 1:
        ints[i, VIOL + _JUMP] += 1
    elif dist == 1:
        d = 0 if r2 < r else (1 if r2 > r else (2 if c2 < c else 3))
        if not is_open(conns[i], r, c, d):
            ints[i, VIOL + _WALL] += 1
    if cell == ints[i, PREV]:
        ints[i, VIOL + _BACK] += 1
    elif visited[i, cell]:
        ints[i, VIOL + _REVISIT] += 1
    n = ints[i, PATH_LEN]
    if n < path.shape[1]:  # only a misuse (stepping a finished episode) could overflow
        path[i, n] = cell
        bad[i, n] = _count(ints, i, _MOVE_KINDS) > before
        ints[i, PATH_LEN] = n + 1
    ints[i, PREV] = pos
    ints[i, POS] = cell
    visited[i, cell] = True


@kernel(inline="always")
def _emit(i, token, ints, tokens):
    n = ints[i, LENGTH]
    if n < tokens.shape[1]:  # only a misuse (stepping a finished episode) could overflow
        tokens[i, n] = token
        ints[i, LENGTH] = n + 1


@kernel(inline="always")
def _start(i, origin, target, moves, prompt_len, conns, ints, visited, path, bad, tokens, mask,
           cell_ids, number_ids, iparams, outcomes):  # fmt: skip
    """Start episode i in ``conns[i]`` whose prompt is already in ``tokens[i]``: state at the
    origin, the origin's token(s) emitted, legal actions set, its reward / terminated /
    truncated (``outcomes``) zeroed."""
    rewards, terminated, truncated = outcomes
    rewards[i], terminated[i], truncated[i] = 0.0, False, False
    ints[i, :] = 0
    ints[i, POS] = origin
    ints[i, ORIGIN] = origin
    ints[i, TARGET] = target
    ints[i, PREV] = -1
    ints[i, PENDING] = -1
    ints[i, OPTIMAL] = moves
    visited[i, :] = False
    visited[i, origin] = True
    path[i, 0] = origin  # path / bad entries from PATH_LEN on are stale: readers stop there
    bad[i, 0] = False
    ints[i, PATH_LEN] = 1
    ints[i, LENGTH] = prompt_len
    for q in range(cell_ids.shape[1]):
        _emit(i, cell_ids[origin, q], ints, tokens)
    _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams)


@kernel
def _reset(idx, new_conns, origins, targets, optimal, prompts, prompt_lens, conns, ints, visited,
           path, bad, tokens, mask, cell_ids, number_ids, iparams, outcomes):  # fmt: skip
    """Start episodes ``idx`` from mazes, endpoints and prompts made by the batch APIs."""
    for j in range(idx.shape[0]):
        i = idx[j]
        conns[i] = new_conns[j]
        tokens[i, :] = prompts[j]
        _start(i, origins[j], targets[j], optimal[j] - 1, prompt_lens[j], conns, ints, visited,
               path, bad, tokens, mask, cell_ids, number_ids, iparams, outcomes)  # fmt: skip


@kernel
def _reset_fused(idx, streams, kind, gparams, o_region, t_region, o_dead, t_dead, min_distance,
                 max_distance, special, pad, conns, ints, visited, path, bad, tokens, mask,
                 cell_ids, number_ids, iparams, outcomes) -> int:  # fmt: skip
    """``_reset`` with the maze, endpoints, optimal length and prompt made in the same loop.

    The same kernels as ``generate_batch`` (``generate_into``), ``sample_endpoints_batch``
    (``allowed_cells``, ``sample_pair``) and ``encode_batch`` (``encode_into``) on the same keys
    (the next ``KEYS_PER_RESET`` of episode i's stream ``streams[i]``: maze, canvas offset
    (unused), endpoints, edge order), so the result equals the batch-API path.  Returns -1, or
    the index j whose maze has no valid endpoint pair.
    """
    rows, cols = conns.shape[2], conns.shape[3]
    cells = rows * cols
    o_ok, t_ok = np.empty(cells, np.bool_), np.empty(cells, np.bool_)
    dist, queue = np.empty(cells, np.int32), np.empty(cells, np.int32)
    order, valid = np.empty(cells, np.int64), np.empty(cells, np.int64)
    ea, eb = np.empty(2 * cells, np.int64), np.empty(2 * cells, np.int64)
    no_path = np.empty(0, np.int64)
    state = np.empty(1, np.uint64)
    keys = np.empty((1, KEYS_PER_RESET), np.uint64)
    for j in range(idx.shape[0]):
        i = idx[j]
        draw_stream_keys(streams, idx[j : j + 1], keys)
        conns[i] = False
        state[0] = keys[0, 0]
        generate_into(kind, conns[i], state, gparams)
        allowed_cells(conns[i], o_region, t_region, o_dead, t_dead, o_ok, t_ok)
        state[0] = keys[0, 2]
        origin, target = sample_pair(
            conns[i], state, o_ok, t_ok, min_distance, max_distance, dist, queue, order, valid
        )
        if origin < 0:
            return j
        tokens[i, :] = pad
        state[0] = keys[0, 3]
        length = encode_into(conns[i], state, cell_ids, special, origin, target, no_path, 0,
                             False, tokens[i], ea, eb)  # fmt: skip
        _start(i, origin, target, dist[target], length, conns, ints, visited, path, bad, tokens,
               mask, cell_ids, number_ids, iparams, outcomes)  # fmt: skip
    return -1


@kernel
def _step(actions, active, conns, ints, visited, path, bad, tokens, mask, cell_ids, number_ids,
          token_table, iparams, fparams, rewards, terminated, truncated):  # fmt: skip
    """Advance every active episode by one action; write reward / terminated / truncated.

    Returns -1, or (having changed nothing) the first active episode whose action is not in
    [0, n_actions)."""
    for i in range(actions.shape[0]):
        if active[i] and not 0 <= actions[i] < mask.shape[1]:
            return i
    move_env, coords, stop, max_steps, terminate = (
        iparams[0] == 1, iparams[1] == 1, iparams[2], iparams[3], iparams[4] == 1,
    )  # fmt: skip
    success_reward, step_cost, penalty = fparams[0], fparams[1], fparams[2]
    rows, cols = conns.shape[2], conns.shape[3]
    for i in range(actions.shape[0]):
        if not active[i]:
            continue
        a = actions[i]
        before = _count(ints, i, STEP_KINDS)
        ended = stopped = False
        if (move_env and a == _STOP_MOVE) or (not move_env and a == stop):
            _emit(i, stop, ints, tokens)
            stopped = True
            if ints[i, PENDING] >= 0:  # a half-emitted coordinate never completed
                ints[i, VIOL + _INVALID] += 1
                ints[i, PENDING] = -1
            ended = True
        elif move_env:
            pos = ints[i, POS]
            nr, nc = pos // cols + _DR[a], pos % cols + _DC[a]
            if 0 <= nr < rows and 0 <= nc < cols:
                cell = nr * cols + nc
                for q in range(cell_ids.shape[1]):
                    _emit(i, cell_ids[cell, q], ints, tokens)
                _visit(i, cell, conns, ints, visited, path, bad)
            else:  # the grid border is a wall
                ints[i, VIOL + _WALL] += 1
        else:
            _emit(i, a, ints, tokens)
            if coords:
                num, pending = token_table[a, 1], ints[i, PENDING]
                if num < 0:
                    ints[i, VIOL + _INVALID] += 1
                    ints[i, PENDING] = -1
                elif pending < 0:
                    ints[i, PENDING] = num
                else:
                    ints[i, PENDING] = -1
                    if pending < rows and num < cols:
                        _visit(i, pending * cols + num, conns, ints, visited, path, bad)
                    else:
                        ints[i, VIOL + _INVALID] += 1
            else:
                cell = token_table[a, 0]
                if cell < 0:
                    ints[i, VIOL + _INVALID] += 1
                else:
                    _visit(i, cell, conns, ints, visited, path, bad)
        ints[i, STEPS] += 1
        total = _count(ints, i, STEP_KINDS)
        if terminate and total > before:
            ended = True
        success = ended and total == 0 and ints[i, POS] == ints[i, TARGET] and ints[i, PENDING] < 0
        ints[i, SUCCESS] = success
        rewards[i] = -step_cost - penalty * (total - before) + (success_reward if success else 0.0)
        terminated[i] = ended
        truncated[i] = (not ended) and ints[i, STEPS] >= max_steps
        if (ended or truncated[i]) and not stopped:
            ints[i, VIOL + _NO_END] = 1
        _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams)
    return -1


@kernel
def _gather_infos(ints, cols, position, counts, optimal, success):
    """The per-episode info arrays in one pass: (row, col), violations by kind, optimal length,
    success flag."""
    for i in range(ints.shape[0]):
        success[i] = ints[i, SUCCESS] != 0
        position[i, 0], position[i, 1] = ints[i, POS] // cols, ints[i, POS] % cols
        for k in range(counts.shape[0]):
            counts[k, i] = ints[i, VIOL + k]
        optimal[i] = ints[i, OPTIMAL]


# --------------------------------------------------------------------------- state


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
        table[vocab.coord_ids[:rows, :cols].ravel(), 0] = np.arange(rows * cols)
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
            idx, self.streams, *self._fused, self.conns, self.ints, self.visited, self.path,
            self.bad, self.tokens, self.mask, self.cell_ids, self.number_ids, self.iparams,
            self._outcomes,
        )  # fmt: skip
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
        _reset(
            idx, conns, o, t, optimal, prompts, lengths, self.conns, self.ints, self.visited,
            self.path, self.bad, self.tokens, self.mask, self.cell_ids, self.number_ids,
            self.iparams, self._outcomes,
        )  # fmt: skip

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
        return _step(
            actions, active, self.conns, self.ints, self.visited, self.path, self.bad,
            self.tokens, self.mask, self.cell_ids, self.number_ids, self.token_table,
            self.iparams, self.fparams, self.rewards, self.terminated, self.truncated,
        )  # fmt: skip

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

    def path_cells(self, i: int) -> list[Coord]:
        cols = self.config.grid[1]
        return [divmod(int(x), cols) for x in self.path[i, : self.ints[i, PATH_LEN]]]

    def frame_data(self, i: int) -> dict[str, Any]:
        """What the renderers draw: maze, origin, target, path, per-cell ``bad`` flags (the move
        into that cell broke a rule) and the violation counts."""
        return {
            "maze": self.maze(i),
            "origin": self.cell(i, ORIGIN),
            "target": self.cell(i, TARGET),
            "path": self.path_cells(i),
            "bad": self.bad[i, : self.ints[i, PATH_LEN]].tolist(),
            "violations": self.violations(i),
        }

    def token_strings(self, i: int) -> list[str]:
        tokens = self.config.vocab.tokens
        return [tokens[t] for t in self.tokens[i, : self.ints[i, LENGTH]].tolist()]

    def violations(self, i: int) -> dict[str, int]:
        return dict(zip(VIOLATION_KINDS, self.ints[i, VIOL:].tolist(), strict=True))

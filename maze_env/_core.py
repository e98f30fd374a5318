"""The batched episode state behind every TokenMaze env, single and vector, and its numba kernels.

``Episodes`` holds ``n`` episodes of one ``Config`` in flat arrays; ``reset`` draws mazes,
endpoints and prompts for any subset through the batch APIs (``generate_batch``,
``sample_endpoints_batch``, ``solve_batch``, ``encode_batch``) with one Generator per episode, so
a batch of resets equals the same resets done one at a time.  ``step`` advances every active
episode in one numba call.  The single envs are ``Episodes`` of size 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numba as nb
import numpy as np
from gymnasium import spaces

from maze_env._graph import is_open, solve_batch
from maze_env._rng import KeyBlock, PerItem, draw_keys
from maze_env.endpoints import EndpointSpec, sample_endpoints_batch
from maze_env.generators import generate_batch
from maze_env.maze import Coord, Maze, Shape, normalize_shape
from maze_env.tokens import PATH_END, SCHEMES, Vocabulary, encode_batch, vocabulary

KEYS_PER_RESET = 4  # per episode: maze (2: shape, offset), endpoints (1), edge shuffle (1)
VIOLATION_KINDS = ("non_adjacent_jump", "wall_crossing", "backtrack", "revisit", "invalid_token")
ACTION_TYPES = ("token", "move")
INVALID_ACTIONS = ("record", "terminate")
MOVE_NAMES = ("north", "south", "west", "east", "stop")

# columns of the int state matrix (n, N_INT)
POS, PREV, PENDING, STEPS, PATH_LEN, LENGTH, ORIGIN, TARGET, OPTIMAL, SUCCESS = range(10)
VIOL = 10  # VIOL + kind index, one column per violation kind
N_INT = VIOL + len(VIOLATION_KINDS)
_JUMP, _WALL, _BACK, _REVISIT, _INVALID = range(5)
_DR = np.array([-1, 1, 0, 0], np.int64)
_DC = np.array([0, 0, -1, 1], np.int64)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Config:
    """A validated env configuration (build it with ``make_config``)."""

    action_type: str
    shape: Shape
    generator: str
    generator_kwargs: dict[str, Any]
    endpoints: EndpointSpec
    scheme: str
    max_grid: int
    canvas: Shape | None
    offset: Any
    max_steps: int
    success_reward: float
    step_cost: float
    violation_penalty: float
    invalid_action: str
    vocab: Vocabulary = field(repr=False, compare=False)

    @property
    def grid(self) -> Shape:
        """The lattice the maze lives in: the canvas if any, else the maze shape."""
        return self.canvas or self.shape

    @property
    def tokens_per_cell(self) -> int:
        return 2 if self.scheme == "coords" else 1

    @property
    def n_actions(self) -> int:
        return len(MOVE_NAMES) if self.action_type == "move" else len(self.vocab)

    @property
    def max_len(self) -> int:
        """Observation width: the longest prompt for this grid, the origin, then every step."""
        rows, cols = self.grid
        k = self.tokens_per_cell
        max_edges = rows * (cols - 1) + cols * (rows - 1)
        prompt = 2 + max_edges * (2 * k + 2) + 2 * (k + 2) + 1
        per_step = k if self.action_type == "move" else 1
        return prompt + k + self.max_steps * per_step

    def observation_space(self) -> spaces.Dict:
        return spaces.Dict(
            {
                "tokens": spaces.Box(0, len(self.vocab) - 1, (self.max_len,), np.int64),
                "length": spaces.Box(0, self.max_len, (1,), np.int64),
                "action_mask": spaces.MultiBinary(self.n_actions),
            }
        )

    def action_space(self) -> spaces.Discrete:
        return spaces.Discrete(self.n_actions)


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _endpoint_spec(endpoints) -> EndpointSpec:
    if endpoints is None:
        return EndpointSpec()
    if isinstance(endpoints, EndpointSpec):
        return endpoints
    if isinstance(endpoints, dict):
        try:
            return EndpointSpec(**endpoints)
        except TypeError as err:
            raise TypeError(f"endpoints: {err}") from None
        except ValueError as err:
            raise ValueError(f"endpoints: {err}") from None
    raise TypeError(f"endpoints must be None, an EndpointSpec or a dict, got {endpoints!r}")


def make_config(
    action_type: str,
    size=6,
    generator: str = "rdfs",
    generator_kwargs: dict | None = None,
    endpoints=None,
    scheme: str = "aotp",
    max_grid: int | None = None,
    canvas=None,
    offset=None,
    max_steps: int | None = None,
    success_reward: float = 1.0,
    step_cost: float = 0.01,
    violation_penalty: float = 0.1,
    invalid_action: str = "record",
) -> Config:
    """Validate the env kwargs; a bad value raises an error that names its kwarg."""
    if action_type not in ACTION_TYPES:
        raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
    shape = normalize_shape(size, "size")
    canvas = None if canvas is None else normalize_shape(canvas, "canvas")
    if generator_kwargs is not None and not isinstance(generator_kwargs, dict):
        raise TypeError(f"generator_kwargs must be a dict or None, got {generator_kwargs!r}")
    generator_kwargs = dict(generator_kwargs or {})
    if not isinstance(generator, str):
        raise TypeError(f"generator must be a generator name (str), got {generator!r}")
    if isinstance(offset, list):
        offset = tuple(offset)
    try:  # one throw-away maze validates generator, generator_kwargs, canvas and offset
        generate_batch(generator, shape, 1, 0, canvas=canvas, offset=offset, **generator_kwargs)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"generator={generator!r} / generator_kwargs / canvas / offset: {err}"
        ) from None
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    grid = canvas or shape
    if max_grid is None:
        max_grid = max(grid)
    if (
        isinstance(max_grid, bool)
        or not isinstance(max_grid, (int, np.integer))
        or max_grid < max(grid)
    ):
        raise ValueError(
            f"max_grid must be an int >= {max(grid)} (the grid side), got {max_grid!r}"
        )
    per_move = 2 if (scheme == "coords" and action_type == "token") else 1
    if max_steps is None:
        max_steps = 2 * per_move * shape[0] * shape[1]
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1 or None, got {max_steps!r}")
    if invalid_action not in INVALID_ACTIONS:
        raise ValueError(f"invalid_action must be one of {INVALID_ACTIONS}, got {invalid_action!r}")
    return Config(
        action_type=action_type,
        shape=shape,
        generator=generator,
        generator_kwargs=generator_kwargs,
        endpoints=_endpoint_spec(endpoints),
        scheme=scheme,
        max_grid=int(max_grid),
        canvas=canvas,
        offset=offset,
        max_steps=int(max_steps),
        success_reward=_number("success_reward", success_reward),
        step_cost=_number("step_cost", step_cost),
        violation_penalty=_number("violation_penalty", violation_penalty),
        invalid_action=invalid_action,
        vocab=vocabulary(int(max_grid)),
    )


def check_render_mode(render_mode: str | None, modes: list[str]) -> None:
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {modes}, got {render_mode!r}")


# --------------------------------------------------------------------------- kernels


@nb.njit(cache=True)
def _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams):
    """Legal actions of episode i: an open connection to an unvisited cell; stop at the target
    (with no half-emitted coordinate) or when nothing else is legal."""
    move_env, coords, stop = iparams[0] == 1, iparams[1] == 1, iparams[2]
    cols = conns.shape[3]
    mask[i, :] = False
    pos, pending = ints[i, POS], ints[i, PENDING]
    r, c = pos // cols, pos % cols
    legal = False
    for d in range(4):
        if not is_open(conns[i], r, c, d):
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
        mask[i, 4 if move_env else stop] = True


@nb.njit(cache=True)
def _visit(i, cell, conns, ints, visited, path, bad):
    """Move episode i to ``cell``, recording every rule the move breaks."""
    cols = conns.shape[3]
    pos = ints[i, POS]
    r, c, r2, c2 = pos // cols, pos % cols, cell // cols, cell % cols
    dist = abs(r - r2) + abs(c - c2)
    before = ints[i, VIOL : VIOL + 4].sum()
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
        bad[i, n] = ints[i, VIOL : VIOL + 4].sum() > before
        ints[i, PATH_LEN] = n + 1
    ints[i, PREV] = pos
    ints[i, POS] = cell
    visited[i, cell] = True


@nb.njit(cache=True)
def _emit(i, token, ints, tokens):
    n = ints[i, LENGTH]
    if n < tokens.shape[1]:  # only a misuse (stepping a finished episode) could overflow
        tokens[i, n] = token
        ints[i, LENGTH] = n + 1


@nb.njit(cache=True)
def _reset(idx, new_conns, origins, targets, optimal, prompts, prompt_lens, conns, ints, visited,
           path, bad, tokens, mask, cell_ids, number_ids, iparams):  # fmt: skip
    for j in range(idx.shape[0]):
        i = idx[j]
        conns[i] = new_conns[j]
        ints[i, :] = 0
        ints[i, POS] = origins[j]
        ints[i, ORIGIN] = origins[j]
        ints[i, TARGET] = targets[j]
        ints[i, PREV] = -1
        ints[i, PENDING] = -1
        ints[i, OPTIMAL] = optimal[j] - 1
        visited[i, :] = False
        visited[i, origins[j]] = True
        path[i, :] = -1
        path[i, 0] = origins[j]
        bad[i, :] = False
        ints[i, PATH_LEN] = 1
        tokens[i, :] = prompts[j]
        ints[i, LENGTH] = prompt_lens[j]
        for q in range(cell_ids.shape[1]):
            _emit(i, cell_ids[origins[j], q], ints, tokens)
        _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams)


@nb.njit(cache=True)
def _step(actions, active, conns, ints, visited, path, bad, tokens, mask, cell_ids, number_ids,
          token_table, iparams, fparams, rewards, terminated, truncated):  # fmt: skip
    """Advance every active episode by one action; write reward / terminated / truncated."""
    move_env, coords, stop, max_steps, terminate = (
        iparams[0] == 1, iparams[1] == 1, iparams[2], iparams[3], iparams[4] == 1,
    )  # fmt: skip
    success_reward, step_cost, penalty = fparams[0], fparams[1], fparams[2]
    rows, cols = conns.shape[2], conns.shape[3]
    for i in range(actions.shape[0]):
        if not active[i]:
            continue
        a = actions[i]
        before = ints[i, VIOL : VIOL + 5].sum()
        ended = False
        if (move_env and a == 4) or (not move_env and a == stop):
            _emit(i, stop, ints, tokens)
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
        total = ints[i, VIOL : VIOL + 5].sum()
        if terminate and total > before:
            ended = True
        success = ended and total == 0 and ints[i, POS] == ints[i, TARGET] and ints[i, PENDING] < 0
        ints[i, SUCCESS] = success
        rewards[i] = -step_cost - penalty * (total - before) + (success_reward if success else 0.0)
        terminated[i] = ended
        truncated[i] = (not ended) and ints[i, STEPS] >= max_steps
        _update_mask(i, conns, ints, visited, cell_ids, number_ids, mask, iparams)


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
        self.path = np.full((n, config.max_steps + 1), -1, np.int64)
        self.bad = np.zeros((n, config.max_steps + 1), np.bool_)
        self.tokens = np.full((n, config.max_len), vocab.pad_id, np.int64)
        self.mask = np.zeros((n, config.n_actions), np.bool_)
        self.rewards = np.zeros(n, np.float64)
        self.terminated = np.zeros(n, np.bool_)
        self.truncated = np.zeros(n, np.bool_)

    def reset(self, idx: np.ndarray, generators: list[np.random.Generator]) -> None:
        """Start new episodes for ``idx``; episode ``idx[j]`` draws from ``generators[j]``."""
        cfg = self.config
        m = len(idx)
        seeds = KeyBlock(draw_keys(PerItem(generators), (m, KEYS_PER_RESET)))
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
            np.asarray(idx, np.int64), conns, o, t, optimal, prompts, lengths, self.conns,
            self.ints, self.visited, self.path, self.bad, self.tokens, self.mask, self.cell_ids,
            self.number_ids, self.iparams,
        )  # fmt: skip

    def step(self, actions: np.ndarray, active: np.ndarray) -> None:
        """Advance the ``active`` episodes; results land in rewards / terminated / truncated."""
        _step(
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
            "action_mask": self.mask[i].copy(),
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
        cols = self.config.grid[1]
        info = dict(self._constant_infos)
        viol = dict(self._constant_violation_masks)
        for k, kind in enumerate(VIOLATION_KINDS):
            viol[kind] = self.ints[:, VIOL + k].copy()
        pos = self.ints[:, POS]
        info["action_mask"] = self.mask.copy()
        info["position"] = np.stack([pos // cols, pos % cols], 1)
        info["violations"] = viol
        info["optimal_length"] = self.ints[:, OPTIMAL].copy()
        if ended is not None and ended.any():
            info["success"] = self.ints[:, SUCCESS].astype(np.bool_) & ended
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

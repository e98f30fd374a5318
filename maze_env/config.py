"""``EnvConfig``: the one public, validated configuration of a TokenMaze env.

Both envs (single and vector, token and move actions) take one (``config=``) or its fields as
kwargs; benchmark conditions and the transformer's training data are built from it.  It
validates itself once, at construction, with errors that name the field, and round-trips
through plain dicts, JSON and TOML::

    cfg = maze_env.EnvConfig(size=8, generator="wilson")
    env = gym.make("TokenMaze-v0", config=cfg)
    assert maze_env.EnvConfig.from_toml(cfg.to_toml()) == cfg
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from maze_env.endpoints import EndpointSpec
from maze_env.generators import GENERATORS, generate_batch
from maze_env.maze import Shape, is_int, normalize_shape
from maze_env.tokens import SCHEMES, Vocabulary, tokens_per_cell, vocabulary

ACTION_TYPES = ("token", "move")
INVALID_ACTIONS = ("record", "terminate")
MAX_STEPS = 2**20  # above the default for the largest grid (2 x 2 x 255 x 255 = 260,100)


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


def _plain(value):
    """A JSON/TOML-ready copy: tuples and arrays to lists, numpy scalars to Python."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class EnvConfig:
    """What an episode is: maze, endpoints, tokens, limits and rewards (see ``TokenMazeEnv``).

    ``size`` int or (rows, cols); ``generator`` a name in ``maze_env.GENERATORS`` with its
    ``generator_kwargs``; ``endpoints`` an ``EndpointSpec`` or a dict of its fields; ``scheme``
    one of ``SCHEMES``; ``max_grid`` the vocabulary's largest grid (None: the grid side);
    ``canvas`` / ``offset`` place the maze inside a larger grid; ``max_steps`` None: the env's
    default, ``2 × tokens per move × rows × cols``; rewards; ``invalid_action`` ``"record"`` or
    ``"terminate"``.  Fields are normalised (``size`` to a tuple, ``max_grid`` resolved).
    """

    size: Any = 6
    generator: str = "rdfs"
    generator_kwargs: dict = field(default_factory=dict)
    endpoints: Any = None
    scheme: str = "aotp"
    max_grid: int | None = None
    canvas: Any = None
    offset: Any = None
    max_steps: int | None = None
    success_reward: float = 1.0
    step_cost: float = 0.01
    violation_penalty: float = 0.1
    invalid_action: str = "record"

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        given_size, shape = self.size, normalize_shape(self.size, "size")
        put("size", shape)
        canvas = None if self.canvas is None else normalize_shape(self.canvas, "canvas")
        put("canvas", canvas)
        if not isinstance(self.generator, str):
            raise TypeError(f"generator must be a generator name (str), got {self.generator!r}")
        kwargs = self.generator_kwargs
        if kwargs is not None and not isinstance(kwargs, dict):
            raise TypeError(f"generator_kwargs must be a dict or None, got {kwargs!r}")
        put("generator_kwargs", dict(kwargs or {}))
        offset = tuple(self.offset) if isinstance(self.offset, list) else self.offset
        put("offset", offset)
        try:  # one throw-away maze validates generator, generator_kwargs, canvas and offset
            generate_batch(
                self.generator, shape, 1, 0, canvas=canvas, offset=offset, **self.generator_kwargs
            )
        except (TypeError, ValueError) as err:
            raise type(err)(
                f"generator={self.generator!r} / generator_kwargs / canvas / offset: {err}"
            ) from None
        put("endpoints", _endpoint_spec(self.endpoints))
        try:
            self.endpoints.region_masks(canvas or shape)
        except (TypeError, ValueError) as err:
            raise type(err)(f"endpoints: {err}") from None
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        side = max(canvas or shape)
        max_grid = side if self.max_grid is None else self.max_grid
        if not is_int(max_grid) or max_grid < side:
            raise ValueError(
                f"max_grid must be an int >= {side} (the grid side), got {self.max_grid!r}"
            )
        put("max_grid", int(max_grid))
        if self.max_steps is not None:
            if not is_int(self.max_steps) or not 1 <= self.max_steps <= MAX_STEPS:
                raise ValueError(
                    f"max_steps must be None or an int in [1, {MAX_STEPS}], got {self.max_steps!r}"
                )
            put("max_steps", int(self.max_steps))
        if shape == (1, 1):
            raise ValueError(
                f"size={given_size!r}: a 1x1 maze has one cell, and an episode needs an origin and "
                "a target joined by a path: use at least 2 cells, e.g. size=(1, 2)"
            )
        for name in ("success_reward", "step_cost", "violation_penalty"):
            put(name, _number(name, getattr(self, name)))
        if self.invalid_action not in INVALID_ACTIONS:
            raise ValueError(
                f"invalid_action must be one of {INVALID_ACTIONS}, got {self.invalid_action!r}"
            )

    # ------------------------------------------------------------------ what it answers
    @property
    def grid(self) -> Shape:
        """The lattice the tokens name: the canvas if any, else the maze shape."""
        return self.canvas or self.size

    @property
    def vocab(self) -> Vocabulary:
        return vocabulary(self.max_grid)

    @property
    def tokens_per_cell(self) -> int:
        return tokens_per_cell(self.scheme)

    def steps_limit(self, action_type: str = "token") -> int:
        """``max_steps``, or the default for ``action_type``: 2 × tokens per move × cells."""
        if action_type not in ACTION_TYPES:
            raise ValueError(f"action_type must be one of {ACTION_TYPES}, got {action_type!r}")
        if self.max_steps is not None:
            return self.max_steps
        per_move = self.tokens_per_cell if action_type == "token" else 1
        return 2 * per_move * self.size[0] * self.size[1]

    def longest_prompt(self) -> int:
        """Tokens in the longest prompt this config can make, through ``<PATH_START>``: the
        adjacency list names at most every lattice edge of the grid (an acyclic generator's
        maze, a tree or forest, at most cells - 1 open ones), then origin and target."""
        rows, cols = self.grid
        k = self.tokens_per_cell
        max_edges = rows * (cols - 1) + cols * (rows - 1)
        if GENERATORS[self.generator].acyclic and self.scheme != "walls":
            max_edges = min(max_edges, self.size[0] * self.size[1] - 1)
        return 2 + max_edges * (2 * k + 2) + 2 * (k + 2) + 1

    def obs_length(self, action_type: str = "token") -> int:
        """Observation width: the longest prompt this config can make, the origin, then every
        step."""
        per_step = self.tokens_per_cell if action_type == "move" else 1
        return (
            self.longest_prompt() + self.tokens_per_cell + self.steps_limit(action_type) * per_step
        )

    def cell_tokens(self) -> np.ndarray:
        """Per flat cell of ``grid``, the token ids that spell it: (cells, tokens_per_cell)."""
        return self.vocab.cell_tokens(self.scheme, self.grid)

    def replace(self, **changes) -> EnvConfig:
        """A copy with some fields changed (validated again).  A ``max_grid`` at its default
        (the grid side) follows a changed grid."""
        if "max_grid" not in changes and self.max_grid == max(self.grid):
            changes["max_grid"] = None
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ round trips
    def to_dict(self) -> dict:
        """Plain JSON/TOML types; None fields are left out (they mean "the default")."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "endpoints":
                value = _endpoint_fields(value)
            if value is not None:
                out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> EnvConfig:
        if not isinstance(data, dict):
            raise TypeError(f"an EnvConfig dict must be a dict, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TypeError(f"unknown EnvConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EnvConfig:
        return cls.from_dict(json.loads(text))

    def to_toml(self) -> str:
        """TOML text (top-level keys, then ``[generator_kwargs]`` / ``[endpoints]`` tables)."""
        data = self.to_dict()
        tables = {}
        for name in ("generator_kwargs", "endpoints"):
            table = data.pop(name, None)
            if table:
                tables[name] = table
        lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()]
        for name, table in tables.items():
            lines += ["", f"[{name}]", *(f"{k} = {_toml_value(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> EnvConfig:
        return cls.from_dict(tomllib.loads(text))


def _endpoint_fields(spec: EndpointSpec) -> dict:
    """The fields of ``spec`` that differ from their defaults (a region must be a string)."""
    out = {}
    for f in fields(EndpointSpec):
        value = getattr(spec, f.name)
        if isinstance(value, np.ndarray):
            raise TypeError(
                f"endpoints.{f.name}: an array region has no dict form; use a region string "
                "such as 'quadrant:ne' or 'rect:r0,c0,r1,c1'"
            )
        if value != f.default:
            out[f.name] = value
    return out


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")

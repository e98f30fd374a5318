"""Benchmark suites as data: TOML files (copy one, edit it, run it with ``--suite FILE``).

A suite file::

    name = "my-suite"                 # default: the file name
    description = "what it measures"
    episodes = 100                    # per condition (a condition may override)
    seed = 0                          # evaluation seed of each condition (may override)
    chunk = 50                        # episodes per cell (the unit of parallel work and resume)
    reference = "rdfs-6x6"            # the in-distribution condition the report compares the
                                      # others with (default: the first condition)
    agents = ["oracle", "random-fork", { name = "wall-follower", label = "right-hand",
              kwargs = { hand = "right" } },     # default agents (CLI --agents overrides)
              { name = "transformer", shipped_models = true }]  # one agent per shipped model
    include = ["size"]                # other suites (built-in names or paths) merged in

    [env]                             # TokenMaze-v0 kwargs shared by every condition
    size = 6
    generator = "rdfs"

    [[conditions]]
    name = "percolation-0.1"
    env = { generator = "rdfs_percolation", generator_kwargs = { p = 0.1 } }  # merged over [env]

``shipped_models = true`` (transformer only) expands into one agent per model that ships with
the package (``agents.transformer.shipped.shipped_models()``): ``label`` for the default model,
``label-<model>`` for the others, so a newly shipped model joins the suite without an edit.
Included conditions are named ``<suite>/<condition>``.  Every mistake raises ``SuiteError``
naming the file and the key.

Evaluation seeds: episode ``i`` of a condition resets the env with
``episode_seed(condition.seed, i)``, drawn from ``numpy.random.SeedSequence(condition.seed,
spawn_key=(EVAL_SPAWN_KEY, i))``.  Training streams seeded with a plain int (spawn key ``()``)
can never produce the same SeedSequence state, so evaluation and training *seeds* are disjoint
by construction; identical *mazes* can still occur by chance (small grids have few mazes), which
``training_overlap`` measures against a set of training maze hashes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

SUITES_DIR = Path(__file__).parent
EVAL_SPAWN_KEY = 0x4556414C  # "EVAL": the evaluation seed namespace
_SUITE_KEYS = ("name", "description", "episodes", "seed", "chunk", "agents", "include", "env",
               "conditions", "reference")  # fmt: skip
_CONDITION_KEYS = ("name", "episodes", "seed", "env")
_AGENT_KEYS = ("name", "label", "kwargs", "shipped_models")


class SuiteError(ValueError):
    """A bad suite file or suite name; the message names the file and the key."""


@dataclass(frozen=True)
class AgentSpec:
    """An agent to run: ``agents.make(name, **kwargs)``, reported under ``label``."""

    name: str
    label: str
    kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "kwargs": self.kwargs}


@dataclass(frozen=True)
class Condition:
    """One evaluation setting: TokenMaze-v0 kwargs, how many episodes, the evaluation seed."""

    name: str
    env: dict
    episodes: int
    seed: int

    def to_dict(self) -> dict:
        return {"name": self.name, "env": self.env, "episodes": self.episodes, "seed": self.seed}

    @cached_property
    def config(self):
        """The condition's ``maze_env.EnvConfig`` (``env`` with every default resolved)."""
        import maze_env

        return maze_env.EnvConfig.from_dict(self.env)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    conditions: tuple[Condition, ...]
    agents: tuple[AgentSpec, ...]
    chunk: int
    source: str
    reference: str = ""  # the in-distribution condition's name (load_suite: default the first)


def episode_seed(condition_seed: int, index: int) -> int:
    """The env reset seed of episode ``index`` in the evaluation namespace (see module doc)."""
    ss = np.random.SeedSequence(int(condition_seed), spawn_key=(EVAL_SPAWN_KEY, int(index)))
    return int(ss.generate_state(1, np.uint64)[0])


def available_suites() -> dict[str, str]:
    """Built-in suite names → descriptions."""
    out = {}
    for path in sorted(SUITES_DIR.glob("*.toml")):
        with open(path, "rb") as f:
            out[path.stem] = tomllib.load(f).get("description", "")
    return out


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SuiteError(f"suite file {str(path)!r} does not exist")
        return path
    builtin = SUITES_DIR / f"{name_or_path}.toml"
    if not builtin.is_file():
        known = ", ".join(available_suites())
        raise SuiteError(
            f"unknown suite {str(name_or_path)!r}; built-in suites: {known} (or a .toml path)"
        )
    return builtin


def _check_keys(table: dict, allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise SuiteError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _int(value: Any, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SuiteError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def check_env(env: dict, where: str) -> None:
    """Validate TokenMaze-v0 kwargs: the fields of ``maze_env.EnvConfig``, which checks them."""
    import maze_env

    try:
        maze_env.EnvConfig.from_dict(env)
    except (TypeError, ValueError) as err:
        raise SuiteError(f"{where}: {err}") from None


def _agents(value: Any, where: str) -> tuple[AgentSpec, ...]:
    if not isinstance(value, list):
        raise SuiteError(f"{where}.agents must be a list of names or tables, got {value!r}")
    out = []
    for i, item in enumerate(value):
        at = f"{where}.agents[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise SuiteError(f"{at} must be a name or a table with a 'name', got {item!r}")
        _check_keys(item, _AGENT_KEYS, at)
        kwargs = item.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise SuiteError(f"{at}.kwargs must be a table, got {kwargs!r}")
        label = str(item.get("label", item["name"]))
        expand = item.get("shipped_models", False)
        if not isinstance(expand, bool) or (expand and item["name"] != "transformer"):
            raise SuiteError(f"{at}.shipped_models must be a bool, for the 'transformer' only")
        if not expand:
            out.append(AgentSpec(item["name"], label, kwargs))
            continue
        from agents.transformer.shipped import DEFAULT, shipped_models

        for model in shipped_models():
            out.append(AgentSpec("transformer", label if model == DEFAULT else f"{label}-{model}",
                                 {**kwargs, "checkpoint": model}))  # fmt: skip
    labels = [a.label for a in out]
    if len(set(labels)) != len(labels):
        raise SuiteError(f"{where}.agents: labels must be unique, got {labels}")
    return tuple(out)


def load_suite(name_or_path: str | Path, _seen: tuple[Path, ...] = ()) -> Suite:
    """Load and validate a built-in suite by name, or a suite file by path."""
    path = _resolve(name_or_path).resolve()
    if path in _seen:
        raise SuiteError(f"{path}: include cycle through {[str(p) for p in _seen]}")
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise SuiteError(f"{where}: not valid TOML: {err}") from None
    _check_keys(data, _SUITE_KEYS, where)
    name = data.get("name", path.stem)
    episodes = _int(data.get("episodes", 100), f"{where}: episodes", 1)
    seed = _int(data.get("seed", 0), f"{where}: seed", 0)
    chunk = _int(data.get("chunk", 50), f"{where}: chunk", 1)
    base_env = data.get("env", {})
    if not isinstance(base_env, dict):
        raise SuiteError(f"{where}: env must be a table, got {base_env!r}")
    conditions: list[Condition] = []
    includes = data.get("include", [])
    if not isinstance(includes, list):
        raise SuiteError(f"{where}: include must be a list of suite names or paths")
    for inc in includes:
        base = path.parent if str(inc).endswith(".toml") else None
        sub = load_suite(base / inc if base else inc, (*_seen, path))
        conditions += [
            Condition(f"{sub.name}/{c.name}", c.env, c.episodes, c.seed) for c in sub.conditions
        ]
    raw = data.get("conditions", [])
    if not isinstance(raw, list):
        raise SuiteError(f"{where}: conditions must be an array of tables ([[conditions]])")
    for i, cond in enumerate(raw):
        at = f"{where}: conditions[{i}]"
        if not isinstance(cond, dict):
            raise SuiteError(f"{at} must be a table")
        if not isinstance(cond.get("name"), str) or not cond["name"]:
            raise SuiteError(f"{at}.name is required (a non-empty string)")
        at = f"{where}: conditions[{i}] ({cond['name']!r})"
        _check_keys(cond, _CONDITION_KEYS, at)
        env = {**base_env, **cond.get("env", {})}
        check_env(env, f"{at}.env")
        conditions.append(
            Condition(
                cond["name"],
                env,
                _int(cond.get("episodes", episodes), f"{at}.episodes", 1),
                _int(cond.get("seed", seed), f"{at}.seed", 0),
            )
        )
    if not conditions:
        raise SuiteError(f"{where}: the suite has no conditions")
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SuiteError(f"{where}: duplicate condition names {dup}")
    agents = _agents(data["agents"], where) if "agents" in data else ()
    reference = data.get("reference", conditions[0].name)
    if reference not in names:
        raise SuiteError(
            f"{where}: reference {reference!r} is not a condition (conditions: {', '.join(names)})"
        )
    return Suite(name, data.get("description", ""), tuple(conditions), agents, chunk, where,
                 reference)  # fmt: skip


def suite_mazes(condition: Condition) -> Iterable:
    """The mazes a condition evaluates on, in episode order (reset with the evaluation seeds)."""
    import gymnasium as gym

    import maze_env  # noqa: F401  (registers the envs)

    env = gym.make("TokenMaze-v0", **condition.env)
    try:
        for i in range(condition.episodes):
            env.reset(seed=episode_seed(condition.seed, i))
            yield env.unwrapped.maze
    finally:
        env.close()


def training_overlap(suite: Suite, training_hashes: Iterable[str]) -> dict[str, dict]:
    """Per condition: how many evaluation mazes have a ``Maze.canonical_hash`` in the training set.

    Returns ``{condition: {"episodes": n, "overlap": k, "share": k / n}}``.
    """
    train = set(training_hashes)
    out = {}
    for cond in suite.conditions:
        k = sum(m.canonical_hash() in train for m in suite_mazes(cond))
        out[cond.name] = {"episodes": cond.episodes, "overlap": k, "share": k / cond.episodes}
    return out

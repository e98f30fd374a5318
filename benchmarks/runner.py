"""Plan a suite into cells, roll agents out in them, store each finished cell atomically.

A cell is (suite, condition, agent, chunk of episode indices).  ``run_cell`` is a pure function
of the cell: it seeds each episode from the evaluation namespace (``episode_seed``) and the agent
from the cell, so results are identical for any executor and worker count.  Each finished cell
lands in ``DIR/cells/<key>.json`` (temp file + ``os.replace``); ``resume=True`` skips cells
already there, so a run killed at any moment (even ``kill -9``) loses nothing.

Rollouts use ``gym.make("TokenMaze-v0", **condition.env)`` (``TokenMazeMoves-v0`` for an agent
whose ``action_type`` is ``"move"``; with ``max_grid`` raised to an agent's own ``max_grid`` when
that is larger, see ``agent_env_kwargs``).  An agent with ``act_batch`` plays up to ``batch``
episodes in lockstep in the native vector env (``gym.make_vec``, autoreset disabled: finished
episodes keep their final observation and their actions are ignored; sub-env ``i`` seeded ``s``
plays exactly the single env's episode); others play episode by episode with ``reset``/``act``.
Per episode the runner records the maze, endpoints and the tokens emitted after the prompt;
metrics are computed from those alone.
An agent that cannot play a condition by design (``agents.Unsupported``: a grid beyond its
``max_grid``, decided before any episode) gives a cell with ``unsupported`` set and no episodes:
"n/a", not an error; any other exception is recorded as the cell's ``error``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents import Traits, Unsupported
from benchmarks.executor import Executor, ProcessExecutor
from benchmarks.suites import AgentSpec, Condition, Suite, episode_seed
from maze_env.files import write_text
from maze_env.judge import score

AGENT_SPAWN_KEY = 0x4147454E  # "AGEN": agent seeds, disjoint from the episode seeds
ENV_IDS = {"token": "TokenMaze-v0", "move": "TokenMazeMoves-v0"}


@dataclass(frozen=True)
class Cell:
    suite: str
    condition: Condition
    agent: AgentSpec
    chunk: int
    start: int  # first episode index (inclusive)
    stop: int  # last episode index (exclusive)
    batch: int = 64

    @property
    def key(self) -> str:
        """File-safe and unique: readable names plus a digest of everything that shapes results."""
        blob = json.dumps(
            [self.suite, self.condition.to_dict(), self.agent.to_dict(), self.start, self.stop],
            sort_keys=True,
        )
        digest = hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()
        return f"{_slug(self.condition.name)}__{_slug(self.agent.label)}__{self.chunk:04d}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")[:60] or "_"


def plan_cells(suite: Suite, agents: list[AgentSpec], batch: int = 64) -> list[Cell]:
    """Every (condition, agent, chunk) cell of a run, in a fixed order."""
    cells = []
    for cond in suite.conditions:
        for agent in agents:
            for chunk, start in enumerate(range(0, cond.episodes, suite.chunk)):
                stop = min(start + suite.chunk, cond.episodes)
                cells.append(Cell(suite.name, cond, agent, chunk, start, stop, batch))
    return cells


# --------------------------------------------------------------------------- rollouts


def make_agent(spec: AgentSpec, seed: int):
    """``agents.make(spec.name, **spec.kwargs)``, adding ``seed`` when the agent takes one."""
    import agents

    if "seed" in spec.kwargs:
        return agents.make(spec.name, **spec.kwargs)
    try:
        return agents.make(spec.name, seed=seed, **spec.kwargs)
    except TypeError as err:
        if "unknown kwarg 'seed'" not in str(err):
            raise
    return agents.make(spec.name, **spec.kwargs)


def _record(index: int, seed: int, episode: dict, n_prompt: int, truncated: bool, scheme: str):
    """One judged episode from its ``maze`` / ``origin`` / ``target`` / ``tokens`` (strings)."""
    maze, origin, target = episode["maze"], episode["origin"], episode["target"]
    origin, target = tuple(map(int, origin)), tuple(map(int, target))
    tokens = [str(t) for t in episode["tokens"][n_prompt:]]
    return {
        "index": index,
        "seed": seed,
        "shape": list(maze.shape),
        "maze": maze.to_hex(),
        "maze_hash": maze.canonical_hash(),
        "origin": list(origin),
        "target": list(target),
        "tokens": tokens,
        "truncated": bool(truncated),
        "metrics": score(maze, origin, target, tokens, scheme).to_dict(),
    }


def _rollout_batch(agent, make_vector_env, seeds: list[int], start: int, batch: int, scheme: str):
    """Waves of up to ``batch`` episodes in one native vector env without autoreset: each wave
    is played to its slowest episode (finished sub-envs keep their last observation and their
    actions are ignored)."""
    out = []
    for w in range(0, len(seeds), batch):
        wave = list(enumerate(seeds[w : w + batch], start + w))
        envs = make_vector_env(len(wave))
        try:
            obs, infos = envs.reset(seed=[s for _, s in wave])
            prompt = obs["length"][:, 0].tolist()
            live = np.ones(len(wave), np.bool_)
            recs: list[dict | None] = [None] * len(wave)
            while live.any():
                obs, _, term, trunc, infos = envs.step(agent.act_batch(obs, infos))
                for j in np.flatnonzero(live & (term | trunc)):
                    live[j] = False
                    index, seed = wave[j]
                    truncated = bool(trunc[j] and not term[j])
                    recs[j] = _record(index, seed, envs.episode(j), prompt[j], truncated, scheme)
        finally:
            envs.close()
        out += recs
    return out


def _rollout_each(agent, make_env, seeds: list[int], start: int, scheme: str) -> list[dict]:
    out = []
    env = make_env()
    try:
        for index, s in enumerate(seeds, start):
            obs, info = env.reset(seed=s)
            n_prompt = len(env.unwrapped.tokens)
            agent.reset(obs, info)
            term = trunc = False
            while not (term or trunc):
                obs, _, term, trunc, info = env.step(agent.act(obs, info))
            u = env.unwrapped
            episode = {"maze": u.maze, "origin": u.origin, "target": u.target, "tokens": u.tokens}
            out.append(_record(index, s, episode, n_prompt, trunc and not term, scheme))
    finally:
        env.close()
    return out


def agent_env_kwargs(env_kwargs: dict, agent_max_grid: int | None) -> dict:
    """The condition's env kwargs, in the agent's vocabulary when that covers a larger grid.

    An agent that reads and writes the token ids of a ``max_grid`` larger than the condition's
    (the transformer: its training canvas) plays the same mazes with ``max_grid`` raised to its
    own, so a move off the maze is a token the env records as a violation, not an id outside
    the env's action space.  An explicit ``max_grid`` in the condition is kept.  A grid larger
    than the agent's ``max_grid`` raises ``agents.Unsupported`` (its vocabulary cannot name it).
    """
    import maze_env

    if agent_max_grid is None:
        return env_kwargs
    config = maze_env.EnvConfig(**env_kwargs)  # the grid and the env's own default max_grid
    if max(config.grid) > agent_max_grid:
        rows, cols = config.grid
        raise Unsupported(
            f"the condition's {rows}x{cols} grid is beyond the agent's max_grid {agent_max_grid}: "
            f"its vocabulary names the cells of grids up to {agent_max_grid}x{agent_max_grid}",
            short=f"beyond max_grid {agent_max_grid}",
        )
    if "max_grid" in env_kwargs or agent_max_grid <= config.max_grid:
        return env_kwargs
    return {**env_kwargs, "max_grid": agent_max_grid}


def describe(traits: Traits) -> dict:
    """What the report says about an agent: ``kind`` (planner / walker / learned ...), the
    ``max_grid`` its vocabulary covers and the ``training`` distribution of a learned agent."""
    info = {"kind": traits.kind, "max_grid": traits.max_grid, "training": traits.training}
    return json.loads(json.dumps(info, default=str))


def run_cell(cell: Cell) -> dict:
    """Play a cell's episodes and judge them; agent errors are recorded, not raised."""
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    import maze_env  # noqa: F401  (registers the envs)

    t0 = time.perf_counter()
    cond = cell.condition
    seeds = [episode_seed(cond.seed, i) for i in range(cell.start, cell.stop)]
    ss = np.random.SeedSequence(cond.seed, spawn_key=(AGENT_SPAWN_KEY, cell.start))
    result = {
        "key": cell.key,
        "suite": cell.suite,
        "condition": cond.name,
        "agent": cell.agent.label,
        "chunk": cell.chunk,
        "start": cell.start,
        "stop": cell.stop,
    }
    try:
        agent = make_agent(cell.agent, int(ss.generate_state(1, np.uint64)[0]))
        traits = Traits.of(agent)
        result["agent_info"] = describe(traits)
        env_id = ENV_IDS[traits.action_type]
        scheme = cond.config.scheme
        env_kwargs = agent_env_kwargs(cond.env, traits.max_grid)

        def make_env():
            return gym.make(env_id, **env_kwargs)

        def make_vector_env(n: int):
            return gym.make_vec(
                env_id, num_envs=n, autoreset_mode=AutoresetMode.DISABLED, **env_kwargs
            )

        if traits.batched and cell.batch > 1:
            eps = _rollout_batch(agent, make_vector_env, seeds, cell.start, cell.batch, scheme)
        else:
            eps = _rollout_each(agent, make_env, seeds, cell.start, scheme)
        result.update(episodes=eps, error=None)
    except Unsupported as err:  # by design: "n/a" with the reason, not an error
        result.update(episodes=[], error=None, unsupported={"short": err.short, "reason": str(err)})
    except Exception as err:  # one agent failing on one condition must not sink the run
        result.update(
            episodes=[], error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()
        )
    result["elapsed_s"] = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------- storage and runs


def write_json_atomic(path: Path, data, indent: int | None = None) -> None:
    """``maze_env.files.write_text`` of ``json.dumps(data)`` (NaN allowed: undefined metrics)."""
    write_text(path, json.dumps(data, indent=indent, allow_nan=True))


def _complete(cell: Cell, data: dict) -> bool:
    """Whether a stored cell holds exactly the episodes its plan names (index and seed), or is
    a condition the agent cannot play ("n/a")."""
    if data.get("unsupported"):
        return True
    want = [(i, episode_seed(cell.condition.seed, i)) for i in range(cell.start, cell.stop)]
    episodes = data.get("episodes")
    if not isinstance(episodes, list):
        return False
    got = [(e.get("index"), e.get("seed")) for e in episodes if isinstance(e, dict)]
    return got == want


def load_done(cells_dir: Path, cells: list[Cell]) -> dict[str, dict]:
    """Finished, error-free cells of this plan already on disk: the right key, and one episode for
    each of the cell's seeds, in order (unreadable, partial or altered files are redone)."""
    done = {}
    for cell in cells:
        path = cells_dir / f"{cell.key}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("error") is None and data.get("key") == cell.key and _complete(cell, data):
            done[cell.key] = data
    return done


def run_cells(
    cells: list[Cell],
    out_dir: Path,
    executor: Executor | None = None,
    resume: bool = False,
    on_done: Callable[[Cell, dict], None] | None = None,
) -> list[dict]:
    """Run every cell not already finished; returns all cell results in plan order.

    Without ``resume``, a folder that already holds cells is refused (so results never mix).
    """
    cells_dir = Path(out_dir) / "cells"
    if cells_dir.is_dir() and any(cells_dir.glob("*.json")) and not resume:
        raise FileExistsError(
            f"{cells_dir} already holds cells of a run; pass --resume to continue it or choose "
            "another --out"
        )
    cells_dir.mkdir(parents=True, exist_ok=True)
    done = load_done(cells_dir, cells) if resume else {}
    for cell in cells:
        if cell.key in done and on_done:
            on_done(cell, done[cell.key])
    todo = [c for c in cells if c.key not in done]
    executor = executor or ProcessExecutor(1)
    for cell, result in executor.map_unordered(run_cell, todo):
        write_json_atomic(cells_dir / f"{cell.key}.json", result)
        done[cell.key] = result
        if on_done:
            on_done(cell, result)
    return [done[c.key] for c in cells]

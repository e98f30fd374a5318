"""TokenMazeEnv / TokenMazeMovesEnv: API checks over every registered id, determinism, pickling,
truncation, spec round trip, dynamics (violations, masks, success) on a hand-built maze."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from env_cases import CASE_IDS, CASES, REGISTERED, assert_equal, oracle_actions, random_actions
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import maze_env
from maze_env import EndpointSpec, Maze, TokenMazeEnv, TokenMazeMovesEnv, vocabulary

cases = pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)


def test_registered_ids():
    assert {"TokenMaze-v0", "TokenMazeMoves-v0", "TokenMaze-rdfs-8x8-v0"} <= set(REGISTERED)
    for env_id in REGISTERED:
        assert gym.spec(env_id).vector_entry_point.startswith("maze_env.vector:")
    u = gym.make("TokenMaze-v0").unwrapped
    assert isinstance(u, TokenMazeEnv)
    assert (u.config.shape, u.config.generator, u.config.scheme) == ((6, 6), "rdfs", "aotp")
    assert isinstance(gym.make("TokenMazeMoves-v0").unwrapped, TokenMazeMovesEnv)
    maze_env.register_envs()  # idempotent


def test_make_with_module_prefix_without_prior_import():
    code = (
        "import sys, gymnasium as gym; assert 'maze_env' not in sys.modules; "
        "env = gym.make('maze_env:TokenMaze-v0'); env.reset(seed=0); "
        "print(type(env.unwrapped).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "TokenMazeEnv"


@cases
def test_gymnasium_check_env_without_warnings(env_id, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in (None, "rgb_array", "ansi"):
            check_env(gym.make(env_id, render_mode=mode, **kwargs).unwrapped)


@cases
def test_sb3_check_env_without_warnings(env_id, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(gym.make(env_id, **kwargs))


def rollout(env, seed: int, steps: int = 50):
    """(obs, reward, terminated, truncated, info) for ``steps`` steps, resetting when done."""
    pick = random_actions(env, seed, steps)
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(pick(info))
        out.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs, info))
    return out


@cases
def test_same_seed_rollouts_identical_and_inside_space(env_id, kwargs):
    env_a, env_b = gym.make(env_id, **kwargs), gym.make(env_id, **kwargs)
    a, b = rollout(env_a, 7), rollout(env_b, 7)
    assert_equal(len(a), len(b))
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert_equal(list(x), list(y), f"transition {i}")
        obs = x[0]
        assert env_a.observation_space.contains(obs), f"transition {i} leaves the observation space"
        assert np.array_equal(obs["action_mask"].astype(bool), x[-1]["action_mask"])
    other = rollout(gym.make(env_id, **kwargs), 8)
    assert not np.array_equal(a[0][0]["tokens"], other[0][0]["tokens"])


@cases
def test_oracle_succeeds_with_documented_reward_and_tokens_parse_back(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=3)
    u = env.unwrapped
    start = maze_env.parse(u.tokens)
    assert (start.maze, start.origin, start.target, start.path) == (
        u.maze,
        u.origin,
        u.target,
        [u.origin],
    )
    actions = oracle_actions(env)
    total = 0.0
    for i, action in enumerate(actions):
        assert info["action_mask"][action], "every oracle action is legal"
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        assert terminated == (i == len(actions) - 1) and not truncated
    assert info["success"] and sum(info["violations"].values()) == 0
    assert math.isclose(total, 1.0 - 0.01 * len(actions))
    assert info["optimal_length"] == len(u.path) - 1
    ex = maze_env.parse(u.tokens)
    assert ex.complete and ex.path == u.path == u.maze.shortest_path(u.origin, u.target)
    vocab = vocabulary(info["max_grid"])
    assert vocab.decode(obs["tokens"][: obs["length"][0]]) == u.tokens


@cases
def test_pickle_round_trip_continues_identically(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    env.reset(seed=1)
    for action in oracle_actions(env)[:2]:
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped.tokens == env.unwrapped.tokens
    assert_equal(rollout(clone, 5, 20), rollout(env, 5, 20))


@cases
def test_truncation_exactly_at_max_steps(env_id, kwargs):
    env = gym.make(env_id, max_steps=7, **kwargs)
    env.reset(seed=0)
    never_stops = 0  # <PADDING> (an invalid token) or north (a wall or a move): never terminates
    for step in range(1, 8):
        _, _, terminated, truncated, info = env.step(never_stops)
        assert not terminated and truncated == (step == 7)
    assert info["success"] is False
    assert TokenMazeEnv().config.max_steps == 72 == TokenMazeMovesEnv().config.max_steps
    assert TokenMazeEnv(scheme="coords").config.max_steps == 144


@cases
def test_spec_json_round_trip(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    spec = EnvSpec.from_json(env.spec.to_json())
    assert (
        spec.id == env_id
        and json.loads(env.spec.to_json())["kwargs"] == json.loads(spec.to_json())["kwargs"]
    )
    assert_equal(rollout(gym.make(spec), 2, 15), rollout(env, 2, 15))


# --------------------------------------------------------------------------- hand-built maze

#   (0,0)-(0,1)-(0,2)
#     |
#   (1,0) (1,1)-(1,2)        origin (0,0), target (2,2)
#     |     |     |
#   (2,0)-(2,1) (2,2)
EDGES = [((0, 0), (0, 1)), ((0, 1), (0, 2)), ((0, 0), (1, 0)), ((1, 0), (2, 0)), ((2, 0), (2, 1)),
         ((2, 1), (1, 1)), ((1, 1), (1, 2)), ((1, 2), (2, 2))]  # fmt: skip
FIXED = Maze.from_edges(3, EDGES)
if "test-fixed" not in maze_env.GENERATORS:
    maze_env.register_generator("test-fixed", lambda shape, rng: FIXED.connections)


def fixed_env(cls=TokenMazeEnv, **kwargs):
    corner = np.zeros((3, 3), bool)
    spec = EndpointSpec(origin_region=corner.copy(), target_region=corner.copy())
    spec.origin_region[0, 0] = spec.target_region[2, 2] = True
    env = cls(size=3, generator="test-fixed", endpoints=spec, **kwargs)
    env.reset(seed=0)
    assert (env.maze, env.origin, env.target) == (FIXED, (0, 0), (2, 2))
    return env


def emit(env, *tokens: str):
    vocab = vocabulary(env.config.max_grid)
    for t in tokens:
        out = env.step(vocab.index[t])
    return out


ZERO = dict.fromkeys(maze_env.VIOLATION_KINDS, 0)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["(2,2)"], {"non_adjacent_jump": 1}),
        (["(0,1)", "(1,1)"], {"wall_crossing": 1}),
        (["(0,1)", "(0,0)"], {"backtrack": 1}),
        (["(0,0)"], {"revisit": 1}),
        (["(0,1)", "(0,2)", "(0,0)"], {"non_adjacent_jump": 1, "revisit": 1}),
        (["<ADJLIST_START>", "2", "(0,1)"], {"invalid_token": 2}),
    ],
)
def test_each_violation_kind_on_hand_built_maze(tokens, expected):
    env = fixed_env()
    _, _, terminated, _, info = emit(env, *tokens)
    assert info["violations"] == ZERO | expected and not terminated
    assert env.violations == info["violations"]
    if "invalid_token" not in expected:  # nothing is prevented: the path went there
        assert env.path == maze_env.parse(env.tokens).path
    _, _, terminated, _, info = emit(env, "<PATH_END>")
    assert terminated and info["success"] is False


def test_violation_penalty_and_terminate_mode():
    env = fixed_env(violation_penalty=0.5, step_cost=0.0)
    _, reward, *_ = emit(env, "(0,1)", "(1,1)")  # wall
    assert reward == -0.5
    env = fixed_env(invalid_action="terminate")
    _, reward, terminated, truncated, info = emit(env, "(2,2)")
    assert terminated and not truncated and info["success"] is False
    assert math.isclose(reward, -0.01 - 0.1)


def test_success_needs_a_clean_path_to_the_target():
    path = ["(1,0)", "(2,0)", "(2,1)", "(1,1)", "(1,2)", "(2,2)"]
    env = fixed_env()
    assert emit(env, *path, "<PATH_END>")[4]["success"] is True
    env = fixed_env()
    info = emit(env, "(0,1)", "(0,0)", *path, "<PATH_END>")[4]  # a backtrack on the way
    assert info["success"] is False and info["violations"]["backtrack"] == 1
    env = fixed_env()
    assert emit(env, "(1,0)", "<PATH_END>")[4]["success"] is False  # stopped short


def test_coords_scheme_half_emitted_coordinate():
    env = fixed_env(scheme="coords")
    vocab = vocabulary(3)
    n = vocab.number_ids
    assert set(np.flatnonzero(env.action_masks())) == {n[0], n[1]}  # rows of (0,1) and (1,0)
    _, _, _, _, info = emit(env, "1")  # half of (1,0)
    assert env.path == [(0, 0)] and set(np.flatnonzero(info["action_mask"])) == {n[0]}
    info = emit(env, "0")[4]
    assert env.path == [(0, 0), (1, 0)] and info["violations"] == ZERO
    _, _, terminated, _, info = emit(env, "2", "<PATH_END>")  # dangling row
    assert terminated and info["violations"] == ZERO | {"invalid_token": 1} and not info["success"]
    env = fixed_env(scheme="coords")
    assert emit(env, "2", "(0,1)")[4]["violations"] == ZERO | {"invalid_token": 1}
    assert maze_env.parse(fixed_env(scheme="coords").tokens).maze == FIXED


def test_moves_env_violations():
    env = fixed_env(TokenMazeMovesEnv)
    info = env.step(0)[4]  # north: off the grid
    assert info["violations"] == ZERO | {"wall_crossing": 1} and env.path == [(0, 0)]
    env.step(3)  # east to (0,1)
    info = env.step(1)[4]  # south into a wall, to (1,1)
    assert info["violations"]["wall_crossing"] == 2 and env.position == (1, 1)
    info = env.step(0)[4]  # back north: wall again and a backtrack
    assert info["violations"] == ZERO | {"wall_crossing": 3, "backtrack": 1}
    assert maze_env.parse(env.tokens).path == env.path


def legal_mask(env) -> set[int]:
    """Legal actions computed independently from the Maze and the path so far."""
    u = env.unwrapped
    vocab = vocabulary(u.config.max_grid)
    stop = 4 if u.config.action_type == "move" else vocab.special["<PATH_END>"]
    cells = [n for n in u.maze.neighbors(u.position) if n not in u.path]
    if u.config.action_type == "move":
        moves = {(-1, 0): 0, (1, 0): 1, (0, -1): 2, (0, 1): 3}
        legal = {moves[(r - u.position[0], c - u.position[1])] for r, c in cells}
    elif u.config.scheme == "coords":
        pending = None  # replay the emitted numbers: a row waits for its column
        for t in u.tokens[u.tokens.index("<PATH_START>") + 1 :]:
            pending = int(t) if t.isdigit() and pending is None else None
        if pending is None:
            legal = {int(vocab.number_ids[r]) for r, _ in cells}
        else:
            legal = {int(vocab.number_ids[c]) for r, c in cells if r == pending}
            return legal or {stop}
    else:
        legal = {vocab.index[f"({r},{c})"] for r, c in cells}
    if not legal or u.position == u.target:
        legal.add(stop)
    return legal


@cases
def test_action_mask_equals_legal_moves(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    pick = random_actions(env, 4, 60, legal_share=0.8)
    obs, info = env.reset(seed=4)
    for _ in range(60):
        mask = info["action_mask"]
        assert set(np.flatnonzero(mask)) == legal_mask(env)
        assert np.array_equal(mask, env.unwrapped.action_masks())
        assert np.array_equal(mask, obs["action_mask"]) and mask.dtype == obs["action_mask"].dtype
        assert mask[env.action_space.sample(mask=mask)]  # Gymnasium's sampler takes the mask
        obs, _, terminated, truncated, info = env.step(pick(info))
        if terminated or truncated:
            obs, info = env.reset()


@pytest.mark.parametrize(
    ("kwarg", "value"),
    [
        ("size", 0),
        ("size", "big"),
        ("generator", "nope"),
        ("generator_kwargs", {"bogus": 1}),
        ("generator_kwargs", [1]),
        ("endpoints", {"nope": 1}),
        ("endpoints", 3),
        ("scheme", "nope"),
        ("max_grid", 2),
        ("max_steps", 0),
        ("success_reward", "x"),
        ("step_cost", float("nan")),
        ("violation_penalty", None),
        ("invalid_action", "ignore"),
        ("render_mode", "video"),
        ("canvas", 2),
        ("offset", (1, 1)),
    ],
)
def test_invalid_kwargs_name_the_kwarg(kwarg, value):
    makers = (
        lambda: gym.make("TokenMaze-v0", **{kwarg: value}),
        lambda: TokenMazeMovesEnv(**{kwarg: value}),
    )
    for make in makers:
        with pytest.raises((ValueError, TypeError), match=kwarg), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gym.make warns about an unknown render_mode first
            make()


def test_invalid_action_value_raises():
    env = gym.make("TokenMaze-v0")
    env.reset(seed=0)
    for bad in (-1, env.action_space.n, 1.5):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)

"""EnvConfig (the one public env configuration) and Move (the move envs' action codes)."""

from __future__ import annotations

import dataclasses
import itertools

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import maze_env
from benchmarks.suites import Condition
from maze_env import EnvConfig, Move

configs = st.builds(
    EnvConfig,
    size=st.one_of(st.integers(2, 7), st.tuples(st.integers(1, 6), st.integers(2, 6))),
    generator=st.sampled_from(["rdfs", "wilson", "open_field", "percolation"]),
    scheme=st.sampled_from(maze_env.SCHEMES),
    endpoints=st.one_of(st.none(), st.builds(dict, min_distance=st.integers(0, 2))),
    max_steps=st.one_of(st.none(), st.integers(1, 90)),
    step_cost=st.floats(0, 1),
    invalid_action=st.sampled_from(["record", "terminate"]),
)


@settings(deadline=None)  # a config validates by generating one maze
@given(configs)
def test_env_config_round_trips_through_dict_json_and_toml(cfg):
    assert EnvConfig.from_dict(cfg.to_dict()) == cfg
    assert EnvConfig.from_json(cfg.to_json()) == cfg
    assert EnvConfig.from_toml(cfg.to_toml()) == cfg


@settings(max_examples=40, deadline=None)  # each example builds two envs
@given(configs, st.sampled_from(["TokenMaze-v0", "TokenMazeMoves-v0"]), st.integers(0, 2**32))
def test_config_and_kwargs_make_the_same_env(cfg, env_id, seed):
    by_config = gym.make(env_id, config=cfg).unwrapped
    by_kwargs = gym.make(env_id, **cfg.to_dict()).unwrapped
    action_type = by_config.config.action_type
    # the answers EnvConfig gives are the env's own
    assert by_config.observation_space["tokens"].shape == (cfg.obs_length(action_type),)
    assert by_config.config.max_steps == cfg.steps_limit(action_type)
    assert by_config.config.max_grid == cfg.max_grid
    try:
        a, info = by_config.reset(seed=seed)
    except maze_env.NoValidEndpoints:  # e.g. a percolation maze with no open edge
        with pytest.raises(maze_env.NoValidEndpoints):
            by_kwargs.reset(seed=seed)
        return
    b, _ = by_kwargs.reset(seed=seed)
    assert np.array_equal(a["tokens"], b["tokens"])
    assert tuple(info["shape"]) == cfg.grid
    prompt = by_config.tokens
    vocab = maze_env.vocabulary(cfg.max_grid)
    origin = maze_env.parse(prompt, scheme=cfg.scheme, shape=cfg.grid).origin
    spelled = [vocab.tokens[i] for i in cfg.cell_tokens()[origin[0] * cfg.grid[1] + origin[1]]]
    assert prompt[-len(spelled) :] == spelled  # the cell lookup spells the origin


def test_env_config_errors_name_the_field():
    for kwargs, needle in [
        ({"size": 0}, "size"),
        ({"scheme": "xyz"}, "scheme must be one of"),
        ({"max_grid": 3, "size": 5}, "max_grid must be an int >= 5"),
        ({"max_steps": 0}, "max_steps"),
        ({"step_cost": float("nan")}, "step_cost must be finite"),
        ({"invalid_action": "x"}, "invalid_action"),
        ({"generator": "nope"}, "nope"),
        ({"endpoints": {"target_region": "moon"}}, "endpoints"),
        ({"endpoints": {"nope": 1}}, "endpoints"),
    ]:
        with pytest.raises((TypeError, ValueError), match=needle):
            EnvConfig(**kwargs)
    with pytest.raises(TypeError, match=r"unknown EnvConfig field\(s\) \['sise'\]"):
        EnvConfig.from_dict({"sise": 3})
    with pytest.raises(TypeError, match="array region has no dict form"):
        EnvConfig(size=3, endpoints={"target_region": np.ones((3, 3), bool)}).to_dict()


def test_env_config_is_frozen_and_replace_validates_again():
    cfg = EnvConfig(size=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.size = (5, 5)
    assert cfg.replace(size=5).max_grid == 5 and cfg.max_grid == 4  # the default follows
    assert EnvConfig(size=4, max_grid=9).replace(size=5).max_grid == 9  # a chosen one stays
    with pytest.raises(ValueError, match="max_grid"):
        cfg.replace(size=5, max_grid=4)


def test_registered_kwargs_that_disagree_with_config_are_refused():
    cfg = EnvConfig(size=8, generator="wilson")
    with pytest.raises(ValueError, match=r"disagree with config= \(size=\(8, 8\)"):
        gym.make("TokenMaze-rdfs-4x4-v0", config=cfg)
    env = gym.make("TokenMaze-rdfs-8x8-v0", config=EnvConfig(size=8))  # agreeing kwargs are fine
    assert env.unwrapped.config.env == EnvConfig(size=8)
    with pytest.raises(TypeError, match=r"config must be a maze_env\.EnvConfig"):
        gym.make("TokenMaze-v0", config={"size": 4})
    vec = gym.make_vec("TokenMazeMoves-v0", num_envs=2, config=cfg)
    assert vec.single_observation_space["tokens"].shape == (cfg.obs_length("move"),)


def test_a_suite_condition_holds_its_env_config():
    cond = Condition("c", {"size": 4, "generator": "wilson"}, episodes=1, seed=0)
    assert cond.config == EnvConfig(size=4, generator="wilson")
    assert cond.config.max_grid == 4 and cond.config.scheme == "aotp"


def test_move_codes_drive_the_move_env():
    env = gym.make("TokenMazeMoves-v0", size=4)
    _, info = env.reset(seed=3)
    u = env.unwrapped
    path = u.maze.shortest_path(u.origin, u.target)
    for a, b in itertools.pairwise(path):
        move = Move.between(a, b)
        assert (a[0] + move.delta[0], a[1] + move.delta[1]) == b
        assert info["action_mask"][move]
        _, _, terminated, _, info = env.step(move)
        assert not terminated
    assert info["action_mask"][Move.STOP]
    _, _, terminated, _, info = env.step(Move.STOP)
    assert terminated and info["success"] and u.path == path
    assert len(Move) == env.action_space.n
    with pytest.raises(ValueError, match="no direction"):
        _ = Move.STOP.delta
    with pytest.raises(ValueError, match="not lattice-adjacent"):
        Move.between((0, 0), (1, 1))

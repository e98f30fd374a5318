"""Rendering, headless: rgb_array / ansi / human (SDL dummy driver) for every case, highlighted
violations, GIF writing, and the ``python -m maze_env`` CLI."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before anything imports pygame
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from env_cases import CASE_IDS, CASES, oracle_actions

import maze_env
from maze_env import render
from maze_env.__main__ import KEY_ACTIONS, main


def has_color(frame: np.ndarray, name: str) -> bool:
    return bool((frame == np.array(render.COLORS[name], np.uint8)).all(-1).any())


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_every_render_mode_headless(env_id, kwargs):
    for mode in ("rgb_array", "ansi", "human"):
        env = gym.make(env_id, render_mode=mode, **kwargs)
        env.reset(seed=0)
        if mode != "human":  # a human window waits 1/render_fps per frame
            for action in oracle_actions(env)[:2]:
                env.step(action)
        out = env.render()
        if mode == "rgb_array":
            rows, cols = env.unwrapped.maze.shape
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
            assert out.shape[0] >= rows * 8 and out.shape[1] >= cols * 8
            for color in ("wall", "origin", "target", "path", "position"):
                assert has_color(out, color), color
            assert not has_color(out, "violation")
        elif mode == "ansi":
            assert isinstance(out, str) and "O" in out and "T" in out and "@" in out
        else:
            assert out is None
        env.close()
        env.close()  # idempotent


def test_violations_are_highlighted():
    env = maze_env.TokenMazeEnv(size=4, render_mode="rgb_array")
    env.reset(seed=0)
    far = next(
        c
        for c in [(3, 3), (0, 0), (3, 0), (0, 3)]
        if abs(c[0] - env.origin[0]) + abs(c[1] - env.origin[1]) > 1
    )
    vocab = maze_env.vocabulary(4)
    env.step(vocab.index[f"({far[0]},{far[1]})"])  # a jump
    assert has_color(env.render(), "violation")
    env.reset(seed=0)
    env.step(vocab.special["<ADJLIST_START>"])  # an invalid token: red frame
    frame = env.render()
    assert tuple(frame[0, 0]) == render.COLORS["violation"]
    text = render.ansi_frame(**env._episodes.frame_data(0))
    assert "invalid_token=1" in text


def test_window_is_lazy_and_close_is_idempotent():
    window = render.Window()
    window.close()  # nothing shown yet
    env = maze_env.TokenMazeMovesEnv(render_mode="human")
    assert env._window is None  # no display before the first render
    env.reset(seed=0)
    assert env._window is not None
    env.close()
    env.close()


def test_gif_rollout(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    env = maze_env.TokenMazeMovesEnv(size=4, render_mode="rgb_array")
    path = render.record_gif(env, tmp_path / "run.gif", seed=1)
    with pil.open(path) as gif:
        assert gif.n_frames >= 2 and gif.size[0] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]  # no temp file left
    with pytest.raises(ValueError, match="render_mode"):
        render.record_gif(maze_env.TokenMazeEnv(), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="empty"):
        render.write_gif([], tmp_path / "y.gif")


def test_cli_demo_prints_maze_tokens_and_path(capsys):
    main(["demo", "--size", "4x5", "--seed", "2", "--scheme", "coords"])
    out = capsys.readouterr().out
    maze = maze_env.generate("rdfs", (4, 5), seed=2)
    origin, target = maze_env.sample_endpoints(maze, seed=2)
    assert f"origin: {origin}" in out and f"target: {target}" in out
    assert " ".join(map(str, maze.shortest_path(origin, target))) in out
    tokens = out.strip().splitlines()[-1].split()
    ex = maze_env.parse(tokens)
    assert ex.maze == maze and ex.path == maze.shortest_path(origin, target)


def test_cli_help_and_bad_size():
    out = subprocess.run(
        [sys.executable, "-m", "maze_env", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout and "play" in out.stdout
    with pytest.raises(SystemExit):
        main(["demo", "--size", "big"])
    assert KEY_ACTIONS["up"] == 0 and KEY_ACTIONS["right"] == 3 and KEY_ACTIONS["return"] == 4

"""One walk rule, two readers: the env's numba step kernel and the judge agree on every stream.

Random token streams (neighbours, far cells, cells off the maze, numbers, special tokens,
``<PATH_END>``) are played in the token env; the judge then reads the tokens the env wrote and
must give the same path and the same count of every violation kind (``maze_env.rules``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import maze_env
from maze_env.judge import walk
from maze_env.rules import VIOLATION_KINDS


def _stream(env, rng: np.random.Generator, n: int) -> list[int]:
    """Token ids biased towards plausible moves, with every kind of mistake mixed in."""
    u = env.unwrapped
    vocab = maze_env.vocabulary(u.config.max_grid)
    grid = u.config.grid
    cells = u.config.cell_tokens()
    out = []
    for _ in range(n):
        kind = rng.integers(6)
        if kind <= 2:  # an open neighbour of a random path cell (often the current one)
            r, c = u.position if kind < 2 else u.path[rng.integers(len(u.path))]
            options = u.maze.neighbors((r, c)) or [(r, c)]
            cell = options[rng.integers(len(options))]
        elif kind == 3:  # any cell of the grid
            cell = (int(rng.integers(grid[0])), int(rng.integers(grid[1])))
        else:
            cell = None
        if cell is not None:
            out.extend(int(t) for t in cells[cell[0] * grid[1] + cell[1]])
        else:  # any token: numbers, specials, cells beyond the maze
            out.append(int(rng.integers(len(vocab))))
    return out


@settings(max_examples=60, deadline=None)
@given(
    generator=st.sampled_from(["rdfs", "rdfs_percolation", "open_field"]),
    size=st.integers(2, 5),
    scheme=st.sampled_from(maze_env.SCHEMES),
    extra=st.integers(0, 2),
    invalid_action=st.sampled_from(["record", "terminate"]),
    end=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_env_kernel_and_judge_give_the_same_verdict(
    generator, size, scheme, extra, invalid_action, end, seed
):
    kwargs = {"p": 0.3} if generator == "rdfs_percolation" else {}
    env = gym.make(
        "TokenMaze-v0", size=size, generator=generator, generator_kwargs=kwargs, scheme=scheme,
        max_grid=size + extra, endpoints={"min_distance": 0}, invalid_action=invalid_action,
    )  # fmt: skip
    u = env.unwrapped
    _, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    stop = maze_env.vocabulary(u.config.max_grid).special["<PATH_END>"]
    stream = _stream(env, rng, int(rng.integers(0, u.config.max_steps + 1)))
    done = False
    for action in [*stream, stop] if end else stream:
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if done:
            break
    if not done:  # play on to the step limit: a truncated walk has no <PATH_END>
        while not done:
            _, _, terminated, truncated, info = env.step(_stream(env, rng, 1)[0])
            done = terminated or truncated
    tokens = u.tokens
    emitted = tokens[tokens.index("<PATH_START>") + 1 + u.config.tokens_per_cell :]
    verdict = walk(u.maze, u.origin, emitted, scheme)
    assert verdict.path == u.path
    assert verdict.violations == info["violations"]
    assert set(info["violations"]) == set(VIOLATION_KINDS)
    assert verdict.ended == (emitted[-1:] == ["<PATH_END>"])


@settings(max_examples=40, deadline=None)
@given(
    generator=st.sampled_from(["rdfs", "rdfs_percolation", "open_field"]),
    size=st.integers(2, 6),
    seed=st.integers(0, 2**31),
)
def test_legal_moves_read_from_tokens_equal_the_move_env_mask(generator, size, seed):
    """``legal_moves`` on the maze and path parsed back from the observation gives, at every
    step of a random legal walk, the mask the numba env computes (``action_masks()``)."""
    env = gym.make("TokenMazeMoves-v0", size=size, generator=generator)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        u = env.unwrapped
        seq = obs["tokens"][obs["tokens"] != u.config.vocab.pad_id]
        ex = maze_env.parse(u.config.vocab.decode(seq), shape=info["shape"])
        mask = maze_env.legal_moves(ex.maze, ex.path, ex.target)
        assert np.array_equal(mask, u.action_masks())
        action = int(rng.choice(np.flatnonzero(mask)))
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated

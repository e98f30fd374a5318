"""The native vector env against single envs, SyncVectorEnv and AsyncVectorEnv (same seeds, same
transitions), its NEXT_STEP autoreset, and the per-item seeding it relies on."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from env_cases import CASE_IDS, CASES, assert_equal
from gymnasium.vector import AsyncVectorEnv, AutoresetMode

import maze_env
from maze_env._rng import KeyBlock, PerItem, draw_keys
from maze_env.vector import TokenMazeMovesVectorEnv, TokenMazeVectorEnv


def vector_actions(venv, seed: int, steps: int):
    """Per step, one action per sub-env: legal most of the time (episodes end in all ways)."""
    rng = np.random.default_rng(seed)
    n, a = venv.num_envs, venv.single_action_space.n

    def pick(info) -> np.ndarray:
        legal = [int(rng.choice(np.flatnonzero(m))) for m in info["action_mask"]]
        anything = rng.integers(a, size=n)
        return np.where(rng.random(n) < 0.75, legal, anything)

    return pick


def run(venv, seed: int, steps: int):
    pick = vector_actions(venv, seed, steps)
    obs, info = venv.reset(seed=seed)
    out = [(obs, info)]
    for _ in range(steps):
        step = venv.step(pick(info))
        out.append(step)
        info = step[-1]
    venv.close()
    return out


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_native_vector_equals_sync_vector(env_id, kwargs):
    native = gym.make_vec(env_id, num_envs=3, max_steps=12, **kwargs)
    assert isinstance(native, TokenMazeVectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    sync = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync", max_steps=12, **kwargs)
    assert native.single_observation_space == sync.single_observation_space
    assert native.observation_space == sync.observation_space
    a, b = run(native, 11, 40), run(sync, 11, 40)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert_equal(list(x), list(y), f"step {i}")
        assert native.observation_space.contains(x[0])


@pytest.mark.parametrize("env_id", ["TokenMaze-v0", "TokenMazeMoves-v0"])
def test_native_vector_equals_async_vector_and_single_envs(env_id):
    native = run(gym.make_vec(env_id, num_envs=2), 5, 30)
    async_env = AsyncVectorEnv([lambda: gym.make(env_id)] * 2)
    assert_equal(list(map(list, native)), list(map(list, run(async_env, 5, 30))))
    singles = [gym.make(env_id) for _ in range(2)]
    for i, env in enumerate(singles):  # sub-env i == a single env reset with seed 5 + i
        obs, info = env.reset(seed=5 + i)
        assert np.array_equal(obs["tokens"], native[0][0]["tokens"][i])
        assert np.array_equal(info["action_mask"], native[0][1]["action_mask"][i])


def test_next_step_autoreset():
    venv = TokenMazeVectorEnv(num_envs=2, max_steps=3)
    venv.reset(seed=0)
    single = maze_env.TokenMazeEnv(max_steps=3)
    single.reset(seed=0)
    stop = maze_env.vocabulary(6).special["<PATH_END>"]
    _, _, terminated, _, info = venv.step(np.array([stop, 0]))
    assert terminated.tolist() == [True, False] and info["_success"].tolist() == [True, False]
    obs, reward, terminated, truncated, info = venv.step(np.array([0, 0]))
    # sub-env 0 ignored its action and restarted: reward 0, not done, the next episode's first obs
    assert reward[0] == 0.0 and not terminated[0] and not truncated[0] and "success" not in info
    assert np.array_equal(obs["tokens"][0], single.reset()[0]["tokens"])
    _, _, _, truncated, _ = venv.step(np.array([0, 0]))
    assert truncated.tolist() == [False, True]  # sub-env 1: exactly max_steps actions


def test_vector_checks_inputs():
    with pytest.raises(ValueError, match="num_envs"):
        TokenMazeVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="scheme"):
        TokenMazeMovesVectorEnv(num_envs=2, scheme="nope")
    venv = TokenMazeMovesVectorEnv(num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(np.zeros(2, np.int64))
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="actions"):
        venv.step(np.array([0, 5]))
    with pytest.raises(ValueError, match="seed"):
        venv.reset(seed=[1, 2, 3])
    assert venv.action_masks().shape == (2, 5)


def test_vector_render_modes():
    for mode in ("rgb_array", "ansi"):
        venv = TokenMazeVectorEnv(num_envs=2, render_mode=mode)
        venv.reset(seed=0)
        frames = venv.render()
        assert len(frames) == 2 and all(
            isinstance(f, np.ndarray if mode == "rgb_array" else str) for f in frames
        )


def test_draw_keys_fast_path_and_per_item_batches():
    for seed in range(5):
        fast = draw_keys(np.random.default_rng(seed), (3, 2))
        slow = (
            np.random.default_rng(seed)
            .integers(0, 2**63, size=(3, 2), dtype=np.int64)
            .astype(np.uint64)
        )
        assert np.array_equal(fast, slow) and fast.dtype == np.uint64
    gens = [np.random.default_rng(s) for s in range(4)]
    batch = maze_env.generate_batch("wilson", 5, 4, PerItem(gens))
    one_by_one = [
        maze_env.generate_batch("wilson", 5, 1, np.random.default_rng(s))[0] for s in range(4)
    ]
    assert np.array_equal(batch, np.stack(one_by_one))
    with pytest.raises(ValueError, match="PerItem"):
        draw_keys(PerItem(gens), 3)


def _masked_values(info: dict, mask: np.ndarray) -> dict:
    """The info's values at the sub-envs in ``mask`` (Sync leaves defaults at the others)."""
    return {k: _masked_values(v, mask) if isinstance(v, dict) else v[mask] for k, v in info.items()}


def test_partial_reset_with_reset_mask_equals_sync_vector():
    native = gym.make_vec("TokenMaze-v0", num_envs=3, max_steps=12)
    sync = gym.make_vec("TokenMaze-v0", num_envs=3, vectorization_mode="sync", max_steps=12)
    pick = vector_actions(native, 3, 0)
    for venv in (native, sync):
        venv.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(6):
        actions = rng.integers(native.single_action_space.n, size=3)
        assert_equal(list(native.step(actions)), list(sync.step(actions)))
    mask = np.array([True, False, True])
    a = native.reset(seed=[20, None, 22], options={"reset_mask": mask})
    b = sync.reset(seed=[20, None, 22], options={"reset_mask": mask.copy()})
    assert_equal(a[0], b[0], "obs")
    assert_equal(_masked_values(a[1], mask), _masked_values(b[1], mask), "info")
    assert np.array_equal(a[1]["_action_mask"], mask)
    info = a[1]
    for i in range(8):  # the kept sub-env goes on where it was, the reset ones start afresh
        actions = pick(info)
        x, y = native.step(actions), sync.step(actions)
        assert_equal(list(x), list(y), f"step {i}")
        info = x[-1]


def test_reset_mask_errors_name_the_option():
    venv = TokenMazeVectorEnv(num_envs=2)
    with pytest.raises(RuntimeError, match="reset every sub-env once"):
        venv.reset(options={"reset_mask": np.array([True, False])})
    venv.reset(seed=0)
    for bad in (np.array([1, 0]), np.array([True]), [True, False], np.array([False, False])):
        with pytest.raises(ValueError, match="reset_mask"):
            venv.reset(options={"reset_mask": bad})


def test_key_blocks_hand_out_the_keys_of_call_by_call_draws():
    gens = [np.random.default_rng(s) for s in range(3)] + [np.random.Generator(np.random.Philox(9))]
    fresh = [np.random.default_rng(s) for s in range(3)] + [
        np.random.Generator(np.random.Philox(9))
    ]
    block = KeyBlock(draw_keys(PerItem(gens), (4, 3)))
    first, second = draw_keys(block, (4, 2)), draw_keys(block, 4)
    assert np.array_equal(first, draw_keys(PerItem(fresh), (4, 2)))
    assert np.array_equal(second, draw_keys(PerItem(fresh), 4))
    with pytest.raises(ValueError, match="KeyBlock"):
        draw_keys(block, 4)  # all three columns are used


def test_sync_equivalence_covers_every_registered_id():
    assert {env_id for env_id, _ in CASES} == {
        env_id
        for env_id, spec in gym.registry.items()
        if str(spec.entry_point).startswith("maze_env.")
    }

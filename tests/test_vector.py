"""The native vector env against single envs, SyncVectorEnv and AsyncVectorEnv (same seeds, same
transitions), its NEXT_STEP autoreset, and the per-item seeding it relies on."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from env_cases import CASE_IDS, CASES, assert_equal
from gymnasium.vector import AsyncVectorEnv, AutoresetMode

import maze_env
from maze_env._episode_config import make_config
from maze_env._episodes import Episodes
from maze_env._rng import KeyBlock, draw_keys
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


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=CASE_IDS)
def test_disabled_autoreset_holds_finished_episodes_like_single_envs(env_id, kwargs):
    """Without autoreset a finished sub-env keeps its last step (actions ignored, reward 0) until
    a masked reset; every step, ``episode(i)`` and ``split_infos`` equal single envs played with
    the same seeds and actions."""
    n = 3
    venv = gym.make_vec(env_id, num_envs=n, autoreset_mode="Disabled", max_steps=10, **kwargs)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    singles = [gym.make(env_id, max_steps=10, **kwargs).unwrapped for _ in range(n)]
    pick = vector_actions(venv, 3, 0)
    obs, info = venv.reset(seed=[21, 22, 23])
    last = [env.reset(seed=s)[0] for env, s in zip(singles, [21, 22, 23], strict=True)]
    done = np.zeros(n, np.bool_)
    for t in range(40):
        actions = pick(info)
        obs, reward, term, trunc, info = venv.step(actions)
        rows = maze_env.split_infos(info, range(n))
        for i, env in enumerate(singles):
            if done[i]:  # held: the last step's outcome, no reward, the same tokens
                assert reward[i] == 0.0 and (term[i] or trunc[i])
            else:
                last[i], r, te, tr, inf = env.step(int(actions[i]))
                assert (r, te, tr) == (reward[i], term[i], trunc[i]), (t, i)
                assert_equal(inf, rows[i], f"step {t} sub-env {i} info")
            assert_equal({k: v[i] for k, v in obs.items()}, last[i], f"step {t} sub-env {i} obs")
            view = venv.episode(i)
            assert (view["maze"], view["origin"], view["target"]) == (
                env.maze, env.origin, env.target
            )  # fmt: skip
            assert view["path"] == env.path and view["tokens"] == env.tokens
            assert view["violations"] == env.violations
        done |= term | trunc
        if t == 20 and done.any():  # restart the finished ones with new seeds
            seeds = [100 + i if d else None for i, d in enumerate(done)]
            obs, info = venv.reset(seed=seeds, options={"reset_mask": done.copy()})
            for i in np.flatnonzero(done):
                last[i] = singles[i].reset(seed=100 + int(i))[0]
            done[:] = False
    assert maze_env.split_infos([{"a": 1}, {"a": 2}], [1]) == [{"a": 2}]


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
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        venv.episode(2)
    with pytest.raises(ValueError, match="autoreset_mode"):
        TokenMazeVectorEnv(num_envs=2, autoreset_mode=AutoresetMode.SAME_STEP)


def test_vector_render_modes():
    for mode in ("rgb_array", "ansi"):
        venv = TokenMazeVectorEnv(num_envs=2, render_mode=mode)
        venv.reset(seed=0)
        frames = venv.render()
        assert len(frames) == 2 and all(
            isinstance(f, np.ndarray if mode == "rgb_array" else str) for f in frames
        )


def test_draw_keys_fast_path_gives_the_generator_integers():
    for seed in range(5):
        fast = draw_keys(np.random.default_rng(seed), (3, 2))
        slow = (
            np.random.default_rng(seed)
            .integers(0, 2**63, size=(3, 2), dtype=np.int64)
            .astype(np.uint64)
        )
        assert np.array_equal(fast, slow) and fast.dtype == np.uint64


FUSED_CONFIGS = [
    {},
    {"size": (5, 7), "generator": "wilson"},
    {"size": 4, "generator": "kruskal", "scheme": "coords"},
    {"generator": "prim", "endpoints": {"origin_dead_end": True, "target_region": "!corners"}},
    {"generator": "recursive_division", "max_grid": 9},
    {"generator": "percolation", "generator_kwargs": {"p": 0.6}, "endpoints": {"min_distance": 3}},
    {"generator": "rdfs_percolation", "endpoints": {"target_dead_end": True}},
    {"generator": "open_field", "generator_kwargs": {"obstacles": 2}},
    {"generator": "rdfs", "generator_kwargs": {"forks": False}, "size": (3, 8)},
]


@pytest.mark.parametrize("action_type", ["token", "move"])
@pytest.mark.parametrize("kwargs", FUSED_CONFIGS, ids=range(len(FUSED_CONFIGS)))
def test_fused_reset_equals_the_batch_api_reset(action_type, kwargs):
    """The one-kernel reset and the generate/endpoints/solve/encode chain: same episodes."""
    cfg = make_config(action_type, **kwargs)
    fused, chained = Episodes(cfg, 12), Episodes(cfg, 12)
    assert fused._fused is not None
    chained._fused = None
    rng = np.random.default_rng(1)
    for ep in (fused, chained):
        ep.seed(range(12), [np.random.default_rng(s) for s in range(12)])
        ep.rewards[:], ep.terminated[:] = 1.0, True
    for r in range(6):
        idx = np.arange(12) if r == 0 else np.sort(rng.choice(12, 5, replace=False))
        fused.reset(idx)
        chained.reset(idx)
        for name in ("conns", "ints", "visited", "tokens", "mask", "streams", "rewards",
                     "terminated", "truncated"):  # fmt: skip
            assert np.array_equal(getattr(fused, name), getattr(chained, name)), (r, name)
        actions = rng.integers(cfg.n_actions, size=12)
        for ep in (fused, chained):
            ep.step(actions, np.ones(12, np.bool_))
    assert fused.rewards.any() or fused.terminated.any()  # the steps did something


def test_configs_off_the_fused_path_are_the_batch_api_ones():
    assert Episodes(make_config("token", scheme="walls"), 1)._fused is None
    assert Episodes(make_config("token", size=4, canvas=6, offset="random"), 1)._fused is None


def test_token_dtype_is_the_smallest_that_holds_the_vocabulary():
    assert gym.make("TokenMaze-v0").observation_space["tokens"].dtype == np.uint8
    big = gym.make("TokenMaze-v0", max_grid=16)  # 284 tokens
    assert big.observation_space["tokens"].dtype == np.uint16
    obs, _ = big.reset(seed=0)
    assert obs["tokens"].dtype == np.uint16 and obs in big.observation_space


@pytest.mark.parametrize("generator", ["rdfs", "wilson", "kruskal"])
def test_tree_configs_size_the_observation_for_cells_minus_one_edges(generator):
    """A spanning tree lists exactly cells - 1 edges, so the prompt fills the bound exactly."""
    env = gym.make("TokenMaze-v0", size=(4, 5), generator=generator)
    cfg = env.unwrapped._episodes.config
    obs, _ = env.reset(seed=3)
    prompt_and_origin = cfg.max_len - cfg.max_steps
    assert int(obs["length"][0]) == prompt_and_origin
    cyclic = make_config("token", size=(4, 5), generator="percolation")
    lattice_edges = 4 * 4 + 5 * 3
    assert cyclic.max_len - cfg.max_len == (lattice_edges - 19) * 4  # 4 tokens per listed edge


def test_an_out_of_range_action_names_the_sub_env_and_changes_nothing():
    venv, twin = (gym.make_vec("TokenMaze-v0", num_envs=3) for _ in range(2))
    venv.reset(seed=5)
    twin.reset(seed=5)
    with pytest.raises(ValueError, match=r"got 999 for sub-env 1"):
        venv.step(np.array([0, 999, 0]))
    assert_equal(list(venv.step(np.array([1, 2, 3]))), list(twin.step(np.array([1, 2, 3]))))


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


def test_key_blocks_hand_out_their_columns_in_order():
    keys = draw_keys(np.random.default_rng(0), (4, 3))
    block = KeyBlock(keys.copy())
    first, second = draw_keys(block, (4, 2)), draw_keys(block, 4)
    assert np.array_equal(first, keys[:, :2]) and np.array_equal(second, keys[:, 2])
    with pytest.raises(ValueError, match="KeyBlock"):
        draw_keys(block, 4)  # all three columns are used


def test_a_sub_env_reset_without_a_seed_continues_its_key_stream():
    env = gym.make("TokenMaze-v0")
    venv = gym.make_vec("TokenMaze-v0", num_envs=2)
    env.reset(seed=7)
    venv.reset(seed=[7, 8])
    second, _ = env.reset()
    vec_second, _ = venv.reset(seed=[None, 9])
    assert np.array_equal(vec_second["tokens"][0], second["tokens"])


def test_sync_equivalence_covers_every_registered_id():
    assert {env_id for env_id, _ in CASES} == {
        env_id
        for env_id, spec in gym.registry.items()
        if str(spec.entry_point).startswith("maze_env.")
    }

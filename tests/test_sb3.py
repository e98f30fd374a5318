"""Stable-Baselines3 on TokenMaze: shipped zips load the SB3 way, the trust check, the policy
helper, the native VecEnv adapter (step for step against DummyVecEnv), training and the CLI."""

import base64
import json
import shutil
import subprocess
import sys
import zipfile

import gymnasium as gym
import numpy as np
import pytest

import agents
import agents.shipped
import maze_env  # noqa: F401  (registers the envs)

pytest.importorskip("sb3_contrib")
from env_cases import assert_equal, play_episode
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.evaluation import evaluate_policy
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from agents import sb3, sb3_agent
from benchmarks.runner import make_agent
from benchmarks.suites import load_suite

TINY = {"size": 4, "n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1, "seed": 0}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb3") / "tiny.zip"
    return sb3.train(out, timesteps=64, progress_bar=False, **TINY)


def run(agent, env, episodes):
    return [play_episode(agent, env, seed)[0] for seed in range(episodes)]


# --------------------------------------------------------------------------- zips, the SB3 way


def evaluate_the_sb3_way(path, episodes: int = 4):
    """Load ``path`` with SB3 against the env its manifest names; evaluate with sb3-contrib."""
    manifest = sb3.read_manifest(path)
    venv = DummyVecEnv([lambda: Monitor(gym.make(manifest["env_id"], **manifest["env_kwargs"]))])
    venv.seed(0)
    model = MaskablePPO.load(path, env=venv, device="cpu")
    return evaluate_policy(model, venv, episodes, deterministic=True, return_episode_rewards=True)


@pytest.mark.parametrize("name", sorted(sb3.shipped_models()))
def test_every_shipped_zip_loads_the_sb3_way_and_plays_as_the_agent(name):
    path = sb3.shipped_models()[name]
    rewards, lengths = evaluate_the_sb3_way(path)
    manifest = sb3.read_manifest(path)
    env = gym.make(manifest["env_id"], **manifest["env_kwargs"])  # the same stream: seed 0 once
    agent = agents.make("sb3", path=name)
    for episode, (reward, length) in enumerate(zip(rewards, lengths, strict=True)):
        obs, info = env.reset(seed=0 if episode == 0 else None)
        agent.reset(obs, info)
        total, steps, done = 0.0, 0, False
        while not done:
            obs, r, terminated, truncated, info = env.step(agent.act(obs, info))
            total, steps, done = total + r, steps + 1, terminated or truncated
        assert (steps, total) == pytest.approx((length, reward))


def test_the_shipped_zip_has_the_documented_envs_spaces():  # it had (220,) int64 tokens
    env = gym.make("TokenMazeMoves-v0", size=5)
    model = sb3.load_model()
    assert model.observation_space == env.observation_space
    assert model.policy.features_extractor.__class__ is sb3.TokenFeatures  # by reference, no code


def test_a_trained_zip_has_a_manifest_and_loads_the_sb3_way(model_path):
    manifest = sb3.read_manifest(model_path)
    assert manifest["sha256"] == sb3_agent.sha256(model_path)
    assert manifest["env_id"] == "TokenMazeMoves-v0" and manifest["env_kwargs"]["size"] == 4
    assert manifest["train_args"]["n_steps"] == 32
    rewards, lengths = evaluate_the_sb3_way(model_path, episodes=2)
    assert len(rewards) == len(lengths) == 2
    assert not list(model_path.parent.glob(".*"))  # no temporary files left


def test_resume_continues_a_run_and_its_manifest_says_so(model_path, tmp_path):
    more = sb3.train(tmp_path / "more.zip", timesteps=192, resume=str(model_path),
                     progress_bar=False, **TINY)  # fmt: skip
    first, manifest = sb3.read_manifest(model_path), sb3.read_manifest(more)
    assert manifest["timesteps"] == 192 > first["timesteps"]
    assert manifest["continues"] == [{k: first[k] for k in ("sha256", "timesteps",
                                      "train_seconds", "train_args")}]  # fmt: skip
    assert manifest["train_seconds"] >= first["train_seconds"]
    with pytest.raises(ValueError, match=r"options differ from its manifest's: \['n_epochs'\]"):
        sb3.train(tmp_path / "x.zip", timesteps=192, resume=str(model_path), progress_bar=False,
                  **{**TINY, "n_epochs": 2})  # fmt: skip
    assert not (tmp_path / "x.zip").exists()


def test_resume_reads_options_added_since_as_their_defaults(model_path, tmp_path):
    old = tmp_path / "old.zip"  # a run from before ``n_rounds`` existed
    shutil.copy(model_path, old)
    manifest = sb3.read_manifest(model_path)
    del manifest["train_args"]["n_rounds"]
    sb3_agent.manifest_path(old).write_text(json.dumps(manifest))
    more = sb3.train(tmp_path / "more.zip", timesteps=192, resume=str(old), progress_bar=False,
                     **TINY)  # fmt: skip
    assert sb3.read_manifest(more)["train_args"]["n_rounds"] == 0
    with pytest.raises(ValueError, match=r"options differ from its manifest's: \['n_rounds'\]"):
        sb3.train(tmp_path / "x.zip", timesteps=192, resume=str(old), progress_bar=False,
                  **{**TINY, "n_rounds": 1})  # fmt: skip


# --------------------------------------------------------------------------- trust


def test_a_zip_that_is_not_shipped_needs_trusted(model_path):
    with pytest.raises(sb3.UntrustedModelError, match=r"runs the code.*trusted=True"):
        agents.make("sb3", path=model_path)
    agent = agents.make("sb3", path=model_path, trusted=True)
    assert isinstance(agent.model.policy.features_extractor, sb3.TokenFeatures)


def evil_zip(src, dst, marker):
    """A copy of ``src`` whose pickled ``lr_schedule`` creates ``marker`` when unpickled."""
    import cloudpickle

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    data = json.loads(files["data"])
    data["lr_schedule"][":serialized:"] = base64.b64encode(cloudpickle.dumps(Payload())).decode()
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, content in files.items():
            z.writestr(n, content)
    return dst


def test_a_pickled_payload_does_not_run_without_trusted(model_path, tmp_path):
    marker = tmp_path / "PWNED"
    path = evil_zip(model_path, tmp_path / "evil.zip", marker)
    with pytest.raises(sb3.UntrustedModelError):
        agents.make("sb3", path=path)
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'agents = [{{ name = "sb3", kwargs = {{ path = "{path}" }} }}]\n'
        '[[conditions]]\nname = "c"\nenv = { size = 4 }\n'
    )
    with pytest.raises(sb3.UntrustedModelError):
        make_agent(load_suite(suite).agents[0], seed=0)
    assert not marker.exists()
    MaskablePPO.load(path, device="cpu")  # SB3 itself runs it: the payload is live
    assert marker.exists()


def test_trusted_passes_through_a_suite(model_path, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'agents = [{{ name = "sb3", kwargs = {{ path = "{model_path}", trusted = true }} }}]\n'
        '[[conditions]]\nname = "c"\nenv = { size = 4 }\n'
    )
    agent = make_agent(load_suite(suite).agents[0], seed=0)
    assert isinstance(agent, sb3.SB3Agent)


def test_shipped_zips_are_checked_against_their_sha256(tmp_path, monkeypatch):
    shipped = tmp_path / "models" / "copy"
    shutil.copytree(sb3.DEFAULT_MODEL.parent, shipped)
    monkeypatch.setattr(agents.shipped, "MODELS", tmp_path / "models")
    assert agents.make("sb3", path="copy").model.num_timesteps > 0  # by name, hash matches
    manifest = sb3.read_manifest(shipped / "model.zip")
    (shipped / "model.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}))
    with pytest.raises(sb3.UntrustedModelError, match=r"does not match the sha256"):
        agents.make("sb3", path=shipped / "model.zip")
    assert agents.make("sb3", path=shipped / "model.zip", trusted=True).model is not None


# --------------------------------------------------------------------------- policy_kwargs


@pytest.mark.parametrize("algo", [MaskablePPO, PPO, DQN])
def test_policy_kwargs_give_every_algorithm_the_token_encoder(algo):
    env = gym.make("TokenMazeMoves-v0", size=4)
    kwargs = sb3.policy_kwargs(d_model=16, net_arch=[32] if algo is DQN else None)
    model = algo("MultiInputPolicy", env, policy_kwargs=kwargs, device="cpu")
    policy = model.policy.q_net if algo is DQN else model.policy
    extractor = policy.features_extractor
    assert isinstance(extractor, sb3.TokenFeatures)
    assert extractor.embed.num_embeddings == int(np.max(env.observation_space["tokens"].high)) + 1


@pytest.mark.parametrize("n_rounds", [0, 2])
def test_token_features_ignore_the_padding(n_rounds):  # each row alone == the row in a batch
    import torch

    env = gym.make("TokenMazeMoves-v0", size=5)
    torch.manual_seed(0)
    features = sb3.TokenFeatures(env.observation_space, n_rounds=n_rounds)
    assert len(features.pools) == n_rounds
    obs, info = env.reset(seed=0)
    batch = [obs]
    for _ in range(6):
        obs, *_, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
        batch.append(obs)
    tensors = {k: torch.as_tensor(np.stack([o[k] for o in batch])) for k in ("tokens", "length")}
    with torch.no_grad():
        together = features(tensors)
        rows = [{k: v[i : i + 1] for k, v in tensors.items()} for i in range(len(batch))]
        alone = torch.cat([features(row) for row in rows])
    assert len(set(tensors["length"].flatten().tolist())) > 1
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_policy_kwargs_reject_bad_sizes():
    with pytest.raises(ValueError, match="d_model"):
        sb3.policy_kwargs(d_model=0)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        sb3.policy_kwargs(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="n_rounds"):
        sb3.policy_kwargs(n_rounds=-1)


# --------------------------------------------------------------------------- the VecEnv adapter


@pytest.mark.parametrize("env_id", ["TokenMazeMoves-v0", "TokenMaze-v0"])
def test_the_adapter_matches_dummy_vec_env_step_for_step(env_id):
    kwargs = {"size": 4, "max_steps": 6}  # short episodes: terminations and truncations
    n = 3
    dummy = DummyVecEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)])
    native = sb3.make_vec_env(env_id, n_envs=n, monitor=False, **kwargs)
    assert is_masking_supported(native)
    for venv in (dummy, native):
        venv.seed(7)
    assert_equal(native.reset(), dummy.reset(), "reset")
    assert_equal(native.reset_infos, dummy.reset_infos, "reset_infos")
    rng = np.random.default_rng(0)
    ended = np.zeros(2, int)  # terminated, truncated episodes seen
    for step in range(80):
        masks = get_action_masks(dummy)
        assert_equal(get_action_masks(native), masks, f"step {step} masks")
        legal = [rng.choice(np.flatnonzero(m)) for m in masks]
        actions = np.where(rng.random(n) < 0.7, legal, rng.integers(masks.shape[1], size=n))
        got, want = native.step(actions), dummy.step(actions)
        assert_equal(list(got), list(want), f"step {step}")
        assert_equal(native.reset_infos, dummy.reset_infos, f"step {step} reset_infos")
        for info in want[3]:
            if "terminal_observation" in info:
                ended[int(info["TimeLimit.truncated"])] += 1
    assert ended.min() > 0


def test_training_on_the_adapter_equals_training_on_dummy_vec_env(tmp_path):
    weights = []
    for vec in ("native", "dummy"):
        path = sb3.train(tmp_path / f"{vec}.zip", timesteps=64, vec=vec, progress_bar=False, **TINY)
        weights.append(sb3.load_model(path, trusted=True).policy.state_dict())
    assert weights[0].keys() == weights[1].keys()
    for key, value in weights[0].items():
        assert np.array_equal(value.numpy(), weights[1][key].numpy()), key


def test_the_adapter_refuses_a_wrapped_or_foreign_vector_env():
    venv = gym.vector.SyncVectorEnv([lambda: gym.make("TokenMazeMoves-v0", size=4)])
    with pytest.raises(TypeError, match="maze_env vector env"):
        sb3.SB3VecEnv(venv)
    native = sb3.make_vec_env(n_envs=2, size=4, monitor=False)
    with pytest.raises(AttributeError, match="'action_masks' only"):
        native.env_method("render")


# --------------------------------------------------------------------------- the agent


@pytest.mark.parametrize("env_id", ["TokenMazeMoves-v0", "TokenMaze-v0"])
def test_the_agent_acts_within_the_action_masks(model_path, env_id):
    env = gym.make(env_id, size=4)
    agent = agents.make("sb3", path=model_path, trusted=True)
    for info in run(agent, env, 15):  # an untrained policy would cross walls without masks
        assert sum(info["violations"].values()) == 0


def test_deterministic_predictions_repeat(model_path):
    env = gym.make("TokenMazeMoves-v0", size=4)
    runs = [
        [i["success"] for i in run(agents.make("sb3", path=model_path, trusted=True), env, 5)]
        for _ in "ab"
    ]
    assert runs[0] == runs[1]


def test_clear_errors_for_a_missing_file_or_a_mismatched_env(model_path, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m agents\.sb3 train"):
        agents.make("sb3", path=tmp_path / "absent.zip")
    env = gym.make("TokenMazeMoves-v0", size=6)
    obs, info = env.reset(seed=0)
    agent = agents.make("sb3", path=model_path, trusted=True)
    agent.reset(obs, info)
    with pytest.raises(ValueError, match="does not fit the SB3 model"):
        agent.act(obs, info)


# --------------------------------------------------------------------------- the CLI


def test_the_cli_parses_its_arguments(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(sb3, "train", lambda out, **kw: seen.update(out=out, **kw) or out)
    sb3.main(["train", "--size", "5", "--timesteps", "10", "--out", str(tmp_path / "m.zip")])
    assert seen["size"] == 5 and seen["timesteps"] == 10 and seen["out"].endswith("m.zip")
    assert seen["vec"] == "native" and seen["max_minutes"] == 55 and seen["progress_bar"]


def test_help_shows_the_defaults_without_importing_torch():
    code = (
        "import sys, agents.sb3\n"
        "try:\n    agents.sb3.main(['train', '--help'])\n"
        "except SystemExit:\n    print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")
    assert "(default: 3000000)" in out.stdout and "(default: native)" in out.stdout

"""The SB3 agent: a tiny MaskablePPO trains, saves, loads through the registry and acts legally."""

import gymnasium as gym
import numpy as np
import pytest

import agents
import maze_env  # noqa: F401  (registers the envs)

pytest.importorskip("sb3_contrib")
from env_cases import play_episode

from agents import sb3


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb3") / "tiny.zip"
    return sb3.train(out, size=4, timesteps=256, n_envs=1, seed=0, progress_bar=False)


def run(agent, env, episodes):
    return [play_episode(agent, env, seed)[0] for seed in range(episodes)]


def test_training_writes_a_zip_that_the_registry_loads(model_path):
    assert model_path.is_file() and not list(model_path.parent.glob(".*tmp*"))
    agent = agents.make("sb3", path=model_path)
    assert isinstance(agent, agents.Agent)
    assert isinstance(agent.model.policy.features_extractor, sb3.TokenFeatures)


@pytest.mark.parametrize("env_id", ["TokenMazeMoves-v0", "TokenMaze-v0"])
def test_the_agent_acts_within_the_action_masks(model_path, env_id):
    env = gym.make(env_id, size=4)
    agent = agents.make("sb3", path=model_path)
    for info in run(agent, env, 15):  # an untrained policy would cross walls without masks
        assert sum(info["violations"].values()) == 0


def test_deterministic_predictions_repeat(model_path):
    env = gym.make("TokenMazeMoves-v0", size=4)
    runs = [[i["success"] for i in run(agents.make("sb3", path=model_path), env, 5)] for _ in "ab"]
    assert runs[0] == runs[1]


def test_clear_errors_for_a_missing_file_or_a_mismatched_env(model_path, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m agents\.sb3 train"):
        agents.make("sb3", path=tmp_path / "absent.zip")
    env = gym.make("TokenMazeMoves-v0", size=6)
    obs, info = env.reset(seed=0)
    agent = agents.make("sb3", path=model_path)
    agent.reset(obs, info)
    with pytest.raises(ValueError, match="does not fit the SB3 model"):
        agent.act(obs, info)


def test_the_cli_parses_its_arguments(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(sb3, "train", lambda out, **kw: seen.update(out=out, **kw) or out)
    sb3.main(["train", "--size", "5", "--timesteps", "10", "--out", str(tmp_path / "m.zip")])
    assert seen["size"] == 5 and seen["timesteps"] == 10 and seen["out"].endswith("m.zip")


def test_the_features_extractor_reads_tokens_not_one_hots(model_path):
    extractor = agents.make("sb3", path=model_path).model.policy.features_extractor
    space = gym.make("TokenMazeMoves-v0", size=4).observation_space
    assert extractor.embed.num_embeddings == int(np.max(space["tokens"].high)) + 1


def test_no_path_means_the_shipped_model():
    if sb3.DEFAULT_MODEL.is_file():
        env = gym.make("TokenMazeMoves-v0", size=5)
        assert all(sum(i["violations"].values()) == 0 for i in run(agents.make("sb3"), env, 5))
    else:  # not shipped: the error says how to train one
        with pytest.raises(FileNotFoundError, match="no SB3 model"):
            agents.make("sb3")

"""Checkpoint saves are atomic: a kill at any point of a save leaves a resumable run that ends
bit-identical to an uninterrupted one, with the same log; checkpoints carry content hashes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.transformer import checkpoint
from agents.transformer.checkpoint import CheckpointError, load_model
from agents.transformer.data import DataConfig
from agents.transformer.train import TrainConfig, Trainer

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 128}
DATA = DataConfig(size=3, max_grid=3, queries_per_maze=3)
SAVE_POINTS = [  # every step of a run-directory save, in order
    "wrote model.safetensors", "wrote optimizer.safetensors", "wrote trainer_state.json",
    "wrote config.json", "committed", "moved config.json", "moved model.safetensors",
    "moved optimizer.safetensors", "moved trainer_state.json",
]  # fmt: skip


class Killed(BaseException):
    """Stands for a kill: nothing catches it, so no cleanup code runs."""


def config(steps: int) -> TrainConfig:
    # checkpoints at 3, 6, 8 and log lines at 2, 4, 6, 8: a resume from step 3 must carry the
    # step-3 loss into the step-4 log line
    return TrainConfig(
        name="t", model=TINY, data=DATA.to_dict(), batch_mazes=2, steps=steps, warmup_steps=2,
        eval_every=1000, eval_size=8, checkpoint_every=3, log_every=2,
    )  # fmt: skip


def log_of(run) -> list[dict]:
    """The log without wall-clock seconds."""
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "train_seconds"} for r in lines]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Bit-equal weights need one float reduction order: every run here (this process's and the
    killed child's, which sets one thread) trains on one torch thread, whatever the default."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 8-step run, and a copy of its directory at its step-3 checkpoint."""
    root = tmp_path_factory.mktemp("straight")
    cfg = config(8)
    cfg.keep_steps = [3]
    trainer = Trainer(cfg, root / "run")
    trainer.run(progress=False)
    (root / "run" / "step_3").rename(root / "at3")
    return root, trainer.model.state_dict(), log_of(root / "run")


def kill_at(monkeypatch, point: str, step: int) -> None:
    """Make the save at ``step`` die at ``point``."""
    trainer_step = {}

    def crash(where):
        if where == point and trainer_step.get("now") == step:
            raise Killed(where)

    real_save = Trainer.save

    def save(self):
        trainer_step["now"] = self.step
        real_save(self)

    monkeypatch.setattr(checkpoint, "_crash_point", crash)
    monkeypatch.setattr(Trainer, "save", save)


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_a_kill_anywhere_in_a_save_resumes_to_the_same_weights_and_log(
    straight, tmp_path, monkeypatch, point
):
    root, weights, log = straight
    run = tmp_path / "run"
    shutil.copytree(root / "at3", run)
    first = Trainer(config(8), run)
    first.resume()
    kill_at(monkeypatch, point, 6)
    with pytest.raises(Killed):
        first.run(progress=False)
    monkeypatch.undo()
    resumed = Trainer(config(8), run)
    resumed.resume()
    committed = SAVE_POINTS.index(point) >= SAVE_POINTS.index("committed")
    assert resumed.step == (6 if committed else 3)
    resumed.run(progress=False)
    for name, tensor in weights.items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert log_of(run) == log
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json", "log.jsonl", "model.safetensors", "optimizer.safetensors",
        "trainer_state.json",
    ]  # fmt: skip


def test_the_first_log_line_after_a_resume_averages_the_steps_before_the_checkpoint(
    straight, tmp_path
):
    root, _, log = straight
    run = tmp_path / "run"
    shutil.copytree(root / "at3", run)
    resumed = Trainer(config(8), run)
    resumed.resume()
    assert len(resumed.losses) == 1  # step 3's loss, logged with step 4's
    resumed.run(progress=False)
    assert log_of(run)[1] == log[1] and log_of(run)[1]["step"] == 4


def test_a_real_kill_after_the_commit_point_resumes(straight, tmp_path):
    """os._exit in a child process right after the model file moved in (the issue's case:
    model at the new step, the rest at the old one)."""
    root, weights, _ = straight
    run = tmp_path / "run"
    shutil.copytree(root / "at3", run)
    script = textwrap.dedent(f"""
        import os, torch
        torch.set_num_threads(1)
        from agents.transformer import checkpoint
        from tests.test_checkpoint_commit import config
        from agents.transformer.train import Trainer

        def crash(where):
            if where == "moved model.safetensors":
                os._exit(9)

        checkpoint._crash_point = crash
        trainer = Trainer(config(8), {str(run)!r})
        trainer.resume()
        trainer.run(progress=False)
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=os.getcwd(), timeout=300)
    assert done.returncode == 9
    assert (run / ".commit").is_dir()  # killed with a committed set half moved in
    _, cfg = load_model(run)  # a load finishes the commit
    assert cfg["training"]["summary"]["step"] == 6
    resumed = Trainer(config(8), run)
    resumed.resume()
    assert resumed.step == 6
    resumed.run(progress=False)
    for name, tensor in weights.items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_a_mixed_set_from_an_older_save_is_refused_with_a_clear_message(straight, tmp_path):
    root, _, _ = straight
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)  # step 8
    shutil.copy(root / "at3" / "model.safetensors", run / "model.safetensors")
    cfg = json.loads((run / "config.json").read_text())
    del cfg["sha256"]  # as written before hashes were recorded
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: saved at step 3.*says 8"):
        Trainer(config(8), run).resume()
    shutil.copytree(root / "at3", tmp_path / "old")  # an old complete set still resumes
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    del cfg["sha256"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    old = Trainer(config(8), tmp_path / "old")
    old.resume()
    assert old.step == 3


def saved_model(tmp_path):
    trainer = Trainer(config(1), tmp_path / "ck")
    trainer.save()
    return tmp_path / "ck"


def test_flipped_bytes_in_the_tensor_data_are_caught_by_the_recorded_hash(tmp_path):
    ck = saved_model(tmp_path)
    load_model(ck)
    data = bytearray((ck / "model.safetensors").read_bytes())
    for i in range(len(data) - 1000, len(data)):  # inside the last tensor, header intact
        data[i] ^= 0x01
    (ck / "model.safetensors").write_bytes(bytes(data))
    checkpoint.load_tensors(ck / "model.safetensors")  # still a readable safetensors file
    with pytest.raises(CheckpointError, match=r"model\.safetensors: content does not match"):
        load_model(ck)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: content does not match"):
        Trainer(config(1), ck).resume()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("data"), r"no 'data' section"),
        (lambda c: c.pop("model"), r"no 'model' section"),
        (lambda c: c["model"].update(n_heads=0), r"n_heads must be an int >= 1, got 0"),
        (lambda c: c["model"].update(d_model="128"), r"d_model must be an int >= 1, got '128'"),
        (lambda c: c["model"].update(n_layers=True), r"n_layers must be an int >= 1, got True"),
        (lambda c: c["model"].update(d_model=31), r"d_model=31 is not divisible by n_heads=2"),
        (lambda c: c["data"].update(max_grid=4), r"vocab_size=\d+, but data.max_grid=4 has"),
        (lambda c: c["data"].update(scheme="nope"), r"bad 'data' section"),
        (
            lambda c: c["model"].update(n_ctx=16, positional="learned"),
            r"n_ctx=16 is shorter than the data's longest sequence \(\d+ tokens\)",
        ),
    ],
)
def test_bad_checkpoint_configs_name_the_key(tmp_path, edit, message):
    ck = saved_model(tmp_path)
    cfg = json.loads((ck / "config.json").read_text())
    edit(cfg)
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"config\.json: .*" + message):
        load_model(ck)


def test_the_longest_sequence_bounds_real_sequences():
    from agents.transformer.data import eval_set
    from maze_env.tokens import encode_batch

    open_coords = DataConfig(size=3, max_grid=4, canvas=4, generator="percolation",
                             generator_kwargs={"p": 1.0}, scheme="coords")  # fmt: skip
    for data in (DATA, open_coords):
        probs = eval_set(data, 20).problems
        _, lengths = encode_batch(
            probs.conns, probs.origins, probs.targets, probs.paths, probs.path_lengths,
            scheme=data.scheme, vocab=data.vocab,
        )  # fmt: skip
        assert lengths.max() <= data.longest_sequence()
    assert open_coords.longest_sequence() < 2 * lengths.max()  # a bound, not a guess


def test_every_shipped_model_and_checkpoint_records_and_passes_its_hashes():
    from pathlib import Path

    from agents.transformer.policy import MODELS, shipped_models

    root = Path(__file__).resolve().parent.parent
    dirs = [MODELS / n for n in shipped_models()] + sorted((root / "checkpoints").glob("*/"))
    assert len(dirs) >= 3
    for d in dirs:
        cfg = json.loads((d / "config.json").read_text())
        assert set(cfg["sha256"]) == {p.name for p in d.glob("*.safetensors")}, d
        for name in cfg["sha256"]:
            checkpoint.read_tensors(d, name, cfg)
        load_model(d)


@pytest.fixture(scope="module")
def saved_config(tmp_path_factory):
    ck = saved_model(tmp_path_factory.mktemp("fuzz"))
    return ck, json.loads((ck / "config.json").read_text())


JUNK = [None, True, 0, -1, 2**70, 0.5, float("inf"), "", "128", [], {}, {"a": 1}]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["model", "data", "sha256", None]),
            st.sampled_from(
                ["d_model", "n_heads", "n_layers", "d_mlp", "n_ctx", "vocab_size", "positional",
                 "rotary_base", "max_position", "max_grid", "size", "scheme", "generator",
                 "canvas", "queries_per_maze", "model.safetensors", "data", "model"]
            ),
            st.sampled_from(JUNK),
        ),
        min_size=1,
        max_size=3,
    )
)  # fmt: skip
def test_fuzzed_checkpoint_configs_load_or_raise_checkpoint_error(saved_config, edits):
    ck, original = saved_config
    cfg = json.loads(json.dumps(original))
    for section, key, value in edits:
        if section is None:
            cfg[key] = value
        elif isinstance(cfg.get(section), dict):
            cfg[section][key] = value
    (ck / "config.json").write_text(json.dumps(cfg))
    try:
        load_model(ck)
    except CheckpointError as err:
        assert "config.json" in str(err) or "model.safetensors" in str(err)
    finally:
        (ck / "config.json").write_text(json.dumps(original))

"""Data-parallel training (agents.transformer.distributed): 2 gloo processes on CPU train the
same weights as 1 process on the same global batches, resume after a kill, and only rank 0
writes files.  Every process runs 1 torch thread on a tiny model for a few steps."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from hypothesis import given
from hypothesis import strategies as st

from agents.transformer.checkpoint import load_tensors
from agents.transformer.data import DataConfig, training_batch
from agents.transformer.distributed import share
from agents.transformer.model import GPT, GPTConfig
from agents.transformer.train import TrainConfig, Trainer, loss_on, query_logits

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 128}
DATA = DataConfig(size=3, max_grid=3, queries_per_maze=3)
ROOT = Path(__file__).resolve().parents[1]


def _config(steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        name="ddp", model=TINY, data=DATA.to_dict(), batch_mazes=5, steps=steps, warmup_steps=2,
        eval_every=1000, eval_size=8, checkpoint_every=3, log_every=1, threads=1, **kw,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(run: Path) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "log.jsonl").read_text().splitlines()]


@given(st.integers(1, 200), st.integers(1, 16))
def test_shares_cover_the_items_in_rank_order(n, world):
    bounds = [share(n, rank, world) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def test_a_share_of_the_mazes_gives_their_rows_of_the_whole_batch():
    model = GPT(GPTConfig(vocab_size=len(DATA.vocab), **TINY), seed=1)
    batch, _ = training_batch(DATA, 5, np.random.default_rng(3))
    with torch.no_grad():
        whole = query_logits(model, batch)
        parts = [batch.mazes(*share(5, r, 2)) for r in range(2)]
        got = torch.cat([query_logits(model, p) for p in parts])
        tokens = [int((p.labels != -100).sum()) for p in parts]
        weighted = sum(loss_on(model, p) * t for p, t in zip(parts, tokens)) / sum(tokens)
        whole_loss = float(loss_on(model, batch))
    assert [len(p.prefix) for p in parts] == [2, 3]
    assert torch.allclose(got, whole, atol=1e-5)
    assert float(weighted) == pytest.approx(whole_loss, rel=1e-6)


def _rank(rank: int, world: int, port: int, cfg: dict, out: str, audit_root: str) -> None:
    """One spawned rank, with the environment torchrun would give it; rank != 0 fails if it
    opens a file for writing, renames, removes or makes anything under ``audit_root``."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    from agents.transformer.distributed import DistributedTrainer

    writes: list[tuple] = []
    if rank != 0:

        def audit(event: str, args: tuple) -> None:
            if not args or audit_root not in str(args[0]):
                return
            if event == "open":
                mode, flags = args[1], args[2]
                if (mode and any(c in mode for c in "wax+")) or (
                    mode is None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
                ):
                    writes.append((event, str(args[0])))
            elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree"):
                writes.append((event, str(args[0])))

        sys.addaudithook(audit)
    trainer = DistributedTrainer(TrainConfig(**cfg), Path(out))
    trainer.run(progress=False)
    assert not writes, f"rank {rank} wrote {writes}"


def test_two_gloo_processes_train_the_weights_of_one_and_only_rank_0_writes(tmp_path):
    cfg = _config(5, keep_steps=[3])
    straight = Trainer(cfg, tmp_path / "one")
    straight.run(progress=False)
    port = _free_port()
    mp.spawn(
        _rank,
        args=(2, port, asdict(cfg), str(tmp_path / "two"), str(tmp_path)),
        nprocs=2,
        join=True,
    )
    two = load_tensors(tmp_path / "two" / "model.safetensors")
    for name, tensor in straight.model.state_dict().items():
        assert torch.allclose(two[name], tensor, atol=1e-5, rtol=0), name
    assert np.allclose(_losses(tmp_path / "two"), _losses(tmp_path / "one"), atol=1e-6)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    # a 2-process checkpoint resumes on 1 process (any N): the kept step-3 copy, on to step 5
    resumed = Trainer(cfg, tmp_path / "two" / "step_3")
    resumed.resume()
    resumed.run(progress=False)
    for name, tensor in straight.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[name], tensor, atol=1e-5, rtol=0), name


def _torchrun(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(_free_port()), "-m", "agents.transformer", "train",
        "--config", str(config), "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _step(run: Path) -> int:
    try:
        return json.loads((run / "trainer_state.json").read_text())["step"]
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def test_a_killed_torchrun_run_resumes_to_the_losses_of_an_uninterrupted_one(tmp_path):
    steps = 36
    cfg = _config(steps)
    cfg.checkpoint_every = 4
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(asdict(cfg)))
    straight = Trainer(cfg, tmp_path / "straight")
    straight.run(progress=False)
    run = tmp_path / "killed"
    proc = _torchrun(config, run)
    deadline = time.monotonic() + 120
    while _step(run) < 8 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, mid-run
    proc.wait()
    killed_at = _step(run)
    assert 8 <= killed_at < steps, f"killed at step {killed_at} (of {steps})"
    proc = _torchrun(config, run, "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    got, want = _losses(run), _losses(tmp_path / "straight")
    assert len(got) == len(want) == steps
    assert np.allclose(got, want, atol=1e-5)


def test_a_torchrun_data_change_resume_gives_the_losses_of_one_process(tmp_path):
    first = _config(4)
    Trainer(first, tmp_path / "one").run(progress=False)
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    changed = _config(8)
    changed.data = {**DATA.to_dict(), "generator": "wilson", "queries_per_maze": 2}
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(asdict(changed)))
    proc = _torchrun(config, tmp_path / "two", "--resume")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "--data-change" in err  # refused without the flag
    proc = _torchrun(config, tmp_path / "two", "--resume", "--data-change")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    one = Trainer(changed, tmp_path / "one")
    one.resume(data_change=True)
    one.run(progress=False)
    assert np.allclose(_losses(tmp_path / "two"), _losses(tmp_path / "one"), atol=1e-5)
    state = json.loads((tmp_path / "two" / "trainer_state.json").read_text())
    assert state["summary"]["data_changes"] == [{"step": 4, "previous": DATA.to_dict()}]

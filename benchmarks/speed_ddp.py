"""Data-parallel training throughput, measured in one run on this machine's CPUs:

    python -m benchmarks speed ddp [--steps 40] [--config FILE]

2 gloo processes x 1 torch thread (``torchrun --nproc_per_node 2``) against 1 process x 2
threads (plain ``python -m agents.transformer train``), the same config and global batches;
paths/s from each run's own ``train_seconds`` (training steps only: start-up, evaluation and
checkpoints excluded).  It also prints the largest weight difference between the two runs'
final checkpoints (the same training, up to float rounding) and what a step's gradient
all-reduce moves.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from agents.transformer.checkpoint import load_tensors, read_json
from agents.transformer.model import GPT
from agents.transformer.train import TrainConfig

SHIPPED = Path(__file__).resolve().parents[1] / "agents/transformer/configs/shipped_6x6.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(cmd: list[str], cfg: TrainConfig, run: Path, threads: int) -> dict:
    """Run a training command on ``cfg`` with ``threads`` torch threads per process; return
    the run's summary."""
    config = run.with_suffix(".json")
    config.write_text(json.dumps({**asdict(cfg), "threads": threads}))
    args = ["-m", "agents.transformer", "train", "--config", str(config), "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, *cmd, *args, "--no-progress"], env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd + args)} failed:\n{proc.stderr[-3000:]}")
    return read_json(run / "trainer_state.json")["summary"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks speed ddp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--config", type=Path, default=SHIPPED, help="training config (JSON)")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_json(args.config)
    cfg.steps, cfg.eval_every, cfg.eval_size = args.steps, 10**9, 8
    cfg.checkpoint_every, cfg.keep_steps, cfg.log_every = 10**9, [], 10**9
    with tempfile.TemporaryDirectory() as tmp:
        one = _train([], cfg, Path(tmp) / "one", threads=2)
        torchrun = ["-m", "torch.distributed.run", "--nproc_per_node", "2"]
        two = _train([*torchrun, "--master_port", str(_free_port())], cfg, Path(tmp) / "two", 1)
        a, b = (load_tensors(Path(tmp) / r / "model.safetensors") for r in ("one", "two"))
        diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    rate_one = one["paths_seen"] / one["train_seconds"]
    rate_two = two["paths_seen"] / two["train_seconds"]
    params = sum(p.numel() for p in GPT(cfg.model_config()).parameters())
    print(f"config {args.config.name}, {args.steps} steps of {cfg.batch_mazes} mazes")
    print(f"{'1 process x 2 threads':28s} {rate_one:8.1f} paths/s (reference)")
    print(
        f"{'2 gloo processes x 1 thread':28s} {rate_two:8.1f} paths/s {rate_two / rate_one:5.2f}x"
    )
    print(f"largest weight difference between the two runs: {diff:.2e}")
    print(
        f"gradient all-reduce per step: {params / 1e6:.2f}M fp32 parameters = "
        f"{4 * params / 1e6:.1f} MB; a ring all-reduce sends and receives 2(N-1)/N of that "
        "per process"
    )


if __name__ == "__main__":
    main()

"""Train the maze transformer on fresh shortest-path problems (CleanRL-style, one file).

    python -m agents.transformer train --config agents/transformer/configs/shipped_6x6.json
    python -m agents.transformer train --config ... --resume      # continue after a kill
    torchrun --nproc_per_node 4 -m agents.transformer train --config ...  # data-parallel

Every batch ``step`` is generated from ``numpy.random.default_rng([seed, step])``, so a resumed
run sees exactly the data an uninterrupted one would; model, optimizer and schedule state are
restored from the run directory's last checkpoint.  Held-out mazes (a separate seed namespace)
are excluded from training by canonical hash.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from agents.transformer.checkpoint import (
    MODEL_FILE,
    OPTIM_FILE,
    STATE_FILE,
    CheckpointError,
    check_same_step,
    optimizer_tensors,
    read_json,
    read_tensors,
    recover,
    restore_optimizer,
    save_model,
)
from agents.transformer.data import Batch, DataConfig, eval_set, randomize_positions, training_batch
from agents.transformer.evaluate import evaluate
from agents.transformer.length_scaling import RotaryScaling, StretchAugmentation
from agents.transformer.model import GPT, GPTConfig
from agents.transformer.policy import resolve_checkpoint
from agents.transformer.warm_start import warm_start
from maze_env.files import write_text


@dataclass
class TrainConfig:
    """A training run.  Loaded from JSON; every field is documented here."""

    name: str = "run"
    """run name (the default output directory is runs/<name>)"""
    seed: int = 0
    """seeds model init and the data stream (batch t uses default_rng([seed, t]))"""
    model: dict = field(default_factory=dict)
    """GPTConfig fields except vocab_size (taken from the data's vocabulary)"""
    data: dict = field(default_factory=dict)
    """DataConfig fields: size, generator, generator_kwargs, endpoints, scheme, max_grid, ..."""
    batch_mazes: int = 16
    """mazes per batch (each with data.queries_per_maze queries)"""
    steps: int = 20_000
    """optimizer steps in the whole run"""
    lr: float = 1e-3
    """peak learning rate (AdamW)"""
    min_lr_frac: float = 0.05
    """final learning rate as a fraction of lr"""
    warmup_steps: int = 500
    """linear warmup"""
    decay_frac: float = 0.25
    """warmup-stable-decay: the last decay_frac of the steps decay linearly to min_lr"""
    lr_points: list | None = None
    """[[step, lr], ...]: a piecewise-linear learning rate through these points (constant
    beyond the ends) instead of warmup/decay — e.g. to re-warm a decayed run and decay again"""
    keep_steps: list = field(default_factory=list)
    """steps whose checkpoint is also kept as <out>/step_<N> (e.g. the end of a stable phase,
    to continue from it later)"""
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    eval_every: int = 500
    eval_size: int = 500
    checkpoint_every: int = 200
    log_every: int = 10
    precision: str = "fp32"
    """"fp32", or "bf16": the training forward pass under torch.autocast in bfloat16 (weights,
    optimizer and gradients stay fp32; meant for GPUs, runs on CPUs too)"""
    compile: str | None = None
    """a torch.compile backend for the training forward pass ("inductor" on a GPU); None: eager"""
    threads: int = 0
    """torch intra-op threads (0: torch's default)"""
    device: str = "cpu"
    """torch device to train on: "cpu", or "cuda" on a GPU machine (checkpoints load anywhere)"""
    init_from: str | None = None
    """warm start: a model directory or shipped model name whose weights initialise the run
    (same shape; its vocabulary a prefix of the run's, so max_grid may grow; see warm_start.py)"""
    rotary_stretch: dict | None = None
    """{"max_stretch": s, "p": p}: train rotary models with the frequencies of prompts up to s
    times longer (``length_scaling.StretchAugmentation``); None: the trained frequencies only"""

    def __post_init__(self):
        if self.rotary_stretch is not None:
            if self.model.get("positional", "rotary") != "rotary":
                raise ValueError("rotary_stretch needs a rotary model (model.positional 'rotary')")
            unknown = set(self.rotary_stretch) - {"max_stretch", "p"}
            if unknown or "max_stretch" not in self.rotary_stretch:
                raise ValueError(
                    f"rotary_stretch takes 'max_stretch' (required) and 'p', got "
                    f"{sorted(self.rotary_stretch)}"
                )
            StretchAugmentation(**self.rotary_stretch)  # checks the values
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.compile is not None and not isinstance(self.compile, str):
            raise ValueError(
                f"compile must be a torch.compile backend name (e.g. 'inductor') or null, "
                f"got {self.compile!r}"
            )
        points = self.lr_points
        if points is None:
            return
        if not points or any(len(p) != 2 or p[1] < 0 for p in points):
            raise ValueError(f"lr_points must be [step, lr >= 0] pairs, got {points}")
        if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ValueError(f"lr_points: the steps must increase, got {points}")

    @classmethod
    def from_json(cls, path: Path) -> TrainConfig:
        raw = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(
                f"{path}: unknown training config key(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        cfg = cls(**raw)
        cfg.betas = tuple(cfg.betas)
        return cfg

    def data_config(self) -> DataConfig:
        return DataConfig(**self.data)

    def model_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=len(self.data_config().vocab), **self.model)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Warmup → constant → linear decay over the last ``decay_frac`` of the run, or the
    piecewise-linear ``lr_points`` where given."""
    if cfg.lr_points is not None:
        steps, lrs = zip(*cfg.lr_points)
        return float(np.interp(step, steps, lrs))
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    decay_start = cfg.steps * (1 - cfg.decay_frac)
    if step < decay_start:
        return cfg.lr
    frac = min(1.0, (step - decay_start) / max(1.0, cfg.steps - decay_start))
    return cfg.lr * (1 - frac * (1 - cfg.min_lr_frac))


def make_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if n.split(".")[-1].startswith("W_")]
    no_decay = [p for n, p in model.named_parameters() if not n.split(".")[-1].startswith("W_")]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def query_logits(model: GPT, batch) -> torch.Tensor:
    """Run each prefix once, then the query rows against their prefix's KV cache →
    [rows, lq, vocab]."""
    freqs = batch.rotary_frequencies
    _, cache = model(
        batch.prefix, batch.prefix_positions, batch.prefix_mask, return_cache=True,
        rotary_frequencies=freqs,
    )  # fmt: skip
    owner = batch.query_prefix
    cache = [(k.index_select(0, owner), v.index_select(0, owner)) for k, v in cache]
    return model(
        batch.queries, batch.query_positions, batch.query_mask, past=cache,
        rotary_frequencies=None if freqs is None else freqs.index_select(0, owner),
    )  # fmt: skip


def loss_on(model: GPT, batch) -> torch.Tensor:
    logits = query_logits(model, batch)
    return F.cross_entropy(logits.flatten(0, 1), batch.labels.flatten(), ignore_index=-100)


class BatchLoss(torch.nn.Module):
    """``loss_on`` as one module call (what DDP wraps and torch.compile compiles)."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> torch.Tensor:
        return loss_on(self.model, batch)


def compiled(net: torch.nn.Module, cfg: TrainConfig) -> torch.nn.Module:
    """``net`` compiled with ``cfg.compile``'s backend, or ``net`` itself."""
    return torch.compile(net, backend=cfg.compile) if cfg.compile else net


def checkpoint_config(cfg: TrainConfig, summary: dict, command: str) -> dict:
    return {
        "format": "tokenmaze-transformer/1",
        "model": asdict(cfg.model_config()),
        "data": cfg.data_config().to_dict(),
        "training": {"config": asdict(cfg), "summary": summary, "command": command},
    }


class Trainer:
    """Holds a run's model, optimizer and counters; ``run`` trains to ``cfg.steps``."""

    rank = 0  # this process's data-parallel rank (distributed.py); rank 0 alone writes files

    def __init__(self, cfg: TrainConfig, out: Path, command: str = ""):
        self.cfg, self.out, self.command = cfg, Path(out), command
        self.data = cfg.data_config()
        try:
            self.device = torch.device(cfg.device)
        except RuntimeError:
            raise ValueError(
                f"device {cfg.device!r} is not a torch device ('cpu', 'cuda')"
            ) from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {cfg.device!r}: this machine has no CUDA GPU; use 'cpu'")
        self.model = GPT(cfg.model_config(), seed=cfg.seed)
        self.init_from = (
            {
                "from": cfg.init_from,
                **warm_start(self.model, self.data, resolve_checkpoint(cfg.init_from)),
            }
            if cfg.init_from
            else None
        )
        self.model.to(self.device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.step = 0
        self.paths_seen = 0
        self.elapsed = 0.0
        self.replaced = 0
        self.last_eval: dict = {}
        self.losses: list[float] = []  # the steps' losses since the last log line
        self.held_out = eval_set(self.data, cfg.eval_size, seed=cfg.seed)
        self.data_changes: list[dict] = []  # {"step", "previous" data} per --data-change

    # ----------------------------------------------------------------- persistence
    def save(self) -> None:
        summary = {
            "step": self.step,
            "paths_seen": self.paths_seen,
            "train_seconds": round(self.elapsed, 1),
            "held_out": self.last_eval,
            "training_mazes_replaced_for_overlap": self.replaced,
        }
        if self.init_from:
            summary["init_from"] = self.init_from
        if self.data_changes:
            summary["data_changes"] = self.data_changes
        tensors, rest = optimizer_tensors(self.optimizer)
        save_model(
            self.out,
            self.model,
            checkpoint_config(self.cfg, summary, self.command),
            extra={
                OPTIM_FILE: (tensors, {"step": str(self.step)}),
                STATE_FILE: {
                    "step": self.step,
                    "optimizer": rest,
                    "summary": summary,
                    "unlogged_losses": self.losses,
                },
            },
        )

    def keep(self) -> None:
        """Copy the run directory's checkpoint, just saved, to ``<out>/step_<N>`` (all or
        nothing)."""
        kept = self.out / f"step_{self.step}"
        tmp = self.out / f".step_{self.step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name in (MODEL_FILE, OPTIM_FILE, STATE_FILE, "config.json", "log.jsonl"):
            shutil.copy2(self.out / name, tmp / name)
        shutil.rmtree(kept, ignore_errors=True)
        tmp.rename(kept)

    def resume(self, data_change: bool = False) -> None:
        """Continue the run in ``out`` from its checkpoint.  With ``data_change`` the run goes on
        with this config's ``data`` (a curriculum phase: optimizer and step kept, batch ``t``
        drawn from the new data), which must keep the run's ``scheme`` and ``max_grid``; the
        change is recorded in the summary's ``data_changes``."""
        if self.out.is_dir():
            recover(self.out)  # a save killed after its commit point: finish it
        state = read_json(self.out / STATE_FILE)
        config = read_json(self.out / "config.json")
        saved = config["training"]["config"]
        if saved["model"] != self.cfg.model or saved["seed"] != self.cfg.seed:
            raise CheckpointError(f"{self.out}: the run was started with another model/seed config")
        changes = list(state["summary"].get("data_changes", []))
        if saved["data"] != self.cfg.data:
            if not data_change:
                raise CheckpointError(
                    f"{self.out}: the run was started with another data config "
                    "(pass --data-change to continue it on this config's data)"
                )
            previous = DataConfig(**saved["data"])
            for key in ("scheme", "max_grid"):
                before, after = getattr(previous, key), getattr(self.data, key)
                if before != after:
                    raise CheckpointError(
                        f"{self.out}: data.{key} {after!r} differs from the run's {before!r}; "
                        "a data change keeps the token format and vocabulary (data.scheme, "
                        "data.max_grid)"
                    )
            changes.append({"step": state["step"], "previous": saved["data"]})
        check_same_step(self.out, state["step"], (MODEL_FILE, OPTIM_FILE))
        self.model.load_state_dict(read_tensors(self.out, MODEL_FILE, config))
        tensors = read_tensors(self.out, OPTIM_FILE, config)
        restore_optimizer(self.optimizer, tensors, state["optimizer"])
        self.losses = list(state.get("unlogged_losses", []))  # older runs did not save them
        summary = state["summary"]
        self.step = state["step"]
        self.paths_seen = summary["paths_seen"]
        self.elapsed = summary["train_seconds"]
        self.replaced = summary["training_mazes_replaced_for_overlap"]
        self.last_eval = summary["held_out"]
        self.init_from = summary.get("init_from")
        self.data_changes = changes
        self._truncate_log()

    def _truncate_log(self) -> None:
        log = self.out / "log.jsonl"
        if log.exists():
            keep = []
            for ln in log.read_text().splitlines():
                try:
                    record = json.loads(ln)
                except json.JSONDecodeError:  # a line torn by a kill mid-write: never checkpointed
                    break
                if record["step"] <= self.step:
                    keep.append(ln)
            write_text(log, "".join(ln + "\n" for ln in keep))

    def log(self, record: dict) -> None:
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    # ----------------------------------------------------------------- training
    def train_step(self) -> float:
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.step])
        batch, replaced = training_batch(
            self.data, cfg.batch_mazes, rng, exclude=self.held_out.hashes
        )
        self.replaced += replaced
        if self.model.cfg.positional == "randomized":
            batch = randomize_positions(batch, rng, self.model.cfg.max_position)
        if cfg.rotary_stretch is not None:
            batch = StretchAugmentation(**cfg.rotary_stretch).apply(
                batch, rng, self.model.cfg, RotaryScaling(self.data.longest_sequence())
            )
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(cfg, self.step)
        self.model.train()
        loss = self.batch_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.paths_seen += cfg.batch_mazes * self.data.queries_per_maze
        return float(loss.detach())

    @functools.cached_property
    def net(self) -> torch.nn.Module:
        """What a training step calls with a batch for its loss."""
        return compiled(BatchLoss(self.model), self.cfg)

    def batch_loss(self, batch: Batch) -> torch.Tensor:
        """The mean loss of ``batch`` (pinned and copied asynchronously to a GPU)."""
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        bf16 = self.cfg.precision == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            return self.net(batch.to(self.device, non_blocking=True))

    def held_out_eval(self) -> dict:
        return {**evaluate(self.model, self.data, self.held_out), "step": self.step}

    def prepare_out(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        if self.step == 0:  # a run killed before its first checkpoint leaves no lines to keep
            (self.out / "log.jsonl").unlink(missing_ok=True)

    def run(self, progress: bool = True) -> dict:
        cfg = self.cfg
        self.prepare_out()
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=not progress,
            desc=cfg.name,
            dynamic_ncols=True,
        )
        while self.step < cfg.steps:
            start = time.perf_counter()
            self.losses.append(self.train_step())
            self.elapsed += time.perf_counter() - start
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                record = {
                    "step": self.step,
                    "loss": float(np.mean(self.losses)),
                    "lr": learning_rate(cfg, self.step - 1),
                    "paths_seen": self.paths_seen,
                    "train_seconds": round(self.elapsed, 1),
                }
                self.losses = []
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    self.last_eval = self.held_out_eval()
                    record["eval"] = self.last_eval
                self.log(record)
                bar.set_postfix(
                    loss=f"{record['loss']:.4f}", exact=self.last_eval.get("exact", float("nan"))
                )
            kept = self.step in cfg.keep_steps
            if kept or self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save()
            if kept:
                self.keep()
        bar.close()
        return self.last_eval


def main(argv: list[str] | None = None) -> None:
    from agents.transformer.cli import train_parser

    args = train_parser().parse_args(argv)
    cfg = TrainConfig.from_json(args.config)
    if args.steps is not None:
        cfg.steps = args.steps
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.device.startswith("cuda"):
        torch.set_float32_matmul_precision("high")  # TF32 matmuls on a GPU
    out = args.out or Path("runs") / cfg.name
    command = "python -m agents.transformer train " + shlex.join(
        argv if argv is not None else sys.argv[2:]
    )
    if "WORLD_SIZE" in os.environ:  # started by torchrun: one data-parallel rank
        from agents.transformer.distributed import DistributedTrainer

        trainer = DistributedTrainer(cfg, out, command)
    else:
        trainer = Trainer(cfg, out, command)
    if args.data_change and not args.resume:
        raise SystemExit("--data-change continues a run: pass it with --resume")
    if args.resume:
        trainer.resume(data_change=args.data_change)
        if trainer.rank == 0:
            print(f"resumed {out} at step {trainer.step}", file=sys.stderr)
    elif (out / STATE_FILE).exists():
        raise SystemExit(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    result = trainer.run(progress=not args.no_progress)
    if trainer.rank == 0:
        print(json.dumps({"run": str(out), "step": trainer.step, "held_out": result}))


if __name__ == "__main__":
    main()

"""Data-parallel training: one ``DistributedTrainer`` per process, started by ``torchrun``.

    torchrun --nproc_per_node 4 -m agents.transformer train --config FILE [--resume]
    torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --master_addr HOST --master_port 29500 \\
        -m agents.transformer train --config FILE               # on each of two machines

The model is wrapped in ``DistributedDataParallel`` (backend gloo on CPU, NCCL on CUDA, one GPU
per process: ``cuda:LOCAL_RANK``).  Every rank builds the same global batch of step ``t`` from
``default_rng([seed, t])``, exactly as a single process does, and trains on its own contiguous
share of the batch's mazes; each rank's loss is weighted by its share of the batch's label
tokens, so the averaged gradient is the single-process gradient of the whole batch.  The global
batch, the data seen and the run's checkpoints therefore do not depend on the number of
processes, and ``--resume`` continues a run on any number of them.  Rank 0 alone evaluates and
writes the log and checkpoints; on ``--resume`` it alone reads the checkpoint and sends the
state to the other ranks (no shared filesystem needed).
"""

from __future__ import annotations

import atexit
import functools
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from agents.transformer.checkpoint import optimizer_tensors, restore_optimizer
from agents.transformer.data import Batch
from agents.transformer.train import BatchLoss, TrainConfig, Trainer, compiled


def share(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous ``[start, stop)`` of ``n`` items that ``rank`` of ``world`` takes (the
    shares differ by at most one item and cover all ``n`` in rank order)."""
    return n * rank // world, n * (rank + 1) // world


def _env_int(name: str) -> int:
    value = os.environ.get(name)
    if value is None or not value.isdigit():
        raise RuntimeError(f"data-parallel training needs ${name} (set by torchrun), got {value!r}")
    return int(value)


class DistributedTrainer(Trainer):
    """A ``Trainer`` for one rank of a torchrun job (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
    the rendezvous come from the environment torchrun sets)."""

    def __init__(self, cfg: TrainConfig, out: Path, command: str = ""):
        self.rank, self.world = _env_int("RANK"), _env_int("WORLD_SIZE")
        if cfg.batch_mazes < self.world:
            raise ValueError(
                f"batch_mazes={cfg.batch_mazes} cannot be shared by {self.world} processes: "
                "each needs at least one maze"
            )
        if cfg.device not in ("cpu", "cuda"):
            raise ValueError(
                f"device {cfg.device!r}: under torchrun use 'cpu' or 'cuda' (each process then "
                "takes cuda:LOCAL_RANK)"
            )
        if cfg.device == "cuda":
            local = _env_int("LOCAL_RANK")
            if local >= torch.cuda.device_count():
                raise ValueError(
                    f"LOCAL_RANK {local}: this machine has {torch.cuda.device_count()} CUDA "
                    "GPU(s); start at most that many processes per node"
                )
            torch.cuda.set_device(local)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cfg.device == "cuda" else "gloo")
            atexit.register(dist.destroy_process_group)
        super().__init__(cfg, out, command)
        self.net  # noqa: B018  (DDP broadcasts rank 0's weights now, while every rank is here)

    @functools.cached_property
    def net(self) -> torch.nn.Module:
        return compiled(
            DistributedDataParallel(BatchLoss(self.model), broadcast_buffers=False), self.cfg
        )

    def batch_loss(self, batch: Batch) -> torch.Tensor:
        """This rank's share of the mazes, its mean loss weighted by its share of the label
        tokens times the world size (DDP averages gradients over the ranks)."""
        start, stop = share(len(batch.prefix), self.rank, self.world)
        mine = batch.mazes(start, stop)
        tokens = int((mine.labels != -100).sum()), int((batch.labels != -100).sum())
        return super().batch_loss(mine) * (self.world * tokens[0] / tokens[1])

    def train_step(self) -> float:
        """One step; returns the global batch's mean loss (the same on every rank)."""
        loss = torch.tensor(super().train_step(), dtype=torch.float64, device=self.device)
        dist.all_reduce(loss)
        return float(loss) / self.world

    # ------------------------------------------------------- rank 0 alone reads and writes
    def resume(self, data_change: bool = False) -> None:
        state = [None]
        if self.rank == 0:
            super().resume(data_change)
            tensors, rest = optimizer_tensors(self.optimizer)
            state = [
                {
                    "model": {k: v.cpu() for k, v in self.model.state_dict().items()},
                    "optimizer": ({k: v.cpu() for k, v in tensors.items()}, rest),
                    "counters": (self.step, self.paths_seen, self.elapsed, self.replaced),
                }
            ]
        dist.broadcast_object_list(state, src=0, device=self.device)
        if self.rank != 0:
            self.model.load_state_dict(state[0]["model"])
            restore_optimizer(self.optimizer, *state[0]["optimizer"])
            self.step, self.paths_seen, self.elapsed, self.replaced = state[0]["counters"]

    def run(self, progress: bool = True) -> dict:
        return super().run(progress and self.rank == 0)

    def held_out_eval(self) -> dict:
        return super().held_out_eval() if self.rank == 0 else {}

    def prepare_out(self) -> None:
        if self.rank == 0:
            super().prepare_out()

    def log(self, record: dict) -> None:
        if self.rank == 0:
            super().log(record)

    def save(self) -> None:
        if self.rank == 0:
            super().save()

    def keep(self) -> None:
        if self.rank == 0:
            super().keep()

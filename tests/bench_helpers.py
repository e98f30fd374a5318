"""A tiny third-party agent for the benchmark CLI tests (loaded as ``bench_helpers:SlowWalker``)."""

from __future__ import annotations

import time

import numpy as np

from maze_env import vocabulary


class SlowWalker:
    """Picks a seeded random legal action (from the action mask), sleeping ``delay`` s per step."""

    def __init__(self, seed: int = 0, delay: float = 0.02):
        self.rng = np.random.default_rng(seed)
        self.delay = delay

    def reset(self, obs, info) -> None:
        pass

    def act(self, obs, info) -> int:
        time.sleep(self.delay)
        legal = np.flatnonzero(np.asarray(info["action_mask"]))
        if len(legal) == 0:
            return vocabulary(int(info["max_grid"])).special["<PATH_END>"]
        return int(self.rng.choice(legal))


def report_and_sleep(path: str) -> None:
    """A cell that never ends: writes a file named after its worker's pid, then sleeps."""
    import os
    from pathlib import Path

    Path(path, str(os.getpid())).touch()
    time.sleep(600)


def torch_threads(_item) -> int:
    """The size of torch's thread pool in the process that runs this (an executor worker)."""
    import torch

    return torch.get_num_threads()

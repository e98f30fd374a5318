"""Where cells run: one small interface, two backends (local processes, Ray).

An executor maps a picklable, top-level function over items and yields ``(item, result)`` as
each finishes (in any order; the runner sorts).  Results never depend on the backend or on the
worker count, because every cell seeds itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from agents.ray_start import start_ray


class Executor(Protocol):
    def map_unordered(
        self, fn: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item))`` as each finishes."""

    def close(self) -> None: ...


PARENT_POLL_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """Poll the parent's pid; when the parent dies (even by SIGKILL) the worker is re-parented,
    and it exits at once instead of living on as an orphan."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(threads: int, parent: int) -> None:
    """Give each worker process its share of the cores (before torch or numba spin up pools),
    and tie its life to the parent's."""
    cap_threads(threads)
    if os.getppid() != parent:  # the parent died while this worker started
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


EPISODES_PER_WORKER = 200  # less work than this per worker: its start-up costs more than it saves
MAX_AUTO_WORKERS = 8


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_workers(n_cells: int, n_episodes: int) -> int:
    """Workers where they help: one per core (at most ``MAX_AUTO_WORKERS``), no more than there
    are cells, one per ``EPISODES_PER_WORKER`` episodes of work (a small run stays in-process)."""
    return max(1, min(usable_cores(), MAX_AUTO_WORKERS, n_cells, n_episodes // EPISODES_PER_WORKER))


def threads_per_worker(workers: int) -> int:
    """Compute threads per worker so that workers x threads never exceeds the usable cores: an
    oversubscribed torch pool on a busy machine spins on descheduled threads (15x slower)."""
    return max(1, usable_cores() // max(1, workers))


def cap_threads(threads: int) -> None:
    """At most ``threads`` compute threads in this process: the OpenMP / MKL / numba variables
    (read when those libraries load) and torch's pool when torch is already loaded.  A lower
    limit already set (``OMP_NUM_THREADS=1``) is kept: this only ever lowers."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        current = os.environ.get(var, "")
        if not (current.isdigit() and 0 < int(current) <= threads):
            os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() > threads:
        torch.set_num_threads(threads)


class ProcessExecutor:
    """Local worker processes (spawned: safe with torch); ``workers <= 1`` runs in this process.

    Each worker (or this process) gets ``threads_per_worker(workers)`` compute threads.
    """

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self.threads = threads_per_worker(workers)
        self._pool: cf.ProcessPoolExecutor | None = None

    def map_unordered(self, fn, items):
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            cap_threads(self.threads)
            for item in items:
                yield item, fn(item)
            return
        self._pool = self._pool or cf.ProcessPoolExecutor(
            self.workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.threads, os.getpid()),
        )
        futures = {self._pool.submit(fn, item): item for item in items}
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class RayExecutor:
    """Cells as Ray tasks: a local instance (``num_cpus``) or a cluster (``address``)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self._ray, self._owns = start_ray(address, num_cpus, "--executor ray")

    def map_unordered(self, fn, items):
        remote = self._ray.remote(fn)
        pending = {remote.remote(item): item for item in items}
        while pending:
            done, _ = self._ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), self._ray.get(ref)

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(kind: str = "process", workers: int = 1, address: str | None = None) -> Executor:
    """``"process"`` (``workers`` local processes) or ``"ray"`` (``address``, else local)."""
    if kind == "process":
        return ProcessExecutor(workers)
    if kind == "ray":
        return RayExecutor(address, num_cpus=workers)
    raise ValueError(f"unknown executor {kind!r}; use 'process' or 'ray'")

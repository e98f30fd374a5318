"""Throughput measurement shared by the speed benchmarks (``python -m benchmarks speed ...``)."""

from __future__ import annotations

import time
from collections.abc import Callable

Work = Callable[[], int]  # does some work, returns how many units (items, steps, frames) it did


def rate(work: Work, seconds: float, warmup: int = 1) -> float:
    """Units per second of ``work``: ``warmup`` untimed calls, then calls (at least one) until
    ``seconds`` pass."""
    for _ in range(warmup):
        work()
    done, start = 0, time.perf_counter()
    while True:
        done += work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def best_rates(works: list[Work], seconds: float, rounds: int) -> list[float]:
    """Units per second of each of ``works``, measured side by side: after one warm-up call
    each, they take turns for ``rounds`` rounds of ``seconds / rounds``, and each reports its
    best round (a burst of load on a shared machine then hits one round of one side, not the
    ratio)."""
    for work in works:
        work()
    best = [0.0] * len(works)
    for _ in range(rounds):
        for k, work in enumerate(works):
            best[k] = max(best[k], rate(work, seconds / rounds, warmup=0))
    return best

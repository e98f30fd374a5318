"""Aggregation of per-episode metrics into 95% confidence intervals.

The per-episode judge is ``maze_env.judge`` (``score``, ``walk``, ``EpisodeMetrics``; its
docstring defines every metric); this module only aggregates.  ``aggregate`` turns a list of
episodes into 95% confidence intervals: Wilson intervals for the rates (fork accuracy pools every
fork of every episode), seeded percentile bootstrap for means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from maze_env.judge import VIOLATION_KINDS, EpisodeMetrics

__all__ = [
    "AGGREGATE_METRICS",
    "MEAN_METRICS",
    "RATE_METRICS",
    "aggregate",
    "bootstrap_difference",
    "bootstrap_mean",
    "wilson",
]

RATE_METRICS = ("success", "exact_path", "target_reached", "valid_path")
MEAN_METRICS = ("node_overlap", "length_ratio")
MISS_START = (
    "miss_start"  # share of the shortest path followed before a missed episode's first slip
)
Z95 = 1.959963984540054


# --------------------------------------------------------------------------- aggregation


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; (nan, nan) when n == 0."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_mean(
    values: Sequence[float], seed: int = 0, n_boot: int = 2000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded, so reproducible); nan when empty."""
    x = np.asarray(values, np.float64)
    if x.size == 0:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_difference(
    x: Sequence[float],
    y: Sequence[float],
    paired: bool,
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """mean(x) - mean(y) and its percentile bootstrap interval (seeded).  ``paired``: x[i] and
    y[i] come from the same episode seed, so pairs are resampled together (a shared maze's
    difficulty cancels); else each side is resampled on its own."""
    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan, math.nan
    diff = float(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired samples differ in size: {a.size} and {b.size}")
        d = a - b
        boots = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(1)
    else:
        boots = (a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(1)
                 - b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(1))  # fmt: skip
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return diff, float(lo), float(hi)


def _stat(value: float, lo: float, hi: float, n: int) -> dict:
    return {"value": value, "lo": lo, "hi": hi, "n": n}


def aggregate(episodes: Sequence[EpisodeMetrics | dict], seed: int = 0) -> dict[str, dict]:
    """Metric name → {"value", "lo", "hi", "n"} with 95% intervals (nan value when n == 0).

    Rates (``RATE_METRICS``, ``fork_accuracy`` pooled over forks) use Wilson intervals; means
    (``MEAN_METRICS`` over the episodes where they are defined, ``miss_start`` over the missed
    episodes: the share of the shortest path followed before the first slip, and
    ``violations.<kind>`` per episode) use a percentile bootstrap seeded with ``seed``.
    """
    eps = [e.to_dict() if isinstance(e, EpisodeMetrics) else e for e in episodes]
    out: dict[str, dict] = {}
    n = len(eps)
    for name in RATE_METRICS:
        k = sum(bool(e[name]) for e in eps)
        out[name] = _stat(k / n if n else math.nan, *wilson(k, n), n)
    correct = sum(e["fork_correct"] for e in eps)
    total = sum(e["fork_total"] for e in eps)
    out["fork_accuracy"] = _stat(
        correct / total if total else math.nan, *wilson(correct, total), total
    )
    columns = {name: [e[name] for e in eps if e[name] is not None] for name in MEAN_METRICS}
    columns[MISS_START] = [
        e["prefix_steps"] / e["optimal_length"]
        for e in eps
        if not e["exact_path"] and e["optimal_length"] > 0 and "prefix_steps" in e
    ]
    columns.update({f"violations.{k}": [e["violations"][k] for e in eps] for k in VIOLATION_KINDS})
    for name, xs in columns.items():
        mean = float(np.mean(xs)) if xs else math.nan
        out[name] = _stat(mean, *bootstrap_mean(xs, seed), len(xs))
    return out


AGGREGATE_METRICS = (
    *RATE_METRICS,
    "fork_accuracy",
    *MEAN_METRICS,
    MISS_START,
    *(f"violations.{k}" for k in VIOLATION_KINDS),
)

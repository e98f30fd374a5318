"""Config sweeps on Ray Tune: every trial is a normal, resumable training run in its own folder.

    python -m agents.transformer sweep --config FILE --grid lr=1e-3,3e-4 --grid model.d_model=64,128
    python -m agents.transformer sweep --sweep sweep.toml [--address ray://HOST:10001] [--resume]

A grid key is a training-config key, dotted into its sections (``model.d_model``,
``data.queries_per_maze``); its values are JSON (``1e-3``, ``"rotary"``, ``[4, 6]``) or bare
words.  A TOML sweep file holds ``config = "base.json"`` (relative to the file), optionally
``out = "DIR"``, and a ``[grid]`` table of ``key = [values]``; ``--grid`` adds to it or replaces
its keys.  Trial ``<out>/<key=value,...>/`` is a run directory like any other (checkpoint,
``log.jsonl``, and its full ``train_config.json``), reporting the held-out exact-path rate to
Tune after each evaluation; ``--resume`` continues unfinished trials.  The ranking of the trials
by their last held-out exact-path rate goes to ``<out>/sweep.csv``, ``sweep.md`` and
``sweep.png`` (exact rate against training step from the trials' logs, one line each).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import sys
import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import torch

from agents.ray_start import start_ray
from agents.transformer.checkpoint import STATE_FILE
from agents.transformer.train import TrainConfig, Trainer
from maze_env.files import write_file, write_text

METRICS = ("exact", "reached", "fork_accuracy", "step", "loss", "paths_seen", "train_seconds")
# the ranking table's columns after the trial and its grid values: its last report to Tune


def parse_value(text: str):
    """A grid value: JSON where it parses (numbers, strings in quotes, lists), else the word."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["lr=1e-3,3e-4", ...]`` → ``{"lr": [0.001, 0.0003], ...}`` (values split on commas
    outside brackets)."""
    grid = {}
    for spec in specs:
        key, sep, rest = spec.partition("=")
        if not sep or not key or not rest:
            raise ValueError(f"--grid {spec!r}: expected KEY=V1,V2,... (e.g. lr=1e-3,3e-4)")
        values, depth, start = [], 0, 0
        for i, ch in enumerate(rest + ","):
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            elif ch == "," and depth == 0:
                values.append(parse_value(rest[start:i].strip()))
                start = i + 1
        grid[key.strip()] = values
    return grid


def with_value(config: dict, key: str, value) -> dict:
    """A copy of a training-config dict with the dotted ``key`` set to ``value``."""
    known = {f.name for f in fields(TrainConfig)}
    parts = key.split(".")
    if parts[0] not in known:
        raise ValueError(
            f"grid key {key!r}: {parts[0]!r} is not a training config key ({sorted(known)})"
        )
    if len(parts) > 1 and parts[0] not in ("model", "data"):
        raise ValueError(f"grid key {key!r}: only model.* and data.* keys have sub-keys")
    out = json.loads(json.dumps(config))
    node = out
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def trial_name(overrides: dict) -> str:
    """``lr=0.001,model.d_model=128``: a trial's directory name, from its grid values."""
    text = ",".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in overrides.items())
    return text.replace("/", "_").replace('"', "")


def trials(base: dict, grid: dict[str, list]) -> dict[str, dict]:
    """Every grid combination (the last key varying fastest) → its full training config, each
    checked as a TrainConfig (a bad value is reported with its trial's name)."""
    if not grid:
        raise ValueError("a sweep needs at least one --grid KEY=V1,V2 (or a [grid] table)")
    out = {}
    for combo in itertools.product(*grid.values()):
        overrides = dict(zip(grid, combo))
        config = base
        for key, value in overrides.items():
            config = with_value(config, key, value)
        name = trial_name(overrides)
        try:
            cfg = TrainConfig(**config)
            cfg.model_config()
        except (TypeError, ValueError) as err:
            raise ValueError(f"sweep trial {name}: {err}") from None
        out[name] = {**config, "name": name, "betas": list(cfg.betas)}
    return out


class SweepTrainer(Trainer):
    """A trial's Trainer: reports each held-out evaluation to Ray Tune as it is logged."""

    reported = False

    def log(self, record: dict) -> None:
        super().log(record)
        if "eval" in record:
            self.report(record)

    def report(self, record: dict) -> None:
        """Send a log record with an evaluation to Tune, flat: its eval's rates beside its
        step, loss, paths_seen and train_seconds."""
        from ray import tune

        tune.report({k: v for k, v in record.items() if k != "eval"} | record["eval"])
        self.reported = True


def run_trial(tune_config: dict, configs: dict, root: str) -> None:
    """Ray Tune's function trainable: train trial ``tune_config["trial"]`` in ``root/<name>``
    (resuming its checkpoint if it holds one)."""
    name = tune_config["trial"]
    out = Path(root) / name
    config_file = write_text(out / "train_config.json", json.dumps(configs[name], indent=2) + "\n")
    cfg = TrainConfig.from_json(config_file)
    torch.set_num_threads(cfg.threads or 1)
    command = f"python -m agents.transformer train --config {config_file} --out {out}"
    trainer = SweepTrainer(cfg, out, command)
    if (out / STATE_FILE).exists():
        trainer.resume()
    trainer.run(progress=False)
    if not trainer.reported:  # a finished trial resumed: report its last logged evaluation
        trainer.report(evaluations(out)[-1])


def evaluations(run: Path) -> list[dict]:
    """The records of a run's ``log.jsonl`` that hold a held-out evaluation."""
    lines = (Path(run) / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "eval" in r]


def ranking(results, configs: dict, grid: dict) -> list[dict]:
    """One row per trial from its last report to Tune, best held-out exact rate first."""
    rows = []
    for result in results:
        name = result.config["trial"]
        overrides = {k: _get(configs[name], k) for k in grid}
        metrics = result.metrics or {}
        row = {"trial": name, **overrides, **{m: metrics.get(m, math.nan) for m in METRICS}}
        row["status"] = "ok" if result.error is None else f"error: {result.error}"
        rows.append(row)
    rows.sort(key=lambda r: (math.inf if math.isnan(r["exact"]) else -r["exact"], r["trial"]))
    return [{"rank": i + 1, **row} for i, row in enumerate(rows)]


def _get(config: dict, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def write_tables(out: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "sweep.csv", buf.getvalue())
    cols = list(rows[0])
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    write_text(out / "sweep.md", "\n".join(lines) + "\n")


def plot(out: Path, rows: list[dict]) -> None:
    """Held-out exact rate against step from each trial's log, one line per trial (legend in
    rank order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        run = out / row["trial"]
        evals = evaluations(run) if (run / "log.jsonl").exists() else []
        steps, exact = [r["step"] for r in evals], [r["eval"]["exact"] for r in evals]
        ax.plot(steps, exact, marker="o", label=f"#{row['rank']} {row['trial']}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out exact-path rate")
    ax.set_title("sweep trials, best first")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_file(out / "sweep.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def sweep(
    base: dict,
    grid: dict[str, list],
    out: Path,
    *,
    address: str | None = None,
    resume: bool = False,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    num_cpus: int | None = None,
) -> list[dict]:
    """Run every trial of ``grid`` over ``base`` on Ray Tune; write and return the ranking."""
    configs = trials(base, grid)
    out = Path(out).resolve()
    held = [n for n in configs if (out / n / STATE_FILE).exists()]
    if held and not resume:
        raise SystemExit(f"{out} already holds trial(s) {held}; pass --resume to continue them")
    cfg = TrainConfig(**base)
    resources = {
        "cpu": cpus_per_trial if cpus_per_trial is not None else (cfg.threads or 1),
        "gpu": gpus_per_trial if gpus_per_trial is not None else int(cfg.device == "cuda"),
    }
    start_ray(address, num_cpus, "sweep")
    from ray import tune

    trainable = tune.with_parameters(run_trial, configs=configs, root=str(out))
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        param_space={"trial": tune.grid_search(list(configs))},
        tune_config=tune.TuneConfig(metric="exact", mode="max"),
        run_config=tune.RunConfig(name="tune", storage_path=str(out), verbose=0),
    )
    results = tuner.fit()
    rows = ranking(results, configs, grid)
    write_tables(out, rows)
    plot(out, rows)
    return rows


def load_sweep_file(path: Path) -> tuple[Path, dict, Path | None]:
    """(base config path, grid, out or None) from a TOML sweep file."""
    raw = tomllib.loads(Path(path).read_text())
    unknown = set(raw) - {"config", "grid", "out"}
    if unknown:
        raise ValueError(
            f"{path}: unknown sweep key(s) {sorted(unknown)}; known: config, grid, out"
        )
    grid = raw.get("grid", {})
    if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
        raise ValueError(f"{path}: [grid] must map keys to lists of values")
    config = Path(path).parent / raw["config"] if "config" in raw else None
    out = Path(path).parent / raw["out"] if "out" in raw else None
    return config, grid, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.transformer sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="base JSON training config")
    parser.add_argument("--sweep", type=Path, help="TOML sweep file (config, [grid], out)")
    parser.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... (repeatable)")
    parser.add_argument("--out", type=Path, help="sweep directory (default sweeps/<name>)")
    parser.add_argument("--address", help="Ray cluster address (ray://HOST:10001); default local")
    parser.add_argument("--resume", action="store_true", help="continue the trials already run")
    parser.add_argument("--steps", type=int, help="override every trial's total steps")
    parser.add_argument("--cpus-per-trial", type=float, help="default: the config's threads or 1")
    parser.add_argument("--gpus-per-trial", type=float, help="default: 1 if device is cuda")
    parser.add_argument("--num-cpus", type=int, help="CPUs of a local Ray instance (default all)")
    args = parser.parse_args(argv)
    config, grid, out = (None, {}, None) if args.sweep is None else load_sweep_file(args.sweep)
    config = args.config or config
    if config is None:
        parser.error("give --config (or a --sweep file with config = ...)")
    try:
        grid = {**grid, **parse_grid(args.grid)}
        base = asdict(TrainConfig.from_json(config))
        if args.steps is not None:
            base["steps"] = args.steps
        out = args.out or out or Path("sweeps") / base["name"]
        rows = sweep(
            base, grid, out, address=args.address, resume=args.resume,
            cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
            num_cpus=args.num_cpus,
        )  # fmt: skip
    except (ValueError, RuntimeError) as err:
        raise SystemExit(f"error: {err}") from None
    print((Path(out) / "sweep.md").read_text(), end="")
    if any(r["status"] != "ok" for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()

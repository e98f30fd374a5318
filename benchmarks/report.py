"""Results of a run: ``results.json`` (versioned schema + validator), CSV, Markdown, plots, GIFs.

``results.json`` (schema ``tokenmaze.benchmarks.results``, version ``SCHEMA_VERSION``)::

    {
      "schema": "tokenmaze.benchmarks.results", "schema_version": 1,
      "suite": {"name": str, "description": str, "source": str},
      "conditions": [{"name": str, "env": {TokenMaze-v0 kwargs}, "episodes": int, "seed": int}],
      "agents": [{"name": str, "label": str, "kwargs": {}}],
      "records": [                       # one per agent x condition, in plan order
        {"condition": str, "agent": str, "episodes": int, "error": str | null,
         "metrics": {METRIC: {"value": float, "lo": float, "hi": float, "n": int}},
         "by_target": {"shape": [rows, cols], "episodes": [[int]], "success": [[int]]}}
      ],
      "run": {...}                       # wall times, executor, versions: not compared
    }

``METRIC`` ranges over ``benchmarks.metrics.AGGREGATE_METRICS``; ``value`` is NaN (JSON ``NaN``)
where no episode defines it.  Everything but ``run`` is a pure function of the suite and agents.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.metrics import AGGREGATE_METRICS, aggregate, walk
from benchmarks.runner import write_json_atomic
from benchmarks.suites import AgentSpec, Suite
from maze_env.files import write_text

SCHEMA = "tokenmaze.benchmarks.results"
SCHEMA_VERSION = 1
TABLE_METRICS = ("success", "exact_path", "target_reached", "valid_path", "node_overlap",
                 "fork_accuracy", "length_ratio")  # fmt: skip


class SchemaError(ValueError):
    """results.json does not follow the schema; the message names the offending path."""


def _by_target(episodes: list[dict]) -> dict | None:
    if not episodes:
        return None
    rows, cols = episodes[0]["shape"]
    count = np.zeros((rows, cols), int)
    success = np.zeros((rows, cols), int)
    for e in episodes:
        r, c = e["target"]
        count[r, c] += 1
        success[r, c] += bool(e["metrics"]["success"])
    return {"shape": [rows, cols], "episodes": count.tolist(), "success": success.tolist()}


def assemble(
    suite: Suite, agents: list[AgentSpec], cells: list[dict], run: dict, seed: int = 0
) -> dict:
    """Aggregate finished cells (plan order) into the results document."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for cell in cells:
        grouped[cell["condition"], cell["agent"]].append(cell)
    records = []
    for cond in suite.conditions:
        for agent in agents:
            parts = grouped[cond.name, agent.label]
            errors = [p["error"] for p in parts if p.get("error")]
            eps = sorted((e for p in parts for e in p["episodes"]), key=lambda e: e["index"])
            records.append({
                "condition": cond.name,
                "agent": agent.label,
                "episodes": len(eps),
                "error": errors[0] if errors else None,
                "metrics": aggregate([e["metrics"] for e in eps], seed=seed),
                "by_target": _by_target(eps),
            })  # fmt: skip
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "suite": {"name": suite.name, "description": suite.description, "source": suite.source},
        "conditions": [c.to_dict() for c in suite.conditions],
        "agents": [a.to_dict() for a in agents],
        "records": records,
        "run": run,
    }


def _require(obj, key: str, kind, where: str):
    if not isinstance(obj, dict) or key not in obj:
        raise SchemaError(f"{where}: missing key {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SchemaError(
            f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}"
        )
    return value


def validate(results: dict) -> None:
    """Raise SchemaError naming the first path that breaks the schema (see module docstring)."""
    if _require(results, "schema", str, "results") != SCHEMA:
        raise SchemaError(f"results.schema: expected {SCHEMA!r}, got {results['schema']!r}")
    if _require(results, "schema_version", int, "results") != SCHEMA_VERSION:
        raise SchemaError(
            f"results.schema_version: this reader knows {SCHEMA_VERSION}, "
            f"got {results['schema_version']}"
        )
    suite = _require(results, "suite", dict, "results")
    for key in ("name", "description", "source"):
        _require(suite, key, str, "results.suite")
    conds = {_require(c, "name", str, f"results.conditions[{i}]")
             for i, c in enumerate(_require(results, "conditions", list, "results"))}  # fmt: skip
    for i, c in enumerate(results["conditions"]):
        _require(c, "env", dict, f"results.conditions[{i}]")
        _require(c, "episodes", int, f"results.conditions[{i}]")
        _require(c, "seed", int, f"results.conditions[{i}]")
    labels = {_require(a, "label", str, f"results.agents[{i}]")
              for i, a in enumerate(_require(results, "agents", list, "results"))}  # fmt: skip
    _require(results, "run", dict, "results")
    for i, rec in enumerate(_require(results, "records", list, "results")):
        at = f"results.records[{i}]"
        if _require(rec, "condition", str, at) not in conds:
            raise SchemaError(f"{at}.condition: {rec['condition']!r} is not a listed condition")
        if _require(rec, "agent", str, at) not in labels:
            raise SchemaError(f"{at}.agent: {rec['agent']!r} is not a listed agent")
        _require(rec, "episodes", int, at)
        if rec.get("error", None) is not None and not isinstance(rec["error"], str):
            raise SchemaError(f"{at}.error: expected a string or null")
        metrics = _require(rec, "metrics", dict, at)
        for name in AGGREGATE_METRICS:
            stat = _require(metrics, name, dict, f"{at}.metrics")
            for key in ("value", "lo", "hi"):
                _require(stat, key, (int, float), f"{at}.metrics.{name}")
            _require(stat, "n", int, f"{at}.metrics.{name}")
        bt = rec.get("by_target")
        if bt is not None:
            shape = _require(bt, "shape", list, f"{at}.by_target")
            for key in ("episodes", "success"):
                grid = np.asarray(_require(bt, key, list, f"{at}.by_target"))
                if list(grid.shape) != shape:
                    raise SchemaError(f"{at}.by_target.{key}: shape {list(grid.shape)} != {shape}")


# --------------------------------------------------------------------------- tables


def _fmt(stat: dict) -> str:
    if stat["n"] == 0 or math.isnan(stat["value"]):
        return "–"
    return f"{stat['value']:.3f} [{stat['lo']:.3f}, {stat['hi']:.3f}]"


def to_csv(results: dict) -> str:
    """One row per record: names, episodes, error, then value/lo/hi/n of every metric."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["suite", "condition", "agent", "episodes", "error"]
    header += [f"{m}.{k}" for m in AGGREGATE_METRICS for k in ("value", "lo", "hi", "n")]
    writer.writerow(header)
    for rec in results["records"]:
        row = [
            results["suite"]["name"],
            rec["condition"],
            rec["agent"],
            rec["episodes"],
            rec["error"] or "",
        ]
        row += [rec["metrics"][m][k] for m in AGGREGATE_METRICS for k in ("value", "lo", "hi", "n")]
        writer.writerow(row)
    return buf.getvalue()


def to_markdown(results: dict, notes: list[str] = ()) -> str:
    """Per condition, a table of agents × headline metrics (95% CIs), then violations."""
    s = results["suite"]
    lines = [f"# Benchmark report: suite `{s['name']}`", "", s["description"], "",
             "Values are `mean [95% CI]` (Wilson for rates, bootstrap for means); "
             "fork accuracy pools all forks met on a shortest path.", ""]  # fmt: skip
    by_cond = defaultdict(list)
    for rec in results["records"]:
        by_cond[rec["condition"]].append(rec)
    envs = {c["name"]: c for c in results["conditions"]}
    for name, recs in by_cond.items():
        env = ", ".join(f"{k}={v}" for k, v in envs[name]["env"].items())
        lines += [
            f"## {name}",
            "",
            f"`{env}` · {envs[name]['episodes']} episodes, seed {envs[name]['seed']}",
            "",
        ]
        lines.append("| agent | " + " | ".join(TABLE_METRICS) + " |")
        lines.append("|---" * (len(TABLE_METRICS) + 1) + "|")
        for rec in recs:
            if rec["error"]:
                lines.append(
                    f"| {rec['agent']} | error: {rec['error'][:80]} |"
                    + " |" * (len(TABLE_METRICS) - 1)
                )
                continue
            lines.append(
                f"| {rec['agent']} | "
                + " | ".join(_fmt(rec["metrics"][m]) for m in TABLE_METRICS)
                + " |"
            )
        kinds = [m for m in AGGREGATE_METRICS if m.startswith("violations.")]
        lines += ["", "Violations per episode:", "",
                  "| agent | " + " | ".join(k.split(".", 1)[1] for k in kinds) + " |",
                  "|---" * (len(kinds) + 1) + "|"]  # fmt: skip
        for rec in recs:
            if not rec["error"]:
                lines.append(
                    f"| {rec['agent']} | "
                    + " | ".join(f"{rec['metrics'][k]['value']:.3f}" for k in kinds)
                    + " |"
                )
        lines.append("")
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _sweep(results: dict, axis: str) -> tuple[list[str], dict[str, float]]:
    """The largest group of conditions that differ only in ``axis`` ("size" or "p")."""

    def split(env: dict):
        env = dict(env)
        if axis == "size":
            size = env.pop("size", 6)
            x = size if isinstance(size, int) else size[0]
        else:
            gk = dict(env.pop("generator_kwargs", None) or {})
            if "p" not in gk:
                return None, None
            x = gk.pop("p")
            env["generator_kwargs"] = gk
        return repr(sorted(env.items())), float(x)

    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for c in results["conditions"]:
        key, x = split(c["env"])
        if key is not None:
            groups[key][c["name"]] = x
    best = max(groups.values(), key=len, default={})
    names = sorted(best, key=best.get) if len({*best.values()}) >= 2 else []
    return names, best


def _plot_sweep(
    results: dict, axis: str, path: Path, metrics=("success", "exact_path")
) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, xs = _sweep(results, axis)
    if not names:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for agent in results["agents"]:
            recs = {r["condition"]: r for r in results["records"] if r["agent"] == agent["label"]}
            pts = [(xs[n], recs[n]["metrics"][metric]) for n in names if not recs[n]["error"]]
            if not pts:
                continue
            x = [p[0] for p in pts]
            v = np.array([p[1]["value"] for p in pts])
            err = np.abs(np.array([[p[1]["lo"] for p in pts], [p[1]["hi"] for p in pts]]) - v)
            ax.errorbar(x, v, yerr=err, marker="o", capsize=3, label=agent["label"])
        ax.set_xlabel("maze size (rows)" if axis == "size" else "percolation p")
        ax.set_ylabel(metric)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"{results['suite']['name']}: {' and '.join(metrics)} vs {axis}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _plot_heatmap(results: dict, path: Path) -> str | None:
    """Success rate by target cell, per agent, summed over the conditions of the commonest shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in results["records"] if r["by_target"] and not r["error"]]
    if not recs:
        return None
    shapes = [tuple(r["by_target"]["shape"]) for r in recs]
    shape = max(set(shapes), key=shapes.count)
    labels = [a["label"] for a in results["agents"]]
    grids = {}
    for label in labels:
        mine = [r for r in recs if r["agent"] == label and tuple(r["by_target"]["shape"]) == shape]
        if mine:
            n = sum(np.array(r["by_target"]["episodes"]) for r in mine)
            k = sum(np.array(r["by_target"]["success"]) for r in mine)
            grids[label] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    fig, axes = plt.subplots(1, len(grids), figsize=(2.6 * len(grids), 2.9), squeeze=False)
    for ax, (label, grid) in zip(axes[0], grids.items(), strict=True):
        im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="success")
    fig.suptitle(f"success by target cell ({shape[0]}x{shape[1]} conditions)", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# --------------------------------------------------------------------------- GIFs


def write_failure_gifs(
    cells: list[dict], schemes: dict[str, str], out_dir: Path, per_agent: int = 2
) -> list[str]:
    """Rollout GIFs of the first failures per agent (``maze_env.render``; needs pillow)."""
    from maze_env import Maze

    try:
        from maze_env.render import rgb_frame, write_gif
    except ImportError:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = defaultdict(int)
    files = []
    for cell in cells:
        for e in cell["episodes"]:
            agent, scheme = cell["agent"], schemes[cell["condition"]]
            if e["metrics"]["success"] or written[agent] >= per_agent:
                continue
            rows, cols = e["shape"]
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(e["maze"]), np.uint8))
            maze = Maze(bits[: 2 * rows * cols].reshape(2, rows, cols).astype(bool))
            name = f"{cell['key'].split('__')[1]}__{cell['key'].split('__')[0]}__ep{e['index']}.gif"
            origin, target = tuple(e["origin"]), tuple(e["target"])
            path = walk(maze, origin, e["tokens"], scheme).path
            frames = [rgb_frame(maze, origin, target, path[: j + 1]) for j in range(len(path))]
            try:
                write_gif(frames + frames[-1:] * 3, out_dir / name)
            except ImportError:
                return files
            written[agent] += 1
            files.append(f"gifs/{name}")
    return files


def write_all(results: dict, cells: list[dict], out_dir: Path, gifs: int = 2) -> list[str]:
    """results.json, results.csv, report.md, plots and failure GIFs into ``out_dir``."""
    out_dir = Path(out_dir)
    validate(results)
    write_json_atomic(out_dir / "results.json", results, indent=1)
    write_text(out_dir / "results.csv", to_csv(results))
    notes, files = [], ["results.json", "results.csv", "report.md"]
    for axis in ("size", "p"):
        name = _plot_sweep(results, axis, out_dir / f"{axis}.png")
        if name:
            files.append(name)
            notes.append(f"![{axis}]({name})")
    name = _plot_heatmap(results, out_dir / "target_heatmap.png")
    if name:
        files.append(name)
        notes.append(f"![success by target cell]({name})")
    if gifs:
        schemes = {c["name"]: c["env"].get("scheme", "aotp") for c in results["conditions"]}
        written = write_failure_gifs(cells, schemes, out_dir / "gifs", gifs)
        files += written
        notes += [f"failure rollout: [{g}]({g})" for g in written] or [
            "no failure GIFs: no failures, or maze_env.render.write_gif is not available"
        ]
    write_text(out_dir / "report.md", to_markdown(results, notes))
    return files

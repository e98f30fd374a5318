"""Results of a run: ``results.json`` (versioned schema + validator), CSV and the Markdown report.

``results.json`` (schema ``tokenmaze.benchmarks.results``, version ``SCHEMA_VERSION``)::

    {
      "schema": "tokenmaze.benchmarks.results", "schema_version": 2,
      "suite": {"name": str, "description": str, "source": str, "reference": str},
      "conditions": [{"name": str, "env": {TokenMaze-v0 kwargs}, "episodes": int, "seed": int}],
      "agents": [{"name": str, "label": str, "kwargs": {},
                  "info": {"kind": str | null, "max_grid": int | null, "training": {} | null}}],
      "records": [                       # one per agent x condition, in plan order
        {"condition": str, "agent": str, "episodes": int, "error": str | null,
         "unsupported": {"short": str, "reason": str} | null,     # "n/a": cannot play by design
         "metrics": {METRIC: {"value": float, "lo": float, "hi": float, "n": int}},
         "vs_reference": {"metric": "exact_path", "value": float, "lo": float, "hi": float,
                          "n": int, "paired": bool} | null,       # this condition - the reference
         "by_target": {"shape": [rows, cols], "episodes": [[int]], "success": [[int]]}}
      ],
      "run": {...}                       # wall times, executor, versions: not compared
    }

``METRIC`` ranges over ``benchmarks.metrics.AGGREGATE_METRICS``; ``value`` is NaN (JSON ``NaN``)
where no episode defines it.  ``vs_reference`` is the difference in exact-path rate against the
suite's reference (in-distribution) condition with a seeded bootstrap interval, paired over
episodes when both conditions share the evaluation seed (episode i then has the same reset seed
in both).  Everything but ``run`` is a pure function of the suite and agents.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.metrics import AGGREGATE_METRICS, aggregate, bootstrap_difference
from benchmarks.plots import trained_components
from benchmarks.runner import write_json_atomic
from benchmarks.suites import AgentSpec, Suite
from maze_env.files import write_text

SCHEMA = "tokenmaze.benchmarks.results"
SCHEMA_VERSION = 2
TABLE_METRICS = ("success", "exact_path", "target_reached", "valid_path", "node_overlap",
                 "fork_accuracy", "length_ratio", "miss_start")  # fmt: skip
COMPARED = "exact_path"  # the metric of the matrix and of the paired differences


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


def _vs_reference(eps: list[dict], ref: list[dict], paired: bool, seed: int) -> dict | None:
    """Exact-path rate of ``eps`` minus that of ``ref`` (paired by episode index when both
    conditions share their seed and hold the same indices)."""
    if not eps or not ref:
        return None
    paired = paired and [e["index"] for e in eps] == [e["index"] for e in ref]
    x = [float(e["metrics"][COMPARED]) for e in eps]
    y = [float(e["metrics"][COMPARED]) for e in ref]
    value, lo, hi = bootstrap_difference(x, y, paired, seed)
    return {"metric": COMPARED, "value": value, "lo": lo, "hi": hi, "n": len(x), "paired": paired}


def assemble(
    suite: Suite, agents: list[AgentSpec], cells: list[dict], run: dict, seed: int = 0
) -> dict:
    """Aggregate finished cells (plan order) into the results document."""
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    info: dict[str, dict] = {}
    for cell in cells:
        grouped[cell["condition"], cell["agent"]].append(cell)
        if cell.get("agent_info") and cell["agent"] not in info:
            info[cell["agent"]] = cell["agent_info"]
    episodes = {
        key: sorted((e for p in parts for e in p["episodes"]), key=lambda e: e["index"])
        for key, parts in grouped.items()
    }
    seeds = {c.name: c.seed for c in suite.conditions}
    records = []
    for cond in suite.conditions:
        for agent in agents:
            parts = grouped[cond.name, agent.label]
            errors = [p["error"] for p in parts if p.get("error")]
            unsupported = [p["unsupported"] for p in parts if p.get("unsupported")]
            eps = episodes.get((cond.name, agent.label), [])
            ref = episodes.get((suite.reference, agent.label), [])
            vs = None
            if cond.name != suite.reference and not errors and not unsupported:
                vs = _vs_reference(eps, ref, seeds[cond.name] == seeds[suite.reference], seed)
            records.append({
                "condition": cond.name,
                "agent": agent.label,
                "episodes": len(eps),
                "error": errors[0] if errors else None,
                "unsupported": unsupported[0] if unsupported else None,
                "metrics": aggregate([e["metrics"] for e in eps], seed=seed),
                "vs_reference": vs,
                "by_target": _by_target(eps),
            })  # fmt: skip
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "suite": {
            "name": suite.name,
            "description": suite.description,
            "source": suite.source,
            "reference": suite.reference,
        },
        "conditions": [c.to_dict() for c in suite.conditions],
        "agents": [{**a.to_dict(), "info": info.get(a.label)} for a in agents],
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
    for key in ("name", "description", "source", "reference"):
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
        if rec.get("unsupported") is not None:
            for key in ("short", "reason"):
                _require(rec["unsupported"], key, str, f"{at}.unsupported")
        if rec.get("vs_reference") is not None:
            for key in ("value", "lo", "hi"):
                _require(rec["vs_reference"], key, (int, float), f"{at}.vs_reference")
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


# --------------------------------------------------------------------------- CSV


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


# --------------------------------------------------------------------------- Markdown


def _fmt(stat: dict, digits: int = 3) -> str:
    if stat["n"] == 0 or math.isnan(stat["value"]):
        return "–"
    return f"{stat['value']:.{digits}f} [{stat['lo']:.{digits}f}, {stat['hi']:.{digits}f}]"


def told_apart(diff: dict) -> bool:
    """Whether a difference's 95% interval excludes 0 (else the two numbers cannot be told
    apart at the episode count used)."""
    return not (diff["lo"] <= 0.0 <= diff["hi"])


class _Notes:
    """Numbered footnotes: the same text gets the same number."""

    def __init__(self):
        self.texts: dict[str, int] = {}
        self.where: dict[int, list[str]] = defaultdict(list)

    def mark(self, text: str, where: str) -> str:
        n = self.texts.setdefault(text, len(self.texts) + 1)
        self.where[n].append(where)
        return f"[^{n}]"

    def lines(self) -> list[str]:
        return [
            f"[^{n}]: {', '.join(dict.fromkeys(self.where[n]))}: {text}"
            for text, n in self.texts.items()
        ]


def _cell(rec: dict, notes: _Notes, digits: int = 2) -> str:
    """A record's table cell: its exact-path rate, "n/a — why" or a loud error, never cut."""
    where = f"{rec['agent']} on {rec['condition']}"
    if rec.get("unsupported"):
        na = rec["unsupported"]
        return f"n/a — {na['short']}{notes.mark(na['reason'], where)}"
    if rec["error"]:
        return f"**ERROR**{notes.mark(rec['error'], where)}"
    return _fmt(rec["metrics"][COMPARED], digits)


def _diff_cell(rec: dict) -> str:
    d = rec.get("vs_reference")
    if d is None or math.isnan(d["value"]):
        return "–"
    text = f"{d['value']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}]"
    return text if told_apart(d) else f"{text} ≈"


def _generator_text(g: dict) -> str:
    return g["name"] + "".join(f" {k}={v}" for k, v in g["kwargs"].items())


def _training_text(training: dict | None) -> str:
    if not training:
        return "–"
    where = f" in a {training['canvas']}x{training['canvas']} canvas" if training["canvas"] else ""
    pairs = trained_components(training)
    sizes = [f"{r}x{c}" for r, c in training["sizes"]]
    gens = ", ".join(_generator_text(g) for g in training["generators"])
    text = f"{', '.join(sizes)}{where}; {gens}"
    if len(pairs) != len(sizes) * len(training["generators"]):  # not every size x generator
        listed = ", ".join(f"{c['size'][0]}x{c['size'][1]} {_generator_text(c)}" for c in pairs)
        text = f"{listed}{where}"
    ends = ", ".join(f"{k}={v}" for k, v in training.get("endpoints", {}).items())
    return text + (f"; endpoints {ends}" if ends else "")


def _agents_section(results: dict) -> list[str]:
    lines = [
        "## Agents",
        "",
        "| agent | kind | reads grids up to | trained on |",
        "|---|---|---|---|",
    ]
    for a in results["agents"]:
        info = a.get("info") or {}
        grid = info.get("max_grid")
        lines.append(
            f"| {a['label']} | {info.get('kind') or '–'} | "
            f"{f'{grid}x{grid}' if grid else '–'} | "
            f"{_training_text(info.get('training'))} |"
        )
    names = {a["name"] for a in results["agents"]}
    planners = [
        a["label"]
        for a in results["agents"]
        if str((a.get("info") or {}).get("kind") or "").startswith("planner")
    ]
    lines.append("")
    if planners:
        lines.append(
            f"Planners ({', '.join(planners)}) search the whole maze before moving and emit a "
            "simple path: on a tree (one path between any two cells) each of them is complete "
            "and exact, so their 100% on trees measures the maze, not a skill; only the oracle "
            "(BFS) stays exact on cyclic mazes. `wall-follower` emits the hand rule's own walk "
            "(dead ends and returns included): it reaches the target on trees but is rarely exact."
        )
        lines.append("")
    if {"dead-end-filling-planner", "random-fork"} <= names:
        lines.append(
            "On an open field there are no dead ends, so dead-end filling removes nothing and "
            "its walk over what remains is random-fork's rule (uniform among open unvisited "
            "neighbours, stop when stuck); both get the same agent seed in a cell, so they emit "
            "the same paths there and their numbers are identical — an identity, not a bug."
        )
        lines.append("")
    return lines


def _by_size_section(results: dict, sweeps: list[tuple[str, list[tuple[float, str]]]]) -> list[str]:
    """Per size and agent: exact path, target reached, fork accuracy, where misses start."""
    recs = {(r["agent"], r["condition"]): r for r in results["records"]}
    ref = results["suite"]["reference"]
    lines = [
        "## By maze size",
        "",
        "Exact path, target reached and fork accuracy with 95% CIs; *misses start at* = the "
        "mean share of the shortest path a missed episode follows before its first slip "
        "(0 = the first move is wrong); *vs ref* = exact path minus that at the reference "
        f"condition `{ref}` (paired bootstrap; ≈: not told apart).",
        "",
    ]
    for title, points in sweeps:
        lines += [f"### {title}", ""]
        for agent in results["agents"]:
            label = agent["label"]
            rows, first_drop = [], None
            for x, name in points:
                rec = recs[label, name]
                if rec.get("unsupported") or rec["error"]:
                    why = rec["unsupported"]["short"] if rec.get("unsupported") else "ERROR"
                    rows.append(f"| {int(x)}x{int(x)} | n/a — {why} | | | | |")
                    continue
                m = rec["metrics"]
                d = rec.get("vs_reference")
                if d and first_drop is None and told_apart(d) and d["value"] < 0:
                    first_drop = int(x)
                rows.append(
                    f"| {int(x)}x{int(x)} | {_fmt(m['exact_path'], 2)} | "
                    f"{_fmt(m['target_reached'], 2)} | {_fmt(m['fork_accuracy'], 2)} | "
                    f"{_fmt(m['miss_start'], 2)} | {_diff_cell(rec)} |"
                )
            drop = (
                f"exact path first falls distinguishably below `{ref}` at {first_drop}x{first_drop}"
                if first_drop
                else f"no size is distinguishably below `{ref}`"
            )
            lines += [
                f"**{label}**: {drop}.",
                "",
                "| size | exact path | target reached | fork accuracy | misses start at | vs ref |",
                "|---|---|---|---|---|---|",
                *rows,
                "",
            ]
    return lines


def to_markdown(
    results: dict, figures: list[str] = (), notes: list[str] = (), sweeps: dict | None = None
) -> str:
    """The matrix first (agent × condition exact path, 95% CIs), then errors, paired differences
    against the reference condition, the agents, by-size tables, figures and per-condition
    detail.  ``sweeps``: ``{"size": [(title, [(x, condition)])]}`` from ``benchmarks.plots``."""
    s = results["suite"]
    conds = [c["name"] for c in results["conditions"]]
    counts = sorted({c["episodes"] for c in results["conditions"]})
    recs = {(r["agent"], r["condition"]): r for r in results["records"]}
    foot = _Notes()
    lines = [
        f"# Benchmark report: suite `{s['name']}`",
        "",
        s["description"],
        "",
        f"## Exact path, agent × condition ({'/'.join(map(str, counts))} episodes each)",
        "",
        "Share of episodes whose emitted path is a shortest path, token for token, with its "
        "95% Wilson interval (at 100 episodes about ±0.1 wide in the middle of the range). "
        "*n/a* marks a condition the agent cannot play by design (reason in the footnote).",
        "",
    ]
    if "matrix.png" in figures:
        lines += ["![exact path, agent × condition](matrix.png)", ""]
    lines += [
        "| agent | " + " | ".join(f"`{c}`" for c in conds) + " |",
        "|---" * (len(conds) + 1) + "|",
    ]
    for agent in results["agents"]:
        label = agent["label"]
        lines.append(
            f"| {label} | " + " | ".join(_cell(recs[label, c], foot) for c in conds) + " |"
        )
    lines += ["", *foot.lines(), ""]
    errors = [r for r in results["records"] if r["error"]]
    if errors:
        lines += [
            f"## ERRORS: {len(errors)} agent × condition records failed",
            "",
            "These are bugs or broken setups, not results:",
            "",
            *[f"- **{r['agent']} on {r['condition']}**: `{r['error']}`" for r in errors],
            "",
        ]
    ref = s["reference"]
    others = [c for c in conds if c != ref]
    if others:
        lines += [
            f"## Against the reference condition `{ref}`",
            "",
            f"Exact-path rate minus that at `{ref}`, 95% bootstrap interval; paired over "
            "episodes where the conditions share the evaluation seed (episode i has the "
            "same reset seed in both, so a maze-to-maze spread cancels). **≈**: the interval "
            "holds 0, so the two numbers cannot be told apart at the episode count used.",
            "",
            "| agent | " + " | ".join(f"`{c}`" for c in others) + " |",
            "|---" * (len(others) + 1) + "|",
        ]
        for agent in results["agents"]:
            label = agent["label"]
            lines.append(
                f"| {label} | " + " | ".join(_diff_cell(recs[label, c]) for c in others) + " |"
            )
        lines.append("")
    lines += _agents_section(results)
    if sweeps and sweeps.get("size"):
        lines += _by_size_section(results, sweeps["size"])
    if figures:
        lines += ["## Figures", "", *[f"- [{f}]({f})" for f in figures], ""]
        lines += [f"![{f}]({f})\n" for f in figures if f != "matrix.png"]
    lines += [
        "## Per condition",
        "",
        "Values are `mean [95% CI]` (Wilson for rates, bootstrap for means); fork accuracy "
        "pools all forks met on a shortest path.",
        "",
    ]
    envs = {c["name"]: c for c in results["conditions"]}
    kinds = [m for m in AGGREGATE_METRICS if m.startswith("violations.")]
    for name in conds:
        env = ", ".join(f"{k}={v}" for k, v in envs[name]["env"].items())
        lines += [
            f"### {name}",
            "",
            f"`{env}` · {envs[name]['episodes']} episodes, seed {envs[name]['seed']}",
            "",
            "| agent | " + " | ".join(TABLE_METRICS) + " |",
            "|---" * (len(TABLE_METRICS) + 1) + "|",
        ]
        playable = []
        for agent in results["agents"]:
            rec = recs[agent["label"], name]
            if rec.get("unsupported") or rec["error"]:
                lines.append(
                    f"| {rec['agent']} | {_cell(rec, foot)} |" + " |" * (len(TABLE_METRICS) - 1)
                )
                continue
            playable.append(rec)
            lines.append(
                f"| {rec['agent']} | "
                + " | ".join(_fmt(rec["metrics"][m]) for m in TABLE_METRICS)
                + " |"
            )
        lines += [
            "",
            "Violations per episode:",
            "",
            "| agent | " + " | ".join(k.split(".", 1)[1] for k in kinds) + " |",
            "|---" * (len(kinds) + 1) + "|",
        ]
        for rec in playable:
            lines.append(
                f"| {rec['agent']} | "
                + " | ".join(f"{rec['metrics'][k]['value']:.3f}" for k in kinds)
                + " |"
            )
        lines.append("")
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- writing


def write_all(
    results: dict, cells: list[dict], out_dir: Path, gifs: int = 2, executor=None
) -> list[str]:
    """results.json, results.csv, report.md, figures and failure GIFs into ``out_dir`` (the
    figures in ``executor``'s workers where one is given)."""
    from benchmarks.gifs import write_failure_gifs
    from benchmarks.plots import write_figures

    out_dir = Path(out_dir)
    validate(results)
    write_json_atomic(out_dir / "results.json", results, indent=1)
    write_text(out_dir / "results.csv", to_csv(results))
    figures, found = write_figures(results, out_dir, executor)
    notes = []
    if not figures:
        notes.append("no figures: matplotlib is not installed (pip install 'tokenmaze[bench]')")
    written = write_failure_gifs(cells, results, out_dir / "gifs", gifs) if gifs else []
    notes += [f"failure rollout: [{g}]({g})" for g in written]
    if gifs and not written:
        notes.append("no failure GIFs: no failures worth showing, or pillow is not installed")
    write_text(out_dir / "report.md", to_markdown(results, figures, notes, found))
    return ["results.json", "results.csv", "report.md", *figures, *written]

"""Figures of a run: the agent × condition matrix, one figure per suite axis, target heatmaps.

Suite axes (``AXES``): maze size, percolation ``p``, open-field obstacles, generator and target
region.  ``sweeps(results, axis)`` finds the groups of conditions that differ only along one
axis; each group gets its own row of panels (pooling conditions that differ in more than the
axis would mislead).  Markers are filled where a condition lies inside an agent's training
distribution and hollow outside it; the size figure also shades each learned agent's training
sizes and draws "n/a beyond max_grid N" where its vocabulary ends.  matplotlib is imported on
first use.
"""

from __future__ import annotations

import importlib.util
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

import maze_env

AXES = {
    "size": "maze size (rows)",
    "p": "percolation p",
    "obstacles": "open-field obstacles",
    "generator": "generator",
    "target_region": "target region",
}
NUMERIC = ("size", "p", "obstacles")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
STYLES = ("-", "--", "-.", ":")
SWEEP_METRICS = ("exact_path", "target_reached")

Sweep = tuple[str, list[tuple[object, str]]]  # (title, [(axis value, condition name)])


def _split(env: dict, axis: str):
    """(axis value, the rest of the env as the suite wrote it), or None if ``env`` has no value
    on ``axis``; values the suite left out are the ``EnvConfig`` defaults."""
    cfg, rest = maze_env.EnvConfig.from_dict(env), dict(env)
    if axis == "size":
        rest.pop("size", None)
        value = cfg.size[0]
    elif axis in ("p", "obstacles"):
        gk = dict(cfg.generator_kwargs)
        if axis not in gk:
            return None
        value = gk.pop(axis)
        rest["generator_kwargs"] = gk
    elif axis == "generator":
        value = (cfg.generator, tuple(sorted(cfg.generator_kwargs.items())))
        rest.pop("generator", None)
        rest.pop("generator_kwargs", None)
    else:  # target_region
        ends = dict(env.get("endpoints") or {})
        value = str(ends.pop("target_region", None) or "anywhere")
        rest["endpoints"] = ends
    return value, rest


def _label(axis: str, value) -> str:
    if axis == "generator":
        name, kwargs = value
        return name + "".join(f"\n{k}={v}" for k, v in kwargs)
    return str(value).replace(":", "\n")  # quadrant:NW -> two short lines


def sweeps(results: dict, axis: str) -> list[Sweep]:
    """Groups of conditions that differ only in ``axis`` (at least two values each; for the
    generator axis at least two generator names: kwargs alone are the p / obstacles axes)."""
    groups: dict[str, list[tuple[object, str]]] = defaultdict(list)
    rests: dict[str, dict[str, str]] = {}
    for c in results["conditions"]:
        split = _split(c["env"], axis)
        if split is not None:
            rest = {k: repr(v) for k, v in sorted(split[1].items())}
            key = repr(rest)
            groups[key].append((split[0], c["name"]))
            rests[key] = rest
    out = []
    for key, points in groups.items():
        values = [v for v, _ in points]
        distinct = {v[0] for v in values} if axis == "generator" else set(values)
        if len(distinct) < 2 or len(set(values)) < len(values):
            continue
        if axis in NUMERIC:
            points = sorted(points, key=lambda p: float(p[0]))
        out.append((key, points))
    common = None
    for key, _ in out:
        items = set(rests[key].items())
        common = items if common is None else common & items
    titled = []
    for key, points in out:
        extra = sorted(set(rests[key].items()) - (common or set()))
        title = ", ".join(f"{k}={v}" for k, v in extra) or AXES[axis]
        titled.append((f"{AXES[axis]}: {title}" if extra else title, points))
    return titled


def trained_components(training: dict) -> list[dict]:
    """The (size, generator) pairs an agent trained on: its ``components``, or for agents that
    report only ``sizes`` and ``generators``, every pair of the two."""
    if "components" in training:
        return [{**c, "size": list(c["size"])} for c in training["components"]]
    return [{"size": list(size), **g} for size in training["sizes"] for g in training["generators"]]


def in_training(env: dict, training: dict | None) -> bool | None:
    """Whether a condition lies inside a learned agent's training distribution (None: the agent
    reports none).  rdfs_percolation with p = 0 is rdfs; a target region inside the trained one
    counts as inside."""
    if not training:
        return None
    cfg = maze_env.EnvConfig.from_dict(env)
    shape = list(cfg.size)
    gk, gen = dict(cfg.generator_kwargs), cfg.generator
    if gen == "rdfs_percolation" and gk.get("p") == 0:
        gen, gk = "rdfs", {}
    if {"size": shape, "name": gen, "kwargs": gk} not in trained_components(training):
        return False
    trained, asked = training.get("endpoints") or {}, dict(env.get("endpoints") or {})
    if not trained:
        return True
    grid = tuple(shape)
    for key in ("origin_region", "target_region"):
        want = maze_env.region_mask(asked.get(key), grid)
        have = maze_env.region_mask(trained.get(key), grid)
        if (want & ~have).any():
            return False
    rest = {k: v for k, v in trained.items() if not k.endswith("_region")}
    return all(asked.get(k, v) == v for k, v in rest.items())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _records(results: dict) -> dict[tuple[str, str], dict]:
    return {(r["agent"], r["condition"]): r for r in results["records"]}


def _playable(rec: dict) -> bool:
    return not rec["error"] and not rec.get("unsupported")


def _style(k: int) -> dict:
    return {"marker": MARKERS[k % len(MARKERS)], "linestyle": STYLES[k % len(STYLES)]}


def plot_matrix(results: dict, path: Path, metric: str = "exact_path") -> str:
    """Heatmap of ``metric`` per agent × condition, each cell with its value and CI."""
    plt = _pyplot()
    conds = [c["name"] for c in results["conditions"]]
    labels = [a["label"] for a in results["agents"]]
    recs = _records(results)
    grid = np.full((len(labels), len(conds)), np.nan)
    fig, ax = plt.subplots(figsize=(1.2 + 1.05 * len(conds), 0.9 + 0.45 * len(labels)))
    for i, a in enumerate(labels):
        for j, c in enumerate(conds):
            rec = recs[a, c]
            stat = rec["metrics"][metric]
            if _playable(rec) and stat["n"]:
                grid[i, j] = stat["value"]
                text = f"{stat['value']:.2f}\n[{stat['lo']:.2f}, {stat['hi']:.2f}]"
            else:
                text = "ERROR" if rec["error"] else "n/a"
            dark = not math.isnan(grid[i, j]) and grid[i, j] < 0.55
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if dark else "black",
                fontweight="bold" if rec["error"] else None,
            )
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(conds)), conds, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"{metric} (95% CI)")
    ax.set_title(
        f"{results['suite']['name']}: {metric}, agent × condition (grey: n/a or error)", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path.name


def _mark_size_training(ax, agent: dict, color, xs: list[float], env: dict) -> None:
    """Shade the sides the agent trained on with this sweep's generator (``env``: one of its
    conditions) and mark where its vocabulary ends."""
    info = agent.get("info") or {}
    training, max_grid = info.get("training"), info.get("max_grid")
    cfg = maze_env.EnvConfig.from_dict(env)
    sides = [
        c["size"][0]
        for c in trained_components(training or {"components": []})
        if (c["name"], c["kwargs"]) == (cfg.generator, dict(cfg.generator_kwargs))
    ]
    if sides:
        ax.axvspan(min(sides) - 0.4, max(sides) + 0.4, color=color, alpha=0.1, lw=0)
        ax.text(
            max(sides) + 0.35,
            0.02,
            f"{agent['label']}\ntrained",
            color=color,
            fontsize=6,
            ha="right",
            va="bottom",
        )
    if max_grid and max(xs) > max_grid:
        ax.axvline(max_grid + 0.5, color=color, ls=":", lw=1)
        ax.text(
            max_grid + 0.6,
            0.5,
            f"n/a beyond max_grid {max_grid}\n({agent['label']})",
            color=color,
            fontsize=6,
            rotation=90,
            va="center",
        )


def plot_sweep(results: dict, axis: str, groups: list[Sweep], path: Path) -> str:
    """One row of panels per group (metrics side by side), one line or bar set per agent."""
    plt = _pyplot()
    recs = _records(results)
    envs = {c["name"]: c["env"] for c in results["conditions"]}
    agents = results["agents"]
    colors = plt.get_cmap("tab10")
    numeric = axis in NUMERIC
    width = 4.6 if numeric else max(4.6, 0.55 * max(len(p) for _, p in groups) * len(agents) / 3)
    fig, axes = plt.subplots(
        len(groups),
        len(SWEEP_METRICS),
        squeeze=False,
        figsize=(width * len(SWEEP_METRICS) + 2.2, 3.3 * len(groups)),
    )
    for row, (title, points) in enumerate(groups):
        xs = [float(v) if numeric else k for k, (v, _) in enumerate(points)]
        for col, metric in enumerate(SWEEP_METRICS):
            ax = axes[row, col]
            for k, agent in enumerate(agents):
                color = colors(k % 10)
                training = (agent.get("info") or {}).get("training")
                pts = [
                    (x, recs[agent["label"], name], name)
                    for x, (_, name) in zip(xs, points, strict=True)
                    if _playable(recs[agent["label"], name])
                ]
                if numeric and axis == "size":
                    _mark_size_training(ax, agent, color, xs, envs[points[0][1]])
                if not pts:
                    continue
                x = np.array([p[0] for p in pts], float)
                v = np.array([p[1]["metrics"][metric]["value"] for p in pts])
                lo = np.array([p[1]["metrics"][metric]["lo"] for p in pts])
                hi = np.array([p[1]["metrics"][metric]["hi"] for p in pts])
                lo, hi = np.minimum(lo, v), np.maximum(hi, v)  # float noise at 0 and 1
                inside = [in_training(envs[p[2]], training) for p in pts]
                if numeric:
                    jitter = (k - (len(agents) - 1) / 2) * 0.012 * (max(xs) - min(xs) or 1)
                    ax.errorbar(
                        x + jitter,
                        v,
                        yerr=[v - lo, hi - v],
                        color=color,
                        capsize=2,
                        lw=1.2,
                        label=agent["label"] if row == col == 0 else None,
                        markerfacecolor="none",
                        **_style(k),
                    )
                    filled = [i for i, t in enumerate(inside) if t is not False]
                    ax.plot(
                        x[filled] + jitter,
                        v[filled],
                        ls="none",
                        color=color,
                        marker=_style(k)["marker"],
                    )
                else:
                    bw = 0.8 / len(agents)
                    off = x + (k - (len(agents) - 1) / 2) * bw
                    for b, t in enumerate(inside):
                        ax.bar(
                            off[b],
                            v[b],
                            bw,
                            yerr=[[v[b] - lo[b]], [hi[b] - v[b]]],
                            color=color,
                            capsize=1.5,
                            edgecolor="black",
                            linewidth=0.3,
                            alpha=1.0 if t is not False else 0.4,
                            label=agent["label"] if row == col == b == 0 else None,
                        )
            ax.set_ylim(-0.03, 1.08)
            ax.grid(alpha=0.3)
            ax.set_ylabel(metric)
            ax.set_title(title, fontsize=8)
            if numeric:
                ticks = sorted({float(v) for v, _ in points})
                ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
                ax.set_xlabel(AXES[axis])
            else:
                ax.set_xticks(xs, [_label(axis, v) for v, _ in points], fontsize=7)
    note = (
        (
            "hollow marker / faded bar: outside the agent's training distribution; "
            "shaded: its training sizes"
        )
        if axis == "size"
        else ("hollow marker / faded bar: outside the agent's training distribution")
    )
    fig.legend(loc="center right", fontsize=7, frameon=False)
    fig.suptitle(
        f"{results['suite']['name']}: {' and '.join(SWEEP_METRICS)} by {AXES[axis]} "
        f"(95% CIs; {note})",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0, 1 - 1.9 / fig.get_figwidth(), 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_target_heatmaps(results: dict, conditions: list[str], path: Path) -> str | None:
    """Success by target cell: a panel per condition (rows) × agent (columns), counts in cells."""
    plt = _pyplot()
    recs = _records(results)
    agents = [
        a["label"]
        for a in results["agents"]
        if any(
            _playable(recs[a["label"], c]) and recs[a["label"], c]["by_target"] for c in conditions
        )
    ]
    if not agents or not conditions:
        return None
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    fig, axes = plt.subplots(
        len(conditions),
        len(agents),
        squeeze=False,
        layout="constrained",
        figsize=(1.7 * len(agents) + 1.4, 1.75 * len(conditions) + 0.9),
    )
    im = None
    for i, cond in enumerate(conditions):
        for j, label in enumerate(agents):
            ax, rec = axes[i, j], recs[label, cond]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(label, fontsize=7)
            if j == 0:
                ax.set_ylabel(cond, fontsize=7)
            bt = rec["by_target"] if _playable(rec) else None
            if not bt:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes)
                continue
            n, k = np.array(bt["episodes"]), np.array(bt["success"])
            rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
            im = ax.imshow(np.ma.masked_invalid(rate), vmin=0, vmax=1, cmap=cmap)
            if n.shape[0] <= 8:
                for (r, c), count in np.ndenumerate(n):
                    if count:
                        ax.text(
                            c,
                            r,
                            str(count),
                            ha="center",
                            va="center",
                            fontsize=5,
                            color="white" if rate[r, c] < 0.55 else "black",
                        )
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="success rate")
    fig.suptitle(
        "success by target cell (row 0 = top = north)\nnumbers: episodes with the target "
        "there; grey: no episode",
        fontsize=8,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _draw(job: tuple) -> str | None:
    """One figure of ``write_figures``: ``(plot function, its arguments...)``."""
    plot, *args = job
    return plot(*args)


def write_figures(
    results: dict, out_dir: Path, executor=None
) -> tuple[list[str], dict[str, list[Sweep]]]:
    """Every figure of a run into ``out_dir``; returns the file names and the sweeps found.

    With an ``executor`` (``benchmarks.executor``), the figures are drawn in its workers side by
    side (matplotlib is most of a quick run's serial time); the files are the same.
    """
    found = {axis: sweeps(results, axis) for axis in AXES}
    if importlib.util.find_spec("matplotlib") is None:
        return [], found
    regions = [name for _, points in found["target_region"] for _, name in points]
    jobs = [
        (plot_matrix, results, out_dir / "matrix.png"),
        *[(plot_sweep, results, axis, groups, out_dir / f"{axis}.png")
          for axis, groups in found.items() if groups],
        (plot_target_heatmaps, results, regions or [results["suite"]["reference"]],
         out_dir / "target_heatmap.png"),
    ]  # fmt: skip
    if executor is None:
        files = [_draw(job) for job in jobs]
    else:  # the heatmaps (the slowest) first, so that they do not finish alone
        drawn = {job[-1]: f for job, f in executor.map_unordered(_draw, jobs[::-1])}
        files = [drawn[job[-1]] for job in jobs]
    return [f for f in files if f], found

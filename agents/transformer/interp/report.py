"""Run every experiment on one model and write ``report.md``, ``results.json`` and PNG figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

import maze_env
from agents.transformer.checkpoint import write_json
from agents.transformer.data import DataConfig
from agents.transformer.interp import (
    attention,
    bottlenecks,
    clusters,
    geometry,
    lens,
    patching,
    probes,
    retarget,
)
from agents.transformer.interp import sizes as interp_sizes
from agents.transformer.interp.plots import figure, save
from agents.transformer.interp.prompts import held_out
from agents.transformer.length_scaling import scaling_for
from agents.transformer.model import GPT
from maze_env.files import write_text


def _heatmap(values: np.ndarray, title: str, xlabel: str, ylabel: str, xticks=None, yticks=None):
    fig, (ax,) = figure(width=5.5, height=4)
    im = ax.imshow(values, cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticks is not None:
        ax.set_xticks(range(len(xticks)), xticks, rotation=30, ha="right", fontsize=7)
    if yticks is not None:
        ax.set_yticks(range(len(yticks)), yticks, fontsize=7)
    return fig


def _table(header: list[str], rows: list[list]) -> str:
    fmt = [" | ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in row) for row in rows]
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [f"| {r} |" for r in fmt]
    )


def _points(n_layers: int) -> list[str]:
    return ["embed"] + [f"after L{i}" for i in range(n_layers)]


class Report:
    """Collects Markdown sections, figures and numbers under ``out``."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []
        self.numbers: dict = {}

    def figure(self, fig, name: str, caption: str) -> None:
        save(fig, self.out / name)
        self.lines.append(f"![{caption}]({name})\n")

    def add(self, text: str) -> None:
        self.lines.append(text + "\n")


def run_all(
    model: GPT,
    data: DataConfig,
    out: Path,
    n_mazes: int = 200,
    seed: int = 0,
    quick: bool = False,
    progress: bool = True,
    title: str = "model",
    shift_model: tuple[GPT, DataConfig, str] | None = None,
    probe_mazes: int | None = None,
    sections: Sequence[str] | None = None,
) -> dict:
    """Every experiment (or those named in ``sections``, from ``STAGES``) on ``n_mazes``
    held-out mazes; returns the numbers written to JSON.

    ``shift_model``: (model, its data config, label) of a model trained without targets in one
    region (``"!quadrant:NE"``), compared with this one in the target-shift section.
    ``probe_mazes``: how many held-out mazes the linear probes fit on (default ``n_mazes``; a
    probe has d_model weights per label, so it wants many more mazes than the other tools)."""
    chosen = chosen_sections(sections)
    rep = Report(out)
    examples = held_out(data, n_mazes, seed)
    probe_examples = (
        held_out(data, probe_mazes, seed) if probe_mazes and probe_mazes != n_mazes else examples
    )
    shape = examples[0].maze.shape
    coord_ids = data.vocab.coord_ids[: shape[0], : shape[1]]
    n = model.cfg.n_layers
    small = examples[: max(4, n_mazes // (4 if quick else 2))]
    rep.add(
        f"# Interpretability report: {title}\n\n{n_mazes} held-out {data.generator} "
        f"{shape[0]}x{shape[1]} mazes (eval seed {seed}); {n} layers x "
        f"{model.cfg.n_heads} heads."
        + ("" if sections is None else f" Sections run: {', '.join(chosen)}.")
        + "\n"
    )
    stages = [(name, STAGES[name]) for name in chosen]
    ctx = dict(
        model=model,
        data=data,
        examples=examples,
        small=small,
        shape=shape,
        coord_ids=coord_ids,
        seed=seed,
        quick=quick,
        shift_model=shift_model,
        probe_examples=probe_examples,
    )
    for name, stage in tqdm(stages, desc="interp", disable=not progress):
        stage(rep, **ctx)
        rep.numbers.setdefault("stages", []).append(name)
    write_text(rep.out / "report.md", "\n".join(rep.lines))
    write_json(rep.out / "results.json", rep.numbers)
    return rep.numbers


def _attention(rep: Report, model, examples, small, **_):
    s = attention.head_scores(model, small)
    rep.add(
        "## 1. Adjacency heads\n\nLift = attention on neighbour-cell tokens / what uniform "
        "attention would give (1 = chance), over every coordinate-token query.\n"
    )
    top_l, top_g = attention.rank_heads(s.lattice), attention.rank_heads(s.graph)
    rep.add(
        _table(
            ["rank", "lattice head", "lift", "graph head", "lift"],
            [
                [k + 1, f"L{a[0]}H{a[1]}", a[2], f"L{b[0]}H{b[1]}", b[2]]
                for k, (a, b) in enumerate(zip(top_l, top_g))
            ],
        )
    )
    rep.add(f"\nChance mass per query: lattice {s.lattice_chance:.3f}, graph {s.graph_chance:.3f}.")
    fig, axes = figure(2, width=4.5)
    for ax, vals, name in ((axes[0], s.lattice, "lattice"), (axes[1], s.graph, "graph")):
        im = ax.imshow(vals, cmap="viridis", aspect="auto")
        fig.colorbar(im, ax=ax)
        ax.set_title(f"{name}-adjacency lift", fontsize=9)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
    rep.figure(fig, "attention_scores.png", "adjacency lift per head")
    layer, head, _ = top_g[0]
    rep.figure(
        attention.plot_head(model, examples[0], layer, head),
        "attention_top_head.png",
        f"L{layer}H{head} attention over the maze",
    )
    rep.numbers["attention"] = {
        "lattice_lift": s.lattice.tolist(),
        "graph_lift": s.graph.tolist(),
        "top_lattice": top_l,
        "top_graph": top_g,
        "lattice_chance": s.lattice_chance,
        "graph_chance": s.graph_chance,
    }


def _probes(rep: Report, model, probe_examples, seed, **_):
    walls = probes.wall_probes(model, probe_examples, seed)
    future = probes.future_path_probes(model, probe_examples, seed)
    points = _points(model.cfg.n_layers)
    rep.add(
        f"## 2. Linear probes\n\n{len(probe_examples)} mazes, split 75% / 25% (scored on the "
        "held-back 25%); logistic regression per label; accuracy / majority-class baseline / "
        "balanced accuracy (0.5 = chance). Walls: is each lattice edge open?, at `<PATH_START>` "
        "and at the origin token after it (where the first move is predicted). Future path: is "
        "the cell on the remaining path?, at each path token.\n"
    )
    columns = {"walls at <PATH_START>": walls["path_start"], "walls at origin": walls["origin"]}
    columns["future path"] = future
    rows = [
        [
            p,
            *(
                f"{r[i].accuracy:.3f} / {r[i].baseline:.3f} / {r[i].balanced:.3f}"
                for r in columns.values()
            ),
        ]
        for i, p in enumerate(points)
    ]
    rep.add(_table(["residual", *columns], rows))
    fig, (ax,) = figure(width=6)
    for name, res in columns.items():
        ax.plot([r.balanced for r in res], marker="o", label=name)
    ax.axhline(0.5, ls="--", color="grey", label="chance")
    ax.set_xticks(range(len(points)), points, rotation=30, fontsize=7)
    ax.set_ylabel("held-out balanced accuracy")
    ax.legend(fontsize=7)
    rep.figure(fig, "probes.png", "probe balanced accuracy per layer")
    rep.numbers["probes"] = {name: [asdict(r) for r in res] for name, res in columns.items()}


def _lens(rep: Report, model, small, coord_ids, **_):
    res = lens.logit_lens(model, small)
    dla = lens.direct_logit_attribution(model, small, coord_ids)
    points = _points(model.cfg.n_layers)
    rep.add("## 3. Logit lens and direct logit attribution\n\nNext path token, teacher-forced.\n")
    rep.add(
        _table(
            ["residual", "top-1 acc", "p(correct)"],
            [[p, float(a), float(q)] for p, a, q in zip(points, res.accuracy, res.probability)],
        )
    )
    rep.add(
        f"\nDLA onto logit(correct) - mean coordinate logit (total {dla.total:.2f}): embed "
        f"{dla.embed:.2f}, biases {dla.biases:.2f}, MLPs {np.round(dla.mlps, 2).tolist()}."
    )
    top = attention.rank_heads(dla.heads, 5)
    rep.add("Top heads: " + ", ".join(f"L{a}H{b} {v:.2f}" for a, b, v in top) + ".\n")
    heads = np.column_stack([dla.heads, dla.mlps])
    labels = [f"H{h}" for h in range(model.cfg.n_heads)] + ["MLP"]
    rep.figure(
        _heatmap(heads, "direct logit attribution", "component", "layer", labels),
        "dla.png",
        "direct logit attribution per head and MLP",
    )
    fig, (ax,) = figure(width=6)
    ax.plot(res.accuracy, marker="o", label="top-1 accuracy")
    ax.plot(res.probability, marker="s", label="p(correct)")
    ax.set_xticks(range(len(points)), points, rotation=30, fontsize=7)
    ax.legend(fontsize=7)
    rep.figure(fig, "logit_lens.png", "logit lens per layer")
    rep.numbers["lens"] = {
        "accuracy": res.accuracy.tolist(),
        "probability": res.probability.tolist(),
        "dla_heads": dla.heads.tolist(),
        "dla_mlps": dla.mlps.tolist(),
        "dla_embed": dla.embed,
        "dla_biases": dla.biases,
        "dla_total": dla.total,
    }


def _patching(rep: Report, model, data, small, seed, quick, **_):
    res, used, built = patching.group_patching(model, small, data.vocab, seed)
    names = ["embed" if i == 0 else f"before L{i}" for i in range(model.cfg.n_layers)] + ["final"]
    rep.add(
        f"## 4. Activation patching\n\nOne moved wall changes the solution; {used} of "
        f"{built} pairs where the model prefers the right cell in both runs. Mean "
        "restoration of the clean logit difference (1 = clean) when the clean residual is "
        "patched into the corrupted run at a group of positions:\n"
    )
    rep.add(
        _table(
            ["residual", *patching.GROUPS], [[p, *map(float, row)] for p, row in zip(names, res)]
        )
    )
    rep.figure(
        _heatmap(
            res, "restoration by position group", "positions", "residual", patching.GROUPS, names
        ),
        "patching_groups.png",
        "patching by group",
    )
    pair = patching.first_pair(small, data.vocab, seed)
    if pair is not None and not quick:
        per_pos = patching.restoration(model, pair, np.eye(len(pair.clean), dtype=bool))
        rep.figure(
            _heatmap(
                per_pos, "restoration per position (one pair)", "position", "residual", None, names
            ),
            "patching_positions.png",
            "patching per position",
        )
    rep.numbers["patching"] = {
        "groups": list(patching.GROUPS),
        "restoration": res.tolist(),
        "pairs_used": used,
        "pairs_built": built,
    }


def _retarget(rep: Report, model, data, small, seed, **_):
    res = retarget.retarget(model, small, data.vocab, seed)
    rep.add(
        f"## 5. Goal retargeting\n\nPatch the target token's residual from a prompt with "
        f"another target (off the original solution). Unpatched prompts reach their own "
        f"target {res.baseline_old:.2f}; prompts that name the new target reach it "
        f"{res.control_new:.2f}.\n"
    )
    rep.add(
        _table(
            ["patched at", "reach new target", "reach old target"],
            [[lab, float(a), float(b)] for lab, a, b in zip(res.layers, res.to_new, res.to_old)],
        )
    )
    fig, (ax,) = figure(width=6)
    x = np.arange(len(res.layers))
    ax.bar(x - 0.2, res.to_new, 0.4, label="new target")
    ax.bar(x + 0.2, res.to_old, 0.4, label="old target")
    ax.set_xticks(x, res.layers)
    ax.legend(fontsize=7)
    rep.figure(fig, "retarget.png", "retargeting rate per patched layer")
    rep.numbers["retarget"] = {
        "layers": res.layers,
        "to_new": res.to_new.tolist(),
        "to_old": res.to_old.tolist(),
        "baseline_old": res.baseline_old,
        "control_new": res.control_new,
    }


def _geometry(rep: Report, model, shape, coord_ids, **_):
    emb = geometry.coordinate_embeddings(model, coord_ids)
    rho = geometry.distance_correlation(emb, shape)
    proj, var = geometry.pca(emb)
    r2 = geometry.pca_r2(proj, shape)
    heads = geometry.head_geometry(model, coord_ids, shape)
    rep.add(
        f"## 6. Embedding geometry\n\nSpearman rho(cosine distance, lattice distance) = "
        f"{rho:.3f}; top-2 PCs explain {var.sum():.2f} of the variance and predict "
        f"(row, col) with R^2 {r2:.2f}.\n"
    )
    top = attention.rank_heads(heads.qk_neighbour_z, 5)
    rep.add(
        "QK neighbour z-score (lattice neighbours vs other pairs), best heads: "
        + ", ".join(f"L{a}H{b} {v:.2f}" for a, b, v in top)
        + f". OV copying share (max over heads) {heads.ov_copy.max():.2f}, OV-to-neighbour "
        f"share (max) {heads.ov_neighbour.max():.2f}.\n"
    )
    rep.figure(
        geometry.plot_pca(proj, shape, f"coordinate embeddings, rho={rho:.2f}"),
        "embedding_pca.png",
        "PCA of coordinate embeddings",
    )
    rep.figure(
        _heatmap(heads.qk_neighbour_z, "QK neighbour z-score", "head", "layer"),
        "qk_neighbour.png",
        "QK neighbour z-score",
    )
    rep.numbers["geometry"] = {
        "spearman": rho,
        "pca_variance": var.tolist(),
        "pca_r2": r2,
        "qk_neighbour_z": heads.qk_neighbour_z.tolist(),
        "ov_copy": heads.ov_copy.tolist(),
        "ov_neighbour": heads.ov_neighbour.tolist(),
        "ov_top_cells": heads.ov_top_tokens,
    }


def _bottlenecks(rep: Report, model, small, coord_ids, **_):
    ratio = bottlenecks.bottleneck_attention(model, small)
    dead = bottlenecks.dead_end_lens(model, small, coord_ids)
    top = attention.rank_heads(ratio, 5)
    rep.add(
        "## 7. Bottlenecks and dead ends\n\nPer-token attention from path positions on "
        "bottleneck cells (articulation points on the solution) / on off-solution cells, "
        f"best heads: {', '.join(f'L{a}H{b} {v:.2f}' for a, b, v in top)}; median over heads "
        f"{np.median(ratio):.2f}.\n\nLogit lens, mean centred logit per cell group:\n"
    )
    rep.add(
        _table(
            ["residual", *bottlenecks.LENS_GROUPS],
            [[p, *map(float, row)] for p, row in zip(_points(model.cfg.n_layers), dead)],
        )
    )
    rep.figure(
        _heatmap(ratio, "bottleneck / off-path attention ratio", "head", "layer"),
        "bottleneck_attention.png",
        "bottleneck attention ratio",
    )
    fig, (ax,) = figure(width=6)
    for g, name in enumerate(bottlenecks.LENS_GROUPS):
        ax.plot(dead[:, g], marker="o", label=name)
    ax.set_xticks(range(len(dead)), _points(model.cfg.n_layers), rotation=30, fontsize=7)
    ax.legend(fontsize=7)
    rep.figure(fig, "dead_end_lens.png", "dead-end logit lens")
    rep.numbers["bottlenecks"] = {
        "attention_ratio": ratio.tolist(),
        "lens_groups": list(bottlenecks.LENS_GROUPS),
        "lens": dead.tolist(),
    }


def _shift(rep: Report, model, data, small, seed, shape, shift_model=None, **_):
    """Targets per quadrant for this model and, if given, a model trained without one region."""
    n = len(small)
    models = [("this model", model, data)]
    if shift_model is not None:
        other, other_data, name = shift_model
        models.append((name, other, other_data))
    held_back = [retarget.excluded_region(d) for _, _, d in models]
    results = {label: retarget.quadrant_shift(m, d, n, seed) for label, m, d in models}
    quadrants = list(results["this model"])
    rows = [
        [label, *(f"{r[q].reached:.2f} / {r[q].exact:.2f}" for q in quadrants)]
        for label, r in results.items()
    ]
    rep.add(
        f"## 8. Target shift and goal misgeneralization\n\nGreedy rollouts on {n} held-out "
        "mazes per column whose targets all lie in one quadrant (target reached / exact path)."
        + "".join(
            f" `{label}` never saw training targets in `{region}`."
            for (label, _, _), region in zip(models, held_back)
            if region
        )
        + "\n\n"
        + _table(["model", *quadrants], rows)
        + "\n"
    )
    numbers = {
        label: {q: {"reached": x.reached, "exact": x.exact, "n": x.n} for q, x in r.items()}
        for label, r in results.items()
    }
    for (label, m, d), region in zip(models, held_back):
        if not region:
            continue
        quadrant = region.split(":", 1)[1] if region.startswith("quadrant:") else None
        res = results[label].get(quadrant) or retarget.target_shift(m, region, n, seed, data=d)
        misses = res.ends.sum()
        inside = res.ends[maze_env.region_mask(region, shape)].sum()
        rep.add(
            f"Where `{label}`'s {misses} missed rollouts to `{region}` targets end (last cell of "
            f"their valid prefix): {inside} inside `{region}`, {misses - inside} outside it "
            "(figure).\n"
        )
        numbers[label]["held_back"] = {"region": region, "misses_end": res.ends.tolist()}
        fig, (ax,) = figure()
        im = ax.imshow(res.ends, cmap="magma")
        fig.colorbar(im, ax=ax)
        ax.set_title(f"{label}: where misses to {region} targets end", fontsize=9)
        rep.figure(fig, "target_shift_ends.png", "goal-misgeneralization misses")
    if shift_model is None:
        rep.add(
            "No model trained without a target region was given (`--shift-checkpoint`), so goal "
            "misgeneralization is not measured here.\n"
        )
    rep.numbers["target_shift"] = numbers


def _clusters(rep: Report, model, examples, seed, **_):
    res = clusters.coordinate_clusters(model, examples, seed)
    points = _points(model.cfg.n_layers)
    rep.add(
        "## 9. Clustering of coordinate tokens\n\nResidual stream at every coordinate token of "
        f"the adjacency list ({len(examples)} mazes), labelled by whether the cell is on the "
        "solution path. These positions precede the origin and the target, so causal attention "
        "hides the endpoints from them: separation beyond the embedding row can only come from "
        "the maze around the cell. Silhouette of the two groups (subsample of "
        f"{len(res.on_path)}) and held-out balanced accuracy of a linear probe (0.5 = chance):\n"
    )
    rows = [[p, float(a), float(b)] for p, a, b in zip(points, res.silhouette, res.balanced)]
    rep.add(_table(["residual", "silhouette", "probe balanced accuracy"], rows))
    cols = 3
    fig, axes = figure(ncols=cols, nrows=-(-len(points) // cols), width=3, height=2.8)
    for ax, p, xy, sil in zip(axes, points, res.pca, res.silhouette):
        for on, colour, name in ((False, "#b0b0b0", "off path"), (True, "#d95f02", "on path")):
            sel = res.on_path == on
            ax.scatter(*xy[sel].T, s=3, c=colour, alpha=0.5, label=name, rasterized=True)
        ax.set_title(f"{p}: silhouette {sil:.3f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=7, markerscale=3)
    rep.figure(fig, "clusters.png", "PCA of adjacency-list coordinate tokens per layer")
    rep.numbers["clusters"] = {
        "points": points,
        "silhouette": res.silhouette.tolist(),
        "probe_balanced": res.balanced.tolist(),
        "on_path_share": float(res.on_path.mean()),
    }


def _sizes(rep: Report, model, data, examples, seed, quick, **_):
    trained = sorted({max(src.shape) for src in data.sources()})
    sizes = interp_sizes.readable_sizes(data)
    n = max(4, min(len(examples), 12 if quick else 50))
    rows = interp_sizes.size_profile(model, data, sizes, n, seed)
    scaling = scaling_for(model.cfg, data)  # what the agent decodes long prompts with
    scaled = None if scaling is None else interp_sizes.size_profile(model, data, sizes, n, seed,
                                                                     scaling)  # fmt: skip
    rep.add(
        "## 10. Across maze sizes\n\nFor every maze side the vocabulary reads (trained on "
        f"{', '.join(map(str, trained))}; {n} held-out mazes per side, at random offsets in the "
        "canvas when the model has one): the best graph-adjacency head's lift (section 1's "
        "measure; chance falls as prompts grow, so the lift rises by itself), its attention mass "
        "on maze neighbours per query against uniform attention's, and the teacher-forced fork "
        "decisions (the true path up to the fork; is the argmax the path's next cell?). Where the "
        "mass or the first fork falls is where the mechanism breaks.\n"
        + ("" if scaled is None else
           "\n*Scaled*: the same measures under the length-scaled rotary frequencies the agent "
           "decodes prompts longer than training's with (`rotary_scaling=\"auto\"`, "
           "`agents/transformer/length_scaling.py`); identical to the trained ones up to the "
           "longest training sequence.\n")
    )  # fmt: skip

    def fmt(value):
        return "n/a" if value is None else round(value, 3)

    table = [
        [r.size, "yes" if r.size in trained else "", round(r.graph_lift, 2),
         round(r.lattice_lift, 2), round(r.graph_mass, 3), round(r.graph_chance, 3),
         fmt(r.first_fork), fmt(r.forks), r.fork_count]
        + ([] if scaled is None else [round(scaled[i].graph_mass, 3), fmt(scaled[i].first_fork),
                                      fmt(scaled[i].forks)])
        for i, r in enumerate(rows)
    ]  # fmt: skip
    header = ["side", "trained", "graph lift", "lattice lift", "neighbour mass", "chance",
              "first fork", "all forks", "forks"]  # fmt: skip
    if scaled is not None:
        header += ["neighbour mass, scaled", "first fork, scaled", "all forks, scaled"]
    rep.add(_table(header, table))
    fig, axes = figure(2, width=4.5)
    x = [r.size for r in rows]
    for ax in axes:
        ax.axvspan(min(trained) - 0.5, max(trained) + 0.5, color="#dddddd", label="trained sizes")
        ax.set_xlabel("maze side")
        ax.set_xticks(x)
    axes[0].plot(x, [r.graph_mass for r in rows], "o-", label="best graph head")
    axes[0].plot(x, [r.graph_chance for r in rows], "s--", label="uniform attention")
    axes[0].set_ylabel("attention on maze neighbours, per query")
    axes[0].set_ylim(0, None)
    axes[1].plot(x, [np.nan if r.first_fork is None else r.first_fork for r in rows], "o-",
                 label="first fork")  # fmt: skip
    axes[1].plot(x, [np.nan if r.forks is None else r.forks for r in rows], "s--",
                 label="every fork")  # fmt: skip
    if scaled is not None:
        axes[0].plot(x, [r.graph_mass for r in scaled], "^:", label="best graph head, scaled")
        axes[1].plot(x, [np.nan if r.first_fork is None else r.first_fork for r in scaled],
                     "^:", label="first fork, scaled")  # fmt: skip
    axes[1].set_ylim(0, 1.02)
    axes[1].set_ylabel("teacher-forced fork accuracy")
    for ax in axes:
        ax.legend(fontsize=7)
    rep.figure(fig, "sizes.png", "adjacency lift and fork decisions per maze side")
    rep.numbers["sizes"] = {
        "trained": trained,
        "rows": [asdict(r) for r in rows],
        "scaled": None if scaled is None else [asdict(r) for r in scaled],
    }


STAGES = {
    "attention": _attention,
    "probes": _probes,
    "lens": _lens,
    "patching": _patching,
    "retarget": _retarget,
    "geometry": _geometry,
    "bottlenecks": _bottlenecks,
    "target shift": _shift,
    "clusters": _clusters,
    "sizes": _sizes,
}
"""The report's sections in order: name -> stage."""


def chosen_sections(sections: Sequence[str] | None) -> list[str]:
    """The stage names to run (all for None), in the report's order; an unknown name, or none,
    raises ValueError listing the known ones."""
    if sections is None:
        return list(STAGES)
    unknown = sorted(set(sections) - set(STAGES))
    if unknown or not sections:
        raise ValueError(f"unknown {unknown}; known: {list(STAGES)}")
    return [name for name in STAGES if name in sections]

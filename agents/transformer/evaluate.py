"""Score a model on a held-out set: exact path, target reached (by a valid path closed by
``<PATH_END>``: the env's success) and fork accuracy, judged by ``maze_env.judge``."""

from __future__ import annotations

import numpy as np
import torch

import maze_env
from agents.transformer.data import DataConfig, EvalSet
from agents.transformer.decode import generate
from agents.transformer.length_scaling import RotaryScaling, scaling_for
from agents.transformer.model import GPT
from maze_env.judge import VIOLATION_KINDS, EpisodeMetrics, score
from maze_env.tokens import PATH_END


@torch.no_grad()
def evaluate(
    model: GPT,
    data: DataConfig,
    held_out: EvalSet,
    batch_size: int = 256,
    detail: bool = False,
    scaling: RotaryScaling | None = None,
) -> dict:
    """Greedy-decode every held-out prompt (with ``scaling``: length-scaled rotary frequencies);
    return rates over the set (with ``detail``, also broken down by shortest-path length and by
    what went wrong: ``breakdown``)."""
    scores = score_held_out(model, data, held_out, batch_size, scaling)
    forks = sum(s.fork_total for s in scores)
    rates = {
        "exact": float(np.mean([s.exact_path for s in scores])),
        "reached": float(np.mean([s.success for s in scores])),
        "fork_accuracy": sum(s.fork_correct for s in scores) / forks if forks else float("nan"),
        "n": len(scores),
    }
    return {**rates, **breakdown(scores)} if detail else rates


@torch.no_grad()
def score_held_out(
    model: GPT,
    data: DataConfig,
    held_out: EvalSet,
    batch_size: int = 256,
    scaling: RotaryScaling | None = None,
) -> list[EpisodeMetrics]:
    """Greedy-decode every held-out prompt; one judged ``EpisodeMetrics`` per maze, in order."""
    vocab = data.vocab
    probs = held_out.problems
    max_new = (probs.conns.shape[2] * probs.conns.shape[3] + 1) * data.tokens_per_cell
    scores = []
    for start in range(0, len(held_out.prompts), batch_size):
        chunk = held_out.prompts[start : start + batch_size]
        outs = generate(model, chunk, vocab.special[PATH_END], max_new, vocab.pad_id,
                        scaling=scaling)  # fmt: skip
        for j, out in enumerate(outs):
            i = start + j
            scores.append(
                score(
                    maze_env.Maze(probs.conns[i]),
                    tuple(probs.origins[i]),
                    tuple(probs.targets[i]),
                    vocab.decode(out),
                    data.scheme,
                )
            )
    return scores


def held_out_for(
    config: dict,
    n: int,
    seed: int = 0,
    generator: str | None = None,
    generator_kwargs: dict | None = None,
    size: int | None = None,
    max_distance: int | None = None,
) -> tuple[DataConfig, EvalSet]:
    """The data config and held-out set ``evaluate`` scores a checkpoint (``config``: its
    ``config.json``) on: its training data, or that with another generator (and its kwargs),
    one maze side, or paths of at most ``max_distance`` steps."""
    import dataclasses

    from agents.transformer.data import eval_set

    data = DataConfig(**config["data"])
    if generator is not None:
        data = dataclasses.replace(
            data, generator=generator, generator_kwargs=dict(generator_kwargs or {})
        )
    if size is not None:
        data = data.at_size(size)
    if max_distance is not None:
        data = dataclasses.replace(data, endpoints={**data.endpoints, "max_distance": max_distance})
    return data, eval_set(data, n, seed=seed)


def breakdown(scores: list[EpisodeMetrics], bin_width: int = 5) -> dict:
    """Exact-path rate per shortest-path length bin (``"1-5"``: 1 to 5 steps, ...), and for
    the episodes that missed it, how many went wrong at a fork (a wrong branch taken while still
    on the shortest path), and the violations they made."""
    bins: dict[str, list[bool]] = {}
    for s in sorted(scores, key=lambda s: s.optimal_length):
        lo = (max(s.optimal_length - 1, 0) // bin_width) * bin_width + 1
        bins.setdefault(f"{lo}-{lo + bin_width - 1}", []).append(s.exact_path)
    missed = [s for s in scores if not s.exact_path]
    return {
        "exact_by_optimal_length": {
            k: {"n": len(v), "exact": round(float(np.mean(v)), 4)} for k, v in bins.items()
        },
        "missed": {
            "n": len(missed),
            "wrong_fork_choice": sum(s.fork_correct < s.fork_total for s in missed),
            "violations": {
                kind: sum(bool(s.violations.get(kind)) for s in missed) for kind in VIOLATION_KINDS
            },
        },
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.transformer evaluate``: held-out scores of a checkpoint."""
    import json

    from agents.transformer.checkpoint import load_model
    from agents.transformer.cli import evaluate_parser, generator_kwargs
    from agents.transformer.data import eval_set, training_maze_hashes

    args = evaluate_parser().parse_args(argv)
    from agents.transformer.shipped import resolve_checkpoint

    try:
        model, config = load_model(resolve_checkpoint(args.checkpoint))
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    trained = DataConfig(**config["data"])
    data, held_out = held_out_for(config, args.n, args.seed, args.generator,
                                  generator_kwargs(args), args.size, args.max_distance)  # fmt: skip
    scaling = scaling_for(model.cfg, trained, args.rotary_scaling)
    scores = evaluate(model, data, held_out, detail=args.breakdown, scaling=scaling)
    if args.check_overlap:
        run = config["training"]["config"]
        run_data = DataConfig(**run["data"])
        run_held_out = eval_set(run_data, run["eval_size"], seed=run["seed"]).hashes
        seen = training_maze_hashes(
            run_data, run["seed"], config["training"]["summary"]["step"], run["batch_mazes"],
            exclude=run_held_out,
        )  # fmt: skip
        scores["mazes_also_in_training"] = len(held_out.hashes & seen)
    print(json.dumps({"generator": data.generator, **data.generator_kwargs, "size": data.size,
                      "max_distance": args.max_distance, "rotary_scaling": args.rotary_scaling,
                      **scores}))  # fmt: skip

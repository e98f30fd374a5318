"""Two transformer checkpoints on the same held-out mazes: the paired exact-path difference.

Both greedy-decode the held-out set ``python -m agents.transformer evaluate`` would score A on
(the same options), so every maze is played by both; prints each one's exact-path rate, A - B
with its paired bootstrap 95% interval (mazes resampled together, so a maze's difficulty
cancels) and how many mazes only one of them solves.  B must hold the same held-out set (the
same data config), else the comparison would not be paired and the command says so.

    python -m benchmarks compare A B [--n 150] [--size S] [--max-distance D]
        [--generator G --p P --tile T]
"""

from __future__ import annotations

import argparse
import json

from agents.transformer.cli import add_generator_arguments, generator_kwargs


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The comparison's options, on ``python -m benchmarks compare``'s subparser."""
    p.add_argument("a", help="model directory or shipped model name")
    p.add_argument("b", help="model directory or shipped model name")
    p.add_argument("--n", type=int, default=150, help="held-out mazes (default 150)")
    p.add_argument("--seed", type=int, default=0, help="held-out set seed (default 0)")
    add_generator_arguments(p)
    p.add_argument("--size", type=int, default=None, help="maze side (default: training's)")
    p.add_argument("--max-distance", type=int, default=None, help="longest shortest path")
    p.add_argument("--rotary-scaling", choices=("auto", "off"), default="auto",
                   help="as in evaluate (default auto)")  # fmt: skip


def run(args: argparse.Namespace) -> None:
    """Score both checkpoints and print the paired comparison as JSON."""
    from agents.transformer.checkpoint import load_model
    from agents.transformer.data import DataConfig
    from agents.transformer.evaluate import held_out_for, score_held_out
    from agents.transformer.length_scaling import scaling_for
    from agents.transformer.shipped import resolve_checkpoint
    from benchmarks.metrics import bootstrap_difference

    sides = []
    for name in (args.a, args.b):
        try:
            model, config = load_model(resolve_checkpoint(name))
        except FileNotFoundError as err:
            raise SystemExit(f"error: {err}") from None
        data, held_out = held_out_for(
            config, args.n, args.seed, args.generator, generator_kwargs(args), args.size,
            args.max_distance,
        )  # fmt: skip
        scaling = scaling_for(model.cfg, DataConfig(**config["data"]), args.rotary_scaling)
        sides.append((model, data, held_out, scaling))
    if sides[0][2].hashes != sides[1][2].hashes:
        raise SystemExit(f"error: {args.a} and {args.b} hold different held-out sets (their data "
                         "configs differ), so their scores cannot be paired")  # fmt: skip
    a, b = (
        [float(s.exact_path) for s in score_held_out(model, data, held_out, scaling=scaling)]
        for model, data, held_out, scaling in sides
    )
    diff, lo, hi = bootstrap_difference(a, b, paired=True, n_boot=10_000)
    print(json.dumps({
        "size": data.size, "generator": data.generator, **data.generator_kwargs,
        "max_distance": args.max_distance, "n": len(a),
        "exact": {args.a: sum(a) / len(a), args.b: sum(b) / len(b)},
        "a_minus_b": diff, "ci95": [lo, hi],
        "only_a": sum(x > y for x, y in zip(a, b)), "only_b": sum(y > x for x, y in zip(a, b)),
    }))  # fmt: skip

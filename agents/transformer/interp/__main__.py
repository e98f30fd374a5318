"""``python -m agents.transformer.interp --checkpoint DIR --out DIR [--mazes N] [--quick]
[--sections sizes,...]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from agents.transformer.checkpoint import load_model
from agents.transformer.data import DataConfig
from agents.transformer.shipped import resolve_checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.transformer.interp", description=__doc__
    )
    parser.add_argument("--checkpoint", required=True, help="model directory or shipped model name")
    parser.add_argument("--out", required=True, type=Path, help="report directory")
    parser.add_argument("--mazes", type=int, default=200, help="held-out mazes (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="held-out set seed")
    parser.add_argument(
        "--probe-mazes",
        type=int,
        default=2000,
        help="held-out mazes the linear probes fit on (default 2000; --quick: --mazes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer mazes, no per-position patching"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: many small forwards)"
    )
    parser.add_argument(
        "--shift-checkpoint",
        default="no_ne_targets_6x6",
        help="a model trained without targets in one region, compared in the target-shift "
        "section: a directory or a shipped model's name (default no_ne_targets_6x6; 'none' "
        "skips it)",
    )
    parser.add_argument(
        "--sections",
        default=None,
        help="comma-separated report sections to run alone (default: all): attention, probes, "
        "lens, patching, retarget, geometry, bottlenecks, target shift, clusters, sizes",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    sections = None if args.sections is None else [x.strip() for x in args.sections.split(",")]
    mazes = min(args.mazes, 24) if args.quick else args.mazes
    if mazes < 4:
        parser.error(f"--mazes must be >= 4, got {args.mazes}")
    if args.probe_mazes < 4:
        parser.error(f"--probe-mazes must be >= 4, got {args.probe_mazes}")
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    from agents.transformer.interp.report import chosen_sections, run_all

    try:
        chosen_sections(sections)
    except ValueError as err:
        parser.error(f"--sections: {err}")

    model, config = load_model(resolve_checkpoint(args.checkpoint))
    shift_model = None
    if args.shift_checkpoint.lower() != "none":
        path = resolve_checkpoint(args.shift_checkpoint)
        other, other_config = load_model(path)
        shift_model = (other, DataConfig(**other_config["data"]), path.name)
    run_all(
        model,
        DataConfig(**config["data"]),
        args.out,
        mazes,
        args.seed,
        args.quick,
        not args.no_progress,
        title=str(args.checkpoint),
        shift_model=shift_model,
        probe_mazes=None if args.quick else args.probe_mazes,
        sections=sections,
    )
    print(f"wrote {args.out / 'report.md'}")


if __name__ == "__main__":
    main()

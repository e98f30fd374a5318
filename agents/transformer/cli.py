"""The command lines of ``python -m agents.transformer {train,evaluate,export}``, without heavy
imports: ``--help`` answers before torch or TransformerLens load."""

from __future__ import annotations

import argparse
from pathlib import Path


def _parser(verb: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=f"python -m agents.transformer {verb}",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )


def train_parser() -> argparse.ArgumentParser:
    p = _parser(
        "train",
        "Train a maze transformer on fresh shortest-path problems (the JSON "
        "keys are TrainConfig's fields, documented in agents/transformer/train.py).",
    )
    p.add_argument("--config", required=True, type=Path, help="JSON training config")
    p.add_argument("--out", type=Path, default=None, help="run directory (None: runs/<name>)")
    p.add_argument(
        "--resume", action="store_true", help="continue from the run directory's checkpoint"
    )
    p.add_argument(
        "--data-change",
        action="store_true",
        help="with --resume: go on with the config's data (a curriculum phase; "
        "data.scheme and data.max_grid must stay the run's)",
    )
    p.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def add_generator_arguments(p: argparse.ArgumentParser) -> None:
    """``--generator`` and its kwargs (``generator_kwargs`` reads them back)."""
    p.add_argument("--generator", default=None, help="override the training generator")
    p.add_argument("--p", type=float, default=None, help="generator kwarg p (percolation)")
    p.add_argument("--tile", type=int, default=None, help="generator kwarg tile (rdfs_tiles)")


def generator_kwargs(args: argparse.Namespace) -> dict:
    """The generator kwargs given on the command line (``add_generator_arguments``)."""
    return {k: v for k, v in (("p", args.p), ("tile", args.tile)) if v is not None}


def evaluate_parser() -> argparse.ArgumentParser:
    p = _parser(
        "evaluate",
        "Greedy-decode held-out mazes (evaluation seed namespace, never "
        "trained on) and print exact-path, target-reached and fork-accuracy rates as "
        "JSON.",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="model directory or shipped model name (None: the shipped 6x6)",
    )
    p.add_argument("--n", type=int, default=1000, help="held-out mazes")
    p.add_argument("--seed", type=int, default=0, help="held-out set seed")
    add_generator_arguments(p)
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="maze side to score (None: the training sizes); a canvas-trained model plays "
        "it at random offsets in its canvas",
    )
    p.add_argument(
        "--max-distance",
        type=int,
        default=None,
        help="longest shortest path of the held-out problems (fixes path length as size grows)",
    )
    p.add_argument(
        "--rotary-scaling",
        choices=("auto", "off"),
        default="auto",
        help="rotary frequencies for prompts longer than training's: auto (scaled by "
        "length, agents.transformer.length_scaling) or off",
    )
    p.add_argument(
        "--check-overlap",
        action="store_true",
        help="replay the checkpoint's training stream and count held-out mazes it contains",
    )
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also print exact-path rates by shortest-path length and what the misses did",
    )
    return p


def export_parser() -> argparse.ArgumentParser:
    p = _parser(
        "export", "Copy a run's model (model.safetensors + config.json) to a shippable directory."
    )
    p.add_argument("run", type=Path, help="a run directory (or any model directory)")
    p.add_argument("dest", type=Path, help="where to write model.safetensors + config.json")
    return p

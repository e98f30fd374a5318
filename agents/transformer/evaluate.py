"""Score a model on a held-out set: exact path, target reached, fork accuracy."""

from __future__ import annotations

import numpy as np
import torch

import maze_env
from agents.transformer.data import DataConfig, EvalSet
from agents.transformer.decode import generate
from agents.transformer.model import GPT
from maze_env.tokens import PATH_END


def read_path(tokens: list[str], scheme: str) -> list[tuple[int, int]] | None:
    """Cells of emitted path tokens (up to ``<PATH_END>``); None if any token is not a cell."""
    cells = []
    step = 2 if scheme == "coords" else 1
    body = tokens[: tokens.index(PATH_END)] if PATH_END in tokens else tokens
    if len(body) % step:
        return None
    for i in range(0, len(body), step):
        try:
            if step == 2:
                cells.append((int(body[i]), int(body[i + 1])))
            else:
                r, c = body[i].strip("()").split(",")
                cells.append((int(r), int(c)))
        except ValueError:
            return None
    return cells


def judge(maze: maze_env.Maze, origin, target, path, ended: bool) -> dict:
    """exact (a shortest path, ended), reached (valid path ending at target), fork decisions."""
    result = {"exact": False, "reached": False, "fork_total": 0, "fork_correct": 0}
    if not path:
        return result
    to_target = maze.distances(target)
    optimal = int(to_target[origin])
    valid = maze.is_valid_path(path) and path[0] == tuple(origin)
    result["reached"] = bool(valid and ended and path[-1] == tuple(target))
    result["exact"] = bool(result["reached"] and len(path) == optimal + 1)
    visited: set = set()
    for i, cell in enumerate(path[:-1]):  # forks met while still on a shortest path
        if not (maze.is_valid_path(path[: i + 1]) and to_target[cell] == optimal - i):
            break
        visited.add(cell)
        options = [n for n in maze.neighbors(cell) if n not in visited]
        if len(options) > 1:
            result["fork_total"] += 1
            nxt = path[i + 1]
            result["fork_correct"] += int(nxt in options and to_target[nxt] == to_target[cell] - 1)
    return result


@torch.no_grad()
def evaluate(model: GPT, data: DataConfig, held_out: EvalSet, batch_size: int = 256) -> dict:
    """Greedy-decode every held-out prompt; return rates over the set."""
    vocab = data.vocab
    probs = held_out.problems
    max_new = (probs.conns.shape[2] * probs.conns.shape[3] + 1) * data.cell_width()
    scores = []
    for start in range(0, len(held_out.prompts), batch_size):
        chunk = held_out.prompts[start : start + batch_size]
        outs = generate(model, chunk, vocab.special[PATH_END], max_new, vocab.pad_id)
        for j, out in enumerate(outs):
            i = start + j
            origin = tuple(int(x) for x in probs.origins[i])
            tokens = vocab.decode(out)
            path = read_path(tokens, data.scheme)
            full = None if path is None else [origin, *path]
            scores.append(
                judge(
                    maze_env.Maze(probs.conns[i]),
                    origin,
                    tuple(probs.targets[i]),
                    full,
                    PATH_END in tokens,
                )
            )
    forks = sum(s["fork_total"] for s in scores)
    return {
        "exact": float(np.mean([s["exact"] for s in scores])),
        "reached": float(np.mean([s["reached"] for s in scores])),
        "fork_accuracy": sum(s["fork_correct"] for s in scores) / forks if forks else float("nan"),
        "n": len(scores),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.transformer evaluate``: held-out scores of a checkpoint."""
    import argparse
    import dataclasses
    import json

    from agents.transformer.checkpoint import load_model
    from agents.transformer.data import eval_set, training_maze_hashes

    parser = argparse.ArgumentParser(
        prog="python -m agents.transformer evaluate",
        description="Greedy-decode held-out mazes (evaluation seed namespace, never trained on) "
        "and print exact-path, target-reached and fork-accuracy rates as JSON.",
    )
    parser.add_argument("--checkpoint", default=None, help="model directory (default: shipped)")
    parser.add_argument("--n", type=int, default=1000, help="held-out mazes (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="held-out set seed (default 0)")
    parser.add_argument("--generator", default=None, help="override the training generator")
    parser.add_argument("--p", type=float, default=None, help="generator kwarg p (percolation)")
    parser.add_argument(
        "--check-overlap",
        action="store_true",
        help="replay the checkpoint's training stream and count held-out mazes it contains",
    )
    args = parser.parse_args(argv)
    from agents.transformer.policy import SHIPPED

    model, config = load_model(args.checkpoint or SHIPPED)
    data = DataConfig(**config["data"])
    if args.generator is not None:
        kwargs = {} if args.p is None else {"p": args.p}
        data = dataclasses.replace(data, generator=args.generator, generator_kwargs=kwargs)
    held_out = eval_set(data, args.n, seed=args.seed)
    scores = evaluate(model, data, held_out)
    if args.check_overlap:
        run = config["training"]["config"]
        seen = training_maze_hashes(
            DataConfig(**run["data"]), run["seed"], config["training"]["summary"]["step"],
            run["batch_mazes"],
        )  # fmt: skip
        scores["mazes_also_in_training"] = len(held_out.hashes & seen)
    print(json.dumps({"generator": data.generator, **data.generator_kwargs, **scores}))

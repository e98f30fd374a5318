"""Where does the model keep the maze? Wall probes at single tokens vs edge probes at ``;``.

    python -m agents.transformer.interp.walls [--checkpoint shipped_6x6] [--mazes 200]

Prints a Markdown table per residual point: accuracy / majority baseline / balanced accuracy
of (a) "is each lattice edge open?" at ``<PATH_START>``, at the origin token and at
``<ADJLIST_END>`` (one token holding the whole maze, the reading of Ivanitskiy et al. 2023),
and (b) "which edge does this connection name?" at each ``;`` of the adjacency list (a softmax
over the lattice edges; chance 1 / edges), where Spies et al. 2024 find connectivity held.
Same held-out mazes and 75% / 25% split by maze as the report's probes (``probes``).
"""

from __future__ import annotations

import argparse


def table(results: dict[str, list]) -> str:
    """Markdown: one row per residual point, one ``acc / baseline / balanced`` cell per probe."""
    names = list(results)
    lines = ["| residual | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    n = len(next(iter(results.values())))
    for i in range(n):
        point = "embed" if i == 0 else f"after L{i - 1}"
        cells = (f"{r[i].accuracy:.3f} / {r[i].baseline:.3f} / {r[i].balanced:.3f}" for r in
                 results.values())  # fmt: skip
        lines.append(f"| {point} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.transformer.interp.walls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=None, help="model directory or shipped name")
    parser.add_argument("--mazes", type=int, default=200, help="held-out mazes (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="held-out set and probe seed")
    args = parser.parse_args(argv)
    if args.mazes < 4:
        parser.error(f"--mazes must be >= 4, got {args.mazes}")
    import torch  # heavy imports after parsing: --help stays instant

    from agents.transformer.checkpoint import load_model
    from agents.transformer.data import DataConfig
    from agents.transformer.interp import probes
    from agents.transformer.interp.prompts import held_out
    from agents.transformer.policy import resolve_checkpoint

    torch.set_num_threads(1)
    model, config = load_model(resolve_checkpoint(args.checkpoint))
    data = DataConfig(**config["data"])
    examples = held_out(data, args.mazes, args.seed)
    single = probes.wall_probes(model, examples, args.seed)
    designs = probes.wall_probe_designs(model, examples, data.vocab, args.seed)
    results = {
        "walls at <PATH_START>": single["path_start"],
        "walls at origin": single["origin"],
        "walls at <ADJLIST_END>": designs["walls at <ADJLIST_END>"],
        "edge named, at each ;": designs["edge named, at each ;"],
    }
    print(table(results))


if __name__ == "__main__":
    main()

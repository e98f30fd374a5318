"""``python -m agents.transformer {train,export,evaluate,sweep} ...``"""

import sys

from agents.transformer import cli

VERBS = {
    "train": ("agents.transformer.train", "train a model from a JSON config (resumable)"),
    "export": ("agents.transformer.export", "copy a run's weights and config to a model folder"),
    "evaluate": ("agents.transformer.evaluate", "score a checkpoint on held-out mazes (JSON)"),
    "sweep": ("agents.transformer.sweep", "train a grid of configs on Ray Tune, rank them"),
}
PARSERS = {"train": cli.train_parser, "export": cli.export_parser, "evaluate": cli.evaluate_parser}


def main() -> None:
    verb = sys.argv[1] if len(sys.argv) > 1 else None
    if verb not in VERBS:
        lines = [f"usage: python -m agents.transformer {{{','.join(VERBS)}}} [--help]", ""]
        lines += [f"  {name:9s} {text}" for name, (_, text) in VERBS.items()]
        lines += ["", "Each verb's --help lists its options."]
        asked = verb in ("-h", "--help")
        print("\n".join(lines), file=sys.stdout if asked else sys.stderr)
        raise SystemExit(0 if asked else 2)
    PARSERS[verb]().parse_args(sys.argv[2:])  # --help and bad options answer before heavy imports
    import importlib

    importlib.import_module(VERBS[verb][0]).main(sys.argv[2:])


if __name__ == "__main__":
    main()

"""``python -m agents.transformer {train,export,evaluate} ...``"""

import sys


def main() -> None:
    verbs = {
        "train": "agents.transformer.train",
        "export": "agents.transformer.export",
        "evaluate": "agents.transformer.evaluate",
    }
    if len(sys.argv) < 2 or sys.argv[1] not in verbs:
        print(
            f"usage: python -m agents.transformer {{{','.join(verbs)}}} [--help]", file=sys.stderr
        )
        raise SystemExit(2)
    import importlib

    importlib.import_module(verbs[sys.argv[1]]).main(sys.argv[2:])


if __name__ == "__main__":
    main()

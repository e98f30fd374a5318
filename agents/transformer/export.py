"""Copy a run's model (``model.safetensors`` + ``config.json``) to a shippable directory.

python -m agents.transformer export runs/shipped_6x6 agents/models/shipped_6x6
"""

from __future__ import annotations

from pathlib import Path

from agents.transformer.checkpoint import load_model, save_model
from agents.transformer.cli import export_parser


def export(run: Path, dest: Path) -> dict:
    """Load (and so validate) the run's model, then write it atomically to ``dest``."""
    model, config = load_model(run)
    save_model(dest, model, config)
    return config["training"]["summary"]


def main(argv: list[str] | None = None) -> None:
    args = export_parser().parse_args(argv)
    print(export(args.run, args.dest))


if __name__ == "__main__":
    main()

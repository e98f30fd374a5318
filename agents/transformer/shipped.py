"""The models that ship with the package: names, folders, and checkpoint resolution (no torch).

Kept free of heavy imports so that listing the shipped models (a suite expands ``transformer``
into one agent per model) costs nothing.
"""

from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).parent / "models"
SHIPPED = MODELS / "shipped_6x6"
DEFAULT = SHIPPED.name


def shipped_models() -> list[str]:
    """Names of the models that ship with the package (``checkpoint=`` accepts them)."""
    return sorted(p.name for p in MODELS.iterdir() if (p / "config.json").is_file())


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """A model directory, or the name of a shipped model; None is the shipped 6x6 model."""
    if checkpoint is None:
        return SHIPPED
    path = Path(checkpoint)
    if path.exists() or path.is_absolute() or len(path.parts) > 1:
        return path  # load_model names the file if the directory is incomplete
    if (MODELS / path).is_dir():
        return MODELS / path
    raise FileNotFoundError(
        f"checkpoint {str(checkpoint)!r} is neither a directory nor a shipped model "
        f"({', '.join(shipped_models())})"
    )

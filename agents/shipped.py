"""Every model that ships with the package, in one folder, ``agents/models/<name>/``, found by
name: a transformer is a directory holding ``config.json`` and ``model.safetensors``; an SB3
agent a ``model.zip`` with its ``model.json`` manifest (sha256 and env).

Free of heavy imports: listing the shipped models (a suite expands ``transformer`` into one
agent per model) loads neither torch nor SB3.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS = Path(__file__).parent / "models"
KINDS = ("transformer", "sb3")


def kind_of(folder: Path) -> str | None:
    """``"transformer"``, ``"sb3"`` or None: what a model folder holds."""
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        return "transformer"
    if (folder / "model.zip").is_file() and (folder / "model.json").is_file():
        return "sb3"
    return None


def shipped(kind: str) -> dict[str, Path]:
    """The shipped models of one kind, by name: what its loader reads (a transformer's folder,
    an SB3 agent's zip)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    found = {}
    for folder in sorted(p for p in MODELS.iterdir() if p.is_dir()):
        if kind_of(folder) == kind:
            found[folder.name] = folder if kind == "transformer" else folder / "model.zip"
    return found


def resolve(kind: str, name_or_path: str | os.PathLike, strict: bool = True) -> Path:
    """An existing path as given, else a shipped model's name (of ``kind``) → its path.  With
    ``strict``, a bare name that is neither an existing path nor a shipped model raises
    ``FileNotFoundError`` listing the shipped ones."""
    path, models = Path(name_or_path), shipped(kind)
    if path.exists() or path.is_absolute() or len(path.parts) > 1:
        return path  # the loader names the file if it is missing or incomplete
    if isinstance(name_or_path, str) and name_or_path in models:
        return models[name_or_path]
    if not strict:
        return path
    raise FileNotFoundError(
        f"{kind} model {str(name_or_path)!r} is neither a path nor a shipped model "
        f"({', '.join(models) or 'none shipped'})"
    )

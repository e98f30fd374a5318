"""Checkpoints: a directory with ``model.safetensors`` + ``config.json`` (never pickle).

A training run directory also holds ``optimizer.safetensors`` and ``trainer_state.json`` so
``--resume`` continues exactly.  Files written together are all written to temporary names
first and then renamed one after the other (``trainer_state.json`` last), so a kill leaves
either the old set or the new one — safetensors files carry their step in their metadata and
``check_same_step`` catches the microseconds-wide case where it lands between two renames.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from agents.transformer.model import GPT, GPTConfig
from maze_env.files import write_files

MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"
OPTIM_FILE, STATE_FILE = "optimizer.safetensors", "trainer_state.json"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, truncated or does not match its config."""


def _json_writer(data: dict) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    return write


def _tensor_writer(
    tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> Callable[[str], None]:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return lambda tmp: save_file(tensors, tmp, metadata=metadata)


def write_json(path: Path, data: dict) -> None:
    write_files({Path(path): _json_writer(data)})


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None


def tensor_metadata(path: Path) -> dict[str, str]:
    """The metadata header of a safetensors file ({} if it has none)."""
    try:
        with safe_open(path, "pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: corrupted or truncated safetensors file ({err})") from None


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: corrupted or truncated safetensors file ({err})") from None


def save_model(directory: Path, model: GPT, config: dict, extra: dict | None = None) -> None:
    """Write ``model.safetensors`` and ``config.json`` (which must hold ``config["model"]``).

    ``extra``: more files written together with them, ``{name: dict (JSON) or (tensors,
    metadata)}``, renamed after the model files in the order given.
    """
    directory = Path(directory)
    step = config.get("training", {}).get("summary", {}).get("step")
    tag = None if step is None else {"step": str(step)}
    writers = {
        directory / MODEL_FILE: _tensor_writer(dict(model.state_dict()), tag),
        directory / CONFIG_FILE: _json_writer(config),
    }
    for name, content in (extra or {}).items():
        writers[directory / name] = (
            _json_writer(content) if isinstance(content, dict) else _tensor_writer(*content)
        )
    write_files(writers)


def check_same_step(directory: Path, step: int, names: tuple[str, ...]) -> None:
    """Raise CheckpointError unless every safetensors file in ``names`` was saved at ``step``."""
    for name in names:
        saved = tensor_metadata(Path(directory) / name).get("step")
        if saved is not None and int(saved) != step:
            raise CheckpointError(
                f"{Path(directory) / name}: saved at step {saved}, but {STATE_FILE} says "
                f"{step}: the run was killed while saving a checkpoint; restore the directory "
                "from a copy or start the run again"
            )


def load_model(directory: Path) -> tuple[GPT, dict]:
    """Load a model directory; any problem raises CheckpointError naming the file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    config = read_json(directory / CONFIG_FILE)
    if "model" not in config:
        raise CheckpointError(f"{directory / CONFIG_FILE}: no 'model' section")
    try:
        model = GPT(GPTConfig(**config["model"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{directory / CONFIG_FILE}: bad model config ({err})") from None
    state = load_tensors(directory / MODEL_FILE)
    expected = model.state_dict()
    missing, extra = set(expected) - set(state), set(state) - set(expected)
    if missing or extra:
        raise CheckpointError(
            f"{directory / MODEL_FILE}: tensors do not match config.json "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"{directory / MODEL_FILE}: {name} has shape {tuple(tensor.shape)}, "
                f"config.json implies {tuple(expected[name].shape)}"
            )
    model.load_state_dict(state)
    model.eval()
    return model, config


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into tensors (for safetensors) and JSON-able rest."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{pid}.{key}"] = val
            else:
                scalars[f"{pid}.{key}"] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], rest: dict
) -> None:
    state: dict[int, dict] = {}
    for name, val in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    for name, val in rest["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = val
    optimizer.load_state_dict({"state": state, "param_groups": rest["param_groups"]})

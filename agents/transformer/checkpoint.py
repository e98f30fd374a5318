"""Checkpoints: a directory with ``model.safetensors`` + ``config.json`` (never pickle).

A training run directory also holds ``optimizer.safetensors`` and ``trainer_state.json`` so
``--resume`` continues exactly.  Files saved together are one set, committed atomically
(``commit``): every file is written into ``<dir>/.staging``, which one rename turns into
``<dir>/.commit`` (the commit point), whose files are then moved into place.  A kill before the
commit point leaves the old set (the next save or load drops the staging folder); a kill after
it leaves a complete new set that ``recover`` (run by every load and save) finishes moving in.
``config.json`` records the sha256 of every tensor file of its set (``"sha256"``), checked on
load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from agents.transformer.data import DataConfig
from agents.transformer.model import GPT, GPTConfig
from maze_env.files import file_mode, write_files

MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.json"
OPTIM_FILE, STATE_FILE = "optimizer.safetensors", "trainer_state.json"
STAGING, COMMIT = ".staging", ".commit"
HASHES = "sha256"  # config.json key: {tensor file name: sha256 hex digest}


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted, truncated or does not match its config."""


def _json_writer(data: dict) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    return write


def _crash_point(where: str) -> None:
    """Called between the steps of ``commit`` (tests replace it to kill the process there)."""


def _write_durable(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(directory: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` ({name: content}) into ``directory`` as one set: after a kill at any
    point, the directory holds (once ``recover`` ran) either its old set or the whole new one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    recover(directory)
    staging = directory / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    mode = file_mode()
    for name, data in files.items():
        _write_durable(staging / name, data)
        os.chmod(staging / name, mode)
        _crash_point(f"wrote {name}")
    _sync_dir(staging)
    os.rename(staging, directory / COMMIT)  # the commit point
    _sync_dir(directory)
    _crash_point("committed")
    recover(directory)


def recover(directory: Path) -> None:
    """Finish a commit a kill interrupted: move a committed set's remaining files into place and
    drop a half-written staging folder.  Nothing to do (and nothing written) otherwise."""
    directory = Path(directory)
    pending = directory / COMMIT
    if pending.is_dir():
        for name in sorted(os.listdir(pending)):
            try:
                os.replace(pending / name, directory / name)
            except FileNotFoundError:  # another process (a reader) moved it first
                continue
            _crash_point(f"moved {name}")
        with contextlib.suppress(FileNotFoundError):  # a reader finished it first
            pending.rmdir()
        _sync_dir(directory)
    if (directory / STAGING).is_dir():
        shutil.rmtree(directory / STAGING, ignore_errors=True)


def tensor_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file's content (tensors moved to the CPU)."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return save_bytes(tensors, metadata=metadata)


def json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


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


def sha256_hex(data: bytes) -> str:
    """The content hash checkpoints record (hex sha256)."""
    return hashlib.sha256(data).hexdigest()


def load_tensors(path: Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file; with ``sha256``, first check the file has that content hash."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    data = path.read_bytes()
    if sha256 is not None and sha256_hex(data) != sha256:
        raise CheckpointError(
            f"{path}: content does not match the sha256 recorded in {CONFIG_FILE} "
            "(the file is corrupted or was replaced)"
        )
    try:
        return load_bytes(data)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"{path}: corrupted or truncated safetensors file ({err})") from None


def read_tensors(directory: Path, name: str, config: dict) -> dict[str, torch.Tensor]:
    """``load_tensors`` of ``directory/name``, checked against the hash ``config`` records for
    it (checkpoints written before hashes were recorded have none)."""
    hashes = config.get(HASHES)
    if hashes is not None and name not in hashes:
        raise CheckpointError(f"{Path(directory) / CONFIG_FILE}: no sha256 recorded for {name}")
    return load_tensors(Path(directory) / name, None if hashes is None else hashes[name])


def save_model(directory: Path, model: GPT, config: dict, extra: dict | None = None) -> None:
    """Commit ``model.safetensors`` and ``config.json`` (which must hold ``config["model"]``).

    ``extra``: more files of the same set, ``{name: dict (JSON) or (tensors, metadata)}``.
    ``config.json`` is written with the sha256 of every tensor file of the set.
    """
    step = config.get("training", {}).get("summary", {}).get("step")
    tag = None if step is None else {"step": str(step)}
    files = {MODEL_FILE: tensor_bytes(dict(model.state_dict()), tag)}
    for name, content in (extra or {}).items():
        files[name] = json_bytes(content) if isinstance(content, dict) else tensor_bytes(*content)
    hashes = {n: sha256_hex(b) for n, b in files.items() if n.endswith(".safetensors")}
    files[CONFIG_FILE] = json_bytes({**config, HASHES: hashes})
    commit(directory, files)


def check_same_step(directory: Path, step: int, names: tuple[str, ...]) -> None:
    """Raise CheckpointError unless every safetensors file in ``names`` was saved at ``step``
    (a run directory written before saves were committed atomically may hold a mixed set)."""
    for name in names:
        saved = tensor_metadata(Path(directory) / name).get("step")
        if saved is not None and int(saved) != step:
            raise CheckpointError(
                f"{Path(directory) / name}: saved at step {saved}, but {STATE_FILE} says "
                f"{step}: the run was killed while saving a checkpoint; restore the directory "
                "from a copy or start the run again"
            )


def check_config(config: dict, where: Path) -> GPTConfig:
    """Validate a checkpoint config (``model`` and ``data`` sections, and that they agree);
    return the model config.  Problems raise CheckpointError naming the key."""
    for key in ("model", "data"):
        if not isinstance(config.get(key), dict):
            raise CheckpointError(f"{where}: no {key!r} section (a dict of {key} settings)")
    try:
        model_cfg = GPTConfig(**config["model"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: bad 'model' section ({err})") from None
    try:
        data = DataConfig(**config["data"])
        vocab_size = len(data.vocab)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: bad 'data' section ({err})") from None
    if model_cfg.vocab_size != vocab_size:
        raise CheckpointError(
            f"{where}: model.vocab_size={model_cfg.vocab_size}, but data.max_grid="
            f"{data.max_grid} has {vocab_size} tokens"
        )
    need = data.longest_sequence()
    if model_cfg.positional == "learned" and model_cfg.n_ctx < need:
        raise CheckpointError(
            f"{where}: model.n_ctx={model_cfg.n_ctx} is shorter than the data's longest "
            f"sequence ({need} tokens) and learned positions stop at n_ctx"
        )
    return model_cfg


def load_model(directory: Path) -> tuple[GPT, dict]:
    """Load a model directory; any problem raises CheckpointError naming the file."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: checkpoint directory not found")
    if (directory / COMMIT).is_dir():
        recover(directory)  # a save killed after its commit point: finish it
    config = read_json(directory / CONFIG_FILE)
    model = GPT(check_config(config, directory / CONFIG_FILE))
    state = read_tensors(directory, MODEL_FILE, config)
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

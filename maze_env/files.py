"""Atomic file writes: write to a temporary name in the same folder, then ``os.replace``.

Every writer in the project goes through ``write_files`` so that a kill never leaves a
half-written file (or, for files written together, a new file beside an old one for longer than
the renames take).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[str], None]  # writes the file's content to the temporary path it is given


def _umask() -> int:
    """The process's umask (read by setting it, then putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode ``open()`` gives a new file under the process's umask (``mkstemp`` makes 0600)."""
    return 0o666 & ~_umask()


def write_files(writers: dict[Path, Writer], suffix: str = "") -> None:
    """Write every file to a temporary name, then rename them all (in the dict's order).

    ``suffix`` ends the temporary names (for writers that pick the format from it).
    """
    temps: dict[Path, str] = {}
    mode = file_mode()
    try:
        for path, write in writers.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
            os.close(fd)
            temps[path] = tmp
            write(tmp)
        for path, tmp in temps.items():
            os.chmod(tmp, mode)
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        raise


def write_file(path: str | os.PathLike, write: Writer, suffix: str = "") -> Path:
    """``write_files`` for one file; returns its path."""
    path = Path(path)
    write_files({path: write}, suffix)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically, flushed to disk before the rename."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    return write_file(path, write)

"""Worker processes die with their parent, even when it is killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        from benchmarks.executor import ProcessExecutor
        from bench_helpers import report_and_sleep
        for _ in ProcessExecutor(2).map_unordered(report_and_sleep, [{str(tmp_path)!r}] * 2):
            pass
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    parent = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=HERE.parent)
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.iterdir())) < 2:  # both workers are in their cells
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        kids = children(parent.pid)  # the two workers and multiprocessing's resource tracker
        workers = {int(p.name) for p in tmp_path.iterdir()}
        assert workers <= kids
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in kids if alive(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in kids:  # never leave this test's processes behind, even when it fails
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

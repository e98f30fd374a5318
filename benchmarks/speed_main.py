"""The main job under load: ``python -m benchmarks`` alone, then beside CPU-bound processes.

Runs the README's main command (the quick suite, every built-in agent, default workers) into a
temporary folder twice: first alone (the reference), then beside ``--load`` processes that each
keep ``--load-threads`` torch threads busy with matrix products (like a training run).  Prints
both wall times and their ratio.  Target: <= 60 s alone on an idle two-core machine and a ratio
<= 3 beside two 2-thread processes (a fair share of the cores: 2 of 6 busy threads are ours).
"Alone" is only idle on an idle machine: the load average at the start is printed beside it.

The fair share assumes a thread beside others runs as fast as a thread alone; on real cores it
does not (shared caches, memory bandwidth, SMT siblings).  So the same run also times an *ideal
job* -- two single-thread processes of fixed small matrix products, the main job's shape with no
scheduling, pipes or imports to lose time in -- alone and beside the same load, and prints the
main job's slowdown relative to the ideal job's: 1.0 means the main job loses nothing beyond
what any two-thread job loses on this machine.

    python -m benchmarks speed main [--load 2] [--load-threads 2] [--episodes N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A CPU-bound process: matrix products on N torch threads until its parent goes away.
BUSY = """
import os, sys, torch
torch.set_num_threads(int(sys.argv[1]))
parent, a = os.getppid(), torch.randn(384, 384)
while os.getppid() == parent:
    for _ in range(20):
        a = torch.tanh(a @ a)
"""
# The ideal job's worker: a fixed count of small products on one torch thread.
IDEAL = """
import sys, torch
torch.set_num_threads(1)
a, w = torch.randn(64, 128), torch.randn(128, 128) / 12
for _ in range(int(sys.argv[1])):
    a = torch.tanh(a @ w)
"""


def ideal_job(iters: int, workers: int = 2) -> float:
    """Wall seconds of ``workers`` single-thread processes doing ``iters`` small products each."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", IDEAL, str(iters)]) for _ in range(workers)]
    if any(proc.wait() != 0 for proc in procs):
        raise SystemExit("the ideal job's workers failed")
    return time.perf_counter() - start


def main_job(out: Path, extra: list[str]) -> float:
    """Wall seconds of ``python -m benchmarks --out OUT --no-progress EXTRA``."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--out", str(out), "--no-progress", *extra],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the main job failed ({done.returncode}):\n{done.stderr[-2000:]}")
    print("  " + "\n  ".join(done.stdout.strip().splitlines()[-2:]))
    return elapsed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks speed main", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--load", type=int, default=2, help="CPU-bound processes (default 2)")
    p.add_argument("--load-threads", type=int, default=2, help="threads each (default 2)")
    p.add_argument("--episodes", type=int, default=None, help="episodes per condition "
                   "(default: the quick suite's own; fewer for a short check)")  # fmt: skip
    p.add_argument("--ideal-iters", type=int, default=100_000,
                   help="small products per ideal-job worker (default 100000)")  # fmt: skip
    args = p.parse_args(argv)
    extra = [] if args.episodes is None else ["--episodes", str(args.episodes)]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        alone = main_job(Path(tmp) / "alone", extra)
        print(f"main job alone: {alone:.1f} s")
        ideal_alone = ideal_job(args.ideal_iters)
        print(f"ideal job alone: {ideal_alone:.1f} s")
        busy = [
            subprocess.Popen([sys.executable, "-c", BUSY, str(args.load_threads)])
            for _ in range(args.load)
        ]
        try:
            time.sleep(2.0)  # let them start spinning
            loaded = main_job(Path(tmp) / "loaded", extra)
            ideal_loaded = ideal_job(args.ideal_iters)
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
    print(f"main job beside {args.load} x {args.load_threads}-thread CPU-bound processes: "
          f"{loaded:.1f} s = {loaded / alone:.2f}x alone (target <= 3x)")  # fmt: skip
    ideal_ratio = ideal_loaded / ideal_alone
    print(f"ideal job beside the same load: {ideal_loaded:.1f} s = {ideal_ratio:.2f}x alone")
    relative = loaded / alone / ideal_ratio
    print(f"main job's slowdown relative to the ideal job's: {relative:.2f} "
          "(1.0: nothing lost beyond what the machine itself loses)")  # fmt: skip


if __name__ == "__main__":
    main()

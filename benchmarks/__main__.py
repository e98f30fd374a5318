"""``python -m benchmarks``: run suites, list suites and agents, compare checkpoints, speed.

Plain ``python -m benchmarks`` runs the quick suite with every built-in agent into ./results.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

from benchmarks import compare

EPILOG = """\
examples:
  python -m benchmarks                       # quick suite, every built-in agent -> ./results
  python -m benchmarks run --suite size --agents oracle,random-fork,transformer --out results/size
  python -m benchmarks run --suite my_suite.toml --agents oracle,mypkg.agents:MyAgent --workers 2
  python -m benchmarks run --suite full --executor ray --address ray://head:10001 --out results/full
  python -m benchmarks run --suite quick --out results --resume      # continue a killed run
  python -m benchmarks list                               # suites and agents
  python -m benchmarks overlap --suite size --hashes train_hashes.txt
  python -m benchmarks speed maze              # maze | env | transformer | sb3 | ddp | main
  python -m benchmarks compare runs/mine small_to_large --size 10   # paired, same mazes

outputs (in --out DIR): results.json (schema: benchmarks/report.py), results.csv, report.md
(opens with the agent x condition matrix), matrix.png, one figure per suite axis the suite
varies (size.png, p.png, obstacles.png, generator.png, target_region.png), target_heatmap.png
(success by target cell), gifs/ (captioned failure rollouts), cells/ (one JSON per finished
cell; what --resume reads).  A condition an agent cannot play by design (a transformer beyond
its max_grid) is "n/a" with the reason; a real error makes the command exit with status 1.
Suites are TOML files: copy one from benchmarks/suites/ and pass its path to --suite.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="TokenMaze benchmark harness: generalization suites, metrics with 95% CIs, "
        "reports and plots.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser(
        "run",
        help="run a suite (default command)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--suite",
        default="quick",
        help="a built-in suite name (see `list`) or a path to a suite .toml (default: quick)",
    )
    run.add_argument(
        "--agents",
        default=None,
        help="comma-separated agent names: registered names (see `list`) or "
        "'package.module:Class'; default: the suite's agents, else every built-in agent",
    )
    run.add_argument(
        "--out", default="results", type=Path, help="output folder (default: ./results)"
    )
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes, or CPUs for a local Ray instance; results are "
        "identical for any count (default: one per core, at most 8, for a run of at least "
        "200 episodes per worker; each worker gets cores/workers torch threads)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue a run in --out: finished cells (cells/*.json) are kept, the rest run",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an unfinished earlier run in --out (a finished one is always replaced "
        "unless --resume is given)",
    )
    run.add_argument(
        "--executor",
        choices=("process", "ray"),
        default="process",
        help="where cells run: local processes (default) or Ray (pip install 'tokenmaze[ray]')",
    )
    run.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (with --executor ray); default: start a local instance",
    )
    run.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="override every condition's episode count (e.g. a smoke test)",
    )
    run.add_argument(
        "--batch",
        type=int,
        default=64,
        help="episodes played in lockstep for agents with act_batch (default: 64)",
    )
    run.add_argument(
        "--gifs", type=int, default=2, help="failure GIFs per agent (0: none; default 2)"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("list", help="list built-in suites and registered agents")
    ov = sub.add_parser(
        "overlap", help="count a suite's evaluation mazes that appear in a training set"
    )
    ov.add_argument("--suite", default="quick", help="suite name or .toml path")
    ov.add_argument(
        "--hashes",
        required=True,
        type=Path,
        help="text file of training Maze.canonical_hash() values, one per line",
    )
    compare.add_arguments(
        sub.add_parser(
            "compare",
            help="two transformer checkpoints on the same held-out mazes: the paired "
            "exact-path difference",
            description=compare.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    sp = sub.add_parser(
        "speed",
        help="speed benchmarks: maze | env | transformer | sb3 | ddp | main (extra args pass "
        "through)",
    )
    sp.add_argument("target", choices=("maze", "env", "transformer", "sb3", "ddp", "main"))
    sp.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for that benchmark")
    return p


def _agent_specs(arg: str | None, suite):
    import agents
    from benchmarks.suites import AgentSpec

    if arg is None:
        specs = list(suite.agents) or [AgentSpec(n, n) for n in agents.available()]
    else:
        names = [n.strip() for n in arg.split(",") if n.strip()]
        if not names:
            raise SystemExit("error: --agents is empty")
        known = agents.available()
        for n in names:
            if n not in known and ":" not in n:
                raise SystemExit(
                    f"error: unknown agent {n!r}; registered agents: {', '.join(known)} "
                    "(or 'package.module:Class')"
                )
        specs = [AgentSpec(n, n) for n in names]
    for spec in specs:  # an external 'module:Attr' must be an agent before anything runs
        if spec.name not in agents.available():
            try:
                agents.resolve(spec.name)
            except (ImportError, TypeError, ValueError) as err:
                raise SystemExit(f"error: agent {spec.label!r}: {err}") from None
    return specs


def cmd_run(args) -> int:
    from dataclasses import replace

    from benchmarks.executor import auto_workers, make_executor
    from benchmarks.report import assemble, write_all
    from benchmarks.runner import plan_cells, run_cells
    from benchmarks.suites import SuiteError, load_suite

    try:
        suite = load_suite(args.suite)
    except SuiteError as err:
        raise SystemExit(f"error: {err}") from None
    if args.episodes is not None:
        if args.episodes < 1:
            raise SystemExit("error: --episodes must be >= 1")
        suite = replace(
            suite, conditions=tuple(replace(c, episodes=args.episodes) for c in suite.conditions)
        )
    specs = _agent_specs(args.agents, suite)
    cells = plan_cells(suite, specs, batch=args.batch)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(
            total=sum(c.stop - c.start for c in cells), unit="ep", desc=f"suite {suite.name}"
        )

    errors: list[str] = []

    def on_done(cell, result):
        if result.get("error"):
            errors.append(f"{cell.condition.name} × {cell.agent.label}: {result['error']}")
        if bar is not None:
            bar.update(cell.stop - cell.start)
            bar.set_postfix_str(f"{cell.agent.label} @ {cell.condition.name}", refresh=False)

    _clear_earlier_run(args.out, resume=args.resume, overwrite=args.overwrite)
    t0 = time.perf_counter()
    workers = args.workers
    if workers is None and args.executor == "process":
        workers = auto_workers(len(cells), sum(c.stop - c.start for c in cells))
    try:
        executor = make_executor(args.executor, workers, args.address)
    except (RuntimeError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    try:
        try:
            results_cells = run_cells(
                cells, args.out, executor, resume=args.resume, on_done=on_done
            )
        except FileExistsError as err:
            raise SystemExit(f"error: {err}") from None
        finally:
            if bar is not None:
                bar.close()
        run = {
            "elapsed_s": time.perf_counter() - t0,
            "executor": args.executor,
            "workers": workers,
            "threads_per_worker": getattr(executor, "threads", None),
            "resumed": bool(args.resume),
            "python": platform.python_version(),
            "provenance": provenance(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cell_seconds": {c["key"]: c.get("elapsed_s") for c in results_cells},
        }
        results = assemble(suite, specs, results_cells, run)
        # local workers draw the figures too (a Ray worker may not share this disk)
        figure_workers = executor if args.executor == "process" else None
        files = write_all(results, results_cells, args.out, args.gifs, figure_workers)
    finally:
        executor.close()
    for msg in dict.fromkeys(errors):
        print(f"warning: {msg}", file=sys.stderr)
    per_agent: dict[str, float] = {}
    for cell, result in zip(cells, results_cells):
        per_agent[cell.agent.label] = per_agent.get(cell.agent.label, 0.0) + (
            result.get("elapsed_s") or 0.0
        )
    print(
        f"seconds per agent (its cells summed; {workers or 'ray'} worker(s) ran in parallel): "
        + ", ".join(f"{k} {v:.1f}" for k, v in per_agent.items())
    )
    print(
        f"wrote {', '.join(files[:3])} and {len(files) - 3} more to {args.out} "
        f"({run['elapsed_s']:.1f} s playing, {time.perf_counter() - t0:.1f} s in all)"
    )
    failed = [r for r in results["records"] if r["error"]]
    if failed:
        print(
            f"error: {len(failed)} agent × condition records failed (listed at the top of "
            f"{args.out / 'report.md'}); the other results are written",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_list(_args) -> int:
    import agents
    from benchmarks.suites import available_suites, load_suite

    print("suites (python -m benchmarks run --suite NAME, or a path to your own .toml):")
    for name, desc in available_suites().items():
        n = len(load_suite(name).conditions)
        print(f"  {name:14s} {n:3d} conditions  {desc}")
    print("\nagents (--agents a,b,... ; or 'package.module:Class'):")
    for name, desc in agents.available().items():
        print(f"  {name:18s} {desc}")
    return 0


def cmd_overlap(args) -> int:
    from benchmarks.suites import SuiteError, load_suite, training_overlap

    try:
        suite = load_suite(args.suite)
    except SuiteError as err:
        raise SystemExit(f"error: {err}") from None
    hashes = [h.strip() for h in args.hashes.read_text().splitlines() if h.strip()]
    print(json.dumps(training_overlap(suite, hashes), indent=1))
    return 0


def cmd_compare(args) -> int:
    compare.run(args)
    return 0


def cmd_speed(args) -> int:
    module = f"benchmarks.speed_{args.target}"
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise SystemExit(
            f"error: the speed benchmark {module} is not part of this installation"
        ) from None
    mod.main(args.rest)
    return 0


def _clear_earlier_run(out: Path, resume: bool, overwrite: bool) -> None:
    """Without ``--resume``, remove an earlier run's cells from ``out``: a finished run's
    (``results.json`` written) always, an unfinished one's only with ``--overwrite``."""
    cells = out / "cells"
    if resume or not (cells.is_dir() and any(cells.glob("*.json"))):
        return
    if not (overwrite or (out / "results.json").is_file()):
        raise SystemExit(
            f"error: {cells} holds the cells of an unfinished run; pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out"
        )
    import shutil

    print(f"replacing the earlier run in {out} (--resume continues one instead)", file=sys.stderr)
    shutil.rmtree(cells)


def provenance() -> dict:
    """What produced a result: the project's git commit, package versions, the machine."""
    import os
    import subprocess
    from importlib import metadata

    root = Path(__file__).resolve().parent.parent

    def git(*words: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *words], capture_output=True, text=True,
                              timeout=10, check=True)  # fmt: skip
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    versions = {}
    for name in ("tokenmaze", "torch", "numpy", "numba", "gymnasium", "stable-baselines3"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "packages": versions,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    args = _parser().parse_args(argv)
    commands = {"run": cmd_run, "list": cmd_list, "overlap": cmd_overlap,
                "compare": cmd_compare, "speed": cmd_speed}  # fmt: skip
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

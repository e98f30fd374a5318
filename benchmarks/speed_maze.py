"""Maze throughput: TokenMaze's batch API against maze-dataset 1.4.2 doing the same work.

Measured in mazes per second, at each size (square grids):

- ``<generator> + solve``: generate, sample (origin, target), BFS shortest path;
- ``tokens -> str``: a solved maze to its ``aotp`` token strings (maze-dataset: ``AOTP_UT``);
- ``tokens -> ids``: the same to integer ids (maze-dataset: strings, then ``encode``).

Each measurement repeats its work until ``--budget`` seconds have passed (after one warm-up call,
which compiles the numba kernels).  maze-dataset, when installed, does one maze per call:
``LatticeMazeGenerators.gen_*``, ``generate_random_path`` (endpoints + shortest path),
``SolvedMaze.as_tokens`` and ``MazeTokenizer.encode``.

    python -m benchmarks.speed_maze --quick
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np

import maze_env
from benchmarks.timing import rate

# TokenMaze generator (with kwargs) -> maze-dataset generator name and kwargs
REFERENCE_GENERATORS = {
    "rdfs": ("gen_dfs", {}),
    "wilson": ("gen_wilson", {}),
    "kruskal": ("gen_kruskal", {}),
    "prim": ("gen_prim", {}),
    "recursive_division": ("gen_recursive_division", {}),
    "percolation": ("gen_percolation", {"p": 0.6}),
    "rdfs_percolation": ("gen_dfs_percolation", {"p": 0.1}),
    "open_field": (None, {}),
}
# (task, size) -> required speed-up over maze-dataset (issue #2)
TARGETS = {
    ("rdfs + solve", 10): 100,
    ("rdfs + solve", 20): 100,
    **{("wilson + solve", n): 100 for n in (10, 20)},
    **{("tokens -> str", n): 20 for n in (10, 20)},
}


@dataclass
class Row:
    task: str
    size: int
    ours: float
    reference: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if not self.reference else self.ours / self.reference


def batch_size(size: int) -> int:
    return max(32, 40_000 // (size * size))


def solved_batch(name: str, size: int, n: int, rng: np.random.Generator):
    """Generate, sample endpoints and solve n mazes: (conns, origins, targets, paths, lengths)."""
    kwargs = REFERENCE_GENERATORS[name][1]
    conns = maze_env.generate_batch(name, size, n, rng, **kwargs)
    origins, targets = maze_env.sample_endpoints_batch(conns, rng)
    paths = np.empty((n, size * size), np.int32)
    lengths = maze_env.solve_batch(
        conns, origins[:, 0] * size + origins[:, 1], targets[:, 0] * size + targets[:, 1], paths
    )
    return conns, origins, targets, paths, lengths


def ours_solve(name: str, size: int, budget: float) -> float:
    rng, n = np.random.default_rng(0), batch_size(size)
    return rate(lambda: len(solved_batch(name, size, n, rng)[0]), budget)


def ours_tokens(size: int, budget: float, to_strings: bool) -> float:
    rng, n = np.random.default_rng(0), batch_size(size)
    batch = solved_batch("rdfs", size, n, rng)
    vocab = maze_env.vocabulary(size)

    def work() -> int:
        ids, lengths = maze_env.encode_batch(*batch, vocab=vocab, seed=rng)
        if to_strings:
            vocab.decode_batch(ids, lengths)
        return n

    return rate(work, budget)


def reference_solve(md, gen_name: str, kwargs: dict, size: int, budget: float) -> float:
    generator = getattr(md.LatticeMazeGenerators, gen_name)
    no_endpoints = md.maze.lattice_maze.NoValidEndpointException

    def work() -> int:  # one solved maze (a percolation maze may need several tries)
        while True:
            maze = generator(np.array([size, size]), **kwargs)
            try:
                maze.generate_random_path()
                return 1
            except no_endpoints:
                continue

    return rate(work, budget)


def reference_tokens(md, size: int, budget: float, to_strings: bool) -> float:
    from maze_env.interop import aotp_tokenizer

    tokenizer = aotp_tokenizer(size)
    maze = md.LatticeMazeGenerators.gen_dfs(np.array([size, size]))
    solved = md.SolvedMaze.from_lattice_maze(maze, maze.generate_random_path())

    def work() -> int:
        tokens = solved.as_tokens(tokenizer)
        if not to_strings:
            tokenizer.encode(tokens)
        return 1

    return rate(work, budget)


def load_reference():
    """maze_dataset, or None when it is not installed."""
    try:
        import maze_dataset
    except ImportError:
        return None
    warnings.filterwarnings("ignore", module="maze_dataset")
    warnings.filterwarnings("ignore", module="muutils")
    return maze_dataset


def measure(args) -> list[Row]:
    md = None if args.no_reference else load_reference()
    rows = []
    for size in args.sizes:
        for name in args.generators:
            row = Row(f"{name} + solve", size, ours_solve(name, size, args.budget))
            gen_name, kwargs = REFERENCE_GENERATORS[name]
            if md is not None and gen_name is not None:
                row.reference = reference_solve(md, gen_name, kwargs, size, args.budget)
            rows.append(row)
        for to_strings, task in ((True, "tokens -> str"), (False, "tokens -> ids")):
            row = Row(task, size, ours_tokens(size, args.budget, to_strings))
            if md is not None:
                row.reference = reference_tokens(md, size, args.budget, to_strings)
            rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    head = f"{'task':<28}{'size':>6}{'tokenmaze/s':>14}{'maze-dataset/s':>16}{'ratio':>10}  target"
    lines = [head, "-" * len(head)]
    for r in rows:
        ref = "-" if r.reference is None else f"{r.reference:,.{0 if r.reference >= 100 else 1}f}"
        ratio = "-" if r.ratio is None else f"{r.ratio:,.0f}x"
        target = TARGETS.get((r.task, r.size))
        verdict = ""
        if target is not None:
            verdict = f">= {target}x " + (
                "?" if r.ratio is None else "ok" if r.ratio >= target else "MISSED"
            )
        lines.append(f"{r.task:<28}{r.size:>6}{r.ours:>14,.0f}{ref:>16}{ratio:>10}  {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed_maze", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 40], help="grid sizes")
    names = list(REFERENCE_GENERATORS)
    parser.add_argument(
        "--generators", nargs="+", default=names, choices=names, help="generators (default: all)"
    )
    parser.add_argument(
        "--budget", type=float, default=1.0, help="seconds per measurement (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="0.25 s per measurement")
    parser.add_argument("--no-reference", action="store_true", help="skip maze-dataset")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget = 0.25
    if args.budget <= 0 or min(args.sizes) < 2:
        parser.error("--budget must be > 0 and every size >= 2")
    return args


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table (with the issue's targets) to stdout."""
    args = parse_args(argv)
    start = time.perf_counter()
    print(table(measure(args)))
    print(f"({time.perf_counter() - start:.0f} s, budget {args.budget} s per measurement)")


if __name__ == "__main__":
    main()

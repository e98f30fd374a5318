"""Conversion to and from maze-dataset 1.4.2 (optional: ``pip install tokenmaze[mazedataset]``).

maze-dataset stores a maze as the same bool ``(2, rows, cols)`` connection array, so conversion
is a copy.  Its ``AOTP_UT`` token strings are exactly ours (scheme ``aotp``): ``maze_env.parse``
reads them and ``SolvedMaze.from_tokens(tokens, aotp_tokenizer(n))`` reads ours.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from maze_env.maze import Coord, Maze

INSTALL_HINT = "maze-dataset is not installed; run `pip install tokenmaze[mazedataset]`"


def _maze_dataset():
    """Import maze_dataset lazily, with an install hint when it is missing."""
    try:
        import maze_dataset
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return maze_dataset


class Converted(NamedTuple):
    """A maze-dataset maze read back: origin/target/path are None where it has none."""

    maze: Maze
    origin: Coord | None
    target: Coord | None
    path: list[Coord] | None


def to_maze_dataset(
    maze: Maze,
    origin: Coord | None = None,
    target: Coord | None = None,
    path: list[Coord] | None = None,
):
    """maze-dataset's ``LatticeMaze``, or ``TargetedLatticeMaze`` with origin and target, or
    ``SolvedMaze`` with a path.

    With a path, origin and target default to its ends and must agree with them when given.
    """
    md = _maze_dataset()
    conn = np.array(maze.connections)
    if path is not None:
        cells = [maze._check(p) for p in path]
        if not cells:
            raise ValueError("path must hold at least one cell")
        for name, given, end in (("origin", origin, cells[0]), ("target", target, cells[-1])):
            if given is not None and maze._check(given) != end:
                raise ValueError(f"{name} {tuple(given)} is not the path's end {end}")
        return md.SolvedMaze(connection_list=conn, solution=np.array(cells, np.int64))
    if (origin is None) != (target is None):
        raise ValueError("give both origin and target, or neither")
    if origin is None:
        return md.LatticeMaze(connection_list=conn)
    return md.TargetedLatticeMaze(
        connection_list=conn,
        start_pos=np.array(maze._check(origin)),
        end_pos=np.array(maze._check(target)),
    )


def from_maze_dataset(obj) -> Converted:
    """Read a maze-dataset ``LatticeMaze`` / ``TargetedLatticeMaze`` / ``SolvedMaze``."""
    md = _maze_dataset()
    if not isinstance(obj, md.LatticeMaze):
        raise TypeError(f"expected a maze_dataset LatticeMaze, got {type(obj).__name__}")
    maze = Maze.from_connections(obj.connection_list)

    def cell(x) -> Coord:
        return int(x[0]), int(x[1])

    if isinstance(obj, md.SolvedMaze):
        path = [cell(x) for x in obj.solution]
        return Converted(maze, cell(obj.start_pos), cell(obj.end_pos), path)
    if isinstance(obj, md.TargetedLatticeMaze):
        return Converted(maze, cell(obj.start_pos), cell(obj.end_pos), None)
    return Converted(maze, None, None, None)


def aotp_tokenizer(max_grid: int):
    """maze-dataset's tokenizer that writes and reads our ``aotp`` strings (``AOTP_UT_uniform``)."""
    _maze_dataset()
    from maze_dataset.tokenization import MazeTokenizer, TokenizationMode

    return MazeTokenizer(tokenization_mode=TokenizationMode.AOTP_UT_uniform, max_grid_size=max_grid)

"""The walk rules' vocabulary: what an emitted path can do wrong.

Two readers apply the rules: the env's numba step kernel (``maze_env._kernels``, as the agent
emits tokens) and the judge (``maze_env.judge.walk``, from the emitted tokens afterwards).  They
share these names, and ``tests/test_walk_rules.py`` drives both over random token streams and
demands identical verdicts.

- ``non_adjacent_jump``: a cell that is not a lattice neighbour of the current one;
- ``wall_crossing``: a neighbour behind a closed connection (or, for a move, the grid border);
- ``backtrack``: the cell just left;  ``revisit``: any other cell already on the path;
- ``invalid_token``: a token that names no cell of the grid (or a half coordinate);
- ``no_path_end``: the walk ended (or stopped) without ``<PATH_END>``.

A step counts at most one of jump / wall and at most one of backtrack / revisit.
"""

from __future__ import annotations

VIOLATION_KINDS = (
    "non_adjacent_jump",
    "wall_crossing",
    "backtrack",
    "revisit",
    "invalid_token",
    "no_path_end",
)
STEP_KINDS = VIOLATION_KINDS.index("no_path_end")
"""The kinds a single step can break (the first ``STEP_KINDS``): rewards and success count
these; ``no_path_end`` is a verdict on how the episode ended."""

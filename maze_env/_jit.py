"""The one numba configuration every TokenMaze kernel compiles with.

``@kernel`` / ``@kernel(inline="always")``: nopython, cached on disk (a new process loads the
compiled code instead of compiling), and numpy's error model — integer division skips the
zero-divisor check that raises ``ZeroDivisionError`` (no kernel divides by zero: divisors are
grid sides >= 1), which is measurably faster in the env's step and reset loops.
"""

from __future__ import annotations

from functools import partial

import numba as nb

kernel = partial(nb.njit, cache=True, error_model="numpy")

"""The one numba configuration every TokenMaze kernel compiles with.

``@kernel`` / ``@kernel(inline="always")``: nopython, cached on disk (a new process loads the
compiled code instead of compiling), and numpy's error model — integer division skips the
zero-divisor check that raises ``ZeroDivisionError`` (no kernel divides by zero: divisors are
grid sides >= 1), which is measurably faster in the env's step and reset loops.

Cache validity: numba keys a function's cache on its *own* source file, so a kernel that calls
one from another file (the env's fused reset calls every generator through ``generate_into``)
would keep running the callee's old compiled code after only the callee's file changed (a
``git pull``, an edited or newly registered generator): stale, and different from the batch
path.  ``stamp_package_kernels`` keys every kernel of a package on the digest of all that
package's sources instead, so any change recompiles all of them once.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

import numba as nb
from numba.core import caching


def source_digest(package_dir: Path) -> bytes:
    """sha256 over the names and bytes of every ``.py`` file directly in ``package_dir``."""
    h = hashlib.sha256()
    for path in sorted(Path(package_dir).glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.digest()


def stamp_package_kernels(package_dir: Path) -> None:
    """Make numba's on-disk cache of every function defined in ``package_dir`` valid only for
    the package's current sources (``source_digest``), wherever numba keeps the cache."""
    package_dir = Path(package_dir).resolve()
    digest = source_digest(package_dir)
    stamped = []
    for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                 caching.UserWideCacheLocator):  # fmt: skip

        class PackageStamped(base):
            def get_source_stamp(self):
                return digest

            @classmethod
            def from_function(cls, py_func, py_file):
                if Path(py_file).resolve().parent != package_dir:
                    return None  # another package's function: numba's own locators
                return super().from_function(py_func, py_file)

        PackageStamped.__qualname__ = f"PackageStamped{base.__name__}"
        stamped.append(PackageStamped)
    caching.CacheImpl._locator_classes[:0] = stamped


stamp_package_kernels(Path(__file__).parent)

kernel = partial(nb.njit, cache=True, error_model="numpy")

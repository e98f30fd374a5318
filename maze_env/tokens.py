"""Token schemes, the shared vocabulary, encoding (strings and ids, batched) and ``parse``.

Layout (scheme ``aotp``, byte-compatible with maze-dataset's ``AOTP_UT``)::

    <ADJLIST_START> (0,1) <--> (0,0) ; ... <ADJLIST_END> <ORIGIN_START> (0,0) <ORIGIN_END>
    <TARGET_START> (1,1) <TARGET_END> <PATH_START> (0,0) (0,1) (1,1) <PATH_END>

Schemes: ``aotp`` (one token per coordinate), ``coords`` (a row token then a column token,
e.g. ``3 4`` for (3,4); ``parse`` also reads maze-dataset's ``AOTP_CTT_indexed`` spelling
``( 3 , 4 )`` as this scheme), ``walls`` (the dual: the list holds every *missing* lattice
edge of the grid, joined by ``<XX>``).  Edge order and the order of each edge's two ends are
shuffled reproducibly from the seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from maze_env._jit import kernel
from maze_env._rng import as_generator, draw_keys, randbelow, shuffle_pairs
from maze_env.maze import Coord, Maze, Shape, is_int, normalize_shape

PAD, ADJ_START, ADJ_END = "<PADDING>", "<ADJLIST_START>", "<ADJLIST_END>"
ORIGIN_START, ORIGIN_END = "<ORIGIN_START>", "<ORIGIN_END>"
TARGET_START, TARGET_END = "<TARGET_START>", "<TARGET_END>"
PATH_START, PATH_END = "<PATH_START>", "<PATH_END>"
CONNECTOR, WALL, SEP = "<-->", "<XX>", ";"
SPECIAL_TOKENS = (
    PAD, ADJ_START, ADJ_END, ORIGIN_START, ORIGIN_END, TARGET_START, TARGET_END,
    PATH_START, PATH_END, CONNECTOR, WALL, SEP,
)  # fmt: skip
SCHEMES = ("aotp", "coords", "walls")
_NUMBER = "(0|[1-9][0-9]*)"  # ASCII digits, no leading zeros: exactly the vocabulary's spelling
_COORD_RE = re.compile(rf"\({_NUMBER},{_NUMBER}\)")  # used with fullmatch: no "\n" after
_NUMBER_RE = re.compile(_NUMBER)
MAX_PARSE_GRID = 1024  # parse rejects coordinates >= this (a bound on the grid it allocates)
_MAX_DIGITS = len(str(MAX_PARSE_GRID))  # longer numbers are beyond it: never int() them


def read_number(token: str) -> int | None:
    """The number a ``coords`` number token spells (the vocabulary's spelling: ASCII digits, no
    leading zero), or None for any other token (one longer than any grid side included)."""
    m = _NUMBER_RE.fullmatch(token)
    return None if m is None or len(token) > _MAX_DIGITS else int(token)


def read_cell(token: str) -> Coord | None:
    """The cell an ``aotp``/``walls`` coordinate token ``"(r,c)"`` spells (the vocabulary's
    spelling), or None for any other token (one beyond any grid side included)."""
    m = _COORD_RE.fullmatch(token)
    if m is None or max(len(m.group(1)), len(m.group(2))) > _MAX_DIGITS:
        return None
    return int(m.group(1)), int(m.group(2))


class TokenError(ValueError):
    """A malformed token sequence; ``position`` and ``token`` name the offending token."""

    def __init__(self, message: str, position: int | None = None, token: str | None = None):
        if token is None:
            shown = "end of sequence"
        else:  # a huge token is cut short in the message (``token`` keeps all of it)
            shown = repr(token) if len(token) <= 60 else f"{token[:40]!r}... ({len(token)} chars)"
        where = "" if position is None else f" at position {position} ({shown})"
        super().__init__(f"{message}{where}")
        self.position, self.token = position, token


def coord_token(r: int, c: int) -> str:
    return f"({r},{c})"


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tokenizer scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    return scheme


def tokens_per_cell(scheme: str) -> int:
    """How many tokens spell one cell: 2 in ``coords`` (row, column), else 1."""
    return 2 if check_scheme(scheme) == "coords" else 1


MAX_GRID = 255  # the largest vocabulary whose ids fit the env's uint16 observations


class Vocabulary:
    """Every token for grids up to ``max_grid`` × ``max_grid``.

    Order: the special tokens, then shell by shell (n = 0, 1, ...): the number token ``n`` and
    the coordinates with max(row, col) == n.  So a smaller vocabulary is a prefix of a larger one.
    """

    def __init__(self, max_grid: int = 16):
        if not is_int(max_grid) or not 1 <= max_grid <= MAX_GRID:
            raise ValueError(
                f"max_grid must be an int in [1, {MAX_GRID}] (token ids must fit uint16), "
                f"got {max_grid!r}"
            )
        self.max_grid = int(max_grid)
        tokens = list(SPECIAL_TOKENS)
        self.coord_ids = np.empty((max_grid, max_grid), np.int32)
        self.number_ids = np.empty(max_grid, np.int32)
        for n in range(max_grid):
            self.number_ids[n] = len(tokens)
            tokens.append(str(n))
            shell = [(r, n) for r in range(n)] + [(n, c) for c in range(n + 1)]  # row-major
            for r, c in shell:
                self.coord_ids[r, c] = len(tokens)
                tokens.append(coord_token(r, c))
        self.tokens: tuple[str, ...] = tuple(tokens)
        self.index = {t: i for i, t in enumerate(tokens)}
        self._lookup = np.array(tokens, dtype=object)
        self.special = {t: self.index[t] for t in SPECIAL_TOKENS}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and other.max_grid == self.max_grid

    def __hash__(self) -> int:
        return hash(("Vocabulary", self.max_grid))

    def __repr__(self) -> str:
        return f"Vocabulary(max_grid={self.max_grid}, size={len(self)})"

    @property
    def pad_id(self) -> int:
        return self.special[PAD]

    def encode(self, tokens: list[str]) -> np.ndarray:
        """Token strings → int32 ids; an unknown token raises TokenError naming it."""
        out = np.empty(len(tokens), np.int32)
        for i, t in enumerate(tokens):
            try:
                out[i] = self.index[t]
            except KeyError:
                raise TokenError(f"token not in {self!r}", i, t) from None
        return out

    def decode(self, ids) -> list[str]:
        """Int ids (any shape; the last axis is the sequence) → token strings; pads dropped."""
        ids = np.asarray(ids)
        if ids.ndim > 2:
            return [self.decode(row) for row in ids]
        return self.decode_batch(ids[None])[0] if ids.ndim == 1 else self.decode_batch(ids)

    def decode_batch(self, ids: np.ndarray, lengths: np.ndarray | None = None) -> list[list[str]]:
        """Ids (n, L) → n token lists: the first ``lengths[i]`` of row i, or (None) its non-pads.

        One vectorized lookup for the whole batch, then one list slice per row.
        """
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"decode_batch takes ids of shape (n, L), got {ids.shape}")
        if lengths is None:
            keep = ids != self.pad_id
        else:
            keep = np.arange(ids.shape[1]) < np.asarray(lengths).reshape(-1, 1)
        kept = ids[keep]
        if kept.size and (kept.min() < 0 or kept.max() >= len(self)):
            row, col = np.argwhere(keep & ((ids < 0) | (ids >= len(self))))[0]
            bad = int(ids[row, col])
            raise TokenError(f"id {bad} outside {self!r}", int(col), str(bad))
        flat = self._lookup[kept].tolist()
        ends = np.cumsum(keep.sum(1)).tolist()
        return [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def _fitting(self, shape: Shape) -> tuple[int, int]:
        """(rows, cols) of ``shape``; ValueError if this vocabulary cannot name its cells."""
        rows, cols = shape
        if rows > self.max_grid or cols > self.max_grid:
            raise ValueError(f"a {rows}x{cols} grid does not fit {self!r}")
        return rows, cols

    def cell_tokens(self, scheme: str, shape: Shape) -> np.ndarray:
        """Per flat cell, the ids that spell it: (cells, 1) (aotp, walls) or (cells, 2) (coords)."""
        rows, cols = self._fitting(shape)
        if check_scheme(scheme) == "coords":
            rr, cc = np.divmod(np.arange(rows * cols), cols)
            return np.stack([self.number_ids[rr], self.number_ids[cc]], 1).astype(np.int32)
        return self.coord_ids[:rows, :cols].reshape(-1, 1).copy()

    def cell_of_ids(self, shape: Shape) -> np.ndarray:
        """Per token id, the flat cell (row * cols + col) its ``(r,c)`` token names in a grid of
        ``shape``, or -1 (any other token, a cell outside the grid): ``cell_tokens``' inverse."""
        rows, cols = self._fitting(shape)
        out = np.full(len(self), -1, np.int64)
        out[self.coord_ids[:rows, :cols].ravel()] = np.arange(rows * cols)
        return out


@lru_cache(maxsize=16)
def vocabulary(max_grid: int = 16) -> Vocabulary:
    """A cached ``Vocabulary``."""
    return Vocabulary(max_grid)


# --------------------------------------------------------------------------- encoding


def list_edges(conns: np.ndarray, scheme: str) -> np.ndarray:
    """The lattice edges a scheme lists: the open ones, or (``walls``) every closed lattice edge."""
    if check_scheme(scheme) != "walls":
        return conns
    lattice = np.zeros(conns.shape[1:], np.bool_)
    lattice[0, :-1, :] = True
    lattice[1, :, :-1] = True
    return lattice & ~conns


@kernel(inline="always")
def _put_cell(out, pos, cell_ids, cell) -> int:
    """Write ``cell``'s token(s) at ``out[pos]``; return the next position."""
    for q in range(cell_ids.shape[1]):
        out[pos + q] = cell_ids[cell, q]
    return pos + cell_ids.shape[1]


@kernel
def encode_into(edges, state, cell_ids, special, origin, target, path, path_len, with_path, out,
                ea, eb) -> int:  # fmt: skip
    """Write one maze's token ids into ``out`` (from index 0) and return how many.

    edges (2, R, C): the edges to list; ``state``: SplitMix state for the edge order and
    direction; origin/target flat cells; ``path`` flat cells (``path_len`` of them, written only
    ``with_path``); ``ea``/``eb``: scratch of 2*R*C entries.
    special: [ADJ_START, ADJ_END, ORIGIN_START, ORIGIN_END, TARGET_START, TARGET_END,
              PATH_START, PATH_END, connector, SEP]
    """
    rows, cols = edges.shape[1], edges.shape[2]
    m = 0
    for r in range(rows):
        for c in range(cols):
            if edges[0, r, c]:
                ea[m], eb[m] = r * cols + c, (r + 1) * cols + c
                m += 1
            if edges[1, r, c]:
                ea[m], eb[m] = r * cols + c, r * cols + c + 1
                m += 1
    shuffle_pairs(ea, eb, m, state)
    pos = 0
    out[pos] = special[0]
    pos += 1
    for j in range(m):
        a, b = ea[j], eb[j]
        if randbelow(state, 2) == 1:
            a, b = b, a
        pos = _put_cell(out, pos, cell_ids, a)
        out[pos] = special[8]
        pos += 1
        pos = _put_cell(out, pos, cell_ids, b)
        out[pos] = special[9]
        pos += 1
    out[pos] = special[1]
    out[pos + 1] = special[2]
    pos += 2
    pos = _put_cell(out, pos, cell_ids, origin)
    out[pos] = special[3]
    out[pos + 1] = special[4]
    pos += 2
    pos = _put_cell(out, pos, cell_ids, target)
    out[pos] = special[5]
    out[pos + 1] = special[6]
    pos += 2
    if with_path:
        for j in range(path_len):
            pos = _put_cell(out, pos, cell_ids, path[j])
        out[pos] = special[7]
        pos += 1
    return pos


@kernel
def _encode(
    edge_lists, keys, cell_ids, special, origins, targets, paths, path_lens, with_path, out
):
    """``encode_into`` for every maze of a batch (rows of ``out``, pad-filled); return lengths."""
    n, _, rows, cols = edge_lists.shape
    lengths = np.zeros(n, np.int64)
    ea = np.empty(2 * rows * cols, np.int64)
    eb = np.empty(2 * rows * cols, np.int64)
    state = np.empty(1, np.uint64)
    for i in range(n):
        state[0] = keys[i]
        lengths[i] = encode_into(
            edge_lists[i], state, cell_ids, special, origins[i], targets[i], paths[i],
            path_lens[i], with_path, out[i], ea, eb,
        )  # fmt: skip
    return lengths


def special_ids(vocab: Vocabulary, scheme: str) -> np.ndarray:
    names = (ADJ_START, ADJ_END, ORIGIN_START, ORIGIN_END, TARGET_START, TARGET_END, PATH_START,
             PATH_END, WALL if scheme == "walls" else CONNECTOR, SEP)  # fmt: skip
    return np.array([vocab.special[t] for t in names], np.int64)


def encode_batch(
    conns: np.ndarray,
    origins: np.ndarray,
    targets: np.ndarray,
    paths: np.ndarray | None = None,
    path_lengths: np.ndarray | None = None,
    *,
    scheme: str = "aotp",
    vocab: Vocabulary | None = None,
    seed: int | np.random.Generator | None = 0,
    max_len: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode a batch to token ids: returns (ids (n, L) int32 padded with ``<PADDING>``, lengths).

    conns (n, 2, R, C) bool; origins/targets (n, 2) (row, col); paths (n, P) flat cell indices
    (-1 padded, as ``solve_batch`` writes them) with ``path_lengths``, or None for prompts that
    end at ``<PATH_START>``.  ``max_len`` fixes L (a ValueError if a sequence does not fit).
    """
    scheme = check_scheme(scheme)
    conns = np.ascontiguousarray(conns, np.bool_)
    n, _, rows, cols = conns.shape
    vocab = vocab or vocabulary(max(rows, cols, 1))
    cell_ids = vocab.cell_tokens(scheme, (rows, cols))
    k = cell_ids.shape[1]
    edges = list_edges(conns, scheme)
    keys = draw_keys(as_generator(seed), n)
    origins = np.asarray(origins, np.int64).reshape(n, 2)
    targets = np.asarray(targets, np.int64).reshape(n, 2)
    with_path = paths is not None
    if with_path:
        paths = np.asarray(paths, np.int64).reshape(n, -1)
        path_lengths = np.asarray(path_lengths, np.int64).reshape(n)
    else:
        paths, path_lengths = np.zeros((n, 1), np.int64), np.zeros(n, np.int64)
    need = 2 + int(edges.sum((1, 2, 3)).max(initial=0)) * (2 * k + 2) + 6 + 2 * k
    need += int(path_lengths.max(initial=0)) * k + 1 if with_path else 0
    width = need if max_len is None else max_len
    if need > width:
        raise ValueError(
            f"max_len={max_len} is too short: these sequences need up to {need} tokens"
        )
    out = np.full((n, width), vocab.pad_id, np.int32)
    lengths = _encode(
        edges, keys, cell_ids, special_ids(vocab, scheme),
        origins[:, 0] * cols + origins[:, 1], targets[:, 0] * cols + targets[:, 1],
        paths, path_lengths, with_path, out,
    )  # fmt: skip
    return out, lengths


def path_cells(path, cols: int) -> tuple[np.ndarray, int]:
    """A list of (row, col) → flat cell indices (1, P) and its length."""
    arr = np.array([r * cols + c for r, c in path], np.int64).reshape(1, -1)
    return arr, len(path)


def tokenize(
    maze: Maze,
    origin: Coord,
    target: Coord,
    path: list[Coord] | None = None,
    scheme: str = "aotp",
    seed: int | np.random.Generator | None = 0,
) -> list[str]:
    """One example as token strings (the prompt ends at ``<PATH_START>`` when ``path`` is None)."""
    origin, target = maze._check(origin), maze._check(target)
    paths = lens = None
    if path is not None:
        paths, lens = path_cells([maze._check(p) for p in path], maze.shape[1])
    ids, _ = encode_batch(
        maze.connections[None], np.array([origin]), np.array([target]), paths,
        None if lens is None else np.array([lens]), scheme=scheme, seed=seed,
    )  # fmt: skip
    return vocabulary(max(maze.shape)).decode(ids[0])


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Example:
    """A parsed token sequence. ``path`` is None without ``<PATH_START>``; ``complete`` says
    whether ``<PATH_END>`` closed it."""

    maze: Maze
    origin: Coord
    target: Coord
    path: list[Coord] | None
    complete: bool
    scheme: str


class _Reader:
    def __init__(self, tokens: list[str], scheme: str):
        self.tokens, self.scheme, self.i = tokens, scheme, 0
        self.cells: list[tuple[Coord, int]] = []  # every coordinate read, with its position

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expect(self, token: str) -> None:
        got = self.peek()
        if got != token:
            self.fail(f"expected {token!r}")
        self.i += 1

    def fail(self, message: str):
        if self.i >= len(self.tokens):
            raise TokenError(f"{message}, but the sequence ended", len(self.tokens))
        raise TokenError(message, self.i, self.tokens[self.i])

    def number(self, what: str) -> str:
        tok = self.peek()
        if tok is None or not _NUMBER_RE.fullmatch(tok):
            self.fail(f"expected a {what} number")
        self.i += 1
        return tok

    def coord(self) -> Coord:
        """One cell: ``(r,c)``; under ``coords`` ``r c`` or maze-dataset's split ``( r , c )``."""
        start, tok = self.i, self.peek()
        if self.scheme == "coords":
            split = tok == "("
            if split:
                self.i += 1
            row = self.number("row")
            if split:
                self.expect(",")
            col = self.number("column")
            if split:
                self.expect(")")
        else:
            m = _COORD_RE.fullmatch(tok) if tok is not None else None
            if m is None:
                self.fail("expected a coordinate like (row,col)")
            self.i += 1
            row, col = m.group(1), m.group(2)
        if max(len(row), len(col)) > _MAX_DIGITS or max(int(row), int(col)) >= MAX_PARSE_GRID:
            shown = tuple(x if len(x) <= 12 else f"{x[:6]}...({len(x)} digits)" for x in (row, col))
            raise TokenError(
                f"coordinate ({shown[0]}, {shown[1]}) is beyond the limit {MAX_PARSE_GRID}",
                start,
                tok,
            )
        cell = int(row), int(col)
        self.cells.append((cell, start))
        return cell


def _detect_scheme(tokens: list[str]) -> str:
    """The scheme most of the tokens speak, so that one stray token cannot flip it."""
    if tokens.count(WALL) > tokens.count(CONNECTOR):
        return "walls"
    numbers = sum(1 for t in tokens if _NUMBER_RE.fullmatch(t))
    cells = sum(1 for t in tokens if _COORD_RE.fullmatch(t))
    return "coords" if numbers > cells else "aotp"


def parse(tokens, scheme: str | None = None, shape: Shape | int | None = None) -> Example:
    """Read a token sequence (list of strings, or one space-separated string) back to an Example.

    ``scheme`` is detected when None (from the tokens most of the sequence uses; a ``walls``
    sequence with no wall reads as ``aotp``, so pass ``scheme`` for those).  The grid shape is
    the bounding box of every coordinate mentioned unless ``shape`` is given.  For ``walls``,
    every lattice edge of the grid that is not listed is open, so pass ``shape`` when the last
    row or column may hold no wall, origin, target or path cell (an open field, say).
    Malformed input raises ``TokenError`` naming the offending token and its position (an edge
    listed twice, either way round, included).
    """
    if isinstance(tokens, str):
        tokens = tokens.split()
    tokens = [str(t) for t in tokens]
    while tokens and tokens[-1] == PAD:
        tokens.pop()
    scheme = check_scheme(scheme) if scheme is not None else _detect_scheme(tokens)
    rd = _Reader(tokens, scheme)
    connector = WALL if scheme == "walls" else CONNECTOR
    rd.expect(ADJ_START)
    edges: list[tuple[Coord, Coord]] = []
    listed_at: dict[frozenset, int] = {}  # each edge, either way round, with its position
    while rd.peek() != ADJ_END:
        start = rd.i
        a = rd.coord()
        rd.expect(connector)
        b = rd.coord()
        if abs(a[0] - b[0]) + abs(a[1] - b[1]) != 1:
            raise TokenError(
                f"edge {a}–{b} joins cells that are not lattice-adjacent", start, tokens[start]
            )
        if frozenset((a, b)) in listed_at:
            raise TokenError(
                f"edge {a}–{b} is listed twice (first at position {listed_at[frozenset((a, b))]})",
                start,
                tokens[start],
            )
        listed_at[frozenset((a, b))] = start
        rd.expect(SEP)
        edges.append((a, b))
    rd.expect(ADJ_END)
    rd.expect(ORIGIN_START)
    origin = rd.coord()
    rd.expect(ORIGIN_END)
    rd.expect(TARGET_START)
    target = rd.coord()
    rd.expect(TARGET_END)
    path: list[Coord] | None = None
    complete = False
    if rd.peek() is not None:
        rd.expect(PATH_START)
        path = []
        while rd.peek() is not None and rd.peek() != PATH_END:
            path.append(rd.coord())
        if rd.peek() == PATH_END:
            complete = True
            rd.i += 1
            if rd.peek() is not None:
                rd.fail("unexpected token after <PATH_END>")
    coords = [cell for cell, _ in rd.cells]
    if shape is None:
        shape = (max(r for r, _ in coords) + 1, max(c for _, c in coords) + 1)
    rows, cols = normalize_shape(shape)
    for (r, c), start in rd.cells:
        if r >= rows or c >= cols:
            raise TokenError(f"cell {(r, c)} is off the {rows}x{cols} grid", start, tokens[start])
    listed = np.zeros((2, rows, cols), np.bool_)
    for a, b in edges:
        (r1, c1), (r2, _) = sorted((a, b))
        listed[0 if r2 > r1 else 1, r1, c1] = True
    if scheme == "walls":  # every lattice edge of the grid that is not a wall is open
        lattice = np.zeros_like(listed)
        lattice[0, : rows - 1, :] = True
        lattice[1, :, : cols - 1] = True
        listed = lattice & ~listed
    return Example(Maze(listed), origin, target, path, complete, scheme)

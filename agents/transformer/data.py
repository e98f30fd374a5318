"""Training and evaluation data: fresh solved mazes as token-id batches.

A training batch packs, per maze, the adjacency list once and then ``queries_per_maze``
(origin, target, path) queries ("shared-prefix" packing), in rows of a few queries each.  Each
query attends only to the list and to itself (block-causal mask) and its positions restart where
the list ends, so every query sees exactly what it would see as a plain sequence — with
``queries_per_maze=1`` the batch *is* the plain format.  Prefixes are left-padded; pads are
masked out and get position 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property

import numpy as np
import torch

import maze_env
from maze_env.tokens import ADJ_END, PATH_START, encode_batch

EVAL_STREAM = 1_000_003  # the held-out set's seed namespace; training streams use seed 0..999_999


@dataclass(frozen=True)
class MazeSource:
    """One component of a maze mixture: a generator with its kwargs at one grid shape."""

    generator: str
    generator_kwargs: dict
    shape: tuple[int, int]
    weight: float


def _weighted(entry, key: str, what: str, extra: tuple[str, ...] = ()) -> tuple[object, float]:
    """(value, weight) of a mixture entry: a bare value (weight 1) or {key: value, "weight": w}
    (plus the ``extra`` keys the caller reads)"""
    if isinstance(entry, dict):
        unknown = set(entry) - {key, "weight", *extra}
        if key not in entry or unknown:
            raise ValueError(f"{what} entry {entry!r}: expected {{{key!r}: ..., 'weight': w}}")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise ValueError(f"{what} entry {entry!r}: weight must be a number > 0")
        return entry[key], float(weight)
    return entry, 1.0


@dataclass(frozen=True)
class DataConfig:
    """Which mazes and queries the model trains on (the same words as the env's kwargs).

    Mixtures: ``sizes`` (a list of sides ``n`` / shapes ``[R, C]``, or ``{"size": n, "weight":
    w}`` entries) and ``generators`` (names, or ``{"name": g, "kwargs": {...}, "weight": w}``)
    replace ``size`` / ``generator`` when given: each maze draws one (size, generator) pair with
    probability proportional to the product of their weights.  ``components`` instead lists
    (size, generator) pairs that are not a product: ``{"size": n, "generator": g, "kwargs":
    {...}, "weight": w}`` entries (e.g. lone 3–6 mazes beside 12×12 grids of ``rdfs_tiles``
    without 12×12 ``rdfs`` mazes).  Mazes of several sizes need a
    ``canvas`` that holds the largest (``offset="random"`` places each maze anywhere in it).
    Each component is a ``maze_env.EnvConfig`` (``env_configs``), which validates the fields
    and answers the vocabulary's sequence lengths, so data and env agree by construction.
    """

    size: int | tuple[int, int] = 6
    generator: str = "rdfs"
    generator_kwargs: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)  # EndpointSpec fields
    scheme: str = "aotp"
    max_grid: int = 6
    canvas: int | None = None
    offset: str | None = None
    queries_per_maze: int = 8
    sizes: list | None = None
    generators: list | None = None
    components: list | None = None

    def __post_init__(self):
        shapes = {s.shape for s in self.sources()}
        if len(shapes) > 1 and self.canvas is None:
            raise ValueError(
                f"data.sizes mixes shapes {sorted(shapes)}: give data.canvas (at least "
                f"{max(max(s) for s in shapes)}) so every maze shares one grid"
            )
        _ = self.env_configs  # every component validated as the env validates it

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_mixture(self) -> bool:
        return any(x is not None for x in (self.sizes, self.generators, self.components))

    def sources(self) -> list[MazeSource]:
        """The (generator, kwargs, shape, weight) components the mazes are drawn from."""
        if self.components is not None:
            return self._listed_components()
        sizes = [(self.size, 1.0)] if self.sizes is None else [
            _weighted(e, "size", "data.sizes") for e in self.sizes
        ]  # fmt: skip
        gens = [((self.generator, self.generator_kwargs), 1.0)]
        if self.generators is not None:
            gens = []
            for e in self.generators:
                name, w = _weighted(e, "name", "data.generators", extra=("kwargs",))
                kwargs = e.get("kwargs", {}) if isinstance(e, dict) else {}
                gens.append(((name, dict(kwargs)), w))
        if not sizes or not gens:
            raise ValueError("data.sizes and data.generators must not be empty lists")
        return [
            MazeSource(name, kwargs, maze_env.normalize_shape(size, "data.sizes"), ws * wg)
            for size, ws in sizes
            for (name, kwargs), wg in gens
        ]

    def _listed_components(self) -> list[MazeSource]:
        if self.sizes is not None or self.generators is not None:
            raise ValueError(
                "data.components lists (size, generator) pairs itself: give it instead of "
                "data.sizes / data.generators, not beside them"
            )
        if not isinstance(self.components, list) or not self.components:
            raise ValueError("data.components must be a non-empty list of {'size': n, "
                             "'generator': g, 'kwargs': {...}, 'weight': w} entries")  # fmt: skip
        out = []
        for i, e in enumerate(self.components):
            what = f"data.components[{i}]"
            keys = {"size", "generator", "kwargs", "weight"}
            if not isinstance(e, dict) or not {"size", "generator"} <= set(e) or set(e) - keys:
                raise ValueError(
                    f"{what} {e!r}: expected the keys 'size' and 'generator', optionally "
                    "'kwargs' and 'weight'"
                )
            rest = {k: v for k, v in e.items() if k not in ("generator", "kwargs")}
            size, weight = _weighted(rest, "size", what)
            shape = maze_env.normalize_shape(size, f"{what}.size")
            out.append(MazeSource(e["generator"], dict(e.get("kwargs", {})), shape, weight))
        return out

    @cached_property
    def env_configs(self) -> tuple[maze_env.EnvConfig, ...]:
        """Each mixture component (``sources()`` order) as the env's ``EnvConfig``: the episodes
        ``gym.make("TokenMaze-v0", config=c)`` plays are these mazes.  Errors name the field."""
        out = []
        for src in self.sources():
            try:
                out.append(maze_env.EnvConfig(
                    size=src.shape, generator=src.generator,
                    generator_kwargs=src.generator_kwargs, endpoints=dict(self.endpoints),
                    scheme=self.scheme, max_grid=self.max_grid, canvas=self.canvas,
                    offset=self.offset,
                ))  # fmt: skip
            except (TypeError, ValueError) as err:
                raise type(err)(f"data.{err}") from None
        return tuple(out)

    @property
    def vocab(self) -> maze_env.Vocabulary:
        return maze_env.vocabulary(self.max_grid)

    def at_size(self, size: int) -> DataConfig:
        """These mazes at one side only, inside the canvas (random offsets) if there is one, else
        in a ``max_grid`` canvas when ``size`` is smaller (how a canvas model plays a size)."""
        one = dataclasses.replace(self, size=size, sizes=None, generators=None, components=None)
        if one.canvas is None and size != self.max_grid:
            one = dataclasses.replace(one, canvas=self.max_grid, offset="random")
        return one

    @property
    def endpoint_spec(self) -> maze_env.EndpointSpec:
        return self.env_configs[0].endpoints

    @property
    def tokens_per_cell(self) -> int:
        return maze_env.tokens_per_cell(self.scheme)

    def longest_sequence(self) -> int:
        """Tokens in the longest prompt + path these mazes can make: the env's longest prompt
        (``EnvConfig.longest_prompt``), a path through every cell, ``<PATH_END>`` and one token
        of slack (the length every shipped model's rotary scaling was fitted with)."""
        return max(
            c.longest_prompt() + self.tokens_per_cell * c.size[0] * c.size[1] + 2
            for c in self.env_configs
        )


@dataclass
class Problems:
    """Solved mazes: conns (n,2,R,C), origins/targets (n,2), paths (n,P) flat cells, lengths."""

    conns: np.ndarray
    origins: np.ndarray
    targets: np.ndarray
    paths: np.ndarray
    path_lengths: np.ndarray

    def mazes(self) -> list[maze_env.Maze]:
        return [maze_env.Maze(c) for c in self.conns]


def draw_mazes(cfg: DataConfig, n_mazes: int, rng: np.random.Generator) -> np.ndarray:
    """The first draw from ``rng`` of every problem batch: ``n_mazes`` mazes' connections.

    A mixture first draws each maze's component, then each component's mazes in one batch."""
    if not cfg.is_mixture:
        return maze_env.generate_batch(
            cfg.generator, cfg.size, n_mazes, rng,
            canvas=cfg.canvas, offset=cfg.offset, **cfg.generator_kwargs,
        )  # fmt: skip
    sources = cfg.sources()
    weights = np.array([s.weight for s in sources])
    which = rng.choice(len(sources), size=n_mazes, p=weights / weights.sum())
    canvas = cfg.canvas if cfg.canvas is not None else sources[0].shape
    grid = maze_env.normalize_shape(canvas, "data.canvas")
    conns = np.zeros((n_mazes, 2, *grid), np.bool_)
    for k, src in enumerate(sources):
        idx = np.flatnonzero(which == k)
        if idx.size:
            conns[idx] = maze_env.generate_batch(
                src.generator, src.shape, idx.size, rng,
                canvas=canvas, offset=cfg.offset, **src.generator_kwargs,
            )  # fmt: skip
    return conns


def sample_problems(
    cfg: DataConfig, n_mazes: int, rng: np.random.Generator, queries: int = 1
) -> Problems:
    """``n_mazes`` mazes, each repeated ``queries`` times with its own endpoints, solved by BFS."""
    conns = np.repeat(draw_mazes(cfg, n_mazes, rng), queries, axis=0)
    origins, targets = maze_env.sample_endpoints_batch(conns, rng, cfg.endpoint_spec)
    cols = conns.shape[3]
    paths = np.empty((len(conns), conns.shape[2] * cols), np.int32)
    lengths = maze_env.solve_batch(
        conns, origins[:, 0] * cols + origins[:, 1], targets[:, 0] * cols + targets[:, 1], paths
    )
    return Problems(conns, origins, targets, paths, lengths)


@dataclass
class Batch:
    """Shared-prefix batch: ``m`` adjacency lists, and rows of their queries.

    The model runs the prefixes once (returning their KV cache), then rows of queries — each
    row holds some of one maze's queries back to back, without padding between them, positions
    restarting at the prefix length for every query, each attending only to its maze's prefix
    and to itself — against that cache (``agents.transformer.train.query_logits``).  Short rows
    keep attention cheap: a query token's keys are its prefix and its row, not every query of
    the maze.
    """

    prefix: torch.Tensor  # [m, lp] int64, left-padded
    prefix_positions: torch.Tensor  # [m, lp]
    prefix_mask: torch.Tensor  # [m, 1, lp, lp] bool, True = may attend
    query_prefix: torch.Tensor  # [r] int64: the prefix (maze) each query row belongs to
    queries: torch.Tensor  # [r, lq] int64, queries back to back, right-padded
    query_positions: torch.Tensor  # [r, lq]
    query_mask: torch.Tensor  # [r, 1, lq, lp + lq]
    labels: torch.Tensor  # [r, lq] next-token targets, -100 where no loss
    rotary_frequencies: torch.Tensor | None = None
    """[m, d_head/2]: each maze's own rotary frequencies (``length_scaling.stretch_rotary``);
    None: the model's"""

    def _map(self, fn) -> Batch:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: None if v is None else fn(v) for k, v in values.items()})

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The same batch with every tensor on ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Batch:
        """The same batch in page-locked memory (for asynchronous copies to a GPU)."""
        return self._map(torch.Tensor.pin_memory)

    def mazes(self, start: int, stop: int) -> Batch:
        """Mazes ``start:stop`` and their query rows, tensors and padding as in this batch."""
        rows = torch.nonzero((self.query_prefix >= start) & (self.query_prefix < stop))[:, 0]
        return Batch(
            self.prefix[start:stop], self.prefix_positions[start:stop],
            self.prefix_mask[start:stop], self.query_prefix[rows] - start, self.queries[rows],
            self.query_positions[rows], self.query_mask[rows], self.labels[rows],
            None if self.rotary_frequencies is None else self.rotary_frequencies[start:stop],
        )  # fmt: skip


def rows_of(lengths: list[int], capacity: int) -> list[list[int]]:
    """First-fit-decreasing: query indices grouped into rows of at most ``capacity`` tokens
    (a longer query gets a row of its own)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for j in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
        fit = next((r for r, free in enumerate(room) if free >= lengths[j]), None)
        if fit is None:
            rows.append([j])
            room.append(capacity - lengths[j])
        else:
            rows[fit].append(j)
            room[fit] -= lengths[j]
    return rows


def pack(
    prefixes: list[np.ndarray],
    queries: list[list[np.ndarray]],
    path_offset: int,
    pad: int,
    row_tokens: int = 64,
) -> Batch:
    """Pack per-maze prefixes and their queries (lists of id arrays) into one batch.

    ``path_offset`` is the index inside a query of its first path token: labels cover the path
    tokens (origin through ``<PATH_END>``).  Each maze's queries fill rows of ``row_tokens``
    tokens (first fit, longest first).
    """
    m = len(prefixes)
    lp = max(len(p) for p in prefixes)
    rows = [
        (i, [qs[j] for j in row])
        for i, qs in enumerate(queries)
        for row in rows_of([len(q) for q in qs], row_tokens)
    ]
    r = len(rows)
    lq = max(sum(len(q) for q in qs) for _, qs in rows)
    prefix = np.full((m, lp), pad, np.int64)
    prefix_real = np.zeros((m, lp), np.bool_)
    for i, p in enumerate(prefixes):
        prefix[i, lp - len(p) :] = p
        prefix_real[i, lp - len(p) :] = True
    query = np.full((r, lq), pad, np.int64)
    query_pos = np.zeros((r, lq), np.int64)
    segment = np.full((r, lq), -1, np.int64)  # which query of the row a token is; -1 = pad
    labels = np.full((r, lq), -100, np.int64)
    for k, (i, qs) in enumerate(rows):
        s = 0
        for j, q in enumerate(qs):
            query[k, s : s + len(q)] = q
            query_pos[k, s : s + len(q)] = len(prefixes[i]) + np.arange(len(q))
            segment[k, s : s + len(q)] = j
            labels[k, s + path_offset - 1 : s + len(q) - 1] = q[path_offset:]
            s += len(q)
    owner = torch.tensor([i for i, _ in rows], dtype=torch.int64)
    p_real = torch.from_numpy(prefix_real)
    seg = torch.from_numpy(segment)
    p_causal = torch.ones(lp, lp, dtype=torch.bool).tril()
    prefix_mask = (p_causal & p_real[:, None, :]) | torch.eye(lp, dtype=torch.bool)
    q_causal = torch.ones(lq, lq, dtype=torch.bool).tril()
    own = (q_causal & (seg[:, :, None] == seg[:, None, :]) & (seg >= 0)[:, None, :]) | torch.eye(
        lq, dtype=torch.bool
    )
    shared = p_real[owner][:, None, :].expand(r, lq, lp)
    return Batch(
        torch.from_numpy(prefix), (p_real.cumsum(1) - 1).clamp(min=0), prefix_mask[:, None],
        owner, torch.from_numpy(query), torch.from_numpy(query_pos),
        torch.cat([shared, own], 2)[:, None], torch.from_numpy(labels),
    )  # fmt: skip


def randomize_positions(batch: Batch, rng: np.random.Generator, max_position: int) -> Batch:
    """The same batch with each maze's position ids ``0, 1, 2, ...`` replaced by a sorted random
    subset of ``[0, max_position)`` (one subset per maze, shared by its prefix and its queries,
    so a query still sees what it would see as a plain sequence with those ids)."""
    m, lp = batch.prefix.shape
    need = lp + batch.queries.shape[1]
    if need > max_position:
        raise ValueError(f"sequences of {need} tokens do not fit max_position={max_position}")
    table = np.sort(rng.random((m, max_position)).argsort(1)[:, :need], axis=1)
    table = torch.from_numpy(table)
    owner = batch.query_prefix
    return dataclasses.replace(
        batch,
        prefix_positions=table.gather(1, batch.prefix_positions),
        query_positions=table[owner].gather(1, batch.query_positions),
    )


def split_sequences(ids: np.ndarray, lengths: np.ndarray, vocab: maze_env.Vocabulary):
    """Cut full token-id rows into (prefix through ``<ADJLIST_END>``, query) pairs."""
    adj_end = vocab.special[ADJ_END]
    out = []
    for row, n in zip(ids, lengths):
        cut = int(np.flatnonzero(row == adj_end)[0]) + 1
        out.append((row[:cut], row[cut:n]))
    return out


def path_offset(cfg: DataConfig) -> int:
    """Index of a query's first path token.

    A query is ORIGIN_START o ORIGIN_END TARGET_START t TARGET_END PATH_START path... PATH_END.
    """
    return 5 + 2 * cfg.tokens_per_cell


def training_problems(
    cfg: DataConfig, n_mazes: int, rng: np.random.Generator, exclude: set[str] | None = None
) -> tuple[Problems, int]:
    """The problems of one training batch (``queries_per_maze`` per maze); mazes whose canonical
    hash is in ``exclude`` are redrawn.  Returns (problems, number of mazes redrawn)."""
    k = cfg.queries_per_maze
    probs = sample_problems(cfg, n_mazes, rng, k)
    replaced = 0
    if exclude:
        for i in range(n_mazes):
            while maze_env.Maze(probs.conns[i * k]).canonical_hash() in exclude:
                fresh = sample_problems(cfg, 1, rng, k)
                for name in ("conns", "origins", "targets", "paths", "path_lengths"):
                    getattr(probs, name)[i * k : (i + 1) * k] = getattr(fresh, name)
                replaced += 1
    return probs, replaced


def training_batch(
    cfg: DataConfig,
    n_mazes: int,
    rng: np.random.Generator,
    exclude: set[str] | None = None,
    row_tokens: int = 64,
):
    """One shared-prefix batch (query rows of ``row_tokens``); mazes whose canonical hash is in
    ``exclude`` are replaced.

    Returns (Batch, number of mazes replaced).
    """
    k = cfg.queries_per_maze
    probs, replaced = training_problems(cfg, n_mazes, rng, exclude)
    ids, lengths = encode_batch(
        probs.conns, probs.origins, probs.targets, probs.paths, probs.path_lengths,
        scheme=cfg.scheme, vocab=cfg.vocab, seed=rng,
    )  # fmt: skip
    parts = split_sequences(ids, lengths, cfg.vocab)
    prefixes = [parts[i * k][0] for i in range(n_mazes)]
    queries = [[parts[i * k + j][1] for j in range(k)] for i in range(n_mazes)]
    return pack(prefixes, queries, path_offset(cfg), cfg.vocab.pad_id, row_tokens), replaced


@dataclass
class EvalSet:
    """Held-out prompts (through ``<PATH_START>`` and the origin) with their problems."""

    problems: Problems
    prompts: list[np.ndarray]
    hashes: set[str]


def eval_set(cfg: DataConfig, n: int, seed: int = 0) -> EvalSet:
    """``n`` held-out problems from the evaluation seed namespace (disjoint from training seeds)."""
    rng = np.random.default_rng([EVAL_STREAM, seed])
    probs = sample_problems(cfg, n, rng, 1)
    ids, lengths = encode_batch(
        probs.conns, probs.origins, probs.targets, scheme=cfg.scheme, vocab=cfg.vocab, seed=rng
    )
    origin_ids = cfg.vocab.cell_tokens(cfg.scheme, probs.conns.shape[2:])
    cols = probs.conns.shape[3]
    flat_origin = probs.origins[:, 0] * cols + probs.origins[:, 1]
    prompts = [np.concatenate([ids[i, : lengths[i]], origin_ids[flat_origin[i]]]) for i in range(n)]
    assert all(p[-1 - cfg.tokens_per_cell] == cfg.vocab.special[PATH_START] for p in prompts)
    hashes = {m.canonical_hash() for m in probs.mazes()}
    return EvalSet(probs, prompts, hashes)


def training_maze_hashes(
    data: DataConfig, seed: int, steps: int, batch_mazes: int, exclude: set[str] | None = None
) -> set[str]:
    """Canonical hashes of the mazes a training run's stream drew in ``steps`` steps.

    ``exclude``: the run's held-out hashes, which it redrew.  Replays the first draw of every
    batch (``draw_mazes`` with ``default_rng([seed, step])``), and the whole batch, redraws
    included, where that draw holds an excluded maze.
    """
    hashes: set[str] = set()
    for step in range(steps):
        conns = draw_mazes(data, batch_mazes, np.random.default_rng([seed, step]))
        drawn = {maze_env.Maze(c).canonical_hash() for c in conns}
        if exclude and drawn & exclude:
            probs, _ = training_problems(
                data, batch_mazes, np.random.default_rng([seed, step]), exclude
            )
            drawn = {m.canonical_hash() for m in probs.mazes()}
        hashes |= drawn
    return hashes

"""Tokenizers: the aotp format, round trips for every scheme, ids, vocabulary, fuzzed parse."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import maze_env
from maze_env import (
    SCHEMES,
    Maze,
    TokenError,
    Vocabulary,
    encode_batch,
    parse,
    tokenize,
    vocabulary,
)

SEEDS = st.integers(0, 2**32)
GENS = st.sampled_from(
    [
        ("rdfs", {}),
        ("wilson", {}),
        ("prim", {}),
        ("rdfs_percolation", {"p": 0.2}),
        ("percolation", {"p": 0.6}),
    ]
)


def example(name="rdfs", shape=(4, 5), seed=0, **kw):
    m = maze_env.generate(name, shape, seed=seed, **kw)
    try:
        origin, target = maze_env.sample_endpoints(m, seed=seed)
    except maze_env.NoValidEndpoints:
        assume(False)  # a percolation maze without a connection
    return m, origin, target, m.shortest_path(origin, target)


def test_aotp_layout_is_the_documented_one():
    m = Maze.from_edges((1, 2), [((0, 0), (0, 1))])
    tokens = tokenize(m, (0, 0), (0, 1), [(0, 0), (0, 1)])
    edge = tokens[1:4]
    assert edge in (["(0,0)", "<-->", "(0,1)"], ["(0,1)", "<-->", "(0,0)"])
    rest = "<ADJLIST_START> ; <ADJLIST_END> <ORIGIN_START> (0,0) <ORIGIN_END> <TARGET_START> (0,1)"
    assert tokens[:1] + tokens[4:] == [
        *rest.split(),
        "<TARGET_END>",
        "<PATH_START>",
        "(0,0)",
        "(0,1)",
        "<PATH_END>",
    ]
    coords = tokenize(m, (0, 0), (0, 1), scheme="coords")
    # no path: the prompt ends at <PATH_START>
    tail = "<ORIGIN_START> 0 0 <ORIGIN_END> <TARGET_START> 0 1 <TARGET_END> <PATH_START>"
    assert coords[-9:] == tail.split(" ")
    walls = tokenize(
        Maze.from_edges((2, 2), [((0, 0), (0, 1)), ((0, 1), (1, 1)), ((1, 1), (1, 0))]),
        (0, 0),
        (1, 0),
        scheme="walls",
    )
    assert sorted(walls[1:4]) == sorted(["(0,0)", "<XX>", "(1,0)"]) and walls[4] == ";"


@settings(max_examples=30, deadline=None)
@given(
    GENS,
    st.tuples(st.integers(1, 7), st.integers(2, 7)),
    st.sampled_from(["aotp", "coords"]),
    SEEDS,
)
def test_round_trip_aotp_and_coords(gen, shape, scheme, seed):
    name, kw = gen
    m, origin, target, path = example(name, shape, seed, **kw)
    tokens = tokenize(m, origin, target, path, scheme=scheme, seed=seed)
    ex = parse(tokens, shape=shape)
    assert (ex.maze, ex.origin, ex.target, ex.path, ex.complete, ex.scheme) == (
        m,
        origin,
        target,
        path,
        True,
        scheme,
    )
    assert parse(" ".join(tokens)) == parse(tokens)  # a string works as well as a list
    prompt = parse(
        tokenize(m, origin, target, scheme=scheme, seed=seed), scheme=scheme, shape=shape
    )
    assert prompt.maze == m and prompt.path == [] and not prompt.complete


@settings(max_examples=40, deadline=None)
@given(GENS, st.tuples(st.integers(2, 7), st.integers(2, 7)), st.booleans(), SEEDS)
def test_round_trip_walls(gen, shape, on_canvas, seed):
    name, kw = gen
    canvas = (shape[0] + 2, shape[1] + 3) if on_canvas else None
    m = maze_env.generate(
        name, shape, seed=seed, canvas=canvas, offset="random" if canvas else None, **kw
    )
    assume(bool(m.connections.any()))  # a percolation maze without a connection has no endpoints
    origin, target = maze_env.sample_endpoints(m, seed=seed, min_distance=0)
    path = m.shortest_path(origin, target)
    tokens = tokenize(m, origin, target, path, scheme="walls", seed=seed)
    ex = parse(tokens, scheme="walls", shape=m.shape)  # a maze without walls would read as aotp
    assert (ex.origin, ex.target, ex.path, ex.scheme) == (origin, target, path, "walls")
    assert ex.maze == m  # the list names every closed lattice edge of the grid


def test_walls_list_every_closed_lattice_edge():
    for name in ("rdfs", "wilson", "kruskal"):
        for seed in range(10):
            m, origin, target, path = example(name, (5, 6), seed)
            tokens = tokenize(m, origin, target, path, scheme="walls", seed=seed)
            lattice_edges = 4 * 6 + 5 * 5
            assert tokens.count("<XX>") == lattice_edges - m.n_edges
            assert parse(tokens).maze == m  # a tree always has walls near its last row/column


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(SCHEMES), st.tuples(st.integers(2, 6), st.integers(2, 6)), SEEDS)
def test_ids_and_strings_agree(scheme, shape, seed):
    m, origin, target, path = example("wilson", shape, seed)
    tokens = tokenize(m, origin, target, path, scheme=scheme, seed=seed)
    vocab = vocabulary(max(shape))
    ids = vocab.encode(tokens)
    assert vocab.decode(ids) == tokens
    cols = shape[1]
    batch_ids, lengths = encode_batch(
        m.connections[None], np.array([origin]), np.array([target]),
        np.array([[r * cols + c for r, c in path]]), np.array([len(path)]),
        scheme=scheme, seed=seed,
    )  # fmt: skip
    assert lengths[0] == len(tokens) and batch_ids.dtype == np.int32
    assert np.array_equal(batch_ids[0, : lengths[0]], ids)
    big = vocabulary(12)
    padded = big.encode(tokens + ["<PADDING>"] * 3)
    assert big.decode(padded) == tokens  # a larger vocabulary spells the same tokens; pads dropped


def test_encode_batch_matches_tokenize_and_solve_batch():
    conns = maze_env.generate_batch("rdfs_percolation", (6, 6), 16, seed=4, p=0.1)
    origins, targets = maze_env.sample_endpoints_batch(conns, seed=4)
    paths = np.zeros((16, 36), np.int32)
    lengths = maze_env.solve_batch(
        conns, origins[:, 0] * 6 + origins[:, 1], targets[:, 0] * 6 + targets[:, 1], paths
    )
    vocab = vocabulary(8)
    for scheme in SCHEMES:
        ids, n = encode_batch(
            conns,
            origins,
            targets,
            paths,
            lengths,
            scheme=scheme,
            vocab=vocab,
            seed=np.random.default_rng(3),
        )
        rng = np.random.default_rng(3)
        for i in range(16):
            m = Maze(conns[i])
            path = [(int(x) // 6, int(x) % 6) for x in paths[i, : lengths[i]]]
            assert path == m.shortest_path(tuple(origins[i]), tuple(targets[i]))
            tokens = tokenize(
                m, tuple(origins[i]), tuple(targets[i]), path, scheme=scheme, seed=rng
            )
            assert vocab.decode(ids[i]) == tokens and n[i] == len(tokens)
            assert (ids[i, n[i] :] == vocab.pad_id).all()
        rows = [vocab.decode(row) for row in ids]
        assert vocab.decode_batch(ids, n) == rows and vocab.decode_batch(ids) == rows
        assert vocab.decode(ids) == rows
        fixed, _ = encode_batch(
            conns, origins, targets, paths, lengths, scheme=scheme, seed=0, max_len=400
        )
        assert fixed.shape == (16, 400)
        with pytest.raises(ValueError, match="max_len=10 is too short"):
            encode_batch(conns, origins, targets, paths, lengths, scheme=scheme, max_len=10)


def test_shuffle_is_reproducible_and_keeps_the_edge_set():
    m, origin, target, path = example("wilson", (6, 6), 1)
    runs = {s: tokenize(m, origin, target, path, seed=s) for s in range(8)}
    assert tokenize(m, origin, target, path, seed=3) == runs[3]
    assert len({tuple(t) for t in runs.values()}) == 8  # different seeds, different orders
    assert all(parse(t).maze == m for t in runs.values())
    firsts = {t[1] for t in runs.values()} | {t[3] for t in runs.values()}
    assert len(firsts) > 2  # both the edge order and each edge's two ends vary
    orientations = {tuple(sorted((t[1], t[3]))) == (t[1], t[3]) for t in runs.values()}
    assert orientations == {True, False}


def test_vocabulary_prefix_property_and_contents():
    small, large = Vocabulary(3), Vocabulary(7)
    assert large.tokens[: len(small)] == small.tokens
    assert np.array_equal(large.coord_ids[:3, :3], small.coord_ids)
    assert np.array_equal(large.number_ids[:3], small.number_ids)
    assert len(set(large.tokens)) == len(large)
    assert len(large) == 12 + 7 + 49  # specials, numbers, coordinates
    assert (
        large.tokens[large.coord_ids[2, 5]] == "(2,5)" and large.tokens[large.number_ids[6]] == "6"
    )
    assert large.tokens[large.pad_id] == "<PADDING>"
    assert vocabulary(5) is vocabulary(5) and vocabulary(5) == Vocabulary(5)
    for n in range(1, 6):
        assert Vocabulary(n + 1).tokens[: len(Vocabulary(n))] == Vocabulary(n).tokens
    with pytest.raises(ValueError, match="max_grid"):
        Vocabulary(0)


def test_vocabulary_errors_name_the_token():
    vocab = vocabulary(4)
    with pytest.raises(TokenError, match="position 1") as err:
        vocab.encode(["<ADJLIST_START>", "(9,9)"])
    assert err.value.position == 1 and err.value.token == "(9,9)"
    with pytest.raises(TokenError, match="id 999"):
        vocab.decode([1, 2, 999])
    with pytest.raises(ValueError, match="does not fit"):
        tokenize(maze_env.generate("rdfs", 5), (0, 0), (1, 1), scheme="aotp") and vocab.cell_tokens(
            "aotp", (5, 5)
        )
    with pytest.raises(ValueError, match="scheme 'bpe'"):
        tokenize(maze_env.generate("rdfs", 3), (0, 0), (1, 1), scheme="bpe")


def test_parse_reports_the_offending_token():
    m, origin, target, path = example("rdfs", (3, 3), 0)
    tokens = tokenize(m, origin, target, path)
    cases = {
        "<ORIGIN_START>": 0,  # replaces <ADJLIST_START>
        "(1;1)": 1,
        "(0,0)": 2,  # a coordinate where the connector belongs
        "(2,2)x": len(tokens) - 2,
    }
    for bad, pos in cases.items():
        broken = [*tokens]
        broken[pos] = bad
        with pytest.raises(TokenError) as err:
            parse(broken)
        assert (
            err.value.position == pos
            and err.value.token == bad
            and f"position {pos}" in str(err.value)
        )
    with pytest.raises(TokenError, match="not lattice-adjacent") as err:
        parse(
            [
                "<ADJLIST_START>",
                "(0,0)",
                "<-->",
                "(1,1)",
                ";",
                *tokens[tokens.index("<ADJLIST_END>") :],
            ]
        )
    assert err.value.position == 1
    with pytest.raises(TokenError, match="after <PATH_END>"):
        parse([*tokens, "(0,0)"])
    with pytest.raises(TokenError) as err:
        parse(tokens[:5])
    assert err.value.position == 5  # the sequence ended where a token was expected


def token_lists():
    m, origin, target, path = example("rdfs_percolation", (3, 4), 0, p=0.3)
    vocab = vocabulary(5).tokens
    valid = {s: tokenize(m, origin, target, path, scheme=s) for s in SCHEMES}
    junk = (
        st.sampled_from(vocab)
        | st.text(max_size=6)
        | st.sampled_from(["(0,-1)", "(01,2)", "(99999999999,0)", "²", "(²,1)", "-1", ""])
    )
    base = st.sampled_from(list(valid.values()))
    edits = st.lists(
        st.tuples(st.integers(0, 200), st.sampled_from(["del", "ins", "sub"]), junk), max_size=3
    )

    @st.composite
    def mutated(draw):
        tokens = list(draw(base))
        for pos, op, tok in draw(edits):
            pos %= len(tokens) + 1
            if op == "ins":
                tokens.insert(pos, tok)
            elif tokens and pos < len(tokens):
                if op == "del":
                    del tokens[pos]
                else:
                    tokens[pos] = tok
        return tokens

    return mutated() | st.lists(junk, max_size=40)


@settings(max_examples=300, deadline=None)
@given(token_lists(), st.sampled_from([None, *SCHEMES]), st.sampled_from([None, (3, 4), 6]))
def test_malformed_sequences_raise_only_token_error(tokens, scheme, shape):
    try:
        ex = parse(tokens, scheme=scheme, shape=shape)
    except TokenError as err:
        assert err.position is not None and 0 <= err.position <= len(tokens)
        if err.token is None:  # the sequence ended early (trailing pads are not part of it)
            assert all(t == "<PADDING>" for t in tokens[err.position :])
        else:
            assert err.token == tokens[err.position]
        return
    rows, cols = ex.maze.shape
    for r, c in [ex.origin, ex.target, *(ex.path or [])]:
        assert 0 <= r < rows and 0 <= c < cols


def test_vocabulary_construction_is_linear_and_bounded():
    big = maze_env.Vocabulary(maze_env.tokens.MAX_GRID)
    assert len(big) < 2**16  # ids fit the env's uint16 observations
    small = maze_env.Vocabulary(7)
    assert big.tokens[: len(small)] == small.tokens  # prefix-ordered
    assert [t for t in small.tokens if t.startswith("(")][:5] == [
        "(0,0)", "(0,1)", "(1,0)", "(1,1)", "(0,2)",
    ]  # fmt: skip
    for bad in (0, maze_env.tokens.MAX_GRID + 1, True, 2.0):
        with pytest.raises(ValueError, match="max_grid"):
            maze_env.Vocabulary(bad)


@pytest.mark.parametrize("max_grid, shape", [(6, (6, 6)), (12, (3, 7)), (12, (12, 1)), (2, (1, 1))])
def test_cell_of_ids_inverts_cell_tokens(max_grid, shape):
    vocab = maze_env.vocabulary(max_grid)
    cells = vocab.cell_of_ids(shape)
    forward = vocab.cell_tokens("aotp", shape)[:, 0]
    assert np.array_equal(cells[forward], np.arange(shape[0] * shape[1]))
    others = np.setdiff1d(np.arange(len(vocab)), forward)
    assert (cells[others] == -1).all()
    spelled = [maze_env.tokens.read_cell(t) for t in vocab.decode(others)]
    assert all(c is None or c[0] >= shape[0] or c[1] >= shape[1] for c in spelled)  # off the grid
    with pytest.raises(ValueError, match="does not fit"):
        vocab.cell_of_ids((max_grid + 1, 1))

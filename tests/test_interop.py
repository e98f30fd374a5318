"""maze-dataset 1.4.2 interop: conversions and token strings in both directions."""

import builtins
import warnings

import numpy as np
import pytest

import maze_env
from maze_env import interop

md = pytest.importorskip("maze_dataset")
warnings.filterwarnings("ignore", module="maze_dataset")
warnings.filterwarnings("ignore", module="muutils")


def solved(name="wilson", n=5, seed=0):
    m = maze_env.generate(name, n, seed=seed)
    origin, target = maze_env.sample_endpoints(m, seed=seed)
    return m, origin, target, m.shortest_path(origin, target)


@pytest.mark.parametrize("name", ["rdfs", "wilson", "rdfs_percolation", "open_field"])
def test_round_trips_through_maze_dataset(name):
    for seed in range(5):
        m, origin, target, path = solved(name, (4, 6), seed)
        lattice = interop.to_maze_dataset(m)
        assert type(lattice) is md.LatticeMaze
        assert np.array_equal(lattice.connection_list, m.connections)
        assert interop.from_maze_dataset(lattice) == (m, None, None, None)
        targeted = interop.to_maze_dataset(m, origin, target)
        assert isinstance(targeted, md.TargetedLatticeMaze)
        assert interop.from_maze_dataset(targeted) == (m, origin, target, None)
        sm = interop.to_maze_dataset(m, origin, target, path)
        assert isinstance(sm, md.SolvedMaze)
        assert interop.from_maze_dataset(sm) == (m, origin, target, path)


def test_their_mazes_and_tokens_read_with_parse(seeded_global_rngs):
    tokenizer = interop.aotp_tokenizer(6)
    for gen in (md.LatticeMazeGenerators.gen_dfs, md.LatticeMazeGenerators.gen_wilson):
        for _ in range(5):
            lattice = gen(np.array([6, 6]))
            sm = md.SolvedMaze.from_lattice_maze(lattice, lattice.generate_random_path())
            ours = interop.from_maze_dataset(sm)
            assert ours.maze.is_tree() and ours.maze.is_valid_path(ours.path)
            tokens = sm.as_tokens(tokenizer)
            ex = maze_env.parse(tokens)
            assert (ex.maze, ex.origin, ex.target, ex.path, ex.complete) == (*ours, True)
            assert maze_env.parse(" ".join(tokens)) == ex
            # the modular default tokenizer writes the same strings
            assert maze_env.parse(sm.as_tokens(md.tokenization.MazeTokenizerModular())) == ex


def test_our_tokens_read_with_their_from_tokens():
    for name in ("rdfs", "wilson", "prim", "rdfs_percolation"):
        for seed in range(5):
            m, origin, target, path = solved(name, 6, seed)
            tokens = maze_env.tokenize(m, origin, target, path, seed=seed)
            theirs = md.SolvedMaze.from_tokens(tokens, interop.aotp_tokenizer(6))
            assert isinstance(theirs, md.SolvedMaze)
            assert interop.from_maze_dataset(theirs) == (m, origin, target, path)
            # every string is one of their vocabulary's tokens
            vocab = set(interop.aotp_tokenizer(6).token_arr)
            assert set(tokens) <= vocab


def test_same_strings_as_maze_dataset_for_the_same_edge_order():
    m, origin, target, path = solved("wilson", 5, 3)
    ours = maze_env.tokenize(m, origin, target, path, seed=3)
    sm = interop.to_maze_dataset(m, origin, target, path)
    theirs = sm.as_tokens(interop.aotp_tokenizer(5))
    # edge order is shuffled by each library: compare the adjacency lists as sets of lines
    cut_ours, cut_theirs = ours.index("<ADJLIST_END>"), theirs.index("<ADJLIST_END>")
    assert ours[cut_ours:] == theirs[cut_theirs:]

    def lines(tokens):
        body = tokens[1:]
        return {frozenset((body[i], body[i + 2])) for i in range(0, len(body), 4)}

    assert lines(ours[:cut_ours]) == lines(theirs[:cut_theirs])
    assert all(ours[i] == "<-->" and ours[i + 2] == ";" for i in range(2, cut_ours, 4))


def test_bad_conversions_and_missing_package(monkeypatch):
    m, origin, target, path = solved()
    with pytest.raises(ValueError, match="origin"):
        interop.to_maze_dataset(m, target, None, path)
    with pytest.raises(ValueError, match="both origin and target"):
        interop.to_maze_dataset(m, origin)
    with pytest.raises(TypeError, match="LatticeMaze"):
        interop.from_maze_dataset(m)
    real_import = builtins.__import__

    def no_maze_dataset(name, *args, **kwargs):
        if name.startswith("maze_dataset"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_maze_dataset)
    with pytest.raises(ImportError, match=r"pip install tokenmaze\[mazedataset\]"):
        interop.to_maze_dataset(m)

"""Hostile and careless input: every bad value gets a clear error naming it (parser, env kwargs,
actions), bounded hypothesis fuzzing included (the derandomized ``ci`` profile)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import maze_env
from maze_env import TokenError, parse, tokenize


def solved(name="rdfs", shape=(3, 4), seed=0, **kw):
    m = maze_env.generate(name, shape, seed=seed, **kw)
    origin, target = maze_env.sample_endpoints(m, seed=seed)
    return m, origin, target, m.shortest_path(origin, target)


# --------------------------------------------------------------------------- parser


def test_a_coordinate_of_thousands_of_digits_is_a_token_error():
    tokens = tokenize(*solved())
    for bad, scheme in (("(" + "9" * 5000 + ",0)", "aotp"), ("7" * 4400, "coords")):
        broken = list(tokenize(*solved(), scheme=scheme))
        at = broken.index("<ORIGIN_START>") + 1
        broken[at] = bad
        with pytest.raises(TokenError, match=r"beyond the limit 1024") as err:
            parse(broken, scheme=scheme)
        assert err.value.position == at and err.value.token == bad
        assert len(str(err.value)) < 300
    assert parse(tokens).maze == solved()[0]


def test_a_token_with_a_trailing_newline_is_refused():
    tokens = tokenize(*solved())
    at = tokens.index("<ORIGIN_START>") + 1
    broken = [*tokens]
    broken[at] = tokens[at] + "\n"
    with pytest.raises(TokenError, match="expected a coordinate") as err:
        parse(broken)
    assert err.value.position == at
    coords = tokenize(*solved(), scheme="coords")
    at = coords.index("<ORIGIN_START>") + 1
    coords[at] += "\n"
    with pytest.raises(TokenError, match="expected a row number") as err:
        parse(coords, scheme="coords")
    assert err.value.position == at


@pytest.mark.parametrize("reverse", [False, True])
def test_a_duplicate_edge_is_refused_at_its_second_listing(reverse):
    tokens = tokenize(*solved())
    first = tokens[1:5]  # a <--> b ;
    again = [first[2], first[1], first[0], first[3]] if reverse else first
    end = tokens.index("<ADJLIST_END>")
    broken = tokens[:end] + again + tokens[end:]
    with pytest.raises(TokenError, match=r"listed twice \(first at position 1\)") as err:
        parse(broken)
    assert err.value.position == end


def test_a_target_outside_the_given_shape_is_refused():
    m, origin, _, _ = solved()
    tokens = tokenize(m, origin, origin)
    at = tokens.index("<TARGET_START>") + 1
    tokens[at] = "(99,99)"
    with pytest.raises(TokenError, match=r"\(99, 99\) is off the 3x4 grid") as err:
        parse(tokens, shape=(3, 4))
    assert err.value.position == at


@pytest.mark.parametrize("scheme", ["aotp", "coords", "walls"])
@pytest.mark.parametrize("stray", ["3", "<XX>", "(1,1)", "<-->"])
def test_a_stray_token_in_the_path_is_named_at_its_position(scheme, stray):
    tokens = tokenize(*solved("rdfs_percolation", (4, 4), 2, p=0.3), scheme=scheme)
    at = tokens.index("<PATH_START>") + 3  # inside the path
    broken = [*tokens[:at], stray, *tokens[at:]]
    if stray == ("3" if scheme == "coords" else "(1,1)"):  # a cell token of this scheme
        try:  # one more path cell (a jump or revisit is no parse error), or half of one
            parse(broken, scheme=scheme)
        except TokenError as err:
            assert err.position >= at
        return
    with pytest.raises(TokenError) as err:
        parse(broken)
    assert err.value.position == at and err.value.token == stray, str(err.value)


@pytest.mark.filterwarnings("ignore")
def test_maze_dataset_split_coordinates_parse_as_the_coords_scheme(seeded_global_rngs):
    md = pytest.importorskip("maze_dataset")
    import numpy as np
    from maze_dataset.tokenization import MazeTokenizer, TokenizationMode

    from maze_env import interop

    tokenizer = MazeTokenizer(tokenization_mode=TokenizationMode.AOTP_CTT_indexed, max_grid_size=6)
    for gen in (md.LatticeMazeGenerators.gen_dfs, md.LatticeMazeGenerators.gen_percolation):
        for _ in range(4):
            lattice = gen(np.array([5, 6])) if gen.__name__ == "gen_dfs" else gen(
                np.array([5, 6]), p=0.6
            )  # fmt: skip
            sm = md.SolvedMaze.from_lattice_maze(lattice, lattice.generate_random_path())
            tokens = sm.as_tokens(tokenizer)
            assert "(" in tokens and "," in tokens  # the split spelling
            ex = parse(tokens, shape=(5, 6))
            assert ex.scheme == "coords" and ex.complete
            assert (ex.maze, ex.origin, ex.target, ex.path) == tuple(interop.from_maze_dataset(sm))
            assert parse(" ".join(tokens), shape=(5, 6)) == ex


def valid_sequences():
    cases = [solved("rdfs_percolation", (3, 4), s, p=0.3) for s in range(3)]
    return st.sampled_from([(tokenize(*c, scheme=s), s) for c in cases for s in maze_env.SCHEMES])


JUNK = (
    st.sampled_from(maze_env.vocabulary(5).tokens)
    | st.text(max_size=6)
    | st.sampled_from(["(0,0)\n", "3\n", "(0,-1)", "(01,2)", "9" * 5000, "(" + "1" * 4400 + ",0)"])
)


@settings(max_examples=200, deadline=None)
@given(valid_sequences(), st.integers(0, 10**6), st.sampled_from(["ins", "sub"]), JUNK)
def test_one_edit_is_reported_at_or_just_before_it(case, where, op, junk):
    """One inserted or substituted token: an error never points before the start of the edge
    (at most 5 tokens) that holds it, and detection keeps the scheme."""
    tokens, scheme = case
    at = where % len(tokens)
    broken = [*tokens]
    if op == "ins":
        broken.insert(at, junk)
    else:
        broken[at] = junk
    try:
        ex = parse(broken)
    except TokenError as err:
        assert err.position >= at - 5, (err, at)
        return
    assert ex.scheme == scheme


# --------------------------------------------------------------------------- env kwargs

BAD_KWARGS = [  # (env kwargs, the words the error must hold)
    ({"generator_kwargs": {"forks": "False"}}, r"forks='False' must be True or False"),
    ({"generator_kwargs": {"forks": 1}}, r"forks=1 must be True or False"),
    ({"endpoints": {"origin_dead_end": "yes"}}, r"origin_dead_end must be True or False"),
    ({"endpoints": {"target_dead_end": 1}}, r"target_dead_end must be True or False"),
    ({"endpoints": {"min_distance": True}}, r"min_distance must be an int in \[0, 2147483647\]"),
    ({"endpoints": {"min_distance": 2**70}}, r"min_distance must be an int in \[0, 2147483647\]"),
    ({"endpoints": {"max_distance": 2**70}}, r"max_distance must be None or an int in \[min"),
    ({"generator": "percolation", "generator_kwargs": {"p": True}}, r"p=True must be a number in"),
    ({"generator": "percolation", "generator_kwargs": {"p": "0.5"}}, r"p='0.5' must be a number"),
    ({"generator": "percolation", "generator_kwargs": {"p": float("nan")}}, r"p=nan must be a"),
    ({"endpoints": {"target_region": "rect:0,0,-1,-1"}}, r"need 0 <= r0 < r1 and 0 <= c0 < c1"),
    ({"endpoints": {"origin_region": "rect:2,0,2,3"}}, r"need 0 <= r0 < r1"),
    ({"endpoints": {"origin_region": "rect:0,0,0,0"}}, r"need 0 <= r0 < r1"),
    ({"canvas": 8, "offset": (0.5, 0.5)}, r"offset must be \(row, col\) of ints"),
    ({"canvas": 8, "offset": (True, 0)}, r"offset must be \(row, col\) of ints"),
    ({"canvas": 8, "offset": 3}, r"offset must be \(row, col\), None or 'random'"),
    ({"generator_kwargs": {"max_depth": 10**30}},
     rf"max_depth={10**30} must be an int in \[1, 2147483647\]"),
    ({"generator_kwargs": {"max_depth": 0}}, r"max_depth=0 .*\(a depth of 0 opens no connection"),
    ({"generator_kwargs": {"max_depth": 2.5}}, r"max_depth=2.5 must be an int in \[1"),
    ({"size": (1, 2**64)}, r"size: each side must be in \[1, 4096\]"),
    ({"size": 10**4}, r"size: each side must be in \[1, 4096\]"),
    ({"size": (6.5, 6)}, r"size must be an int or \(rows, cols\) of ints"),
    ({"size": True}, r"size must be an int or \(rows, cols\)"),
    ({"size": 1}, r"size=1: a 1x1 maze has one cell"),
    ({"max_steps": 10**9}, r"max_steps must be None or an int in \[1, 1048576\]"),
    ({"max_steps": True}, r"max_steps must be None or an int in \[1, 1048576\]"),
    ({"generator": "open_field", "generator_kwargs": {"obstacles": 10**9}},
     r"obstacles=1000000000 must be an int in \[0, 10000\]"),
    ({"generator": "open_field", "generator_kwargs": {"obstacle_max_size": 0}},
     r"obstacle_max_size=0 must be an int in \[1, 4096\]"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "message"), BAD_KWARGS)
def test_bad_env_kwargs_are_refused_naming_the_kwarg_and_range(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        maze_env.TokenMazeEnv(**kwargs)


def test_the_bounds_still_allow_the_edges_of_their_ranges():
    maze_env.TokenMazeEnv(size=(1, 2)).reset(seed=0)
    maze_env.TokenMazeEnv(max_steps=2**20).reset(seed=0)
    maze_env.TokenMazeEnv(generator_kwargs={"max_depth": 1}).reset(seed=0)
    maze_env.TokenMazeEnv(generator="open_field", generator_kwargs={"obstacles": 10_000}, size=3)
    assert maze_env.normalize_shape((4096, 1)) == (4096, 1)


def test_actions_must_be_ints_in_range_and_follow_a_reset():
    import gymnasium as gym
    import numpy as np

    env = maze_env.TokenMazeEnv()
    with pytest.raises(gym.error.ResetNeeded, match=r"before reset\(\)"):
        env.step(20)
    env.reset(seed=0)
    n = env.action_space.n
    for bad in (True, np.bool_(True), 1.0, "1", n, -1, np.array([1, 2]), None):
        with pytest.raises(ValueError, match=rf"action must be an int in \[0, {n}\)"):
            env.step(bad)
    env.step(np.int64(env.action_space.n - 1))


def test_vector_reset_seeds_are_checked():
    import gymnasium as gym

    envs = gym.make_vec("TokenMaze-v0", num_envs=2)
    for bad in ("x", ["a", "b"], [0.5, 1], {"a": 1}):
        with pytest.raises(TypeError, match=r"seed must be None, an int or a list of num_envs=2"):
            envs.reset(seed=bad)
    with pytest.raises(ValueError, match="needs num_envs=2 entries, got 1"):
        envs.reset(seed=[1])
    envs.reset(seed=[1, None])


# --------------------------------------------------------------------------- fuzzing

JUNK_VALUES = st.sampled_from(
    [None, True, False, 0, 1, -1, 3, 2**70, 0.5, float("nan"), "", "x", "False", (1, 2),
     (0.5, 0.5), [3, 3], {"a": 1}, "rect:0,0,-1,-1", "random"]
)  # fmt: skip
ENV_KEYS = ("size", "generator", "scheme", "max_grid", "canvas", "offset", "max_steps",
            "step_cost", "invalid_action")  # fmt: skip
GEN_KEYS = st.sampled_from(["forks", "max_depth", "p", "obstacles", "obstacle_max_size"])
END_KEYS = st.sampled_from(["min_distance", "max_distance", "origin_dead_end", "target_region"])


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.sampled_from(ENV_KEYS), JUNK_VALUES, max_size=3),
    st.sampled_from(["rdfs", "percolation", "open_field"]),
    st.dictionaries(GEN_KEYS, JUNK_VALUES, max_size=2),
    st.dictionaries(END_KEYS, JUNK_VALUES, max_size=2),
)
def test_fuzzed_env_kwargs_build_a_working_env_or_raise_a_named_error(kw, gen, gen_kw, ends):
    kwargs = {"size": 3, "generator": gen, **kw, "generator_kwargs": gen_kw, "endpoints": ends}
    try:
        env = maze_env.TokenMazeEnv(**kwargs)
        obs, _ = env.reset(seed=0)
    except (ValueError, TypeError) as err:
        assert str(err)
        return
    assert env.observation_space.contains(obs)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(-(2**70), 2**70)
    | st.sampled_from([True, False, 0.0, 1.5, "1", None, b"\x01", [1], (2,)])
    | st.integers(0, 60)
)
def test_fuzzed_actions_step_or_raise_a_value_error(action):
    import numpy as np

    env = maze_env.TokenMazeEnv(size=3)
    env.reset(seed=1)
    try:
        obs, reward, *_ = env.step(action)
    except ValueError as err:
        assert "action must be an int in [0," in str(err)
        return
    assert isinstance(action, (int, np.integer)) and not isinstance(action, bool)
    assert env.observation_space.contains(obs) and np.isfinite(reward)

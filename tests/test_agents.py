"""Agents: registry, the shared plan → action logic, oracle, random-fork, heuristics, env play."""

import subprocess
import sys
import textwrap
from itertools import pairwise

import gymnasium as gym
import networkx as nx
import numpy as np
import pytest
from env_cases import play_episode
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from mazegraph import to_graph
from scipy import stats

import agents
import maze_env
from maze_env import DIRECTIONS, Maze
from maze_env.judge import score

PLANNED = ["oracle", "random-fork", "greedy", "dead-end-filling-planner", "wall-follower-planner"]
TREES = st.sampled_from(["rdfs", "wilson", "kruskal", "prim"])
CYCLIC = st.sampled_from([("percolation", {"p": 0.6}), ("rdfs_percolation", {"p": 0.3})])


def deceptive_fork() -> Maze:
    """3x3: from (0,0) the target (0,2) looks one step past (0,1), a dead end; the way is round."""
    way = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2)]
    return Maze.from_edges(3, [*pairwise(way), ((0, 0), (0, 1))])


def island() -> Maze:
    """4x4: a ring of the outer cells; the target (1,1) hangs inward from (0,1)."""
    ring = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1), (3, 0), (2, 0),
            (1, 0)]  # fmt: skip
    return Maze.from_edges(4, [*pairwise([*ring, ring[0]]), ((0, 1), (1, 1))])


def star() -> Maze:
    """3x3: (1,1) opens to all four neighbours; the target (0,0) lies beyond (0,1)."""
    return Maze.from_edges(
        3,
        [((1, 1), (0, 1)), ((1, 1), (2, 1)), ((1, 1), (1, 0)), ((1, 1), (1, 2)), ((0, 1), (0, 0))],
    )


def play(agent, maze, origin, target, scheme="aotp", action_type="token", max_grid=None):
    """Drive ``agent`` on the observations a TokenMaze env would show; return the emitted path."""
    vocab = maze_env.vocabulary(max_grid or max(maze.shape))
    cells = vocab.cell_tokens(scheme, maze.shape)
    cols = maze.shape[1]
    ids = list(vocab.encode(maze_env.tokenize(maze, origin, target, scheme=scheme, seed=1)))
    ids += list(cells[origin[0] * cols + origin[1]])
    info = {"scheme": scheme, "action_type": action_type, "max_grid": vocab.max_grid}

    def obs():
        return {"tokens": np.array(ids + [vocab.pad_id] * 8), "length": np.array(len(ids))}

    agent.reset(obs(), info)
    path = [origin]
    for _ in range(4 * maze.n_cells * len(cells[0]) + 2):
        action = agent.act(obs(), info)
        if action_type == "move":
            if action == 4:
                return path
            cell = (path[-1][0] + DIRECTIONS[action][0], path[-1][1] + DIRECTIONS[action][1])
            path.append(cell)
            ids.extend(cells[cell[0] * cols + cell[1]])
        elif action == vocab.special["<PATH_END>"]:
            return maze_env.parse(vocab.decode(ids), scheme=scheme).path
        else:
            ids.append(action)
    raise AssertionError("the agent never ended its path")


def sample(gen, kw, size, seed):
    maze = maze_env.generate(gen, size, seed=seed, **kw)
    try:
        origin, target = maze_env.sample_endpoints(maze, seed=seed)
    except maze_env.NoValidEndpoints:  # a percolation maze without a single open edge
        reject()
    return maze, origin, target


# --------------------------------------------------------------------------- registry


def test_available_lists_every_builtin_with_a_description():
    names = agents.available()
    for name in [*PLANNED, "wall-follower", "sb3", "transformer"]:
        assert names.get(name)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown agent 'nope'.*oracle.*random-fork"):
        agents.make("nope")


def test_bad_kwargs_name_the_agent_and_the_kwarg():
    with pytest.raises(TypeError, match=r"'random-fork'.*'sed'.*seed"):
        agents.make("random-fork", sed=0)
    with pytest.raises(ValueError, match="hand"):
        agents.make("wall-follower", hand="up")
    with pytest.raises(ValueError, match="hand"):
        agents.make("wall-follower-planner", hand="up")
    with pytest.raises(ValueError, match="bias"):
        agents.make("random-fork", bias=1.5)


def test_module_class_strings_load_third_party_agents(tmp_path, monkeypatch):
    (tmp_path / "my_agents.py").write_text(
        textwrap.dedent(
            """
            class Stubborn:
                def __init__(self, action=4):
                    self.action = action
                def reset(self, obs, info):
                    pass
                def act(self, obs, info):
                    return self.action
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    agent = agents.make("my_agents:Stubborn", action=2)
    assert isinstance(agent, agents.Agent) and agent.act(None, {}) == 2
    assert isinstance(agents.make("agents.oracle:OracleAgent"), agents.OracleAgent)
    with pytest.raises(TypeError, match=r"'my_agents:Stubborn'.*'colour'"):
        agents.make("my_agents:Stubborn", colour=1)
    with pytest.raises(ImportError, match="no attribute 'Missing'"):
        agents.make("my_agents:Missing")
    with pytest.raises(ImportError, match="no_such_module"):
        agents.make("no_such_module:Agent")


def test_an_agent_file_outside_the_packages_loads_by_its_path(tmp_path):
    """'path/to/file.py:Class' needs no PYTHONPATH: the file the user names is imported."""
    path = tmp_path / "outside" / "mine.py"
    path.parent.mkdir()
    path.write_text("from agents import OracleAgent\n\nclass Mine(OracleAgent):\n    pass\n")
    agent = agents.make(f"{path}:Mine")
    assert isinstance(agent, agents.OracleAgent) and type(agent).__name__ == "Mine"
    assert type(agents.make(f"{path}:Mine")) is type(agent)  # imported once
    maze, origin, target = sample("rdfs", {}, 4, seed=0)
    assert play(agent, maze, origin, target) == maze.shortest_path(origin, target)
    with pytest.raises(ImportError, match=r"no agent file .*nope\.py"):
        agents.make(f"{tmp_path / 'nope.py'}:Mine")
    with pytest.raises(ImportError, match="PYTHONPATH"):
        agents.make("not_on_the_path:Mine")


def test_register_lazy_string_and_duplicates(tmp_path, monkeypatch):
    monkeypatch.setattr(agents.base, "_REGISTRY", dict(agents.base._REGISTRY))
    agents.register("lazy-oracle", "agents.oracle:OracleAgent", "a lazily imported oracle")
    assert agents.available()["lazy-oracle"] == "a lazily imported oracle"
    assert isinstance(agents.make("lazy-oracle"), agents.OracleAgent)
    with pytest.raises(ValueError, match="already registered"):
        agents.register("oracle", agents.OracleAgent)
    with pytest.raises(TypeError, match="factory"):
        agents.register("broken", 42)


def test_heavy_agents_are_imported_lazily():
    code = "import sys, agents; print([m in sys.modules for m in ('agents.sb3', 'torch')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[False, False]"
    assert agents.base._REGISTRY["transformer"][0] == "agents.transformer.policy:TransformerAgent"


# --------------------------------------------------------------------------- observation → actions


@pytest.mark.parametrize("scheme", maze_env.SCHEMES)
@pytest.mark.parametrize("action_type", ["token", "move"])
@pytest.mark.parametrize("name", PLANNED)
def test_every_scheme_and_action_type_emits_the_plan(name, scheme, action_type):
    maze, origin, target = sample("rdfs_percolation", {"p": 0.2}, (5, 6), seed=3)
    agent = agents.make(name)
    expected = agent.plan(maze, origin, target, np.random.default_rng(0))
    agent.rng = np.random.default_rng(0)
    got = play(agent, maze, origin, target, scheme, action_type, max_grid=8)
    assert got == expected and maze.is_valid_path(got)


def test_act_is_idempotent_and_act_batch_matches_act():
    mazes = [sample("rdfs", {}, 5, seed=s) for s in range(3)]
    vocab = maze_env.vocabulary(5)
    prompts = []
    for maze, origin, target in mazes:
        ids = list(vocab.encode(maze_env.tokenize(maze, origin, target, seed=0)))
        prompts.append([*ids, int(vocab.coord_ids[origin])])
    width = max(map(len, prompts))
    batch = {
        "tokens": np.array([p + [vocab.pad_id] * (width - len(p)) for p in prompts]),
        "length": np.array([len(p) for p in prompts]),
    }
    infos = {"scheme": np.array(["aotp"] * 3), "action_type": "token", "max_grid": np.full(3, 5)}
    oracle = agents.make("oracle")
    first = oracle.act_batch(batch, infos)
    assert np.array_equal(first, oracle.act_batch(batch, infos))
    for i, (maze, origin, target) in enumerate(mazes):
        step = maze.shortest_path(origin, target)[1]
        assert first[i] == vocab.coord_ids[step]


def test_a_plan_must_start_at_the_origin():
    class Lost(agents.PlannedAgent):
        def plan(self, maze, origin, target, rng):
            return [target]

    maze, origin, target = sample("rdfs", {}, 4, seed=0)
    with pytest.raises(RuntimeError, match="starting at the origin"):
        play(Lost(), maze, origin, target)


# --------------------------------------------------------------------------- oracle


@settings(max_examples=30, deadline=None)
@given(CYCLIC, st.integers(2, 7), st.integers(0, 10**6))
def test_oracle_is_a_shortest_path_on_cyclic_mazes(gen, size, seed):
    name, kw = gen
    maze, origin, target = sample(name, kw, size, seed)
    path = play(agents.make("oracle"), maze, origin, target)
    graph = to_graph(maze.connections)
    assert path[0] == origin and path[-1] == target
    assert all(graph.has_edge(a, b) for a, b in pairwise(path))
    assert len(path) - 1 == nx.shortest_path_length(graph, origin, target)


def test_oracle_gives_up_when_the_target_is_unreachable():
    maze = Maze.from_edges(3, [((0, 0), (0, 1))])
    assert play(agents.make("oracle"), maze, (0, 0), (2, 2)) == [(0, 0)]


# --------------------------------------------------------------------------- random-fork


@settings(max_examples=30, deadline=None)
@given(CYCLIC, st.integers(2, 7), st.integers(0, 10**6), st.sampled_from([0.0, 0.5]))
def test_random_fork_obeys_walls_never_backtracks_and_stops_only_when_stuck(gen, size, seed, bias):
    name, kw = gen
    maze, origin, target = sample(name, kw, size, seed)
    path = play(agents.make("random-fork", seed=seed, bias=bias), maze, origin, target)
    graph = to_graph(maze.connections)
    assert path[0] == origin and len(set(path)) == len(path)
    assert all(graph.has_edge(a, b) for a, b in pairwise(path))
    assert path[-1] == target or set(graph.neighbors(path[-1])) <= set(path)


def test_random_fork_choices_are_uniform_and_bias_leans_to_the_target():
    maze, origin, target = star(), (1, 1), (0, 0)
    n = 2000
    for bias, p_correct in ((0.0, 0.25), (0.6, 0.6 + 0.4 * 0.25)):
        agent = agents.make("random-fork", seed=0, bias=bias)
        firsts = [agent.plan(maze, origin, target, agent.rng)[1] for _ in range(n)]
        counts = np.array([firsts.count(c) for c in [(0, 1), (2, 1), (1, 0), (1, 2)]])
        other = (1 - p_correct) / 3
        expected = n * np.array([p_correct, other, other, other])
        assert stats.chisquare(counts, expected).pvalue > 1e-3


def test_random_fork_is_reproducible_from_its_seed():
    maze, origin, target = sample("rdfs", {}, 8, seed=0)
    runs = [[play(agents.make("random-fork", seed=5), maze, origin, target) for _ in range(3)]]
    runs.append([play(agents.make("random-fork", seed=5), maze, origin, target) for _ in range(3)])
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------- heuristics


def test_greedy_fails_on_a_deceptive_fork_where_search_succeeds():
    maze, origin, target = deceptive_fork(), (0, 0), (0, 2)
    assert play(agents.make("greedy"), maze, origin, target) == [(0, 0), (0, 1)]
    for name in ("oracle", "dead-end-filling-planner", "wall-follower-planner"):
        assert play(agents.make(name), maze, origin, target) == maze.shortest_path(origin, target)
    assert play(agents.make("random-fork", seed=0, bias=1.0), maze, origin, target)[-1] == target


def test_greedy_walks_straight_when_nothing_deceives_it():
    maze = maze_env.generate("open_field", (4, 4), seed=0)
    path = play(agents.make("greedy"), maze, (0, 0), (3, 3))
    assert len(path) == 7 and maze.is_valid_path(path)


FORESTS = st.one_of(TREES.map(lambda g: (g, {})), st.just(("rdfs_tiles", {"tile": 3})))


@settings(max_examples=30, deadline=None)
@given(FORESTS, st.integers(1, 8), st.integers(1, 8), st.integers(0, 10**6))
def test_the_planners_solve_every_tree_and_the_wall_follower_walks_there(gen, rows, cols, seed):
    """On trees, and on forests (``rdfs_tiles``: origin and target share a tile)."""
    maze, origin, target = sample(*gen, (rows, cols), seed)
    solution = maze.shortest_path(origin, target)
    graph = to_graph(maze.connections)
    filling = agents.make("dead-end-filling-planner", seed=seed)
    assert play(filling, maze, origin, target) == solution
    for hand in ("left", "right"):
        planned = play(agents.make("wall-follower-planner", hand=hand), maze, origin, target)
        assert planned == solution
        walk = play(agents.make("wall-follower", hand=hand), maze, origin, target)
        assert walk[0] == origin and walk[-1] == target  # the rule reaches the target on a tree
        assert all(graph.has_edge(a, b) for a, b in pairwise(walk))  # through open connections
        steps = [frozenset(e) for e in pairwise(walk)]  # each edge at most once each way
        assert all(steps.count(e) <= 2 for e in steps)
        assert agents.planned.erase_loops(walk) == solution


def walk_ids(path, max_grid=3):
    """The token ids an agent emits for ``path`` (origin excluded), then <PATH_END>."""
    vocab = maze_env.vocabulary(max_grid)
    return [int(vocab.coord_ids[c]) for c in path[1:]] + [vocab.special["<PATH_END>"]]


def test_the_wall_follower_walks_into_dead_ends_and_back():
    """3x3: a corridor (0,0)-(0,1)-(0,2) with a dead end (1,1)-(2,1) below its middle; the right
    hand turns into the dead end and comes back out."""
    maze = Maze.from_edges(
        3, [((0, 0), (0, 1)), ((0, 1), (0, 2)), ((0, 1), (1, 1)), ((1, 1), (2, 1))]
    )
    walk = play(agents.make("wall-follower", hand="right"), maze, (0, 0), (0, 2))
    assert walk == [(0, 0), (0, 1), (1, 1), (2, 1), (1, 1), (0, 1), (0, 2)]
    planned = play(agents.make("wall-follower-planner", hand="right"), maze, (0, 0), (0, 2))
    assert planned == [(0, 0), (0, 1), (0, 2)]
    metrics = score(maze, (0, 0), (0, 2), maze_env.vocabulary(3).decode(walk_ids(walk)))
    assert metrics.target_reached and not metrics.exact_path
    assert metrics.violations["backtrack"] == 1 and metrics.violations["revisit"] == 1


def test_wall_follower_detects_the_loop_round_an_island():
    maze, target = island(), (1, 1)
    for hand in ("left", "right"):  # both hug the outer wall, never entering the inward branch
        planner = agents.make("wall-follower-planner", hand=hand)
        assert play(planner, maze, (3, 3), target) == [(3, 3)]
    right = play(agents.make("wall-follower-planner", hand="right"), maze, (0, 0), target)
    assert right == [(0, 0), (0, 1), (1, 1)]
    assert play(agents.make("wall-follower-planner", hand="left"), maze, (0, 0), target) == [(0, 0)]
    walk = play(agents.make("wall-follower", hand="left"), maze, (0, 0), target)
    assert walk[0] == walk[-1] == (0, 0) and len(walk) == 13  # once round the ring, then gives up
    capped = agents.make("wall-follower-planner", hand="left", max_steps=3)
    assert capped.plan(maze, (3, 3), target, capped.rng) == [(3, 3), (3, 2), (3, 1), (3, 0)]


@settings(max_examples=30, deadline=None)
@given(CYCLIC, st.integers(2, 7), st.integers(0, 10**6))
def test_heuristics_emit_valid_paths_on_cyclic_mazes(gen, size, seed):
    name, kw = gen
    maze, origin, target = sample(name, kw, size, seed)
    for agent in ("greedy", "dead-end-filling-planner", "wall-follower-planner"):
        path = play(agents.make(agent), maze, origin, target)
        assert path[0] == origin and maze.is_valid_path(path)


# --------------------------------------------------------------------------- in the envs


@pytest.mark.parametrize("env_id", ["TokenMaze-v0", "TokenMazeMoves-v0"])
@pytest.mark.parametrize("scheme", maze_env.SCHEMES)
def test_agents_play_the_envs_without_violations(env_id, scheme):
    kwargs = {"generator": "rdfs_percolation", "generator_kwargs": {"p": 0.2}}
    env = gym.make(env_id, size=5, scheme=scheme, **kwargs)
    for name in PLANNED:
        agent = agents.make(name)
        for seed in range(4):
            info, inner = play_episode(agent, env, seed)
            assert info["violations"] == dict.fromkeys(info["violations"], 0)
            assert info["success"] == (inner.path[-1] == inner.target)
            if name == "oracle":
                assert info["success"] and len(inner.path) - 1 == info["optimal_length"]


def test_act_batch_drives_the_native_vector_env_across_autoresets():
    envs = gym.make_vec("TokenMaze-v0", num_envs=3, size=5)
    oracle = agents.make("oracle")
    obs, infos = envs.reset(seed=0)
    finished = []
    for _ in range(40):
        obs, _, terminated, truncated, infos = envs.step(oracle.act_batch(obs, infos))
        done = terminated | truncated
        if done.any():
            finished += list(infos["success"][done])
    assert len(finished) >= 6 and all(finished)


@pytest.mark.parametrize("scheme", ["aotp", "coords", "walls"])
@pytest.mark.parametrize(
    ("generator", "kwargs"),
    [("open_field", {}), ("percolation", {"p": 0.9}), ("rdfs_percolation", {"p": 0.3})],
)
def test_agents_read_the_envs_own_maze_under_every_scheme(scheme, generator, kwargs):
    """The grid shape travels in ``info``: a walls prompt (or isolated border cells) does not
    show it, and parsing without it gave agents a smaller or edgeless maze."""
    env = gym.make("TokenMaze-v0", size=6, generator=generator, generator_kwargs=kwargs,
                   scheme=scheme)  # fmt: skip
    oracle = agents.make("oracle")
    for seed in range(25):
        obs, info = env.reset(seed=seed)
        assert tuple(info["shape"]) == (6, 6)
        ex = maze_env.parse(env.unwrapped.tokens, scheme=scheme, shape=tuple(info["shape"]))
        assert ex.maze == env.unwrapped.maze
        oracle.reset(obs, info)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))
            done = terminated or truncated
        assert info["success"], (scheme, generator, seed)


def test_oracle_solves_the_reported_walls_episode():
    env = gym.make("TokenMaze-v0", size=6, generator="rdfs_percolation",
                   generator_kwargs={"p": 0.3}, scheme="walls")  # fmt: skip
    obs, info = env.reset(seed=211)
    oracle = agents.make("oracle")
    oracle.reset(obs, info)
    steps = 0
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))
        done, steps = terminated or truncated, steps + 1
    assert info["success"] and steps == info["optimal_length"] + 1  # the moves, then PATH_END


def test_traits_read_the_optional_members_with_defaults_and_range_checks():
    class Minimal:
        def reset(self, obs, info):
            pass

        def act(self, obs, info):
            return 0

    assert agents.Traits.of(Minimal()) == agents.Traits()  # token env, any grid, not batched
    planner = agents.make("oracle")
    assert isinstance(planner, agents.BatchAgent)
    assert agents.Traits.of(planner).batched and not isinstance(Minimal(), agents.BatchAgent)

    moves = Minimal()
    moves.action_type, moves.max_grid, moves.kind = "move", 6, "walker"
    assert agents.Traits.of(moves) == agents.Traits("move", 6, "walker")
    moves.action_type = "moves"
    with pytest.raises(ValueError, match=r"Minimal\.action_type='moves' must be one of"):
        agents.Traits.of(moves)
    moves.action_type = "move"
    for bad in (0, 2.5, True, "6"):
        moves.max_grid = bad
        with pytest.raises(ValueError, match=r"Minimal\.max_grid=.* must be None or an int >= 1"):
            agents.Traits.of(moves)

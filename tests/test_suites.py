"""Suite files: every built-in loads, mistakes name the file and key, seeds, training overlap."""

from __future__ import annotations

import pytest

from benchmarks.suites import (
    SuiteError,
    available_suites,
    episode_seed,
    load_suite,
    suite_mazes,
    training_overlap,
)
from maze_env import Maze, generate_batch

TINY = """
description = "tiny"
episodes = 4
chunk = 2
[env]
size = 3
[[conditions]]
name = "a"
"""


@pytest.mark.parametrize("name", sorted(available_suites()))
def test_builtin_suites_load(name):
    suite = load_suite(name)
    assert suite.conditions and suite.description
    assert len({c.name for c in suite.conditions}) == len(suite.conditions)


def test_expected_suites_and_full_is_the_union():
    assert {"quick", "size", "cyclic", "open-field", "generators", "target-shift", "full"} <= set(
        available_suites()
    )
    full = load_suite("full")
    parts = ["size", "cyclic", "open-field", "generators", "target-shift"]
    assert len(full.conditions) == sum(len(load_suite(p).conditions) for p in parts)
    sizes = [c.env["size"] for c in load_suite("size").conditions]
    assert min(sizes) == 3 and max(sizes) == 12


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_suite_and_defaults(tmp_path):
    text = (
        'agents = ["oracle", { name = "wall-follower", label = "rh", kwargs = { hand = "right" } }]'
    )
    text += "\n"
    suite = load_suite(write(tmp_path, text + TINY))
    assert suite.name == "s" and suite.chunk == 2
    assert [a.label for a in suite.agents] == ["oracle", "rh"] and suite.agents[1].kwargs == {
        "hand": "right"
    }
    assert suite.conditions[0].env == {"size": 3} and suite.conditions[0].episodes == 4


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (TINY + "sise = 3\n", "unknown key 'sise'"),
        (TINY.replace("size = 3", "sise = 3"), "unknown EnvConfig field(s) ['sise']; known: ["),
        (
            TINY + '[[conditions]]\nname = "b"\nenv = { generator = "nope" }\n',
            "unknown generator 'nope'",
        ),
        (TINY + '[[conditions]]\nname = "b"\nenv = { scheme = "xyz" }\n', "scheme must be one of"),
        (
            TINY + '[[conditions]]\nname = "b"\nenv = { generator_kwargs = { q = 1 } }\n',
            "generator_kwargs",
        ),
        (
            TINY + '[[conditions]]\nname = "b"\nenv = { endpoints = { target_region = "moon" } }\n',
            "endpoints",
        ),
        (TINY + '[[conditions]]\nname = "b"\nepisodes = 0\n', "episodes must be an integer >= 1"),
        (TINY + '[[conditions]]\nname = "a"\n', "duplicate condition names ['a']"),
        (TINY + "[[conditions]]\nepisodes = 3\n", "conditions[1].name is required"),
        (TINY + '[[conditions]]\nname = "b"\nfoo = 1\n', "conditions[1] ('b'): unknown key 'foo'"),
        ("episodes = [\n", "not valid TOML"),
        ('description = "x"\n', "has no conditions"),
        ('agents = [{ label = "x" }]\n' + TINY, "agents[0]"),
    ],
)
def test_bad_suite_files_name_the_problem(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_unknown_suite_and_missing_file(tmp_path):
    with pytest.raises(SuiteError, match=r"unknown suite 'nope'.*quick"):
        load_suite("nope")
    with pytest.raises(SuiteError, match="does not exist"):
        load_suite(tmp_path / "missing.toml")


def test_include_and_cycles(tmp_path):
    write(tmp_path, TINY, "base.toml")
    suite = load_suite(write(tmp_path, 'include = ["base.toml", "cyclic"]\n', "top.toml"))
    assert suite.conditions[0].name == "base/a" and suite.conditions[1].name.startswith("cyclic/")
    write(tmp_path, 'include = ["b2.toml"]\n', "b1.toml")
    with pytest.raises(SuiteError, match="include cycle"):
        load_suite(write(tmp_path, 'include = ["b1.toml"]\n', "b2.toml"))


def test_episode_seeds_are_stable_and_distinct():
    seeds = [episode_seed(0, i) for i in range(1000)] + [episode_seed(1, i) for i in range(1000)]
    assert len(set(seeds)) == len(seeds)
    assert episode_seed(0, 0) == 4666798690374343479  # pinned: the evaluation namespace is frozen


def test_training_overlap(tmp_path):
    suite = load_suite(write(tmp_path, TINY.replace("size = 3", "size = 4")))
    mazes = list(suite_mazes(suite.conditions[0]))
    assert len(mazes) == 4
    own = training_overlap(suite, [m.canonical_hash() for m in mazes[:2]])
    assert own["a"]["overlap"] >= 2 and own["a"]["episodes"] == 4
    train = [Maze(c).canonical_hash() for c in generate_batch("rdfs", 6, 500, seed=0)]
    quick6 = load_suite("quick")
    report = training_overlap(quick6, train)
    assert report["rdfs-6x6"]["share"] < 0.05  # 6x6 rdfs mazes are (almost) never repeated


def test_size_suite_runs_every_shipped_transformer_and_holds_path_length(monkeypatch):
    import agents.transformer.shipped as shipped

    suite = load_suite("size")
    unscaled = ("transformer-small_to_large-unscaled",
                {"checkpoint": "small_to_large", "rotary_scaling": "off"})  # fmt: skip
    labels = [a.label for a in suite.agents if a.name == "transformer"]
    assert labels == [
        "transformer" if m == shipped.DEFAULT else f"transformer-{m}"
        for m in shipped.shipped_models()
    ] + [unscaled[0]]
    monkeypatch.setattr(shipped, "shipped_models", lambda: ["shipped_6x6", "small_to_large"])
    specs = [a for a in load_suite("size").agents if a.name == "transformer"]
    assert [(a.label, a.kwargs) for a in specs] == [
        ("transformer", {"checkpoint": "shipped_6x6"}),
        ("transformer-small_to_large", {"checkpoint": "small_to_large"}),
        unscaled,
    ]  # a newly shipped model joins the suite without an edit
    assert suite.reference == "6x6"
    bounded = {c.name: c.env["endpoints"]["max_distance"] for c in suite.conditions
               if "endpoints" in c.env}  # fmt: skip
    assert bounded["12x12/dist<=16"] == 16 and bounded["10x10/dist<=8"] == 8


def test_shipped_models_expands_the_transformer_only(tmp_path):
    bad = 'agents = [{ name = "oracle", shipped_models = true }]\n' + TINY
    with pytest.raises(SuiteError, match="shipped_models must be a bool, for the 'transformer'"):
        load_suite(write(tmp_path, bad))
    with pytest.raises(SuiteError, match="reference 'nope' is not a condition"):
        load_suite(write(tmp_path, 'reference = "nope"\n' + TINY, "r.toml"))

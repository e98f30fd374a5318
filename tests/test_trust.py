"""What runs code: only agent classes (or functions annotated to return an agent) are called for
a 'module:Attr' name, in agents.make and in a benchmark suite, before anything runs."""

from __future__ import annotations

import textwrap

import pytest

import agents
from benchmarks.__main__ import main


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_agents.py").write_text(
        textwrap.dedent(
            """
            import agents

            class Walker:
                def __init__(self, action=4):
                    self.action = action
                def reset(self, obs, info):
                    pass
                def act(self, obs, info):
                    return self.action

            def make_walker(action: int = 4) -> Walker:
                return Walker(action)

            def make_any(action: int = 4) -> agents.Agent:
                return Walker(action)

            def unannotated(action=4):
                return Walker(action)

            def liar() -> Walker:
                return "not an agent"

            class NotAnAgent:
                def act(self, obs, info):
                    return 0
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_agent_classes_and_annotated_factories_are_built(user_module):
    for name in ("user_agents:Walker", "user_agents:make_walker", "user_agents:make_any"):
        assert agents.make(name, action=2).act(None, {}) == 2


@pytest.mark.parametrize(
    "name",
    ["os:system", "builtins:eval", "subprocess:run", "user_agents:unannotated",
     "user_agents:NotAnAgent"],
)  # fmt: skip
def test_any_other_callable_is_refused_before_it_is_called(user_module, name, tmp_path):
    with pytest.raises(TypeError, match=r"neither an agent class.*nor a function annotated"):
        agents.make(name, command=f"touch {tmp_path / 'PWNED'}")
    assert not (tmp_path / "PWNED").exists()


def test_a_factory_that_builds_no_agent_is_refused(user_module):
    with pytest.raises(TypeError, match=r"built 'str', which has no reset/act"):
        agents.make("user_agents:liar")


@pytest.mark.parametrize("where", ["suite", "cli"])
def test_a_suite_or_cli_naming_a_non_agent_fails_before_any_cell(tmp_path, where):
    pwned = tmp_path / "PWNED"
    suite = tmp_path / "evil.toml"
    agent_table = f'{{ name = "os:system", kwargs = {{ command = "touch {pwned}" }} }}'
    suite.write_text(
        'description = "x"\nepisodes = 2\nchunk = 2\n'
        + (f"agents = [{agent_table}]\n" if where == "suite" else "")
        + '[env]\nsize = 3\n[[conditions]]\nname = "c"\n'
    )
    argv = ["run", "--suite", str(suite), "--out", str(tmp_path / "out")]
    if where == "cli":
        argv += ["--agents", "oracle,os:system"]
    with pytest.raises(SystemExit, match=r"agent 'os:system'.*neither an agent class"):
        main(argv)
    assert not pwned.exists()
    assert not (tmp_path / "out").exists()

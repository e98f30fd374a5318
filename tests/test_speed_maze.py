"""Smoke test of the maze speed benchmark's CLI (tiny sizes and budgets)."""

import pytest

from benchmarks import speed_maze


def test_prints_a_table(capsys):
    speed_maze.main(
        ["--sizes", "3", "--generators", "rdfs", "wilson", "--budget", "0.01", "--no-reference"]
    )
    out = capsys.readouterr().out
    for task in ("rdfs + solve", "wilson + solve", "tokens -> str", "tokens -> ids"):
        assert task in out
    assert "maze-dataset/s" in out


def test_against_maze_dataset(capsys):
    pytest.importorskip("maze_dataset")
    speed_maze.main(["--sizes", "10", "--generators", "rdfs", "--budget", "0.01"])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("rdfs + solve"))
    assert line.split()[-1] in ("ok", "MISSED") and "x" in line


def test_help_and_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exit_:
        speed_maze.main(["--help"])
    assert exit_.value.code == 0 and "--quick" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        speed_maze.main(["--budget", "0"])
    with pytest.raises(SystemExit):
        speed_maze.main(["--generators", "nope"])

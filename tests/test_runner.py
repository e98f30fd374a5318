"""The cell runner, executors, resume after SIGKILL, the results schema and the CLI end to end."""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import agents
import maze_env
from benchmarks.__main__ import cmd_speed, main
from benchmarks.executor import ProcessExecutor
from benchmarks.metrics import AGGREGATE_METRICS
from benchmarks.report import SchemaError, assemble, validate
from benchmarks.runner import agent_env_kwargs, plan_cells, run_cell, run_cells
from benchmarks.suites import AgentSpec, load_suite
from maze_env.judge import score

ROOT = Path(__file__).resolve().parents[1]
TINY = """
description = "tiny"
episodes = 6
chunk = 2
[env]
size = 3
[[conditions]]
name = "rdfs-3"
[[conditions]]
name = "perc-4"
env = { size = 4, generator = "rdfs_percolation", generator_kwargs = { p = 0.3 } }
"""
AGENTS = [AgentSpec("oracle", "oracle"), AgentSpec("random-fork", "random-fork"),
          AgentSpec("bench_helpers:SlowWalker", "walker")]  # fmt: skip


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return load_suite(path)


def deterministic(results: dict) -> dict:
    out = copy.deepcopy(results)
    out.pop("run")
    return json.loads(json.dumps(out))  # NaN-safe comparison through the same encoding


def run(suite, out, executor=None, agents=AGENTS):
    cells = run_cells(plan_cells(suite, agents), out, executor)
    return assemble(suite, agents, cells, run={}), cells


def test_oracle_is_perfect_and_metrics_match_the_tokens(tiny, tmp_path):
    results, cells = run(tiny, tmp_path / "a")
    validate(results)
    oracle = [r for r in results["records"] if r["agent"] == "oracle"]
    assert [(r["error"], r["episodes"], r["metrics"]["exact_path"]["value"]) for r in oracle] == [
        (None, 6, 1.0)
    ] * 2
    walker = [r for r in results["records"] if r["agent"] == "walker"]
    assert all(r["error"] is None for r in walker)
    for cell in cells:
        assert [e["index"] for e in cell["episodes"]] == list(range(cell["start"], cell["stop"]))


def test_metrics_agree_with_the_env_info():
    """The env counts violations online; the metrics recount them from the tokens alone."""
    import numpy as np

    import maze_env  # noqa: F401

    rng = np.random.default_rng(0)
    env = gym.make(
        "TokenMaze-v0", size=4, generator="rdfs_percolation", generator_kwargs={"p": 0.3}
    )
    for ep in range(40):
        _, info = env.reset(seed=ep)
        n0 = len(env.unwrapped.tokens)
        term = trunc = False
        while not (term or trunc):
            mask = info["action_mask"]
            a = rng.choice(np.flatnonzero(mask)) if rng.random() < 0.7 else rng.integers(len(mask))
            _, _, term, trunc, info = env.step(int(a))
        u = env.unwrapped
        m = score(u.maze, u.origin, u.target, u.tokens[n0:])
        assert m.violations == dict(info["violations"])  # no_path_end included
        assert m.success == bool(info.get("success", False))


def test_identical_for_one_and_two_workers(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    )
    one, _ = run(tiny, tmp_path / "one", ProcessExecutor(1))
    ex = ProcessExecutor(2)
    try:
        two, _ = run(tiny, tmp_path / "two", ex)
    finally:
        ex.close()
    assert deterministic(one) == deterministic(two)


def test_figures_drawn_in_two_workers_are_the_serial_bytes(tiny, tmp_path):
    from benchmarks.plots import write_figures

    results, _ = run(tiny, tmp_path / "run", agents=AGENTS[:2])
    (tmp_path / "serial").mkdir()
    (tmp_path / "workers").mkdir()
    serial, _ = write_figures(results, tmp_path / "serial")
    ex = ProcessExecutor(2)
    try:
        pooled, _ = write_figures(results, tmp_path / "workers", ex)
    finally:
        ex.close()
    assert pooled == serial and serial[0] == "matrix.png" and len(serial) >= 2
    for name in serial:
        assert (tmp_path / "workers" / name).read_bytes() == (
            tmp_path / "serial" / name
        ).read_bytes()


def test_workers_times_threads_never_exceed_the_cores(monkeypatch):
    from benchmarks.executor import auto_workers, threads_per_worker, usable_cores

    cores = usable_cores()
    for workers in (1, 2, 3, 8):
        assert workers * threads_per_worker(workers) <= max(cores, workers)
    assert auto_workers(n_cells=40, n_episodes=150) == 1  # too little work to spawn for
    assert auto_workers(n_cells=1, n_episodes=10_000) == 1  # one cell cannot be split
    assert auto_workers(n_cells=98, n_episodes=4900) == min(cores, 8)  # the quick suite
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    )
    import bench_helpers

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)  # no outside limit: the executor sets the pools
    ex = ProcessExecutor(2)
    try:
        pools = [t for _, t in ex.map_unordered(bench_helpers.torch_threads, [0, 1])]
    finally:
        ex.close()
    assert pools == [threads_per_worker(2)] * 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    from benchmarks.executor import cap_threads

    cap_threads(8)  # never raises a lower limit already set
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_ray_backend_matches_process_backend(tiny, tmp_path, monkeypatch):
    pytest.importorskip("ray")
    from benchmarks.executor import RayExecutor

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])
    )
    local, _ = run(tiny, tmp_path / "local")
    ex = RayExecutor(num_cpus=2)
    try:
        remote, _ = run(tiny, tmp_path / "ray", ex)
    finally:
        ex.close()
    assert deterministic(local) == deterministic(remote)


def test_missing_ray_is_a_clear_error(monkeypatch):
    import builtins

    from benchmarks.executor import make_executor

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RuntimeError, match=r"tokenmaze\[ray\]"):
        make_executor("ray")


def test_agent_errors_are_recorded_not_raised(tiny):
    cell = plan_cells(tiny, [AgentSpec("oracle", "bad", {"no_such_kwarg": 1})])[0]
    result = run_cell(cell)
    assert result["episodes"] == [] and "no_such_kwarg" in result["error"]


def test_refuses_to_mix_runs_without_resume(tiny, tmp_path):
    agents = AGENTS[:1]
    run_cells(plan_cells(tiny, agents), tmp_path)
    with pytest.raises(FileExistsError, match="--resume"):
        run_cells(plan_cells(tiny, agents), tmp_path)


def test_schema_validation(tiny, tmp_path):
    results, _ = run(tiny, tmp_path, agents=AGENTS[:1])
    validate(results)
    assert set(results["records"][0]["metrics"]) == set(AGGREGATE_METRICS)
    broken = copy.deepcopy(results)
    del broken["records"][1]["metrics"]["fork_accuracy"]
    with pytest.raises(SchemaError, match=r"records\[1\]\.metrics: missing key 'fork_accuracy'"):
        validate(broken)
    broken = copy.deepcopy(results)
    broken["schema_version"] = 99
    with pytest.raises(SchemaError, match="schema_version"):
        validate(broken)
    broken = copy.deepcopy(results)
    broken["records"][0]["agent"] = "ghost"
    with pytest.raises(SchemaError, match="not a listed agent"):
        validate(broken)


# --------------------------------------------------------------------------- CLI


def cli(*args, timeout=300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_cli_end_to_end_with_user_suite_and_module_class_agent(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(TINY)
    out = tmp_path / "out"
    res = cli("run", "--suite", str(suite), "--agents", "oracle,bench_helpers:SlowWalker",
              "--out", str(out), "--gifs", "1")  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = json.loads((out / "results.json").read_text())
    validate(results)
    assert {r["agent"] for r in results["records"]} == {"oracle", "bench_helpers:SlowWalker"}
    for name in ("results.csv", "report.md", "target_heatmap.png", "matrix.png"):
        assert (out / name).is_file()
    report = (out / "report.md").read_text()
    assert report.index("## Exact path, agent × condition") < report.index("## Per condition")
    assert "| oracle | 1.000" in report
    for figure in out.glob("*.png"):  # every figure is linked from the report
        assert f"]({figure.name})" in report
    assert len(list((out / "cells").glob("*.json"))) == 2 * 2 * 3


def test_cli_errors_name_the_problem(tmp_path):
    with pytest.raises(SystemExit, match="unknown agent 'nope'"):
        main(["run", "--suite", "quick", "--agents", "oracle,nope", "--out", str(tmp_path / "x")])
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("size = 3", "sise = 3"))
    with pytest.raises(SystemExit, match=r"bad\.toml.*unknown EnvConfig field\(s\) \['sise'\]"):
        main(["run", "--suite", str(bad), "--agents", "oracle", "--out", str(tmp_path / "y")])
    with pytest.raises(SystemExit, match="unknown suite 'nope'"):
        main(["run", "--suite", "nope", "--out", str(tmp_path / "z")])
    with pytest.raises(SystemExit, match=r"speed benchmark benchmarks\.speed_nothing is not part"):
        cmd_speed(argparse.Namespace(target="nothing", rest=[]))


def test_cli_help_and_list(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for word in ("--suite", "--agents", "--workers", "--resume", "--executor", "--address"):
        assert word in text
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "quick" in text and "oracle" in text and "random-fork" in text


def test_killed_run_resumes_to_the_same_results(tmp_path):
    suite = tmp_path / "slow.toml"
    suite.write_text(
        TINY.replace("chunk = 2", "chunk = 1").split('[[conditions]]\nname = "perc-4"')[0]
    )
    agents = "oracle,bench_helpers:SlowWalker"
    full = tmp_path / "full"
    assert (
        cli(
            "run", "--suite", str(suite), "--agents", agents, "--out", str(full), "--gifs", "0"
        ).returncode
        == 0
    )

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "run", "--suite", str(suite), "--agents", agents,
         "--out", str(out), "--gifs", "0", "--no-progress"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "cells").glob("*.json"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "cells").glob("*.json")))
    assert 3 <= done < 12, "the run should have been killed part-way"
    res = cli(
        "run",
        "--suite",
        str(suite),
        "--agents",
        agents,
        "--out",
        str(out),
        "--resume",
        "--gifs",
        "0",
    )
    assert res.returncode == 0, res.stderr
    a = json.loads((full / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    assert deterministic(a) == deterministic(b)


def test_agent_env_takes_the_agent_vocabulary_for_smaller_mazes():
    """A 6x6-vocabulary agent on a 5x5 maze gets max_grid 6: an off-maze move is a recorded
    violation instead of an id the env's action space lacks."""

    def make_agent_env(env_id, env_kwargs, agent_max_grid):
        return gym.make(env_id, **agent_env_kwargs(env_kwargs, agent_max_grid))

    env = make_agent_env("TokenMaze-v0", {"size": 5}, 6)
    assert env.unwrapped.config.max_grid == 6
    env.reset(seed=0)
    outside = maze_env.vocabulary(6).encode(["(5,5)"])[0]
    _, _, _, _, info = env.step(int(outside))
    assert info["violations"]["invalid_token"] == 1
    plain = make_agent_env("TokenMaze-v0", {"size": 5}, None)
    assert plain.unwrapped.config.max_grid == 5
    kept = make_agent_env("TokenMaze-v0", {"size": 5, "max_grid": 8}, 6)
    assert kept.unwrapped.config.max_grid == 8
    with pytest.raises(agents.Unsupported, match="8x8 grid is beyond the agent's max_grid 6"):
        make_agent_env("TokenMaze-v0", {"size": 8}, 6)  # its vocabulary cannot name the cells


def test_cli_runs_twice_into_the_same_folder_and_records_provenance(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(TINY)
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--agents", "oracle", "--out", str(out), "--gifs", "0"]
    assert main([*args, "--no-progress"]) == 0
    first = json.loads((out / "results.json").read_text())
    assert main([*args, "--no-progress"]) == 0  # a finished run is replaced, not refused
    second = json.loads((out / "results.json").read_text())
    assert first["records"] == second["records"]
    prov = second["run"]["provenance"]
    assert prov["packages"]["numpy"] == np.__version__ and prov["cpus"] >= 1
    (out / "results.json").unlink()  # as if the run had been killed before it finished
    with pytest.raises(SystemExit, match="--overwrite"):
        main([*args, "--no-progress"])
    assert main([*args, "--no-progress", "--overwrite"]) == 0


def test_resume_redoes_a_cell_with_missing_or_altered_episodes(tiny, tmp_path):
    cells = plan_cells(tiny, AGENTS[:1])
    first = run_cells(cells, tmp_path)
    path = tmp_path / "cells" / f"{cells[0].key}.json"
    data = json.loads(path.read_text())
    data["episodes"] = data["episodes"][:-1]  # valid JSON, right key, one episode short
    path.write_text(json.dumps(data))
    other = tmp_path / "cells" / f"{cells[1].key}.json"
    data = json.loads(other.read_text())
    data["episodes"][0]["seed"] += 1  # an episode that is not the plan's
    other.write_text(json.dumps(data))
    again = run_cells(cells, tmp_path, resume=True)
    assert [len(c["episodes"]) for c in again] == [len(c["episodes"]) for c in first]
    assert again[0]["episodes"] == first[0]["episodes"]
    assert again[1]["episodes"] == first[1]["episodes"]


# --------------------------------------------------------------------------- n/a and the report


def tiny_checkpoint(directory: Path, max_grid: int, sizes: list[int]) -> Path:
    """An untrained 2-layer transformer whose vocabulary covers grids up to ``max_grid``,
    'trained' (its config says) on ``sizes`` in a ``max_grid`` canvas."""
    from agents.transformer.checkpoint import save_model
    from agents.transformer.data import DataConfig
    from agents.transformer.model import GPT, GPTConfig

    vocab = maze_env.vocabulary(max_grid)
    cfg = GPTConfig(vocab_size=len(vocab), d_model=16, n_layers=1, n_heads=2, d_mlp=32,
                    n_ctx=256)  # fmt: skip
    data = DataConfig(sizes=sizes, canvas=max_grid, offset="random", max_grid=max_grid).to_dict()
    save_model(directory, GPT(cfg, seed=0), {"model": cfg.to_dict(), "data": data})
    return directory


SIZES = """
description = "sizes"
episodes = 4
chunk = 4
[env]
generator = "rdfs"
[[conditions]]
name = "3x3"
env = { size = 3 }
[[conditions]]
name = "4x4"
env = { size = 4 }
[[conditions]]
name = "5x5"
env = { size = 5 }
"""


def test_a_transformer_plays_every_size_it_can_read_and_is_na_beyond(tmp_path):
    from benchmarks.report import to_markdown

    suite_file = tmp_path / "sizes.toml"
    suite_file.write_text(SIZES)
    suite = load_suite(suite_file)
    ckpt = tiny_checkpoint(tmp_path / "tiny", max_grid=4, sizes=[3])
    specs = [AgentSpec("transformer", "tiny", {"checkpoint": str(ckpt)}),
             AgentSpec("oracle", "oracle")]  # fmt: skip
    cells = run_cells(plan_cells(suite, specs), tmp_path / "out")
    results = assemble(suite, specs, cells, run={})
    validate(results)
    recs = {(r["agent"], r["condition"]): r for r in results["records"]}
    for size in ("3x3", "4x4"):  # within max_grid 4: played, judged, no error
        assert recs["tiny", size]["episodes"] == 4 and recs["tiny", size]["error"] is None
        assert recs["tiny", size]["unsupported"] is None
    beyond = recs["tiny", "5x5"]
    assert beyond["error"] is None and beyond["episodes"] == 0
    assert beyond["unsupported"]["short"] == "beyond max_grid 4"
    assert "5x5 grid" in beyond["unsupported"]["reason"]
    assert recs["oracle", "5x5"]["episodes"] == 4
    info = next(a["info"] for a in results["agents"] if a["label"] == "tiny")
    assert info["max_grid"] == 4 and info["training"]["sizes"] == [[3, 3]]
    report = to_markdown(results)
    assert "n/a — beyond max_grid 4[^1]" in report and "ERROR" not in report
    assert "[^1]: tiny on 5x5: the condition's 5x5 grid is beyond" in report
    again = run_cells(plan_cells(suite, specs), tmp_path / "out", resume=True)  # n/a is done
    assert [c["key"] for c in again] == [c["key"] for c in cells]


def test_real_errors_stay_loud_and_whole(tiny, tmp_path):
    from benchmarks.report import to_markdown

    specs = [AgentSpec("oracle", "oracle"), AgentSpec("oracle", "bad", {"no_such_kwarg": 1})]
    results, _ = run(tiny, tmp_path, agents=specs)
    report = to_markdown(results)
    assert "## ERRORS: 2 agent × condition records failed" in report
    assert "'no_such_kwarg'; it accepts: none`" in report  # the whole message, not cut


def test_report_opens_with_the_matrix_and_pairs_conditions(tiny, tmp_path):
    from benchmarks.metrics import bootstrap_difference
    from benchmarks.report import to_markdown

    results, cells = run(tiny, tmp_path, agents=AGENTS[1:2])
    report = to_markdown(results)
    first = report.index("## Exact path, agent × condition")
    assert first < report.index("## Against the reference condition `rdfs-3`")
    assert first < report.index("## Per condition")
    rec = next(r for r in results["records"] if r["condition"] == "perc-4")
    x = [e["metrics"]["exact_path"] for c in cells if c["condition"] == "perc-4"
         for e in c["episodes"]]  # fmt: skip
    y = [e["metrics"]["exact_path"] for c in cells if c["condition"] == "rdfs-3"
         for e in c["episodes"]]  # fmt: skip
    assert rec["vs_reference"]["paired"]  # both conditions share seed 0: episode i pairs
    assert (
        rec["vs_reference"]["value"],
        rec["vs_reference"]["lo"],
        rec["vs_reference"]["hi"],
    ) == bootstrap_difference(x, y, paired=True, seed=0)
    assert results == assemble(tiny, AGENTS[1:2], cells, run={})  # seeded: the same again


def test_paired_bootstrap_sees_what_unpaired_cannot():
    """Two conditions that share mazes: the per-maze spread cancels when paired."""
    from benchmarks.metrics import bootstrap_difference

    rng = np.random.default_rng(0)
    hard = rng.random(200) < 0.5  # which mazes are hard
    x = (~hard).astype(float)
    y = x.copy()
    y[rng.choice(np.flatnonzero(x), 12, replace=False)] = 0.0  # 12 more misses in y
    _, lo, hi = bootstrap_difference(x, y, paired=True, seed=0)
    _, ulo, uhi = bootstrap_difference(x, y, paired=False, seed=0)
    assert lo > 0 and ulo < 0 < uhi and (hi - lo) < (uhi - ulo)


def test_failure_gifs_are_captioned_large_and_show_a_walk(tiny, tmp_path):
    from PIL import Image

    from benchmarks.gifs import MIN_CELLS, failure_kind, pick_failures, write_failure_gifs

    specs = [AgentSpec("random-fork", "random-fork"), AgentSpec("wall-follower", "wall-follower")]
    results, cells = run(tiny, tmp_path, agents=specs)
    files = write_failure_gifs(cells, results, tmp_path / "gifs", per_agent=2)
    assert files and all(f.startswith("gifs/") for f in files)
    for f in files:
        with Image.open(tmp_path / f) as im:
            assert im.n_frames >= MIN_CELLS - 1 and min(im.size) >= 300
    picks = pick_failures(cells, 2)
    for chosen in picks.values():
        kinds = [failure_kind(e["metrics"]) for _, e in chosen]
        assert len(set(kinds)) == len(kinds)  # different kinds of failure first
        assert all(e["metrics"]["path_length"] + 1 >= MIN_CELLS for _, e in chosen)
    walker = [e for c in cells if c["agent"] == "wall-follower" for e in c["episodes"]
              if not e["metrics"]["success"]]  # fmt: skip
    assert any("return" in failure_kind(e["metrics"]) for e in walker)

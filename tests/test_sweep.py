"""Sweeps on Ray Tune (agents.transformer.sweep): grid parsing and a 2-trial sweep on a local
Ray whose trials are ordinary run directories and whose ranking table matches their logs."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from agents.transformer.checkpoint import load_model
from agents.transformer.data import DataConfig
from agents.transformer.sweep import load_sweep_file, main, parse_grid, ranking, sweep, trials
from agents.transformer.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "d_mlp": 32, "n_ctx": 128}
_CFG = TrainConfig(
    name="sw", model=TINY, data=DataConfig(size=3, max_grid=3, queries_per_maze=2).to_dict(),
    batch_mazes=2, steps=4, warmup_steps=1, eval_every=2, eval_size=8, checkpoint_every=2,
    log_every=1, threads=1,
)  # fmt: skip
BASE = asdict(_CFG)


def test_grid_values_parse_as_json_or_words():
    grid = parse_grid(["lr=1e-3,3e-4", "model.positional=rotary,none", "data.size=[3,4],5"])
    assert grid == {
        "lr": [1e-3, 3e-4],
        "model.positional": ["rotary", "none"],
        "data.size": [[3, 4], 5],
    }
    with pytest.raises(ValueError, match="KEY=V1,V2"):
        parse_grid(["lr"])


def test_trials_cover_the_grid_and_bad_keys_or_values_are_named():
    got = trials(BASE, {"lr": [1e-3, 3e-4], "model.d_model": [16, 32]})
    assert list(got) == [
        "lr=0.001,model.d_model=16", "lr=0.001,model.d_model=32",
        "lr=0.0003,model.d_model=16", "lr=0.0003,model.d_model=32",
    ]  # fmt: skip
    assert got["lr=0.0003,model.d_model=32"]["model"] == {**TINY, "d_model": 32}
    assert got["lr=0.0003,model.d_model=32"]["lr"] == 3e-4 and BASE["lr"] == 1e-3
    with pytest.raises(ValueError, match="'rate' is not a training config key"):
        trials(BASE, {"rate": [1]})
    with pytest.raises(ValueError, match="trial precision=fp8: precision must be"):
        trials(BASE, {"precision": ["fp8"]})
    with pytest.raises(ValueError, match="at least one --grid"):
        trials(BASE, {})


def test_sweep_file_gives_config_grid_and_out(tmp_path):
    (tmp_path / "s.toml").write_text(
        'config = "b.json"\nout = "o"\n[grid]\n"model.d_model" = [8]\n'
    )
    assert load_sweep_file(tmp_path / "s.toml") == (
        tmp_path / "b.json",
        {"model.d_model": [8]},
        tmp_path / "o",
    )
    (tmp_path / "bad.toml").write_text('config = "b.json"\nsteps = 3\n')
    with pytest.raises(ValueError, match=r"unknown sweep key\(s\) \['steps'\]"):
        load_sweep_file(tmp_path / "bad.toml")


@pytest.fixture
def local_ray(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # Ray's workers import this checkout's code
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for attempt in range(3):  # every core busy can stall Ray's start past its RPC deadline
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield
    ray.shutdown()


def _last_eval(run: Path) -> dict:  # read here, not with sweep.evaluations
    records = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in records if "eval" in r][-1]


def test_a_two_trial_sweep_ranks_loadable_runs_by_their_own_logs(tmp_path, local_ray):
    out = tmp_path / "sweep"
    rows = sweep(BASE, {"lr": [3e-3, 1e-4]}, out, cpus_per_trial=1)
    with open(out / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["rank"]) for r in table] == [1, 2]
    assert sorted(r["trial"] for r in table) == ["lr=0.0001", "lr=0.003"]
    for row in table:
        run = out / row["trial"]
        _, config = load_model(run)  # each trial is a checkpoint
        assert config["training"]["config"]["lr"] == float(row["lr"])
        logged = _last_eval(run)
        assert logged["step"] == int(row["step"]) == BASE["steps"]
        for key in ("exact", "reached"):
            assert math.isclose(float(row[key]), logged["eval"][key])
        assert math.isclose(float(row["loss"]), logged["loss"])
    exacts = [float(r["exact"]) for r in table]
    assert exacts == sorted(exacts, reverse=True)
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "sweep.md").read_text().count("\n") == 4
    with pytest.raises(SystemExit, match="--resume"):
        sweep(BASE, {"lr": [3e-3, 1e-4]}, out)
    again = sweep(BASE, {"lr": [3e-3, 1e-4]}, out, resume=True, cpus_per_trial=1)
    same = ("trial", "exact", "loss", "step", "paths_seen")
    assert [[r[k] for k in same] for r in again] == [[r[k] for k in same] for r in rows]


def test_ranking_puts_the_best_exact_rate_first_and_failed_trials_last():
    def result(trial, exact, error=None):
        return SimpleNamespace(config={"trial": trial}, metrics={"exact": exact}, error=error)

    configs = {n: {"lr": lr} for n, lr in (("a", 1), ("b", 2), ("c", 3), ("d", 4))}
    got = ranking(
        [result("a", 0.5), result("b", math.nan, "boom"), result("c", 0.9), result("d", 0.5)],
        configs, {"lr": None},
    )  # fmt: skip
    assert [(r["rank"], r["trial"], r["lr"]) for r in got] == [
        (1, "c", 3), (2, "a", 1), (3, "d", 4), (4, "b", 2)
    ]  # fmt: skip
    assert got[-1]["status"] == "error: boom" and got[0]["status"] == "ok"


def test_the_cli_names_a_bad_grid_before_starting_ray(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps(BASE))
    with pytest.raises(SystemExit, match="grid key 'rate'"):
        main(["--config", str(tmp_path / "b.json"), "--grid", "rate=1", "--out", str(tmp_path)])
    (tmp_path / "s.toml").write_text('config = "b.json"\n[grid]\n"model.width" = [8]\n')
    with pytest.raises(SystemExit, match=r"sweep trial model\.width=8: .*width"):
        main(["--sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()

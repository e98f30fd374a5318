"""The maze transformer: hooks, decoding, shared-prefix packing, training, checkpoints."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest
import torch

from agents.transformer.checkpoint import CheckpointError, load_model, save_model
from agents.transformer.data import (
    DataConfig,
    eval_set,
    sample_problems,
    training_batch,
    training_maze_hashes,
    training_problems,
)
from agents.transformer.decode import generate
from agents.transformer.evaluate import breakdown
from agents.transformer.model import GPT, GPTConfig, KVCache
from agents.transformer.train import (
    TrainConfig,
    Trainer,
    learning_rate,
    loss_on,
    query_logits,
)
from maze_env.judge import EpisodeMetrics

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_mlp": 64, "n_ctx": 128}
DATA = DataConfig(size=3, max_grid=3, queries_per_maze=3)


def tiny(positional: str = "rotary", seed: int = 0) -> GPT:
    return GPT(GPTConfig(vocab_size=len(DATA.vocab), positional=positional, **TINY), seed=seed)


@pytest.mark.parametrize(
    ("positional", "row_tokens"), [("rotary", 16), ("learned", 30), ("none", 64)]
)
def test_shared_prefix_logits_equal_plain_sequences(positional, row_tokens):
    model = tiny(positional)
    batch, _ = training_batch(DATA, 3, np.random.default_rng(1), row_tokens=row_tokens)
    packed = query_logits(model, batch)
    pad, start = DATA.vocab.pad_id, DATA.vocab.special["<ORIGIN_START>"]
    per_maze = [0, 0, 0]
    for i, row in enumerate(batch.queries):
        maze = int(batch.query_prefix[i])
        prefix = batch.prefix[maze][batch.prefix[maze] != pad]
        bounds = [*(row == start).nonzero()[:, 0].tolist(), int((row != pad).sum())]
        assert bounds[-1] <= max(row_tokens, max(np.diff(bounds)))
        per_maze[maze] += len(bounds) - 1
        for a, b in itertools.pairwise(bounds):
            plain = model(torch.cat([prefix, row[a:b]])[None])[0, len(prefix) :]
            assert (plain - packed[i, a:b]).abs().max() < 1e-4
    assert per_maze == [DATA.queries_per_maze] * 3
    assert (len(batch.queries) == 3) == (row_tokens == 64)  # one row per maze only at 64


def test_hooks_expose_activations_and_patching_changes_output():
    model = tiny()
    tokens = torch.from_numpy(eval_set(DATA, 2).prompts[0])[None]
    logits, cache = model.run_with_cache(tokens)
    p = tokens.shape[1]
    for layer in range(TINY["n_layers"]):
        assert cache[f"blocks.{layer}.hook_resid_pre"].shape == (1, p, TINY["d_model"])
        assert cache[f"blocks.{layer}.hook_resid_post"].shape == (1, p, TINY["d_model"])
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        assert pattern.shape == (1, TINY["n_heads"], p, p)
        assert torch.allclose(pattern.sum(-1), torch.ones(1, TINY["n_heads"], p), atol=1e-5)
        assert (pattern.triu(1) == 0).all()  # causal
    assert (logits - model(tokens)).abs().max() <= 1e-4  # explicit attention == SDPA path

    def zero_head(pattern, hook):
        pattern[:, 0] = 0.0
        return pattern

    patched = model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_pattern", zero_head)])
    assert (patched - logits).abs().max() > 1e-4
    same = model.run_with_hooks(tokens, fwd_hooks=[("blocks.1.hook_resid_pre", lambda x, hook: x)])
    assert torch.equal(same, model(tokens))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_kv_cache_decoding_equals_naive_decoding(temperature):
    model = tiny()
    prompts = eval_set(DATA, 6).prompts
    stop, pad = DATA.vocab.special["<PATH_END>"], DATA.vocab.pad_id
    fast = generate(model, prompts, stop, 12, pad, temperature, torch.Generator().manual_seed(3))
    slow = generate(
        model,
        prompts,
        stop,
        12,
        pad,
        temperature,
        torch.Generator().manual_seed(3),
        use_cache=False,
    )
    assert all(np.array_equal(a, b) for a, b in zip(fast, slow))


def test_preallocated_kv_cache_steps_like_a_growing_one_and_keeps_chosen_rows():
    model = tiny()
    tokens = torch.from_numpy(np.stack(eval_set(DATA, 3).prompts[:3]))
    _, grown = model(tokens[:, :-2], return_cache=True)
    cache = KVCache(grown, tokens.shape[1])
    for t in (tokens.shape[1] - 2, tokens.shape[1] - 1):  # two one-token steps
        step = tokens[:, t : t + 1]
        want, grown = model(step, past=grown, return_cache=True)
        got, same = model(step, past=cache, return_cache=True)
        assert same is cache and cache.length == t + 1 and torch.equal(got, want)
    assert torch.equal(cache.keys[0][:, :, : cache.length], grown[0][0])
    cache.keep_rows(torch.tensor([2, 0]))
    assert torch.equal(cache.values[-1][:, :, : cache.length], grown[-1][1][[2, 0]])
    with pytest.raises(ValueError, match=r"holds \d+ positions"):
        model(tokens[:2, -1:], past=cache)  # full


def test_batched_decoding_drops_finished_rows_and_equals_decoding_each_alone():
    """Rows that finish early leave the batch; every row still decodes as it would alone."""
    from agents.transformer.policy import resolve_checkpoint

    model, config = load_model(resolve_checkpoint(None))
    data = DataConfig(**config["data"])
    prompts = eval_set(data, 8).prompts
    stop, pad = data.vocab.special["<PATH_END>"], data.vocab.pad_id
    together = generate(model, prompts, stop, 40, pad)
    assert len({len(t) for t in together}) > 2  # the rows really finish at different steps
    for prompt, row in zip(prompts, together, strict=True):
        assert np.array_equal(generate(model, [prompt], stop, 40, pad)[0], row)


def test_tiny_model_overfits_a_handful_of_mazes():
    torch.manual_seed(0)
    model = tiny()
    rng = np.random.default_rng(0)
    batch, _ = training_batch(DATA, 4, rng)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = float(loss_on(model, batch).detach())
    for _ in range(250):
        loss = loss_on(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.1 * first
    model.eval()
    with torch.no_grad():
        predicted = query_logits(model, batch).argmax(-1)
    mask = batch.labels != -100
    assert (predicted[mask] == batch.labels[mask]).float().mean() == 1.0


def _config(tmp_path, steps: int) -> TrainConfig:
    return TrainConfig(
        name="t", model=TINY, data=DATA.to_dict(), batch_mazes=2, steps=steps, warmup_steps=2,
        eval_every=1000, eval_size=8, checkpoint_every=3, log_every=1,
    )  # fmt: skip


def test_resume_continues_the_same_run(tmp_path):
    straight = Trainer(_config(tmp_path, 6), tmp_path / "a")
    straight.run(progress=False)
    first = Trainer(_config(tmp_path, 3), tmp_path / "b")
    first.run(progress=False)
    resumed = Trainer(_config(tmp_path, 6), tmp_path / "b")
    resumed.resume()
    assert resumed.step == 3
    resumed.run(progress=False)
    losses = [
        [json.loads(x)["loss"] for x in (d / "log.jsonl").read_text().splitlines()]
        for d in (tmp_path / "a", tmp_path / "b")
    ]
    assert len(losses[0]) == len(losses[1]) == 6
    assert np.allclose(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    for name, tensor in straight.model.state_dict().items():
        assert torch.allclose(tensor, resumed.model.state_dict()[name], atol=1e-6), name


def test_kept_steps_continue_like_the_live_run(tmp_path):
    cfg = _config(tmp_path, 6)
    cfg.keep_steps = [4]
    straight = Trainer(cfg, tmp_path / "a")
    straight.run(progress=False)
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_dir()) == ["step_4"]
    resumed = Trainer(_config(tmp_path, 6), tmp_path / "a" / "step_4")
    resumed.resume()
    assert resumed.step == 4
    resumed.run(progress=False)
    for name, tensor in straight.model.state_dict().items():
        assert torch.allclose(tensor, resumed.model.state_dict()[name], atol=1e-6), name


def test_piecewise_learning_rate_follows_its_points():
    wsd = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, decay_frac=0.2, min_lr_frac=0.05)
    points = TrainConfig(
        lr=1e-3, lr_points=[[0, 1e-4], [9, 1e-3], [80, 1e-3], [100, 5e-5], [110, 5e-4]]
    )
    for step in range(100):  # the same warmup-stable-decay written as points
        assert learning_rate(points, step) == pytest.approx(learning_rate(wsd, step)), step
    assert learning_rate(points, 105) == pytest.approx((5e-5 + 5e-4) / 2)  # a re-warm
    assert learning_rate(points, 10**6) == pytest.approx(5e-4)
    for bad, word in (
        ([[0, 1e-3], [0, 1e-4]], "increase"),
        ([[0, -1.0]], "lr >= 0"),
        ([], "pairs"),
    ):
        with pytest.raises(ValueError, match=word):
            TrainConfig(lr_points=bad)


def test_training_device_is_checked_and_cpu_runs(tmp_path):
    cfg = _config(tmp_path, 2)
    cfg.device = "cpu"
    trainer = Trainer(cfg, tmp_path / "cpu")
    trainer.run(progress=False)
    assert trainer.step == 2 and trainer.model.W_E.device.type == "cpu"
    cfg.device = "gpu0"
    with pytest.raises(ValueError, match="'gpu0' is not a torch device"):
        Trainer(cfg, tmp_path / "bad")
    if not torch.cuda.is_available():
        cfg.device = "cuda"
        with pytest.raises(ValueError, match="no CUDA GPU"):
            Trainer(cfg, tmp_path / "bad")


def test_checkpoint_round_trip_gives_identical_logits(tmp_path):
    model = tiny(seed=5)
    save_model(
        tmp_path / "ck",
        model,
        {
            "model": {**TINY, "vocab_size": len(DATA.vocab), "positional": "rotary"},
            "data": DATA.to_dict(),
        },
    )
    loaded, _ = load_model(tmp_path / "ck")
    tokens = torch.from_numpy(eval_set(DATA, 1).prompts[0])[None]
    assert torch.equal(model(tokens), loaded(tokens))


def test_bad_checkpoints_name_the_file_and_problem(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing")
    cfg = {"model": {**TINY, "vocab_size": len(DATA.vocab)}, "data": DATA.to_dict()}
    save_model(tmp_path / "ck", tiny(), cfg)
    weights = tmp_path / "ck" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*(corrupted|truncated)"):
        load_model(tmp_path / "ck")
    save_model(tmp_path / "ck", tiny(), {**cfg, "model": {**cfg["model"], "d_mlp": 48}})
    save_model(tmp_path / "other", tiny(), cfg)
    (tmp_path / "ck" / "model.safetensors").write_bytes(
        (tmp_path / "other" / "model.safetensors").read_bytes()
    )
    with pytest.raises(CheckpointError, match="shape"):
        load_model(tmp_path / "ck")
    (tmp_path / "ck" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_model(tmp_path / "ck")


def test_training_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "x", "learning_rate": 1}))
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_json(path)


def test_held_out_mazes_never_appear_in_training():
    held = eval_set(DataConfig(size=2, max_grid=2, queries_per_maze=1), 50)
    data = DataConfig(size=2, max_grid=2, queries_per_maze=1)  # 2x2 trees: only 4 distinct mazes
    _, replaced = training_batch(
        data, 8, np.random.default_rng(0), exclude=set(list(held.hashes)[:3])
    )
    assert replaced > 0
    assert len(held.hashes) <= 4


def test_training_maze_hashes_replay_the_training_stream():
    data = DataConfig(size=3, max_grid=3, queries_per_maze=2)
    expected = set()
    for step in range(4):
        probs = sample_problems(data, 2, np.random.default_rng([7, step]), 2)
        expected |= {m.canonical_hash() for m in probs.mazes()}
    assert training_maze_hashes(data, 7, 4, 2) == expected


def test_training_maze_hashes_replay_the_redraws_of_excluded_mazes():
    data = DataConfig(size=2, max_grid=2, queries_per_maze=2)  # 2x2 trees: 4 distinct mazes
    excluded = set(sorted(eval_set(data, 50).hashes)[:2])
    trained = set()
    for step in range(6):
        probs, _ = training_problems(data, 3, np.random.default_rng([7, step]), excluded)
        trained |= {m.canonical_hash() for m in probs.mazes()}
    assert not trained & excluded
    assert training_maze_hashes(data, 7, 6, 3, exclude=excluded) == trained
    assert training_maze_hashes(data, 7, 6, 3) & excluded  # first draws alone would count them


def test_checkpoint_names_resolve_to_shipped_models(tmp_path):
    from agents.transformer.policy import SHIPPED, resolve_checkpoint, shipped_models

    assert "shipped_6x6" in shipped_models()
    assert resolve_checkpoint(None) == SHIPPED
    assert resolve_checkpoint("shipped_6x6") == SHIPPED
    assert resolve_checkpoint(tmp_path) == tmp_path  # a directory is taken as given
    with pytest.raises(FileNotFoundError, match=r"'no_such_model'.*shipped_6x6"):
        resolve_checkpoint("no_such_model")


def test_evaluation_breakdown_bins_lengths_and_sorts_misses():
    def episode(length, exact, forks=(0, 0), **violations):
        return EpisodeMetrics(
            success=exact, exact_path=exact, target_reached=exact, valid_path=exact,
            node_overlap=1.0, fork_correct=forks[0], fork_total=forks[1], length_ratio=None,
            path_length=length, optimal_length=length, violations=violations,
        )  # fmt: skip

    scores = [
        episode(1, True), episode(5, False, (1, 2), revisit=1), episode(6, True),
        episode(12, False, (3, 3), wall_crossing=2), episode(10, True),
    ]  # fmt: skip
    out = breakdown(scores)
    assert out["exact_by_optimal_length"] == {
        "1-5": {"n": 2, "exact": 0.5},
        "6-10": {"n": 2, "exact": 1.0},
        "11-15": {"n": 1, "exact": 0.0},
    }
    assert out["missed"]["n"] == 2
    assert out["missed"]["wrong_fork_choice"] == 1
    assert out["missed"]["violations"]["revisit"] == 1
    assert out["missed"]["violations"]["wall_crossing"] == 1
    assert out["missed"]["violations"]["backtrack"] == 0


def test_log_after_a_torn_line_or_an_early_kill_equals_the_uninterrupted_run(tmp_path):
    straight = Trainer(_config(tmp_path, 6), tmp_path / "a")
    straight.run(progress=False)
    expected = (tmp_path / "a" / "log.jsonl").read_text()
    first = Trainer(_config(tmp_path, 3), tmp_path / "b")
    first.run(progress=False)
    with open(tmp_path / "b" / "log.jsonl", "a") as f:
        f.write('{"step": 4, "loss": 0.1')  # a kill mid-write of the next line
    resumed = Trainer(_config(tmp_path, 6), tmp_path / "b")
    resumed.resume()
    resumed.run(progress=False)
    early = tmp_path / "c"
    early.mkdir()
    (early / "log.jsonl").write_text('{"step": 1, "loss": 9.0}\n{"step": 2, "loss": 9.0}\n')
    Trainer(_config(tmp_path, 6), early).run(progress=False)  # killed before step 3, rerun
    for out in ("b", "c"):
        got = [json.loads(x) for x in (tmp_path / out / "log.jsonl").read_text().splitlines()]
        want = [json.loads(x) for x in expected.splitlines()]
        assert [r["step"] for r in got] == [r["step"] for r in want]
        assert np.allclose([r["loss"] for r in got], [r["loss"] for r in want], atol=1e-6)


def test_written_files_honour_the_umask(tmp_path):
    from maze_env.files import write_text

    old = os.umask(0o022)
    try:
        mode = write_text(tmp_path / "x.txt", "hi").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert mode == 0o644


@pytest.mark.parametrize("verb", ["train", "evaluate", "export"])
def test_verb_help_answers_before_torch_loads(verb):
    import subprocess
    import sys

    code = (
        "import runpy, sys\n"
        f"sys.argv = ['agents.transformer', '{verb}', '--help']\n"
        "try:\n    runpy.run_module('agents.transformer', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print(code, 'torch' in sys.modules, 'transformer_lens' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 False False"
    assert verb == "export" or "(default:" in out.stdout  # defaults are shown


def test_a_data_change_on_resume_keeps_the_optimizer_and_is_recorded(tmp_path):
    first = Trainer(_config(tmp_path, 3), tmp_path / "run")
    first.run(progress=False)
    weighted = _config(tmp_path, 5)
    weighted.data = {**DATA.to_dict(), "generator": "wilson", "queries_per_maze": 2}
    with pytest.raises(CheckpointError, match="--data-change"):
        Trainer(weighted, tmp_path / "run").resume()
    resumed = Trainer(weighted, tmp_path / "run")
    resumed.resume(data_change=True)
    carried, before = (t.optimizer.state_dict()["state"] for t in (resumed, first))
    assert carried.keys() == before.keys() and len(before) > 0  # the optimizer state carried over
    assert all(torch.equal(carried[i]["exp_avg"], before[i]["exp_avg"]) for i in before)
    resumed.run(progress=False)
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["summary"]["data_changes"] == [{"step": 3, "previous": DATA.to_dict()}]
    new_data = DataConfig(**weighted.data)  # held out from (and checked against) the new data
    assert resumed.held_out.hashes == eval_set(new_data, 8).hashes != eval_set(DATA, 8).hashes
    again = Trainer(weighted, tmp_path / "run")
    again.resume()  # the run's data is now the new data: no flag needed to go on
    assert again.data_changes == state["summary"]["data_changes"]
    other_grid = _config(tmp_path, 6)
    other_grid.data = {**weighted.data, "max_grid": 4, "canvas": 4}
    with pytest.raises(CheckpointError, match=r"data\.max_grid"):
        Trainer(other_grid, tmp_path / "run").resume(data_change=True)

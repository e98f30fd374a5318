"""Goal retargeting and target shift.

Retargeting: prompt A asks for target t, prompt B is identical but asks for another target t'
(only the target token differs).  The residual stream at the target token is patched from B
into A (``blocks.{l}.hook_resid_pre`` for one layer, or every layer at once) and A is rolled
out greedily with the patch in place; we count rollouts that reach t' (a valid path ending
there with ``<PATH_END>``) and those that still reach t.

Target shift: roll out any checkpoint on prompts whose targets lie in a region and report how
often it reaches them, and where its rollouts end instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

import maze_env
from agents.transformer.checkpoint import load_model
from agents.transformer.data import DataConfig, eval_set
from agents.transformer.decode import generate
from agents.transformer.interp.prompts import Solved, as_batch
from agents.transformer.model import GPT
from maze_env.endpoints import QUADRANTS
from maze_env.judge import score, walk
from maze_env.tokens import PATH_END


def generate_with(
    model: GPT, prompts: list[np.ndarray], vocab: maze_env.Vocabulary, shape, fwd_hooks=()
) -> list[np.ndarray]:
    """Greedy continuations (token ids) with ``fwd_hooks`` active."""
    max_new = shape[0] * shape[1] + 1
    with model.hooks(fwd_hooks=list(fwd_hooks)):
        return generate(model, prompts, vocab.special[PATH_END], max_new, vocab.pad_id)


def rollouts(
    model: GPT, prompts, vocab: maze_env.Vocabulary, shape, fwd_hooks=()
) -> list[list[str]]:
    """Greedy rollouts (with ``fwd_hooks`` active): per prompt, the tokens emitted."""
    return [vocab.decode(out) for out in generate_with(model, prompts, vocab, shape, fwd_hooks)]


@torch.no_grad()
def target_hooks(
    model: GPT, prompts_a: list[np.ndarray], prompts_b: list[np.ndarray], positions, layers
) -> list:
    """Forward hooks that, during a batched ``generate`` on ``prompts_a`` (left-padded), put
    the residual of ``prompts_b`` at ``positions[i]`` before each layer in ``layers``."""
    names = [f"blocks.{i}.hook_resid_pre" for i in range(model.cfg.n_layers)]
    donors = []
    for b, pos in zip(prompts_b, positions):
        _, cache = model.run_with_cache(as_batch(b), names_filter=lambda x: x in names)
        donors.append(torch.stack([cache[x][0, pos] for x in names]))
    donor = torch.stack(donors)  # [prompts, layers, d]
    width = max(len(p) for p in prompts_a)
    rows = torch.arange(len(prompts_a))
    cols = torch.as_tensor([width - len(p) + pos for p, pos in zip(prompts_a, positions)])

    def hook_for(layer: int):
        def hook(act, hook):
            if act.shape[1] != width:  # KV-cache steps after the prompt see one token
                return act
            act = act.clone()
            act[rows, cols] = donor[:, layer]
            return act

        return hook

    return [(names[i], hook_for(i)) for i in layers]


def _reached(ex: Solved, target, tokens: list[str]) -> bool:
    """A valid path from the origin to ``target`` closed by ``<PATH_END>`` (the env's success)."""
    return score(ex.maze, ex.origin, target, tokens).success


def new_targets(examples: list[Solved], seed: int = 0) -> list[tuple[int, int]]:
    """Per example, a random other target off the original solution (origin excluded)."""
    rng = np.random.default_rng(seed)
    out = []
    for ex in examples:
        rows, cols = ex.maze.shape
        cells = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in ex.path]
        out.append(cells[int(rng.integers(len(cells)))] if cells else ex.origin)
    return out


@dataclass
class RetargetResult:
    """Rates over examples; ``layers`` names each row ('L0'.., 'all')."""

    layers: list[str]
    to_new: np.ndarray  # patched rollouts reaching the new target
    to_old: np.ndarray  # patched rollouts still reaching the original target
    baseline_old: float  # unpatched prompt A reaching t
    control_new: float  # prompt B (the new target in the tokens) reaching t'


@torch.no_grad()
def retarget(
    model: GPT, examples: list[Solved], vocab: maze_env.Vocabulary, seed: int = 0
) -> RetargetResult:
    """Patch the target token's residual from prompt B into A at each layer (and all at once)."""
    n = model.cfg.n_layers
    targets = new_targets(examples, seed)
    keep = [i for i, t in enumerate(targets) if t != examples[i].origin]
    examples, targets = [examples[i] for i in keep], [targets[i] for i in keep]
    shape = examples[0].maze.shape
    prompts_a = [ex.prompt for ex in examples]
    prompts_b = []
    for ex, t in zip(examples, targets):
        b = ex.prompt.copy()
        b[ex.target_position] = vocab.coord_ids[t]
        prompts_b.append(b)
    positions = [ex.target_position for ex in examples]

    def rates(prompts, fwd_hooks=()):
        res = rollouts(model, prompts, vocab, shape, fwd_hooks)
        new = np.mean([_reached(ex, t, r) for ex, t, r in zip(examples, targets, res)])
        old = np.mean([_reached(ex, ex.target, r) for ex, r in zip(examples, res)])
        return float(new), float(old)

    labels, to_new, to_old = [], [], []
    settings = [(f"L{i}", [i]) for i in range(n)] + [("all", list(range(n)))]
    for label, layers in settings:
        hooks = target_hooks(model, prompts_a, prompts_b, positions, layers)
        new, old = rates(prompts_a, hooks)
        labels.append(label)
        to_new.append(new)
        to_old.append(old)
    return RetargetResult(
        labels, np.array(to_new), np.array(to_old), rates(prompts_a)[1], rates(prompts_b)[0]
    )


@dataclass
class ShiftResult:
    """Target-shift rollouts: success rates and where rollouts end."""

    reached: float
    exact: float
    ends: np.ndarray  # [rows, cols] count of rollouts whose last valid cell is there (misses only)
    n: int


def target_shift(
    checkpoint: str | Path | GPT,
    region: str = "quadrant:NE",
    n: int = 200,
    seed: int = 0,
    data: DataConfig | None = None,
) -> ShiftResult:
    """Roll out ``checkpoint`` (a model directory or a loaded model, then pass ``data``) on
    held-out prompts whose targets lie in ``region`` (see ``maze_env.region_mask``)."""
    if isinstance(checkpoint, GPT):
        if data is None:
            raise ValueError("target_shift needs data= when given a model instead of a checkpoint")
        model = checkpoint
    else:
        model, config = load_model(Path(checkpoint))
        data = data or DataConfig(**config["data"])
    data = replace(data, endpoints={**data.endpoints, "target_region": region})
    held = eval_set(data, n, seed)
    probs = held.problems
    shape = probs.conns.shape[2:]
    res = rollouts(model, held.prompts, data.vocab, shape)
    ends = np.zeros(shape, int)
    reached = exact = 0
    for i, tokens in enumerate(res):
        maze, origin = maze_env.Maze(probs.conns[i]), tuple(int(x) for x in probs.origins[i])
        verdict = score(maze, origin, tuple(probs.targets[i]), tokens)
        reached += verdict.success
        exact += verdict.exact_path
        if not verdict.success:
            path = walk(maze, origin, tokens).path
            k = 1
            while k < len(path) and maze.is_valid_path(path[: k + 1]):
                k += 1
            ends[path[k - 1]] += 1
    return ShiftResult(reached / n, exact / n, ends, n)


def excluded_region(data: DataConfig) -> str | None:
    """The target region a model never trained on: ``X`` for a ``"!X"`` target_region."""
    region = data.endpoints.get("target_region")
    return region[1:] if isinstance(region, str) and region.startswith("!") else None


def quadrant_shift(model: GPT, data: DataConfig, n: int, seed: int = 0) -> dict[str, ShiftResult]:
    """``target_shift`` with targets in each quadrant in turn."""
    return {q: target_shift(model, f"quadrant:{q}", n, seed, data=data) for q in QUADRANTS}

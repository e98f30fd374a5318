"""Logit lens and direct logit attribution (DLA) for the next path token.

Positions: every path token (origin first), whose next token is the next path cell or, at the
target, ``<PATH_END>`` (teacher forcing on the BFS solution).

DLA splits the final residual into the embedding, each head's output (``z_h @ W_O[h]``), each
attention bias, each MLP output; each part goes through the final LayerNorm with the scale of
the real residual frozen, onto the direction "correct token minus the mean coordinate token".
The parts sum exactly to that logit difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.transformer.interp.prompts import Solved, as_batch, residuals
from agents.transformer.model import GPT


@torch.no_grad()
def unembed(model: GPT, resid: torch.Tensor) -> torch.Tensor:
    """Residual [..., d_model] → logits [..., vocab] through the final LayerNorm."""
    return model.ln_final(resid) @ model.W_U + model.b_U


def decision_positions(ex: Solved) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the path tokens, the token that follows each)."""
    pos = ex.path_positions
    return pos, ex.tokens[pos + 1]


@torch.no_grad()
def layer_logits(model: GPT, ex: Solved, positions: np.ndarray) -> torch.Tensor:
    """Logit lens [n_layers + 1, len(positions), vocab] (embeddings, then after each layer)."""
    return unembed(model, residuals(model, ex.tokens)[:, positions])


@dataclass
class LensResult:
    """Per residual point: top-1 accuracy on the next path token and its mean probability."""

    accuracy: np.ndarray  # [n_layers + 1]
    probability: np.ndarray  # [n_layers + 1]


def logit_lens(model: GPT, examples: list[Solved]) -> LensResult:
    hits, probs, n = 0.0, 0.0, 0
    for ex in examples:
        pos, nxt = decision_positions(ex)
        logits = layer_logits(model, ex, pos)
        idx = torch.as_tensor(nxt)
        hits = hits + (logits.argmax(-1) == idx).sum(-1).numpy()
        probs = probs + logits.softmax(-1)[:, torch.arange(len(pos)), idx].sum(-1).numpy()
        n += len(pos)
    return LensResult(np.asarray(hits) / n, np.asarray(probs) / n)


@dataclass
class Attribution:
    """Mean contribution of each part to logit(correct) - mean coordinate logit."""

    embed: float
    heads: np.ndarray  # [layers, heads]
    mlps: np.ndarray  # [layers]
    biases: float  # attention output biases, final LayerNorm bias and b_U
    total: float  # the real mean logit difference (= the sum of all parts)


def _parts(model: GPT, ex: Solved, pos: np.ndarray):
    """Residual parts at ``pos``: dict name -> [len(pos), d_model], plus the final residual."""
    n = model.cfg.n_layers
    final = f"blocks.{n - 1}.hook_resid_post"
    names = {"hook_embed", final}
    names |= {f"blocks.{i}.attn.hook_z" for i in range(n)} | {
        f"blocks.{i}.hook_mlp_out" for i in range(n)
    }
    _, cache = model.run_with_cache(as_batch(ex.tokens), names_filter=lambda x: x in names)
    parts = {"embed": cache["hook_embed"][0, pos]}
    biases = torch.zeros_like(parts["embed"])
    for i, block in enumerate(model.blocks):
        z = cache[f"blocks.{i}.attn.hook_z"][0, pos]  # [m, h, dh]
        for h in range(model.cfg.n_heads):
            parts[f"{i}.{h}"] = z[:, h] @ block.attn.W_O[h]
        parts[f"mlp{i}"] = cache[f"blocks.{i}.hook_mlp_out"][0, pos]
        biases = biases + block.attn.b_O
    parts["biases"] = biases
    return parts, cache[final][0, pos]


@torch.no_grad()
def direct_logit_attribution(
    model: GPT, examples: list[Solved], coord_ids: np.ndarray
) -> Attribution:
    """DLA of every head and MLP for the next path token; ``coord_ids``: the grid's cell ids."""
    sums: dict[str, float] = {}
    total, count = 0.0, 0
    coords = torch.as_tensor(np.asarray(coord_ids).ravel())
    ln = model.ln_final
    for ex in examples:
        pos, nxt = decision_positions(ex)
        parts, final = _parts(model, ex, pos)
        direction = model.W_U[:, nxt] - model.W_U[:, coords].mean(1, keepdim=True)  # [d, m]
        scale = (final.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
        for name, part in parts.items():
            normed = (part - part.mean(-1, keepdim=True)) / scale * ln.w
            sums[name] = sums.get(name, 0.0) + float((normed * direction.T).sum())
        const = ln.b @ direction + model.b_U[nxt] - model.b_U[coords].mean()
        sums["biases"] += float(const.sum())
        logits = unembed(model, final)
        total += float((logits[torch.arange(len(pos)), nxt] - logits[:, coords].mean(-1)).sum())
        count += len(pos)
    n, h = model.cfg.n_layers, model.cfg.n_heads
    return Attribution(
        embed=sums["embed"] / count,
        heads=np.array([[sums[f"{i}.{j}"] for j in range(h)] for i in range(n)]) / count,
        mlps=np.array([sums[f"mlp{i}"] for i in range(n)]) / count,
        biases=sums["biases"] / count,
        total=total / count,
    )

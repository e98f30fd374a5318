"""Batched autoregressive decoding: KV-cache (fast) and full recompute (reference)."""

from __future__ import annotations

import numpy as np
import torch

from agents.transformer.length_scaling import RotaryScaling
from agents.transformer.model import GPT, KVCache


def left_pad(
    prompts: list[np.ndarray], pad: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left-pad prompts → tokens [b, p], positions [b, p] (0 on pads), real-token mask [b, p]."""
    width = max(len(p) for p in prompts)
    tokens = np.full((len(prompts), width), pad, np.int64)
    real = np.zeros((len(prompts), width), np.bool_)
    for i, p in enumerate(prompts):
        tokens[i, width - len(p) :] = p
        real[i, width - len(p) :] = True
    real_t = torch.from_numpy(real)
    positions = (real_t.cumsum(1) - 1).clamp(min=0)
    return torch.from_numpy(tokens), positions, real_t


def _mask(real: torch.Tensor, n_new: int) -> torch.Tensor:
    """Attention mask for the last ``n_new`` queries over all keys in ``real`` [b, k]."""
    k = real.shape[1]
    causal = torch.ones(n_new, k, dtype=torch.bool).tril(k - n_new)
    mask = causal[None] & real[:, None, :]
    mask[:, torch.arange(n_new), torch.arange(k - n_new, k)] = True  # pads attend to themselves
    return mask[:, None]


def _choose(
    logits: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def generate(
    model: GPT,
    prompts: list[np.ndarray],
    stop_token: int,
    max_new: int,
    pad: int,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
    scaling: RotaryScaling | None = None,
) -> list[np.ndarray]:
    """Continue each prompt until ``stop_token`` (included) or ``max_new`` tokens.

    Greedy when ``temperature`` is 0; no token is ever masked out, so what comes back is what
    the model really emits.  ``use_cache=False`` recomputes the whole sequence each step.
    ``scaling``: each row's rotary frequencies from its prompt's length (prompts no longer
    than training's sequences decode exactly as without it).
    """
    model.eval()
    dev = model.W_E.device  # the model runs there; the bookkeeping below stays on the CPU
    tokens, positions, real = left_pad(prompts, pad)
    stride = model.cfg.position_stride(tokens.shape[1] + max_new)
    positions = positions * stride
    b = tokens.shape[0]
    out = torch.full((b, max_new), pad, dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool)
    live = torch.arange(b)  # rows still decoding: finished rows leave the batch
    freqs = None  # per-row rotary frequencies, on the model's device once
    if scaling is not None:
        freqs = scaling.frequencies(model.cfg, [len(p) for p in prompts]).to(dev)
    logits, cache = model(
        tokens.to(dev), positions.to(dev), _mask(real, tokens.shape[1]).to(dev), return_cache=True,
        rotary_frequencies=freqs,
    )  # fmt: skip
    cache = KVCache(cache, tokens.shape[1] + max_new)  # no copy of the past per step
    last = logits[:, -1].cpu()  # [b, vocab]: every row's latest logits (stale once finished)
    for step in range(max_new):
        nxt = _choose(last, temperature, generator)  # all b rows: the sampler's draws stay put
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        out[:, step] = nxt
        done |= nxt == stop_token
        if bool(done.all()) or step == max_new - 1:
            break
        keep = ~done[live]
        if 4 * int((~keep).sum()) >= len(live):  # drop finished rows once they are a quarter
            live, idx = live[keep], keep.nonzero()[:, 0]
            positions, real, tokens = positions[idx], real[idx], tokens[idx]
            on_dev = idx.to(dev)
            cache.keep_rows(on_dev)
            freqs = None if freqs is None else freqs[on_dev]
        positions = torch.cat([positions, positions[:, -1:] + stride], 1)
        real = torch.cat([real, torch.ones(len(live), 1, dtype=torch.bool)], 1)
        tokens = torch.cat([tokens, nxt[live, None]], 1)
        if use_cache:
            logits, cache = model(
                tokens[:, -1:].to(dev),
                positions[:, -1:].to(dev),
                _mask(real, 1).to(dev),
                past=cache,
                return_cache=True,
                rotary_frequencies=freqs,
            )
        else:
            mask = _mask(real, tokens.shape[1]).to(dev)
            logits = model(tokens.to(dev), positions.to(dev), mask, rotary_frequencies=freqs)
        last[live] = logits[:, -1].cpu()
    result = []
    for row in out.numpy():
        stop = np.flatnonzero(row == stop_token)
        result.append(row[: stop[0] + 1] if len(stop) else row[row != pad])
    return result

"""A small GPT-style decoder with TransformerLens hook points.

Built on TransformerLens's ``HookedRootModule`` + ``HookPoint``, so ``run_with_cache`` and
``run_with_hooks`` work with TransformerLens names (``blocks.{l}.hook_resid_pre``,
``blocks.{l}.attn.hook_pattern``, ...); ``agents.transformer.tl_compat`` adds the rest of the
surface TransformerLens's analysis code reads.  Attention runs through
``scaled_dot_product_attention`` unless a hook on the attention scores or pattern is active, and
LayerNorm through ``F.layer_norm`` unless a hook on its scale is active; then the explicit
computation runs (same result up to float error).

Shapes: batch ``b``, position ``p`` (query ``q`` / key ``k``), ``d_model``, heads ``h``, ``d_head``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from agents.transformer.tl_compat import TLSurface
from maze_env.maze import is_int

POSITIONAL = ("learned", "rotary", "none", "randomized")
RUNTIME = ("device", "use_attn_result")  # GPTConfig fields that are switches, not shape
LN_EPS = 1e-5


@dataclass(frozen=True)
class GPTConfig:
    """Model shape. ``positional``: learned absolute, rotary, none (causal mask only), or
    randomized: rotary over position ids that training draws as a sorted random subset of
    ``[0, max_position)`` (Ruoss et al. 2023), so relative distances up to ``max_position`` are
    seen on short sequences; decoding spaces positions evenly (``position_stride``).

    ``device`` and ``use_attn_result`` are TransformerLens's runtime switches, not shape: the
    model keeps ``device`` current and ``GPT.set_use_attn_result`` flips the other; ``to_dict``
    (what checkpoints save) leaves both out.  TransformerLens's other config names
    (``d_vocab``, ``normalization_type``, ``positional_embedding_type``, ...) are read-only
    properties below, so TransformerLens's analysis code reads this config as its own."""

    vocab_size: int
    d_model: int = 128
    n_layers: int = 6
    n_heads: int = 4
    d_mlp: int = 512
    n_ctx: int = 512
    positional: str = "rotary"
    rotary_base: float = 10000.0
    max_position: int = 2048
    device: str = field(default="cpu", compare=False)
    use_attn_result: bool = field(default=False, compare=False)

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "d_mlp", "n_ctx",
                     "max_position"):  # fmt: skip
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.positional not in POSITIONAL:
            raise ValueError(f"positional must be one of {POSITIONAL}, got {self.positional!r}")
        base = self.rotary_base
        if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 1:
            raise ValueError(f"rotary_base must be a number > 1, got {base!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    # ---- TransformerLens's names for this architecture (read-only) ----
    d_vocab = d_vocab_out = property(lambda self: self.vocab_size)
    normalization_type = "LN"  # pre-LN blocks, LayerNorm with weight and bias
    eps = LN_EPS
    act_fn = "gelu"  # exact erf GELU
    attn_only = gated_mlp = final_rms = parallel_attn_mlp = False
    use_split_qkv_input = use_attn_in = use_hook_mlp_in = use_hook_tokens = False
    default_prepend_bos = False  # TokenMaze sequences have no BOS token
    n_key_value_heads = None
    dtype = torch.float32
    model_name = "tokenmaze-gpt"

    @property
    def positional_embedding_type(self) -> str:
        """``standard`` (learned), ``rotary`` (rotary or randomized) or ``none``."""
        return {"learned": "standard", "none": "none"}.get(self.positional, "rotary")

    @property
    def rotary_dim(self) -> int | None:
        return self.d_head if self.positional_embedding_type == "rotary" else None

    def to_dict(self) -> dict:
        """The shape fields (what a checkpoint's ``config.json`` holds)."""
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME}

    def position_stride(self, length: int) -> int:
        """Gap between the position ids of consecutive tokens when decoding a sequence of at most
        ``length`` tokens: 1, or for randomized positions the even spacing of ``length`` ids
        over ``[0, max_position)`` (the mean of training's random subsets)."""
        if self.positional != "randomized":
            return 1
        return max(1, self.max_position // max(1, length))


def rotary_frequencies(d_head: int, base: float) -> torch.Tensor:
    """The rotary angular frequencies (radians per position), fastest first: (d_head/2,)."""
    return 1.0 / (base ** (torch.arange(0, d_head, 2, dtype=torch.float32) / d_head))


def rotary_tables(
    positions: torch.Tensor, d_head: int, base: float, frequencies: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for ``positions`` (b, p) → (b, 1, p, d_head); ``frequencies`` (b,
    d_head/2), if given, replace ``base``'s with each row's own (length scaling)."""
    inv = rotary_frequencies(d_head, base) if frequencies is None else frequencies[:, None, :]
    angles = positions.to(torch.float32)[..., None] * inv  # [b, p, d_head/2]
    angles = torch.cat([angles, angles], dim=-1)[:, None]
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class KVCache:
    """Preallocated keys and values for decoding: one ``[b, h, capacity, d_head]`` buffer pair
    per layer holding ``length`` positions.  Passed as ``past``, a call writes its new keys and
    values after them and attends over views of the buffers, so a decode step never copies the
    past (a list of ``(k, v)`` grows by ``torch.cat``, one copy of the whole cache per step)."""

    def __init__(self, present: list[tuple[torch.Tensor, torch.Tensor]], capacity: int):
        n = present[0][0].shape[2]
        if capacity < n:
            raise ValueError(f"capacity {capacity} is below the {n} positions to hold")
        self.keys = [_filled(k, capacity) for k, _ in present]
        self.values = [_filled(v, capacity) for _, v in present]
        self.length = n

    def slot(self, layer: int) -> CacheSlot:
        return CacheSlot(self, layer)

    def advance(self, p: int) -> None:
        self.length += p

    def keep_rows(self, rows: torch.Tensor) -> None:
        """Keep only batch rows ``rows`` (the filled positions are copied, not the spare)."""
        n = self.length
        for bufs in (self.keys, self.values):
            for i, buf in enumerate(bufs):
                kept = buf.new_empty(len(rows), *buf.shape[1:])
                kept[:, :, :n] = buf[rows, :, :n]
                bufs[i] = kept


def _filled(t: torch.Tensor, capacity: int) -> torch.Tensor:
    """``t`` [b, h, n, dh] at the start of a new [b, h, capacity, dh] buffer."""
    buf = t.new_empty(t.shape[0], t.shape[1], capacity, t.shape[3])
    buf[:, :, : t.shape[2]] = t
    return buf


@dataclass(frozen=True)
class CacheSlot:
    """One layer's view of a ``KVCache`` (what ``Attention`` gets as ``past``)."""

    cache: KVCache
    layer: int

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k``/``v`` [b, h, p, dh] after the held positions → views of all of them."""
        start, end = self.cache.length, self.cache.length + k.shape[2]
        keys, values = self.cache.keys[self.layer], self.cache.values[self.layer]
        if end > keys.shape[2]:
            raise ValueError(f"the KV cache holds {keys.shape[2]} positions; {end} needed")
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        return keys[:, :, :end], values[:, :, :end]


class LayerNorm(nn.Module):
    """LayerNorm with TransformerLens's hooks: ``hook_scale`` (the standard deviation the
    centred input is divided by) and ``hook_normalized`` (the output, after ``w`` and ``b``)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d_model))
        self.b = nn.Parameter(torch.zeros(d_model))
        self.hook_scale = HookPoint()  # [b, p, 1]
        self.hook_normalized = HookPoint()  # [b, p, d_model]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.hook_scale.fwd_hooks:
            return self.hook_normalized(F.layer_norm(x, x.shape[-1:], self.w, self.b, LN_EPS))
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + LN_EPS).sqrt())
        return self.hook_normalized(x / scale * self.w + self.b)


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        h, dh, d = cfg.n_heads, cfg.d_head, cfg.d_model
        self.W_Q = nn.Parameter(torch.empty(h, d, dh))
        self.W_K = nn.Parameter(torch.empty(h, d, dh))
        self.W_V = nn.Parameter(torch.empty(h, d, dh))
        self.W_O = nn.Parameter(torch.empty(h, dh, d))
        self.b_Q = nn.Parameter(torch.zeros(h, dh))
        self.b_K = nn.Parameter(torch.zeros(h, dh))
        self.b_V = nn.Parameter(torch.zeros(h, dh))
        self.b_O = nn.Parameter(torch.zeros(d))
        self.hook_q = HookPoint()  # [b, p, h, d_head]
        self.hook_k = HookPoint()  # [b, p, h, d_head]
        self.hook_v = HookPoint()  # [b, p, h, d_head]
        self.hook_attn_scores = HookPoint()  # [b, h, q, k]
        self.hook_pattern = HookPoint()  # [b, h, q, k]
        self.hook_z = HookPoint()  # [b, p, h, d_head]
        if cfg.positional_embedding_type == "rotary":
            self.hook_rot_q = HookPoint()  # [b, p, h, d_head]
            self.hook_rot_k = HookPoint()  # [b, p, h, d_head]
        self.hook_result = HookPoint()  # [b, p, h, d_model]; runs when cfg.use_attn_result

    def forward(self, x, mask, rotary, past=None):
        """x [b, p, d]; mask bool [b, 1, q, k] (True = may attend; None = causal); past (k, v)."""
        b, p, d = x.shape
        h, dh = self.cfg.n_heads, self.cfg.d_head
        w_qkv = torch.cat([self.W_Q, self.W_K, self.W_V], 0).permute(1, 0, 2).reshape(d, 3 * h * dh)
        b_qkv = torch.cat([self.b_Q, self.b_K, self.b_V], 0).reshape(3 * h * dh)
        q, k, v = (x @ w_qkv + b_qkv).view(b, p, 3, h, dh).unbind(2)
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [b, h, p, dh]
        if rotary is not None:
            cos, sin = rotary
            q = self.hook_rot_q(apply_rotary(q, cos, sin).transpose(1, 2)).transpose(1, 2)
            k = self.hook_rot_k(apply_rotary(k, cos, sin).transpose(1, 2)).transpose(1, 2)
        if isinstance(past, CacheSlot):
            k, v = past.extend(k, v)
        elif past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        if self.hook_attn_scores.fwd_hooks or self.hook_pattern.fwd_hooks:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.cfg.d_head)
            if mask is None:  # plain causal attention
                mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=x.device).tril()
            scores = self.hook_attn_scores(scores.masked_fill(~mask, float("-inf")))
            pattern = self.hook_pattern(torch.nan_to_num(scores.softmax(-1)))
            z = pattern @ v
        else:
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)
        z = self.hook_z(z.transpose(1, 2))  # [b, p, h, dh]
        if self.cfg.use_attn_result:
            result = self.hook_result(torch.einsum("bphe,hed->bphd", z, self.W_O))
            return result.sum(2) + self.b_O, present
        out = z.reshape(b, p, h * dh) @ self.W_O.reshape(h * dh, d) + self.b_O
        return out, present


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(cfg.d_model, cfg.d_mlp))
        self.b_in = nn.Parameter(torch.zeros(cfg.d_mlp))
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))
        self.b_out = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_pre = HookPoint()  # [b, p, d_mlp]
        self.hook_post = HookPoint()  # [b, p, d_mlp]

    def forward(self, x):
        pre = self.hook_pre(x @ self.W_in + self.b_in)
        return self.hook_post(F.gelu(pre)) @ self.W_out + self.b_out


class Block(nn.Module):
    hook_out_is_single_residual_stream = True  # what TransformerLens's logit lens asks

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(cfg.d_model), LayerNorm(cfg.d_model)
        self.attn, self.mlp = Attention(cfg), MLP(cfg)
        self.hook_resid_pre = HookPoint()  # [b, p, d_model]
        self.hook_attn_out = HookPoint()  # [b, p, d_model]
        self.hook_resid_mid = HookPoint()  # [b, p, d_model]
        self.hook_mlp_out = HookPoint()  # [b, p, d_model]
        self.hook_resid_post = HookPoint()  # [b, p, d_model]

    def forward(self, x, mask, rotary, past=None):
        x = self.hook_resid_pre(x)
        attn_out, present = self.attn(self.ln1(x), mask, rotary, past)
        x = self.hook_resid_mid(x + self.hook_attn_out(attn_out))
        x = self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))
        return x, present


class GPT(TLSurface, HookedRootModule):
    """Decoder-only transformer over TokenMaze token ids.

    ``forward(tokens, positions=None, attn_mask=None, past=None, return_cache=False)``:
    tokens [b, p] int; positions [b, p] (default: past length + arange); attn_mask bool
    [b, q, k] or [b, 1, q, k] (default: causal; True = may attend); past: list of per-layer
    (k, v) from a previous call with ``return_cache=True``, or a ``KVCache`` (preallocated;
    written in place and returned as the cache) for KV-cache decoding.
    Returns logits [b, p, vocab] (and the new cache when ``return_cache``).  ``tokens`` may
    also be a prompt string (or a list of them), read by ``to_tokens``.
    """

    def __init__(self, cfg: GPTConfig, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.W_E = nn.Parameter(torch.empty(cfg.vocab_size, cfg.d_model))
        self.W_pos = (
            nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
            if cfg.positional == "learned"
            else None
        )
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = LayerNorm(cfg.d_model)
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.vocab_size))
        self.b_U = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.hook_embed = HookPoint()  # [b, p, d_model]
        self.hook_pos_embed = HookPoint()  # [b, p, d_model]
        self._init_weights(seed)
        self.setup()

    def _init_weights(self, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        std = 0.02
        for name, p in self.named_parameters():
            if name.split(".")[-1].startswith("W_"):
                scale = (
                    std / math.sqrt(2 * self.cfg.n_layers)
                    if name.endswith(("W_O", "W_out"))
                    else std
                )
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=gen) * scale)

    def forward(
        self, tokens, positions=None, attn_mask=None, past=None, return_cache=False,
        rotary_frequencies=None,
    ):  # fmt: skip
        """Logits [b, p, vocab] (and the KV cache with ``return_cache``).
        ``rotary_frequencies`` (b, d_head/2) replace ``cfg.rotary_base``'s per row (see
        ``agents.transformer.length_scaling``); keep them fixed while decoding over a cache."""
        if isinstance(tokens, (str, list)):
            tokens = self.to_tokens(tokens)
        b, p = tokens.shape
        offset = (
            0 if past is None else past.length if isinstance(past, KVCache) else past[0][0].shape[2]
        )
        if positions is None:
            positions = torch.arange(offset, offset + p, device=tokens.device).expand(b, p)
        if int(positions.max()) >= self.cfg.n_ctx and self.cfg.positional == "learned":
            raise ValueError(f"position {int(positions.max())} exceeds n_ctx={self.cfg.n_ctx}")
        if attn_mask is None and offset > 0:  # causal over the cache and the new tokens
            attn_mask = torch.ones(p, offset + p, dtype=torch.bool, device=tokens.device).tril(
                offset
            )
            attn_mask = attn_mask.expand(b, 1, p, offset + p)
        elif attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask[:, None]
        x = self.hook_embed(self.W_E[tokens])
        rotary = None
        if self.cfg.positional == "learned":
            x = x + self.hook_pos_embed(self.W_pos[positions])
        elif self.cfg.positional in ("rotary", "randomized"):
            rotary = rotary_tables(
                positions, self.cfg.d_head, self.cfg.rotary_base, rotary_frequencies
            )
        cache = []
        for i, block in enumerate(self.blocks):
            slot = past.slot(i) if isinstance(past, KVCache) else None if past is None else past[i]
            x, present = block(x, attn_mask, rotary, slot)
            cache.append(present)
        if isinstance(past, KVCache):
            past.advance(p)
            cache = past
        logits = self.ln_final(x) @ self.W_U + self.b_U
        return (logits, cache) if return_cache else logits

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _set_cfg(self, **changes) -> None:
        """Replace the (frozen) config here and in every attention layer."""
        self.cfg = replace(self.cfg, **changes)
        for block in self.blocks:
            block.attn.cfg = self.cfg

    def _apply(self, fn, recurse=True):  # .to() / .cuda() / .cpu(): keep cfg.device current
        out = super()._apply(fn, recurse)
        if str(self.W_E.device) != self.cfg.device:
            self._set_cfg(device=str(self.W_E.device))
        return out

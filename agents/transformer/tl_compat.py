"""The part of TransformerLens's model surface that its analysis code reads, for our GPT.

``GPT`` inherits ``TLSurface``: ``run_with_cache`` returns a real
``transformer_lens.ActivationCache``; ``to_tokens`` / ``to_str_tokens`` / ``to_single_token``
/ ``to_string`` read and write the maze vocabulary (a prompt string is space-separated tokens,
as ``" ".join(maze_env.tokenize(...))`` gives); ``W_Q`` ... ``b_out`` stack the layers' weights
like ``HookedTransformer``; ``embed`` / ``pos_embed`` / ``unembed`` are views of ``W_E`` /
``W_pos`` / ``W_U`` + ``b_U`` (the parameters stay where checkpoints keep them);
``tokens_to_residual_directions``, ``accumulated_bias``, ``tl_parameters`` (TransformerLens's
parameter names, for ``SVDInterpreter``), ``set_use_attn_result`` and ``generate``.

What cannot apply says why: the sequences have no BOS token, and attention input is never
split per head (``use_split_qkv_input`` / ``use_attn_in`` / ``use_hook_mlp_in``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformer_lens import ActivationCache, FactoredMatrix

from maze_env import Vocabulary, vocabulary
from maze_env.tokens import PATH_END

NO_BOS = "TokenMaze sequences have no BOS token: call with prepend_bos=False (the default)"


def vocabulary_of_size(size: int) -> Vocabulary:
    """The maze vocabulary with ``size`` tokens (sizes grow with max_grid: specials + m² + m)."""
    specials = len(vocabulary(1)) - 2
    m = round((-1 + float(np.sqrt(max(1, 1 + 4 * (size - specials))))) / 2)
    if m < 1 or len(vocabulary(m)) != size:
        raise ValueError(
            f"vocab_size={size} is not the size of a TokenMaze vocabulary "
            f"({specials} specials + max_grid² + max_grid, e.g. {len(vocabulary(6))} for 6x6): "
            "this model cannot map tokens to strings"
        )
    return vocabulary(m)


class _Embed:
    """``model.embed``: token ids → their embeddings (``W_E`` lives on the model)."""

    def __init__(self, model):
        self.W_E = model.W_E

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.W_E[tokens]


class _PosEmbed:
    """``model.pos_embed`` of a learned-position model: positions → ``W_pos`` rows."""

    def __init__(self, model):
        self.W_pos = model.W_pos

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        b, p = tokens.shape[:2]
        return self.W_pos[:p].expand(b, p, -1)


class _Unembed:
    """``model.unembed``: residual [..., d_model] → logits ``resid @ W_U + b_U``."""

    def __init__(self, model):
        self.W_U, self.b_U = model.W_U, model.b_U

    def __call__(self, resid: torch.Tensor) -> torch.Tensor:
        return resid @ self.W_U + self.b_U


class TLSurface:
    """Mixin for ``GPT`` (uses its ``cfg``, ``W_E``, ``W_U``, ``b_U``, ``blocks``)."""

    # ----------------------------------------------------------------- tokens
    @property
    def vocab(self) -> Vocabulary:
        """The maze vocabulary whose ids this model reads (found from ``cfg.vocab_size``)."""
        return vocabulary_of_size(self.cfg.vocab_size)

    def to_tokens(
        self,
        input: str | Sequence[str] | Sequence[Sequence[str]],
        prepend_bos: bool | None = None,
        padding_side: str | None = None,
        move_to_device: bool = True,
    ) -> torch.Tensor:
        """Prompt(s) → ids [batch, pos]. A string is one prompt of space-separated tokens; a
        list holds prompts (strings or token lists). Shorter prompts are padded on the right
        with ``<PADDING>`` (causal attention: the real tokens' logits are unchanged)."""
        if prepend_bos:
            raise ValueError(NO_BOS)
        if padding_side not in (None, "right"):
            raise ValueError(
                f"padding_side must be 'right' (left padding would shift the real tokens' "
                f"positions), got {padding_side!r}"
            )
        prompts = [input] if isinstance(input, str) else list(input)
        if not prompts:
            raise ValueError("to_tokens needs at least one prompt")
        rows = [self.vocab.encode(p.split() if isinstance(p, str) else list(p)) for p in prompts]
        ids = np.full((len(rows), max(len(r) for r in rows)), self.vocab.pad_id, np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        tokens = torch.from_numpy(ids)
        return tokens.to(self.cfg.device) if move_to_device else tokens

    def to_str_tokens(self, input, prepend_bos: bool | None = None) -> list:
        """Ids (int, [pos] or [batch, pos]) or a prompt string → token strings (pads kept)."""
        if prepend_bos:
            raise ValueError(NO_BOS)
        if isinstance(input, str):
            input = self.to_tokens(input, move_to_device=False)[0]
        ids = np.asarray(input.cpu() if torch.is_tensor(input) else input)
        if ids.ndim == 2 and ids.shape[0] == 1:
            ids = ids[0]
        tokens = self.vocab.tokens
        if ids.ndim == 0:
            return [tokens[int(ids)]]
        if ids.ndim == 1:
            return [tokens[int(i)] for i in ids]
        return [[tokens[int(i)] for i in row] for row in ids]

    def to_single_token(self, string: str) -> int:
        """One token string → its id (``TokenError`` naming it if unknown)."""
        ids = self.vocab.encode(string.split())
        if len(ids) != 1:
            raise ValueError(f"{string!r} is {len(ids)} tokens, not one")
        return int(ids[0])

    def to_string(self, tokens) -> str | list[str]:
        """Ids [pos] → one space-separated string; [batch, pos] → a list of them."""
        strs = self.to_str_tokens(tokens)
        if strs and isinstance(strs[0], list):
            return [" ".join(row) for row in strs]
        return " ".join(strs)

    def tokens_to_residual_directions(self, tokens) -> torch.Tensor:
        """Token(s) → their unembedding directions ``W_U[:, token]``: [..., d_model]."""
        if isinstance(tokens, str):
            tokens = self.to_single_token(tokens)
        ids = torch.as_tensor(tokens, device=self.W_U.device)
        return self.W_U[:, ids].movedim(0, -1)

    # ---------------------------------------------------------------- weights
    @property
    def embed(self) -> _Embed:
        return _Embed(self)

    @property
    def pos_embed(self) -> _PosEmbed | None:
        """The learned position embedding, or None (rotary / randomized / none: no W_pos)."""
        return None if self.W_pos is None else _PosEmbed(self)

    @property
    def unembed(self) -> _Unembed:
        return _Unembed(self)

    def _stack(self, part: str, name: str) -> torch.Tensor:
        return torch.stack([getattr(getattr(b, part), name) for b in self.blocks])

    W_Q = property(lambda self: self._stack("attn", "W_Q"))  # [layer, head, d_model, d_head]
    W_K = property(lambda self: self._stack("attn", "W_K"))  # [layer, head, d_model, d_head]
    W_V = property(lambda self: self._stack("attn", "W_V"))  # [layer, head, d_model, d_head]
    W_O = property(lambda self: self._stack("attn", "W_O"))  # [layer, head, d_head, d_model]
    b_Q = property(lambda self: self._stack("attn", "b_Q"))  # [layer, head, d_head]
    b_K = property(lambda self: self._stack("attn", "b_K"))  # [layer, head, d_head]
    b_V = property(lambda self: self._stack("attn", "b_V"))  # [layer, head, d_head]
    b_O = property(lambda self: self._stack("attn", "b_O"))  # [layer, d_model]
    W_in = property(lambda self: self._stack("mlp", "W_in"))  # [layer, d_model, d_mlp]
    W_out = property(lambda self: self._stack("mlp", "W_out"))  # [layer, d_mlp, d_model]
    b_in = property(lambda self: self._stack("mlp", "b_in"))  # [layer, d_mlp]
    b_out = property(lambda self: self._stack("mlp", "b_out"))  # [layer, d_model]

    @property
    def QK(self) -> FactoredMatrix:
        """Per-head ``W_Q @ W_K^T`` [layer, head, d_model, d_model] (before rotary)."""
        return FactoredMatrix(self.W_Q, self.W_K.transpose(-2, -1))

    @property
    def OV(self) -> FactoredMatrix:
        """Per-head ``W_V @ W_O`` [layer, head, d_model, d_model]."""
        return FactoredMatrix(self.W_V, self.W_O)

    def tl_parameters(self) -> dict[str, torch.Tensor]:
        """Parameters under TransformerLens's names (``embed.W_E``, ``unembed.W_U``,
        ``blocks.{l}.attn.W_Q``, ...); the blocks already use them."""
        rename = {"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos"}
        rename |= {"W_U": "unembed.W_U", "b_U": "unembed.b_U"}
        return {rename.get(k, k): v for k, v in self.named_parameters()}

    def accumulated_bias(
        self, layer: int, mlp_input: bool = False, include_mlp_biases: bool = True
    ) -> torch.Tensor:
        """Sum of the output biases written to the residual before ``layer`` (its attention's
        too when ``mlp_input``): [d_model]."""
        if not 0 <= layer <= self.cfg.n_layers or (mlp_input and layer == self.cfg.n_layers):
            raise ValueError(f"layer must be in [0, {self.cfg.n_layers}], got {layer}")
        total = torch.zeros(self.cfg.d_model, device=self.W_E.device)
        for block in self.blocks[:layer]:
            total = total + block.attn.b_O + (block.mlp.b_out if include_mlp_biases else 0)
        return total + self.blocks[layer].attn.b_O if mlp_input else total

    # ------------------------------------------------------------ run / hooks
    def run_with_cache(self, *args, return_cache_object: bool = True, **kwargs):
        """``HookedRootModule.run_with_cache``, returning (output, ``ActivationCache``)."""
        out, cache = super().run_with_cache(*args, **kwargs)
        if not return_cache_object:
            return out, cache
        batched = not kwargs.get("remove_batch_dim", False)
        return out, ActivationCache(cache, self, has_batch_dim=batched)

    def set_use_attn_result(self, use_attn_result: bool) -> None:
        """Compute each head's output to the residual (``attn.hook_result`` [b, p, h, d_model]);
        off by default, since the fused output projection is faster."""
        self._set_cfg(use_attn_result=bool(use_attn_result))

    def _refuse_split(self, flag: bool, name: str) -> None:
        if flag:
            raise NotImplementedError(
                f"{name}: this model reads every head's query, key and value from one shared "
                "LayerNorm output, so it has no per-head attention-input hooks to split into"
            )

    def set_use_split_qkv_input(self, use_split_qkv_input: bool) -> None:
        self._refuse_split(use_split_qkv_input, "use_split_qkv_input")

    def set_use_attn_in(self, use_attn_in: bool) -> None:
        self._refuse_split(use_attn_in, "use_attn_in")

    def set_use_hook_mlp_in(self, use_hook_mlp_in: bool) -> None:
        self._refuse_split(use_hook_mlp_in, "use_hook_mlp_in")

    @torch.no_grad()
    def generate(
        self,
        input,
        max_new_tokens: int = 10,
        stop_at_eos: bool = True,
        do_sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
    ):
        """Continue prompt(s) with KV-cache decoding until ``<PATH_END>`` (when
        ``stop_at_eos``) or ``max_new_tokens``.  Greedy unless ``do_sample`` (softmax at
        ``temperature``, drawn from a generator seeded by ``seed``).  Returns what came in:
        a string for a string, a list of strings for a list, ids [batch, pos] (right-padded
        with ``<PADDING>``) for ids."""
        from agents.transformer.decode import generate  # decode imports the model module

        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if do_sample and temperature <= 0:
            raise ValueError(f"sampling needs temperature > 0, got {temperature}")
        tokens = input if torch.is_tensor(input) else self.to_tokens(input, move_to_device=False)
        if tokens.ndim == 1:
            tokens = tokens[None]
        pad = self.vocab.pad_id
        prompts = [row[row != pad] for row in tokens.cpu().numpy()]
        stop = self.vocab.index[PATH_END] if stop_at_eos else -1
        new = generate(
            self, prompts, stop, max_new_tokens, pad,
            temperature=temperature if do_sample else 0.0,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        rows = [np.concatenate([p, n]) for p, n in zip(prompts, new)]
        if isinstance(input, str):
            return self.to_string(rows[0])
        if not torch.is_tensor(input):
            return [self.to_string(r) for r in rows]
        out = np.full((len(rows), max(len(r) for r in rows)), pad, np.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return torch.from_numpy(out).to(tokens.device)

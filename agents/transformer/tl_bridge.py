"""Convert our GPT to a TransformerLens 4 ``TransformerBridge`` (TL's native architecture).

    bridge = agents.transformer.to_transformer_lens(agents.make("transformer").model)

The conversion is exact (the same function, logits equal up to float error): the weights go
into TransformerLens's own property-format names (``blocks.{l}.attn.W_Q``, ``unembed.b_U``, ...)
and through ``transformer_lens.utilities.convert_tl_checkpoint`` into a
``TransformerBridge.boot_native`` model, loaded strictly.  Two layouts differ and are mapped:

- **rotary**: our rotary embedding rotates dimension ``i`` with ``i + d_head/2`` (halves, as in
  GPT-NeoX); TL-native rotates adjacent pairs ``(2i, 2i+1)`` at the same frequency.  The query
  and key dimensions are reordered ``[0, d/2, 1, d/2+1, ...]`` (``rotary_order``), which leaves
  every attention score unchanged; the bridge's ``hook_q`` / ``hook_k`` hold our values in
  that order (``hook_v``, ``hook_pattern``, ``hook_z``, the residual stream and the rest are
  equal to ours).  Loading our keys without the reorder loads strictly but computes another
  function.
- **no positions** (``positional="none"``): TL-native has no such option; it gets a learned
  position table of zeros, which adds nothing.

``randomized`` positions become rotary ones over ``max(n_ctx, max_position)`` positions; the
bridge, like our model called without ``positions``, numbers tokens 0, 1, 2, ... (our decoding
spaces them by ``cfg.position_stride``).
"""

from __future__ import annotations

import torch

from agents.transformer.model import GPT


def rotary_order(d_head: int) -> torch.Tensor:
    """Our query/key dimension order in TL-native's rotary layout: [0, d/2, 1, d/2+1, ...]."""
    half = d_head // 2
    return torch.stack([torch.arange(half), torch.arange(half, d_head)], 1).flatten()


def bridge_config(model: GPT):
    """The ``TransformerBridgeConfig`` of a TL-native model with our model's shape."""
    from transformer_lens.config import TransformerBridgeConfig

    cfg = model.cfg
    rotary = cfg.positional_embedding_type == "rotary"
    return TransformerBridgeConfig(
        d_model=cfg.d_model, d_head=cfg.d_head, n_layers=cfg.n_layers, n_heads=cfg.n_heads,
        n_ctx=max(cfg.n_ctx, cfg.max_position) if cfg.positional == "randomized" else cfg.n_ctx,
        d_vocab=cfg.vocab_size, d_mlp=cfg.d_mlp, act_fn=cfg.act_fn, eps=cfg.eps,
        normalization_type=cfg.normalization_type,
        positional_embedding_type="rotary" if rotary else "standard",
        rotary_dim=cfg.d_head if rotary else None, rotary_base=cfg.rotary_base,
        model_name=cfg.model_name, default_prepend_bos=False, seed=0, device=cfg.device,
    )  # fmt: skip


def tl_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under TransformerLens's property-format names, q/k in TL's rotary order."""
    cfg = model.cfg
    out = {"embed.W_E": model.W_E}
    if cfg.positional == "learned":
        out["pos_embed.W_pos"] = model.W_pos
    elif cfg.positional == "none":
        out["pos_embed.W_pos"] = torch.zeros(cfg.n_ctx, cfg.d_model, device=model.W_E.device)
    order = rotary_order(cfg.d_head) if cfg.positional_embedding_type == "rotary" else None
    for name, tensor in model.named_parameters():
        if not name.startswith("blocks."):
            continue
        if order is not None and name.endswith(("attn.W_Q", "attn.W_K", "attn.b_Q", "attn.b_K")):
            tensor = tensor[..., order]
        out[name] = tensor
    out |= {"ln_final.w": model.ln_final.w, "ln_final.b": model.ln_final.b}
    out |= {"unembed.W_U": model.W_U, "unembed.b_U": model.b_U}
    return {k: v.detach().clone() for k, v in out.items()}


def to_transformer_lens(model: GPT):
    """A ``TransformerBridge`` (eval mode, on the model's device) computing our model's function.

    Its ``run_with_cache``, ``ActivationCache`` methods, ``transformer_lens.patching`` and
    ``tools.analysis`` work as on any TL 4 model."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    if not isinstance(model, GPT):
        raise TypeError(f"to_transformer_lens converts an agents.transformer GPT, got {model!r}")
    cfg = bridge_config(model)
    bridge = TransformerBridge.boot_native(cfg, device=model.cfg.device)
    bridge.load_state_dict(convert_tl_checkpoint(tl_state_dict(model), cfg), strict=True)
    return bridge.eval()

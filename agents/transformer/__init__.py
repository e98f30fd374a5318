"""The maze transformer: model (with TransformerLens hooks), training, checkpoints and policy.

Heavy imports (torch, TransformerLens) happen when a submodule is imported, not here;
``agents.transformer.to_transformer_lens`` (a TransformerLens 4 ``TransformerBridge`` from our
model, ``tl_bridge``) is imported on first use.
"""


def __getattr__(name: str):
    if name == "to_transformer_lens":
        from agents.transformer.tl_bridge import to_transformer_lens

        return to_transformer_lens
    raise AttributeError(f"module 'agents.transformer' has no attribute {name!r}")

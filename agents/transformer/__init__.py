"""The maze transformer: model (with TransformerLens hooks), training, checkpoints and policy.

Heavy imports (torch, TransformerLens) happen when a submodule is imported, not here.
"""

"""Interpretability toolkit for the maze transformer (the seed post's mechanistic experiments).

One module per experiment: ``attention`` (adjacency heads), ``probes`` (linear probes),
``lens`` (logit lens, direct logit attribution), ``patching`` (activation patching),
``retarget`` (goal retargeting, target shift), ``geometry`` (embedding geometry, OV/QK SVD),
``bottlenecks`` (bottleneck attention, dead-end logit lens); ``report`` runs them all
(``python -m agents.transformer.interp --checkpoint DIR --out DIR``).
"""

"""Hypothesis profiles: ``ci`` (the default) is derandomized and keeps no example database, so
every run of ``python -m pytest`` draws the same examples and a green suite stays green;
``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (500 where a test sets no count) to
hunt for bugs."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "explore", derandomize=False, max_examples=500, print_blob=True, deadline=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

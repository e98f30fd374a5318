"""Hypothesis profiles: ``ci`` (the default) is derandomized and keeps no example database, so
every run of ``python -m pytest`` draws the same examples and a green suite stays green;
``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (500 where a test sets no count) to
hunt for bugs."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "explore", derandomize=False, max_examples=500, print_blob=True, deadline=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def seeded_global_rngs():
    """maze-dataset's generators draw from the global ``random`` and ``numpy.random`` streams:
    seed both for the test (so it draws the same mazes in every run) and restore them after."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(20261202)
    np.random.seed(20261202)
    yield
    random.setstate(py_state)
    np.random.set_state(np_state)

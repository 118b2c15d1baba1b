"""Fixtures of the evaluator tests."""
from __future__ import annotations

import pytest

from ..helpers import Blocked


@pytest.fixture
def hung():
    """A factory of :class:`helpers.Blocked` handlers, all released at
    teardown (for tests that need several)."""
    made = []

    def make(status=None):
        handler = Blocked(status)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.release.set()

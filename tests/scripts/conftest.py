"""Fixtures of the console script tests."""
from __future__ import annotations

from typing import Any

import pytest

from lovely.ws.status.scripts import pprobe, pstatus

from .bootstrap import Bootstrap


@pytest.fixture
def swap(monkeypatch):
    """``swap(registry_factory)`` puts a recording :class:`Bootstrap` (and its
    ``setup_logging``) into both scripts and returns it."""

    def install(factory: Any) -> Bootstrap:
        boot = Bootstrap(factory)
        for cls in (pstatus.PStatusCommand, pprobe.PProbeCommand):
            monkeypatch.setattr(cls, "bootstrap", staticmethod(boot))
            monkeypatch.setattr(cls, "setup_logging", staticmethod(boot.setup_logging))
        return boot

    return install


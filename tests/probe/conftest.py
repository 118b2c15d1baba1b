"""Fixtures of the probe tests."""
from __future__ import annotations

import signal
import threading

import pytest

from lovely.ws.status.probe.drain import Drainer


@pytest.fixture
def sigterm():
    """Put back SIGTERM's handler after the test, so that no drainer (nor
    its state) outlives the test that installed it."""
    original = signal.getsignal(signal.SIGTERM)
    yield
    current = signal.getsignal(signal.SIGTERM)
    timer = getattr(current, "_timer", None)
    if isinstance(current, Drainer) and timer is not None:
        # A test that failed in the middle of a drain: its timer would send
        # SIGTERM to this process once the original handler is back.
        timer.cancel()
    signal.signal(signal.SIGTERM, original)


class Recorder:
    """A signal handler that notes its calls."""

    def __init__(self):
        self.calls = []
        self.called = threading.Event()

    def __call__(self, signum, frame):
        self.calls.append(signum)
        self.called.set()


@pytest.fixture
def recorder(sigterm):
    """A :class:`Recorder` installed as SIGTERM's handler."""
    handler = Recorder()
    signal.signal(signal.SIGTERM, handler)
    return handler

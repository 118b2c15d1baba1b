"""Log a lasting failure once, not on every poll.

A load balancer polls every few seconds; while a backend is down, a warning
per poll would bury everything else in the log. A :class:`Throttle` says
when to log: when the failure starts, then at most once per interval (with
how many were left out meanwhile), and once when it is over.
"""
from __future__ import annotations

import os
import threading
import time
from typing import List, Optional

__all__: List[str] = []

#: Seconds between two log records about the same lasting failure.
INTERVAL = 60.0


class Throttle:
    """The log-or-not decision for one kind of failure of one thing."""

    __slots__ = ("interval", "_lock", "_pid", "_last", "_missed")

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._last: Optional[float] = None  # when it was last logged; None: no failure
        self._missed = 0

    def _own_lock(self) -> threading.Lock:
        if self._pid != os.getpid():
            # A forked child: a thread of the parent may have held the lock.
            self._lock = threading.Lock()
            self._pid = os.getpid()
        return self._lock

    @property
    def failing(self) -> bool:
        """Whether a failure was seen and has not been :meth:`cleared <clear>`."""
        return self._last is not None

    def fail(self) -> Optional[int]:
        """Note one failure; the number of failures left unlogged before it
        when this one should be logged, else ``None``."""
        now = time.monotonic()
        with self._own_lock():
            last = self._last
            if last is None or now - last >= self.interval:
                self._last = now
                missed, self._missed = self._missed, 0
                return missed
            self._missed += 1
            return None

    def clear(self) -> bool:
        """Note a success; ``True`` once after failures (log the recovery)."""
        if self._last is None:  # the common case, without the lock
            return False
        with self._own_lock():
            was = self._last is not None
            self._last = None
            self._missed = 0
            return was

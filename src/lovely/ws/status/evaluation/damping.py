"""Flap damping (``failure_threshold``): :class:`Streak`.

A handler registered with ``failure_threshold=N`` is reported ``YELLOW`` or
``RED`` only after ``N`` results in a row that were not ``OK``; until then
its previous state is reported, with a detail that says how many so far.
One ``OK`` result is reported at once and starts the count again (as a
Kubernetes probe with ``successThreshold: 1``).
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Mapping

from ..states import OK
from ..text import to_text

__all__: List[str] = []

Status = Mapping[str, Any]


class Streak:
    """The results in a row that were not ``OK``, of one handler."""

    __slots__ = ("threshold", "count", "state", "lock")

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.count = 0
        #: The state last reported; before any result, ``OK``.
        self.state = OK
        self.lock = threading.Lock()

    def count_result(self, status: Status) -> Status:
        """What to report for a new result ``status`` (a valid status)."""
        with self.lock:
            if status["state"] == OK:
                self.count = 0
            else:
                self.count += 1
            reported = self._damped(status, self.count)
            self.state = reported["state"]
            return reported

    def damped(self, status: Status) -> Status:
        """What to report for ``status`` without counting it (a result
        that another request's run counts)."""
        with self.lock:
            return self._damped(status, max(self.count, 1))

    def _damped(self, status: Status, count: int) -> Status:
        state = status["state"]
        if state == OK or count >= self.threshold:
            return status
        damped: Dict[str, Any] = dict(status)
        damped["state"] = self.state
        detail = status.get("detail")
        damped["detail"] = (f"not yet {state}: {count} of {self.threshold} results "
                            f"in a row" + (f": {to_text(detail)}" if detail else ""))
        return damped

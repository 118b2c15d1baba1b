"""Events notified after every ``/__heartbeat__``.

They are Pyramid's answer to the ``heartbeat_passed`` and
``heartbeat_failed`` signals of the Django helpers: subscribe with
``config.add_subscriber(callback, HeartbeatFailed)``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from zope.interface import Attribute, Interface, implementer

__all__ = [
    "IHeartbeatEvent",
    "IHeartbeatPassed",
    "IHeartbeatFailed",
    "HeartbeatEvent",
    "HeartbeatPassed",
    "HeartbeatFailed",
    "LEVEL_OK",
    "LEVEL_WARNING",
    "LEVEL_ERROR",
]

#: Levels as the Dockerflow helpers use them (those of :mod:`logging`).
LEVEL_OK = 0
LEVEL_WARNING = 30
LEVEL_ERROR = 40


class IHeartbeatEvent(Interface):
    """A ``/__heartbeat__`` has been answered (or is about to be)."""

    request = Attribute("The request of the heartbeat.")
    level = Attribute(
        "The worst level of all checks: 0 (ok), 30 (warning), 40 (error), or "
        "for check functions also 10 (debug), 20 (info), 50 (critical) and others."
    )
    checks = Attribute("Name -> 'ok', 'warning', 'error' (...) for each check.")
    details = Attribute(
        "Name -> {'status', 'level', 'detail'} (or 'messages' instead of "
        "'detail' for a check function) for each check above level 0."
    )
    status_code = Attribute("The HTTP status code of the heartbeat response.")


class IHeartbeatPassed(IHeartbeatEvent):
    """No check is an error or worse (warnings pass)."""


class IHeartbeatFailed(IHeartbeatEvent):
    """At least one check is an error or worse."""


class HeartbeatEvent:
    """Base class of :class:`HeartbeatPassed` and :class:`HeartbeatFailed`."""

    def __init__(
        self,
        request: Any,
        level: int,
        checks: Dict[str, str],
        details: Optional[Mapping[str, Any]] = None,
        status_code: int = 200,
    ) -> None:
        self.request = request
        self.level = level
        self.checks = checks
        self.details = {} if details is None else details
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"<{type(self).__name__} level={self.level} checks={len(self.checks)}>"


@implementer(IHeartbeatPassed)
class HeartbeatPassed(HeartbeatEvent):
    """Every check is ok, or at most a warning (:attr:`level` below 40)."""


@implementer(IHeartbeatFailed)
class HeartbeatFailed(HeartbeatEvent):
    """At least one check is an error or worse (:attr:`level` 40 or more)."""

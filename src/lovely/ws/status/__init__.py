"""Service status handlers for Pyramid applications.

The names here are lovely-ws-status 1.0's API: the states, the
process-wide registry :data:`STATUS_HANDLERS` and the functions around it,
and :class:`StateHandlerMixin`. ``config.include('lovely.ws.status')`` adds
the ``add_status_handler`` directive (each view module includes it).
"""
from __future__ import annotations

# 1.0 imported time here, and test suites fake waitForStatus's clock
# through lovely.ws.status.time.time (the same module object).
import time  # noqa: F401
from typing import Any

from .handlers import (
    STATUS_HANDLERS,
    StatusHandler,
    addStatusHandler,
    getStatus,
    isInState,
    removeStatusHandler,
    waitForStatus,
)
from .statehandler import StateHandlerMixin
from .states import GREEN, NUMERIC_VALUES, OK, RED, YELLOW

__all__ = [
    "OK",
    "GREEN",
    "YELLOW",
    "RED",
    "NUMERIC_VALUES",
    "STATUS_HANDLERS",
    "StatusHandler",
    "StateHandlerMixin",
    "addStatusHandler",
    "removeStatusHandler",
    "getStatus",
    "isInState",
    "waitForStatus",
    "includeme",
]


def includeme(config: Any) -> None:
    """Add the ``add_status_handler`` directive and the ``svcstatus.*`` settings."""
    config.include("lovely.ws.status.config")

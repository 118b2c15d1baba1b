"""Service status handlers for Pyramid applications.

The module-level registry (:data:`STATUS_HANDLERS` and the functions around
it) is the API of lovely-ws-status 1.0 and is kept as it was: applications
register callables here and every status view reads them at request time.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional

from .statehandler import StateHandlerMixin

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

OK = "OK"
#: Same value as :data:`OK`; reads better next to :data:`YELLOW` and :data:`RED`.
GREEN = OK
YELLOW = "YELLOW"
RED = "RED"

#: The value of each state in the Prometheus output.
NUMERIC_VALUES: Dict[str, int] = {OK: 0, YELLOW: 1, RED: 2}

#: A status handler: called without arguments, returns a dict with ``'state'``.
StatusHandler = Callable[[], Mapping[str, Any]]

#: Every registered handler by name. Views read it on each request, so
#: ``STATUS_HANDLERS.clear()`` unregisters everything (test suites rely on it).
STATUS_HANDLERS: Dict[str, StatusHandler] = {}


class HandlerOptions(NamedTuple):
    """Per-handler options given to :func:`addStatusHandler`."""

    timeout: Optional[float] = None
    ttl: Optional[float] = None


# name -> (handler, options). Options apply only while the same handler object
# is still registered under that name, so ``STATUS_HANDLERS.clear()`` or a
# direct ``STATUS_HANDLERS[name] = other`` can never leave stale options behind.
HANDLER_OPTIONS: Dict[str, tuple[StatusHandler, HandlerOptions]] = {}


def _check_seconds(what: str, value: Any, allow_zero: bool) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {value!r}")
    value = float(value)
    if value != value or value == float("inf") or value < 0 or (
        value == 0 and not allow_zero
    ):
        raise ValueError(f"{what} must be a positive number of seconds, not {value!r}")
    return value


def addStatusHandler(
    name: str,
    handler: StatusHandler,
    timeout: Optional[float] = None,
    ttl: Optional[float] = None,
) -> None:
    """Register ``handler`` under ``name``, replacing any handler of that name.

    :param handler: a callable without arguments returning a dict with at
        least ``'state'`` (:data:`OK`, :data:`YELLOW` or :data:`RED`).
    :param timeout: seconds the status views wait for this handler before
        reporting it :data:`RED`; ``None`` uses the ``svcstatus.timeout``
        setting.
    :param ttl: seconds a result may be reused by the status views; ``None``
        (the default) calls the handler on every request.
    """
    if not callable(handler):
        raise TypeError(f"status handler {name!r} is not callable: {handler!r}")
    options = HandlerOptions(
        _check_seconds("timeout", timeout, allow_zero=False),
        _check_seconds("ttl", ttl, allow_zero=True),
    )
    if options == (None, None):
        HANDLER_OPTIONS.pop(name, None)
    else:
        HANDLER_OPTIONS[name] = (handler, options)
    STATUS_HANDLERS[name] = handler


def removeStatusHandler(name: str) -> None:
    """Unregister the handler ``name``; :class:`KeyError` if there is none."""
    del STATUS_HANDLERS[name]
    HANDLER_OPTIONS.pop(name, None)


def handler_options(name: str, handler: StatusHandler) -> HandlerOptions:
    """The options registered with ``handler`` under ``name``."""
    entry = HANDLER_OPTIONS.get(name)
    if entry is not None and entry[0] is handler:
        return entry[1]
    return HandlerOptions()


def getStatus(name: str) -> Mapping[str, Any]:
    """Call the handler ``name`` and return its dict; :class:`KeyError` if unknown."""
    return STATUS_HANDLERS[name]()


def isInState(name: str, state: str) -> bool:
    """True when the handler ``name`` reports ``state``; :class:`KeyError` if unknown."""
    return getStatus(name).get("state") == state


def waitForStatus(
    name: str,
    state: str,
    interval: float = 1,
    timeout: Optional[float] = None,
    raiseOnKeyError: bool = False,
) -> bool:
    """Poll :func:`isInState` every ``interval`` seconds until it is true.

    Returns ``True`` once the handler reports ``state``, or ``False`` when
    ``timeout`` seconds have passed first (``None`` waits forever). A name that
    is not registered (yet) counts as "not yet", unless ``raiseOnKeyError``.
    """
    # time.time(), as in 1.0: test suites fake it (with time.sleep) to
    # reach the timeout without waiting.
    start = time.time()
    while True:
        try:
            if isInState(name, state):
                return True
        except KeyError:
            if raiseOnKeyError:
                raise
        if timeout is not None and time.time() - start >= timeout:
            return False
        time.sleep(interval)


def includeme(config: Any) -> None:
    """Add the ``add_status_handler`` directive (see :mod:`.config`)."""
    from .config import include_core

    include_core(config)

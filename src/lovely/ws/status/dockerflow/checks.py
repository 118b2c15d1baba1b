"""python-dockerflow's check model on top of status handlers.

A check in python-dockerflow's style is a function without arguments that
returns a list of messages (:class:`Debug`, :class:`Info`,
:class:`Warning`, :class:`Error`, :class:`Critical`), each with an ``id``;
an empty list means all is well. :class:`CheckHandler` turns such a
function into a status handler, so it feeds ``/svc_status``, ``pstatus``
and Prometheus like any other, and ``/__heartbeat__`` shows its messages
by id, with their levels, as python-dockerflow does.

:func:`register` and :func:`register_partial` register process-wide, with
:func:`~lovely.ws.status.addStatusHandler`, because python-dockerflow's
decorator runs when a module is imported, before any app exists. For one
app only: ``config.add_status_handler(name, CheckHandler(func))``.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Dict, List, Optional

from ..handlers import addStatusHandler
from ..states import OK, RED, YELLOW, invalid
from ..text import redact, short_repr, to_text

__all__ = [
    "DEBUG",
    "INFO",
    "WARNING",
    "ERROR",
    "CRITICAL",
    "STATUSES",
    "level_to_text",
    "CheckMessage",
    "Debug",
    "Info",
    "Warning",
    "Error",
    "Critical",
    "CheckHandler",
    "register",
    "register_partial",
]

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
CRITICAL = 50

#: The text of each level, as the heartbeat shows it.
STATUSES: Dict[int, str] = {
    0: "ok",
    DEBUG: "debug",
    INFO: "info",
    WARNING: "warning",
    ERROR: "error",
    CRITICAL: "critical",
}

#: A check function: no arguments, returns a list of messages.
CheckFunction = Callable[[], Any]


def level_to_text(level: int) -> str:
    """``ok``, ``debug``, ``info``, ``warning``, ``error``, ``critical``, or
    ``unknown`` for a level between those."""
    return STATUSES.get(level, "unknown")


class CheckMessage:
    """One finding of a check: a text, a level, and an ``id`` to silence it by.

    Use the subclasses, which set the level; ``level`` given here overrides
    it. ``hint`` and ``obj`` are for people reading :func:`str` of the
    message; the heartbeat shows ``id`` and ``msg``.
    """

    level = 0

    def __init__(self, msg: Any, level: Optional[int] = None, hint: Any = None,
                 obj: Any = None, id: Optional[str] = None) -> None:
        self.msg = msg
        if level:
            self.level = int(level)
        self.hint = hint
        self.obj = obj
        self.id = id

    def _key(self) -> tuple:  # type: ignore[type-arg]
        return (self.level, self.msg, self.hint, self.obj, self.id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __str__(self) -> str:
        where = "?" if self.obj is None else to_text(self.obj)
        label = f"({self.id}) " if self.id else ""
        hint = f"\n\tHINT: {self.hint}" if self.hint else ""
        return f"{where}: {label}{to_text(self.msg)}{hint}"

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}: level={self.level!r}, msg={self.msg!r}, "
            f"hint={self.hint!r}, obj={self.obj!r}, id={self.id!r}>"
        )

    def is_serious(self, level: int = ERROR) -> bool:
        """Whether the message is at ``level`` (an error) or worse."""
        return self.level >= level


class Debug(CheckMessage):
    """A message for debugging; the check stays ok."""

    level = DEBUG


class Info(CheckMessage):
    """Worth knowing; the check stays ok."""

    level = INFO


class Warning(CheckMessage):  # python-dockerflow's name, shadowing the builtin
    """Degraded (``YELLOW``): the heartbeat still passes."""

    level = WARNING


class Error(CheckMessage):
    """Broken (``RED``): the heartbeat fails."""

    level = ERROR


class Critical(CheckMessage):
    """Broken beyond an error (``RED``, level 50): the heartbeat fails."""

    level = CRITICAL


class Messages(List[Dict[str, Any]]):
    """The messages of a :class:`CheckHandler`'s status, each a dict with
    ``id``, ``level``, ``msg`` (and ``hint`` if given).

    Its type tells the heartbeat that the status came from a check function,
    so a plain handler's ``messages`` key is never mistaken for one.
    """


def _run(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


def _status(result: Any) -> Dict[str, Any]:
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        return invalid(f"a check returns a list of messages, not {short_repr(result)}")
    messages = Messages()
    worst = 0
    for message in result:
        try:
            level = message.level
            msg = message.msg
            ident = message.id
        except Exception:
            return invalid(f"not a check message: {short_repr(message)}")
        if not isinstance(level, int) or isinstance(level, bool):
            return invalid(f"message {short_repr(ident)} has the level {short_repr(level)}")
        level = int(level)
        entry: Dict[str, Any] = {
            "id": ident if ident is None or isinstance(ident, str) else to_text(ident),
            "level": level,
            "msg": redact(to_text(msg)),
        }
        hint = getattr(message, "hint", None)
        if hint:
            entry["hint"] = redact(to_text(hint))
        messages.append(entry)
        worst = max(worst, level)
    state = RED if worst >= ERROR else YELLOW if worst >= WARNING else OK
    status: Dict[str, Any] = {"state": state, "level": worst, "messages": messages}
    if messages:
        status["detail"] = redact("; ".join(
            f"{m['id']}: {m['msg']}" if m["id"] else m["msg"] for m in messages
        ))
    return status


class CheckHandler:
    """A status handler that runs a python-dockerflow-style check function.

    ``CheckHandler(check_redis, client)`` calls ``check_redis(client)``.
    The status is ``RED`` when a message is an error or worse, ``YELLOW``
    for a warning, else ``OK``; it also has ``level`` (the worst) and
    ``messages`` (``id``, ``level``, ``msg`` of each), and a ``detail``
    that joins them. A check may be a coroutine function: it then runs in
    an event loop of its own. A result that is not a list of messages is
    ``RED``, saying why.

    :param name: the check's name; by default the function's ``__name__``.
    """

    def __init__(self, check: CheckFunction, *args: Any, name: Optional[str] = None) -> None:
        if not callable(check):
            raise TypeError(f"a check must be callable, not {check!r}")
        self.name = name or getattr(check, "__name__", None) or short_repr(check)
        self.check = functools.partial(check, *args) if args else check

    def __repr__(self) -> str:
        return f"<CheckHandler {self.name}>"

    def __call__(self) -> Dict[str, Any]:
        result = self.check()
        if inspect.isawaitable(result):
            result = _run(result)
        return _status(result)


def register(func: Any = None, name: Optional[str] = None) -> Any:
    """Register a check function under its name, for every app in the process.

    As a decorator: ``@register``, ``@register()`` or
    ``@register(name="other-name")``; the function is returned unchanged.
    A check of the same name replaces the earlier one, as with
    :func:`~lovely.ws.status.addStatusHandler`, which this uses.
    """
    if isinstance(func, str):  # @register("name")
        func, name = None, func
    if func is None:
        return functools.partial(register, name=name)
    handler = CheckHandler(func, name=name)
    addStatusHandler(handler.name, handler)
    return func


def register_partial(func: Callable[..., Any], *args: Any, name: Optional[str] = None) -> Any:
    """Register ``func(*args)`` as a check named after ``func``.

    ``register_partial(check_redis_connected, client)`` registers the check
    ``check_redis_connected``; returns the registered callable.
    """
    handler = CheckHandler(func, *args, name=name)
    addStatusHandler(handler.name, handler)
    return handler.check

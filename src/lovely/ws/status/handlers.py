"""The process-wide handler registry of lovely-ws-status 1.0.

:data:`STATUS_HANDLERS` and the functions around it are 1.0's API, kept as
they were: handlers registered here are seen by every app in the process.
Handlers registered with ``config.add_status_handler`` or the
``svcstatus.handlers`` setting belong to their app instead (see
:mod:`.appstatus`). This module's globals are the only ones of the package.
"""
from __future__ import annotations

import re
import threading
import time
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
)

from .settings import as_bool, as_lines, seconds

__all__: List[str] = [
    "STATUS_HANDLERS",
    "addStatusHandler",
    "removeStatusHandler",
    "getStatus",
    "isInState",
    "waitForStatus",
]

#: A status handler: called without arguments, returns a dict with ``'state'``.
StatusHandler = Callable[[], Mapping[str, Any]]

class HandlerDict(Dict[str, StatusHandler]):
    """A dict of handlers that knows when it changed: :attr:`version` goes
    up after each change, so lists made of it (once per request otherwise)
    are made again only then."""

    version = 0

    def _changed(self) -> None:
        # Two writers at once may both set the same number: both changes
        # are in the dict before either does, so a reader misses neither.
        self.version += 1

    def __setitem__(self, name: str, handler: StatusHandler) -> None:
        dict.__setitem__(self, name, handler)
        self._changed()

    def __delitem__(self, name: str) -> None:
        dict.__delitem__(self, name)
        self._changed()

    def clear(self) -> None:
        dict.clear(self)
        self._changed()

    def pop(self, name: str, *default: Any) -> Any:
        try:
            return dict.pop(self, name, *default)
        finally:
            self._changed()

    def popitem(self) -> Tuple[str, StatusHandler]:
        try:
            return dict.popitem(self)
        finally:
            self._changed()

    def setdefault(self, name: str, handler: Any = None) -> StatusHandler:
        try:
            found: StatusHandler = dict.setdefault(self, name, handler)
            return found
        finally:
            self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        try:
            dict.update(self, *args, **kwargs)
        finally:
            self._changed()

    def __ior__(self, other: Any) -> HandlerDict:  # type: ignore[override,misc]
        self.update(other)
        return self


class _Handlers(HandlerDict):
    """1.0's dict of handlers: writing to it directly, as 1.0's test suites
    do, also forgets the options given to :func:`addStatusHandler`."""

    def __setitem__(self, name: str, handler: StatusHandler) -> None:
        with _OPTIONS_LOCK:
            _OPTIONS.pop(name, None)
            super().__setitem__(name, handler)

    def __delitem__(self, name: str) -> None:
        with _OPTIONS_LOCK:
            super().__delitem__(name)
            _OPTIONS.pop(name, None)

    def clear(self) -> None:
        with _OPTIONS_LOCK:
            super().clear()
            _OPTIONS.clear()

    def pop(self, name: str, *default: Any) -> Any:
        with _OPTIONS_LOCK:
            _OPTIONS.pop(name, None)
            return super().pop(name, *default)

    def popitem(self) -> Tuple[str, StatusHandler]:
        with _OPTIONS_LOCK:
            name, handler = super().popitem()
            _OPTIONS.pop(name, None)
            return name, handler

    def setdefault(self, name: str, handler: Any = None) -> StatusHandler:
        with _OPTIONS_LOCK:
            if name not in self:
                _OPTIONS.pop(name, None)
            return super().setdefault(name, handler)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, handler in dict(*args, **kwargs).items():
            self[name] = handler


#: Every handler registered with :func:`addStatusHandler`, by name. Every
#: app in the process reads it at request time, so
#: ``STATUS_HANDLERS.clear()`` unregisters everything (test suites rely on it).
#: Write to it as to any dict (``[]``, ``del``, ``update``, ``pop``, ``|=``,
#: ``mock.patch.dict``); a write that goes around its methods
#: (``dict.__setitem__(STATUS_HANDLERS, ...)``) is not seen.
STATUS_HANDLERS: HandlerDict = _Handlers()


#: The groups of a handler registered without ``groups``: what a restart
#: would not fix is no reason to restart, so not ``liveness``.
DEFAULT_GROUPS: FrozenSet[str] = frozenset(("readiness", "startup"))
#: The groups that always exist (each has its endpoint).
STANDARD_GROUPS = ("liveness", "readiness", "startup")


class HandlerOptions(NamedTuple):
    """What a registration says about running and reporting one handler.

    ``None`` means "the default": the setting of the app (``timeout``,
    ``interval``), no caching (``ttl``, ``failure_ttl``), every non-OK
    result counts (``failure_threshold``), :data:`DEFAULT_GROUPS`.
    """

    timeout: Optional[float] = None
    ttl: Optional[float] = None
    failure_ttl: Optional[float] = None
    interval: Optional[float] = None
    failure_threshold: Optional[int] = None
    groups: Optional[FrozenSet[str]] = None
    critical: bool = True


NO_OPTIONS = HandlerOptions()

#: The options a registration may give (the keyword arguments of
#: :func:`addStatusHandler` and the ``svcstatus.handler.NAME.*`` keys).
OPTION_NAMES = HandlerOptions._fields


_GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _groups(value: Any, text: bool) -> FrozenSet[str]:
    if isinstance(value, str):
        if not text:
            raise TypeError(f"groups must be a list of names, not the text {value!r}")
        names = [w for line in as_lines(value) for w in line.split(",") if w]
    else:
        names = list(value)
    for name in names:
        # It becomes a path segment (/readyz is a group's endpoint) and a
        # query parameter: letters, digits, '-', '_' and '.' only.
        if not isinstance(name, str) or not _GROUP_NAME.fullmatch(name):
            raise ValueError(f"a group name must be a word of letters, digits, "
                             f"'-', '_' or '.', not {name!r}")
    return frozenset(names)


def _threshold(value: Any, text: bool) -> int:
    if text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"failure_threshold must be a whole number, not {value!r}")
    if value < 1:
        raise ValueError(f"failure_threshold must be at least 1, not {value!r}")
    return value


def handler_options(timeout: Any = None, ttl: Any = None, failure_ttl: Any = None,
                    interval: Any = None, failure_threshold: Any = None,
                    groups: Optional[Iterable[str]] = None, critical: Any = True,
                    text: bool = False) -> HandlerOptions:
    """Checked :class:`HandlerOptions`; :class:`TypeError` or :class:`ValueError` if bad.

    ``text`` accepts values written as text, as settings are (numbers,
    ``true``/``false``, group names separated by spaces or commas).
    """
    if text and isinstance(critical, str):
        critical = as_bool(critical)
    if not isinstance(critical, bool):
        raise TypeError(f"critical must be True or False, not {critical!r}")
    return HandlerOptions(
        None if timeout is None else seconds(timeout, "timeout", text=text),
        None if ttl is None else seconds(ttl, "ttl", allow_zero=True, text=text),
        None if failure_ttl is None
        else seconds(failure_ttl, "failure_ttl", allow_zero=True, text=text),
        None if interval is None else seconds(interval, "interval", text=text),
        None if failure_threshold is None else _threshold(failure_threshold, text),
        None if groups is None else _groups(groups, text),
        critical,
    )


def groups_of(options: HandlerOptions) -> FrozenSet[str]:
    """The groups a handler with ``options`` is in."""
    return DEFAULT_GROUPS if options.groups is None else options.groups


# name -> (handler, options) of what addStatusHandler registered with options.
# STATUS_HANDLERS drops an entry whenever its name is written to directly.
_OPTIONS: Dict[str, Tuple[StatusHandler, HandlerOptions]] = {}
_OPTIONS_LOCK = threading.Lock()


def global_options(name: str, handler: StatusHandler) -> HandlerOptions:
    """The options given to :func:`addStatusHandler` with ``handler`` under ``name``."""
    entry = _OPTIONS.get(name)
    if entry is not None and entry[0] is handler:
        return entry[1]
    return NO_OPTIONS


def has_global_options() -> bool:
    """Whether a handler registered here has options."""
    return bool(_OPTIONS)


def addStatusHandler(
    name: str,
    handler: StatusHandler,
    timeout: Optional[float] = None,
    ttl: Optional[float] = None,
    *,
    failure_ttl: Optional[float] = None,
    interval: Optional[float] = None,
    failure_threshold: Optional[int] = None,
    groups: Optional[Iterable[str]] = None,
    critical: bool = True,
) -> None:
    """Register ``handler`` under ``name``, replacing any handler of that name.

    :param name: a ``str`` (anything else raises :class:`TypeError`).
    :param handler: a callable without arguments returning a dict with at
        least ``'state'`` (:data:`OK`, :data:`YELLOW` or :data:`RED`).
    :param timeout: seconds the status views wait for this handler before
        reporting it :data:`RED`; ``None`` uses the ``svcstatus.timeout``
        setting.
    :param ttl: seconds a result may be reused by the status views; ``None``
        (the default) calls the handler on every request.
    :param failure_ttl: seconds a result that is not ``OK`` may be reused
        (``None``: as long as ``ttl``).
    :param interval: run the handler in the background every that many
        seconds, and answer from its latest result (``None``: the
        ``svcstatus.interval`` setting; unset, on request).
    :param failure_threshold: report a non-``OK`` state only after that many
        in a row (``None``: at once).
    :param groups: the names of the groups the handler is in (``None``:
        ``readiness`` and ``startup``; ``liveness`` only when named).
    :param critical: ``False`` makes the handler's ``RED`` count as
        ``YELLOW`` in every summary (its own row still says ``RED``).
    """
    if not isinstance(name, str):
        # 1 and "1" would be two handlers with one name in every output.
        raise TypeError(f"a status handler name must be a str, not {name!r}")
    if not callable(handler):
        raise TypeError(f"status handler {name!r} is not callable: {handler!r}")
    options = handler_options(timeout, ttl, failure_ttl, interval, failure_threshold,
                              groups, critical)
    with _OPTIONS_LOCK:
        HandlerDict.__setitem__(STATUS_HANDLERS, name, handler)
        if options == NO_OPTIONS:
            _OPTIONS.pop(name, None)
        else:
            _OPTIONS[name] = (handler, options)


def removeStatusHandler(name: str) -> None:
    """Unregister the handler ``name``; :class:`KeyError` if there is none."""
    del STATUS_HANDLERS[name]


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

"""What this package keeps for one Pyramid app: :class:`AppStatus`.

Each app (each Pyramid registry) has one, registered as a utility: its own
handlers and their options, the typed values of its settings, its
evaluator, and its probe. Two apps in one process never see each other's;
both see the process-wide handlers of 1.0's :data:`STATUS_HANDLERS`, and an
app's own handler of the same name wins in that app.
"""
from __future__ import annotations

import threading
from operator import attrgetter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from pyramid.threadlocal import get_current_registry
from zope.interface import Interface

from .evaluation import StatusEvaluator, StatusReport
from .evaluation.counts import CheckCounts
from .handlers import (
    NO_OPTIONS,
    STANDARD_GROUPS,
    STATUS_HANDLERS,
    HandlerDict,
    HandlerOptions,
    StatusHandler,
    global_options,
    groups_of,
    has_global_options,
)
from .probe.drain import Drainer
from .probe.guard import Guard
from .probe.store import ProbeStore
from .throttle import Throttle

__all__: List[str] = []


class IAppStatus(Interface):
    """The :class:`AppStatus` utility of a Pyramid registry."""


class AppStatus:
    """The handlers, settings, evaluator and probe of one app."""

    def __init__(self) -> None:
        #: The app's own handlers by name, and the options of those that have any.
        self.handlers: HandlerDict = HandlerDict()
        self.options: Dict[str, HandlerOptions] = {}
        #: Typed values of this package's settings, by full key.
        self.settings: Dict[str, Any] = {}
        self.evaluator = StatusEvaluator()
        #: Where the probe text lives; ``None``: 1.0's text in this process.
        self.store: Optional[ProbeStore] = None
        #: Who may change the probe; ``None``: the settings' defaults.
        self.guard: Optional[Guard] = None
        #: The drain on ``SIGTERM``, when ``probestatus.drain_seconds`` is set.
        self.drainer: Optional[Drainer] = None
        #: Says when to log that the probe store is down (and back).
        self.store_throttle = Throttle()
        #: Makes the body of ``/__version__`` (see :mod:`.dockerflow`).
        self.version: Optional[Callable[[Any], bytes]] = None
        #: How many evaluations ended in each state (``svc_status_checks_total``).
        self.checks = CheckCounts()
        #: Reads the text the probe answers now; set by the include of
        #: :mod:`.probestatus` (``None``: the app has no probe).
        self.probe_text: Optional[Callable[[], str]] = None
        #: What the Prometheus renderer keeps between scrapes (see :mod:`.render`).
        self.render_cache: Dict[str, Any] = {}
        # The versions of both dicts of handlers, and the names and the
        # handlers they held then (see :meth:`listed`).
        self._listed: Tuple[Tuple[int, int], Sequence[str], Sequence[StatusHandler]] = (
            (-1, -1), [], [])

    def add_handler(self, name: str, handler: StatusHandler,
                    options: HandlerOptions = NO_OPTIONS) -> None:
        """Register ``handler`` for this app only."""
        self.handlers[name] = handler
        if options == NO_OPTIONS:
            self.options.pop(name, None)
        else:
            self.options[name] = options

    def all_handlers(self) -> Dict[str, StatusHandler]:
        """Every handler this app sees by name: 1.0's, then its own (which win)."""
        if not self.handlers:
            return STATUS_HANDLERS.copy()
        merged = STATUS_HANDLERS.copy()
        merged.update(self.handlers)
        return merged

    def listed(self) -> Tuple[Sequence[str], Sequence[StatusHandler]]:
        """The names and the handlers of :meth:`all_handlers`, in order.

        The same two lists until a handler is added or removed: reports
        hold them, so they must not be modified. (Made once per request, a
        thousand handlers' lists were a tenth of the request, most of it
        the garbage collector's.)
        """
        versions = (STATUS_HANDLERS.version, self.handlers.version)
        listed = self._listed
        if listed[0] != versions:
            by_name = self.all_handlers()
            listed = self._listed = (versions, list(by_name), list(by_name.values()))
        return listed[1], listed[2]

    def options_of(self, name: str, handler: StatusHandler) -> HandlerOptions:
        """The options ``handler`` was registered with under ``name``."""
        if self.handlers.get(name) is handler:
            return self.options.get(name, NO_OPTIONS)
        return global_options(name, handler)

    def members(self, group: str) -> List[str]:
        """The names of the handlers in ``group``, in registration order."""
        return [name for name, handler in self.all_handlers().items()
                if group in groups_of(self.options_of(name, handler))]

    def groups(self) -> Set[str]:
        """Every group that exists: the standard ones and those handlers name."""
        found = set(STANDARD_GROUPS)
        for name, handler in self.all_handlers().items():
            found.update(groups_of(self.options_of(name, handler)))
        return found

    def evaluate(self, names: Optional[Iterable[str]] = None,
                 durations: bool = True, group: Optional[str] = None) -> StatusReport:
        """Evaluate the handlers (or only ``names`` that exist, in that order;
        with ``group``, only those of them in the group)."""
        if group is not None:
            members = self.members(group)
            if names is not None:
                wanted = set(names)
                members = [n for n in members if n in wanted]
            names = members
        if names is None:
            name_list, handlers = self.listed()
        else:
            by_name = self.all_handlers()
            name_list = [n for n in dict.fromkeys(names) if n in by_name]
            handlers = [by_name[n] for n in name_list]
        options = None
        if self.options or has_global_options():
            options = list(map(self.options_of, name_list, handlers))
        report = self.evaluator.evaluate(name_list, handlers, options, durations,
                                         complete=names is None)
        if options is not None:
            critical = list(map(_CRITICAL, options))
            if not all(critical):
                report.critical = critical
        self.checks.add(report.names, report.statuses)
        return report


_CRITICAL = attrgetter("critical")
_CREATING = threading.Lock()


def get_app_status(registry: Any = None) -> AppStatus:
    """The :class:`AppStatus` of ``registry``, made on first use.

    Without a registry (a view called with a bare ``DummyRequest``), the
    one Pyramid uses then: the current, or its global registry.
    """
    if registry is None or not hasattr(registry, "queryUtility"):
        registry = get_current_registry()
    app: Optional[AppStatus] = registry.queryUtility(IAppStatus)
    if app is None:
        with _CREATING:
            app = registry.queryUtility(IAppStatus)
            if app is None:
                app = AppStatus()
                registry.registerUtility(app, IAppStatus)
    return app


def evaluate(registry: Any = None, names: Optional[Iterable[str]] = None,
             durations: bool = True, group: Optional[str] = None) -> StatusReport:
    """Evaluate the handlers that the app of ``registry`` sees (see
    :meth:`AppStatus.evaluate`)."""
    return get_app_status(registry).evaluate(names, durations, group)

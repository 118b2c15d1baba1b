"""What tests of every feature share: apps, handlers, waiting on conditions.

Real servers (Redis, PostgreSQL, Prometheus, WSGI servers) are in
:mod:`tests.servers`.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from pyramid.config import Configurator
from pyramid.events import NewResponse
from webtest import TestApp

from lovely.ws.status import OK

#: Long enough for any condition a test waits for on a slow, busy machine;
#: reaching it means the condition never came.
PATIENCE = 60.0

#: A warnings filter (for ``-W`` or ``PYTHONWARNINGS``) that hides what
#: Pyramid 2.1 prints at import under setuptools 81 (what Python 3.12 and
#: later get): that ``pkg_resources`` is deprecated. Tests that read a
#: child process's stderr give it to the child.
PYRAMID_IMPORT_WARNING = "ignore:pkg_resources is deprecated:UserWarning"


def make_config(*includes: str, settings: Optional[Dict[str, Any]] = None,
                scan: Iterable[str] = ()) -> Configurator:
    """A Configurator with ``settings`` that includes ``includes`` (by
    default ``lovely.ws.status.svcstatus``) and scans ``scan``."""
    config = Configurator(settings=dict(settings or {}))
    for name in includes or ("lovely.ws.status.svcstatus",):
        config.include(name)
    for name in scan:
        config.scan(name)
    return config


def make_app(*includes: str, settings: Optional[Dict[str, Any]] = None,
             scan: Iterable[str] = (),
             setup: Optional[Callable[[Configurator], Any]] = None) -> TestApp:
    """A WebTest app made by :func:`make_config`; ``setup(config)`` runs
    before the app is made."""
    config = make_config(*includes, settings=settings, scan=scan)
    if setup is not None:
        setup(config)
    return TestApp(config.make_wsgi_app())


def _add_pid(event: Any) -> None:
    event.response.headers["X-Pid"] = str(os.getpid())


def pid_app(include: str, settings_variable: str) -> Any:
    """A WSGI app for a server test: it includes ``include``, takes its
    settings as JSON from the environment variable ``settings_variable``,
    and says in ``X-Pid`` which process answered."""
    config = Configurator(settings=json.loads(os.environ.get(settings_variable) or "{}"))
    config.include(include)
    config.add_subscriber(_add_pid, NewResponse)
    return config.make_wsgi_app()


def fixed(**status: Any) -> Callable[[], Dict[str, Any]]:
    """A handler that always returns ``status``."""
    return lambda: status


class Counting:
    """A handler in ``state`` that counts its calls and says which call
    its result comes from (``call N``)."""

    def __init__(self, state: str = OK) -> None:
        self.state = state
        self.calls = 0

    def __call__(self) -> Dict[str, Any]:
        self.calls += 1
        return {"state": self.state, "detail": f"call {self.calls}"}


class Blocked:
    """A handler that hangs until :attr:`release` is set.

    :attr:`calls` counts how often it started, :attr:`returned` how often it
    returned; :attr:`entered` is set when it first started.
    """

    def __init__(self, status: Optional[Dict[str, Any]] = None) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.status = status or {"state": OK, "detail": "released"}
        self.calls = 0
        self.returned = 0
        self._lock = threading.Lock()

    def __call__(self) -> Dict[str, Any]:
        with self._lock:
            self.calls += 1
        self.entered.set()
        self.release.wait(PATIENCE)
        with self._lock:
            self.returned += 1
        return self.status


def wait_until(predicate: Callable[[], Any], what: str = "the condition",
               timeout: float = PATIENCE) -> None:
    """Wait until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not reached in {timeout} s")
        time.sleep(0.002)


def app_status(**evaluator_options: Any) -> Any:
    """An :class:`~lovely.ws.status.appstatus.AppStatus` outside any app,
    whose evaluator is made with ``evaluator_options``
    (``timeout``, ``max_workers``, ``concurrent``)."""
    from lovely.ws.status.appstatus import AppStatus
    from lovely.ws.status.evaluation import StatusEvaluator

    app = AppStatus()
    app.evaluator = StatusEvaluator(**evaluator_options)
    return app


def in_thread(target: Callable[..., Any], *args: Any) -> Tuple[threading.Thread, List[Any]]:
    """Call ``target(*args)`` in a new daemon thread; returns the thread and
    a list that holds the return value once the call returned."""
    out: List[Any] = []
    thread = threading.Thread(target=lambda: out.append(target(*args)), daemon=True)
    thread.start()
    return thread, out


class UserPolicy:
    """A Pyramid 2 security policy: the user is the ``X-User`` header, and
    the user ``ops`` alone has the permissions in :attr:`granted`."""

    granted = frozenset({"status-details", "view-status"})

    def identity(self, request: Any) -> Optional[str]:
        return request.headers.get("X-User") or None

    def authenticated_userid(self, request: Any) -> Optional[str]:
        return self.identity(request)

    def permits(self, request: Any, context: Any, permission: str) -> bool:
        return self.identity(request) == "ops" and permission in self.granted

    def remember(self, request: Any, userid: Any, **kw: Any) -> List[Any]:
        return []

    def forget(self, request: Any, **kw: Any) -> List[Any]:
        return []

"""Mozilla's Dockerflow pattern for Pyramid, fed by the status handlers.

``config.include('lovely.ws.status.dockerflow')`` adds:

- ``/__version__`` (route ``dockerflow.version``): the Dockerflow version file
  as JSON;
- ``/__heartbeat__`` (``dockerflow.heartbeat``): every status handler as a
  Dockerflow check, 200 unless one is RED;
- ``/__lbheartbeat__`` (``dockerflow.lbheartbeat``): 200 without touching a
  backend, 503 while the probe of :mod:`lovely.ws.status.probestatus` is
  decommissioned;
- with ``dockerflow.error_endpoint = true``, ``/__error__``
  (``dockerflow.error``), which logs an error and raises;

each also with a trailing slash; other methods than ``GET`` and ``HEAD``
get 405. Also the events :class:`HeartbeatPassed` and
:class:`HeartbeatFailed`, a tween that gives each request an id
(:data:`request_id_context`, ``rid`` in MozLog records), and with
``dockerflow.request_summary = true`` one MozLog ``request.summary``
record per request (see :class:`MozlogFormatter`). Check functions in
python-dockerflow's style: :mod:`lovely.ws.status.dockerflow.checks`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Optional, Tuple

from pyramid.exceptions import ConfigurationError
from pyramid.path import AssetResolver
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.tweens import INGRESS

from ..appstatus import get_app_status
from ..handlers import handler_options
from ..settings import (
    Setting,
    add_settings_action,
    as_bool,
    as_http_status,
    as_lines,
    as_text,
)
from .events import (
    HeartbeatFailed,
    HeartbeatPassed,
    IHeartbeatEvent,
    IHeartbeatFailed,
    IHeartbeatPassed,
)
from .mozlog import REQUEST_ID_ENVIRON_KEY, JsonLogFormatter, MozlogFormatter, MozlogHandler
from .requestid import RequestIdLogFilter, request_id_context
from .views import (
    VersionCallback,
    VersionFile,
    default_version_path,
    error_view,
    heartbeat_view,
    lbheartbeat_view,
    method_not_allowed_view,
    version_view,
)

__all__ = [
    "includeme",
    "HeartbeatFailed",
    "HeartbeatPassed",
    "IHeartbeatEvent",
    "IHeartbeatFailed",
    "IHeartbeatPassed",
    "JsonLogFormatter",
    "MozlogFormatter",
    "MozlogHandler",
    "RequestIdLogFilter",
    "request_id_context",
    "REQUEST_ID_ENVIRON_KEY",
]

PREFIX = "dockerflow."
#: The dotted name of the tween, as ``ptweens`` and ``pyramid.tweens`` show it.
TWEEN_NAME = __name__ + ".mozlog.request_summary_tween_factory"

#: ``(route name, path, view)`` of each endpoint.
ROUTES = (
    ("dockerflow.version", "/__version__", version_view),
    ("dockerflow.heartbeat", "/__heartbeat__", heartbeat_view),
    ("dockerflow.lbheartbeat", "/__lbheartbeat__", lbheartbeat_view),
)
#: The route of ``/__error__``, added with ``dockerflow.error_endpoint``.
ERROR_ROUTE = ("dockerflow.error", "/__error__", error_view)
#: What each route answers; other methods get 405.
ALLOWED_METHODS = ("GET", "HEAD")
# Each path also matches with a trailing slash, as in python-dockerflow's
# Django middleware; route_url() gives the path without it.
SLASH = "{slash:/?}"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def as_header_name(value: Any) -> str:
    """An HTTP header name such as ``X-Request-ID``."""
    text = "" if value is None else str(value).strip()
    if not _TOKEN.match(text):
        raise ValueError(f"expected an HTTP header name, got {value!r}")
    return text


def as_group_name(value: Any) -> Optional[str]:
    """The name of a group of handlers, checked as ``groups`` are; empty: ``None``."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    handler_options(groups=[text])  # raises if it is no group name
    return text

DOCKERFLOW_SETTINGS = [
    Setting(
        "dockerflow.heartbeat_failed_status",
        as_http_status,
        500,
        "Status code of ``/__heartbeat__`` when a check is an error.",
        "503",
    ),
    Setting(
        "dockerflow.heartbeat_group",
        as_group_name,
        None,
        "The group of handlers ``/__heartbeat__`` checks (``?group=`` chooses "
        "another); empty: all of them.",
        "readiness",
    ),
    Setting(
        "dockerflow.checks",
        as_lines,
        [],
        "Names of the status handlers ``/__heartbeat__`` checks; empty: all of them. "
        "A listed name without a handler is an error.",
        "db cache",
    ),
    Setting(
        "dockerflow.version_file",
        as_text,
        None,
        "Path or asset spec of the version file; empty: ``$APP_DIR/version.json``, "
        "else ``/app/version.json``.",
        "%(here)s/version.json",
    ),
    Setting(
        "dockerflow.version_callback",
        as_text,
        None,
        "Dotted name of a callable that gets the request and returns the version "
        "dict (or ``None`` for 404); replaces the version file.",
        "myapp.version:get_version",
    ),
    Setting(
        "dockerflow.silenced_checks",
        as_lines,
        [],
        "Message ids of check functions that ``/__heartbeat__`` ignores "
        "(python-dockerflow's ``silenced_checks``).",
        "myapp.checks.W001",
    ),
    Setting(
        "dockerflow.error_endpoint",
        as_bool,
        False,
        "Add ``/__error__``, which logs an error and raises, to test error "
        "reporting end to end.",
        "true",
    ),
    Setting(
        "dockerflow.request_id",
        as_bool,
        True,
        "Give each request an id, for the logs (``rid``) and the response "
        "(adds a tween); ``false`` leaves it out unless the request summary "
        "needs it.",
        "false",
    ),
    Setting(
        "dockerflow.request_id_header_name",
        as_header_name,
        "X-Request-ID",
        "The header that carries a request id in, and out with the response.",
        "X-Cloud-Trace-Context",
    ),
    Setting(
        "dockerflow.request_summary",
        as_bool,
        False,
        "Log one ``request.summary`` record per request.",
        "true",
    ),
    Setting(
        "dockerflow.summary_log_querystring",
        as_bool,
        False,
        "Add the query string (decoded, password parameters hidden) to the "
        "request summary as ``querystring``.",
        "true",
    ),
]


def _version_path(value: str) -> str:
    if "\x00" in value:
        raise ValueError(f"the path contains a NUL byte: {value!r}")
    if os.path.isabs(value):
        return value
    if ":" in value:
        # An asset spec such as ``myapp:version.json``.
        return AssetResolver().resolve(value).abspath()
    return os.path.abspath(value)


def _version_source(config: Any, typed: Dict[str, Any]) -> Any:
    callback = typed["dockerflow.version_callback"]
    path = typed["dockerflow.version_file"]
    if callback and path:
        raise ConfigurationError(
            "set only one of 'dockerflow.version_callback' and "
            "'dockerflow.version_file'"
        )
    if callback:
        try:
            func = config.maybe_dotted(callback)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigurationError(
                f"bad value for setting 'dockerflow.version_callback': "
                f"cannot import {callback!r}: {exc}"
            ) from exc
        if not callable(func):
            raise ConfigurationError(
                f"bad value for setting 'dockerflow.version_callback': "
                f"{callback!r} is not callable"
            )
        return VersionCallback(func, callback)
    if path:
        try:
            return VersionFile(_version_path(path))
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"bad value for setting 'dockerflow.version_file': {exc}"
            ) from exc
    return VersionFile(default_version_path())


def _flag(settings: Dict[str, Any], key: str, default: bool) -> bool:
    """A boolean setting read at include time (routes and tweens are
    decided then); a bad value is reported by the settings action at commit."""
    try:
        return as_bool(settings.get(key, default))
    except ValueError:
        return default


def _no_slash(request: Any, elements: Tuple[Any, ...], kw: Dict[str, Any]) -> Any:
    kw.setdefault("slash", "")
    return elements, kw


def includeme(config: Any) -> None:
    """Add the Dockerflow routes and views, and the request id tween.

    The ``dockerflow.*`` settings are checked when the configuration is
    committed; ``$APP_DIR`` is read then too.
    """
    config.include("lovely.ws.status")

    app = get_app_status(config.registry)

    def install(typed: Dict[str, Any]) -> None:
        typed["dockerflow.checks"] = tuple(dict.fromkeys(typed["dockerflow.checks"]))
        typed["dockerflow.silenced_checks"] = frozenset(typed["dockerflow.silenced_checks"])
        app.settings.update(typed)
        app.version = _version_source(config, typed)

    add_settings_action(config, PREFIX, DOCKERFLOW_SETTINGS, then=install)
    settings = config.get_settings() or {}
    routes: Tuple[Any, ...] = ROUTES
    if _flag(settings, "dockerflow.error_endpoint", False):
        routes += (ERROR_ROUTE,)
    options = {
        "permission": NO_PERMISSION_REQUIRED,
        # Endpoints for machines: nothing a CSRF token protects.
        "require_csrf": False,
    }
    for name, pattern, view in routes:
        config.add_route(name, pattern + SLASH, pregenerator=_no_slash)
        config.add_view(view, route_name=name, request_method=ALLOWED_METHODS, **options)
        # Fewer predicates: Pyramid tries it after the view above.
        config.add_view(method_not_allowed_view, route_name=name, **options)
    if (_flag(settings, "dockerflow.request_summary", False)
            or _flag(settings, "dockerflow.request_id", True)):
        # Outermost, so that the id covers every other tween, and the
        # summary has the status code the client gets.
        config.add_tween(TWEEN_NAME, under=INGRESS)

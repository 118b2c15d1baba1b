"""Mozilla's Dockerflow pattern for Pyramid, fed by the status handlers.

``config.include('lovely.ws.status.dockerflow')`` adds:

- ``/__version__`` (route ``dockerflow.version``): the Dockerflow version file
  as JSON;
- ``/__heartbeat__`` (``dockerflow.heartbeat``): every status handler as a
  Dockerflow check, 200 unless one is RED;
- ``/__lbheartbeat__`` (``dockerflow.lbheartbeat``): 200 without touching a
  backend, 503 while the probe of :mod:`lovely.ws.status.probestatus` is
  decommissioned;

the events :class:`HeartbeatPassed` and :class:`HeartbeatFailed`, and, with
``dockerflow.request_summary = true``, a tween that logs one MozLog
``request.summary`` record per request (see :class:`JsonLogFormatter`).
"""

from __future__ import annotations

import os
from typing import Any, Dict

from pyramid.exceptions import ConfigurationError
from pyramid.path import AssetResolver
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.tweens import EXCVIEW

from ..appstatus import get_app_status
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
from .mozlog import REQUEST_ID_ENVIRON_KEY, JsonLogFormatter
from .views import (
    VersionCallback,
    VersionFile,
    default_version_path,
    heartbeat_view,
    lbheartbeat_view,
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

DOCKERFLOW_SETTINGS = [
    Setting(
        "dockerflow.heartbeat_failed_status",
        as_http_status,
        500,
        "Status code of ``/__heartbeat__`` when a check is an error.",
        "503",
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
        "dockerflow.request_summary",
        as_bool,
        False,
        "Log one ``request.summary`` record per request (adds a tween).",
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


def includeme(config: Any) -> None:
    """Add the Dockerflow routes and views, and the summary tween if enabled.

    The ``dockerflow.*`` settings are checked when the configuration is
    committed; ``$APP_DIR`` is read then too.
    """
    config.include("lovely.ws.status")

    app = get_app_status(config.registry)

    def install(typed: Dict[str, Any]) -> None:
        typed["dockerflow.checks"] = tuple(dict.fromkeys(typed["dockerflow.checks"]))
        app.settings.update(typed)
        app.version = _version_source(config, typed)

    add_settings_action(config, PREFIX, DOCKERFLOW_SETTINGS, then=install)
    for name, pattern, view in ROUTES:
        config.add_route(name, pattern)
        config.add_view(
            view,
            route_name=name,
            request_method=("GET", "HEAD"),
            permission=NO_PERMISSION_REQUIRED,
            # Read-only endpoints for machines: nothing a CSRF token protects.
            require_csrf=False,
        )
    settings = config.get_settings() or {}
    try:
        summary = as_bool(settings.get("dockerflow.request_summary", False))
    except ValueError:
        summary = False  # the settings action reports the bad value at commit
    if summary:
        # Over the exception view, so the record has the status code the
        # client gets, and an exception that escapes it is still logged.
        config.add_tween(TWEEN_NAME, over=EXCVIEW)

"""The ``/svc_status`` view: every status handler as CSV, JSON, Prometheus
text or an HTML page.

Enable it in an app factory with ``config.include('lovely.ws.status.svcstatus')``
(a following ``config.scan('lovely.ws.status.svcstatus')``, as 1.0 required,
is harmless).
"""
from __future__ import annotations

from typing import Any, Callable

import venusian
from pyramid.security import NO_PERMISSION_REQUIRED

# 1.0 imported these here, and apps reach them through this module.
from . import NUMERIC_VALUES, STATUS_HANDLERS  # noqa: F401
from .evaluation import StatusReport, evaluate
from .render import (
    CSV_CONTENT_TYPE,
    HTML_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    render_csv,
    render_html,
    render_json,
    render_prometheus_columns,
)

try:
    from prometheus_client import generate_latest as _generate_latest
except ImportError:  # the optional extra is not installed
    _generate_latest = None

__all__ = ["svc_status_view", "choose_format", "generate_latest", "includeme", "ROUTE_PATTERN"]

ROUTE_NAME = "svc_status"
ROUTE_PATTERN = "/svc_status{type:(|.json|.csv|.prometheus|.html)}"


def generate_latest() -> bytes:
    """The exposition of ``prometheus_client``'s default registry, or ``b''``."""
    if _generate_latest is None:
        return b""
    return _generate_latest()


def choose_format(accept: Any, extension: Any) -> str:
    """``'prometheus'``, ``'json'``, ``'csv'`` or ``'html'`` for a request.

    ``.prometheus`` always wins; then an ``Accept`` header naming
    ``application/json`` (before ``text/csv``); then the extension; CSV when
    nothing says otherwise.
    """
    if extension == ".prometheus":
        return "prometheus"
    if accept:
        accept = str(accept)
        if "application/json" in accept:
            return "json"
        if "text/csv" in accept:
            return "csv"
    if extension == ".json":
        return "json"
    if extension == ".html":
        return "html"
    return "csv"


def _prometheus(report: StatusReport) -> str:
    text = render_prometheus_columns(*report.sorted_columns())
    return text + generate_latest().decode("utf-8")


def _html(report: StatusReport) -> str:
    return render_html(
        report.sorted_items(), dict(zip(report.names, report.durations)), report.timestamp
    )


# format -> (content type, renderer, whether it shows how long handlers took)
_FORMATS: dict[str, tuple[str, Callable[[StatusReport], str], bool]] = {
    "csv": (CSV_CONTENT_TYPE, lambda report: render_csv(report.sorted_items()), False),
    "json": (JSON_CONTENT_TYPE, lambda report: render_json(report.as_dict()), False),
    "prometheus": (PROMETHEUS_CONTENT_TYPE, _prometheus, True),
    "html": (HTML_CONTENT_TYPE, _html, True),
}


def svc_status_view(request: Any) -> Any:
    """Evaluate every status handler and render them in the requested format.

    The format comes from the route's ``type`` (``.json``, ``.csv``,
    ``.prometheus``, ``.html``) and the ``Accept`` header (see
    :func:`choose_format`). Handlers that fail, time out or return nonsense
    are reported ``RED``; the status code is always 200.
    """
    matchdict = request.matchdict or {}
    headers = request.headers
    # ``or``: a test's DummyRequest may carry a plain, case-sensitive dict.
    accept = headers.get("accept") or headers.get("Accept")
    content_type, render, timed = _FORMATS[choose_format(accept, matchdict.get("type", ""))]
    report = evaluate(getattr(request, "registry", None), durations=timed)
    response = request.response
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    response.body = render(report).encode("utf-8", "backslashreplace")
    return response


def _add_view(config: Any) -> None:
    permission = (config.get_settings() or {}).get("svcstatus.permission")
    permission = str(permission).strip() if permission else ""
    config.add_view(
        svc_status_view,
        route_name=ROUTE_NAME,
        permission=permission or NO_PERMISSION_REQUIRED,
        require_csrf=False,
    )


# config.scan() of this module registers the view, as 1.0's @view_config
# did (an app may add the route itself). With the include as well, both
# registrations are the same action and the app's (the scan) wins: one view.
venusian.attach(
    svc_status_view, lambda scanner, name, ob: _add_view(scanner.config),
    category="pyramid", depth=0,
)


def includeme(config: Any) -> None:
    """Add the route ``svc_status`` and its view."""
    config.include("lovely.ws.status")
    config.add_route(ROUTE_NAME, ROUTE_PATTERN)
    _add_view(config)

"""The ``/svc_status`` view: every status handler as CSV, JSON, Prometheus
text or an HTML page.

Enable it in an app factory with ``config.include('lovely.ws.status.svcstatus')``
(a following ``config.scan('lovely.ws.status.svcstatus')``, as 1.0 required,
is harmless).
"""
from __future__ import annotations

from typing import Any

import venusian
from pyramid.security import NO_PERMISSION_REQUIRED

from .appstatus import evaluate

# 1.0 imported these here, and apps reach them through this module.
from .handlers import STATUS_HANDLERS

# Looked up here at each request: 1.0 apps' tests replace it on this module.
from .render import FORMATS, generate_latest
from .states import NUMERIC_VALUES

__all__ = ["svc_status_view", "includeme", "NUMERIC_VALUES", "STATUS_HANDLERS"]

ROUTE_NAME = "svc_status"
ROUTE_PATTERN = "/svc_status{type:(|.json|.csv|.prometheus|.html)}"


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
    fmt = FORMATS[choose_format(accept, matchdict.get("type", ""))]
    report = evaluate(getattr(request, "registry", None), names=None, durations=fmt.timed)
    body = fmt.render(report)
    if fmt.process_metrics:
        body += generate_latest().decode("utf-8")
    response = request.response
    response.headers["Content-Type"] = fmt.content_type
    response.headers["Cache-Control"] = "no-store"
    response.body = body.encode("utf-8", "backslashreplace")
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

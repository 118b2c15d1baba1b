"""The ``/svc_status`` view: every status handler as CSV, JSON, Prometheus
or OpenMetrics text, or an HTML page.

Enable it in an app factory with ``config.include('lovely.ws.status.svcstatus')``
(a following ``config.scan('lovely.ws.status.svcstatus')``, as 1.0 required,
is harmless).
"""
from __future__ import annotations

from itertools import repeat
from typing import Any, Dict, List, Optional

import venusian
from pyramid.security import NO_PERMISSION_REQUIRED
from webob.acceptparse import AcceptValidHeader, create_accept_header

from .appstatus import AppStatus, get_app_status
from .details import ALWAYS, details_allowed
from .evaluation.isolation import isolated, not_plain, plain_only
from .evaluation.report import StatusReport

# 1.0 imported these here, and apps reach them through this module.
from .handlers import STATUS_HANDLERS
from .headers import NEGOTIATED, add_headers

# generate_latest is looked up here at each request: 1.0 apps' tests
# replace it on this module.
from .render import (
    FORMATS,
    Format,
    created_series,
    generate_latest,
    generate_latest_openmetrics,
    html_context,
    html_policy,
    probe_up,
)
from .render.healthjson import (
    HEALTH_JSON_CONTENT_TYPE,
    render_health_json,
    service_version,
    wants_health_json,
)
from .render.html import render_page
from .render.prometheus import render_chunks
from .states import NUMERIC_VALUES, RED

__all__ = ["svc_status_view", "includeme", "NUMERIC_VALUES", "STATUS_HANDLERS"]

ROUTE_NAME = "svc_status"
ROUTE_PATTERN = "/svc_status{type:(|.json|.csv|.prometheus|.html)}"

#: ``svcstatus.prometheus_labels``: 1.0's layout of the label samples.
LABELS_1_0 = "1.0"

# The versions of each Prometheus format that this view writes.
_OPENMETRICS = ("application/openmetrics-text", ("1.0.0", "0.0.1"))
_TEXT = ("text/plain", ("0.0.4",))


def _quality(ranges: Any, media_type: str, versions: Any = None) -> float:
    """The q-value ``Accept`` gives ``media_type``: that of the most specific
    range that matches it (``versions``: the ``version`` parameters that
    match; ``None``: only ranges naming the type itself count)."""
    major = media_type.split("/", 1)[0]
    best, quality = 0, 0.0
    for media_range, q, params, _ in ranges:
        media_range = media_range.split(";", 1)[0].strip().lower()
        if media_range == media_type:
            if versions is not None:
                version = dict((k.lower(), v) for k, v in params).get("version")
                if version is not None and version not in versions:
                    continue
            rank = 3
        elif versions is None:
            continue
        elif media_range == major + "/*":
            rank = 2
        elif media_range == "*/*":
            rank = 1
        else:
            continue
        if rank > best or (rank == best and q > quality):
            best, quality = rank, q
    return quality


def _accepted(accept: str) -> Optional[Dict[str, float]]:
    """The q-values of what ``/svc_status`` can answer; ``None`` when the
    header cannot be parsed."""
    header = create_accept_header(accept)
    if not isinstance(header, AcceptValidHeader):
        return None
    ranges = list(header.parsed)
    return {
        "json": _quality(ranges, "application/json"),
        "csv": _quality(ranges, "text/csv"),
        "openmetrics": _quality(ranges, *_OPENMETRICS),
        "prometheus": _quality(ranges, *_TEXT),
    }


def choose_format(accept: Any, extension: Any) -> str:
    """``'prometheus'``, ``'openmetrics'``, ``'json'``, ``'csv'`` or
    ``'html'`` for a request.

    The extensions ``.html`` and ``.prometheus`` always win; the latter
    gives OpenMetrics when ``Accept`` prefers it (by q-value) to text 0.0.4.
    Otherwise, as in 1.0: an ``Accept`` header that names
    ``application/json`` (with a q-value above 0) gives JSON, else one that
    names ``text/csv`` gives CSV, else the extension decides (CSV when
    there is none).
    """
    if extension == ".html":
        return "html"
    quality = _accepted(str(accept)) if accept else {}
    if extension == ".prometheus":
        if quality and quality["openmetrics"] > quality["prometheus"]:
            return "openmetrics"
        return "prometheus"
    if quality is None:  # not a valid header: 1.0 looked for the words
        accept = str(accept)
        quality = {"json": "application/json" in accept, "csv": "text/csv" in accept}
    if quality.get("json"):
        return "json"
    if quality.get("csv"):
        return "csv"
    if extension == ".json":
        return "json"
    return "csv"


def _exposition(report: StatusReport, app: AppStatus, openmetrics: bool) -> List[bytes]:
    """The Prometheus families of the app, then the process's own metrics."""
    chunks: List[bytes] = isolated(lambda: render_chunks(
        report.names, report.statuses, report.durations,
        sort=True,
        cache=app.render_cache,
        openmetrics=openmetrics,
        label_family=app.settings.get("svcstatus.prometheus_labels") != LABELS_1_0,
        checks=app.checks.snapshot(),
        created=created_series(),
        probe=probe_up(app.probe_text),
        changed=report.changed,
        non_critical=() if report.critical is None else
        [name for name, critical in zip(report.names, report.critical) if not critical],
    ), app.evaluator)
    tail: Any = generate_latest_openmetrics() if openmetrics else generate_latest()
    chunks.append(tail.encode("utf-8") if isinstance(tail, str) else tail)
    return chunks


def _group(request: Any) -> Optional[str]:
    """The ``group`` query parameter, if any."""
    environ = getattr(request, "environ", None)
    if environ and "group" not in environ.get("QUERY_STRING", "group"):
        return None  # no parameter to parse: the common case, cheaply
    try:
        query = getattr(request, "GET", None)
        group = query.get("group") if query else None
    except UnicodeDecodeError:  # a query string that is not UTF-8: 1.0 ignored it
        return None
    return str(group) if group else None


def _no_group(request: Any, group: str) -> Any:
    response = request.response
    response.status = 404
    response.headers["Content-Type"] = "text/plain; charset=UTF-8"
    add_headers(response, NEGOTIATED)
    response.body = f"no status handler group {group!r}".encode("utf-8", "backslashreplace")
    return response


def _health_json(request: Any, app: AppStatus, report: StatusReport, details: bool) -> Any:
    state = report.state
    changed = report.changed
    version = service_version(app.version, request)
    body = isolated(lambda: render_health_json(
        zip(report.names, report.statuses, report.critical or repeat(True)),
        state, details, version,
        None if changed is None else dict(zip(report.names, changed))), app.evaluator)
    response = request.response
    response.status = 503 if state == RED else 200
    response.headers["Content-Type"] = HEALTH_JSON_CONTENT_TYPE
    add_headers(response, NEGOTIATED)
    response.body = body.encode("utf-8")
    return response


def svc_status_view(request: Any) -> Any:
    """Evaluate every status handler and render them in the requested format.

    The format comes from the route's ``type`` (``.json``, ``.csv``,
    ``.prometheus``, ``.html``) and the ``Accept`` header (see
    :func:`choose_format`). Handlers that fail, time out or return nonsense
    are reported ``RED``; the status code is 200, but for
    ``application/health+json`` (asked for by ``Accept``, on any URL but
    ``.html`` and ``.prometheus``), which answers 503 when the state is
    ``RED``. ``?group=NAME`` shows only the handlers of that group (404 for
    a group that does not exist). Unless ``svcstatus.show_details`` allows
    the request to see details, each handler shows its state only.
    """
    matchdict = request.matchdict or {}
    environ = getattr(request, "environ", None)
    accept = environ.get("HTTP_ACCEPT") if environ else None
    if accept is None:
        # A test's DummyRequest keeps its headers in a plain dict of its own
        # (any case); a real request keeps them in its environ, read above.
        headers = getattr(request, "__dict__", {}).get("headers")
        if isinstance(headers, dict):
            accept = headers.get("accept") or headers.get("Accept")
    extension = matchdict.get("type", "")
    health = (extension not in (".html", ".prometheus")
              and wants_health_json(accept, "application/json", "text/csv"))
    fmt = FORMATS["json" if health else choose_format(accept, extension)]
    registry = getattr(request, "registry", None)
    app = get_app_status(registry)
    group = _group(request)
    # Timed, health+json knows since when each handler is in its state.
    timed = health or fmt.timed
    if group is not None and group not in app.groups():
        return _no_group(request, group)
    report = app.evaluate(None, timed, group=group)
    details = app.settings.get("svcstatus.show_details", ALWAYS)
    if details != ALWAYS:
        details = details_allowed(request, details, app.settings.get(
            "svcstatus.details_permission"))
        if not details and not fmt.process_metrics:
            report = report.without_details()
    if health:
        return _health_json(request, app, report, bool(details))
    response = request.response
    response.headers["Content-Type"] = fmt.content_type
    add_headers(response, NEGOTIATED)
    if fmt.process_metrics:
        # Sent in pieces: for a thousand handlers, copying the text into
        # one body would cost more than writing it.
        chunks = _exposition(report, app, fmt.name == "openmetrics")
        response.app_iter = chunks
        response.content_length = sum(map(len, chunks))
        return response
    if fmt.name == "html":
        context = html_context(app, registry, request)
        body = isolated(lambda: render_page(report, context), app.evaluator)
        add_headers(response, (("Content-Security-Policy", html_policy(body)),))
    else:
        body = _render(fmt, report, app)
    response.body = body.encode("utf-8", "backslashreplace")
    return response


def _render(fmt: Format, report: StatusReport, app: AppStatus) -> str:
    """``report`` in ``fmt``, CSV or JSON, made again only when its results
    changed: background results stay the same for many requests."""
    key = report.key
    cache, entry = app.render_cache, f"body:{fmt.name}"
    if key is None:
        cache.pop(entry, None)  # (nor keep what removed handlers returned)
        return isolated(lambda: fmt.render(report), app.evaluator)
    found = cache.get(entry)
    if found is not None and found[0] is key:
        text: str = found[1]
        return text
    plain = plain_only(lambda: fmt.render(report))
    if plain is None:  # made under a deadline, maybe with placeholders: not kept
        return not_plain(lambda: fmt.render(report), app.evaluator)
    cache[entry] = (key, plain)
    return plain


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

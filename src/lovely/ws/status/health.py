"""Kubernetes' health endpoints: ``/livez``, ``/readyz`` and ``/startupz``.

``config.include('lovely.ws.status.health')`` adds one endpoint per
standard group of handlers (``liveness``, ``readiness``, ``startup``), in
the format of the Kubernetes API server: ``200 ok`` while every member
passes, else ``503`` and one line per member. ``YELLOW``, and the ``RED``
of a non-critical handler, pass. ``?verbose`` lists the members on success
too, ``?exclude=NAME`` (repeatable) leaves one out, ``/readyz/NAME`` checks
one member. With :mod:`lovely.ws.status.probestatus` included, ``/readyz``
and ``/startupz`` fail while the probe is decommissioned or draining (the
check :data:`PROBE_CHECK`); ``/livez`` never does, as restarting a draining
pod would cut its drain short. An ``Accept`` header that asks for
``application/health+json`` gets that format instead.

Failure reasons are withheld unless ``health.show_details`` allows them;
the endpoints need no permission (``health.permission``) and no CSRF token.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Sequence, Tuple

from pyramid.exceptions import ConfigurationError
from pyramid.security import NO_PERMISSION_REQUIRED

from .appstatus import AppStatus, get_app_status
from .details import NEVER, as_show_details, details_allowed
from .evaluation.isolation import isolated
from .evaluation.report import counted_state
from .headers import NEGOTIATED, add_headers
from .probe.settings import as_route_path
from .render.healthjson import (
    HEALTH_JSON_CONTENT_TYPE,
    render_health_json,
    service_version,
    wants_health_json,
)
from .render.kubernetes import (
    KUBERNETES_CONTENT_TYPE,
    NOT_FOUND_BODY,
    WITHHELD,
    Line,
    render_check,
    render_checks,
)
from .settings import Setting, add_settings_action, as_text
from .states import OK, RED, YELLOW

__all__ = ["includeme", "PROBE_CHECK"]

PREFIX = "health."

#: The name of the check that fails while the probe is not ``OK``.
PROBE_CHECK = "probe_status"


class Endpoint(NamedTuple):
    """One endpoint: its name in the text, its group and its settings."""

    name: str
    group: str
    path_key: str
    default_path: str
    #: Whether a decommissioned or draining probe fails it.
    probe: bool


ENDPOINTS = (
    Endpoint("livez", "liveness", "health.livez_path", "/livez", probe=False),
    Endpoint("readyz", "readiness", "health.readyz_path", "/readyz", probe=True),
    Endpoint("startupz", "startup", "health.startupz_path", "/startupz", probe=True),
)

HEALTH_SETTINGS = [
    Setting(
        "health.livez_path",
        as_route_path,
        "/livez",
        "The path of the ``liveness`` group's endpoint.",
        "/healthz/live",
    ),
    Setting(
        "health.readyz_path",
        as_route_path,
        "/readyz",
        "The path of the ``readiness`` group's endpoint.",
        "/healthz/ready",
    ),
    Setting(
        "health.startupz_path",
        as_route_path,
        "/startupz",
        "The path of the ``startup`` group's endpoint.",
        "/healthz/started",
    ),
    Setting(
        "health.show_details",
        as_show_details,
        NEVER,
        "Who sees why a check failed: ``never`` (``reason withheld``, as "
        "Kubernetes does), ``always``, or ``when_authorized`` (requests with "
        "``health.details_permission``, or without it any authenticated user).",
        "when_authorized",
    ),
    Setting(
        "health.details_permission",
        as_text,
        None,
        "The permission that ``health.show_details = when_authorized`` asks for.",
        "view-status",
    ),
    Setting(
        "health.permission",
        as_text,
        None,
        "Permission needed to read the endpoints; empty: everybody may (probes "
        "of the kubelet and of load balancers carry no credentials).",
        "view-health",
    ),
]

def _query_values(query: Any, key: str) -> List[str]:
    getall = getattr(query, "getall", None)
    if getall is not None:
        return list(getall(key))
    value = query.get(key) if query else None  # a test's plain dict
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _answer(request: Any, status: int, content_type: str, body: str) -> Any:
    response = request.response
    response.status = status
    response.headers["Content-Type"] = content_type
    add_headers(response, NEGOTIATED)
    response.body = body.encode("utf-8")
    return response


class _Checks:
    """What one request found: per check, its status and criticality (and
    since when it is in its state, for health+json)."""

    def __init__(self, request: Any) -> None:
        headers = request.headers
        #: Whether the answer is health+json.
        self.as_json = wants_health_json(headers.get("accept") or headers.get("Accept"),
                                         "text/plain")
        self.items: List[Tuple[Any, Mapping[str, Any], bool]] = []
        self.times: Dict[Any, float] = {}

    def add_report(self, names: Sequence[Any], app: AppStatus) -> None:
        """Evaluate the handlers ``names`` of ``app``."""
        if not names:
            return
        # Timed, the report knows since when each handler is in its state.
        report = app.evaluate(names, durations=self.as_json)
        for i, (name, status) in enumerate(zip(report.names, report.statuses)):
            self.items.append((name, status, report.is_critical(i)))
        if report.changed is not None:
            self.times.update(zip(report.names, report.changed))

    def add_probe(self, app: AppStatus) -> None:
        read = app.probe_text
        if read is None:
            return
        try:
            text = read()
        except Exception as exc:  # the store cannot be reached: as /probe_status, 503
            status = {"state": RED, "detail": f"probe store unavailable: {exc}"}
        else:
            status = {"state": OK} if text == OK else {"state": RED, "detail": text}
        self.items.append((PROBE_CHECK, status, True))

    def state(self) -> str:
        worst = OK
        for _, status, critical in self.items:
            state = counted_state(status, critical)
            if state == RED:
                return RED
            if state == YELLOW:
                worst = YELLOW
        return worst

    def lines(self, details: bool) -> List[Line]:
        """One line per check, in order."""
        found: List[Line] = []
        for name, status, critical in self.items:
            state = status["state"]
            if counted_state(status, critical) != RED:
                note = "" if state == OK else state if critical else f"{state}, non-critical"
                found.append(Line(name, True, note))
            else:
                detail = status.get("detail") if details else None
                reason = WITHHELD if not details else (
                    state if detail is None or detail == "" else detail)
                found.append(Line(name, False, reason))
        return found


def _respond(request: Any, app: AppStatus, checks: _Checks, details: bool,
             text: Any) -> Any:
    """Answer in health+json when asked to, else with ``text()``'s
    ``(passed, body)``."""
    if checks.as_json:
        state = checks.state()
        version = service_version(app.version, request)
        body = isolated(lambda: render_health_json(
            checks.items, state, details, version, checks.times if details else None),
            app.evaluator)
        return _answer(request, 503 if state == RED else 200, HEALTH_JSON_CONTENT_TYPE, body)
    passed, body = isolated(text, app.evaluator)
    return _answer(request, 200 if passed else 503, KUBERNETES_CONTENT_TYPE, body)


def _details(app: AppStatus, request: Any) -> bool:
    settings = app.settings
    return details_allowed(request, settings.get("health.show_details", NEVER),
                           settings.get("health.details_permission"))


class GroupView:
    """The view of one endpoint: every member of its group."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def __call__(self, request: Any) -> Any:
        endpoint = self.endpoint
        app = get_app_status(getattr(request, "registry", None))
        try:
            query = request.GET
            excluded = set(_query_values(query, "exclude"))
            verbose = "verbose" in query
        except UnicodeDecodeError:  # not UTF-8: as if there were no parameters
            excluded, verbose = set(), False
        members = app.members(endpoint.group)
        checks = _Checks(request)
        checks.add_report([n for n in members if n not in excluded], app)
        evaluated = len(checks.items)
        probe = endpoint.probe and app.probe_text is not None
        if probe and PROBE_CHECK not in excluded:
            checks.add_probe(app)
        details = _details(app, request)

        def text() -> Tuple[bool, str]:
            found = checks.lines(details)
            by_name = {line.name: line for line in found[:evaluated]}
            lines = [Line(name, True, excluded=True) if name in excluded else by_name[name]
                     for name in members if name in excluded or name in by_name]
            if probe:
                lines.append(Line(PROBE_CHECK, True, excluded=True)
                             if PROBE_CHECK in excluded else found[-1])
            known = set(members)
            if probe:
                known.add(PROBE_CHECK)
            return render_checks(endpoint.name, lines, verbose,
                                 [n for n in excluded if n not in known])

        return _respond(request, app, checks, details, text)


class CheckView:
    """The view of ``ENDPOINT/NAME``: one member of the group."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def __call__(self, request: Any) -> Any:
        endpoint = self.endpoint
        app = get_app_status(getattr(request, "registry", None))
        name = (request.matchdict or {}).get("name")
        checks = _Checks(request)
        if name in app.members(endpoint.group):
            checks.add_report([name], app)
        elif name == PROBE_CHECK and endpoint.probe and app.probe_text is not None:
            checks.add_probe(app)
        if not checks.items:  # not a member (or no longer)
            return _answer(request, 404, KUBERNETES_CONTENT_TYPE, NOT_FOUND_BODY)
        details = _details(app, request)

        def text() -> Tuple[bool, str]:
            [line] = checks.lines(details)
            return line.passed, render_check(line)

        return _respond(request, app, checks, details, text)


def _paths(settings: Dict[str, Any]) -> Dict[str, str]:
    """The path of each endpoint; a bad one is reported at commit."""
    paths = {}
    for endpoint in ENDPOINTS:
        try:
            paths[endpoint.name] = as_route_path(
                settings.get(endpoint.path_key, endpoint.default_path))
        except ValueError:
            paths[endpoint.name] = endpoint.default_path
    return paths


def includeme(config: Any) -> None:
    """Add ``/livez``, ``/readyz`` and ``/startupz`` (routes ``health.livez``
    ...), each with ``/NAME`` for one check (``health.livez.check`` ...), and
    read the ``health.*`` settings."""
    config.include("lovely.ws.status")
    settings = config.get_settings() or {}
    app = get_app_status(config.registry)

    def install(typed: Dict[str, Any]) -> None:
        paths = [typed[e.path_key] for e in ENDPOINTS]
        if len(set(paths)) < len(paths):
            raise ConfigurationError(
                "the health endpoints need three different paths, got "
                + ", ".join(f"{e.path_key} = {typed[e.path_key]}" for e in ENDPOINTS))
        app.settings.update(typed)

    add_settings_action(config, PREFIX, HEALTH_SETTINGS, then=install)
    permission = as_text(settings.get("health.permission")) or NO_PERMISSION_REQUIRED
    options = {"permission": permission, "require_csrf": False}
    for endpoint in ENDPOINTS:
        path = _paths(settings)[endpoint.name].rstrip("/") or "/"
        route = f"health.{endpoint.name}"
        config.add_route(route, path)
        config.add_view(GroupView(endpoint), route_name=route, **options)
        config.add_route(route + ".check", path.rstrip("/") + "/{name}")
        config.add_view(CheckView(endpoint), route_name=route + ".check", **options)

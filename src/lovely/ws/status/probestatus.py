"""The ``/probe_status`` view that load balancers poll.

It answers ``OK`` with 200 until the instance is decommissioned: a ``POST
/probe_status?body=TEXT`` stores ``TEXT`` and every ``GET`` and ``HEAD``
then gets ``TEXT`` with ``503 Service Unavailable``. A ``POST`` without
``body`` puts it back to ``OK``.

With no settings the text lives in this process (:data:`RESPONSE_BODY`)
and anybody may ``POST``, as in 1.0, with two differences on purpose: a
browser may not do it for another site (``probestatus.refuse_cross_site``),
and a ``POST`` that carries more than ``body`` is refused, as are methods
other than ``GET``, ``HEAD`` and ``POST`` (``probestatus.strict_requests``).
The other settings under ``probestatus.`` share the text between processes
and hosts, restrict who may change it, move the route and drain the
process on ``SIGTERM`` (:mod:`lovely.ws.status.probe`).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Union

import venusian
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from .appstatus import AppStatus, get_app_status
from .headers import NO_STORE, add_headers
from .probe.drain import install_sigterm_handler
from .probe.filestore import FileStore
from .probe.guard import Guard
from .probe.redisstore import RedisStore
from .probe.settings import DEFAULT_PATH, PROBESTATUS_SETTINGS, as_route_path
from .probe.store import OK, ProbeStore, StoreUnavailable, check_text, checked_text
from .probe.urls import open_store
from .settings import add_settings_action

__all__ = [
    "probe_status_view",
    "includeme",
    "RESPONSE_BODY",
    "get_store",
    "store_from_url",
    "StoreUnavailable",
]

log = logging.getLogger(__name__)

ROUTE_NAME = "probe_status"
CONTENT_TYPE = "text/plain; charset=UTF-8"

#: The text of the default store, one per process, as in 1.0 (test suites
#: set it back to ``"OK"``).
RESPONSE_BODY = "OK"


class MemoryStore:
    """The probe text in this process only: :data:`RESPONSE_BODY`, as in 1.0."""

    url = "memory"

    def get(self) -> str:
        return RESPONSE_BODY

    def set(self, text: str) -> None:
        global RESPONSE_BODY
        RESPONSE_BODY = checked_text(text)

    def __repr__(self) -> str:
        return "<MemoryStore>"


_MEMORY = MemoryStore()


def _store_of(app: AppStatus) -> ProbeStore:
    return _MEMORY if app.store is None else app.store


def get_store(registry: Any = None) -> ProbeStore:
    """The probe store of the app of ``registry`` (1.0's memory store by default)."""
    return _store_of(get_app_status(registry))


def store_from_url(url: Optional[str]) -> Union[MemoryStore, FileStore, RedisStore]:
    """A store for a ``probestatus.store`` URL; :class:`ValueError` if bad.

    >>> store_from_url('memory')
    <MemoryStore>
    >>> store_from_url('file:///tmp/probe')
    <FileStore '/tmp/probe'>
    """
    store = open_store(url)
    return _MEMORY if store is None else store


#: Headers of every answer: no cache between the load balancer and the app
#: may keep an instance in (or out of) rotation, and no browser may take the
#: text for anything but text.
_ALLOW = "GET, HEAD, POST"

#: The checks of a POST in an app whose settings were never read (the view
#: called with a bare DummyRequest): the defaults of the settings.
_DEFAULT_GUARD = Guard()


def _answer(request: Any, text: str, status: Optional[int] = None) -> Response:
    response: Optional[Response] = request.__dict__.get("response")
    if response is not None:
        # The app (a subscriber, a tween) has been at request.response
        # already: answer with it, as 1.0 did, so its headers survive.
        response.status = status or 200
        response.headers["Content-Type"] = CONTENT_TYPE
        add_headers(response, NO_STORE)
        response.body = text.encode("utf-8")
        return response
    # A fresh Response costs about a third of request.response plus header
    # assignments, and /probe_status is the most polled URL of an app.
    # status=None is webob's fast path for 200.
    response = Response(body=text.encode("utf-8"), status=status, content_type=CONTENT_TYPE)
    response.headerlist.extend(NO_STORE)
    return response


def read_probe(app: AppStatus) -> str:
    """The text the probe answers now: the drain text while this process
    drains, else the stored text; :class:`StoreUnavailable` if unreachable."""
    drainer = app.drainer
    if drainer is not None and drainer.draining:
        return drainer.text
    store = app.store
    if store is None:  # 1.0's memory store, without a call: the most polled path
        return RESPONSE_BODY
    try:
        text = store.get()
    except StoreUnavailable as exc:
        missed = app.store_throttle.fail()
        if missed is not None:
            log.warning("probe_status cannot read the probe text: %s%s", exc,
                        f" ({missed} more failures since the last warning)" if missed else "")
        raise
    if app.store_throttle.clear():
        log.info("probe_status: the probe store %r is reachable again", store)
    return text


def _post(request: Any, app: AppStatus) -> Response:
    guard = app.guard or _DEFAULT_GUARD
    refusal = guard.refusal(request)
    if refusal is not None:
        return _answer(request, refusal, 403)
    try:
        problem = guard.bad_request(request)
        text = request.GET.get("body", OK)
    except UnicodeDecodeError:
        return _answer(request, "Bad Request: the query string is not valid UTF-8", 400)
    if problem is None:
        problem = check_text(text)
    if problem is not None:
        return _answer(request, f"Bad Request: {problem}; the probe is unchanged", 400)
    try:
        _store_of(app).set(text)
    except StoreUnavailable as exc:
        log.warning("probe_status cannot store the probe text: %s", exc)
        # A write that timed out may still land: say no more than we know.
        return _answer(
            request, f"probe store unavailable, the text may not have been stored: {exc}", 503
        )
    # Operators want to know who took an instance out of rotation, and when.
    log.info(
        "probe_status set to %r by a POST from %s",
        text, getattr(request, "remote_addr", None) or "an unknown address",
    )
    return _answer(request, text)


def _not_allowed(request: Any) -> Response:
    response = _answer(
        request, f"Method Not Allowed: {request.method} (the probe takes {_ALLOW})", 405
    )
    response.headers["Allow"] = _ALLOW
    return response


def probe_status_view(request: Any) -> Response:
    """``GET`` and ``HEAD`` read the probe text (503 unless ``OK``), ``POST`` sets it.

    The text of a ``POST`` is the query parameter ``body`` (``OK`` when it is
    absent). A ``POST`` refused by the checks of ``probestatus.*`` gets 403;
    one with a ``body`` that is no valid probe text, a request body or
    another query parameter gets 400; both leave the probe unchanged. Other
    methods get 405. When the store cannot be reached every request gets
    503 with a text that says so.
    """
    method = request.method
    app = get_app_status(getattr(request, "registry", None))
    if method != "GET" and method != "HEAD":
        if method == "POST":
            return _post(request, app)
        if (app.guard or _DEFAULT_GUARD).strict:
            return _not_allowed(request)
    try:
        text = read_probe(app)
    except StoreUnavailable as exc:
        return _answer(request, f"probe store unavailable: {exc}", 503)
    if text == OK:
        return _answer(request, text)
    return _answer(request, text, 503)


def _install(app: AppStatus, typed: Dict[str, Any]) -> None:
    app.settings.update(typed)
    store = open_store(typed["probestatus.store"])
    app.store = store
    if isinstance(store, FileStore):
        warning = store.directory_warning()
        if warning is not None:
            log.warning("probestatus.store: %s", warning)
    app.guard = Guard(
        typed["probestatus.permission"],
        typed["probestatus.allow_from"],
        refuse_cross_site=typed["probestatus.refuse_cross_site"],
        allowed_hosts=typed["probestatus.allowed_hosts"],
        strict=typed["probestatus.strict_requests"],
    )
    seconds = typed["probestatus.drain_seconds"]
    if seconds:
        app.drainer = install_sigterm_handler(seconds, typed["probestatus.drain_text"])


def _add_view(config: Any) -> None:
    config.add_view(
        probe_status_view,
        route_name=ROUTE_NAME,
        permission=NO_PERMISSION_REQUIRED,
        require_csrf=False,
    )


# config.scan() of this module registers the view, as 1.0's @view_config
# did; with the include as well, the app's registration (the scan) wins.
venusian.attach(
    probe_status_view, lambda scanner, name, ob: _add_view(scanner.config),
    category="pyramid", depth=0,
)


def includeme(config: Any) -> None:
    """Add the route ``probe_status`` and its view, and read ``probestatus.*``.

    The view needs no permission and no CSRF token: ``GET`` and ``HEAD``
    must stay open to load balancers, and a ``POST`` is checked by the view
    itself, as the ``probestatus.*`` settings say.
    """
    config.include("lovely.ws.status")
    settings = config.get_settings() or {}
    try:
        path = as_route_path(settings.get("probestatus.path", DEFAULT_PATH))
    except ValueError:
        path = DEFAULT_PATH  # the settings action reports it at commit
    config.add_route(ROUTE_NAME, path)
    _add_view(config)
    app = get_app_status(config.registry)
    app.probe_text = lambda: read_probe(app)  # for svc_status_probe
    add_settings_action(
        config, "probestatus.", PROBESTATUS_SETTINGS, then=lambda typed: _install(app, typed)
    )

"""The ``/probe_status`` view that load balancers poll.

It answers ``OK`` with 200 until the instance is decommissioned: a ``POST
/probe_status?body=TEXT`` stores ``TEXT`` and every other request then gets
``TEXT`` with ``503 Service Unavailable``. A ``POST`` without ``body`` puts
it back to ``OK``.

With no settings this is lovely-ws-status 1.0's behaviour: the text lives in
this process (:data:`RESPONSE_BODY`) and anybody may ``POST``. The settings
under ``probestatus.`` share the text between processes and hosts
(:mod:`lovely.ws.status.stores`), restrict who may change it, move the route
and drain the process on ``SIGTERM`` (:mod:`lovely.ws.status.drain`).
"""
from __future__ import annotations

import logging
import time
import weakref
from typing import Any, Dict, Optional, Tuple

import venusian
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED

from .settings import (
    Setting,
    add_settings_action,
    as_networks,
    as_seconds_or_zero,
    as_text,
)
from .stores import (
    _DRAINING,
    OK,
    StoreUnavailable,
    _checked,
    check_text,
    parse_store_url,
    store_from_url,
)

__all__ = [
    "probe_status_view",
    "includeme",
    "get_store",
    "RESPONSE_BODY",
    "MemoryStore",
    "MEMORY_STORE",
    "StoreUnavailable",
    "PROBESTATUS_SETTINGS",
    "ROUTE_NAME",
    "ROUTE_PATTERN",
    "CONTENT_TYPE",
]

log = logging.getLogger(__name__)

ROUTE_NAME = "probe_status"
ROUTE_PATTERN = "/probe_status"
CONTENT_TYPE = "text/plain; charset=UTF-8"

#: The text of the default (per process) store, as in 1.0.
RESPONSE_BODY = "OK"


class MemoryStore:
    """The probe text in this process only: :data:`RESPONSE_BODY`, as in 1.0."""

    url = "memory"

    def get(self) -> str:
        draining = _DRAINING[0]
        if draining is not None:
            return draining
        return RESPONSE_BODY

    def set(self, text: str) -> None:
        global RESPONSE_BODY
        RESPONSE_BODY = _checked(text)

    def __repr__(self) -> str:
        return "<MemoryStore>"


#: The one memory store; the store of every registry that configures none.
MEMORY_STORE = MemoryStore()
_MEMORY = MEMORY_STORE

_STORE_ATTR = "lovely_ws_status_probe_store"
_GUARD_ATTR = "lovely_ws_status_probe_guard"


def get_store(registry: Any) -> Any:
    """The probe store of ``registry`` (the memory store by default).

    The store has ``get() -> str`` (which raises :class:`StoreUnavailable`
    when its backend cannot be reached) and ``set(text) -> None``.
    """
    store = getattr(registry, _STORE_ATTR, None)
    return _MEMORY if store is None else store


# --- responses ---------------------------------------------------------------

_NO_STORE = ("Cache-Control", "no-store")


def _answer(request: Any, text: str, status: Optional[int] = None) -> Response:
    response = request.__dict__.get("response")
    if response is not None:
        # The app (a subscriber, a tween) has been at request.response
        # already: answer with it, as 1.0 did, so its headers survive.
        response.status = status or 200
        response.headers["Content-Type"] = CONTENT_TYPE
        response.headers["Cache-Control"] = "no-store"
        response.body = text.encode("utf-8")
        return response
    # A fresh Response costs about a third of request.response plus header
    # assignments, and /probe_status is the most frequently polled URL of an
    # app. status=None is webob's fast path for 200; an int is cheaper than
    # a status line, which webob first tries to parse as an int.
    response = Response(
        body=text.encode("utf-8"), status=status, content_type=CONTENT_TYPE
    )
    response.headerlist.append(_NO_STORE)
    return response


# When a store fails, say so in the log once, then at most every
# _WARNING_INTERVAL seconds while it stays down; say when it is back.
# Keyed by id() so that the hot path only tests the dict for emptiness; the
# weak reference tells a reused id of a new store from the failed one.
_WARNING_INTERVAL = 60.0
_FAILING: Dict[int, Tuple[Any, float]] = {}


def _failing_since(store: Any) -> Optional[float]:
    entry = _FAILING.get(id(store))
    if entry is None:
        return None
    if entry[0]() is not store:
        _FAILING.pop(id(store), None)
        return None
    return entry[1]


def _store_failed(store: Any, exc: StoreUnavailable, action: str) -> None:
    now = time.monotonic()
    last = _failing_since(store)
    if last is None or now - last >= _WARNING_INTERVAL:
        try:
            ref = weakref.ref(store)
        except TypeError:  # a store class without weak reference support
            ref = lambda: store  # noqa: E731
        _FAILING[id(store)] = (ref, now)
        log.warning("probe_status cannot %s the probe text: %s", action, exc)


def _store_recovered(store: Any) -> None:
    if _failing_since(store) is not None:
        _FAILING.pop(id(store), None)
        log.info("probe_status: the probe store %r is reachable again", store)


# --- who may change the probe ------------------------------------------------


class _Guard:
    """The ``probestatus.permission`` and ``probestatus.allow_from`` checks."""

    __slots__ = ("permission", "networks")

    def __init__(self, permission: Optional[str], networks: Tuple[Any, ...]) -> None:
        self.permission = permission
        self.networks = networks

    def refusal(self, request: Any) -> Optional[str]:
        """Why ``request`` may not change the probe, or ``None``."""
        # The view is exempt from CSRF checks (machines POST to it), so a
        # locked probe refuses what only browsers send for a request made by
        # another site: without this any page opened by somebody inside
        # allow_from (or logged in with the permission) could switch it off.
        cross_site = _cross_site(request)
        if cross_site is not None:
            return (
                f"Forbidden: a cross-site request ({cross_site}) from a browser "
                "may not change the probe"
            )
        if self.networks:
            address = getattr(request, "remote_addr", None)
            if not _address_allowed(address, self.networks):
                who = address or "a client without an address"
                return f"Forbidden: {who} may not change the probe (allow_from)"
        permission = self.permission
        if permission is not None:
            if not _has_security_policy(getattr(request, "registry", None)):
                # Pyramid grants every permission without a security policy:
                # the operator meant to lock the probe, so keep it locked.
                log.error(
                    "probe_status: probestatus.permission is %r but the app has "
                    "no security policy; every POST is refused", permission,
                )
                return (
                    f"Forbidden: changing the probe needs the permission {permission!r}, "
                    "and the app has no security policy to grant it"
                )
            if not request.has_permission(permission):
                return f"Forbidden: changing the probe needs the permission {permission!r}"
        return None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _cross_site(request: Any) -> Optional[str]:
    """What marks ``request`` as sent by a browser for another site, or ``None``.

    ``Sec-Fetch-Site`` when the browser sends it, else an ``Origin`` that is
    not the request's own host. Machine clients send neither.
    """
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        site = site.strip().lower()
        if site in ("same-origin", "none"):
            return None
        if site in ("cross-site", "same-site"):
            return f"Sec-Fetch-Site: {site}"
    origin = headers.get("Origin")
    if origin is None:
        return None
    origin = origin.strip()
    if origin.lower() == "null":
        return "Origin: null"
    host = headers.get("Host") or getattr(request, "host", None) or ""
    if not _same_host(origin, host):
        return f"Origin: {origin}"
    return None


def _same_host(origin: str, host: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        theirs = (parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower()))
        own = urlsplit("//" + host.strip())
        own_port = own.port
    except ValueError:
        return False
    if not theirs[0] or theirs[0] != own.hostname:
        return False
    if own_port is None:
        # Behind a proxy the Host header often has no port while the
        # browser's Origin has the default one of its scheme.
        return theirs[1] in (80, 443)
    return own_port == theirs[1]


def _has_security_policy(registry: Any) -> bool:
    """Whether ``registry`` has a policy under which a permission can be denied."""
    query = getattr(registry, "queryUtility", None)
    if query is None:  # no registry at all: nothing can grant the permission
        return False
    from pyramid.interfaces import IAuthenticationPolicy

    try:  # Pyramid 2
        from pyramid.interfaces import ISecurityPolicy
    except ImportError:  # pragma: no cover - Pyramid 1.10
        ISecurityPolicy = None  # noqa: N806
    if ISecurityPolicy is not None and query(ISecurityPolicy) is not None:
        return True
    # Pyramid 1.10 grants everything without an authentication policy.
    return query(IAuthenticationPolicy) is not None


def _address_allowed(address: Any, networks: Tuple[Any, ...]) -> bool:
    import ipaddress

    if not address:
        return False
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    candidates = [ip]
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 from a dual-stack socket
        candidates.append(mapped)
    return any(candidate in network for candidate in candidates for network in networks)


# --- the view ----------------------------------------------------------------


def _post(request: Any, registry: Any, store: Any) -> Response:
    guard = getattr(registry, _GUARD_ATTR, None)
    if guard is not None:
        refusal = guard.refusal(request)
        if refusal is not None:
            return _answer(request, refusal, 403)
    try:
        text = request.GET.get("body", OK)
    except UnicodeDecodeError:
        return _answer(request, "Bad Request: the query string is not valid UTF-8", 400)
    problem = check_text(text)
    if problem is not None:
        return _answer(request, f"Bad Request: {problem}; the probe is unchanged", 400)
    try:
        store.set(text)
    except StoreUnavailable as exc:
        _store_failed(store, exc, "store")
        return _answer(request, f"probe store unavailable, the probe is unchanged: {exc}", 503)
    # Operators want to know who took an instance out of rotation, and when.
    log.info(
        "probe_status set to %r by a POST from %s",
        text, getattr(request, "remote_addr", None) or "an unknown address",
    )
    return _answer(request, text)


def probe_status_view(request: Any) -> Response:
    """``POST`` sets the probe text; anything else reads it (503 unless ``OK``).

    The text of a ``POST`` is the query parameter ``body`` (``OK`` when it is
    absent). A ``POST`` refused by ``probestatus.permission`` or
    ``probestatus.allow_from`` gets 403, a ``body`` that :func:`check_text`
    rejects gets 400; both leave the probe unchanged. When the store cannot
    be reached every request gets 503 with a text that says so.
    """
    registry = getattr(request, "registry", None)
    store = getattr(registry, _STORE_ATTR, None)
    if store is None:
        store = _MEMORY
    if request.method == "POST":
        return _post(request, registry, store)
    try:
        text = store.get()
    except StoreUnavailable as exc:
        _store_failed(store, exc, "read")
        return _answer(request, f"probe store unavailable: {exc}", 503)
    if _FAILING:
        _store_recovered(store)
    if text == OK:
        return _answer(request, text)
    return _answer(request, text, 503)


# --- settings and includeme --------------------------------------------------


def as_store_url(value: Any) -> str:
    """A probe store URL, checked by :func:`~.stores.parse_store_url`."""
    spec = parse_store_url(value)
    if spec.kind == "memory":
        return "memory"
    return str(value).strip()


def as_route_path(value: Any) -> str:
    """A fixed URL path such as ``/probe_status`` or ``/health``."""
    text = str(value).strip() if value is not None else ""
    if not text.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {value!r}")
    if any(c.isspace() or c in "{}?#" for c in text):
        raise ValueError(f"expected a plain path (no space, {{}}, ? or #): {value!r}")
    return text


def as_drain_text(value: Any) -> str:
    """A probe text other than ``OK``."""
    text = str(value).strip() if value is not None else ""
    problem = check_text(text)
    if problem is not None:
        raise ValueError(problem)
    if text in ("", OK):
        raise ValueError(f"the drain text must not be empty or 'OK', got {value!r}")
    return text


PROBESTATUS_SETTINGS = [
    Setting(
        "probestatus.store",
        as_store_url,
        "memory",
        "Where the probe text lives: ``memory`` (this process, as in 1.0), "
        "``file:///absolute/path`` (every process on the host) or "
        "``redis://host:port/db`` (every host; ``?key=`` names the key).",
        "file:///run/myapp/probe",
    ),
    Setting(
        "probestatus.permission",
        as_text,
        None,
        "Permission a POST needs under the app's security policy; empty: none.",
        "manage-probe",
    ),
    Setting(
        "probestatus.allow_from",
        as_networks,
        (),
        "Networks (CIDR, IPv4 and IPv6) a POST must come from, judged by "
        "``request.remote_addr``; empty: any address.",
        "127.0.0.0/8 ::1 10.0.0.0/8",
    ),
    Setting(
        "probestatus.path",
        as_route_path,
        ROUTE_PATTERN,
        "URL path of the probe route (read when the module is included).",
        "/health",
    ),
    Setting(
        "probestatus.drain_seconds",
        as_seconds_or_zero,
        0.0,
        "On SIGTERM, answer the drain text with 503 for this many seconds "
        "before the process stops; 0: off.",
        "15",
    ),
    Setting(
        "probestatus.drain_text",
        as_drain_text,
        "DRAINING",
        "The probe text while the process drains.",
        "SHUTTING DOWN",
    ),
]


def _install(registry: Any, typed: Dict[str, Any]) -> None:
    setattr(registry, _STORE_ATTR, store_from_url(typed["probestatus.store"]))
    permission = typed["probestatus.permission"]
    networks = typed["probestatus.allow_from"]
    guard = _Guard(permission, networks) if permission or networks else None
    setattr(registry, _GUARD_ATTR, guard)
    seconds = typed["probestatus.drain_seconds"]
    if seconds:
        from . import drain

        drain.install_sigterm_handler(seconds, typed["probestatus.drain_text"])


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
    itself against ``probestatus.permission`` and ``probestatus.allow_from``.
    """
    config.include("lovely.ws.status")
    settings = config.get_settings() or {}
    try:
        path = as_route_path(settings.get("probestatus.path", ROUTE_PATTERN))
    except ValueError:
        path = ROUTE_PATTERN  # the settings action reports it at commit
    config.add_route(ROUTE_NAME, path)
    _add_view(config)
    registry = config.registry
    add_settings_action(
        config,
        "probestatus.",
        PROBESTATUS_SETTINGS,
        then=lambda typed: _install(registry, typed),
    )

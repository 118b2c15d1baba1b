"""The ``/probe_status`` view that load balancers poll.

It answers ``OK`` with 200 until the instance is decommissioned: a ``POST
/probe_status?body=TEXT`` stores ``TEXT`` and every other request then gets
``TEXT`` with ``503 Service Unavailable``. A ``POST`` without ``body`` puts
it back to ``OK``.
"""
from __future__ import annotations

from typing import Any

from pyramid.security import NO_PERMISSION_REQUIRED

__all__ = ["probe_status_view", "includeme", "RESPONSE_BODY", "MemoryStore", "StoreUnavailable"]

ROUTE_NAME = "probe_status"
ROUTE_PATTERN = "/probe_status"
CONTENT_TYPE = "text/plain; charset=UTF-8"

#: The text of the default (per process) store, as in 1.0.
RESPONSE_BODY = "OK"


class StoreUnavailable(Exception):
    """The store of the probe text cannot be reached (for example Redis is down)."""


class MemoryStore:
    """The probe text in this process only (module global, as in 1.0)."""

    def get(self) -> str:
        return RESPONSE_BODY

    def set(self, text: str) -> None:
        global RESPONSE_BODY
        RESPONSE_BODY = text


_MEMORY = MemoryStore()
_STORE_ATTR = "lovely_ws_status_probe_store"


def get_store(registry: Any) -> Any:
    """The probe store of ``registry`` (the memory store by default)."""
    return getattr(registry, _STORE_ATTR, None) or _MEMORY


def probe_status_view(request: Any) -> Any:
    """``POST`` sets the probe text; anything else reads it (503 unless OK)."""
    store = get_store(getattr(request, "registry", None))
    response = request.response
    if request.method == "POST":
        text = request.GET.get("body", "OK")
        store.set(text)
    else:
        text = store.get()
        if text != "OK":
            response.status = 503
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    response.text = text
    return response


def includeme(config: Any) -> None:
    """Add the route ``probe_status`` and its view."""
    config.include("lovely.ws.status")
    config.add_route(ROUTE_NAME, ROUTE_PATTERN)
    config.add_view(
        probe_status_view,
        route_name=ROUTE_NAME,
        permission=NO_PERMISSION_REQUIRED,
        require_csrf=False,
    )

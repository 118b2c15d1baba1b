"""Who may change the probe: :class:`Guard`.

``/probe_status`` needs no permission and no CSRF token (load balancers
read it, machines ``POST`` to it), so the view asks the app's guard, built
from ``probestatus.permission`` and ``probestatus.allow_from``, whether a
``POST`` may change the text.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status.probestatus")


class Guard:
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
        pass
    else:
        if query(ISecurityPolicy) is not None:
            return True
    # Pyramid 1.10 grants everything without an authentication policy.
    return query(IAuthenticationPolicy) is not None


def _address_allowed(address: Any, networks: Tuple[Any, ...]) -> bool:
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

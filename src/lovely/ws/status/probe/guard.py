"""Who may change the probe, and what a change may carry: :class:`Guard`.

``/probe_status`` needs no permission and no CSRF token (load balancers
read it, machines ``POST`` to it), so the view asks the app's guard, built
from the ``probestatus.*`` settings, whether a ``POST`` may change the
text: browsers get what they need to be kept from doing it for another
site (machines send none of the headers this looks at), then
``probestatus.allow_from`` and ``probestatus.permission`` apply.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, List, Optional, Tuple
from urllib.parse import urlsplit

from ..throttle import Throttle

__all__: List[str] = []

log = logging.getLogger("lovely.ws.status.probestatus")


class Guard:
    """The checks of a ``POST`` to the probe, from the ``probestatus.*`` settings.

    :param permission: ``probestatus.permission``.
    :param networks: ``probestatus.allow_from``.
    :param refuse_cross_site: ``probestatus.refuse_cross_site``.
    :param allowed_hosts: ``probestatus.allowed_hosts``.
    :param strict: ``probestatus.strict_requests``.
    """

    __slots__ = (
        "permission", "networks", "refuse_cross_site", "allowed_hosts", "strict", "throttle"
    )

    def __init__(
        self,
        permission: Optional[str] = None,
        networks: Tuple[Any, ...] = (),
        refuse_cross_site: bool = True,
        allowed_hosts: Tuple[str, ...] = (),
        strict: bool = True,
    ) -> None:
        self.permission = permission
        self.networks = networks
        self.refuse_cross_site = refuse_cross_site
        self.allowed_hosts = allowed_hosts
        self.strict = strict
        #: Says when to log that the permission cannot be granted: each
        #: refused POST would otherwise log an error.
        self.throttle: Optional[Throttle] = None if permission is None else Throttle()

    def refusal(self, request: Any) -> Optional[str]:
        """Why ``request`` may not change the probe (a 403), or ``None``."""
        # The view is exempt from CSRF checks (machines POST to it), so the
        # probe refuses what only browsers send for a request made by
        # another site: without this any page opened by somebody who can
        # reach the probe (inside allow_from, or logged in with the
        # permission) could switch it off.
        if self.refuse_cross_site:
            refusal = _browser_refusal(request, self.allowed_hosts)
            if refusal is not None:
                return refusal
        if self.networks:
            address = getattr(request, "remote_addr", None)
            if not _address_allowed(address, self.networks):
                who = address or "a client without an address"
                return f"Forbidden: {who} may not change the probe (allow_from)"
        permission = self.permission
        if permission is not None:
            if not has_security_policy(getattr(request, "registry", None)):
                # Pyramid grants every permission without a security policy:
                # the operator meant to lock the probe, so keep it locked.
                missed = self.throttle.fail() if self.throttle is not None else 0
                if missed is not None:
                    log.error(
                        "probe_status: probestatus.permission is %r but the app has "
                        "no security policy; every POST is refused%s", permission,
                        f" ({missed} more refused since the last error)" if missed else "",
                    )
                return (
                    f"Forbidden: changing the probe needs the permission {permission!r}, "
                    "and the app has no security policy to grant it"
                )
            if not request.has_permission(permission):
                return f"Forbidden: changing the probe needs the permission {permission!r}"
        return None

    def bad_request(self, request: Any) -> Optional[str]:
        """Why a ``POST`` carries more than the probe takes (a 400), or ``None``.

        The probe takes the query parameter ``body`` and nothing else; a
        client that sends a form, a file or another parameter means
        something the probe would not do (1.0 set the text to ``OK``).
        ``None`` whatever the request holds when :attr:`strict` is off;
        :class:`UnicodeDecodeError` when the query string is not UTF-8.
        """
        if not self.strict:
            return None
        if _has_body(request):
            return (
                "the probe takes no request body, only the query parameter body "
                "(POST ?body=TEXT)"
            )
        query = request.GET
        for name in query:
            if name != "body":
                return (
                    f"unknown query parameter {name!r}, the probe takes only body "
                    "(POST ?body=TEXT)"
                )
        getall = getattr(query, "getall", None)
        if getall is not None and len(getall("body")) > 1:
            return "the query parameter body is given more than once"
        return None


def _has_body(request: Any) -> bool:
    """Whether ``request`` carries a request body, of any kind.

    Judged by the WSGI environ, as the server got the request (a
    ``DummyRequest`` has none unless a test sets ``CONTENT_LENGTH``).
    """
    environ = getattr(request, "environ", None) or {}
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            if int(length) > 0:
                return True
        except ValueError:
            return True  # the WSGI server should have refused it
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        stream = environ.get("wsgi.input")
        return stream is not None and bool(stream.read(1))
    return False


def _browser_refusal(request: Any, allowed_hosts: Tuple[str, ...]) -> Optional[str]:
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    cross_site = _cross_site(headers, request)
    if cross_site is not None:
        return (
            f"Forbidden: a cross-site request ({cross_site}) from a browser "
            "may not change the probe"
        )
    if headers.get("Sec-Fetch-Site") is None and headers.get("Origin") is None:
        return None  # not from a browser
    # DNS rebinding: a page of rebind.attacker.example whose name now
    # resolves to this server is "same-origin" for the browser, Origin and
    # Host included. Only the name tells: a browser sends an IP address or
    # a name the operator listed only for a page that really is one of
    # theirs.
    host = _host_of(headers, request)
    if host is None or not _host_allowed(host, allowed_hosts):
        what = f"the host {host!r}" if host else "no host"
        return (
            f"Forbidden: a browser request for {what} may not change the probe: "
            "it is neither an IP address nor one of probestatus.allowed_hosts"
        )
    return None


def _host_of(headers: Any, request: Any) -> Optional[str]:
    host = headers.get("Host") or getattr(request, "host", None) or ""
    try:
        name = urlsplit("//" + str(host).strip()).hostname
    except ValueError:
        return None
    return name or None


def _host_allowed(name: str, allowed_hosts: Tuple[str, ...]) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return True
    name = name.rstrip(".")  # "example.com." is "example.com"
    for allowed in allowed_hosts:
        if name == allowed or (allowed.startswith(".") and (
            name.endswith(allowed) or name == allowed[1:]
        )):
            return True
    return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _cross_site(headers: Any, request: Any) -> Optional[str]:
    """What marks ``request`` as sent by a browser for another site, or ``None``.

    ``Sec-Fetch-Site`` when the browser sends it, else an ``Origin`` that is
    not the request's own host. Machine clients send neither.
    """
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


def has_security_policy(registry: Any) -> bool:
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

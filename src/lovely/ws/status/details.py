"""Who may see the details of a status: the ``show_details`` rule.

``/svc_status``, ``/__heartbeat__`` (``svcstatus.show_details``) and the
group endpoints of :mod:`lovely.ws.status.health` (``health.show_details``)
show a handler's detail only to those the rule allows; the others get each
handler's name and state, nothing else. The values follow Spring Boot's
``show-details``: ``always``, ``never``, or ``when_authorized``.
"""
from __future__ import annotations

from typing import Any, List, Optional

from .probe.guard import has_security_policy

__all__: List[str] = []

ALWAYS = "always"
NEVER = "never"
WHEN_AUTHORIZED = "when_authorized"
#: The values of a ``show_details`` setting.
SHOW_DETAILS = (ALWAYS, NEVER, WHEN_AUTHORIZED)


def as_show_details(value: Any) -> str:
    """``always``, ``never`` or ``when_authorized`` (any case; ``-`` for ``_``)."""
    text = "" if value is None else str(value).strip().lower().replace("-", "_")
    if text not in SHOW_DETAILS:
        raise ValueError(f"expected one of {', '.join(SHOW_DETAILS)}, got {value!r}")
    return text


def details_allowed(request: Any, mode: str, permission: Optional[str] = None) -> bool:
    """Whether ``request`` may see details under the rule ``mode``.

    ``when_authorized`` allows a request that has ``permission``, or,
    without one, whose user is authenticated. An app without a security
    policy authorizes nobody: Pyramid would grant every permission, and
    the operator asked for the details to be kept from strangers.
    """
    if mode == ALWAYS:
        return True
    if mode != WHEN_AUTHORIZED:
        return False
    if not has_security_policy(getattr(request, "registry", None)):
        return False
    if permission:
        return bool(request.has_permission(permission))
    authenticated = getattr(request, "is_authenticated", None)  # Pyramid 2
    if authenticated is None:
        authenticated = request.authenticated_userid is not None
    return bool(authenticated)

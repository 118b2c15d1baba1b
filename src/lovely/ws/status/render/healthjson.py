"""``application/health+json``: the IETF draft "Health Check Response Format
for HTTP APIs" (draft-inadarei-api-health-check).

One object: ``status`` (``pass``, ``warn`` or ``fail``), the service's
``version`` when it is known, and ``checks``: for each handler, by name, a
list of one object with its ``status``, the ``time`` its state last changed
(when known), ``critical: false`` for a non-critical handler, and
``output`` (its detail) for one that does not pass, when details are shown.
"""
from __future__ import annotations

import datetime
import json
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from webob.acceptparse import AcceptValidHeader, create_accept_header

from ..states import OK, RED, STATES, YELLOW, severity
from ..text import to_text
from .json import render_json

__all__ = [
    "HEALTH_JSON_CONTENT_TYPE",
    "HEALTH_STATUS",
    "render_health_json",
    "wants_health_json",
    "version_text",
    "service_version",
]

HEALTH_JSON_CONTENT_TYPE = "application/health+json"

#: The draft's status of each state.
HEALTH_STATUS: Dict[str, str] = {OK: "pass", YELLOW: "warn", RED: "fail"}

#: ``(name, status, critical)``: one check.
Check = Tuple[Any, Mapping[str, Any], bool]


def render_health_json(
    checks: Iterable[Check],
    state: str,
    details: bool = True,
    version: Optional[str] = None,
    times: Optional[Mapping[Any, float]] = None,
) -> str:
    """The health+json object of ``checks`` whose summary is ``state``.

    ``details`` adds the ``output`` of checks that do not pass; ``times``
    maps names to when their state last changed (seconds since the epoch),
    written as RFC 3339 UTC times.
    """
    body: Dict[str, Any] = {"status": HEALTH_STATUS[STATES[severity(state)]]}
    if version is not None:
        body["version"] = version
    out: Dict[str, List[Dict[str, Any]]] = {}
    for name, status, critical in checks:
        own = STATES[severity(status.get("state"))]
        check: Dict[str, Any] = {"status": HEALTH_STATUS[own]}
        if times is not None and name in times:
            check["time"] = rfc3339(times[name])
        if not critical:
            check["critical"] = False
        if details and own != OK:
            detail = status.get("detail")
            if detail is not None and detail != "":
                check["output"] = to_text(detail)
        out[to_text(name)] = [check]
    body["checks"] = out
    return render_json(body)


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC time, to the second."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _quality(accept: str, media_type: str) -> float:
    """The q-value that ``accept`` gives ``media_type`` by name (ranges with
    wildcards do not count: ``*/*`` asks for no health+json)."""
    header = create_accept_header(accept)
    if not isinstance(header, AcceptValidHeader):
        return 1.0 if media_type in accept.lower() else 0.0
    quality = 0.0
    for media_range, q, _, _ in header.parsed:
        if media_range.split(";", 1)[0].strip().lower() == media_type:
            quality = max(quality, q)
    return quality


def wants_health_json(accept: Any, *others: str) -> bool:
    """Whether an ``Accept`` header names ``application/health+json``, and
    at least as high as any of the media types ``others`` it names."""
    if not accept:
        return False
    text = str(accept)
    if HEALTH_JSON_CONTENT_TYPE not in text.lower():  # the common case, cheaply
        return False
    quality = _quality(text, HEALTH_JSON_CONTENT_TYPE)
    return quality > 0 and all(quality >= _quality(text, other) for other in others)


def version_text(body: bytes) -> Optional[str]:
    """The ``version`` of a Dockerflow version body (JSON), if it has one."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, (str, int, float)):
        return None
    return str(version)


def service_version(source: Optional[Callable[[Any], bytes]], request: Any) -> Optional[str]:
    """The version that the app's Dockerflow version source (``/__version__``)
    gives for ``request``; ``None`` without one, or when it fails (that
    endpoint tells why)."""
    if source is None:
        return None
    try:
        return version_text(source(request))
    except Exception:
        return None

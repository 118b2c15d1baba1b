"""The ``probestatus.*`` settings."""
from __future__ import annotations

import re
from typing import Any, List, Tuple

from ..settings import Setting, as_bool, as_lines, as_networks, as_seconds_or_zero, as_text
from .drain import DEFAULT_TEXT
from .store import OK, check_text
from .urls import parse_store_url

__all__: List[str] = ["PROBESTATUS_SETTINGS"]

#: The path of the probe route unless ``probestatus.path`` says otherwise.
DEFAULT_PATH = "/probe_status"


def as_store_url(value: Any) -> str:
    """A probe store URL, checked by :func:`~.urls.parse_store_url`."""
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


_HOST_NAME = re.compile(r"\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def as_host_names(value: Any) -> Tuple[str, ...]:
    """Host names (``.example.com``: the domain and every name under it)."""
    names = []
    for item in as_lines(value):
        for word in item.split(","):
            word = word.strip()
            if not word:
                continue
            name = word.lower().rstrip(".")
            if _HOST_NAME.fullmatch(name) is None:
                raise ValueError(
                    f"{word!r} is not a host name (write it without scheme, port "
                    "or path; .example.com stands for every name under example.com)"
                )
            names.append(name)
    return tuple(names)


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
        "probestatus.refuse_cross_site",
        as_bool,
        True,
        "Refuse (403) a POST that a browser marks as made for another site "
        "(``Sec-Fetch-Site: cross-site`` or ``same-site``, an ``Origin`` of "
        "another host), and a browser's POST for a host name that is not in "
        "``probestatus.allowed_hosts`` (DNS rebinding). Machine clients send "
        "none of these headers. ``false``: accept them, as 1.0 did.",
        "false",
    ),
    Setting(
        "probestatus.allowed_hosts",
        as_host_names,
        (),
        "Host names under which a page of the app itself may change the probe "
        "from a browser; ``.example.com`` stands for every name under "
        "``example.com``. An IP address in the URL is always allowed; machine "
        "clients are not concerned.",
        "ops.example.com localhost",
    ),
    Setting(
        "probestatus.strict_requests",
        as_bool,
        True,
        "Refuse a POST that carries a request body or a query parameter other "
        "than ``body`` (400), and methods other than GET, HEAD and POST (405). "
        "``false``: 1.0's leniency (they are ignored, and other methods read "
        "the text).",
        "false",
    ),
    Setting(
        "probestatus.path",
        as_route_path,
        DEFAULT_PATH,
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
        DEFAULT_TEXT,
        "The probe text while the process drains.",
        "SHUTTING DOWN",
    ),
]

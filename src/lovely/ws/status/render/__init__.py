"""The output formats of a status report, in one table.

The ``/svc_status`` view and ``pstatus`` both render with :data:`FORMATS`.
The modules :mod:`.csv`, :mod:`.json`, :mod:`.prometheus` and :mod:`.html`
hold the pure functions behind the formats: from ``(name, status)`` pairs
to ``str``, never modifying a status. What the Prometheus formats append
(``prometheus_client``'s registry, or its multiprocess sum) is here too,
and what the HTML page shows besides the report (:func:`html_context`).
"""
from __future__ import annotations

import base64
import contextvars
import hashlib
import importlib
import os
import re
from typing import Any, Callable, Dict, NamedTuple, Optional

from pyramid.registry import global_registry

from ..evaluation.counts import multiproc_dir
from ..evaluation.report import StatusReport
from ..evaluation.share import this_host
from ..states import OK
from .csv import CSV_CONTENT_TYPE, mark_non_critical, render_csv
from .html import (
    DEFAULT_REFRESH,
    DRAINING,
    HTML_CONTENT_TYPE,
    OUT_OF_SERVICE,
    PROBE_UNREACHABLE,
    PageContext,
    ProbeBanner,
    render_page,
    version_fields,
)
from .json import JSON_CONTENT_TYPE, render_json
from .prometheus import OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, render_exposition

_client: Any
_client_metrics: Any
try:
    _client = importlib.import_module("prometheus_client")
    _client_metrics = importlib.import_module("prometheus_client.metrics")
except ImportError:  # the optional extra is not installed
    _client = _client_metrics = None

__all__ = [
    "Format",
    "FORMATS",
    "generate_latest",
    "generate_latest_openmetrics",
    "appending",
    "created_series",
    "probe_up",
    "html_policy",
    "html_context",
]

#: True while the registry is rendered to be appended to ``/svc_status``'s
#: own families: a ``StatusCollector`` there stays silent, so no family is
#: written twice.
_APPENDING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lovely.ws.status.appending", default=False
)


class Format(NamedTuple):
    """One output format of a :class:`StatusReport`."""

    #: ``'csv'``, ``'json'``, ``'prometheus'``, ``'openmetrics'`` or ``'html'``.
    name: str
    content_type: str
    #: The report as text, handlers sorted by name (JSON: registration order).
    render: Callable[[StatusReport], str]
    #: Whether the text shows how long each handler took (so the evaluator
    #: times them).
    timed: bool
    #: Whether a body served over HTTP has the app's counters and probe and
    #: ends with the serving process's own metrics (``pstatus`` leaves them
    #: out: they describe the short-lived ``pstatus`` process).
    process_metrics: bool = False


def appending() -> bool:
    """Whether the registry is being rendered for ``/svc_status`` right now."""
    return _APPENDING.get()


def _registry_text(openmetrics: bool) -> bytes:
    client = _client
    if client is None:
        return b"# EOF\n" if openmetrics else b""
    directory = multiproc_dir()
    token = _APPENDING.set(True)
    try:
        if directory is not None:
            # Each worker has its own values; the multiprocess collector
            # adds up the files of all of them (prometheus_client's way).
            multiprocess: Any = importlib.import_module("prometheus_client.multiprocess")
            registry = client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=directory)
        else:
            registry = client.REGISTRY
        if openmetrics:
            exposition: Any = importlib.import_module(
                "prometheus_client.openmetrics.exposition")
            return bytes(exposition.generate_latest(registry))
        return bytes(client.generate_latest(registry))
    finally:
        _APPENDING.reset(token)


def generate_latest() -> bytes:
    """The exposition of ``prometheus_client``'s default registry (with
    ``PROMETHEUS_MULTIPROC_DIR``: the sum over all processes), or ``b''``."""
    return _registry_text(False)


def generate_latest_openmetrics() -> bytes:
    """:func:`generate_latest` in OpenMetrics, ending with ``# EOF``."""
    return _registry_text(True)


def created_series() -> bool:
    """Whether counters have ``_created`` samples: as for ``prometheus_client``
    (``PROMETHEUS_DISABLE_CREATED_SERIES``, ``disable_created_metrics()``)."""
    if _client_metrics is not None:
        return bool(getattr(_client_metrics, "_use_created", True))
    flag = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return flag.lower() not in ("true", "1")


def probe_up(read: Optional[Callable[[], str]]) -> Optional[bool]:
    """The value of ``svc_status_probe`` from the app's probe reader: whether
    the probe answers ``OK``; ``None`` without a probe."""
    if read is None:
        return None
    try:
        return read() == OK
    except Exception:  # the store cannot be reached: the probe answers 503
        return False


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def html_policy(page: str) -> str:
    """A ``Content-Security-Policy`` that allows exactly the page's inline
    styles (by their hashes) and nothing else: no scripts, images, frames
    or forms."""
    hashes = " ".join(
        "'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
        )
        for style in _STYLE.findall(page)
    )
    styles = hashes or "'none'"
    return (f"default-src 'none'; style-src {styles}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _csv(report: StatusReport) -> str:
    items = report.sorted_items()
    if report.critical is not None:
        marked = report.non_critical
        items = [(name, mark_non_critical(status) if name in marked else status)
                 for name, status in items]
    return render_csv(items)


def _json(report: StatusReport) -> str:
    data = report.as_dict()
    if report.critical is not None:
        for name in report.non_critical:
            data[name] = dict(data[name], critical=False)
    return render_json(data)


def _prometheus(report: StatusReport) -> str:
    return render_exposition(report.names, report.statuses, report.durations, sort=True)


def _openmetrics(report: StatusReport) -> str:
    return render_exposition(report.names, report.statuses, report.durations, sort=True,
                             openmetrics=True) + "# EOF\n"


def _html(report: StatusReport) -> str:
    return render_page(report)


def html_context(app: Any, registry: Any = None, request: Any = None) -> PageContext:
    """What the HTML page of ``app`` (an ``AppStatus``) shows besides the
    report: the app's name (``svcstatus.name``, else the registry's name),
    this host, the version (only with a ``request`` to ask the version
    source with), the probe's banner, and ``svcstatus.html_refresh``."""
    settings = app.settings
    name = settings.get("svcstatus.name")
    # Pyramid's global registry (a view called without an app) names no app.
    if name is None and registry is not None and registry is not global_registry:
        name = getattr(registry, "__name__", None) or None
    version = None
    if request is not None and app.version is not None:
        try:
            version = version_fields(app.version(request))
        except Exception:  # /__version__ tells why
            version = None
    probe = None
    read = app.probe_text
    if read is not None:
        try:
            text = read()
        except Exception:  # the store cannot be reached: the probe answers 503
            probe = ProbeBanner(PROBE_UNREACHABLE)
        else:
            if text != OK:
                drainer = app.drainer
                draining = drainer is not None and drainer.draining
                probe = ProbeBanner(DRAINING if draining else OUT_OF_SERVICE, text)
    return PageContext(
        name=name, host=this_host(), version=version, probe=probe,
        refresh=settings.get("svcstatus.html_refresh", DEFAULT_REFRESH),
    )


#: Every format by name.
FORMATS: Dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("csv", CSV_CONTENT_TYPE, _csv, timed=False),
        Format("json", JSON_CONTENT_TYPE, _json, timed=False),
        Format("prometheus", PROMETHEUS_CONTENT_TYPE, _prometheus, timed=True,
               process_metrics=True),
        Format("openmetrics", OPENMETRICS_CONTENT_TYPE, _openmetrics, timed=True,
               process_metrics=True),
        Format("html", HTML_CONTENT_TYPE, _html, timed=True),
    )
}

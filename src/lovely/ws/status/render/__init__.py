"""The output formats of a status report, in one table.

The ``/svc_status`` view and ``pstatus`` both render with :data:`FORMATS`.
The modules :mod:`.csv`, :mod:`.json`, :mod:`.prometheus` and :mod:`.html`
hold the pure functions behind the formats: from ``(name, status)`` pairs
to ``str``, never modifying a status.
"""
from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Optional

from ..evaluation.report import StatusReport
from .csv import CSV_CONTENT_TYPE, render_csv
from .html import HTML_CONTENT_TYPE, render_html
from .json import JSON_CONTENT_TYPE, render_json
from .prometheus import PROMETHEUS_CONTENT_TYPE, render_prometheus_columns

_generate_latest: Optional[Callable[[], bytes]]
try:
    from prometheus_client import generate_latest as _generate_latest
except ImportError:  # the optional extra is not installed
    _generate_latest = None

__all__ = ["Format", "FORMATS", "generate_latest"]


class Format(NamedTuple):
    """One output format of a :class:`StatusReport`."""

    #: ``'csv'``, ``'json'``, ``'prometheus'`` or ``'html'``.
    name: str
    content_type: str
    #: The report as text, handlers sorted by name (JSON: registration order).
    render: Callable[[StatusReport], str]
    #: Whether the text shows how long each handler took (so the evaluator
    #: times them).
    timed: bool
    #: Whether a body served over HTTP ends with :func:`generate_latest`, the
    #: serving process's own metrics (``pstatus`` leaves them out: they
    #: describe the short-lived ``pstatus`` process).
    process_metrics: bool = False


def generate_latest() -> bytes:
    """The exposition of ``prometheus_client``'s default registry, or ``b''``."""
    if _generate_latest is None:
        return b""
    return _generate_latest()


def _csv(report: StatusReport) -> str:
    return render_csv(report.sorted_items())


def _json(report: StatusReport) -> str:
    return render_json(report.as_dict())


def _prometheus(report: StatusReport) -> str:
    return render_prometheus_columns(*report.sorted_columns())


def _html(report: StatusReport) -> str:
    return render_html(
        report.sorted_items(), dict(zip(report.names, report.durations)), report.timestamp
    )


#: Every format by name.
FORMATS: Dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("csv", CSV_CONTENT_TYPE, _csv, timed=False),
        Format("json", JSON_CONTENT_TYPE, _json, timed=False),
        Format("prometheus", PROMETHEUS_CONTENT_TYPE, _prometheus, timed=True,
               process_metrics=True),
        Format("html", HTML_CONTENT_TYPE, _html, timed=True),
    )
}

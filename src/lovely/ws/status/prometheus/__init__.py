"""The status families on an app's own ``/metrics``, and what Prometheus
and Grafana need to alert on them and show them.

:class:`StatusCollector` is a ``prometheus_client`` collector: register it
on a ``CollectorRegistry`` and the families of ``/svc_status.prometheus``
(``svc_status``, ``svc_status_label``, ``svc_status_duration_seconds``,
``svc_status_checks_total``, ``svc_status_probe``) come with every
exposition of that registry, in both text formats.

The package also holds ``alerts.yml`` (generic alerting rules) and
``dashboard.json`` (a Grafana dashboard); ``pstatus CONFIG --emit
prometheus-rules`` writes rules for an app's own handlers, ``--emit
grafana-dashboard`` the dashboard.
"""
from __future__ import annotations

import importlib
from importlib import resources
from typing import Any, Iterator, List

from pyramid.registry import global_registry

from ..appstatus import get_app_status
from ..config import as_label_layout
from ..render import appending, created_series, probe_up
from ..render.prometheus import (
    CHECKS_HELP,
    DURATION_HELP,
    LABEL_HELP,
    PROBE_HELP,
    PROMETHEUS_HELP,
    render_exposition,
)

__all__ = ["StatusCollector"]

#: The generic alerting rules shipped with the package (see :func:`read_file`).
ALERTS_FILE = "alerts.yml"
#: The Grafana dashboard shipped with the package (see :func:`read_file`).
DASHBOARD_FILE = "dashboard.json"


def read_file(name: str) -> str:
    """The text of :data:`ALERTS_FILE` or :data:`DASHBOARD_FILE`."""
    if name not in (ALERTS_FILE, DASHBOARD_FILE):
        raise ValueError(f"no such file in lovely.ws.status.prometheus: {name!r}")
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


class StatusCollector:
    """The status families of an app, for a ``prometheus_client`` registry.

    ``StatusCollector()`` reports the process-wide handlers of
    :func:`~lovely.ws.status.addStatusHandler` (as 1.0 apps register
    them), ``StatusCollector(registry=config.registry)`` those of that
    Pyramid app. The handlers run at each collection exactly as behind
    ``/svc_status`` (isolated, under the app's timeouts), and count in
    ``svc_status_checks_total``::

        from prometheus_client import REGISTRY
        from lovely.ws.status.prometheus import StatusCollector

        REGISTRY.register(StatusCollector(registry=config.registry))

    While ``/svc_status.prometheus`` appends the default registry after its
    own families, status collectors there report nothing, so no family is
    written twice.
    """

    def __init__(self, registry: Any = None) -> None:
        #: The Pyramid registry of the app; ``None``: the process-wide handlers.
        self.registry = registry

    def _families(self, text: str) -> List[Any]:
        parser: Any = importlib.import_module("prometheus_client.openmetrics.parser")
        return list(parser.text_string_to_metric_families(text))

    def describe(self) -> List[Any]:
        """The families without samples (``prometheus_client`` checks the
        names with this when registering; no handler runs)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            UnknownMetricFamily,
        )

        return [
            UnknownMetricFamily("svc_status", PROMETHEUS_HELP, labels=["name"]),
            UnknownMetricFamily("svc_status_label", LABEL_HELP, labels=["name", "label"]),
            GaugeMetricFamily("svc_status_duration_seconds", DURATION_HELP, labels=["name"],
                              unit="seconds"),
            CounterMetricFamily("svc_status_checks", CHECKS_HELP, labels=["name", "state"]),
            GaugeMetricFamily("svc_status_probe", PROBE_HELP),
        ]

    def collect(self) -> Iterator[Any]:
        """Evaluate the handlers and yield the families."""
        if appending():
            return iter(())
        app = get_app_status(global_registry if self.registry is None else self.registry)
        report = app.evaluate(None, True)
        layout = as_label_layout(app.settings.get("svcstatus.prometheus_labels"))
        # The families of the view's own text, read back: one set of rules
        # (escaping, names that repeat, what a label sample is) for both.
        text = render_exposition(
            report.names, report.statuses, report.durations, sort=True, openmetrics=True,
            label_family=layout != "1.0", checks=app.checks.snapshot(),
            created=created_series(), probe=probe_up(app.probe_text),
        )
        return iter(self._families(text + "# EOF\n"))

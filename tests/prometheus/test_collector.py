"""StatusCollector: the status families on an app's own prometheus_client registry."""
from __future__ import annotations

import pytest
from pyramid.registry import global_registry
from webtest import TestApp

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.prometheus import StatusCollector

from ..helpers import fixed, make_config

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.openmetrics.exposition import (  # noqa: E402
    generate_latest as generate_openmetrics,
)
from prometheus_client.openmetrics.parser import (  # noqa: E402
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text  # noqa: E402


def registry_with(collector):
    registry = prometheus_client.CollectorRegistry()
    registry.register(collector)
    return registry


def samples(text, parse=parse_text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parse(text) for s in family.samples
    }


def test_the_app_s_handlers_on_its_own_registry():
    config = make_config("lovely.ws.status.svcstatus", "lovely.ws.status.probestatus")
    config.add_status_handler("db", fixed(state=OK, labels={"connections": 7}))
    config.add_status_handler("queue", fixed(state=RED))
    config.commit()
    addStatusHandler("shared", fixed(state=YELLOW))
    registry = registry_with(StatusCollector(registry=config.registry))

    text = prometheus_client.generate_latest(registry).decode()
    got = samples(text)
    assert got[("svc_status", (("name", "db"),))] == 0
    assert got[("svc_status", (("name", "queue"),))] == 2
    assert got[("svc_status", (("name", "shared"),))] == 1
    assert got[("svc_status_label", (("label", "connections"), ("name", "db")))] == 7
    assert got[("svc_status_checks_total", (("name", "db"), ("state", "OK")))] == 1
    assert ("svc_status_checks_created", (("name", "db"), ("state", "OK"))) in got
    assert got[("svc_status_probe", ())] == 1
    assert ("svc_status_duration_seconds", (("name", "db"),)) in got
    assert "# TYPE svc_status untyped\n" in text

    om = generate_openmetrics(registry).decode()
    assert om.endswith("# EOF\n")
    assert "# UNIT svc_status_duration_seconds seconds\n" in om
    assert samples(om, parse_openmetrics)[
        ("svc_status_checks_total", (("name", "db"), ("state", "OK")))] == 2


def test_without_a_registry_the_process_wide_handlers():
    addStatusHandler("shared", fixed(state=YELLOW))
    config = make_config()
    config.add_status_handler("own", fixed(state=OK))
    config.commit()
    text = prometheus_client.generate_latest(registry_with(StatusCollector())).decode()
    names = {dict(labels).get("name") for name, labels in samples(text) if name == "svc_status"}
    assert names == {"shared"}
    assert get_app_status(global_registry).checks.snapshot()[1] == [1]


def test_the_app_s_deadlines(blocked):
    config = make_config(settings={"svcstatus.timeout": "0.2"})
    config.add_status_handler("stuck", blocked)
    config.commit()
    text = prometheus_client.generate_latest(
        registry_with(StatusCollector(registry=config.registry))).decode()
    assert samples(text)[("svc_status", (("name", "stuck"),))] == 2


def test_1_0_layout_of_the_labels():
    config = make_config(settings={"svcstatus.prometheus_labels": "1.0"})
    config.add_status_handler("db", fixed(state=OK, labels={"connections": 7}))
    config.commit()
    got = samples(prometheus_client.generate_latest(
        registry_with(StatusCollector(registry=config.registry))).decode())
    assert got[("svc_status", (("name", "db_connections"),))] == 7
    assert not any(name == "svc_status_label" for name, _ in got)


def test_registering_runs_no_handler():
    calls = []
    addStatusHandler("counted", lambda: calls.append(1) or {"state": OK})
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    registry.register(StatusCollector())
    assert calls == []
    # and the names are known: a second collector of the same families is refused
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(StatusCollector())


def test_on_the_default_registry_svc_status_writes_no_family_twice():
    config = make_config()
    config.add_status_handler("db", fixed(state=OK))
    config.commit()
    collector = StatusCollector(registry=config.registry)
    prometheus_client.REGISTRY.register(collector)
    try:
        app = TestApp(config.make_wsgi_app())
        text = app.get("/svc_status.prometheus").text
        om = app.get("/svc_status.prometheus",
                     headers={"Accept": "application/openmetrics-text"}).text
        metrics = prometheus_client.generate_latest().decode()
    finally:
        prometheus_client.REGISTRY.unregister(collector)
    assert text.count("# TYPE svc_status untyped") == 1
    assert om.count("# TYPE svc_status unknown") == 1
    list(parse_text(text))
    list(parse_openmetrics(om))
    # elsewhere (an app's own /metrics) the collector reports
    assert 'svc_status{name="db"} 0.0' in metrics

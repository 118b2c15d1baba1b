"""The Grafana dashboard shipped with the package: valid, and every query
asks only for metrics the exposition has."""
from __future__ import annotations

import json
import re

import pytest

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.prometheus import DASHBOARD_FILE, read_file

from ..helpers import fixed, make_app

parser = pytest.importorskip("prometheus_client.parser")

# PromQL's functions, aggregations and keywords that the queries use
PROMQL_WORDS = {
    "sum", "max", "min", "count", "avg", "rate", "by", "without", "or", "and", "unless",
    "vector", "label_values", "on", "ignoring", "bool", "offset",
}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(read_file(DASHBOARD_FILE))


def queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            yield variable["name"], query["query"]


def metric_names(expr):
    """The metric names an expression selects."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_ranges)
    # names in by (...) / on (...), and label_values' second argument, are labels
    without_groupings = re.sub(r"\b(by|on|ignoring|without)\s*\([^)]*\)", "", without_labels)
    without_groupings = re.sub(r"label_values\(([^,()]*),[^)]*\)", r"(\1)", without_groupings)
    words = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_groupings)
    return {w for w in words if w not in PROMQL_WORDS and not w.startswith("__")}


def exposition_metrics():
    """The metric names of a real /svc_status.prometheus with every family."""
    addStatusHandler("db", fixed(state=OK, labels={"connections": 3}))
    addStatusHandler("queue", fixed(state=RED))
    app = make_app("lovely.ws.status.svcstatus", "lovely.ws.status.probestatus")
    text = app.get("/svc_status.prometheus").text
    return {s.name for f in parser.text_string_to_metric_families(text) for s in f.samples
            if s.name.startswith("svc_status")}


def test_a_grafana_dashboard(dashboard):
    assert dashboard["title"] and dashboard["uid"] == "lovely-ws-status"
    assert isinstance(dashboard["schemaVersion"], int)
    assert [i["type"] for i in dashboard["__inputs"]] == ["datasource"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] in {"stat", "state-timeline", "table", "timeseries"}
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "job", "instance", "name"]


def test_queries_ask_only_for_metrics_of_the_exposition(dashboard):
    available = exposition_metrics()
    assert available == {
        "svc_status", "svc_status_label", "svc_status_duration_seconds",
        "svc_status_last_change_timestamp_seconds",
        "svc_status_checks_total", "svc_status_checks_created", "svc_status_probe",
    }
    used = set()
    for where, expr in queries(dashboard):
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        assert names <= available, f"{where}: {sorted(names - available)} in {expr!r}"
        used |= names
    # every family of the exposition has a panel
    assert used == available - {"svc_status_checks_created",
                                "svc_status_last_change_timestamp_seconds"}


def test_the_metric_name_finder():
    assert metric_names(
        'sum by (name) (rate(svc_status_checks_total{job=~"$job", state="OK"}[5m]))'
        " / count(svc_status == 2) or vector(0)"
    ) == {"svc_status_checks_total", "svc_status"}
    assert metric_names('label_values(svc_status{job=~"$job"}, instance)') == {"svc_status"}

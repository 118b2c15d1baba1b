"""The table of formats, and that ``/svc_status`` and ``pstatus`` share it."""
from __future__ import annotations

import pytest
from pyramid import testing

from lovely.ws.status import render, svcstatus
from lovely.ws.status.appstatus import AppStatus
from lovely.ws.status.evaluation.report import StatusReport
from lovely.ws.status.render import FORMATS
from lovely.ws.status.render.csv import CSV_CONTENT_TYPE, render_csv
from lovely.ws.status.render.html import HTML_CONTENT_TYPE, render_html
from lovely.ws.status.render.json import JSON_CONTENT_TYPE, render_json
from lovely.ws.status.render.prometheus import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    PROMETHEUS_HELP,
    render_exposition,
    render_prometheus,
)
from lovely.ws.status.scripts import pstatus


def report():
    """Names out of order, one of them timed out; a fixed time."""
    return StatusReport(
        ["b", "a", "c"],
        [{"state": "RED", "detail": "down"}, {"state": "OK"}, {"state": "YELLOW"}],
        [0.5, 0.25, None],
        timestamp=0,
    )


def test_content_types():
    assert CSV_CONTENT_TYPE == "text/csv; charset=UTF-8"
    assert JSON_CONTENT_TYPE == "application/json"
    assert PROMETHEUS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=UTF-8"
    assert HTML_CONTENT_TYPE == "text/html; charset=UTF-8"
    assert OPENMETRICS_CONTENT_TYPE == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert PROMETHEUS_HELP == "Status 0->OK, 1->YELLOW, 2->RED"
    assert {name: fmt.content_type for name, fmt in FORMATS.items()} == {
        "csv": CSV_CONTENT_TYPE,
        "json": JSON_CONTENT_TYPE,
        "prometheus": PROMETHEUS_CONTENT_TYPE,
        "openmetrics": OPENMETRICS_CONTENT_TYPE,
        "html": HTML_CONTENT_TYPE,
    }


def test_names_are_the_keys():
    assert [fmt.name for fmt in FORMATS.values()] == list(FORMATS)


def test_timed_when_the_text_shows_durations():
    assert {name: fmt.timed for name, fmt in FORMATS.items()} == {
        "csv": False, "json": False, "prometheus": True, "openmetrics": True, "html": True,
    }


def test_only_prometheus_served_with_the_process_metrics():
    assert [name for name, fmt in FORMATS.items() if fmt.process_metrics] == [
        "prometheus", "openmetrics"]


def test_each_format_renders_the_report():
    r = report()
    items = [("a", r.statuses[1]), ("b", r.statuses[0]), ("c", r.statuses[2])]
    assert FORMATS["csv"].render(r) == render_csv(items) == "a\tOK\t\nb\tRED\tdown\nc\tYELLOW\t"
    assert FORMATS["json"].render(r) == render_json(r.as_dict()) == (
        '{"b":{"state":"RED","detail":"down"},"a":{"state":"OK"},"c":{"state":"YELLOW"}}'
    )
    assert FORMATS["prometheus"].render(r) == render_prometheus(
        items, [("a", 0.25), ("b", 0.5), ("c", None)]
    )
    assert FORMATS["openmetrics"].render(r) == render_exposition(
        ["a", "b", "c"], [s for _, s in items], [0.25, 0.5, None], openmetrics=True
    ) + "# EOF\n"
    assert FORMATS["html"].render(r) == render_html(items, {"a": 0.25, "b": 0.5}, 0)


def test_generate_latest(monkeypatch):
    assert isinstance(render.generate_latest(), bytes)
    assert render.generate_latest_openmetrics().endswith(b"# EOF\n")
    monkeypatch.setattr(render, "_client", None)  # no prometheus_client
    assert render.generate_latest() == b""
    assert render.generate_latest_openmetrics() == b"# EOF\n"


# ---------------------------------------------------------------- the view


def test_svcstatus_uses_the_table():
    assert svcstatus.FORMATS is FORMATS
    assert svcstatus.generate_latest is render.generate_latest
    for extension in ("", ".csv", ".json", ".prometheus", ".html"):
        assert svcstatus.choose_format(None, extension) in FORMATS


OPENMETRICS_FIRST = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"


@pytest.mark.parametrize("extension, accept, name", [
    ("", None, "csv"), (".csv", None, "csv"), (".json", None, "json"),
    (".prometheus", None, "prometheus"), (".prometheus", OPENMETRICS_FIRST, "openmetrics"),
    (".html", None, "html"),
])
def test_view_renders_with_the_table(monkeypatch, extension, accept, name):
    calls = []

    def evaluate(self, names=None, durations=True, group=None):
        calls.append((names, durations))
        return report()

    monkeypatch.setattr(AppStatus, "evaluate", evaluate)
    # 1.0's hook: apps replace generate_latest on svcstatus
    monkeypatch.setattr(svcstatus, "generate_latest", lambda: b"# the process\n")
    monkeypatch.setattr(svcstatus, "generate_latest_openmetrics",
                        lambda: b"# the process\n# EOF\n")
    request = testing.DummyRequest(headers={} if accept is None else {"Accept": accept})
    request.matchdict = {"type": extension}
    response = svcstatus.svc_status_view(request)
    assert response is request.response
    fmt = FORMATS[name]
    assert calls == [(None, fmt.timed)]
    assert response.headers["Content-Type"] == fmt.content_type
    assert response.headers["Cache-Control"] == "no-store"
    expected = fmt.render(report())
    if name == "prometheus":
        expected += "# the process\n"
    if name == "openmetrics":
        expected = expected[:-len("# EOF\n")] + "# the process\n# EOF\n"
    assert response.text == expected


# ---------------------------------------------------------------- pstatus


def test_pstatus_uses_the_table():
    assert pstatus.REPORT_FORMATS is FORMATS
    assert pstatus.FORMATS[0] == "text"
    assert set(pstatus.FORMATS[1:]) <= set(FORMATS)


@pytest.mark.parametrize("name", ["json", "csv", "prometheus"])
def test_pstatus_prints_what_the_table_renders(name):
    # the report alone: not the metrics of the pstatus process
    assert pstatus.render(report(), name) == FORMATS[name].render(report())

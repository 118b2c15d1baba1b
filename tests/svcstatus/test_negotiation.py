"""Which format /svc_status answers: the extension, then ``Accept`` with
its q-values; and the headers of every answer."""
from __future__ import annotations

import base64
import hashlib
import re

import pytest
from pyramid import testing

from lovely.ws.status import OK, addStatusHandler
from lovely.ws.status.svcstatus import choose_format, svc_status_view

from ..helpers import fixed, make_app

CONTENT_TYPES = {
    "csv": "text/csv; charset=UTF-8",
    "json": "application/json",
    "prometheus": "text/plain; version=0.0.4; charset=UTF-8",
    "openmetrics": "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "html": "text/html; charset=UTF-8",
}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: What Prometheus 2 sends when it scrapes.
PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
#: What Prometheus 3 sends.
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)

CASES = [
    # (extension, Accept, format)
    # q-values: 0 means "not this"
    ("", "application/json;q=0", "csv"),
    ("", "application/json;q=0, text/csv", "csv"),
    (".json", "application/json;q=0", "json"),
    (".csv", "application/json;q=0.0, */*", "csv"),
    ("", "text/csv;q=0, application/json;q=0", "csv"),
    (".json", "text/csv;q=0", "json"),
    # 1.0's order among acceptable types: JSON before CSV, whatever the q
    ("", "application/json;q=0.1, text/csv", "json"),
    ("", "text/csv, application/json;q=0.001", "json"),
    ("", "APPLICATION/JSON", "json"),
    ("", "application/json; charset=utf-8", "json"),
    # wildcards name no format (as in 1.0)
    ("", "*/*", "csv"),
    ("", "application/*", "csv"),
    (".json", "text/*", "json"),
    # the extension wins for .html and .prometheus
    (".html", "application/json", "html"),
    (".html", "text/csv", "html"),
    (".prometheus", "application/json", "prometheus"),
    (".prometheus", BROWSER, "prometheus"),
    # .prometheus: OpenMetrics when preferred to text 0.0.4
    (".prometheus", PROMETHEUS_2, "openmetrics"),
    (".prometheus", PROMETHEUS_3, "openmetrics"),
    (".prometheus", "application/openmetrics-text", "openmetrics"),
    (".prometheus", "application/openmetrics-text; version=1.0.0", "openmetrics"),
    (".prometheus", "application/openmetrics-text;version=2.0.0", "prometheus"),
    (".prometheus", "text/plain;version=0.0.4, application/openmetrics-text;q=0.9",
     "prometheus"),
    (".prometheus", "application/openmetrics-text;q=0.5, text/plain;q=0.5", "prometheus"),
    (".prometheus", "application/openmetrics-text;q=0.6, text/*;q=0.5", "openmetrics"),
    (".prometheus", "application/*;q=0.6, text/plain;q=0.5", "openmetrics"),
    (".prometheus", "text/plain;q=0, */*", "openmetrics"),
    (".prometheus", "application/openmetrics-text;q=0", "prometheus"),
    # the extension-less URL keeps 1.0's rules: no OpenMetrics there
    ("", PROMETHEUS_2, "csv"),
    # a header that cannot be parsed: 1.0's reading
    ("", "application/json;;;q", "json"),
    (".json", "text/csv;;q=", "csv"),
    (".prometheus", "application/openmetrics-text;;;", "prometheus"),
]


@pytest.mark.parametrize("extension, accept, expected", CASES)
def test_choose_format(extension, accept, expected):
    assert choose_format(accept, extension) == expected


@pytest.fixture
def app():
    addStatusHandler("x", fixed(state=OK))
    return make_app()


@pytest.mark.parametrize("extension, accept, expected", CASES)
def test_through_the_app(app, extension, accept, expected):
    response = app.get("/svc_status" + extension, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPES[expected]


@pytest.mark.parametrize("key", ["accept", "Accept"])
@pytest.mark.parametrize("extension, accept, expected", CASES[:8])
def test_dummy_request_with_a_plain_dict(key, extension, accept, expected):
    addStatusHandler("x", fixed(state=OK))
    request = testing.DummyRequest()
    request.headers = {key: accept}
    request.matchdict = {"type": extension}
    response = svc_status_view(request)
    assert response.headers["Content-Type"] == CONTENT_TYPES[expected]


def test_openmetrics_ends_with_eof(app):
    response = app.get("/svc_status.prometheus", headers={"Accept": PROMETHEUS_2})
    assert response.text.startswith(
        "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED\n# TYPE svc_status unknown\n"
        'svc_status{name="x"} 0\n')
    assert response.text.endswith("\n# EOF\n")
    assert response.text.count("# EOF") == 1


@pytest.mark.parametrize("path", ["/svc_status", "/svc_status.csv", "/svc_status.json",
                                  "/svc_status.prometheus", "/svc_status.html"])
@pytest.mark.parametrize("accept", [None, "application/json", PROMETHEUS_2])
def test_headers_of_every_answer(app, path, accept):
    headers = {} if accept is None else {"Accept": accept}
    response = app.get(path, headers=headers)
    assert response.headers["Vary"] == "Accept"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers.get("Content-Security-Policy")
    assert (policy is not None) == path.endswith(".html")


def test_the_html_page_may_use_its_own_style_and_nothing_else(app):
    response = app.get("/svc_status.html")
    policy = response.headers["Content-Security-Policy"]
    styles = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert policy == (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
    assert "<script" not in response.text


def test_the_style_hash_follows_the_page(app):
    # the overall colour is part of the style: every state has its own hash
    addStatusHandler("bad", fixed(state="RED"))
    red = app.get("/svc_status.html").headers["Content-Security-Policy"]
    addStatusHandler("bad", fixed(state="OK"))
    ok = app.get("/svc_status.html").headers["Content-Security-Policy"]
    assert red != ok

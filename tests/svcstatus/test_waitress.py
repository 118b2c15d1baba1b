"""/svc_status and /probe_status of a real app served by waitress on
loopback, spoken to over HTTP."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from pyramid.config import Configurator

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.statehandler import StateHandlerMixin

from ..servers import serve_wsgi

pytestmark = pytest.mark.server


def make_app(**settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status.svcstatus")
    config.scan("lovely.ws.status.probestatus")
    return config.make_wsgi_app()


def fetch(url, method="GET", accept=None):
    request = urllib.request.Request(url, method=method)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read()


class Service(StateHandlerMixin):
    pass


@pytest.fixture(scope="module")
def base_url():
    # one server for the module: stopping waitress takes a second
    with serve_wsgi(make_app(), threads=6) as base:
        yield base


@pytest.fixture
def server(base_url):
    service = Service()
    service.setState(YELLOW, detail="warming up")
    addStatusHandler("service", service)
    addStatusHandler('db "main"', lambda: {"state": OK, "detail": "3 connections",
                                           "labels": {"connections": 3}})
    addStatusHandler("broken", lambda: 1 / 0)
    return base_url, service


def test_csv(server):
    base, _ = server
    status, content_type, body = fetch(base + "/svc_status")
    assert status == 200
    assert content_type == "text/csv; charset=UTF-8"
    assert body == (
        b"broken\tRED\tZeroDivisionError: division by zero\n"
        b'db "main"\tOK\t3 connections\n'
        b"service\tYELLOW\twarming up"
    )
    assert fetch(base + "/svc_status.csv")[2] == body


def test_json(server):
    base, service = server
    status, content_type, body = fetch(base + "/svc_status.json")
    assert status == 200
    assert content_type == "application/json"
    assert json.loads(body) == {
        "broken": {"state": RED, "detail": "ZeroDivisionError: division by zero"},
        'db "main"': {"state": OK, "detail": "3 connections",
                      "labels": {"connections": 3}},
        "service": {"state": YELLOW, "detail": "warming up"},
    }
    service.setState(OK)
    assert json.loads(fetch(base + "/svc_status", accept="application/json")[2])[
        "service"] == {"state": OK}


def test_prometheus(server):
    parser = pytest.importorskip("prometheus_client.parser")
    base, _ = server
    status, content_type, body = fetch(base + "/svc_status.prometheus",
                                       accept="application/json")
    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=UTF-8"
    text = body.decode()
    assert text.endswith("\n")
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert [(s.labels["name"], s.value) for s in families["svc_status"].samples] == [
        ("broken", 2.0), ('db "main"', 0.0), ("service", 1.0),
    ]
    assert [(s.labels, s.value) for s in families["svc_status_label"].samples] == [
        ({"name": 'db "main"', "label": "connections"}, 3.0),
    ]
    assert len(families["svc_status_duration_seconds"].samples) == 3


def test_html(server):
    base, _ = server
    status, content_type, body = fetch(base + "/svc_status.html")
    assert status == 200
    assert content_type == "text/html; charset=UTF-8"
    page = body.decode()
    assert page.count('<td class="name">') == 3
    assert "db &quot;main&quot;" in page
    assert 'id="overall" data-state="RED"' in page


def test_browser_accept_gets_csv(server):
    base, _ = server
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert fetch(base + "/svc_status", accept=accept)[1] == "text/csv; charset=UTF-8"


def test_probe_status(server):
    base, _ = server
    assert fetch(base + "/probe_status") == (200, "text/plain; charset=UTF-8", b"OK")
    assert fetch(base + "/probe_status?body=going+away", method="POST")[:3:2] == (
        200, b"going away")
    assert fetch(base + "/probe_status") == (
        503, "text/plain; charset=UTF-8", b"going away")
    assert fetch(base + "/probe_status", method="HEAD")[0] == 503
    assert fetch(base + "/probe_status", method="POST") == (
        200, "text/plain; charset=UTF-8", b"OK")
    assert fetch(base + "/probe_status")[0] == 200


def test_not_found(server):
    base, _ = server
    assert fetch(base + "/svc_status.txt")[0] == 404


def test_parallel_clients(server):
    base, _ = server
    results = []

    def client(path):
        for _ in range(10):
            results.append(fetch(base + path)[0])

    paths = ["/svc_status", "/svc_status.json", "/svc_status.prometheus",
             "/svc_status.html", "/probe_status"]
    threads = [threading.Thread(target=client, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * 50


def test_hung_handler_does_not_hang_the_server(base_url):
    release = threading.Event()
    calls = []

    def hung():
        calls.append(1)
        release.wait(30)
        return {"state": OK}

    addStatusHandler("hung", hung, timeout=0.2)
    addStatusHandler("ok", lambda: {"state": OK})
    try:
        for _ in range(3):
            status, _, body = fetch(base_url + "/svc_status")
            assert status == 200
            assert body.startswith(b"hung\tRED\ttimed out after 0.2 seconds")
            assert body.endswith(b"\nok\tOK\t")
        assert len(calls) == 1
    finally:
        release.set()


def test_timeout_setting_through_a_real_server():
    release = threading.Event()
    addStatusHandler("hung", lambda: release.wait(30) and {"state": OK})
    try:
        with serve_wsgi(make_app(**{"svcstatus.timeout": "0.1"})) as base:
            status, _, body = fetch(base + "/svc_status.json")
    finally:
        release.set()
    assert status == 200
    assert json.loads(body) == {
        "hung": {"state": RED, "detail": "timed out after 0.1 seconds"}
    }

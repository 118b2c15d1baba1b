"""``/__lbheartbeat__``: 200 without touching a backend, 503 while the probe
of :mod:`lovely.ws.status.probestatus` is decommissioned or draining."""
from __future__ import annotations

import json
import logging
import signal

import pytest
from pyramid import testing
from webtest import TestApp

from lovely.ws.status import OK, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.dockerflow.views import lbheartbeat_view

from ..helpers import make_app, make_config

DOCKERFLOW = "lovely.ws.status.dockerflow"
PROBE = "lovely.ws.status.probestatus"


def test_ok_without_calling_the_handlers():
    calls = []
    addStatusHandler("counted", lambda: calls.append(1) or {"state": OK})
    response = make_app(DOCKERFLOW).get("/__lbheartbeat__", status=200)
    assert response.json == {"status": "ok"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert calls == []


def test_503_while_the_probe_is_decommissioned():
    app = make_app(DOCKERFLOW, PROBE)
    app.post("/probe_status?body=draining", status=200)
    response = app.get("/__lbheartbeat__", status=503)
    assert response.json == {"status": "error", "detail": "draining"}
    assert response.headers["Cache-Control"] == "no-store"
    # /__heartbeat__ is about the backends, not the probe.
    app.get("/__heartbeat__", status=200)
    app.post("/probe_status", status=200)
    assert app.get("/__lbheartbeat__", status=200).json == {"status": "ok"}


def test_two_apps_share_a_file_store(tmp_path):
    """Two apps (as two worker processes would) share one drain switch."""
    settings = {"probestatus.store": f"file://{tmp_path}/probe"}
    worker_a = make_app(DOCKERFLOW, PROBE, settings=settings)
    worker_b = make_app(DOCKERFLOW, PROBE, settings=settings)
    worker_a.post("/probe_status?body=maintenance", status=200)
    assert worker_b.get("/__lbheartbeat__", status=503).json == {
        "status": "error",
        "detail": "maintenance",
    }
    worker_b.post("/probe_status", status=200)
    worker_a.get("/__lbheartbeat__", status=200)


@pytest.fixture
def sigterm():
    """Puts back the ``SIGTERM`` handler that a drain replaced."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_draining_process_answers_503_whatever_the_store_says(tmp_path, sigterm):
    settings = {
        "probestatus.store": f"file://{tmp_path}/probe",
        "probestatus.drain_seconds": "30",
        "probestatus.drain_text": "BYE",
    }
    config = make_config(DOCKERFLOW, PROBE, settings=settings)
    app = TestApp(config.make_wsgi_app())
    app.get("/__lbheartbeat__", status=200)
    status = get_app_status(config.registry)
    drainer = status.drainer
    assert drainer is not None
    # What the SIGTERM handler does first; the timer that would end the
    # process is no part of this test.
    drainer.draining = True
    assert app.get("/__lbheartbeat__", status=503).json == {
        "status": "error",
        "detail": "BYE",
    }
    # The drain concerns this process only: the shared store still says OK.
    assert status.store.get() == "OK"


@pytest.mark.server
def test_503_while_the_redis_store_is_down_said_once_in_the_log(redis_server, caplog):
    settings = {"probestatus.store": redis_server.url + "?timeout=0.5"}
    app = make_app(DOCKERFLOW, PROBE, settings=settings)
    app.get("/__lbheartbeat__", status=200)
    app.post("/probe_status?body=draining", status=200)
    assert app.get("/__lbheartbeat__", status=503).json["detail"] == "draining"
    app.post("/probe_status", status=200)
    redis_server.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING, "lovely.ws.status"):
        first = app.get("/__lbheartbeat__", status=503)
        app.get("/__lbheartbeat__", status=503)
    assert first.json == {"status": "error", "detail": "the probe store is unavailable"}
    warnings = [r for r in caplog.records
                if r.name.startswith("lovely.ws.status") and r.levelno >= logging.WARNING]
    # Said once, not on every poll of the load balancer.
    assert len(warnings) == 1
    assert "probe" in warnings[0].getMessage()
    redis_server.start()
    caplog.clear()
    with caplog.at_level(logging.INFO, "lovely.ws.status"):
        app.get("/__lbheartbeat__", status=200)
    assert "reachable again" in caplog.records[-1].getMessage()


def test_called_directly_with_a_bare_request():
    response = lbheartbeat_view(testing.DummyRequest())
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}

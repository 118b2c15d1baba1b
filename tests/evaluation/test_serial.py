"""``svcstatus.concurrent = false``: the handlers run one after the other in
the request's thread, as in 1.0: failures are isolated, nothing times
out, and ``KeyboardInterrupt`` or ``SystemExit`` propagate."""
from __future__ import annotations

import threading
import time

import pytest
from pyramid.threadlocal import get_current_request

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.appstatus import get_app_status

from ..helpers import app_status, fixed, make_app, make_config

SERIAL = {"svcstatus.concurrent": "false"}


def test_concurrent_setting():
    config = make_config(settings=SERIAL)
    config.commit()
    app = get_app_status(config.registry)
    assert app.evaluator.concurrent is False
    assert app.settings["svcstatus.concurrent"] is False
    assert config.registry.settings["svcstatus.concurrent"] == "false"


def test_runs_in_the_calling_thread_in_registration_order():
    seen = []
    addStatusHandler("b", lambda: seen.append(("b", threading.get_ident())) or {"state": OK})
    addStatusHandler("boom", lambda: 1 / 0)
    addStatusHandler("a", lambda: seen.append(("a", threading.get_ident())) or {"state": OK})
    report = app_status(concurrent=False).evaluate()
    me = threading.get_ident()
    assert seen == [("b", me), ("a", me)]
    assert report.as_dict()["boom"] == {
        "state": RED, "detail": "ZeroDivisionError: division by zero"}


def test_handlers_run_in_the_requests_thread():
    seen = []
    addStatusHandler("x", lambda: seen.append(get_current_request()) or {"state": OK})
    testapp = make_app(settings=SERIAL)
    assert testapp.get("/svc_status").text == "x\tOK\t"
    assert seen[0].path == "/svc_status"


def test_never_times_out_in_any_format():
    # One after the other in the request's thread, without timeouts: a
    # slow handler's answer is its answer, timed or not.
    addStatusHandler("slow", lambda: time.sleep(0.03) or {"state": OK})
    app = app_status(timeout=0.01, concurrent=False)
    for durations in (True, False, True):
        report = app.evaluate(durations=durations)
        assert report.as_dict() == {"slow": {"state": OK}}
    assert report.durations[0] >= 0.03
    testapp = make_app(settings={**SERIAL, "svcstatus.timeout": "0.01"})
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus",
                 "/svc_status.html"):
        assert "timed out" not in testapp.get(path).text


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_propagate_from_the_view(exc):
    calls = []

    def interrupted():
        raise exc()

    addStatusHandler("a", lambda: calls.append("a") or {"state": OK})
    addStatusHandler("interrupted", interrupted)
    addStatusHandler("z", lambda: calls.append("z") or {"state": OK})
    testapp = make_app(settings=SERIAL)
    with pytest.raises(exc):
        testapp.get("/svc_status")
    assert calls == ["a"]  # nothing after it ran
    # Nothing is left behind: the next request runs them all again.
    addStatusHandler("interrupted", fixed(state=OK))
    assert testapp.get("/svc_status").text == "a\tOK\t\ninterrupted\tOK\t\nz\tOK\t"
    assert calls == ["a", "a", "z"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_keyboard_interrupt_and_system_exit_propagate_from_evaluate(exc):
    def interrupted():
        raise exc()

    app = app_status(concurrent=False)
    app.add_handler("interrupted", interrupted)
    app.add_handler("ok", fixed(state=OK))
    with pytest.raises(exc):
        app.evaluate()
    assert app.evaluator.in_flight() == []
    # Concurrent, the same handler is RED and the others still run.
    app.evaluator = app_status(concurrent=True).evaluator
    report = app.evaluate().as_dict()
    assert report["interrupted"]["state"] == RED
    assert report["ok"] == {"state": OK}

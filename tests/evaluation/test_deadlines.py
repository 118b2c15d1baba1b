"""Each handler has a deadline: ``svcstatus.timeout``, or its own timeout.
A handler that misses it is RED "timed out after N seconds" in every
format, whatever it returns later."""
from __future__ import annotations

import time

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, fixed, make_app, wait_until


def test_timeout_from_the_settings(blocked):
    testapp = make_app(settings={"svcstatus.timeout": "0.2"})
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    assert testapp.get("/svc_status").text == (
        "hung\tRED\ttimed out after 0.2 seconds\nok\tOK\t"
    )
    assert blocked.calls == 1


def test_timeout_per_handler_overrides_the_setting(blocked):
    testapp = make_app()  # the default, 5 seconds
    addStatusHandler("hung", blocked, timeout=0.1)
    addStatusHandler("ok", fixed(state=OK))
    assert testapp.get("/svc_status.json").json == {
        "hung": {"state": RED, "detail": "timed out after 0.1 seconds"},
        "ok": {"state": OK},
    }


def test_timeout_per_handler_of_the_app(blocked):
    app = app_status(timeout=PATIENCE)
    app.add_handler("hung", blocked, HandlerOptions(timeout=0.1))
    app.add_handler("ok", fixed(state=OK), HandlerOptions(ttl=None))
    assert app.evaluate().as_dict() == {
        "hung": {"state": RED, "detail": "timed out after 0.1 seconds"},
        "ok": {"state": OK},
    }


def test_a_longer_per_handler_timeout_is_waited_for(blocked):
    testapp = make_app(settings={"svcstatus.timeout": "0.05"})
    evaluator = get_app_status(testapp.app.registry).evaluator

    def slow():
        # Still running when the others' deadline has passed.
        wait_until(lambda: "hung" in evaluator.running(), "'hung' past its deadline")
        return {"state": OK}

    addStatusHandler("slow", slow, timeout=PATIENCE)
    addStatusHandler("hung", blocked)
    assert testapp.get("/svc_status").text == (
        "hung\tRED\ttimed out after 0.05 seconds\nslow\tOK\t"
    )


def test_timeout_in_every_format(blocked):
    testapp = make_app(settings={"svcstatus.timeout": "0.1"})
    addStatusHandler("hung", blocked)
    assert 'svc_status{name="hung"} 2\n' in testapp.get("/svc_status.prometheus").text
    page = testapp.get("/svc_status.html").text
    assert '<tr class="RED"' in page and "timed out after 0.1 seconds" in page
    assert testapp.get("/svc_status.json").json["hung"]["detail"].startswith(
        "timed out after 0.1 seconds"
    )


def test_a_handler_returning_late_is_still_a_timeout(blocked):
    app = app_status(timeout=0.05)
    addStatusHandler("late", blocked)
    report = app.evaluate()
    timed_out = {"late": {"state": RED, "detail": "timed out after 0.05 seconds"}}
    assert report.as_dict() == timed_out
    waited = report.durations[0]
    assert waited >= 0.05
    blocked.release.set()
    wait_until(lambda: blocked.returned == 1)
    wait_until(lambda: app.evaluator.in_flight() == [])
    # The late result went nowhere: not into the report already given ...
    assert report.as_dict() == timed_out
    assert report.durations == [waited]
    # ... nor into the next one, which runs the handler again.
    assert app.evaluate().as_dict() == {"late": {"state": OK, "detail": "released"}}
    assert blocked.calls == 2


def test_a_huge_timeout_is_not_an_overflow():
    # Event.wait() refuses more than threading.TIMEOUT_MAX seconds.
    addStatusHandler("x", lambda: time.sleep(0.03) or {"state": OK})
    assert app_status(timeout=1e10).evaluate().as_dict() == {"x": {"state": OK}}
    app = app_status()
    app.add_handler("y", lambda: time.sleep(0.03) or {"state": OK},
                    HandlerOptions(timeout=1e10))
    assert app.evaluate().as_dict() == {"x": {"state": OK}, "y": {"state": OK}}

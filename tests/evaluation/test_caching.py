"""A handler registered with a ``ttl`` has its result reused for that long;
a timeout is never reused; and what was cached goes with the handler."""
from __future__ import annotations

import time

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, Counting, app_status, in_thread, make_app, wait_until

STILL_RUNNING = "(still running from an earlier request)"



def test_no_caching_by_default():
    handler = Counting()
    addStatusHandler("x", handler)
    app = app_status()
    for _ in range(3):
        app.evaluate()
    assert handler.calls == 3


def test_ttl_reuses_the_result():
    cached, fresh = Counting(), Counting()
    addStatusHandler("cached", cached, ttl=60)
    addStatusHandler("fresh", fresh)
    testapp = make_app()
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus"):
        testapp.get(path)
    assert cached.calls == 1
    assert fresh.calls == 3
    assert testapp.get("/svc_status").text == "cached\tOK\tcall 1\nfresh\tOK\tcall 4"


def test_ttl_of_an_apps_own_handler():
    handler = Counting()
    app = app_status()
    app.add_handler("x", handler, HandlerOptions(ttl=60))
    reports = [app.evaluate() for _ in range(3)]
    assert [r.as_dict() for r in reports] == [{"x": {"state": OK, "detail": "call 1"}}] * 3
    # A cached result says how long the run that produced it took.
    assert len({r.durations[0] for r in reports}) == 1


def test_ttl_expires():
    handler = Counting()
    addStatusHandler("x", handler, ttl=0.05)
    app = app_status()
    app.evaluate()
    time.sleep(0.1)  # the ttl passes
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "call 2"}}
    assert handler.calls == 2


def test_ttl_zero_calls_every_time():
    handler = Counting()
    addStatusHandler("x", handler, ttl=0)
    app = app_status()
    for _ in range(3):
        app.evaluate()
    assert handler.calls == 3


def test_ttl_cache_belongs_to_the_handler_object():
    first, second = Counting(YELLOW), Counting(RED)
    addStatusHandler("x", first, ttl=60)
    app = app_status()
    app.evaluate()
    addStatusHandler("x", second, ttl=60)
    assert app.evaluate().as_dict() == {"x": {"state": RED, "detail": "call 1"}}
    STATUS_HANDLERS.clear()
    addStatusHandler("x", first)  # no ttl any more
    app.evaluate()
    assert first.calls == 2


def test_without_its_ttl_a_handler_is_called_again():
    handler = Counting()
    app = app_status()
    app.add_handler("x", handler, HandlerOptions(ttl=60))
    app.evaluate()
    app.add_handler("x", handler)  # the same handler, now without a ttl
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "call 2"}}
    app.add_handler("x", handler, HandlerOptions(ttl=60))
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "call 3"}}


def test_a_handler_registered_again_without_its_ttl_leaves_nothing_behind():
    # An expired cache entry kept would keep every request off the common
    # case, which times nothing when no durations are asked for.
    handler = Counting()
    app = app_status()
    app.add_handler("x", handler, HandlerOptions(ttl=0.01))
    app.evaluate()
    app.add_handler("x", handler)
    time.sleep(0.02)  # the ttl passes
    app.evaluate()
    assert list(app.evaluate(durations=False).durations) == [None]


def test_ttl_caches_a_failure_too():
    calls = []

    def failing():
        calls.append(1)
        raise OSError("down")

    addStatusHandler("x", failing, ttl=60)
    app = app_status()
    for _ in range(3):
        assert app.evaluate().as_dict() == {"x": {"state": RED, "detail": "OSError: down"}}
    assert len(calls) == 1


def test_a_timeout_is_not_cached(blocked):
    # Neither by the request that started the run nor by those after it
    # (the run still out): the handler would stay "timed out" for a whole
    # ttl after it recovered.
    addStatusHandler("x", blocked, timeout=0.05, ttl=60)
    addStatusHandler("other", lambda: {"state": OK})
    app = app_status()
    assert app.evaluate().as_dict()["x"] == {
        "state": RED, "detail": "timed out after 0.05 seconds"}
    assert app.evaluate().as_dict()["x"] == {
        "state": RED, "detail": f"timed out after 0.05 seconds {STILL_RUNNING}"}
    blocked.release.set()
    wait_until(lambda: app.evaluator.in_flight() == [])
    assert app.evaluate().as_dict()["x"] == {"state": OK, "detail": "released"}
    assert blocked.calls == 2
    assert app.evaluate().as_dict()["x"] == {"state": OK, "detail": "released"}
    assert blocked.calls == 2


def test_a_timeout_of_a_shared_run_is_not_cached(blocked):
    app = app_status()
    app.add_handler("x", blocked, HandlerOptions(timeout=0.2, ttl=60))
    first, out = in_thread(app.evaluate)
    wait_until(lambda: app.evaluator.in_flight() == ["x"])
    second = app.evaluate()  # shares the first one's run, until its deadline
    first.join(PATIENCE)
    assert out[0].as_dict()["x"]["state"] == RED
    assert second.as_dict()["x"]["state"] == RED
    assert blocked.calls == 1
    blocked.release.set()
    wait_until(lambda: app.evaluator.in_flight() == [])
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "released"}}
    assert blocked.calls == 2


def test_a_shared_run_that_returns_is_cached(blocked):
    app = app_status(timeout=PATIENCE)
    app.add_handler("x", blocked, HandlerOptions(ttl=60))
    planned = []
    app.add_handler("mark", lambda: planned.append(1) or {"state": OK})
    first, out = in_thread(app.evaluate, ["x"])
    assert blocked.entered.wait(PATIENCE)
    second, out2 = in_thread(app.evaluate, ["x", "mark"])
    wait_until(lambda: planned, "the second request planned")
    blocked.release.set()
    first.join(PATIENCE)
    second.join(PATIENCE)
    released = {"state": OK, "detail": "released"}
    assert out[0].as_dict() == {"x": released}
    assert out2[0].as_dict() == {"x": released, "mark": {"state": OK}}
    assert app.evaluate(["x"]).as_dict() == {"x": released}
    assert blocked.calls == 1


def test_the_report_says_which_results_were_cached():
    app = app_status()
    app.add_handler("cached", Counting(), HandlerOptions(ttl=60))
    app.add_handler("fresh", Counting())
    first = app.evaluate()
    assert first.origins is None
    report = app.evaluate()
    assert report.origins == {"cached": ("cached", first.timestamp, None)}
